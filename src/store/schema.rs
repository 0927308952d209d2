//! The store's schema and its migrations. One description of the current tables ([`TABLES`])
//! makes a new store of either database, its CHECK lists written from the enums; an older store
//! is brought to the same tables by the migrations past its version (SQLite: `user_version`;
//! PostgreSQL: `firepoint_schema`, whose stores began at version 6, so later migrations are
//! written for both); a newer one is refused. The migrations are history: never edited, and a
//! test checks that a store migrated from version 1 has the tables of a new one.

use rusqlite::Connection;

use super::db::{Conn, DbError};

/// Version 1 (history, as every `MIGRATE_*` below: a new store is made from [`TABLES`]).
// kept as written: the tests make a version 1 store of it (a new store is made from TABLES)
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const SCHEMA: &str = r#"
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
    SELECT lon, lon, lat, lat, CAST(strftime('%s', first_seen) AS REAL), CAST(strftime('%s', last_seen) AS REAL), id FROM tickets
    WHERE status != 'closed' AND id NOT IN (SELECT ticket_id FROM ticket_extent);
"#;

/// Version 3: what every camera frame showed (flagged or not), for confirming sightings over
/// frames of one view and across towers.
const MIGRATE_3: &str = r#"
CREATE TABLE IF NOT EXISTS frames (
    input_sha256 TEXT PRIMARY KEY REFERENCES inputs (sha256),
    camera_id TEXT NOT NULL, camera_lon REAL NOT NULL, camera_lat REAL NOT NULL,
    captured_at TEXT NOT NULL,
    pan REAL NOT NULL, tilt REAL NOT NULL, hfov REAL NOT NULL,
    score REAL NOT NULL, flagged INTEGER NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    azimuth REAL, sigma REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_by_time ON frames (captured_at, camera_id);
CREATE INDEX IF NOT EXISTS detections_by_time ON detections (observed_at, sensor);
ALTER TABLE inputs ADD COLUMN note TEXT;
"#;

/// Version 4: the cameras that saw a ticket's fire (its own sightings and the towers that
/// confirmed them), so that the team is told which views to check; the tickets of the same fire
/// in neighbouring grid cells.
const MIGRATE_4: &str = r#"
ALTER TABLE tickets ADD COLUMN cameras TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN related TEXT NOT NULL DEFAULT '[]';
"#;

/// Version 5: the township team's life cycle. States open → acknowledged → on_site → resolved /
/// false_alarm / duplicate (the table is rebuilt for the new CHECK: acked → acknowledged; closed →
/// false_alarm when its note says 查否 or 误报, else resolved), who and when of every step; step deadlines and escalation; the append-only audit
/// log (`ticket_log`, triggers refuse UPDATE and DELETE), the notification outbox written in the
/// same transaction as the change it announces, and the feed's access tokens (hashed).
const MIGRATE_5: &str = r#"
CREATE TABLE tickets_v5 (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'on_site', 'resolved', 'false_alarm', 'duplicate')),
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
    acked_by TEXT, acked_at TEXT, closed_at TEXT, close_note TEXT,
    cameras TEXT NOT NULL DEFAULT '[]',
    related TEXT NOT NULL DEFAULT '[]',
    ack_deadline TEXT,
    on_site_by TEXT, on_site_at TEXT, closed_by TEXT,
    false_alarm_cause TEXT CHECK (false_alarm_cause IN ('industrial_heat', 'cooking_smoke', 'cloud_fog', 'dust', 'other')),
    duplicate_of TEXT, follows TEXT,
    escalation INTEGER NOT NULL DEFAULT 0,
    escalated TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO tickets_v5 (id, status, kind, priority, reasons, lon, lat, radius_m, township_code, township, team,
    team_phone, village_code, village, grid_id, grid_member, grid_phone, landuse, sources, detections, first_seen,
    last_seen, deadline, created_at, updated_at, acked_by, acked_at, closed_at, close_note, cameras, related, closed_by)
SELECT id, CASE
        WHEN status = 'acked' THEN 'acknowledged'
        WHEN status = 'closed' AND (close_note LIKE '%查否%' OR close_note LIKE '%误报%') THEN 'false_alarm'
        WHEN status = 'closed' THEN 'resolved'
        ELSE status END, kind, priority,
    reasons, lon, lat, radius_m, township_code, township, team, team_phone, village_code, village, grid_id,
    grid_member, grid_phone, landuse, sources, detections, first_seen, last_seen, deadline, created_at, updated_at,
    acked_by, acked_at, closed_at, close_note, cameras, related, CASE WHEN closed_at IS NULL THEN NULL ELSE '' END
