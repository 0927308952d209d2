//! One batch at a time per store: an OS file lock beside the store, stamped with the holder's pid
//! and start time so that the next cron run can tell a busy batch (a quiet note, exit 0) from a
//! stuck one (loud, exit 2).

use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Debug, thiserror::Error)]
#[error("another firepoint batch is running on {store} (lock {lock} is held{holder}); this one did nothing")]
pub struct Busy {
    pub store: PathBuf,
    pub lock: PathBuf,
    /// Who holds it, as the lock file says (`, by pid 123 since …`), if readable.
    pub holder: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "a firepoint batch has held the lock {lock} for {minutes} minutes (pid {pid}, since {since}), more than \
     batch.stuck_after_min = {limit}: it is stuck (an input that never ends?) and nothing new is processed \
     until it is stopped"
)]
pub struct Stuck {
    pub lock: PathBuf,
    pub pid: String,
    pub since: String,
    pub minutes: i64,
    pub limit: i64,
}

/// What the lock file holds while a batch runs: `pid <N> since <RFC 3339 time>`.
fn holder_of(text: &str) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
    let mut words = text.trim_matches('\0').split_whitespace();
    let (Some("pid"), Some(pid), Some("since"), Some(t)) = (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    let since = chrono::DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&chrono::Utc);
    Some((pid.to_string(), since))
}

/// Opens (creating it) the lock file without following a link planted at its name (a link to a
/// system file would otherwise be truncated and stamped) and refuses anything but a regular file
/// (a FIFO would block the open).
fn open_no_follow(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => anyhow::anyhow!(
                "lock file {} is a symbolic link; firepoint does not follow it (remove the link)",
                path.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot open lock file {}", path.display())),
        })?;
    let meta = file.metadata().with_context(|| format!("cannot read lock file {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("lock file {} is not a regular file; firepoint does not use it (remove it)", path.display());
    }
    Ok(file)
}

/// One batch at a time per store: a cron run that overlaps a slow one stops at once ([`Busy`]),
/// or loudly ([`Stuck`]) when the running one has held the lock longer than
/// `batch.stuck_after_min`. The lock is an OS file lock, released when the returned file is
/// dropped or its process dies, so a lock left by a killed batch is simply taken over.
pub(super) fn lock(store: &Path, stuck_after_min: i64) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = store.with_extension("lock");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = open_no_follow(&path)?;
    match file.try_lock() {
        Ok(()) => {
            let stamp = format!("pid {} since {}\n", std::process::id(), crate::store::ts(chrono::Utc::now()));
            file.set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(stamp.as_bytes()))
                .with_context(|| format!("cannot write lock file {}", path.display()))?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&file).take(256).read_to_string(&mut text);
            // a holder that wrote no stamp (an older firepoint): its lock file's time stands in
            let modified = file.metadata().and_then(|m| m.modified()).ok().map(chrono::DateTime::<chrono::Utc>::from);
            let Some((pid, since)) = holder_of(&text).or(modified.map(|t| ("unknown".to_string(), t))) else {
                return Err(Busy { store: store.into(), lock: path, holder: String::new() }.into());
            };
            let minutes = (chrono::Utc::now() - since).num_minutes();
            if minutes > stuck_after_min {
                let since = crate::store::ts(since);
                return Err(Stuck { lock: path, pid, since, minutes, limit: stuck_after_min }.into());
            }
            let holder = format!(", by pid {pid} since {}", crate::store::ts(since));
            Err(Busy { store: store.into(), lock: path, holder }.into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r6_lock_stamp_reads_back_and_junk_is_no_holder() {
        let (pid, since) = holder_of("pid 42 since 2026-06-10T05:30:00Z\n").unwrap();
        assert_eq!((pid.as_str(), crate::store::ts(since).as_str()), ("42", "2026-06-10T05:30:00Z"));
        assert!(holder_of("\0\0pid 42 since 2026-06-10T05:30:00Z").is_some(), "a stamp after a hole");
        assert!(holder_of("").is_none() && holder_of("pid x since yesterday").is_none());
    }
}
