//! Quarantine: a bad input (and a frame's or drone photo's sidecar) leaves the inbox for
//! `quarantine/<Beijing day>/<its path under the inbox>` with `<name>.error.txt` beside it.
//! Nothing is lost or overwritten: same-named files from different folders keep their folders,
//! and a name already used that day gets `~2`, `~3` … before its extension.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Quarantine;
use crate::config::Config;
use crate::ingest::{frame, InputKind};

/// Where a bad input goes: `quarantine/<Beijing day>/<its path under the inbox>` (see
/// [`dated_place`]); a name taken by a file or by a note that day gets the next suffix.
fn quarantine_target(cfg: &Config, path: &Path) -> PathBuf {
    dated_place(&cfg.paths.quarantine, &cfg.paths.inbox, path, |t| !t.exists() && !note_of(t).exists())
}

/// `root/<Beijing day>/<path under the inbox>` (inputs named by hand: their path without the
/// root), so `a/t.csv` and `b/t.csv` are both kept; `~2`, `~3` … before the extension until
/// `free` accepts the name. The quarantine's and the archive's folders are laid out so.
pub(super) fn dated_place(root: &Path, inbox: &Path, path: &Path, free: impl Fn(&Path) -> bool) -> PathBuf {
    let day = chrono::Utc::now().with_timezone(&crate::time::beijing()).format("%Y%m%d").to_string();
    let rel: PathBuf = match path.strip_prefix(inbox) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect(),
    };
    let first = root.join(day).join(rel);
    let (stem, ext) = (
        first.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
        first.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default(),
    );
    (1..)
        .map(|n| if n == 1 { first.clone() } else { first.with_file_name(format!("{stem}~{n}{ext}")) })
        .find(|t| free(t))
        .expect("some suffix is free")
}

fn note_of(target: &Path) -> PathBuf {
    target.with_file_name(format!("{}.error.txt", target.file_name().unwrap_or_default().to_string_lossy()))
}

/// Moves (or copies) a bad input, and its pose sidecar, into the quarantine with a note. A file
/// that is not a regular file (a FIFO, a device) is never opened: only the note is written.
pub(super) fn quarantine(
    cfg: &Config,
    path: &Path,
    kind: InputKind,
    error: &str,
    mode: Quarantine,
) -> anyhow::Result<PathBuf> {
    let target = quarantine_target(cfg, path);
    let dir = target.parent().context("quarantine target has a folder")?.to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create quarantine folder {}", dir.display()))?;
    let mut files = vec![(path.to_path_buf(), target.clone())];
    let sidecar = frame::sidecar_of(path);
    if matches!(kind, InputKind::Frame | InputKind::Drone) && sidecar.exists() {
        files.push((sidecar, frame::sidecar_of(&target)));
    }
    for (from, to) in &files {
        let regular = crate::ingest::regular_file(from).is_ok();
        match mode {
            Quarantine::Move => std::fs::rename(from, to).or_else(|e| {
                if !regular {
                    return Err(e);
                }
                std::fs::copy(from, to).and_then(|_| std::fs::remove_file(from))
            }),
            Quarantine::Copy if regular => std::fs::copy(from, to).map(|_| ()),
            Quarantine::Copy => Ok(()),
        }
        .with_context(|| format!("cannot quarantine {} into {}", from.display(), dir.display()))?;
    }
    let note = note_of(&target);
    crate::files::write_atomic(&note, format!("{error}\n").as_bytes())
        .with_context(|| format!("cannot write {}", note.display()))?;
    Ok(target)
}