FROM tickets;
UPDATE tickets_v5 SET false_alarm_cause = 'other' WHERE status = 'false_alarm';
-- steps already past their deadline before the upgrade were the old firepoint's to chase: they
-- are marked escalated, so the first sender after the upgrade does not text a backlog
-- (version 4 tickets have no acknowledge deadline, so their one step is `verify`; see lifecycle)
UPDATE tickets_v5 SET escalated = '["verify"]'
WHERE status IN ('open', 'acknowledged') AND deadline < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
DROP TABLE tickets;
ALTER TABLE tickets_v5 RENAME TO tickets;
CREATE INDEX tickets_open ON tickets (status, last_seen);
CREATE INDEX tickets_township ON tickets (township_code, status);
-- a counter bumped by every change to a ticket, so that readers (the feed) can tell in one
-- row read whether anything changed since they last built a list
CREATE TABLE ticket_version (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL);
INSERT INTO ticket_version VALUES (1, 0);
CREATE TRIGGER tickets_changed_i AFTER INSERT ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TRIGGER tickets_changed_u AFTER UPDATE ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TRIGGER tickets_changed_d AFTER DELETE ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TABLE ticket_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_log_by_ticket ON ticket_log (ticket_id, seq);
CREATE TRIGGER ticket_log_no_update BEFORE UPDATE ON ticket_log BEGIN SELECT RAISE(ABORT, 'ticket_log is append-only'); END;
CREATE TRIGGER ticket_log_no_delete BEFORE DELETE ON ticket_log BEGIN SELECT RAISE(ABORT, 'ticket_log is append-only'); END;
INSERT INTO ticket_log (ticket_id, action, from_status, to_status, by, at)
    SELECT id, 'open', NULL, 'open', 'firepoint', created_at FROM tickets ORDER BY created_at, id;
INSERT INTO ticket_log (ticket_id, action, from_status, to_status, by, at)
    SELECT id, 'ack', 'open', 'acknowledged', coalesce(acked_by, ''), acked_at FROM tickets WHERE acked_at IS NOT NULL ORDER BY acked_at, id;
INSERT INTO ticket_log (ticket_id, action, from_status, to_status, by, at, detail)
    SELECT id, CASE status WHEN 'false_alarm' THEN 'false_alarm' ELSE 'resolve' END,
           CASE WHEN acked_at IS NULL THEN 'open' ELSE 'acknowledged' END, status, '', closed_at,
           json_object('note', close_note, 'migrated', 'closed in schema version 4')
    FROM tickets WHERE closed_at IS NOT NULL ORDER BY closed_at, id;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    log_seq INTEGER NOT NULL REFERENCES ticket_log (seq),
    ticket_id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('webhook', 'sms')),
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    township_code TEXT,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"#;

/// Version 6: the work queue that workers sharing a PostgreSQL store claim inputs from (see
/// `queue`); kept in SQLite stores too, so both hold one schema.
const MIGRATE_6: &str = r#"
CREATE TABLE IF NOT EXISTS queue (
    sha256 TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'claimed', 'analysed')),
    worker TEXT,
    claim_until TEXT,
    result TEXT,
    queued_at TEXT NOT NULL
);
"#;

/// Version 7 (issue 11): why a ticket has its kind and the risk windows it was first seen in;
/// the rain forecasts the county drops into the inbox (`weather/`). SQLite's REAL is PostgreSQL's
/// DOUBLE PRECISION: `{REAL}` is replaced for each.
const MIGRATE_7: &str = r#"
ALTER TABLE tickets ADD COLUMN kind_why TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tickets ADD COLUMN windows TEXT NOT NULL DEFAULT '[]';
CREATE TABLE IF NOT EXISTS forecasts (
    input_sha TEXT NOT NULL,
    idx INTEGER NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    probability {REAL} NOT NULL,
    amount_mm {REAL} NOT NULL,
    lon {REAL}, lat {REAL}, radius_m {REAL},
    township TEXT,
    PRIMARY KEY (input_sha, idx)
);
CREATE INDEX IF NOT EXISTS forecasts_from ON forecasts (valid_from);
"#;

