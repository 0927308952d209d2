//! The ticket store: SQLite (WAL; a county's default) or PostgreSQL (`postgres://…`, shared by
//! many workers; [`db`] is the one SQL door to both) holding every input seen, every detection, every ticket with
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
//! outbox), `tokens` (feed access), `history` (the persistence mask's cells), `frames` (what each camera frame showed),
//! `queue` (the inputs workers share on a PostgreSQL store), `metrics` (read-only counts for `/metrics`).

mod db;
mod evidence;
mod files;
mod firepoints;
mod forecasts;
mod frames;
mod gc;
mod health;
mod history;
mod lifecycle;
mod metrics;
mod queue;
mod runs;
mod schema;
mod tickets;
mod tokens;
mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::domain::Detection;
use db::{vals, Conn};

pub use db::{set_application_name, DbError};
pub use evidence::{EvidenceItem, Footprint, MISSING};
pub use files::SeenFile;
pub use firepoints::{FirePoint, FirePointFilter};
pub use gc::{InputsPolicy, Pruned, RetentionConfig, DELETED};
pub use health::{Notice, TowerStatus, HEALTH_DAYS};
pub use lifecycle::{LogEntry, Resting};
pub use metrics::{Counted, Counts};
pub use queue::{Claim, Queued};
pub use runs::BatchRun;
pub use schema::SCHEMA_VERSION;
pub use tickets::TicketFilter;
pub use tokens::Identity;
pub use views::{StoredView, ViewRow};

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
    #[error("detection {idx}: {what} is {value}, not a number; the input is not recorded")]
    NotANumber { idx: usize, what: &'static str, value: f64 },
    #[error("the request's time ran out before the change could be written; nothing was changed")]
    TooLate,
    #[error("every id a new ticket may take is in use already, the longest being {0}")]
    IdsTaken(String),
    #[error(
        "ticket store {path} has schema version {found}, older than this firepoint's ({supported}); \
         reading never migrates it: run a command that writes (`firepoint run`) once with write access to upgrade it"
    )]
    OlderSchema { path: PathBuf, found: i64, supported: i64 },
}

impl StoreError {
    fn db(&self) -> Option<&DbError> {
        match self {
            StoreError::Sql { source: SqlError(e), .. } => Some(e),
            _ => None,
        }
    }

    /// The store's disk (or its size limit) is full.
    pub fn is_full(&self) -> bool {
        self.db().is_some_and(DbError::is_full)
    }

    /// The store was locked by another writer for longer than the busy timeout.
    pub fn is_busy(&self) -> bool {
        self.db().is_some_and(DbError::is_busy)
    }
}

/// A database error said once: the driver's message, without SQLite's `ffi` cause, which
/// repeats the same thing in other words ("file is not a database: … not a database file").
#[derive(Debug)]
pub struct SqlError(pub DbError);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqlError {}

pub struct Store {
    /// The SQLite file, or the PostgreSQL URL without its password (for messages).
    path: PathBuf,
    conn: Conn,
}

/// The error of a database call on the store at `path`.
fn sql_at(path: &Path) -> impl Fn(DbError) -> StoreError + Copy + '_ {
    move |source| StoreError::Sql { path: path.into(), source: SqlError(source) }
}

/// A time as the store writes it (RFC 3339, UTC, seconds).
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where a store lives, decided once from what `paths.store` says: a SQLite file, or a
/// PostgreSQL database (`postgres://…` or `postgresql://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// The location `paths.store` names.
    pub fn of(path: &Path) -> Location {
        let s = path.to_string_lossy();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.into_owned())
        } else {
            Location::Sqlite(path.into())
        }
    }
}

impl Location {
    fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// Whether `paths.store` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(path: &Path) -> bool {
    matches!(Location::of(path), Location::Postgres(_))
}

