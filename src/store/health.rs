//! Tower health as the store keeps it (issue 20): the frames each tower sent (when, and their
//! picture hash), and the health notices (`tower_notices`: a tower offline or frozen, since
//! when, closed when it recovers, told to the county office once on opening and once on
//! closing). Never a ticket: notices are not in the fire lists or rankings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::db::{vals, DbError};
use super::{ts, Store, StoreError};
use crate::health::{Seen, Trouble};

/// A health notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Notice {
    pub id: i64,
    pub camera_id: String,
    pub kind: Trouble,
    pub since: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether the county office was told of the opening (pending, sent, failed, skipped).
    pub told: String,
    /// … and of the closing.
    pub told_close: Option<String>,
}

fn notices_from(rows: Vec<super::db::Row>) -> Result<Vec<Notice>, DbError> {
    rows.iter()
        .map(|r| {
            let kind = r.text(2)?;
            Ok(Notice {
                id: r.int(0)?,
                camera_id: r.text(1)?,
                kind: Trouble::parse(&kind).ok_or_else(|| DbError::Value(format!("tower notice kind `{kind}`")))?,
                since: r.time(3)?,
                opened_at: r.time(4)?,
                closed_at: r.opt_time(5)?,
                told: r.text(6)?,
                told_close: r.opt_text(7)?,
            })
        })
        .collect()
}

/// How far back a tower's frames are read for its health: one silent longer is "never heard from".
pub const HEALTH_DAYS: i64 = 7;

/// A tower as its health is shown: its last frame (in the last [`HEALTH_DAYS`]) and its open
/// notice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TowerStatus {
    pub last_frame: Option<DateTime<Utc>>,
    pub notice: Option<Notice>,
}

impl TowerStatus {
    /// `ok`, the open notice's kind, or `unknown` (no frame in the last [`HEALTH_DAYS`]).
    pub fn state(&self) -> &'static str {
        match (&self.notice, self.last_frame) {
            (Some(n), _) => n.kind.as_str(),
            (None, Some(_)) => "ok",
            (None, None) => "unknown",
        }
    }
}

const NOTICE: &str = "SELECT id, camera_id, kind, since, opened_at, closed_at, told, told_close FROM tower_notices";

