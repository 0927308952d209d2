//! The daily report a county bureau files: for one Beijing reporting day, the fires first seen
//! that day per township — how many, from which source, straw or garbage, and whether the team
//! verified them (acknowledged or closed) before the ticket's deadline. Satellite points must be
//! verified and reported the same day. Fire points (火点数: satellite pixels and table rows) are
//! counted beside fire events (tickets), as the district rankings count them.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::{BurnKind, Priority};
use crate::domain::{Status, Ticket};

/// One township's line of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportRow {
    pub township_code: String,
    pub township: String,
    /// Fire events: tickets first seen that day (one per grid cell a fire touched).
    pub tickets: usize,
    /// Fire points (火点数) of those tickets: satellite pixels / table rows, suppressed ones not counted.
    pub fire_points: usize,
    pub satellite: usize,
    pub camera: usize,
    pub straw: usize,
    pub garbage: usize,
    pub high_priority: usize,
    pub open: usize,
    pub acked: usize,
    pub closed: usize,
    /// Acknowledged or closed no later than the deadline.
    pub verified_in_time: usize,
}

/// The report for `day`, one row per township with tickets, sorted by township code, and a
/// total row last (township code `total`).
/// `fire_points`: each ticket's satellite fire points ([`crate::store::Store::fire_points`]).
pub fn daily(
    tickets: &[Ticket],
    fire_points: &std::collections::HashMap<String, usize>,
    day: NaiveDate,
) -> Vec<ReportRow> {
    let mut rows: std::collections::BTreeMap<String, ReportRow> = Default::default();
    let mut total = ReportRow { township_code: "total".into(), township: "全县 county".into(), ..Default::default() };
    for t in tickets.iter().filter(|t| crate::time::reporting_day(t.first_seen) == day) {
        let row = rows.entry(t.township_code.clone()).or_insert_with(|| ReportRow {
            township_code: t.township_code.clone(),
            township: t.township.clone(),
            ..Default::default()
        });
        for r in [&mut *row, &mut total] {
            count(r, t);
            r.fire_points += fire_points.get(&t.id).copied().unwrap_or(0);
        }
    }
    rows.into_values().chain(std::iter::once(total)).collect()
}

fn count(r: &mut ReportRow, t: &Ticket) {
    r.tickets += 1;
    r.satellite += t.sources.iter().any(|s| s == "satellite") as usize;
    r.camera += t.sources.iter().any(|s| s == "camera") as usize;
    r.straw += (t.kind == BurnKind::Straw) as usize;
    r.garbage += (t.kind == BurnKind::Garbage) as usize;
    r.high_priority += (t.priority == Priority::High) as usize;
    match t.status {
        Status::Open => r.open += 1,
        Status::Acked => r.acked += 1,
        Status::Closed => r.closed += 1,
    }
    let verified_at = t.acked_at.or(t.closed_at);
    r.verified_in_time += verified_at.is_some_and(|v| v <= t.deadline) as usize;
}

/// The report as CSV (header line first), for the bureau's spreadsheet.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("report rows serialise");
    }
    String::from_utf8(w.into_inner().expect("in-memory writer")).expect("CSV is UTF-8")
}