/// A PostgreSQL URL as messages show it: without its password.
fn redacted(url: &str) -> PathBuf {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or(user);
            format!("{}{user}{}", &url[..scheme + 3], &url[at..]).into()
        }
        _ => url.into(),
    }
}

impl Store {
    /// Opens the store at `path` for commands that only read or update tickets (`tickets`,
    /// `report`, `smoke masks`): a store that is not there is an error, not an empty new one
    /// (a mistyped path would otherwise read as "no fires").
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        match Location::of(path) {
            Location::Postgres(url) => {
                let store = Store::connect(&url)?;
                if schema::version(&store.conn).map_err(store.sql())? == 0 {
                    return Err(StoreError::Missing { path: store.path.clone() });
                }
            }
            Location::Sqlite(file) if !file.exists() => return Err(StoreError::Missing { path: file }),
            Location::Sqlite(_) => {}
        }
        Store::open(path)
    }

    /// Connects to a PostgreSQL store (nothing created or migrated yet).
    fn connect(url: &str) -> Result<Store, StoreError> {
        let shown = redacted(url);
        let conn = Conn::postgres(url).map_err(sql_at(&shown))?;
        Ok(Store { path: shown, conn })
    }

    /// Opens (creating it and its folder when new) the store at `path` and migrates its schema;
    /// a `postgres://` URL connects to that database and creates or migrates the schema there.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut store = if let Location::Postgres(url) = Location::of(path) {
            let store = Store::connect(&url)?;
            store.conn.batch("SET lock_timeout = '30s'").map_err(store.sql())?;
            store
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.into(), source })?;
            }
            let sql = |e: rusqlite::Error| sql_at(path)(e.into());
            let conn = rusqlite::Connection::open(path).map_err(sql)?;
            conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
            conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
            conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
            conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
            Store { path: path.into(), conn: Conn::Sqlite(conn) }
        };
        let found = schema::version(&store.conn).map_err(store.sql())?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: store.path, found, supported: SCHEMA_VERSION });
        }
        let sql = sql_at(&store.path);
        schema::migrate(&mut store.conn).map_err(sql)?;
        Ok(store)
    }

    /// Opens an existing store for reading only: no schema setup, no pragma writes, no lock
    /// waits behind a batch (WAL readers and PostgreSQL readers see the last commit). The feed's
    /// reads use these.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let store = if let Location::Postgres(url) = Location::of(path) {
            let store = Store::connect(&url)?;
            store.conn.batch("SET default_transaction_read_only = on").map_err(store.sql())?;
            store
        } else {
            use rusqlite::OpenFlags;
            if !path.exists() {
                return Err(StoreError::Missing { path: path.into() });
            }
            let sql = |e: rusqlite::Error| sql_at(path)(e.into());
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
            let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(sql)?;
            conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql)?;
            Store { path: path.into(), conn: Conn::Sqlite(conn) }
        };
        store.of_this_schema()
    }

    /// A store opened for reading, if its schema is this firepoint's: reading never migrates, so
    /// an older one is refused as a newer one is (and an empty PostgreSQL database is missing).
    fn of_this_schema(self) -> Result<Store, StoreError> {
        let found = schema::version(&self.conn).map_err(self.sql())?;
        if found == 0 && self.conn.is_postgres() {
            return Err(StoreError::Missing { path: self.path });
        }
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: self.path, found, supported: SCHEMA_VERSION });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::OlderSchema { path: self.path, found, supported: SCHEMA_VERSION });
        }
        Ok(self)
    }

    /// Opens an existing store for a command that only reads (`tickets list`, `report`, …) as
    /// [`Store::open_read_only`] does: nothing is created, migrated or written, so a store on
    /// read-only media, or a file and folder this user may not write, can still be read. A
    /// SQLite store whose folder cannot take SQLite's `-shm` file (and that has no `-wal` left
    /// by a writer) is read as it is on disk (SQLite's `immutable`): run readers as the store's
    /// owner while batches write it.
    pub fn open_for_reading(path: &Path) -> Result<Store, StoreError> {
        let first = match Store::open_read_only(path) {
            Err(e @ StoreError::Sql { .. }) if !Location::of(path).is_postgres() => e,
            other => return other,
        };
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        if wal.exists() {
            return Err(first);
        }
        Store::open_immutable(path).map_err(|e| {
            tracing::debug!("immutable open: {e}");
            first
        })
    }

    /// A SQLite store opened read-only as an unchanging file (`immutable=1`: no locks, no `-shm`).
    fn open_immutable(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let mut uri = String::from("file:");
        for c in path.display().to_string().chars() {
            match c {
                '%' | '?' | '#' => uri += &format!("%{:02X}", c as u32),
                c => uri.push(c),
            }
        }
        uri += "?immutable=1";
        let sql = |e: rusqlite::Error| sql_at(path)(e.into());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let store = Store {
            path: path.into(),
            conn: Conn::Sqlite(rusqlite::Connection::open_with_flags(uri, flags).map_err(sql)?),
        };
        store.of_this_schema()
    }

    /// The SQLite file, or the PostgreSQL URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store's connection is still up (a pool drops one that is not).
    pub fn is_connected(&self) -> bool {
        self.conn.is_open()
    }

    /// Whether this is a shared PostgreSQL store (workers) rather than an embedded SQLite one.
    pub fn is_shared(&self) -> bool {
        self.conn.is_postgres()
    }

    /// How long a write waits for another writer's lock (a batch) before it fails as busy.
    pub fn set_busy_timeout(&mut self, wait: std::time::Duration) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => c.busy_timeout(wait).map_err(|e| self.sql()(e.into())),
            Conn::Postgres(_) => {
                self.conn.batch(&format!("SET lock_timeout = '{}ms'", wait.as_millis().max(1))).map_err(self.sql())
            }
        }
    }

    fn sql(&self) -> impl Fn(DbError) -> StoreError + '_ {
        sql_at(&self.path)
    }

    /// The status (`done` or `quarantined`) of an input already seen, by checksum.
    pub fn input_status(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        let row = self.conn.row("SELECT status FROM inputs WHERE sha256 = ?1", vals![sha256]).map_err(self.sql())?;
        row.map(|r| r.text(0)).transpose().map_err(self.sql())
    }

    /// Records a bad input (it leaves the work queue with it).
    pub fn record_quarantine(&mut self, path: &Path, sha256: &str, kind: &str, error: &str) -> Result<(), StoreError> {
        let sql = sql_at(&self.path);
        self.conn
            .in_tx(false, |tx| {
                tx.exec(
                    "INSERT INTO inputs (sha256, path, kind, status, error, processed_at) VALUES (?1, ?2, ?3, 'quarantined', ?4, ?5)
                     ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, kind = excluded.kind, status = excluded.status,
                         error = excluded.error, processed_at = excluded.processed_at, detections = 0, note = NULL",
                    vals![sha256, path.display().to_string(), kind, error, ts(Utc::now())],
                )?;
                tx.exec("DELETE FROM queue WHERE sha256 = ?1", vals![sha256]).map(|_| ())
            })
            .map_err(sql)
    }

    /// Starts recording input `sha256` (at `path`, of `kind`, with `detections` detections):
    /// everything written through the returned transaction lands with [`InputTx::commit`] or
    /// not at all. The tickets it opens append the messages `announce` makes of them.
    pub fn begin_input<'s>(
        &'s mut self,
        path: &Path,
        sha256: &str,
        kind: &str,
        detections: usize,
        note: Option<&str>,
        announce: &'s dyn crate::lifecycle::Announce,
    ) -> Result<InputTx<'s>, StoreError> {
        let sql = sql_at(&self.path);
        self.conn.begin(false).map_err(sql)?;
        let tx = InputTx {
            conn: &self.conn,
            store: self.path.clone(),
            sha256: sha256.into(),
            extents: HashMap::new(),
            announce,
            open: true,
        };
        // an input quarantined before and delivered again (fixed) is recorded afresh; a queued
        // one leaves the work queue as it is recorded
        let clear = "DELETE FROM inputs WHERE sha256 = ?1 AND status = 'quarantined'";
        tx.conn.exec(clear, vals![sha256]).map_err(tx.sql())?;
        tx.conn.exec("DELETE FROM queue WHERE sha256 = ?1", vals![sha256]).map_err(tx.sql())?;
        tx.conn
            .exec(
                "INSERT INTO inputs (sha256, path, kind, status, detections, processed_at, note) VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?6)",
                vals![sha256, path.display().to_string(), kind, detections, ts(Utc::now()), note],
            )
            .map_err(tx.sql())?;
        Ok(tx)
    }

    /// Counts for the summary: (inputs done, inputs quarantined, detections, tickets).
    pub fn counts(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        let r = self
            .conn
            .one(
                "SELECT (SELECT count(*) FROM inputs WHERE status = 'done'), (SELECT count(*) FROM inputs WHERE status = 'quarantined'),
                        (SELECT count(*) FROM detections), (SELECT count(*) FROM tickets)",
                &[],
            )
            .map_err(self.sql())?;
        (|| Ok((r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?)))().map_err(self.sql())
    }
}