fn migrate_7(real: &str) -> String {
    MIGRATE_7.replace("{REAL}", real)
}

/// Version 8 (issue 19): each camera view's memory (one row per preset, rewritten per frame).
/// `{ID}` is SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT` or PostgreSQL's identity column.
const MIGRATE_8: &str = r#"
CREATE TABLE IF NOT EXISTS views (
    id {ID},
    camera_id TEXT NOT NULL,
    pan {REAL} NOT NULL, tilt {REAL} NOT NULL, hfov {REAL} NOT NULL,
    frames BIGINT NOT NULL,
    last_at TEXT,
    memory TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS views_by_camera ON views (camera_id);
"#;

fn migrate_8(real: &str, id: &str) -> String {
    MIGRATE_8.replace("{REAL}", real).replace("{ID}", id)
}

/// Version 9 (issue 20): the pictures and notes that come with a ticket (`evidence`: a frame with
/// its flagged region drawn, the region's crop, the view's earlier frame), pruned after
/// `retention.evidence_days`; each frame's picture hash and the towers' health notices
/// (`tower_notices`: offline or frozen, since when, closed on recovery, told to the county
/// office). `{BLOB}` is SQLite's BLOB or PostgreSQL's BYTEA.
const MIGRATE_9: &str = r#"
CREATE TABLE IF NOT EXISTS evidence (
    ticket_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body {BLOB} NOT NULL,
    input_sha256 TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, name)
);
CREATE INDEX IF NOT EXISTS evidence_by_time ON evidence (created_at);
ALTER TABLE frames ADD COLUMN picture TEXT;
ALTER TABLE frames ADD COLUMN view_off TEXT;
CREATE TABLE IF NOT EXISTS tower_notices (
    id {ID},
    camera_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('offline', 'frozen', 'view_changed')),
    since TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    told TEXT NOT NULL DEFAULT 'pending' CHECK (told IN ('pending', 'sent', 'failed', 'skipped')),
    told_close TEXT CHECK (told_close IN ('pending', 'sent', 'failed', 'skipped'))
);
CREATE INDEX IF NOT EXISTS tower_notices_by_camera ON tower_notices (camera_id, closed_at);
CREATE UNIQUE INDEX IF NOT EXISTS tower_notices_open ON tower_notices (camera_id, kind) WHERE closed_at IS NULL;
"#;

fn migrate_9(blob: &str, id: &str) -> String {
    MIGRATE_9.replace("{BLOB}", blob).replace("{ID}", id)
}

/// Version 10 (issue 21): what a year of running needs. Each input's size and modification time
/// when it was hashed (a batch skips a file it has seen unchanged without reading it again) and
/// where it was archived (`retention.inputs`; the evidence's earlier frame is read from there);
/// indexes for the inbox check and for pruning by age; and `batch_runs`, one row per batch or
/// worker run (how long, what it found, how it ended) for `/metrics` and the health endpoint.
const MIGRATE_10: &str = r#"
ALTER TABLE inputs ADD COLUMN size {INT};
ALTER TABLE inputs ADD COLUMN mtime_ns {INT};
ALTER TABLE inputs ADD COLUMN archived_to TEXT;
CREATE INDEX IF NOT EXISTS inputs_by_path ON inputs (path);
CREATE INDEX IF NOT EXISTS inputs_by_time ON inputs (processed_at);
CREATE TABLE IF NOT EXISTS batch_runs (
    id {ID},
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'partial', 'failed')),
    inputs {INT} NOT NULL,
    processed {INT} NOT NULL,
    skipped {INT} NOT NULL,
    failed {INT} NOT NULL,
    retried {INT} NOT NULL,
    opened {INT} NOT NULL,
    by_kind TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS batch_runs_by_time ON batch_runs (finished_at);
"#;

fn migrate_10(int: &str, id: &str) -> String {
    MIGRATE_10.replace("{INT}", int).replace("{ID}", id)
}

