//! Read-only counts for the feed's `/metrics` (`serve::metrics`): the workers' queue by state,
//! the outbox by channel and state, tickets by the source that opened them and by status. One
//! `GROUP BY` a table, the same SQL on both databases. Tables that `gc` prunes (inputs, frames)
//! are not counted here: the inputs are counted from the batch runs (`runs`), by `serve`; the
//! exposition format is `serve`'s too.

use std::collections::BTreeMap;

use super::db::{DbError, Row};
use super::{Store, StoreError};

/// Rows counted by their labels (each key as many values as the query groups by).
pub type Counted = BTreeMap<Vec<String>, i64>;

/// What `/metrics` reads of the store's tables, at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// The workers' queue (a PostgreSQL store; empty in a SQLite one): [state] → count.
    pub queue: Counted,
    /// The notification outbox: [channel, state (pending / sent / failed / skipped)] → count.
    pub outbox: Counted,
    /// Tickets: [the source that opened it (the first of `sources`), status] → count.
    pub tickets: Counted,
}

fn counted(rows: Vec<Row>, labels: usize) -> Result<Counted, DbError> {
    let mut out = Counted::new();
    for r in rows {
        let key = (0..labels).map(|i| r.text(i)).collect::<Result<Vec<_>, _>>()?;
        *out.entry(key).or_default() += r.int(labels)?;
    }
    Ok(out)
}

impl Store {
    /// The counts `/metrics` reports (three small aggregate queries; the tickets' are grouped by
    /// their list of sources, a handful of distinct values, and then by the first of each).
    pub fn metric_counts(&self) -> Result<Counts, StoreError> {
        let q = |sql: &str, labels: usize| self.conn.rows(sql, &[]).and_then(|rows| counted(rows, labels));
        let by_sources = q("SELECT sources, status, count(*) FROM tickets GROUP BY sources, status", 2);
        (|| {
            let mut tickets = Counted::new();
            for (key, n) in by_sources? {
                let sources: Vec<String> = serde_json::from_str(&key[0]).map_err(|e| DbError::Value(e.to_string()))?;
                let first = sources.into_iter().next().unwrap_or_else(|| "unknown".into());
                *tickets.entry(vec![first, key[1].clone()]).or_default() += n;
            }
            Ok(Counts {
                queue: q("SELECT state, count(*) FROM queue GROUP BY state", 1)?,
                outbox: q("SELECT channel, state, count(*) FROM outbox GROUP BY channel, state", 2)?,
                tickets,
            })
        })()
        .map_err(self.sql())
    }
}
