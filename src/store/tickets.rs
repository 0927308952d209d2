//! Ticket rows: reading and listing them, the life cycle a township team drives (acknowledge,
//! close: one conditional update each, so a lost race is refused, never half applied), and,
//! inside an input's transaction, finding the open tickets near a detection and opening or
//! joining one as `events::decide` said.

use chrono::{DateTime, Utc};

use super::db::{vals, Conn, DbError, Row, Val};
use super::{ts, InputTx, Store, StoreError};
use crate::domain::{Anchor, BurnKind, Detection, Priority, Status, Ticket};
use crate::events::EventConfig;

/// Which tickets to list: by status, by township (a team sees its own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    /// A status (`open`, `acknowledged`, …) or `active` (open, acknowledged or on site).
    pub status: Option<String>,
    /// Township code, as in the AOI's townships layer.
    pub township: Option<String>,
    /// Only tickets last seen at or after this time (a feed client's window).
    pub since: Option<DateTime<Utc>>,
    /// At most this many, the most recently first seen ones (still listed oldest first).
    pub limit: Option<usize>,
}

impl TicketFilter {
    pub fn all() -> TicketFilter {
        TicketFilter::default()
    }
    pub fn status(status: Status) -> TicketFilter {
        TicketFilter { status: Some(status.as_str().into()), ..Default::default() }
    }
    pub fn active() -> TicketFilter {
        TicketFilter { status: Some("active".into()), ..Default::default() }
    }
    /// A status filter as a user typed it: a status, or `active`.
    pub fn parse_status(s: &str) -> Result<String, String> {
        match Status::parse(s) {
            Some(st) => Ok(st.as_str().into()),
            None if s == "active" => Ok(s.into()),
            None => Err(format!(
                "unknown status `{s}` (open, acknowledged, on_site, resolved, false_alarm, duplicate, active)"
            )),
        }
    }
}

/// The lon/lat box a sighting covers (west, east, south, north): its footprint's, else its point
/// (a camera's rough estimate must not stretch, and so move, a fire that pixels have placed).
fn cover(d: &Detection) -> (f64, f64, f64, f64) {
    match d.footprint.as_deref().filter(|r| !r.is_empty()) {
        Some(ring) => ring.iter().fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |(w, e, s, n), p| {
            (w.min(p[0]), e.max(p[0]), s.min(p[1]), n.max(p[1]))
        }),
        None => (d.lon, d.lon, d.lat, d.lat),
    }
}

fn bad_enum(what: &str, got: &str) -> DbError {
    DbError::Value(format!("unknown {what} `{got}`"))
}

/// SQLite's R*Tree keeps a box in 32-bit floats, rounded outward (`rtreeValueDown` /
/// `rtreeValueUp`); PostgreSQL's index table stores the same rounded values, so both stores
/// see the same boxes and decide the same way.
pub(super) fn down32(d: f64) -> f64 {
    let f = d as f32;
    if f as f64 > d {
        (d * if d < 0.0 { 1.0 + 1.0 / 8388608.0 } else { 1.0 - 1.0 / 8388608.0 }) as f32 as f64
    } else {
        f as f64
    }
}

pub(super) fn up32(d: f64) -> f64 {
    let f = d as f32;
    if (f as f64) < d {
        (d * if d < 0.0 { 1.0 - 1.0 / 8388608.0 } else { 1.0 + 1.0 / 8388608.0 }) as f32 as f64
    } else {
        f as f64
    }
}

pub(super) const TICKET_COLUMNS: &str =
    "id, status, kind, priority, reasons, lon, lat, radius_m, township_code, township, team, \
    team_phone, village_code, village, grid_id, grid_member, grid_phone, landuse, sources, detections, first_seen, \
    last_seen, deadline, created_at, updated_at, acked_by, acked_at, closed_at, close_note, cameras, related, \
    ack_deadline, on_site_by, on_site_at, closed_by, false_alarm_cause, duplicate_of, follows, escalation, escalated, \
    kind_why, windows";