/// The store's tables as of [`SCHEMA_VERSION`], described once for both databases: a new store
/// of either kind is made from this (an older one reaches the same tables through the migrations
/// above, which are history and never edited; a test compares the two). Placeholders, filled by
/// [`tables`] for each database: `{INT}` (SQLite's INTEGER, PostgreSQL's BIGINT), `{REAL}`
/// (REAL, DOUBLE PRECISION), `{ID}` (an AUTOINCREMENT key, an identity column), `{BLOB}` (BLOB,
/// BYTEA), and the CHECK lists
/// `{STATUS}`, `{CAUSE}`, `{CHANNEL}`, `{TOWER}`, written from the enums the code reads the columns into.
const TABLES: &str = r#"
CREATE TABLE inputs (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'quarantined')),
    error TEXT,
    detections {INT} NOT NULL DEFAULT 0,
    processed_at TEXT NOT NULL,
    note TEXT,
    -- the file as it was hashed (a batch skips it unread while it is unchanged) and where it went
    size {INT},
    mtime_ns {INT},
    archived_to TEXT
);
CREATE INDEX inputs_by_path ON inputs (path);
CREATE INDEX inputs_by_time ON inputs (processed_at);
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ({STATUS})),
    kind TEXT NOT NULL,
    priority TEXT NOT NULL,
    reasons TEXT NOT NULL,
    lon {REAL} NOT NULL, lat {REAL} NOT NULL, radius_m {REAL} NOT NULL,
    township_code TEXT NOT NULL, township TEXT NOT NULL, team TEXT NOT NULL, team_phone TEXT NOT NULL,
    village_code TEXT NOT NULL, village TEXT NOT NULL, grid_id TEXT NOT NULL,
    grid_member TEXT NOT NULL, grid_phone TEXT NOT NULL, landuse TEXT NOT NULL,
    sources TEXT NOT NULL,
    detections {INT} NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, deadline TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    acked_by TEXT, acked_at TEXT, closed_at TEXT, close_note TEXT,
    cameras TEXT NOT NULL DEFAULT '[]',
    related TEXT NOT NULL DEFAULT '[]',
    ack_deadline TEXT,
    on_site_by TEXT, on_site_at TEXT, closed_by TEXT,
    false_alarm_cause TEXT CHECK (false_alarm_cause IN ({CAUSE})),
    duplicate_of TEXT, follows TEXT,
    escalation {INT} NOT NULL DEFAULT 0,
    escalated TEXT NOT NULL DEFAULT '[]',
    kind_why TEXT NOT NULL DEFAULT '{}',
    windows TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX tickets_open ON tickets (status, last_seen);
