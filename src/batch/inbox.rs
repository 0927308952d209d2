//! The inbox's lifecycle: which inputs a batch must read, and where a processed input goes.
//!
//! A file the store recorded as processed whose size and modification time are those it had when
//! it was hashed is skipped unread ([`unchanged`]: a county-day of kept frames costs a stat each,
//! not a read). Once an input's results are committed it leaves the inbox by `retention.inputs`
//! ([`Ctx::leave_inbox`]): moved to `archive/<Beijing day>/<its path under the inbox>` with a
//! frame's pose sidecar, or deleted, or left. Its size and time are written to the store before
//! the file moves and where it went after: killed between the commit and the move, the next batch
//! finds the file unchanged, skips it unread and moves it, so nothing is lost and nothing
//! repeated; a row that names a place is always of a file that has left, the only rows pruning
//! forgets (`Store::prune`). A file that cannot leave makes the batch partial. Inputs
//! named by hand (`firepoint pass`) are never moved. [`prune_archive`] deletes old day folders.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Ctx, Quarantine};
use crate::config::Config;
use crate::ingest::{frame, InputKind};
use crate::store::{InputsPolicy, SeenFile, Store, DELETED};

/// Nanoseconds since 1970 of a modification time (0 before it: never a real file's).
pub(super) fn nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

/// A file's size and modification time as the store keeps them.
pub(super) fn stamp(s: (u64, SystemTime)) -> (i64, i64) {
    (s.0.min(i64::MAX as u64) as i64, nanos(s.1))
}

/// An inbox file the store recorded as processed and that is still as it was then.
pub(super) struct Seen {
    pub kind: InputKind,
    pub path: PathBuf,
    pub sha: String,
    /// Its size and modification time, the same now as when it was hashed.
    pub stamp: (i64, i64),
}

/// Splits `inputs` into those recorded as processed and unchanged since (skipped unread) and the
/// rest (to be hashed). One store query per few hundred paths and one stat per file.
pub(super) fn unchanged(
    store: &Store,
    inputs: Vec<(InputKind, PathBuf)>,
) -> anyhow::Result<(Vec<Seen>, Vec<(InputKind, PathBuf)>)> {
    let names: Vec<String> = inputs.iter().map(|(_, p)| p.display().to_string()).collect();
    let known = store.seen_files(&names)?;
    let (mut seen, mut rest) = (Vec::new(), Vec::new());
    for ((kind, path), name) in inputs.into_iter().zip(names) {
        let now = super::stamp_of(&path).map(stamp);
        let same = |s: &&SeenFile| s.stamp.is_some() && s.stamp == now;
        match (known.get(&name).and_then(|rows| rows.iter().find(same)), now) {
            (Some(s), Some(stamp)) => seen.push(Seen { kind, path, sha: s.sha256.clone(), stamp }),
            _ => rest.push((kind, path)),
        }
    }
    tracing::info!("batch: {} input(s) to read, {} unchanged since an earlier batch", rest.len(), seen.len());
    Ok((seen, rest))
}

/// Where an input goes in the archive today: `archive/<Beijing day>/<its path under the inbox>`,
/// laid out as the quarantine is.
fn archive_target(cfg: &Config, path: &Path) -> PathBuf {
    super::quarantine::dated_place(&cfg.paths.archive, &cfg.paths.inbox, path, |t| !t.exists())
}

/// Moves `from` to `to` (its folder made), across file systems too: copied, synced, renamed
/// into place, then the original removed.
fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::rename(from, to) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let part = to.with_file_name(format!(".{}.part", to.file_name().unwrap_or_default().to_string_lossy()));
            std::fs::copy(from, &part)?;
            std::fs::File::open(&part)?.sync_all()?;
            std::fs::rename(&part, to)?;
            std::fs::remove_file(from)
        }
        other => other,
    }
}

/// The input and, for a frame or drone photo, its pose sidecar when there is one.
fn with_sidecar(kind: InputKind, path: &Path, to: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut files = vec![(path.to_path_buf(), to.to_path_buf())];
    let sidecar = frame::sidecar_of(path);
    if matches!(kind, InputKind::Frame | InputKind::Drone) && sidecar.exists() {
        files.push((sidecar, frame::sidecar_of(to)));
    }
    files
}

