//! The daily report a county bureau files: for one Beijing reporting day, the fires first seen
//! that day per township — how many, from which source, of which of the four burnings (四烧), how
//! many in a risk window, how the team closed
//! them (查实 / 查否), whether on time, and how many steps went overdue. Satellite points must be
//! verified and reported the same day. Fire points (火点数: satellite pixels and table rows) are
//! counted beside fire events (tickets), as the district rankings count them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{BurnKind, Priority};
use crate::domain::{Status, Ticket};

/// One township's line of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportRow {
    /// 排名: 1 for the township with the most fire points (then fire events); equal counts share
    /// a rank; 0 on the total row.
    pub rank: usize,
    pub township_code: String,
    pub township: String,
    /// Fire events: tickets first seen that day (one per grid cell a fire touched).
    pub tickets: usize,
    /// Fire points (火点数) of those tickets: satellite pixels / table rows, suppressed ones not counted.
    pub fire_points: usize,
    pub satellite: usize,
    pub camera: usize,
    pub drone: usize,
    /// The four burnings (四烧) and unknown, by the ticket's kind.
    pub straw: usize,
    pub weeds: usize,
    pub leaves: usize,
    pub garbage: usize,
    pub unknown: usize,
    pub high_priority: usize,
    /// First seen in a risk window (收工时, 上半夜, 播种前, 下雨前).
    pub in_window: usize,
    /// Still open (not acknowledged).
    pub open: usize,
    /// Acknowledged or on site, not closed yet.
    pub in_progress: usize,
    /// 查实: a burning fire, dealt with.
    pub resolved: usize,
    /// 查否: not a burning fire.
    pub false_alarm: usize,
    pub duplicate: usize,
    /// Verified on time: camera sightings on site (or closed) by the on-site deadline; satellite
    /// points closed by the day's cutoff.
    pub verified_in_time: usize,
    /// Tickets with a step late (done late, or not done and past its deadline at report time).
    pub overdue: usize,
}