pub(super) fn ticket_from_row(r: &Row) -> Result<Ticket, DbError> {
    let parsed = |i: usize, what: &str, parse: &dyn Fn(&str) -> bool| -> Result<String, DbError> {
        let s = r.text(i)?;
        if parse(&s) {
            Ok(s)
        } else {
            Err(bad_enum(what, &s))
        }
    };
    let status = parsed(1, "status", &|s| Status::parse(s).is_some())?;
    let kind = parsed(2, "kind", &|s| BurnKind::parse(s).is_some())?;
    let priority = parsed(3, "priority", &|s| Priority::parse(s).is_some())?;
    Ok(Ticket {
        id: r.text(0)?,
        status: Status::parse(&status).expect("checked"),
        kind: BurnKind::parse(&kind).expect("checked"),
        priority: Priority::parse(&priority).expect("checked"),
        reasons: r.list(4)?,
        lon: r.real(5)?,
        lat: r.real(6)?,
        radius_m: r.real(7)?,
        township_code: r.text(8)?,
        township: r.text(9)?,
        team: r.text(10)?,
        team_phone: r.text(11)?,
        village_code: r.text(12)?,
        village: r.text(13)?,
        grid_id: r.text(14)?,
        grid_member: r.text(15)?,
        grid_phone: r.text(16)?,
        landuse: r.text(17)?,
        sources: r.list(18)?,
        detections: r.int(19)?,
        first_seen: r.time(20)?,
        last_seen: r.time(21)?,
        deadline: r.time(22)?,
        created_at: r.time(23)?,
        updated_at: r.time(24)?,
        acked_by: r.opt_text(25)?,
        acked_at: r.opt_time(26)?,
        closed_at: r.opt_time(27)?,
        close_note: r.opt_text(28)?,
        cameras: r.list(29)?,
        related: r.list(30)?,
        ack_deadline: r.opt_time(31)?,
        on_site_by: r.opt_text(32)?,
        on_site_at: r.opt_time(33)?,
        closed_by: r.opt_text(34)?,
        false_alarm_cause: r
            .opt_text(35)?
            .map(|c| crate::domain::FalseAlarmCause::parse(&c).ok_or_else(|| bad_enum("false alarm cause", &c)))
            .transpose()?,
        duplicate_of: r.opt_text(36)?,
        follows: r.opt_text(37)?,
        escalation: r.int(38)?,
        escalated: r.list(39)?,
        kind_why: {
            let text = r.text(40)?;
            serde_json::from_str(&text).map_err(|e| DbError::Value(format!("kind_why `{text}`: {e}")))?
        },
        windows: r.list(41)?,
    })
}