/// One input being recorded: one transaction (see [`Store::begin_input`]); rolled back when
/// dropped without [`InputTx::commit`].
pub struct InputTx<'s> {
    conn: &'s Conn,
    store: PathBuf,
    sha256: String,
    /// Spatial-index entries of the candidate tickets seen so far (ticket id → index row id and
    /// the box it holds: west, east, south, north).
    extents: HashMap<String, (i64, [f64; 4])>,
    /// What a ticket's opening says (the notification settings).
    announce: &'s dyn crate::lifecycle::Announce,
    open: bool,
}

impl Drop for InputTx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.conn.rollback();
        }
    }
}

impl InputTx<'_> {
    fn sql(&self) -> impl Fn(DbError) -> StoreError + '_ {
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
        // SQLite would store NaN as NULL and PostgreSQL as NaN: neither is a place or a confidence
        let numbers = [("lon", d.lon), ("lat", d.lat), ("radius_m", d.radius_m), ("confidence", d.confidence as f64)];
        if let Some((what, value)) = numbers.into_iter().find(|(_, v)| !v.is_finite()) {
            return Err(StoreError::NotANumber { idx, what, value });
        }
        let footprint =
            d.footprint.as_ref().map(|r| serde_json::json!({"type": "Polygon", "coordinates": [r]}).to_string());
        self.conn
            .exec(
                "INSERT INTO detections (input_sha256, idx, source, sensor, observed_at, lon, lat, radius_m, confidence, evidence, footprint, suppressed_by, ticket_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                vals![&self.sha256, idx, d.source.as_str(), &d.sensor, ts(d.observed_at), d.lon, d.lat, d.radius_m,
                        d.confidence as f64, d.evidence.to_string(), footprint, suppressed_by, ticket],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The input that already holds this very sighting (same source, sensor, time and place to
    /// 0.1 m), if any: overlapping FIRMS downloads deliver the same row twice.
    pub fn already_recorded(&mut self, d: &Detection) -> Result<Option<String>, StoreError> {
        let row = self
            .conn
            .row(
                "SELECT input_sha256 FROM detections WHERE observed_at = ?1 AND sensor = ?2 AND source = ?3
                   AND abs(lon - ?4) < 1e-6 AND abs(lat - ?5) < 1e-6 LIMIT 1",
                vals![ts(d.observed_at), &d.sensor, d.source.as_str(), d.lon, d.lat],
            )
            .map_err(self.sql())?;
        row.map(|r| r.text(0)).transpose().map_err(self.sql())
    }

    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        let done = self.conn.commit();
        if done.is_err() {
            self.conn.rollback();
        }
        done.map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;
    use crate::locate::Located;

    #[test]
    fn r20_a_ticket_without_pictures_says_why_and_its_first_evidence_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("e.sqlite")).unwrap();
        let now = Utc::now();
        store.put_evidence("FP-A", "sha1", &[], Some("no pictures could be made: cut.jpg: truncated"), now).unwrap();
        let list = store.evidence_list("FP-A").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].name.as_str(), list[0].note.as_deref()),
            (MISSING, Some("no pictures could be made: cut.jpg: truncated"))
        );
        let pics = [("frame.jpg", vec![1u8, 2, 3])];
        store.put_evidence("FP-B", "sha2", &pics, None, now).unwrap();
        store.put_evidence("FP-B", "sha3", &[("frame.jpg", vec![9u8])], None, now).unwrap();
        assert_eq!(store.evidence("FP-B", "frame.jpg").unwrap(), Some(("image/jpeg".into(), vec![1, 2, 3])));
        assert_eq!(store.prune_evidence(now + chrono::Duration::seconds(1)).unwrap(), 2);
        assert!(store.evidence_list("FP-B").unwrap().is_empty());
    }

    #[test]
    fn r20_a_tower_has_one_open_notice_of_a_kind_whoever_opens_it() {
        use crate::health::Trouble;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("n.sqlite")).unwrap();
        let now = Utc::now();
        store.open_notice("CAM02", Trouble::Offline, now, now).unwrap();
        store.open_notice("CAM02", Trouble::Offline, now, now).unwrap(); // a second worker
        store.open_notice("CAM02", Trouble::Frozen, now, now).unwrap();
        let open = store.open_notices().unwrap();
        assert_eq!(open.iter().map(|n| n.kind).collect::<Vec<_>>(), [Trouble::Offline, Trouble::Frozen]);
        // another trouble is no recovery: closed without telling; a recovery is told
        store.close_notice(open[0].id, now, false).unwrap();
        store.close_notice(open[1].id, now, true).unwrap();
        let told: Vec<Option<String>> = store.notices_to_tell().unwrap().into_iter().map(|n| n.told_close).collect();
        assert_eq!(told, [Some("skipped".to_string()), Some("pending".to_string())]);
        store.open_notice("CAM02", Trouble::Offline, now, now).unwrap(); // once closed, it may open again
        assert_eq!(store.open_notices().unwrap().len(), 1);
    }

    #[test]
    fn r18_a_store_location_is_decided_once_from_what_paths_store_says() {
        let pg = |s: &str| matches!(Location::of(s.as_ref()), Location::Postgres(u) if u == s);
        assert!(pg("postgres://fp@127.0.0.1:5432/fp") && pg("postgresql://fp@db/fp"));
        for file in ["work/fp.sqlite", "/var/lib/firepoint/postgres:/fp.sqlite", "postgres.sqlite"] {
            assert_eq!(Location::of(file.as_ref()), Location::Sqlite(file.into()), "{file}");
        }
    }
    use chrono::TimeZone;
    use rusqlite::Connection;
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
        let version: i64 = store.conn.sqlite().unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 6, 0, 0).unwrap();
        let near = Located::on_farmland(Detection::point(SourceKind::Satellite, 115.601, 37.6, at, 500.0));
        let ev = crate::events::EventConfig::default();
        let quiet = crate::notify::NotifyConfig::default();
        let mut tx = store.begin_input("x".as_ref(), "sha-new", "satellite", 1, None, &quiet).unwrap();
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
        let n: i64 =
            store.conn.sqlite().unwrap().query_row("SELECT count(*) FROM ticket_extent", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn r6_a_store_from_a_newer_firepoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newer.sqlite");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let err = format!("{:#}", anyhow::Error::from(Store::open(&path).err().unwrap()));
        assert!(err.contains("newer than this firepoint"), "{err}");
    }
}