/// The report for `day`: [`period`] of one day.
pub fn daily(
    tickets: &[Ticket],
    fire_points: &std::collections::HashMap<String, usize>,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<ReportRow> {
    period(tickets, fire_points, day..=day, now)
}

/// The report for the Beijing days `days`: one row per township with tickets first seen in them,
/// ranked (排名) by fire points, then fire events, then township code; then the fires in no
/// village (township code `unassigned`, 未归属, rank 0) when there are any, and a total row last
/// (township code `total`). `fire_points`: each ticket's satellite fire points
/// ([`crate::store::Store::fire_points`]); `now`: the report's time (steps still pending past
/// their deadline then are overdue).
pub fn period(
    tickets: &[Ticket],
    fire_points: &std::collections::HashMap<String, usize>,
    days: std::ops::RangeInclusive<NaiveDate>,
    now: DateTime<Utc>,
) -> Vec<ReportRow> {
    let mut rows: std::collections::BTreeMap<String, ReportRow> = Default::default();
    let mut total = ReportRow { township_code: "total".into(), township: "全县 county".into(), ..Default::default() };
    for t in tickets.iter().filter(|t| days.contains(&crate::time::reporting_day(t.first_seen))) {
        let row = rows.entry(t.township_code.clone()).or_insert_with(|| ReportRow {
            township_code: t.township_code.clone(),
            township: t.township.clone(),
            ..Default::default()
        });
        for r in [&mut *row, &mut total] {
            count(r, t, now);
            r.fire_points += fire_points.get(&t.id).copied().unwrap_or(0);
        }
    }
    // fires in no village (未归属, township code empty) are the county office's: counted on a
    // row of their own, never ranked as a township
    let unassigned = rows.remove("").map(unassigned_row);
    let mut ranked: Vec<ReportRow> = rows.into_values().collect();
    rank(&mut ranked);
    ranked.into_iter().chain(unassigned).chain(std::iter::once(total)).collect()
}

/// Orders townships (排名) by fire points, then fire events, then township code; ties share a rank.
fn rank(rows: &mut [ReportRow]) {
    rows.sort_by(|a, b| {
        (b.fire_points, b.tickets).cmp(&(a.fire_points, a.tickets)).then(a.township_code.cmp(&b.township_code))
    });
    for i in 0..rows.len() {
        let tied = i > 0 && (rows[i].fire_points, rows[i].tickets) == (rows[i - 1].fire_points, rows[i - 1].tickets);
        rows[i].rank = if tied { rows[i - 1].rank } else { i + 1 };
    }
}

/// The township code of the report's row of fires in no village (rank 0, before the total).
pub const UNASSIGNED_CODE: &str = "unassigned";

/// `counts` as the row of fires in no village (未归属).
fn unassigned_row(counts: ReportRow) -> ReportRow {
    ReportRow { township_code: UNASSIGNED_CODE.into(), township: "未归属 (unassigned)".into(), ..counts }
}

/// `rows` ([`period`]) with the period's back-filled fire points added (issue 22: points
/// recorded as history, before the live window, have no ticket but count in the week they were
/// seen): `history` holds each such point's township (code, name; an empty code: in no village,
/// counted on the unassigned row). A township with history points only gets a row of its own;
/// the rows are ranked again.
pub fn with_history(rows: Vec<ReportRow>, history: &[(String, String)]) -> Vec<ReportRow> {
    if history.is_empty() {
        return rows;
    }
    let mut ranked = Vec::new();
    let (mut unassigned, mut total) = (None, None);
    for r in rows {
        match r.township_code.as_str() {
            "total" => total = Some(r),
            UNASSIGNED_CODE => unassigned = Some(r),
            _ => ranked.push(r),
        }
    }
    for (code, name) in history {
        if code.is_empty() {
            let row = unassigned.get_or_insert_with(|| unassigned_row(ReportRow::default()));
            row.fire_points += 1;
            continue;
        }
        match ranked.iter_mut().find(|r| &r.township_code == code) {
            Some(r) => r.fire_points += 1,
            None => ranked.push(ReportRow {
                township_code: code.clone(),
                township: name.clone(),
                fire_points: 1,
                ..Default::default()
            }),
        }
    }
    if let Some(t) = total.as_mut() {
        t.fire_points += history.len();
    }
    rank(&mut ranked);
    ranked.into_iter().chain(unassigned).chain(total).collect()
}

/// An ISO week `YYYY-Www` (e.g. 2026-W24) as its Monday.
pub fn parse_week(s: &str) -> Result<NaiveDate, String> {
    let bad = || format!("`{s}` is not an ISO week like 2026-W24");
    let (year, week) = s.split_once("-W").ok_or_else(bad)?;
    let (year, week): (i32, u32) = (year.parse().map_err(|_| bad())?, week.parse().map_err(|_| bad())?);
    NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).ok_or_else(bad)
}

fn count(r: &mut ReportRow, t: &Ticket, now: DateTime<Utc>) {
    r.tickets += 1;
    r.satellite += t.sources.iter().any(|s| s == "satellite") as usize;
    r.camera += t.sources.iter().any(|s| s == "camera") as usize;
    r.drone += t.sources.iter().any(|s| s == "drone") as usize;
    *match t.kind {
        BurnKind::Straw => &mut r.straw,
        BurnKind::Weeds => &mut r.weeds,
        BurnKind::Leaves => &mut r.leaves,
        BurnKind::Garbage => &mut r.garbage,
        BurnKind::Unknown => &mut r.unknown,
    } += 1;
    r.high_priority += (t.priority == Priority::High) as usize;
    r.in_window += !t.windows.is_empty() as usize;
    match t.status {
        Status::Open => r.open += 1,
        Status::Acknowledged | Status::OnSite => r.in_progress += 1,
        Status::Resolved => r.resolved += 1,
        Status::FalseAlarm => r.false_alarm += 1,
        Status::Duplicate => r.duplicate += 1,
    }
    r.verified_in_time += crate::lifecycle::verified_at(t).is_some_and(|v| v <= t.deadline) as usize;
    r.overdue += !crate::lifecycle::late_steps(t, now).is_empty() as usize;
}

