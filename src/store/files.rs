//! Inputs as files: what a batch's inbox check reads (which paths were recorded, with the size
//! and modification time they had when they were hashed) and where a processed input went once
//! it left the inbox (`inputs.archived_to`: its archive path, or [`super::DELETED`]).

use std::collections::HashMap;

use super::db::{vals, Val};
use super::StoreError;

/// A file the store recorded as processed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenFile {
    pub sha256: String,
    /// Size in bytes and modification time (nanoseconds since 1970) when it was hashed.
    pub stamp: Option<(i64, i64)>,
}

/// Paths asked about in one statement.
const CHUNK: usize = 500;

impl super::Store {
    /// The processed inputs recorded at each of `paths` (a path reused for new content has a row
    /// per content).
    pub fn seen_files(&self, paths: &[String]) -> Result<HashMap<String, Vec<SeenFile>>, StoreError> {
        let mut out: HashMap<String, Vec<SeenFile>> = HashMap::new();
        for chunk in paths.chunks(CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "SELECT path, sha256, size, mtime_ns FROM inputs WHERE status = 'done' AND path IN ({})",
                marks.join(", ")
            );
            let params: Vec<Val> = chunk.iter().map(|p| Val::from(p.as_str())).collect();
            let rows = self.conn.rows(&sql, &params).map_err(self.sql())?;
            for r in rows {
                let stamp = match (r.opt_int(2).map_err(self.sql())?, r.opt_int(3).map_err(self.sql())?) {
                    (Some(size), Some(mtime)) => Some((size, mtime)),
                    _ => None,
                };
                let seen = SeenFile { sha256: r.text(1).map_err(self.sql())?, stamp };
                out.entry(r.text(0).map_err(self.sql())?).or_default().push(seen);
            }
        }
        Ok(out)
    }

    /// The path a processed input `sha256` was recorded at.
    pub fn input_file(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .conn
            .row("SELECT path FROM inputs WHERE sha256 = ?1 AND status = 'done'", vals![sha256])
            .map_err(self.sql())?;
        row.map(|r| r.text(0)).transpose().map_err(self.sql())
    }

    /// Notes the file of processed input `sha256`: its size and modification time when it was
    /// hashed (before it leaves the inbox: killed before it has, the next batch finds the file
    /// unchanged and moves it unread), or where it went (once it is there).
    pub fn mark_file(
        &mut self,
        sha256: &str,
        stamp: Option<(i64, i64)>,
        archived_to: Option<&str>,
    ) -> Result<(), StoreError> {
        let (size, mtime) = (stamp.map(|s| s.0), stamp.map(|s| s.1));
        self.conn
            .exec(
                "UPDATE inputs SET size = COALESCE(?2, size), mtime_ns = COALESCE(?3, mtime_ns),
                    archived_to = COALESCE(?4, archived_to) WHERE sha256 = ?1",
                vals![sha256, size, mtime, archived_to],
            )
            .map(|_| ())
            .map_err(self.sql())
    }
}
