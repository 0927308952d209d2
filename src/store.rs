//! The ticket store: SQLite (bundled, WAL) holding every input seen, every detection and every
//! ticket with its life cycle (open → acked → closed).
//!
//! One input is recorded in one transaction: its detections, the tickets they open or join, and
//! the input's own row. A crash before the commit leaves no trace, so the input is simply
//! processed again; after it, the input's checksum makes a rerun skip it. Ticket ids derive from
//! the input checksum and detection index, so even a rebuilt store gives the same ids.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::config::{EventConfig, Persistence, Sla};
use crate::detect::{Detection, SourceKind};
use crate::dispatch::{dispatch, BurnKind, Priority};
use crate::events::{merge_target, Anchor};
use crate::locate::Located;
use crate::persistence::{self, CellHistory};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ticket store {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the folder for ticket store {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no ticket {0}")]
    NoTicket(String),
    #[error("ticket {id} is {status}; cannot {action} it")]
    BadTransition { id: String, status: String, action: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acked,
    Closed,
}
crate::dispatch::str_enum!(Status { Open => "open", Acked => "acked", Closed => "closed" });

/// A dispatch ticket as stored and as the feed shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub id: String,
    pub status: Status,
    pub kind: BurnKind,
    pub priority: Priority,
    pub reasons: Vec<String>,
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
    pub township_code: String,
    pub township: String,
    pub team: String,
    pub team_phone: String,
    pub village_code: String,
    pub village: String,
    pub grid_id: String,
    pub grid_member: String,
    pub grid_phone: String,
    pub landuse: String,
    pub sources: Vec<String>,
    pub detections: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub acked_by: Option<String>,
    pub acked_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: Option<String>,
}

/// The configuration a recorded input is judged by: merging, service levels, history cells.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub events: &'a EventConfig,
    pub sla: &'a Sla,
    pub persistence: &'a Persistence,
}

impl<'a> From<&'a crate::config::Config> for Rules<'a> {
    fn from(c: &'a crate::config::Config) -> Self {
        Rules { events: &c.events, sla: &c.sla, persistence: &c.persistence }
    }
}

/// Which tickets to list: by status, by township (a team sees its own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub status: Option<Status>,
    /// Township code, as in the AOI's townships layer.
    pub township: Option<String>,
}

impl TicketFilter {
    pub fn all() -> TicketFilter {
        TicketFilter::default()
    }
    pub fn status(status: Status) -> TicketFilter {
        TicketFilter { status: Some(status), township: None }
    }
}

/// What recording one input changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    pub opened: Vec<String>,
    pub joined: Vec<String>,
    pub suppressed: usize,
}

pub struct Store {
    path: PathBuf,
    conn: Connection,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inputs (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'quarantined')),
    error TEXT,
    detections INTEGER NOT NULL DEFAULT 0,
    processed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('open', 'acked', 'closed')),
    kind TEXT NOT NULL,
    priority TEXT NOT NULL,
    reasons TEXT NOT NULL,
    lon REAL NOT NULL, lat REAL NOT NULL, radius_m REAL NOT NULL,
    township_code TEXT NOT NULL, township TEXT NOT NULL, team TEXT NOT NULL, team_phone TEXT NOT NULL,
    village_code TEXT NOT NULL, village TEXT NOT NULL, grid_id TEXT NOT NULL,
    grid_member TEXT NOT NULL, grid_phone TEXT NOT NULL, landuse TEXT NOT NULL,
    sources TEXT NOT NULL,
    detections INTEGER NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, deadline TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    acked_by TEXT, acked_at TEXT, closed_at TEXT, close_note TEXT
);
CREATE INDEX IF NOT EXISTS tickets_open ON tickets (status, last_seen);
CREATE TABLE IF NOT EXISTS detections (
    input_sha256 TEXT NOT NULL REFERENCES inputs (sha256),
    idx INTEGER NOT NULL,
    source TEXT NOT NULL, sensor TEXT NOT NULL, observed_at TEXT NOT NULL,
    lon REAL NOT NULL, lat REAL NOT NULL, radius_m REAL NOT NULL, confidence REAL NOT NULL,
    evidence TEXT NOT NULL,
    footprint TEXT,
    suppressed_by TEXT,
    ticket_id TEXT REFERENCES tickets (id),
    PRIMARY KEY (input_sha256, idx)
);
CREATE TABLE IF NOT EXISTS heat_cells (
    cx INTEGER NOT NULL,
    cy INTEGER NOT NULL,
    day TEXT NOT NULL,
    night INTEGER NOT NULL,
    PRIMARY KEY (cx, cy, day)
);
"#;