CREATE INDEX tickets_township ON tickets (township_code, status);
CREATE TABLE detections (
    input_sha256 TEXT NOT NULL REFERENCES inputs (sha256),
    idx {INT} NOT NULL,
    source TEXT NOT NULL, sensor TEXT NOT NULL, observed_at TEXT NOT NULL,
    lon {REAL} NOT NULL, lat {REAL} NOT NULL, radius_m {REAL} NOT NULL, confidence {REAL} NOT NULL,
    evidence TEXT NOT NULL,
    footprint TEXT,
    suppressed_by TEXT,
    ticket_id TEXT REFERENCES tickets (id),
    PRIMARY KEY (input_sha256, idx)
);
CREATE INDEX detections_by_time ON detections (observed_at, sensor);
CREATE TABLE heat_cells (
    cx {INT} NOT NULL,
    cy {INT} NOT NULL,
    day TEXT NOT NULL,
    night {INT} NOT NULL,
    PRIMARY KEY (cx, cy, day)
);
CREATE TABLE frames (
    input_sha256 TEXT PRIMARY KEY REFERENCES inputs (sha256),
    camera_id TEXT NOT NULL, camera_lon {REAL} NOT NULL, camera_lat {REAL} NOT NULL,
    captured_at TEXT NOT NULL,
    pan {REAL} NOT NULL, tilt {REAL} NOT NULL, hfov {REAL} NOT NULL,
    score {REAL} NOT NULL, flagged {INT} NOT NULL,
    x0 {REAL} NOT NULL, y0 {REAL} NOT NULL, x1 {REAL} NOT NULL, y1 {REAL} NOT NULL,
    azimuth {REAL}, sigma {REAL} NOT NULL,
    picture TEXT,
    view_off TEXT
);
CREATE INDEX frames_by_time ON frames (captured_at, camera_id);
-- a counter bumped by every change to a ticket (triggers below), so that readers (the feed) can
-- tell in one row read whether anything changed since they last built a list
CREATE TABLE ticket_version (id INTEGER PRIMARY KEY CHECK (id = 1), v {INT} NOT NULL);
INSERT INTO ticket_version VALUES (1, 0);
-- append-only (triggers below)
CREATE TABLE ticket_log (
    seq {ID},
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_log_by_ticket ON ticket_log (ticket_id, seq);
CREATE TABLE outbox (
    id {ID},
    key TEXT NOT NULL UNIQUE,
    log_seq {INT} NOT NULL REFERENCES ticket_log (seq),
    ticket_id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ({CHANNEL})),
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts {INT} NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE TABLE tokens (
    id {ID},
    name TEXT NOT NULL,
    township_code TEXT,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE queue (
    sha256 TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'claimed', 'analysed')),
    worker TEXT,
    claim_until TEXT,
    result TEXT,
    queued_at TEXT NOT NULL
);
CREATE TABLE forecasts (
    input_sha TEXT NOT NULL,
    idx {INT} NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    probability {REAL} NOT NULL,
    amount_mm {REAL} NOT NULL,
    lon {REAL}, lat {REAL}, radius_m {REAL},
    township TEXT,
    PRIMARY KEY (input_sha, idx)
);
CREATE INDEX forecasts_from ON forecasts (valid_from);
CREATE TABLE views (
    id {ID},
    camera_id TEXT NOT NULL,
    pan {REAL} NOT NULL, tilt {REAL} NOT NULL, hfov {REAL} NOT NULL,
    frames BIGINT NOT NULL,
    last_at TEXT,
    memory TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX views_by_camera ON views (camera_id);
CREATE TABLE evidence (
    ticket_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body {BLOB} NOT NULL,
    input_sha256 TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, name)
);
CREATE INDEX evidence_by_time ON evidence (created_at);
CREATE TABLE tower_notices (
    id {ID},
    camera_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ({TOWER})),
    since TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    told TEXT NOT NULL DEFAULT 'pending' CHECK (told IN ('pending', 'sent', 'failed', 'skipped')),
    told_close TEXT CHECK (told_close IN ('pending', 'sent', 'failed', 'skipped'))
);
CREATE INDEX tower_notices_by_camera ON tower_notices (camera_id, closed_at);
-- one open notice of a kind per tower, whichever worker finds it first
CREATE UNIQUE INDEX tower_notices_open ON tower_notices (camera_id, kind) WHERE closed_at IS NULL;
CREATE TABLE batch_runs (
    id {ID},
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'partial', 'failed')),
    inputs {INT} NOT NULL,
    processed {INT} NOT NULL,
    skipped {INT} NOT NULL,
    failed {INT} NOT NULL,
    retried {INT} NOT NULL,
    opened {INT} NOT NULL,
    by_kind TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX batch_runs_by_time ON batch_runs (finished_at);
"#;

/// What only SQLite has: the open tickets' space-time index as an R*Tree (`ticket_extent`: a
/// ticket's point and first..last sighting, epoch seconds) and the triggers in SQLite's form.
const SQLITE_ONLY: &str = r#"
CREATE VIRTUAL TABLE ticket_extent USING rtree(
    id, min_lon, max_lon, min_lat, max_lat, min_t, max_t, +ticket_id TEXT
);
CREATE TRIGGER tickets_changed_i AFTER INSERT ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TRIGGER tickets_changed_u AFTER UPDATE ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TRIGGER tickets_changed_d AFTER DELETE ON tickets BEGIN UPDATE ticket_version SET v = v + 1; END;
CREATE TRIGGER ticket_log_no_update BEFORE UPDATE ON ticket_log BEGIN SELECT RAISE(ABORT, 'ticket_log is append-only'); END;
CREATE TRIGGER ticket_log_no_delete BEFORE DELETE ON ticket_log BEGIN SELECT RAISE(ABORT, 'ticket_log is append-only'); END;
"#;

/// What only PostgreSQL has: the R*Tree as a plain table found by b-tree ranges (values rounded
/// outward to 32-bit floats as the R*Tree does: tickets::down32/up32), an index of detections by
/// ticket, and the triggers in PL/pgSQL.
const POSTGRES_ONLY: &str = r#"
CREATE TABLE ticket_extent (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    min_lon DOUBLE PRECISION NOT NULL, max_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL, max_lat DOUBLE PRECISION NOT NULL,
    min_t DOUBLE PRECISION NOT NULL, max_t DOUBLE PRECISION NOT NULL,
    ticket_id TEXT NOT NULL
);
CREATE INDEX ticket_extent_time ON ticket_extent (max_t, min_t);
CREATE INDEX ticket_extent_ticket ON ticket_extent (ticket_id);
CREATE INDEX detections_by_ticket ON detections (ticket_id);
CREATE FUNCTION firepoint_tickets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE ticket_version SET v = v + 1; RETURN NULL; END $$;
CREATE TRIGGER tickets_changed AFTER INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION firepoint_tickets_changed();
CREATE FUNCTION firepoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'ticket_log is append-only'; END $$;
CREATE TRIGGER ticket_log_append_only BEFORE UPDATE OR DELETE ON ticket_log
    FOR EACH ROW EXECUTE FUNCTION firepoint_append_only();
