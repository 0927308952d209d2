//! The ticket store: SQLite (WAL) holding every input seen, every detection, every ticket with
//! its life cycle (open → acknowledged → on_site → resolved / false_alarm / duplicate), the
//! append-only audit log of every step, the notification outbox, the feed's access tokens and the
//! persistence history.
//!
//! The store carries decisions out; it does not make them (the event rule is
//! `events::decide`). One input is recorded in one [`InputTx`]: its detections, the tickets they
//! open or join, its history cells and the input's own row, committed together. A crash before
//! the commit leaves no trace, so the input is simply processed again; after it, the input's
//! checksum makes a rerun skip it. Split by table group: [`schema`] (tables, migrations),
//! `tickets` (ticket rows, candidates), `lifecycle` (team steps, audit log, escalation,
//! outbox), `tokens` (feed access), `history` (the persistence mask's cells), `frames` (what each camera frame showed).

mod frames;
mod history;
mod lifecycle;
mod schema;
mod tickets;
mod tokens;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::domain::Detection;

pub use lifecycle::{LogEntry, Resting};
pub use schema::SCHEMA_VERSION;
pub use tickets::TicketFilter;
pub use tokens::Identity;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ticket store {path}")]
    Sql {
        path: PathBuf,
        #[source]
        source: SqlError,
    },
    #[error("cannot create the folder for ticket store {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "ticket store {path} has schema version {found}, newer than this firepoint's ({supported}); upgrade firepoint"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error(
        "no ticket store at {path}: no batch has written one there (check paths.store, or run `firepoint run` first)"
    )]
    Missing { path: PathBuf },
    #[error("no ticket {0}")]
    NoTicket(String),
    #[error("ticket {id} is {status}; cannot {action} it")]
    BadTransition { id: String, status: String, action: &'static str },
    #[error("{0}")]
    BadStep(String),
    #[error("ticket store {path} is read-only here; {what} needs a writable store")]
    ReadOnly { path: PathBuf, what: &'static str },
}

impl StoreError {
    /// The store's disk (or its size limit) is full.
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Sql { source: SqlError(e), .. }
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
    }

    /// The store was locked by another writer for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sql { source: SqlError(e), .. }
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy))
    }
}

/// A SQLite error said once: rusqlite's message, without its `ffi` cause, which repeats the
/// same thing in other words ("file is not a database: … not a database file").
#[derive(Debug)]
pub struct SqlError(pub rusqlite::Error);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqlError {}

pub struct Store {
    path: PathBuf,
    conn: Connection,
    /// Where the notifications of ticket changes go (no channel: audit rows only).
    notify: std::sync::Arc<crate::notify::NotifyConfig>,
}