/// Version 2: open tickets are found by space and time through an R*Tree (`ticket_extent`: the
/// ticket's point and its first..last sighting, epoch seconds; `ticket_id` names the ticket)
/// instead of a scan of every open ticket per detection.
const MIGRATE_2: &str = r#"
CREATE VIRTUAL TABLE IF NOT EXISTS ticket_extent USING rtree(
    id, min_lon, max_lon, min_lat, max_lat, min_t, max_t, +ticket_id TEXT
);
INSERT INTO ticket_extent (min_lon, max_lon, min_lat, max_lat, min_t, max_t, ticket_id)
    SELECT lon, lon, lat, lat, unixepoch(first_seen), unixepoch(last_seen), id FROM tickets
    WHERE status != 'closed' AND id NOT IN (SELECT ticket_id FROM ticket_extent);
"#;

/// The schema version this build writes; an older store is migrated on open, a newer refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Creates the tables (a new store) and runs every migration past the store's `user_version`,
/// in one transaction.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!(
                "store schema version {version} is newer than this firepoint's ({SCHEMA_VERSION}); upgrade firepoint"
            )
            .into(),
        ));
    }
    if version < 1 {
        tx.execute_batch(SCHEMA)?;
    }
    if version < 2 {
        tx.execute_batch(MIGRATE_2)?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()
}

/// A time as the store writes it (RFC 3339, UTC, seconds).
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn bad_enum(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("unknown {what}").into())
}

const TICKET_COLUMNS: &str = "id, status, kind, priority, reasons, lon, lat, radius_m, township_code, township, team, \
    team_phone, village_code, village, grid_id, grid_member, grid_phone, landuse, sources, detections, first_seen, \
    last_seen, deadline, created_at, updated_at, acked_by, acked_at, closed_at, close_note";

fn ticket_from_row(r: &rusqlite::Row) -> rusqlite::Result<Ticket> {
    let opt_ts = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        r.get::<_, Option<String>>(i)?.map(|s| parse_ts(&s)).transpose()
    };
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let s: String = r.get(i)?;
        serde_json::from_str(&s)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
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
    })
}

/// Rounds to a step of 1/`per` (1e6 for coordinates: 0.1 m; the feed needs no more).
fn round_to(v: f64, per: f64) -> f64 {
    (v * per).round() / per
}

