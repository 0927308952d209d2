//! The work queue of workers that share one store (PostgreSQL): every worker registers the
//! inputs it finds, claims a few at a time (`FOR UPDATE SKIP LOCKED`, a claim that runs out is
//! taken over), analyses them (the costly part: decoding, the smoke model, hotspot tests) and
//! leaves the result here; one worker at a time (an advisory lock) records the analysed inputs
//! in queue order, so the tickets are those one batch over the same inputs would make, whatever
//! the number of workers and whoever finished first. An input leaves the queue in the
//! transaction that records it (or quarantines it).

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use super::db::{vals, DbError, Row, Val};
use super::{ts, Store, StoreError};

/// The advisory lock held by the worker that records (PostgreSQL; any 64-bit number that no
/// other application on the database uses).
const RECORDER_LOCK: i64 = 7_311_002;

/// An input in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub sha256: String,
    /// Its place in the recording order (inputs other than frames first, then by path, as one
    /// batch records them).
    pub key: String,
    pub path: PathBuf,
    pub kind: String,
}

/// The head of the queue: the next input to record, and its analysis once there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub input: Queued,
    /// The analysis (JSON) when a worker has stored it; `None` while it is being analysed.
    pub result: Option<String>,
    pub worker: Option<String>,
}

fn queued(r: &Row) -> Result<Queued, DbError> {
    Ok(Queued { sha256: r.text(0)?, key: r.text(1)?, path: r.text(2)?.into(), kind: r.text(3)? })
}

impl Store {
    /// Registers `inputs` (a content already recorded, or already queued under another name, is
    /// left out); how many were new.
    pub fn enqueue(&mut self, inputs: &[Queued], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let sql = super::sql_at(&self.path);
        self.conn
            .in_tx(false, |tx| {
                let mut n = 0;
                for q in inputs {
                    n += tx.exec(
                        "INSERT INTO queue (sha256, key, path, kind, state, queued_at)
                         SELECT ?1, ?2, ?3, ?4, 'waiting', ?5
                         WHERE NOT EXISTS (SELECT 1 FROM inputs WHERE sha256 = ?1 AND status = 'done')
                         ON CONFLICT DO NOTHING",
                        vals![&q.sha256, &q.key, q.path.display().to_string(), &q.kind, ts(now)],
                    )?;
                }
                Ok(n)
            })
            .map_err(sql)
    }

    /// Claims for `worker`, until `now + claim_s`, up to `n` inputs waiting (or whose claim ran
    /// out: their worker died) in queue order; other workers pass over rows being claimed.
    pub fn claim(
        &mut self,
        worker: &str,
        n: usize,
        now: DateTime<Utc>,
        claim_s: i64,
    ) -> Result<Vec<Queued>, StoreError> {
        let skip = if self.conn.is_postgres() { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE queue SET state = 'claimed', worker = ?1, claim_until = ?2
             WHERE sha256 IN (SELECT sha256 FROM queue
                              WHERE state = 'waiting' OR (state = 'claimed' AND claim_until < ?3)
                              ORDER BY key LIMIT ?4 {skip})
             RETURNING sha256, key, path, kind"
        );
        let until = ts(now + Duration::seconds(claim_s));
        let rows = self.conn.in_tx(true, |tx| tx.rows(&sql, vals![worker, until, ts(now), n])).map_err(self.sql())?;
        let mut claimed = rows.iter().map(queued).collect::<Result<Vec<_>, _>>().map_err(self.sql())?;
        claimed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(claimed)
    }

    /// Stores `worker`'s analysis of input `sha256`; false when its claim was taken over (the
    /// other worker's analysis will be stored instead).
    pub fn analysed(&mut self, sha256: &str, worker: &str, result: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .exec(
                "UPDATE queue SET state = 'analysed', result = ?3 WHERE sha256 = ?1 AND worker = ?2 AND state = 'claimed'",
                vals![sha256, worker, result],
            )
            .map_err(self.sql())?;
        Ok(n == 1)
    }

    /// Takes input `sha256` out of the queue without recording it (left for the next batch).
    pub fn dequeue(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn.exec("DELETE FROM queue WHERE sha256 = ?1", vals![sha256]).map(|_| ()).map_err(self.sql())
    }

    /// The next input to record, if the queue holds any.
    pub fn queue_head(&self) -> Result<Option<Claim>, StoreError> {
        let row = self
            .conn
            .row(
                "SELECT sha256, key, path, kind, CASE WHEN state = 'analysed' THEN result END, worker
                 FROM queue ORDER BY key LIMIT 1",
                &[],
            )
            .map_err(self.sql())?;
        row.map(|r| Ok(Claim { input: queued(&r)?, result: r.opt_text(4)?, worker: r.opt_text(5)? }))
            .transpose()
            .map_err(|e: DbError| self.sql()(e))
    }

    /// How many inputs are in the queue.
    pub fn queue_len(&self) -> Result<i64, StoreError> {
        self.conn.one("SELECT count(*) FROM queue", &[]).and_then(|r| r.int(0)).map_err(self.sql())
    }

    /// Becomes the one worker that records, if no other is (released by
    /// [`Store::stop_recording`] or when this connection ends: a killed worker holds nothing).
    /// A SQLite store has one batch at a time anyway.
    pub fn try_recording(&mut self) -> Result<bool, StoreError> {
        if !self.conn.is_postgres() {
            return Ok(true);
        }
        let r = self.conn.one("SELECT pg_try_advisory_lock(?1)", &[Val::Int(RECORDER_LOCK)]).map_err(self.sql())?;
        r.flag(0).map_err(self.sql())
    }

    pub fn stop_recording(&mut self) -> Result<(), StoreError> {
        if self.conn.is_postgres() {
            self.conn.one("SELECT pg_advisory_unlock(?1)", &[Val::Int(RECORDER_LOCK)]).map_err(self.sql())?;
        }
        Ok(())
    }
}
