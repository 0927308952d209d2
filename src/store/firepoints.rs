//! The fire points as recorded, for the fire-point ledger (火点台账, ledger.rs): every
//! satellite detection with its input (file and row), the source's own attribution (kept in its
//! evidence), and its ticket's outcome, or why it has none. Nothing is written here: the
//! detections table is the ledger's record, filled in the input's transaction with its tickets,
//! so a rerun never repeats a row and a crash never loses one.

use chrono::{DateTime, Utc};

use super::db::{vals, DbError, Row};
use super::{ts, Store, StoreError};
use crate::domain::{FalseAlarmCause, Status};

/// One recorded satellite fire point.
#[derive(Debug, Clone, PartialEq)]
pub struct FirePoint {
    /// The input file as it was found.
    pub input: String,
    /// The detection's place in its input (0-based).
    pub idx: i64,
    /// The table's line (header = line 1), for a table's row; `None` for a scene's pixel.
    pub row: Option<i64>,
    pub sensor: String,
    pub observed_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    /// The source's own 省 / 市 / 县 (MEE tables; empty for FIRMS and scenes).
    pub source_place: [String; 3],
    /// Why no ticket: a known heat source, the persistence mask, history, a duplicate …
    pub suppressed_by: Option<String>,
    pub ticket: Option<String>,
    pub status: Option<Status>,
    pub false_alarm_cause: Option<FalseAlarmCause>,
}

/// Which fire points to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirePointFilter {
    /// Seen at or after this time.
    pub seen_since: Option<DateTime<Utc>>,
    /// Recorded (their input processed) at or after this time: the feed's window.
    pub recorded_since: Option<DateTime<Utc>>,
}

fn fire_point(r: &Row) -> Result<FirePoint, DbError> {
    let evidence: serde_json::Value = serde_json::from_str(&r.text(6)?).unwrap_or_default();
    let said = |k: &str| evidence.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    Ok(FirePoint {
        input: r.text(0)?,
        idx: r.int(1)?,
        row: evidence.get("row").and_then(|v| v.as_i64()),
        sensor: r.text(2)?,
        observed_at: r.time(3)?,
        lon: r.real(4)?,
        lat: r.real(5)?,
        source_place: [said("省"), said("市"), said("县")],
        suppressed_by: r.opt_text(7)?,
        ticket: r.opt_text(8)?,
        status: r.opt_text(9)?.and_then(|s| Status::parse(&s)),
        false_alarm_cause: r.opt_text(10)?.and_then(|s| serde_json::from_value(serde_json::Value::String(s)).ok()),
    })
}

impl Store {
    /// Where the satellite points recorded as history (before the live window,
    /// `Suppression::History`, whose text begins `history:`) seen from `from` to before `to` lie:
    /// (lon, lat) each, for the rankings and the plan to place and count.
    pub fn history_points(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<(f64, f64)>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT lon, lat FROM detections
                 WHERE source = 'satellite' AND suppressed_by LIKE 'history:%' AND observed_at >= ?1 AND observed_at < ?2",
                vals![ts(from), ts(to)],
            )
            .map_err(self.sql())?;
        rows.iter().map(|r| Ok((r.real(0)?, r.real(1)?))).collect::<Result<_, DbError>>().map_err(self.sql())
    }

    /// The recorded satellite fire points matching `filter`, by input and row.
    pub fn fire_point_ledger(&self, filter: &FirePointFilter) -> Result<Vec<FirePoint>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.path, d.idx, d.sensor, d.observed_at, d.lon, d.lat, d.evidence, d.suppressed_by,
                        d.ticket_id, t.status, t.false_alarm_cause
                 FROM detections d JOIN inputs i ON i.sha256 = d.input_sha256
                 LEFT JOIN tickets t ON t.id = d.ticket_id
                 WHERE d.source = 'satellite'
                   AND (CAST(?1 AS TEXT) IS NULL OR d.observed_at >= ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR i.processed_at >= ?2)
                 ORDER BY i.processed_at, i.path, d.idx",
                vals![filter.seen_since.map(ts), filter.recorded_since.map(ts)],
            )
            .map_err(self.sql())?;
        rows.iter().map(fire_point).collect::<Result<_, DbError>>().map_err(self.sql())
    }
}