/// Ticket id: reporting day and a short hash of the input and detection that opened it.
fn ticket_id(input_sha: &str, idx: usize, seen: DateTime<Utc>) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{input_sha}/{idx}").as_bytes());
    let day = crate::time::reporting_day(seen).format("%Y%m%d");
    format!("FP-{day}-{:02X}{:02X}{:02X}", h[0], h[1], h[2])
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.into(), source })?;
        }
        let sql = |source| StoreError::Sql { path: path.into(), source };
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
        migrate(&mut conn).map_err(sql)?;
        Ok(Store { path: path.into(), conn })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sql { path: self.path.clone(), source }
    }

    /// The status (`done` or `quarantined`) of an input already seen, by checksum.
    pub fn input_status(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT status FROM inputs WHERE sha256 = ?1", [sha256], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    pub fn record_quarantine(&mut self, path: &Path, sha256: &str, kind: &str, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO inputs (sha256, path, kind, status, error, processed_at) VALUES (?1, ?2, ?3, 'quarantined', ?4, ?5)",
                params![sha256, path.display().to_string(), kind, error, ts(Utc::now())],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Records one input and its located detections in one transaction (satellite detections
    /// also enter the persistence history).
    pub fn record_input(
        &mut self,
        path: &Path,
        sha256: &str,
        kind: &str,
        located: &[Located],
        rules: &Rules,
    ) -> Result<Recorded, StoreError> {
        let Rules { events, sla, persistence } = *rules;
        let store_path = self.path.clone();
        let sql = |source| StoreError::Sql { path: store_path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT INTO inputs (sha256, path, kind, status, detections, processed_at) VALUES (?1, ?2, ?3, 'done', ?4, ?5)",
            params![sha256, path.display().to_string(), kind, located.len() as i64, ts(Utc::now())],
        )
        .map_err(sql)?;
        let mut out = Recorded::default();
        for (idx, loc) in located.iter().enumerate() {
            let ticket = if loc.suppressed_by.is_some() {
                out.suppressed += 1;
                None
            } else {
                Some(apply_detection(&tx, sha256, idx, loc, events, sla, &mut out).map_err(sql)?)
            };
            let d = &loc.detection;
            tx.execute(
                "INSERT INTO detections (input_sha256, idx, source, sensor, observed_at, lon, lat, radius_m, confidence, evidence, footprint, suppressed_by, ticket_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![sha256, idx as i64, d.source.as_str(), d.sensor, ts(d.observed_at), d.lon, d.lat, d.radius_m,
                        d.confidence as f64, d.evidence.to_string(),
                        d.footprint.as_ref().map(|r| serde_json::json!({"type": "Polygon", "coordinates": [r]}).to_string()),
                        loc.suppressed_by, ticket],
            )
            .map_err(sql)?;
        }
        let satellite: Vec<Detection> = located
            .iter()
            .filter(|l| l.detection.source == SourceKind::Satellite)
            .map(|l| l.detection.clone())
            .collect();
        insert_history(&tx, &satellite, persistence.cell_deg).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Tickets matching `filter`, oldest sighting first.
    pub fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {TICKET_COLUMNS} FROM tickets WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR township_code = ?2)
                 ORDER BY first_seen, id"
            ))
            .map_err(self.sql())?;
        let rows = stmt
            .query_map(params![filter.status.map(|s| s.as_str()), filter.township], ticket_from_row)
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    pub fn ticket(&self, id: &str) -> Result<Ticket, StoreError> {
        self.conn
            .query_row(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"), [id], ticket_from_row)
            .optional()
            .map_err(self.sql())?
            .ok_or_else(|| StoreError::NoTicket(id.into()))
    }

    /// A township team acknowledges a ticket (open → acked).
    pub fn ack(&mut self, id: &str, by: &str, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        self.transition(id, "acknowledge", &[Status::Open], |tx| {
            tx.execute(
                "UPDATE tickets SET status = 'acked', acked_by = ?2, acked_at = ?3, updated_at = ?3 WHERE id = ?1",
                params![id, by, ts(at)],
            )
        })
    }

    /// The fire is out (open or acked → closed).
    pub fn close(&mut self, id: &str, note: &str, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        self.transition(id, "close", &[Status::Open, Status::Acked], |tx| {
            tx.execute(
                "UPDATE tickets SET status = 'closed', close_note = ?2, closed_at = ?3, updated_at = ?3 WHERE id = ?1",
                params![id, note, ts(at)],
            )
        })
    }

    fn transition(
        &mut self,
        id: &str,
        action: &'static str,
        from: &[Status],
        update: impl FnOnce(&Transaction) -> rusqlite::Result<usize>,
    ) -> Result<Ticket, StoreError> {
        let current = self.ticket(id)?;
        if !from.contains(&current.status) {
            return Err(StoreError::BadTransition { id: id.into(), status: current.status.as_str().into(), action });
        }
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        update(&tx).map_err(sql)?;
        tx.commit().map_err(sql)?;
        self.ticket(id)
    }

    /// Adds satellite detections to the persistence history (their cell, Beijing day, night).
    pub fn record_history(&mut self, dets: &[Detection], cell_deg: f64) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        let n = insert_history(&tx, dets, cell_deg).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(n)
    }

    /// History of the cells in a detection's footprint within its lookback window.
    pub fn footprint_history(&self, d: &Detection, p: &Persistence) -> Result<CellHistory, StoreError> {
        let (from, to) = persistence::window(d.observed_at, p);
        let ((x0, y0), (x1, y1)) = persistence::cells_near(d.lon, d.lat, d.radius_m, p.cell_deg);
        self.conn
            .prepare_cached(
                "SELECT count(DISTINCT day), count(DISTINCT CASE WHEN night = 1 THEN day END) FROM heat_cells
                 WHERE cx BETWEEN ?1 AND ?2 AND cy BETWEEN ?3 AND ?4 AND day >= ?5 AND day < ?6",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![x0, x1, y0, y1, from.to_string(), to.to_string()], |r| {
                    Ok(CellHistory { days: r.get(0)?, night_days: r.get(1)? })
                })
            })
            .map_err(self.sql())
    }

    /// Counts for the summary: (inputs done, inputs quarantined, detections, tickets).
    pub fn counts(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM inputs WHERE status = 'done'), (SELECT count(*) FROM inputs WHERE status = 'quarantined'),
                        (SELECT count(*) FROM detections), (SELECT count(*) FROM tickets)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.sql())
    }
}