/// Deletes the archive's day folders older than `retention.archive_days` (0: none); how many.
pub fn prune_archive(cfg: &Config, now: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
    let days = cfg.retention.archive_days;
    let root = &cfg.paths.archive;
    if days == 0 || !root.is_dir() {
        return Ok(0);
    }
    let oldest =
        (now.with_timezone(&crate::time::beijing()) - chrono::Duration::days(days)).format("%Y%m%d").to_string();
    let mut n = 0;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // only the folders the archive makes (eight digits), never anything else put there
        let dated = name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit());
        if dated && name < oldest && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

impl Ctx<'_> {
    /// After input `sha` at `path` is recorded (or found recorded): notes its size and
    /// modification time when hashed (`hashed`; `None`: looked at again here) and sends it where
    /// `retention.inputs` says, then notes where it went. `own` is false
    /// for a second file of content recorded under another name: it leaves, the record is not
    /// its. A file that cannot leave is said and stays (the next batch skips it unread and tries
    /// again); only the store failing stops the batch.
    pub(super) fn leave_inbox(
        &mut self,
        kind: InputKind,
        path: &Path,
        sha: &str,
        hashed: Option<(i64, i64)>,
        own: bool,
    ) -> anyhow::Result<()> {
        if self.mode != Quarantine::Move {
            return Ok(());
        }
        // the file as it is now must be the content recorded: one rewritten since it was hashed
        // (a camera reusing a name) is new content, left for the next batch to read
        let now = super::stamp_of(path).map(stamp);
        let stamp = match hashed {
            Some(s) if now == Some(s) => Some(s),
            Some(_) => return Ok(()),
            None => match super::examine(kind, path) {
                Ok(f) if f.sha == sha => f.stamp.map(stamp),
                _ => return Ok(()),
            },
        };
        let to = match self.cfg.retention.inputs {
            InputsPolicy::Keep => None,
            InputsPolicy::Delete => Some(DELETED.to_string()),
            InputsPolicy::Archive => Some(archive_target(self.cfg, path).display().to_string()),
        };
        if own {
            self.store.mark_file(sha, stamp, None)?;
        }
        let Some(to) = to else { return Ok(()) };
        // the sidecar first: killed between the two, the frame is still here (and is moved by
        // the next batch, unread), never a sidecar left without its frame
        let mut files =
            if to == DELETED { with_sidecar(kind, path, path) } else { with_sidecar(kind, path, Path::new(&to)) };
        files.reverse();
        let moved =
            files.iter().try_for_each(|(f, t)| if to == DELETED { std::fs::remove_file(f) } else { move_file(f, t) });
        match moved {
            // where it went is written once it is there: a row that names a place is of a file
            // that has left the inbox (pruning forgets only those)
            Ok(()) if own => {
                self.store.mark_file(sha, None, Some(&to))?;
                self.report.archived += 1
            }
            Ok(()) => self.report.archived += 1,
            Err(e) => {
                let why = format!("cannot {} it: {e}", if to == DELETED { "delete" } else { "archive" });
                tracing::warn!(file = %path.display(), "{why}; it stays in the inbox and is skipped unread");
                self.report.not_archived.push((path.to_path_buf(), why));
            }
        }
        Ok(())
    }

    /// Inputs found recorded and unchanged: skipped unread, and sent on (a kept one stays: the
    /// store already holds its size and time, so a county-day of kept files costs nothing more).
    pub(super) fn skip_seen(&mut self, seen: Vec<Seen>) -> anyhow::Result<()> {
        let keep = self.mode != Quarantine::Move || self.cfg.retention.inputs == InputsPolicy::Keep;
        for s in seen {
            self.report.skip(s.kind);
            if !keep {
                tracing::debug!(file = %s.path.display(), "already processed (unchanged since it was recorded)");
                self.leave_inbox(s.kind, &s.path, &s.sha, Some(s.stamp), true)?;
            }
        }
        Ok(())
    }
}