impl Store {
    /// The satellite inputs (scenes, fire products, tables) recorded since `since`, newest
    /// first: file name, kind, when, detections, and the note or error.
    pub fn satellite_inputs(&self, since: DateTime<Utc>) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT path, kind, status, detections, processed_at, coalesce(note, error) FROM inputs
                 WHERE kind IN ('satellite', 'table') AND processed_at >= ?1 ORDER BY processed_at DESC, path LIMIT 200",
                vals![ts(since)],
            )
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                let path = r.text(0)?;
                let name = std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into());
                Ok(serde_json::json!({
                    "name": name, "kind": r.text(1)?, "status": r.text(2)?, "detections": r.int(3)?,
                    "processed_at": r.text(4)?, "note": r.opt_text(5)?,
                }))
            })
            .collect::<Result<_, DbError>>()
            .map_err(self.sql())
    }

    /// Every tower's frames taken at or after `since`, oldest first.
    pub fn tower_frames(&self, since: DateTime<Utc>) -> Result<BTreeMap<String, Vec<Seen>>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT camera_id, captured_at, picture, view_off FROM frames WHERE captured_at >= ?1
                 ORDER BY camera_id, captured_at, input_sha256",
                vals![ts(since)],
            )
            .map_err(self.sql())?;
        let mut out: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
        for r in &rows {
            let (camera, at, picture, view_off) =
                (|| Ok::<_, DbError>((r.text(0)?, r.time(1)?, r.opt_text(2)?, r.opt_text(3)?)))()
                    .map_err(self.sql())?;
            out.entry(camera).or_default().push(Seen { at, picture, view_off });
        }
        Ok(out)
    }

    /// The clock tower health is judged by: the newest frame any tower sent, never later than
    /// `now` (so a replayed day is judged as it happened, and a clock set ahead changes nothing).
    pub fn health_clock(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let r = self.conn.one("SELECT max(captured_at) FROM frames", &[]).map_err(self.sql())?;
        Ok(r.opt_time(0).map_err(self.sql())?.map(|t| t.min(now)))
    }

    /// Every tower heard from in the [`HEALTH_DAYS`] before the health clock or with an open
    /// notice, by id: what `firepoint cameras` and the duty page's map show.
    pub fn tower_status(&self, now: DateTime<Utc>) -> Result<BTreeMap<String, TowerStatus>, StoreError> {
        let mut out: BTreeMap<String, TowerStatus> = BTreeMap::new();
        if let Some(clock) = self.health_clock(now)? {
            let rows = self
                .conn
                .rows(
                    "SELECT camera_id, max(captured_at) FROM frames WHERE captured_at >= ?1 GROUP BY camera_id",
                    vals![ts(clock - chrono::Duration::days(HEALTH_DAYS))],
                )
                .map_err(self.sql())?;
            for r in &rows {
                let (camera, last) = (|| Ok::<_, DbError>((r.text(0)?, r.time(1)?)))().map_err(self.sql())?;
                out.entry(camera).or_default().last_frame = Some(last);
            }
        }
        for n in self.open_notices()? {
            let camera = n.camera_id.clone();
            out.entry(camera).or_default().notice = Some(n);
        }
        Ok(out)
    }

    /// The notices still open (towers still in trouble).
    pub fn open_notices(&self) -> Result<Vec<Notice>, StoreError> {
        let sql = format!("{NOTICE} WHERE closed_at IS NULL ORDER BY camera_id, id");
        self.conn.rows(&sql, &[]).and_then(notices_from).map_err(self.sql())
    }

    /// Notices open at any time in [from, to): for the report.
    pub fn notices_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Notice>, StoreError> {
        let sql =
            format!("{NOTICE} WHERE since < ?2 AND (closed_at IS NULL OR closed_at >= ?1) ORDER BY camera_id, id");
        self.conn.rows(&sql, vals![ts(from), ts(to)]).and_then(notices_from).map_err(self.sql())
    }

    /// Opens a notice of `kind` for `camera` (in trouble since `since`).
    pub fn open_notice(
        &mut self,
        camera: &str,
        kind: Trouble,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .exec(
                "INSERT INTO tower_notices (camera_id, kind, since, opened_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                vals![camera, kind.as_str(), ts(since), ts(now)],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Closes notice `id` at `at`: the tower recovered (`tell`: the county office is told), or
    /// its trouble became another (a frozen tower that went silent: not a recovery, not told).
    pub fn close_notice(&mut self, id: i64, at: DateTime<Utc>, tell: bool) -> Result<(), StoreError> {
        let told = if tell { "pending" } else { "skipped" };
        self.conn
            .exec(
                "UPDATE tower_notices SET closed_at = ?2, told_close = ?3 WHERE id = ?1 AND closed_at IS NULL",
                vals![id, ts(at), told],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Notices whose opening or closing the county office has not been told of yet.
    pub fn notices_to_tell(&self) -> Result<Vec<Notice>, StoreError> {
        let sql = format!("{NOTICE} WHERE told = 'pending' OR told_close = 'pending' ORDER BY id");
        self.conn.rows(&sql, &[]).and_then(notices_from).map_err(self.sql())
    }

    /// The channels (message keys) of notice `id` already delivered: not sent again while
    /// another channel of the same notice is still being retried.
    pub fn notice_delivered(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let r = self.conn.one("SELECT detail FROM tower_notices WHERE id = ?1", vals![id]).map_err(self.sql())?;
        let detail: serde_json::Value = serde_json::from_str(&r.text(0).map_err(self.sql())?).unwrap_or_default();
        Ok(detail["delivered"]
            .as_array()
            .map_or(Vec::new(), |a| a.iter().filter_map(|k| k.as_str().map(String::from)).collect()))
    }

    /// Notes that message `key` of notice `id` was delivered.
    pub fn notice_channel_delivered(&mut self, id: i64, key: &str) -> Result<(), StoreError> {
        let mut keys = self.notice_delivered(id)?;
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
        let detail = serde_json::json!({ "delivered": keys }).to_string();
        self.conn
            .exec("UPDATE tower_notices SET detail = ?2 WHERE id = ?1", vals![id, detail])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Records how telling of notice `id`'s opening (or `closing`) ended.
    pub fn told(&mut self, id: i64, closing: bool, state: &str) -> Result<(), StoreError> {
        let col = if closing { "told_close" } else { "told" };
        self.conn
            .exec(&format!("UPDATE tower_notices SET {col} = ?2 WHERE id = ?1 AND {col} = 'pending'"), vals![id, state])
            .map(|_| ())
            .map_err(self.sql())
    }
}