"#;

/// Which database a schema is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// `'a', 'b', …`: a CHECK list of the names an enum is written as.
fn check_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// The store's tables at [`SCHEMA_VERSION`] in `dialect` (see [`TABLES`]).
pub(super) fn tables(dialect: Dialect) -> String {
    let (int, real, id, blob, only) = match dialect {
        Dialect::Sqlite => ("INTEGER", "REAL", "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", SQLITE_ONLY),
        Dialect::Postgres => {
            ("BIGINT", "DOUBLE PRECISION", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA", POSTGRES_ONLY)
        }
    };
    let status = check_list(crate::domain::Status::NAMES.iter().copied());
    let cause = check_list(crate::domain::FalseAlarmCause::NAMES.iter().copied());
    let channel = check_list(crate::notify::Channel::NAMES.iter().copied());
    let tower = check_list(crate::health::Trouble::NAMES.iter().copied());
    TABLES
        .replace("{INT}", int)
        .replace("{REAL}", real)
        .replace("{ID}", id)
        .replace("{BLOB}", blob)
        .replace("{STATUS}", &status)
        .replace("{CAUSE}", &cause)
        .replace("{CHANNEL}", &channel)
        .replace("{TOWER}", &tower)
        + only
}

/// The store's schema version (`PRAGMA user_version`, or PostgreSQL's `firepoint_schema`; 0
/// for a new store).
pub(super) fn version(conn: &Conn) -> Result<i64, DbError> {
    match conn {
        Conn::Sqlite(c) => Ok(sqlite_version(c)?),
        Conn::Postgres(_) => {
            let exists = "SELECT count(*) FROM information_schema.tables
                          WHERE table_name = 'firepoint_schema' AND table_schema = current_schema()";
            if conn.one(exists, &[])?.int(0)? == 0 {
                return Ok(0);
            }
            conn.row("SELECT version FROM firepoint_schema", &[])?.map_or(Ok(0), |r| r.int(0))
        }
    }
}

fn sqlite_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// The schema version this build writes; an older store is migrated on open, a newer refused.
pub const SCHEMA_VERSION: i64 = 10;

/// Brings the store to [`SCHEMA_VERSION`], in one transaction.
pub(super) fn migrate(conn: &mut Conn) -> Result<(), DbError> {
    match conn {
        Conn::Sqlite(c) => Ok(migrate_sqlite(c)?),
        Conn::Postgres(_) => conn.in_tx(true, |tx| {
            // two workers starting on a new database create it one after the other
            tx.batch("SELECT pg_advisory_xact_lock(7311001)")?;
            let found = version(tx)?;
            if found >= SCHEMA_VERSION {
                return Ok(());
            }
            if found == 0 {
                tx.batch(&tables(Dialect::Postgres))?;
                tx.batch("CREATE TABLE firepoint_schema (version BIGINT NOT NULL)")?;
                tx.batch(&format!("INSERT INTO firepoint_schema VALUES ({SCHEMA_VERSION})"))?;
                return Ok(());
            }
            // PostgreSQL stores began at version 6
            if found < 7 {
                tx.batch(&migrate_7("DOUBLE PRECISION"))?;
            }
            if found < 8 {
                tx.batch(&migrate_8("DOUBLE PRECISION", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))?;
            }
            if found < 9 {
                tx.batch(&migrate_9("BYTEA", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))?;
            }
            if found < 10 {
                tx.batch(&migrate_10("BIGINT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))?;
            }
            tx.batch(&format!("UPDATE firepoint_schema SET version = {SCHEMA_VERSION}"))?;
            Ok(())
        }),
    }
}

/// Creates the tables (a new store) and runs every migration past the store's `user_version`.
pub(super) fn migrate_sqlite(conn: &mut Connection) -> rusqlite::Result<()> {
    if sqlite_version(conn)? >= SCHEMA_VERSION {
        return Ok(());
    }
    // version 5 rebuilds the tickets table that detections refer to: keys are checked after
    // the copy (foreign_key_check), not while the old table is dropped
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let done = migrate_in_one_transaction(conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    done
}

fn migrate_in_one_transaction(conn: &mut Connection) -> rusqlite::Result<()> {
    // immediate: two processes opening a new store at once migrate it one after the other
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version = sqlite_version(&tx)?;
    if version == 0 {
        tx.execute_batch(&tables(Dialect::Sqlite))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        return tx.commit();
    }
    // an older store: the migrations past its version, as they were written (history)
    if version < 2 {
        tx.execute_batch(MIGRATE_2)?;
    }
    if version < 3 {
        tx.execute_batch(MIGRATE_3)?;
    }
    if version < 4 {
        tx.execute_batch(MIGRATE_4)?;
    }
    if version < 5 {
        tx.execute_batch(MIGRATE_5)?;
        let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
        if broken > 0 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                Some(format!("{broken} rows refer to missing rows after the version 5 migration")),
            ));
        }
    }
    if version < 6 {
        tx.execute_batch(MIGRATE_6)?;
    }
    if version < 7 {
        tx.execute_batch(&migrate_7("REAL"))?;
    }
    if version < 8 {
        tx.execute_batch(&migrate_8("REAL", "INTEGER PRIMARY KEY AUTOINCREMENT"))?;
    }
    if version < 9 {
        tx.execute_batch(&migrate_9("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"))?;
    }
    if version < 10 {
        tx.execute_batch(&migrate_10("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"))?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Each CHECK (…) of a CREATE statement, whitespace collapsed.
    fn checks(sql: &str) -> Vec<String> {
        let mut out = vec![];
        let mut rest = sql;
        while let Some(i) = rest.find("CHECK (") {
            let body = &rest[i + 7..];
            let mut depth = 1;
            let end = body
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(body.len(), |(j, _)| j);
            out.push(body[..end].split_whitespace().collect::<Vec<_>>().join(" "));
            rest = &body[end..];
        }
        out.sort();
        out
    }

    /// A SQLite store's schema as something to compare: per table its columns (name, type, not
    /// null, default, key) and CHECKs, its indexes with their columns, and the triggers.
    fn shape(conn: &Connection) -> BTreeMap<String, Vec<String>> {
        let rows = |sql: &str| -> Vec<(String, String, String)> {
            let mut st = conn.prepare(sql).unwrap();
            let r =
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default())));
            r.unwrap().map(Result::unwrap).collect()
        };
        let mut out = BTreeMap::new();
        let objects = "SELECT type, name, sql FROM sqlite_master
                       WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'ticket_extent_%' ORDER BY name";
        for (kind, name, sql) in rows(objects) {
            let what = match kind.as_str() {
                "table" => {
                    let cols = rows(&format!(
                        "SELECT name, type || ' ' || \"notnull\" || ' ' || pk, dflt_value FROM pragma_table_info('{name}')"
                    ));
                    let mut v: Vec<String> = cols.into_iter().map(|(n, t, d)| format!("{n} {t} {d}")).collect();
                    v.extend(checks(&sql));
                    v
                }
                "index" => rows(&format!("SELECT name, '', '' FROM pragma_index_info('{name}')"))
                    .into_iter()
                    .map(|r| r.0)
                    .collect(),
                _ => vec![],
            };
            out.insert(format!("{kind} {name}"), what);
        }
        out
    }

    #[test]
    fn r18_a_store_migrated_from_version_1_has_the_tables_of_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut new = Connection::open(dir.path().join("new.sqlite")).unwrap();
        migrate_sqlite(&mut new).unwrap();
        let mut old = Connection::open(dir.path().join("v1.sqlite")).unwrap();
        old.execute_batch(&format!("{SCHEMA}PRAGMA user_version = 1;")).unwrap();
        migrate_sqlite(&mut old).unwrap();
        let (new, old) = (shape(&new), shape(&old));
        assert!(new.len() > 20, "{new:?}");
        for (k, v) in &new {
            assert_eq!(old.get(k), Some(v), "{k} differs between a new store and a migrated one");
        }
        assert_eq!(new.keys().collect::<Vec<_>>(), old.keys().collect::<Vec<_>>());
    }

    #[test]
    fn r18_the_check_lists_are_the_enums() {
        let sql = tables(Dialect::Postgres);
        let all = checks(&sql);
        let status = crate::domain::Status::NAMES.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        assert!(all.contains(&format!("status IN ({status})")), "{all:?}");
        assert!(all.iter().any(|c| c.contains("'false_alarm', 'duplicate'")), "{all:?}");
        assert!(all.contains(&"channel IN ('webhook', 'sms')".to_string()), "{all:?}");
        for p in ["{INT}", "{REAL}", "{ID}", "{BLOB}", "{STATUS}", "{CAUSE}", "{CHANNEL}", "{TOWER}"] {
            assert!(!sql.contains(p) && !tables(Dialect::Sqlite).contains(p), "{p} left unfilled");
        }
    }

    #[test]
    fn r9_a_version_4_store_keeps_its_tickets_states_and_steps_as_the_new_life_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v4.sqlite")).unwrap();
        conn.execute_batch(&format!("{SCHEMA}{MIGRATE_2}{MIGRATE_3}{MIGRATE_4}PRAGMA user_version = 4;")).unwrap();
        let row = |id: &str, status: &str, acked: &str, closed: &str| {
            format!(
                "INSERT INTO tickets (id, status, kind, priority, reasons, lon, lat, radius_m, township_code, township, team,
                    team_phone, village_code, village, grid_id, grid_member, grid_phone, landuse, sources, detections,
                    first_seen, last_seen, deadline, created_at, updated_at, acked_by, acked_at, closed_at, close_note)
                 VALUES ('{id}', '{status}', 'straw', 'normal', '[]', 115.6, 37.6, 500, 'T', 'T', '', '', '', '', '', '',
                    '', 'farmland', '[\"satellite\"]', 1, '2026-06-10T05:30:00Z', '2026-06-10T05:30:00Z',
                    '2026-06-10T15:59:59Z', '2026-06-10T05:31:00Z', '2026-06-10T05:31:00Z', {acked}, {closed}, NULL);"
            )
        };
        let acked = "'王五', '2026-06-10T06:00:00Z'";
        let closed = "'2026-06-10T07:00:00Z'";
        conn.execute_batch(&row("A", "open", "NULL, NULL", "NULL")).unwrap();
        conn.execute_batch(&row("B", "acked", acked, "NULL")).unwrap();
        conn.execute_batch(&row("C", "closed", acked, closed)).unwrap();
        conn.execute_batch(&row("D", "closed", "NULL, NULL", closed).replace("NULL);", "'查否：炊烟');")).unwrap();
        conn.execute_batch(
            "INSERT INTO inputs (sha256, path, kind, status, processed_at) VALUES ('s', 'p', 'satellite', 'done', 'x');
             INSERT INTO detections (input_sha256, idx, source, sensor, observed_at, lon, lat, radius_m, confidence, evidence, ticket_id)
             VALUES ('s', 0, 'satellite', 'x', 'x', 0, 0, 0, 1, '{}', 'C');",
        )
        .unwrap();
        migrate_sqlite(&mut conn).unwrap();
        let states: Vec<(String, String)> = conn
            .prepare("SELECT id, status FROM tickets ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want = [("A", "open"), ("B", "acknowledged"), ("C", "resolved"), ("D", "false_alarm")]
            .map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(states, want);
        let steps: Vec<String> = conn
            .prepare("SELECT ticket_id || ':' || action || ':' || by FROM ticket_log ORDER BY ticket_id, seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want =
            ["A:open:firepoint", "B:open:firepoint", "B:ack:王五", "C:open:firepoint", "C:ack:王五", "C:resolve:"];
        assert_eq!(steps, [&want[..], &["D:open:firepoint", "D:false_alarm:"]].concat());
        // the open ones' deadlines passed under the old firepoint: no burst of escalations now
        let escalated: Vec<String> = conn
            .prepare("SELECT escalated FROM tickets WHERE id IN ('A', 'B') ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(escalated, [r#"["verify"]"#, r#"["verify"]"#]);
        // the detection still points at its ticket, keys checked; the log cannot be rewritten
        let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 0);
        assert!(conn.execute("DELETE FROM ticket_log WHERE ticket_id = 'A'", []).is_err());
        assert_eq!(sqlite_version(&conn).unwrap(), SCHEMA_VERSION);
    }
}