/// Rows read as tickets.
pub(super) fn tickets_from(rows: Vec<Row>) -> Result<Vec<Ticket>, DbError> {
    rows.iter().map(ticket_from_row).collect()
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

impl Store {
    /// Each ticket's fire points (火点): the satellite detections it holds (pixels and table
    /// rows; suppressed and duplicate ones hold no ticket).
    pub fn fire_points(&self) -> Result<std::collections::HashMap<String, usize>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT ticket_id, count(*) FROM detections WHERE source = 'satellite' AND ticket_id IS NOT NULL
                 GROUP BY ticket_id",
                &[],
            )
            .map_err(self.sql())?;
        rows.iter().map(|r| Ok((r.text(0)?, r.int(1)? as usize))).collect::<Result<_, DbError>>().map_err(self.sql())
    }

    /// Satellite fire points (火点) observed in [`from`, `to`) per village code of the ticket that
    /// holds them (the patrol plan's history).
    pub fn fire_points_by_village(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, usize>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT t.village_code, count(*) FROM detections d JOIN tickets t ON t.id = d.ticket_id
                 WHERE d.source = 'satellite' AND d.observed_at >= ?1 AND d.observed_at < ?2
                 GROUP BY t.village_code",
                vals![ts(from), ts(to)],
            )
            .map_err(self.sql())?;
        rows.iter().map(|r| Ok((r.text(0)?, r.int(1)? as usize))).collect::<Result<_, DbError>>().map_err(self.sql())
    }

    /// Tickets matching `filter`, oldest sighting first.
    pub fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets
             WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1 OR (?1 = 'active' AND status IN ('open', 'acknowledged', 'on_site')))
               AND (CAST(?2 AS TEXT) IS NULL OR township_code = ?2) AND (CAST(?3 AS TEXT) IS NULL OR last_seen >= ?3)
             ORDER BY first_seen DESC, id DESC LIMIT ?4"
        );
        let limit = filter.limit.map_or(i64::MAX, |n| n.min(i64::MAX as usize) as i64);
        let rows = self
            .conn
            .rows(&sql, vals![filter.status.as_deref(), &filter.township, filter.since.map(ts), limit])
            .map_err(self.sql())?;
        // newest first for the limit, then oldest sighting first as every list is read
        let mut list = tickets_from(rows).map_err(self.sql())?;
        list.reverse();
        Ok(list)
    }

    /// The tickets a feed of the last days shows: every active one (open, acknowledged, on site),
    /// and the rest changed at or after `since`; oldest sighting first.
    pub fn tickets_for_feed(&self, since: DateTime<Utc>) -> Result<Vec<Ticket>, StoreError> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets
             WHERE status IN ('open', 'acknowledged', 'on_site') OR updated_at >= ?1
             ORDER BY first_seen, id"
        );
        let rows = self.conn.rows(&sql, vals![ts(since)]).map_err(self.sql())?;
        tickets_from(rows).map_err(self.sql())
    }

    /// A number that changes whenever any ticket changes (a trigger-kept counter): equal numbers,
    /// equal tickets.
    pub fn tickets_version(&self) -> Result<i64, StoreError> {
        let r = self.conn.one("SELECT v FROM ticket_version WHERE id = 1", &[]).map_err(self.sql())?;
        r.int(0).map_err(self.sql())
    }

    pub fn ticket(&self, id: &str) -> Result<Ticket, StoreError> {
        read_ticket(&self.conn, id).map_err(self.sql())?.ok_or_else(|| StoreError::NoTicket(id.into()))
    }
}

