//! Pruning what grows with every input by the `[retention]` policy (`firepoint gc`, and every
//! batch after its inputs): per-frame results, the input rows of frames and drone photos that gave
//! no sighting once their file has left the inbox, evidence pictures, work-queue rows never
//! recorded and the record of old batches. Tickets, sightings (`detections`), the audit log, the
//! outbox and the persistence history are the county's record and are never pruned here.

use chrono::{DateTime, Duration, Utc};

use super::db::vals;
use super::{ts, StoreError};
use crate::config::RetentionConfig;

/// What one pruning deleted, by table.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub frames: usize,
    pub inputs: usize,
    pub evidence: usize,
    pub queue: usize,
    pub batch_runs: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.frames + self.inputs + self.evidence + self.queue + self.batch_runs
    }
}

impl std::fmt::Display for Pruned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} frame result(s), {} input row(s), {} evidence picture(s), {} queue row(s), {} batch record(s)",
            self.frames, self.inputs, self.evidence, self.queue, self.batch_runs
        )
    }
}

/// The mark `inputs.archived_to` holds for an input deleted from the inbox (`retention.inputs =
/// "delete"`): it has left, there is no file to find.
pub const DELETED: &str = "(deleted)";

impl super::Store {
    /// Deletes what `policy` no longer keeps, as of `now`, one table at a time (each statement is
    /// its own transaction: a pruning killed half-way has pruned less, nothing else).
    pub fn prune(&mut self, policy: &RetentionConfig, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let before = |days: i64| ts(now - Duration::days(days));
        let frames_before = before(policy.frames_days);
        let exec = |sql: &str, at: &str| self.conn.exec(sql, vals![at]).map_err(self.sql());
        let frames = exec("DELETE FROM frames WHERE captured_at < ?1", &frames_before)?;
        // a frame's or drone photo's row is its file's memory (a rerun skips it): kept while the
        // file may still be in the inbox, and while a sighting or a frame row refers to it
        let inputs = exec(
            "DELETE FROM inputs WHERE kind IN ('frame', 'drone') AND status = 'done' AND detections = 0
               AND processed_at < ?1 AND archived_to IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.input_sha256 = inputs.sha256)
               AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.input_sha256 = inputs.sha256)",
            &frames_before,
        )?;
        let evidence = exec("DELETE FROM evidence WHERE created_at < ?1", &before(policy.evidence_days))?;
        let queue = exec("DELETE FROM queue WHERE queued_at < ?1", &before(policy.queue_days))?;
        let batch_runs = exec("DELETE FROM batch_runs WHERE finished_at < ?1", &before(policy.runs_days))?;
        Ok(Pruned { frames, inputs, evidence, queue, batch_runs })
    }

    /// Gives the space pruning freed back to the file system: SQLite's VACUUM (rewrites the
    /// file; needs as much free space again), PostgreSQL's VACUUM of the tables pruning shrinks.
    pub fn vacuum(&mut self) -> Result<(), StoreError> {
        let sql = if self.conn.is_postgres() {
            "VACUUM (ANALYZE) frames, inputs, evidence, queue, batch_runs"
        } else {
            "VACUUM"
        };
        self.conn.batch(sql).map_err(self.sql())
    }
}
