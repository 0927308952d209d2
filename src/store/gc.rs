//! The `[retention]` section (what an input becomes once processed, how long each kind of row
//! is kept) and pruning what grows with every input by it (`firepoint gc`, and every
//! batch after its inputs): per-frame results, the input rows of frames and drone photos that gave
//! no sighting once their file has left the inbox, evidence pictures, work-queue rows never
//! recorded and the record of old batches. Tickets, sightings (`detections`), the audit log, the
//! outbox and the persistence history are the county's record and are never pruned here.

use chrono::{DateTime, Duration, Utc};

use super::db::vals;
use super::{ts, StoreError};

/// What happens to an inbox input once its results are committed.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputsPolicy {
    /// Moved to `paths.archive/<Beijing day>/<its path under the inbox>` (with a frame's pose
    /// sidecar), kept `retention.archive_days`.
    Archive,
    /// Deleted (with its sidecar): the store and the evidence pictures are all that is kept.
    Delete,
    /// Left in the inbox (the county rotates it away); a batch skips it unread while its size and
    /// modification time are those it had when it was processed.
    Keep,
}

/// How long the inbox, the archive and the store keep what grows with every input and sighting
/// (`firepoint gc`; every batch also prunes, cheaply). Tickets, sightings, the audit log and the
/// persistence history are never pruned: they are the county's record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// A ticket's evidence pictures (the frame, its crop, the view's earlier frame; at most
    /// 200 KB each) are deleted this many days after they were made; the ticket stays.
    pub evidence_days: i64,
    /// What a batch does with an inbox input once its results are committed: `archive`,
    /// `delete` or `keep` (inputs named by hand to `firepoint pass` are never moved).
    pub inputs: InputsPolicy,
    /// Archive day folders older than this many days are deleted (0: never).
    pub archive_days: i64,
    /// Per-frame results (what each frame showed, and the input rows of frames and drone photos
    /// that gave no sighting) are deleted after this many days; at least 7 (tower health reads
    /// a week) and at least `confirm.mask_lookback_days`. Rows of files still in the inbox
    /// (`inputs = "keep"`) stay, so a kept file is never processed twice.
    pub frames_days: i64,
    /// Work-queue rows (PostgreSQL workers) never recorded (their file vanished) are deleted
    /// after this many days.
    pub queue_days: i64,
    /// The record of each batch (`/metrics`, the health endpoint) is kept this many days.
    pub runs_days: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            evidence_days: 180,
            inputs: InputsPolicy::Archive,
            archive_days: 7,
            frames_days: 30,
            queue_days: 7,
            runs_days: 90,
        }
    }
}

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
    /// Deletes what `policy` no longer keeps, as of `now` (frames: as of the newest frame, when
    /// that is earlier), one table at a time (each statement is
    /// its own transaction: a pruning killed half-way has pruned less, nothing else).
    pub fn prune(&mut self, policy: &RetentionConfig, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let before = |days: i64| ts(now - Duration::days(days));
        // frames age on the towers' clock (the newest frame, at most now), as tower health
        // judges them: a replayed day keeps its frames while it is replayed
        let clock = self.health_clock(now)?.unwrap_or(now);
        let frames_before = ts(clock - Duration::days(policy.frames_days));
        let exec = |sql: &str, at: &str| self.conn.exec(sql, vals![at]).map_err(self.sql());
        let frames = exec("DELETE FROM frames WHERE captured_at < ?1", &frames_before)?;
        // a frame's or drone photo's row is its file's memory (a rerun skips it): kept while the
        // file may still be in the inbox, and while a sighting or a frame row refers to it
        let inputs = exec(
            "DELETE FROM inputs WHERE kind IN ('frame', 'drone') AND status = 'done' AND detections = 0
               AND processed_at < ?1 AND archived_to IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.input_sha256 = inputs.sha256)
               AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.input_sha256 = inputs.sha256)",
            &before(policy.frames_days),
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
