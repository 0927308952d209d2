//! Ticket rows: reading and listing them, the life cycle a township team drives (acknowledge,
//! close: one conditional update each, so a lost race is refused, never half applied), and,
//! inside an input's transaction, finding the open tickets near a detection and opening or
//! joining one as `events::decide` said.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, InputTx, Store, StoreError};
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

/// A JSON list column (`column` of its row) as stored; a corrupt one is an error, not silently
/// an empty list.
fn stored_list(column: usize, text: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e)))
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

fn bad_enum(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("unknown {what}").into())
}

pub(super) const TICKET_COLUMNS: &str =
    "id, status, kind, priority, reasons, lon, lat, radius_m, township_code, township, team, \
    team_phone, village_code, village, grid_id, grid_member, grid_phone, landuse, sources, detections, first_seen, \
    last_seen, deadline, created_at, updated_at, acked_by, acked_at, closed_at, close_note, cameras, related, \
    ack_deadline, on_site_by, on_site_at, closed_by, false_alarm_cause, duplicate_of, follows, escalation, escalated";

pub(super) fn ticket_from_row(r: &rusqlite::Row) -> rusqlite::Result<Ticket> {
    let opt_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        r.get::<_, Option<String>>(i)?.map(|s| parse_ts(&s)).transpose()
    };
    let list = |i: usize| stored_list(i, &r.get::<_, String>(i)?);
    Ok(Ticket {
        id: r.get(0)?,
        status: Status::parse(&r.get::<_, String>(1)?).ok_or_else(|| bad_enum("status"))?,
        kind: BurnKind::parse(&r.get::<_, String>(2)?).ok_or_else(|| bad_enum("kind"))?,
        priority: Priority::parse(&r.get::<_, String>(3)?).ok_or_else(|| bad_enum("priority"))?,
        reasons: list(4)?,
        lon: r.get(5)?,
        lat: r.get(6)?,
        radius_m: r.get(7)?,
        township_code: r.get(8)?,
        township: r.get(9)?,
        team: r.get(10)?,
        team_phone: r.get(11)?,
        village_code: r.get(12)?,
        village: r.get(13)?,
        grid_id: r.get(14)?,
        grid_member: r.get(15)?,
        grid_phone: r.get(16)?,
        landuse: r.get(17)?,
        sources: list(18)?,
        detections: r.get(19)?,
        first_seen: parse_ts(&r.get::<_, String>(20)?)?,
        last_seen: parse_ts(&r.get::<_, String>(21)?)?,
        deadline: parse_ts(&r.get::<_, String>(22)?)?,
        created_at: parse_ts(&r.get::<_, String>(23)?)?,
        updated_at: parse_ts(&r.get::<_, String>(24)?)?,
        acked_by: r.get(25)?,
        acked_at: opt_ts(26)?,
        closed_at: opt_ts(27)?,
        close_note: r.get(28)?,
        cameras: list(29)?,
        related: list(30)?,
        ack_deadline: opt_ts(31)?,
        on_site_by: r.get(32)?,
        on_site_at: opt_ts(33)?,
        closed_by: r.get(34)?,
        false_alarm_cause: r
            .get::<_, Option<String>>(35)?
            .map(|c| crate::domain::FalseAlarmCause::parse(&c).ok_or_else(|| bad_enum("false alarm cause")))
            .transpose()?,
        duplicate_of: r.get(36)?,
        follows: r.get(37)?,
        escalation: r.get(38)?,
        escalated: list(39)?,
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

impl Store {
    /// Each ticket's fire points (火点): the satellite detections it holds (pixels and table
    /// rows; suppressed and duplicate ones hold no ticket).
    pub fn fire_points(&self) -> Result<std::collections::HashMap<String, usize>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ticket_id, count(*) FROM detections WHERE source = 'satellite' AND ticket_id IS NOT NULL
                 GROUP BY ticket_id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))
            .and_then(|rows| rows.collect::<rusqlite::Result<std::collections::HashMap<_, _>>>())
            .map_err(self.sql())?;
        Ok(rows)
    }

    /// Tickets matching `filter`, oldest sighting first.
    pub fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {TICKET_COLUMNS} FROM tickets
                 WHERE (?1 IS NULL OR status = ?1 OR (?1 = 'active' AND status IN ('open', 'acknowledged', 'on_site')))
                   AND (?2 IS NULL OR township_code = ?2) AND (?3 IS NULL OR last_seen >= ?3)
                 ORDER BY first_seen DESC, id DESC LIMIT ?4"
            ))
            .map_err(self.sql())?;
        let rows = stmt
            .query_map(
                params![
                    filter.status.as_deref(),
                    filter.township,
                    filter.since.map(ts),
                    filter.limit.map_or(-1, |n| n as i64)
                ],
                ticket_from_row,
            )
            .map_err(self.sql())?;
        // newest first for the limit, then oldest sighting first as every list is read
        let mut list = rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())?;
        list.reverse();
        Ok(list)
    }

    /// A number that changes whenever any ticket changes (a trigger-kept counter): equal numbers,
    /// equal tickets.
    pub fn tickets_version(&self) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("SELECT v FROM ticket_version WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(self.sql())
    }

    pub fn ticket(&self, id: &str) -> Result<Ticket, StoreError> {
        read_ticket(&self.conn, id).map_err(self.sql())?.ok_or_else(|| StoreError::NoTicket(id.into()))
    }
}