fn insert_history(tx: &Transaction, dets: &[Detection], cell_deg: f64) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO heat_cells (cx, cy, day, night) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (cx, cy, day) DO UPDATE SET night = max(night, excluded.night)",
    )?;
    for d in dets {
        let (cx, cy) = persistence::cell_of(d.lon, d.lat, cell_deg);
        let day = crate::time::reporting_day(d.observed_at).to_string();
        stmt.execute(params![cx, cy, day, persistence::is_night(d) as i64])?;
    }
    Ok(dets.len())
}

/// Joins the detection to an open ticket or opens one; returns the ticket id.
fn apply_detection(
    tx: &Transaction,
    sha256: &str,
    idx: usize,
    loc: &Located,
    events: &EventConfig,
    sla: &Sla,
    out: &mut Recorded,
) -> rusqlite::Result<String> {
    let d = &loc.detection;
    let anchors = candidates(tx, d, events)?;
    let now = ts(Utc::now());
    if let Some(a) = merge_target(&anchors, d, events) {
        let sources: String = tx.query_row("SELECT sources FROM tickets WHERE id = ?1", [&a.id], |r| r.get(0))?;
        let mut list: Vec<String> = serde_json::from_str(&sources).unwrap_or_default();
        if !list.iter().any(|s| s == d.source.as_str()) {
            list.push(d.source.as_str().into());
        }
        tx.execute(
            "UPDATE tickets SET detections = detections + 1, sources = ?2, updated_at = ?3,
                 first_seen = min(first_seen, ?4), last_seen = max(last_seen, ?4) WHERE id = ?1",
            params![a.id, serde_json::to_string(&list).expect("strings serialise"), now, ts(d.observed_at)],
        )?;
        let t = d.observed_at.timestamp() as f64;
        tx.execute(
            "UPDATE ticket_extent SET min_t = min(min_t, ?2), max_t = max(max_t, ?2) WHERE id = ?1",
            params![a.extent, t],
        )?;
        out.joined.push(a.id.clone());
        return Ok(a.id.clone());
    }
    let id = ticket_id(sha256, idx, d.observed_at);
    let disp = dispatch(loc, events, sla);
    let p = &loc.place;
    let (tcode, tname, team, tphone) = p
        .township
        .as_ref()
        .map_or(Default::default(), |t| (t.code.clone(), t.name.clone(), t.team.clone(), t.phone.clone()));
    let (vcode, vname, grid, member, vphone) = p.village.as_ref().map_or(Default::default(), |v| {
        (v.code.clone(), v.name.clone(), v.grid_id.clone(), v.grid_member.clone(), v.phone.clone())
    });
    let landuse = serde_json::to_value(p.landuse).expect("enum serialises").as_str().unwrap_or("").to_string();
    tx.execute(
        &format!("INSERT INTO tickets ({TICKET_COLUMNS}) VALUES (?1, 'open', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 1, ?19, ?19, ?20, ?21, ?21, NULL, NULL, NULL, NULL)"),
        params![id, disp.kind.as_str(), disp.priority.as_str(), serde_json::to_string(&disp.reasons).expect("strings serialise"),
                round_to(d.lon, 1e6), round_to(d.lat, 1e6), d.radius_m.round(), tcode, tname, team, tphone, vcode, vname, grid, member, vphone, landuse,
                serde_json::to_string(&[d.source.as_str()]).expect("strings serialise"), ts(d.observed_at), ts(disp.deadline), now],
    )?;
    tx.execute(
        "INSERT INTO ticket_extent (min_lon, max_lon, min_lat, max_lat, min_t, max_t, ticket_id)
         VALUES (?1, ?1, ?2, ?2, ?3, ?3, ?4)",
        params![round_to(d.lon, 1e6), round_to(d.lat, 1e6), d.observed_at.timestamp() as f64, id],
    )?;
    out.opened.push(id.clone());
    Ok(id)
}

