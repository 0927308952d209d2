//! Files firepoint writes into folders it owns (the feed, quarantine notes): written whole
//! under a fresh temporary name and renamed into place, so a reader never sees half a file, two
//! writers never share a temporary file, and a link planted at either name is never followed.
//! It owns no format: callers hand it bytes.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a new temporary file beside `path` (a random name, created exclusively, so
/// it never follows a link planted there and two writers never share one), syncs it and renames
/// it over `path` (which replaces a link at `path` itself, never its target). Creates the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // 0644 less the umask, as a plain create gives (tempfile's own default is 0600, which would
    // hide the feed from a web server running as another user)
    let mut f = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)?;
    f.write_all(bytes)?;
    f.as_file().sync_all()?;
    f.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18: the feed's temporary file was `<name>.tmp`, created through any link planted
    /// there; a link at the final name is replaced, its target untouched.
    #[test]
    fn r18_links_at_either_name_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let path = dir.path().join("feed/tickets.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&victim, path.with_extension("tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "the final file and the planted .tmp link, no temporary left: {left:?}");
    }
}