/// The report as CSV (header line first), for the bureau's spreadsheet.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("report rows serialise");
    }
    String::from_utf8(w.into_inner().expect("in-memory writer")).expect("CSV is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(id: &str, township: &str, first_seen: &str) -> Ticket {
        serde_json::from_value(serde_json::json!({
            "id": id, "status": "open", "kind": "straw", "priority": "normal", "reasons": [], "lon": 115.6, "lat": 37.6,
            "radius_m": 700.0, "township_code": township, "township": township, "team": "", "team_phone": "",
            "village_code": "", "village": "", "grid_id": "", "grid_member": "", "grid_phone": "", "landuse": "farmland",
            "sources": ["satellite"], "cameras": [], "related": [], "detections": 1, "first_seen": first_seen,
            "last_seen": first_seen, "deadline": first_seen, "created_at": first_seen, "updated_at": first_seen,
            "ack_deadline": null, "acked_by": null, "acked_at": null, "on_site_by": null, "on_site_at": null,
            "closed_by": null, "closed_at": null, "close_note": null, "false_alarm_cause": null, "duplicate_of": null,
            "follows": null, "escalation": 0, "escalated": []
        }))
        .unwrap()
    }

    #[test]
    fn r8_the_weekly_ranking_orders_townships_by_fire_points_then_events() {
        // Monday 8 June .. Sunday 14 June 2026 (Beijing); 15 June is the next week
        let tickets = [
            ticket("a1", "T-A", "2026-06-08T02:00:00Z"),
            ticket("b1", "T-B", "2026-06-09T02:00:00Z"),
            ticket("b2", "T-B", "2026-06-14T02:00:00Z"),
            ticket("c1", "T-C", "2026-06-10T02:00:00Z"),
            ticket("c2", "T-C", "2026-06-15T02:00:00Z"),
        ];
        let points: std::collections::HashMap<String, usize> =
            [("a1", 5), ("b1", 2), ("b2", 3), ("c1", 1), ("c2", 9)].map(|(k, v)| (k.to_string(), v)).into();
        let monday = parse_week("2026-W24").unwrap();
        assert_eq!(monday, "2026-06-08".parse::<NaiveDate>().unwrap());
        let rows = period(
            &tickets,
            &points,
            monday..=monday + chrono::Duration::days(6),
            "2026-06-08T00:00:00Z".parse().unwrap(),
        );
        let got: Vec<(usize, &str, usize, usize)> =
            rows.iter().map(|r| (r.rank, r.township_code.as_str(), r.fire_points, r.tickets)).collect();
        // A and B both have 5 fire points: B has more events, so ranks first; C's 9 fall next week
        assert_eq!(got, [(1, "T-B", 5, 2), (2, "T-A", 5, 1), (3, "T-C", 1, 1), (0, "total", 11, 4)]);
        assert!(parse_week("2026-W54").is_err() && parse_week("2026-24").is_err());
    }

    #[test]
    fn r22_fires_in_no_village_are_counted_apart_and_never_ranked() {
        // a point in a gap between counties became a blank township ranked first
        let tickets = [
            ticket("u1", "", "2026-06-08T02:00:00Z"),
            ticket("u2", "", "2026-06-08T03:00:00Z"),
            ticket("a1", "T-A", "2026-06-08T02:00:00Z"),
        ];
        let points: std::collections::HashMap<String, usize> =
            [("u1", 7), ("u2", 7), ("a1", 1)].map(|(k, v)| (k.to_string(), v)).into();
        let day = "2026-06-08".parse::<NaiveDate>().unwrap();
        let rows = daily(&tickets, &points, day, "2026-06-08T00:00:00Z".parse().unwrap());
        let got: Vec<(usize, &str, &str, usize, usize)> =
            rows.iter().map(|r| (r.rank, r.township_code.as_str(), r.township.as_str(), r.fire_points, r.tickets)).collect();
        assert_eq!(
            got,
            [
                (1, "T-A", "T-A", 1, 1),
                (0, UNASSIGNED_CODE, "未归属 (unassigned)", 14, 2),
                (0, "total", "全县 county", 15, 3)
            ]
        );
    }
}