/// Open tickets that could take detection `d`: those whose point lies within the merge reach
/// (a box a little larger than the circle) and whose sightings are within the merge window,
/// found through the R*Tree. `events::merge_target` makes the exact decision among them.
fn candidates(tx: &Transaction, d: &Detection, events: &EventConfig) -> rusqlite::Result<Vec<Anchor>> {
    let reach = events.merge_radius_m.max(d.radius_m) * 1.01 + 1.0;
    let proj = crate::aoi::Projector::new(d.lon, d.lat);
    let (west, south) = proj.to_deg(-reach, -reach);
    let (east, north) = proj.to_deg(reach, reach);
    let window = events.merge_window_min * 60;
    let t = d.observed_at.timestamp();
    let mut stmt = tx.prepare_cached(
        "SELECT t.id, t.lon, t.lat, t.first_seen, t.last_seen, e.id FROM ticket_extent e JOIN tickets t ON t.id = e.ticket_id
         WHERE e.max_lon >= ?1 AND e.min_lon <= ?2 AND e.max_lat >= ?3 AND e.min_lat <= ?4
           AND e.min_t <= ?5 AND e.max_t >= ?6 AND t.status != 'closed'",
    )?;
    let rows = stmt.query_map(params![west, east, south, north, (t + window) as f64, (t - window) as f64], |r| {
        Ok(Anchor {
            id: r.get(0)?,
            lon: r.get(1)?,
            lat: r.get(2)?,
            first_seen: parse_ts(&r.get::<_, String>(3)?)?,
            last_seen: parse_ts(&r.get::<_, String>(4)?)?,
            extent: r.get(5)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn r6_a_version_1_store_is_migrated_and_its_open_tickets_still_take_sightings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let v1 = Connection::open(&path).unwrap();
        v1.execute_batch(SCHEMA).unwrap();
        v1.pragma_update(None, "user_version", 1).unwrap();
        let cols = "'open', 'straw', 'normal', '[]', 115.6, 37.6, 500, '', '', '', '', '', '', '', '', '', 'farmland', '[\"satellite\"]', 1, \
                    '2026-06-10T05:30:00Z', '2026-06-10T05:30:00Z', '2026-06-10T15:59:59Z', '2026-06-10T05:31:00Z', '2026-06-10T05:31:00Z', NULL, NULL, NULL, NULL";
        v1.execute(&format!("INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ('FP-OLD', {cols})"), []).unwrap();
        drop(v1);

        let mut store = Store::open(&path).unwrap();
        let version: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 6, 0, 0).unwrap();
        let near = Located::on_farmland(Detection::point(SourceKind::Satellite, 115.601, 37.6, at, 500.0));
        let cfg = crate::config::Config::default();
        let rec = store.record_input("x".as_ref(), "sha-new", "satellite", &[near], &(&cfg).into()).unwrap();
        assert_eq!(rec.joined, vec!["FP-OLD".to_string()], "the migrated index finds the old ticket");
        drop(store);
        // a second open migrates nothing twice
        let store = Store::open(&path).unwrap();
        let n: i64 = store.conn.query_row("SELECT count(*) FROM ticket_extent", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn r6_a_store_from_a_newer_firepoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v9.sqlite");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 9).unwrap();
        let err = format!("{:#}", anyhow::Error::from(Store::open(&path).err().unwrap()));
        assert!(err.contains("newer than this firepoint"), "{err}");
    }
}