/// Ticket `id` through any connection or transaction; `None` when there is none.
pub(super) fn read_ticket(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Ticket>> {
    conn.prepare_cached(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"))?
        .query_row([id], ticket_from_row)
        .optional()
}

impl InputTx<'_> {
    /// Tickets that could take detection `d`: those whose box lies within the merge reach (a box
    /// a little larger than the circle) and whose sightings are within the merge window, found
    /// through the R*Tree. Closed ones come marked (a new ticket names them; it never joins
    /// them). `events::decide` makes the exact decision among them.
    pub fn candidates(&mut self, d: &Detection, events: &EventConfig) -> Result<Vec<Anchor>, StoreError> {
        let reach = events.reach_m(d) * 1.01 + 1.0;
        let proj = crate::grid::Projector::new(d.lon, d.lat);
        let (west, south) = proj.to_deg(-reach, -reach);
        let (east, north) = proj.to_deg(reach, reach);
        let window = events.merge_window_min * 60;
        let t = d.observed_at.timestamp();
        let found = (|| -> rusqlite::Result<Vec<(Anchor, i64)>> {
            let mut stmt = self.tx.prepare_cached(
                "SELECT t.id, t.lon, t.lat, t.first_seen, t.last_seen, e.id, t.township_code || '/' || t.grid_id,
                        e.min_lon, e.max_lon, e.min_lat, e.max_lat, t.status NOT IN ('open', 'acknowledged', 'on_site')
                 FROM ticket_extent e JOIN tickets t ON t.id = e.ticket_id
                 WHERE e.max_lon >= ?1 AND e.min_lon <= ?2 AND e.max_lat >= ?3 AND e.min_lat <= ?4
                   AND e.min_t <= ?5 AND e.max_t >= ?6",
            )?;
            let rows =
                stmt.query_map(params![west, east, south, north, (t + window) as f64, (t - window) as f64], |r| {
                    let anchor = Anchor {
                        id: r.get(0)?,
                        cell: r.get(6)?,
                        bbox: [r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?],
                        lon: r.get(1)?,
                        lat: r.get(2)?,
                        first_seen: parse_ts(&r.get::<_, String>(3)?)?,
                        last_seen: parse_ts(&r.get::<_, String>(4)?)?,
                        closed: r.get(11)?,
                    };
                    Ok((anchor, r.get(5)?))
                })?;
            rows.collect()
        })()
        .map_err(self.sql())?;
        Ok(found
            .into_iter()
            .map(|(anchor, extent)| {
                self.extents.insert(anchor.id.clone(), (extent, anchor.bbox));
                anchor
            })
            .collect())
    }

    /// Adds sighting `d` to open ticket `id` (its count, sources, cameras and seen-interval).
    pub fn join(&mut self, id: &str, d: &Detection) -> Result<(), StoreError> {
        let t = d.observed_at.timestamp() as f64;
        let known = self.extents.get(id).copied();
        let result = (|| -> rusqlite::Result<(i64, [f64; 4])> {
            let (extent, [w0, e0, s0, n0]) = match known {
                Some(k) => k,
                None => self
                    .tx
                    .prepare_cached(
                        "SELECT id, min_lon, max_lon, min_lat, max_lat FROM ticket_extent WHERE ticket_id = ?1",
                    )?
                    .query_row([id], |r| Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])))?,
            };
            // the ticket covers every footprint of its sightings: centre and radius from their box
            let (w, e, s, n) = cover(d);
            let bbox = [w0.min(w), e0.max(e), s0.min(s), n0.max(n)];
            self.tx
                .prepare_cached(
                    "UPDATE ticket_extent SET min_t = min(min_t, ?2), max_t = max(max_t, ?2),
                         min_lon = ?3, max_lon = ?4, min_lat = ?5, max_lat = ?6 WHERE id = ?1",
                )?
                .execute(params![extent, t, bbox[0], bbox[1], bbox[2], bbox[3]])?;
            let (sources, cameras): (String, String) = self
                .tx
                .prepare_cached("SELECT sources, cameras FROM tickets WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let mut list = stored_list(0, &sources)?;
            if !list.iter().any(|s| s == d.source.as_str()) {
                list.push(d.source.as_str().into());
            }
            let mut cams = stored_list(1, &cameras)?;
            for c in d.cameras() {
                if !cams.contains(&c) {
                    cams.push(c);
                }
            }
            let (lon, lat) = ((bbox[0] + bbox[1]) / 2.0, (bbox[2] + bbox[3]) / 2.0);
            let radius = crate::grid::Projector::new(lon, lat).distance_m((lon, lat), (bbox[1], bbox[3]));
            self.tx
                .prepare_cached(
                    "UPDATE tickets SET detections = detections + 1, sources = ?2, updated_at = ?3,
                         first_seen = min(first_seen, ?4), last_seen = max(last_seen, ?4), cameras = ?5,
                         lon = ?6, lat = ?7, radius_m = max(radius_m, ?8) WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    json_list(&list),
                    ts(Utc::now()),
                    ts(d.observed_at),
                    json_list(&cams),
                    (lon * 1e6).round() / 1e6,
                    (lat * 1e6).round() / 1e6,
                    radius.round()
                ])?;
            Ok((extent, bbox))
        })()
        .map_err(self.sql())?;
        self.extents.insert(id.to_string(), result);
        Ok(())
    }

    /// Opens ticket `t` for sighting `d` (and indexes it for later sightings); the tickets of
    /// the same fire in other grid cells (`t.related`) name it in turn.
    pub fn open(&mut self, t: &Ticket, d: &Detection) -> Result<(), StoreError> {
        let (w, e, s, n) = cover(d);
        (|| -> rusqlite::Result<()> {
            self.tx.execute(
                &format!(
                    "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ({})",
                    (1..=40).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
                ),
                params![
                    t.id,
                    t.status.as_str(),
                    t.kind.as_str(),
                    t.priority.as_str(),
                    json_list(&t.reasons),
                    t.lon,
                    t.lat,
                    t.radius_m,
                    t.township_code,
                    t.township,
                    t.team,
                    t.team_phone,
                    t.village_code,
                    t.village,
                    t.grid_id,
                    t.grid_member,
                    t.grid_phone,
                    t.landuse,
                    json_list(&t.sources),
                    t.detections,
                    ts(t.first_seen),
                    ts(t.last_seen),
                    ts(t.deadline),
                    ts(t.created_at),
                    ts(t.updated_at),
                    t.acked_by,
                    t.acked_at.map(ts),
                    t.closed_at.map(ts),
                    t.close_note,
                    json_list(&t.cameras),
                    json_list(&t.related),
                    t.ack_deadline.map(ts),
                    t.on_site_by,
                    t.on_site_at.map(ts),
                    t.closed_by,
                    t.false_alarm_cause.map(|c| c.as_str()),
                    t.duplicate_of,
                    t.follows,
                    t.escalation,
                    json_list(&t.escalated)
                ],
            )?;
            self.tx.execute(
                "INSERT INTO ticket_extent (min_lon, max_lon, min_lat, max_lat, min_t, max_t, ticket_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![w, e, s, n, t.first_seen.timestamp() as f64, t.last_seen.timestamp() as f64, t.id],
            )?;
            self.extents.insert(t.id.clone(), (self.tx.last_insert_rowid(), [w, e, s, n]));
            let detail = match &t.follows {
                Some(old) => serde_json::json!({ "follows": old }),
                None => serde_json::json!({}),
            };
            super::lifecycle::log_change(&self.tx, t, "open", None, "firepoint", t.created_at, &detail, &self.notify)?;
            Ok(())
        })()
        .map_err(self.sql())?;
        self.relate(&t.id, &t.related)
    }

    /// Links ticket `id` and each of `others` (the same fire in other grid cells), both ways.
    pub fn relate(&mut self, id: &str, others: &[String]) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        (|| -> rusqlite::Result<()> {
            for (a, b) in others.iter().flat_map(|o| [(id, o.as_str()), (o.as_str(), id)]) {
                let stored: String =
                    self.tx.query_row("SELECT related FROM tickets WHERE id = ?1", [a], |r| r.get(0))?;
                let mut list = stored_list(0, &stored)?;
                if !list.iter().any(|x| x == b) {
                    list.push(b.to_string());
                    self.tx.execute(
                        "UPDATE tickets SET related = ?2, updated_at = ?3 WHERE id = ?1",
                        params![a, json_list(&list), now],
                    )?;
                }
            }
            Ok(())
        })()
        .map_err(self.sql())
    }
}