/// The error of a SQLite call on the store at `path`.
fn sql_at(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Sql { path: path.into(), source: SqlError(source) }
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

impl Store {
    /// Opens the store at `path` for commands that only read or update tickets (`tickets`,
    /// `report`, `smoke masks`): a store that is not there is an error, not an empty new one
    /// (a mistyped path would otherwise read as "no fires").
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.into() });
        }
        Store::open(path)
    }

    /// Opens (creating it and its folder when new) the store at `path` and migrates its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.into(), source })?;
        }
        let sql = sql_at(path);
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
        let found = schema::version(&conn).map_err(sql)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: path.into(), found, supported: SCHEMA_VERSION });
        }
        schema::migrate(&mut conn).map_err(sql)?;
        Ok(Store { path: path.into(), conn, notify: Default::default() })
    }

    /// Opens an existing store for reading only: no schema setup, no pragma writes, no lock
    /// waits behind a batch (WAL readers see the last commit). The feed's reads use these.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        if !path.exists() {
            return Err(StoreError::Missing { path: path.into() });
        }
        let sql = sql_at(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql)?;
        let found = schema::version(&conn).map_err(sql)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: path.into(), found, supported: SCHEMA_VERSION });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::ReadOnly { path: path.into(), what: "migrating it to this firepoint's schema" });
        }
        Ok(Store { path: path.into(), conn, notify: Default::default() })
    }

    /// Sends notifications of ticket changes by `cfg` from now on (written to the outbox).
    pub fn with_notify(mut self, cfg: &crate::notify::NotifyConfig) -> Store {
        self.notify = std::sync::Arc::new(cfg.clone());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a write waits for another writer's lock (a batch) before it fails as busy.
    pub fn set_busy_timeout(&mut self, wait: std::time::Duration) -> Result<(), StoreError> {
        self.conn.busy_timeout(wait).map_err(self.sql())
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        sql_at(&self.path)
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

    /// Starts recording input `sha256` (at `path`, of `kind`, with `detections` detections):
    /// everything written through the returned transaction lands with [`InputTx::commit`] or
    /// not at all.
    pub fn begin_input(
        &mut self,
        path: &Path,
        sha256: &str,
        kind: &str,
        detections: usize,
        note: Option<&str>,
    ) -> Result<InputTx<'_>, StoreError> {
        let store = self.path.clone();
        let sql = |source: rusqlite::Error| StoreError::Sql { path: store.clone(), source: SqlError(source) };
        let tx = self.conn.transaction().map_err(sql)?;
        // an input quarantined before and delivered again (fixed) is recorded afresh
        tx.execute("DELETE FROM inputs WHERE sha256 = ?1 AND status = 'quarantined'", [sha256]).map_err(sql)?;
        tx.execute(
            "INSERT INTO inputs (sha256, path, kind, status, detections, processed_at, note) VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?6)",
            params![sha256, path.display().to_string(), kind, detections as i64, ts(Utc::now()), note],
        )
        .map_err(sql)?;
        Ok(InputTx { tx, store, sha256: sha256.into(), extents: HashMap::new(), notify: self.notify.clone() })
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

/// One input being recorded: one SQLite transaction (see [`Store::begin_input`]).
pub struct InputTx<'s> {
    tx: Transaction<'s>,
    store: PathBuf,
    sha256: String,
    /// Spatial-index entries of the candidate tickets seen so far (ticket id → R*Tree id and
    /// the box it holds: west, east, south, north).
    extents: HashMap<String, (i64, [f64; 4])>,
    notify: std::sync::Arc<crate::notify::NotifyConfig>,
}

impl InputTx<'_> {
    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        sql_at(&self.store)
    }

    /// Writes detection `idx` of this input, suppressed (`suppressed_by`) or ticketed.
    pub fn detection(
        &mut self,
        idx: usize,
        d: &Detection,
        suppressed_by: Option<&str>,
        ticket: Option<&str>,
    ) -> Result<(), StoreError> {
        let footprint =
            d.footprint.as_ref().map(|r| serde_json::json!({"type": "Polygon", "coordinates": [r]}).to_string());
        self.tx
            .execute(
                "INSERT INTO detections (input_sha256, idx, source, sensor, observed_at, lon, lat, radius_m, confidence, evidence, footprint, suppressed_by, ticket_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![self.sha256, idx as i64, d.source.as_str(), d.sensor, ts(d.observed_at), d.lon, d.lat, d.radius_m,
                        d.confidence as f64, d.evidence.to_string(), footprint, suppressed_by, ticket],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The input that already holds this very sighting (same source, sensor, time and place to
    /// 0.1 m), if any: overlapping FIRMS downloads deliver the same row twice.
    pub fn already_recorded(&mut self, d: &Detection) -> Result<Option<String>, StoreError> {
        let found = (|| {
            self.tx
                .prepare_cached(
                    "SELECT input_sha256 FROM detections WHERE observed_at = ?1 AND sensor = ?2 AND source = ?3
                       AND abs(lon - ?4) < 1e-6 AND abs(lat - ?5) < 1e-6 LIMIT 1",
                )?
                .query_row(params![ts(d.observed_at), d.sensor, d.source.as_str(), d.lon, d.lat], |r| r.get(0))
                .optional()
        })();
        found.map_err(self.sql())
    }

    pub fn commit(self) -> Result<(), StoreError> {
        let store = self.store.clone();
        self.tx.commit().map_err(|source| StoreError::Sql { path: store, source: SqlError(source) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;
    use crate::locate::Located;
    use chrono::TimeZone;
    use tickets::TICKET_COLUMNS;

    #[test]
    fn r6_a_version_1_store_is_migrated_and_its_open_tickets_still_take_sightings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let v1 = Connection::open(&path).unwrap();
        v1.execute_batch(super::schema::SCHEMA).unwrap();
        v1.pragma_update(None, "user_version", 1).unwrap();
        let cols = "'open', 'straw', 'normal', '[]', 115.6, 37.6, 500, '', '', '', '', '', '', '', '', '', 'farmland', '[\"satellite\"]', 1, \
                    '2026-06-10T05:30:00Z', '2026-06-10T05:30:00Z', '2026-06-10T15:59:59Z', '2026-06-10T05:31:00Z', '2026-06-10T05:31:00Z', NULL, NULL, NULL, NULL";
        // a version-1 ticket row: the columns before version 4's `cameras`
        let v1_columns = &TICKET_COLUMNS[..TICKET_COLUMNS.find(", cameras").expect("version 4 added cameras")];
        v1.execute(&format!("INSERT INTO tickets ({v1_columns}) VALUES ('FP-OLD', {cols})"), []).unwrap();
        drop(v1);

        let mut store = Store::open(&path).unwrap();
        let version: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 6, 0, 0).unwrap();
        let near = Located::on_farmland(Detection::point(SourceKind::Satellite, 115.601, 37.6, at, 500.0));
        let ev = crate::events::EventConfig::default();
        let mut tx = store.begin_input("x".as_ref(), "sha-new", "satellite", 1, None).unwrap();
        let anchors = tx.candidates(&near.detection, &ev).unwrap();
        assert_eq!(
            anchors.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["FP-OLD"],
            "the migrated index finds it"
        );
        tx.join("FP-OLD", &near.detection).unwrap();
        tx.commit().unwrap();
        let old = store.ticket("FP-OLD").unwrap();
        assert_eq!((old.detections, old.cameras.len()), (2, 0), "a migrated ticket names no camera");
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
