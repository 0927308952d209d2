//! What every handler shares: the store's connections (read-only ones in a bounded pool, one
//! writer), the district's villages for the page, and the lists already built. Reads and writes
//! run off the async threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::error::{err, ApiError};
use crate::store::{Store, StoreError};

/// Read-only store connections: at most `size` at once, opened when first needed and reused.
/// A read holds one only while it runs; one that finds none free within `wait` is answered 503.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    /// One permit per connection the pool may hold.
    slots: Arc<tokio::sync::Semaphore>,
    size: usize,
    wait: Duration,
}

impl Readers {
    pub(super) fn new(path: &Path, size: usize, wait: Duration) -> Readers {
        Readers {
            path: path.into(),
            idle: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(size)),
            size,
            wait,
        }
    }
}

/// The answer to a read that got no store connection: 503, try again shortly.
fn unavailable(why: impl std::fmt::Display) -> ApiError {
    err(StatusCode::SERVICE_UNAVAILABLE, format!("the ticket store has no free connection ({why}); try again"))
}

pub(super) struct App {
    pub(super) readers: Readers,
    /// The one writing connection (steps are short transactions; batches write meanwhile).
    pub(super) writer: Mutex<Store>,
    pub(super) villages: serde_json::Value,
    /// Township codes of the district (a county token's `?township=` must name one).
    pub(super) townships: Vec<String>,
    /// Lists already built, by filter and format, with the tickets' version they were built at:
    /// a list is rebuilt only after a ticket changed.
    pub(super) lists: Mutex<std::collections::HashMap<String, (i64, axum::body::Bytes)>>,
    pub(super) cap_sender: String,
    /// What a team's step says to whom (the notification settings).
    pub(super) notify: crate::notify::NotifyConfig,
    /// How often the page asks for new tickets, seconds.
    pub(super) refresh_s: u64,
    /// `batch.stale_after_min`: `/health/batch` says stale when no batch finished within it.
    pub(super) stale_after: chrono::Duration,
    /// What `/metrics` has summed of the batch runs so far (its counters and histogram).
    pub(super) runs: Mutex<super::metrics::RunTotals>,
}

pub(super) type Shared = Arc<App>;

impl App {
    /// Runs `f` on a read-only connection of the pool, off the async threads; 503 when none is
    /// free within `serve.pool_wait_ms` or none can be opened (the database refuses more clients).
    pub(super) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let readers = &self.readers;
        let permit = match tokio::time::timeout(readers.wait, readers.slots.clone().acquire_owned()).await {
            Ok(permit) => permit.expect("the pool's semaphore is never closed"),
            Err(_) => return Err(unavailable(format_args!("all {} in use", readers.size))),
        };
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = app.readers.idle.lock().expect("reader pool").pop();
            let store = match taken {
                Some(s) => s,
                None => Store::open_read_only(&app.readers.path).map_err(|e| {
                    tracing::error!("{}", crate::text::error_chain(&e));
                    unavailable("cannot open one; see the server log")
                })?,
            };
            let out = f(&store);
            // a connection the server closed is dropped, and the next read opens a new one
            if store.is_connected() {
                app.readers.idle.lock().expect("reader pool").push(store);
            }
            drop(permit);
            out
        })
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, format!("reader task failed: {e}")))?
    }

    /// Runs `f` on the one writing connection, off the async threads, if it can start before
    /// `deadline`: a write queued behind others (or behind a batch) past the request's own time
    /// is never started, and waits for the store's lock only until then.
    pub(super) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        deadline: Instant,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = app.writer.lock().expect("writer");
            let left = deadline.checked_duration_since(Instant::now()).ok_or(StoreError::TooLate)?;
            writer.set_busy_timeout(left)?;
            f(&mut writer)
        })
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, format!("writer task failed: {e}")))?
    }
}
