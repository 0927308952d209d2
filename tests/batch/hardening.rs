//! Issue 10's hardening that a county meets first: a frame that declares an absurd size is
//! refused before a pixel is decoded; a feed folder that cannot be written leaves a partial batch
//! that says what it kept.

use crate::common;

use common::Sandbox;

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG of a few dozen bytes that declares `w` × `h` RGB pixels (its data is junk).
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let idat = b"IDATjunkjunk".to_vec();
    png.extend(8u32.to_be_bytes());
    png.extend(&idat);
    png.extend(crc32(&idat).to_be_bytes());
    png
}

#[test]
fn r10_a_frame_declaring_60000_by_60000_pixels_is_refused_before_decoding() {
    let sb = Sandbox::new();
    sb.simulate();
    let dir = sb.path("work/inbox/frames/CAM05");
    let good = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let bomb = dir.join("CAM05_20260610T059900Z.png");
    std::fs::write(&bomb, bomb_png(60_000, 60_000)).unwrap();
    let mut pose: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    pose["captured_at"] = "2026-06-10T05:59:00Z".into();
    std::fs::write(bomb.with_extension("json"), pose.to_string()).unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("CAM05_20260610T059900Z.png")
            && stderr.contains("60000 × 60000 pixels, over limits.max_frame_pixels"),
        "{stderr}"
    );
    assert_eq!(sb.tickets().len(), 6, "the rest of the batch went on (4 of the pass, 2 of the towers)");
    assert!(common::files_under(&sb.path("work/quarantine")).iter().any(|p| p.ends_with("CAM05_20260610T059900Z.png")));
}

#[test]
fn r10_an_unwritable_feed_folder_leaves_a_partial_batch_that_says_what_it_kept() {
    let sb = Sandbox::new();
    sb.simulate();
    std::fs::create_dir_all(sb.path("work")).unwrap();
    std::fs::write(sb.path("work/feed"), "a file where the feed folder should be").unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "partial, not fatal: {stderr}");
    assert!(stderr.contains("every input above was recorded in the ticket store"), "{stderr}");
    assert_eq!(sb.tickets().len(), 6, "the tickets were kept");
    // the folder fixed, the next batch writes the feed and duplicates nothing
    std::fs::remove_file(sb.path("work/feed")).unwrap();
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(sb.tickets().len(), 6);
    assert!(sb.path("work/feed/tickets.jsonl").is_file());
}

/// A tmpfs of `size` mounted at `dir` (root only); false when this machine does not allow it.
fn mount_tmpfs(dir: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::process::Command::new("umount").arg(dir).status();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
#[ignore = "needs root to mount a small tmpfs for the store (scripts/test.sh runs it as root)"]
fn r10_a_full_disk_stops_the_batch_cleanly_and_the_next_run_resumes() {
    let sb = Sandbox::new();
    sb.simulate();
    let total = common::files_under(&sb.path("work/inbox"))
        .iter()
        .filter(|p| p.extension().is_none_or(|x| x != "json"))
        .count();
    let disk = sb.path("disk");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(disk.clone());
    let store = |sb: &Sandbox| {
        let mut c = sb.cmd();
        c.args(["--set", "paths.store=\"disk/fp.sqlite\""]);
        c
    };
    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(disk.join("fp.sqlite")).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    // grow the disk until the batch fills it part way through (the sizes depend on SQLite's pages)
    let mut filled = None;
    for kb in (200..=600).step_by(30) {
        let _ = std::fs::remove_dir_all(sb.path("work/feed"));
        assert!(mount_tmpfs(&disk, &format!("{kb}k")), "cannot mount a tmpfs (run as root)");
        let out = store(&sb).arg("run").output().unwrap();
        // a disk too small for even the store's tables leaves a file without them: nothing recorded
        let recorded = rusqlite::Connection::open(disk.join("fp.sqlite"))
            .and_then(|c| c.query_row("SELECT count(*) FROM inputs", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if out.status.code() == Some(2) && recorded > 0 && (recorded as usize) < total {
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            filled = Some((kb, recorded, stderr));
            break;
        }
    }
    let (kb, recorded, stderr) = filled.expect("no disk size filled up part way through the batch");
    assert!(stderr.contains("database or disk is full") && stderr.contains("the next batch takes them"), "{stderr}");
    assert_eq!(count("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), 0, "store intact");
    // the disk grown (the same tmpfs, remounted larger), the next batch takes the rest
    let grown = std::process::Command::new("mount").args(["-o", "remount,size=8m"]).arg(&disk).status().unwrap();
    assert!(grown.success());
    store(&sb).arg("run").assert().code(0);
    assert_eq!(
        count("SELECT count(*) FROM inputs") as usize,
        total,
        "every input recorded once (filled at {kb} KiB after {recorded})"
    );
    let tickets = count("SELECT count(*) FROM tickets");
    assert_eq!(tickets, 6, "the demo's tickets (4 of the pass, 2 of the towers), none lost, none doubled");
    assert_eq!(count("SELECT count(*) FROM ticket_log WHERE action = 'open'"), tickets);
}