/// Ticket `id` through any connection or transaction; `None` when there is none.
pub(super) fn read_ticket(conn: &Conn, id: &str) -> Result<Option<Ticket>, DbError> {
    conn.row(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"), vals![id])?
        .map(|r| ticket_from_row(&r))
        .transpose()
}

impl InputTx<'_> {
    /// Tickets that could take detection `d`: those whose box lies within the merge reach (a box
    /// a little larger than the circle) and whose sightings are within the merge window, found
    /// through the spatial index (SQLite's R*Tree; PostgreSQL's indexed box table). Closed ones
    /// come marked (a new ticket names them; it never joins them). `events::decide` makes the
    /// exact decision among them.
    pub fn candidates(&mut self, d: &Detection, events: &EventConfig) -> Result<Vec<Anchor>, StoreError> {
        let reach = events.reach_m(d) * 1.01 + 1.0;
        let proj = crate::grid::Projector::new(d.lon, d.lat);
        let (west, south) = proj.to_deg(-reach, -reach);
        let (east, north) = proj.to_deg(reach, reach);
        let window = events.merge_window_min * 60;
        let t = d.observed_at.timestamp();
        let rows = self
            .conn
            .rows(
                "SELECT t.id, t.lon, t.lat, t.first_seen, t.last_seen, e.id, t.township_code || '/' || t.grid_id,
                        e.min_lon, e.max_lon, e.min_lat, e.max_lat, t.status NOT IN ('open', 'acknowledged', 'on_site')
                 FROM ticket_extent e JOIN tickets t ON t.id = e.ticket_id
                 WHERE e.max_lon >= ?1 AND e.min_lon <= ?2 AND e.max_lat >= ?3 AND e.min_lat <= ?4
                   AND e.min_t <= ?5 AND e.max_t >= ?6
                 ORDER BY t.id",
                vals![west, east, south, north, (t + window) as f64, (t - window) as f64],
            )
            .map_err(self.sql())?;
        let found = rows
            .iter()
            .map(|r| {
                let anchor = Anchor {
                    id: r.text(0)?,
                    cell: r.text(6)?,
                    bbox: [r.real(7)?, r.real(8)?, r.real(9)?, r.real(10)?],
                    lon: r.real(1)?,
                    lat: r.real(2)?,
                    first_seen: r.time(3)?,
                    last_seen: r.time(4)?,
                    closed: r.flag(11)?,
                };
                Ok((anchor, r.int(5)?))
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map_err(self.sql())?;
        Ok(found
            .into_iter()
            .map(|(anchor, extent)| {
                self.extents.insert(anchor.id.clone(), (extent, anchor.bbox));
                anchor
            })
            .collect())
    }

    /// A box as the index stores it (rounded outward to 32-bit floats; SQLite's R*Tree does it
    /// itself).
    fn stored_box(&self, [w, e, s, n]: [f64; 4]) -> [Val; 4] {
        if self.conn.is_postgres() {
            [down32(w), up32(e), down32(s), up32(n)].map(Val::Real)
        } else {
            [w, e, s, n].map(Val::Real)
        }
    }

    /// A time span as the index stores it (see [`InputTx::stored_box`]).
    fn stored_span(&self, t0: f64, t1: f64) -> (Val, Val) {
        if self.conn.is_postgres() {
            (Val::Real(down32(t0)), Val::Real(up32(t1)))
        } else {
            (Val::Real(t0), Val::Real(t1))
        }
    }

    /// Adds sighting `d` to open ticket `id` (its count, sources, cameras and seen-interval).
    pub fn join(&mut self, id: &str, d: &Detection) -> Result<(), StoreError> {
        let t = d.observed_at.timestamp() as f64;
        let known = self.extents.get(id).copied();
        let result = (|| -> Result<(i64, [f64; 4]), DbError> {
            let (extent, [w0, e0, s0, n0]) = match known {
                Some(k) => k,
                None => {
                    let r = self.conn.one(
                        "SELECT id, min_lon, max_lon, min_lat, max_lat FROM ticket_extent WHERE ticket_id = ?1",
                        vals![id],
                    )?;
                    (r.int(0)?, [r.real(1)?, r.real(2)?, r.real(3)?, r.real(4)?])
                }
            };
            // the ticket covers every footprint of its sightings: centre and radius from their box
            let (w, e, s, n) = cover(d);
            let bbox = [w0.min(w), e0.max(e), s0.min(s), n0.max(n)];
            let [bw, be, bs, bn] = self.stored_box(bbox);
            let (t0, t1) = self.stored_span(t, t);
            self.conn.exec(
                "UPDATE ticket_extent SET min_t = CASE WHEN min_t < ?2 THEN min_t ELSE ?2 END,
                     max_t = CASE WHEN max_t > ?3 THEN max_t ELSE ?3 END,
                     min_lon = ?4, max_lon = ?5, min_lat = ?6, max_lat = ?7 WHERE id = ?1",
                &[Val::Int(extent), t0, t1, bw, be, bs, bn],
            )?;
            let r = self.conn.one("SELECT sources, cameras FROM tickets WHERE id = ?1", vals![id])?;
            let mut list = r.list(0)?;
            if !list.iter().any(|s| s == d.source.as_str()) {
                list.push(d.source.as_str().into());
            }
            let mut cams = r.list(1)?;
            for c in d.cameras() {
                if !cams.contains(&c) {
                    cams.push(c);
                }
            }
            let (lon, lat) = ((bbox[0] + bbox[1]) / 2.0, (bbox[2] + bbox[3]) / 2.0);
            let radius = crate::grid::Projector::new(lon, lat).distance_m((lon, lat), (bbox[1], bbox[3]));
            self.conn.exec(
                "UPDATE tickets SET detections = detections + 1, sources = ?2, updated_at = ?3,
                     first_seen = CASE WHEN first_seen < ?4 THEN first_seen ELSE ?4 END,
                     last_seen = CASE WHEN last_seen > ?4 THEN last_seen ELSE ?4 END, cameras = ?5,
                     lon = ?6, lat = ?7, radius_m = CASE WHEN radius_m > ?8 THEN radius_m ELSE ?8 END WHERE id = ?1",
                vals![
                    id,
                    json_list(&list),
                    ts(Utc::now()),
                    ts(d.observed_at),
                    json_list(&cams),
                    (lon * 1e6).round() / 1e6,
                    (lat * 1e6).round() / 1e6,
                    radius.round()
                ],
            )?;
            Ok((extent, bbox))
        })()
        .map_err(self.sql())?;
        self.extents.insert(id.to_string(), result);
        Ok(())
    }

    /// The first of `ids` that no ticket has (`events::ticket_ids`: a longer hash after a
    /// collision of the short one).
    pub fn free_id(&self, ids: impl IntoIterator<Item = String>) -> Result<String, StoreError> {
        let mut last = String::new();
        for id in ids {
            if self.conn.rows("SELECT 1 FROM tickets WHERE id = ?1", vals![&id]).map_err(self.sql())?.is_empty() {
                return Ok(id);
            }
            last = id;
        }
        Err(StoreError::IdsTaken(last))
    }

    /// Opens ticket `t` for sighting `d` (and indexes it for later sightings); the tickets of
    /// the same fire in other grid cells (`t.related`) name it in turn.
    pub fn open(&mut self, t: &Ticket, d: &Detection) -> Result<(), StoreError> {
        let (w, e, s, n) = cover(d);
        (|| -> Result<(), DbError> {
            self.conn.exec(
                &format!(
                    "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ({})",
                    (1..=42).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
                ),
                vals![
                    &t.id,
                    t.status.as_str(),
                    t.kind.as_str(),
                    t.priority.as_str(),
                    json_list(&t.reasons),
                    t.lon,
                    t.lat,
                    t.radius_m,
                    &t.township_code,
                    &t.township,
                    &t.team,
                    &t.team_phone,
                    &t.village_code,
                    &t.village,
                    &t.grid_id,
                    &t.grid_member,
                    &t.grid_phone,
                    &t.landuse,
                    json_list(&t.sources),
                    t.detections,
                    ts(t.first_seen),
                    ts(t.last_seen),
                    ts(t.deadline),
                    ts(t.created_at),
                    ts(t.updated_at),
                    &t.acked_by,
                    t.acked_at.map(ts),
                    t.closed_at.map(ts),
                    &t.close_note,
                    json_list(&t.cameras),
                    json_list(&t.related),
                    t.ack_deadline.map(ts),
                    &t.on_site_by,
                    t.on_site_at.map(ts),
                    &t.closed_by,
                    t.false_alarm_cause.map(|c| c.as_str()),
                    &t.duplicate_of,
                    &t.follows,
                    t.escalation,
                    json_list(&t.escalated),
                    serde_json::to_string(&t.kind_why).expect("kind_why serialises"),
                    json_list(&t.windows)
                ],
            )?;
            let [bw, be, bs, bn] = self.stored_box([w, e, s, n]);
            let (t0, t1) = self.stored_span(t.first_seen.timestamp() as f64, t.last_seen.timestamp() as f64);
            let extent = self.conn.insert(
                "INSERT INTO ticket_extent (min_lon, max_lon, min_lat, max_lat, min_t, max_t, ticket_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                "id",
                &[bw, be, bs, bn, t0, t1, Val::from(&t.id)],
            )?;
            self.extents.insert(t.id.clone(), (extent, [w, e, s, n]));
            let detail = match &t.follows {
                Some(old) => serde_json::json!({ "follows": old }),
                None => serde_json::json!({}),
            };
            let change = crate::lifecycle::Change {
                action: "open",
                ticket: t,
                by: "firepoint",
                at: t.created_at,
                detail: &detail,
            };
            super::lifecycle::log_change(self.conn, &change, None, self.announce)?;
            Ok(())
        })()
        .map_err(self.sql())?;
        self.relate(&t.id, &t.related)
    }

    /// Links ticket `id` and each of `others` (the same fire in other grid cells), both ways.
    pub fn relate(&mut self, id: &str, others: &[String]) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        (|| -> Result<(), DbError> {
            for (a, b) in others.iter().flat_map(|o| [(id, o.as_str()), (o.as_str(), id)]) {
                let mut list = self.conn.one("SELECT related FROM tickets WHERE id = ?1", vals![a])?.list(0)?;
                if !list.iter().any(|x| x == b) {
                    list.push(b.to_string());
                    self.conn.exec(
                        "UPDATE tickets SET related = ?2, updated_at = ?3 WHERE id = ?1",
                        vals![a, json_list(&list), &now],
                    )?;
                }
            }
            Ok(())
        })()
        .map_err(self.sql())
    }
}
