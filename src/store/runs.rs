//! The record of batches: one row per `firepoint run` (or per worker's run on a shared store)
//! saying when it ran, what it found and how it ended. `/metrics` and the health endpoint read
//! it; `firepoint gc` prunes it after `retention.runs_days`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::db::{vals, DbError, Row};
use super::{ts, StoreError};

/// One batch as it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchRun {
    /// `host:pid` of the run or worker.
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok`, `partial` (bad inputs, inputs left for later, the feed not written) or `failed`
    /// (the batch stopped: the store, the model or the district could not be used).
    pub outcome: String,
    pub inputs: i64,
    pub processed: i64,
    pub skipped: i64,
    pub failed: i64,
    pub retried: i64,
    /// Tickets opened.
    pub opened: i64,
    /// Input kind → outcome (`done`, `quarantined`, `retried`, `skipped`) → count.
    pub by_kind: BTreeMap<String, BTreeMap<String, i64>>,
}

const COLUMNS: &str =
    "worker, started_at, finished_at, outcome, inputs, processed, skipped, failed, retried, opened, by_kind";

fn from_row(r: &Row) -> Result<BatchRun, DbError> {
    let by_kind = serde_json::from_str(&r.text(10)?).map_err(|e| DbError::Value(format!("batch_runs.by_kind: {e}")))?;
    Ok(BatchRun {
        worker: r.text(0)?,
        started_at: r.time(1)?,
        finished_at: r.time(2)?,
        outcome: r.text(3)?,
        inputs: r.int(4)?,
        processed: r.int(5)?,
        skipped: r.int(6)?,
        failed: r.int(7)?,
        retried: r.int(8)?,
        opened: r.int(9)?,
        by_kind,
    })
}

impl super::Store {
    /// Keeps the record of one batch.
    pub fn record_batch_run(&mut self, run: &BatchRun) -> Result<(), StoreError> {
        let by_kind = serde_json::to_string(&run.by_kind).expect("counts serialise");
        self.conn
            .exec(
                &format!("INSERT INTO batch_runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                vals![
                    &run.worker,
                    ts(run.started_at),
                    ts(run.finished_at),
                    &run.outcome,
                    run.inputs,
                    run.processed,
                    run.skipped,
                    run.failed,
                    run.retried,
                    run.opened,
                    by_kind
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The batch that finished last, if any did.
    pub fn last_batch_run(&self) -> Result<Option<BatchRun>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM batch_runs ORDER BY finished_at DESC, id DESC LIMIT 1");
        let row = self.conn.row(&sql, &[]).map_err(self.sql())?;
        row.as_ref().map(from_row).transpose().map_err(self.sql())
    }

    /// The batches that finished at or after `since`, oldest first.
    pub fn batch_runs_since(&self, since: DateTime<Utc>) -> Result<Vec<BatchRun>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM batch_runs WHERE finished_at >= ?1 ORDER BY finished_at, id");
        self.conn.rows(&sql, vals![ts(since)]).and_then(|rows| rows.iter().map(from_row).collect()).map_err(self.sql())
    }
}
