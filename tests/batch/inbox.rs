//! Issue 21: the inbox over a year. A processed input leaves the inbox for the dated archive (or
//! is deleted, or kept) only after its results are committed; a file recorded but not moved (a
//! batch killed between the two) is skipped unread and moved by the next batch; a kept file is
//! never read again while it is unchanged; every batch leaves its record; `firepoint gc` and the
//! batch prune by `[retention]` on both databases.

use crate::common;

use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use common::{files_under, firms_table, Db, Sandbox};
use firepoint::batch::{record_input, InputRef};
use firepoint::config::Config;
use firepoint::domain::{Detection, FrameObservation, SourceKind};
use firepoint::locate::Located;
use firepoint::store::{RetentionConfig, Store, DELETED};

/// `n` FIRMS tables, one fire each, 3.5 km apart on one day, in the sandbox's inbox.
fn tables(sb: &Sandbox, n: usize) -> Vec<PathBuf> {
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    (0..n)
        .map(|i| {
            let (lon, lat) = (115.52 + (i % 10) as f64 * 0.035, 37.53 + (i / 10) as f64 * 0.06);
            let path = dir.join(format!("MODIS_{i:03}.csv"));
            std::fs::write(&path, firms_table(&[(lat, lon, "2026-06-01", "0530")])).unwrap();
            path
        })
        .collect()
}

/// The files under the sandbox's archive, by their path under the inbox (the day folder taken off).
fn archived(sb: &Sandbox) -> Vec<(String, PathBuf)> {
    let root = sb.path("work/archive");
    if !root.exists() {
        return Vec::new();
    }
    let mut out: Vec<(String, PathBuf)> = files_under(&root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            let under_day: PathBuf = rel.components().skip(1).collect();
            (under_day.display().to_string(), p)
        })
        .collect();
    out.sort();
    out
}

fn store(sb: &Sandbox) -> Store {
    Store::open_existing(&sb.path("work/firepoint.sqlite")).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn r21_processed_inputs_leave_the_inbox_for_the_dated_archive_and_a_rerun_finds_nothing() {
    let sb = Sandbox::new();
    let inputs = tables(&sb, 5);
    let bytes: Vec<Vec<u8>> = inputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let out = sb.cmd().arg("run").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 5);
    assert!(inputs.iter().all(|p| !p.exists()), "processed inputs left the inbox");
    let kept = archived(&sb);
    let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, (0..5).map(|i| format!("satellite/MODIS_{i:03}.csv")).collect::<Vec<_>>());
    for ((_, path), want) in kept.iter().zip(&bytes) {
        assert_eq!(&std::fs::read(path).unwrap(), want, "archived as it came: {}", path.display());
        let day = path.strip_prefix(sb.path("work/archive")).unwrap().components().next().unwrap();
        let today = Utc::now().with_timezone(&firepoint::time::beijing()).format("%Y%m%d").to_string();
        assert_eq!(day.as_os_str().to_string_lossy(), today, "under the Beijing day it was processed");
    }
    // the store knows where each went, and the batch left its record
    let s = store(&sb);
    let run = s.last_batch_run().unwrap().expect("the batch left its record");
    assert_eq!((run.outcome.as_str(), run.inputs, run.processed, run.opened), ("ok", 5, 5, 5));
    assert_eq!(run.by_kind["table"]["done"], 5, "{:?}", run.by_kind);
    // a rerun finds an empty inbox and changes nothing
    let again = sb.cmd().arg("run").output().unwrap();
    assert!(again.status.success());
    assert!(stdout(&again).contains("inputs: 0 found"), "{}", stdout(&again));
    assert_eq!(sb.tickets(), tickets);
    assert_eq!(store(&sb).batch_runs_since(Utc::now() - Duration::hours(1)).unwrap().len(), 2);
}

/// The state a batch killed between an input's commit and its move leaves: recorded, still in
/// the inbox. With `retention.inputs = "keep"` every file is left so; the next batch with
/// `archive` must move them without reading them again: one is overwritten in place with bytes of
/// the same size and its modification time put back, which a reread would take for new content
/// (and quarantine as a broken table). A file rewritten for real (new time) is new content: read.
#[test]
fn r21_a_recorded_file_still_in_the_inbox_is_skipped_unread_and_moved_and_a_rewritten_one_is_read() {
    let sb = Sandbox::new();
    let inputs = tables(&sb, 3);
    let keep = sb.cmd().args(["--set", "retention.inputs=\"keep\"", "run"]).output().unwrap();
    assert!(keep.status.success(), "{}", String::from_utf8_lossy(&keep.stderr));
    assert!(inputs.iter().all(|p| p.exists()), "keep leaves them");
    assert_eq!(sb.tickets().len(), 3);
    // same size, same time, other bytes: only a stat can call it unchanged
    let when = std::fs::metadata(&inputs[0]).unwrap().modified().unwrap();
    let len = std::fs::metadata(&inputs[0]).unwrap().len() as usize;
    std::fs::write(&inputs[0], vec![b'#'; len]).unwrap();
    std::fs::File::options().write(true).open(&inputs[0]).unwrap().set_modified(when).unwrap();
    // a real rewrite: a fire four days later, a new modification time
    std::fs::write(&inputs[2], firms_table(&[(37.53, 115.52, "2026-06-05", "0530")])).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&inputs[2]).unwrap().set_modified(later).unwrap();

    let out = sb.cmd().arg("run").output().unwrap();
    assert!(out.status.success(), "nothing quarantined: {}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("2 already done, 1 processed"), "{}", stdout(&out));
    assert!(inputs.iter().all(|p| !p.exists()), "all three left the inbox");
    let names: Vec<String> = archived(&sb).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["satellite/MODIS_000.csv", "satellite/MODIS_001.csv", "satellite/MODIS_002.csv"]);
    assert_eq!(sb.tickets().len(), 4, "the rewritten table's fire is new; the others are not counted again");
    assert!(!sb.path("work/quarantine").exists(), "the unchanged-looking file was never read");
}

#[test]
fn r21_delete_removes_processed_inputs_and_pass_never_moves_files_named_by_hand() {
    let sb = Sandbox::new();
    let inputs = tables(&sb, 2);
    let out = sb.cmd().args(["--set", "retention.inputs=\"delete\"", "run"]).output().unwrap();
    assert!(out.status.success());
    assert!(inputs.iter().all(|p| !p.exists()) && archived(&sb).is_empty(), "deleted, not archived");
    let s = store(&sb);
    assert_eq!(sb.tickets().len(), 2, "their results are kept");
    drop(s);
    // a pass names files by hand: they stay where they are
    let by_hand = sb.path("pass/MODIS_900.csv");
    std::fs::create_dir_all(by_hand.parent().unwrap()).unwrap();
    std::fs::write(&by_hand, firms_table(&[(37.53, 115.52, "2026-06-09", "0530")])).unwrap();
    let pass = sb.cmd().args(["pass", by_hand.to_str().unwrap()]).output().unwrap();
    assert!(pass.status.success(), "{}", String::from_utf8_lossy(&pass.stderr));
    assert!(by_hand.exists() && archived(&sb).is_empty());
    assert_eq!(sb.tickets().len(), 3);
}

/// A county-day of frames left in the inbox (`keep`) is not read again: a batch over it and one
/// new table hashes only the new table. Shown without a clock: every kept file is made unreadable
/// garbage of its own size and time, so any reread would quarantine it.
#[test]
fn r21_kept_inputs_are_never_read_again_while_unchanged() {
    let sb = Sandbox::new();
    let inputs = tables(&sb, 20);
    assert!(sb.cmd().args(["--set", "retention.inputs=\"keep\"", "run"]).output().unwrap().status.success());
    let before = sb.tickets().len();
    for p in &inputs {
        let meta = std::fs::metadata(p).unwrap();
        std::fs::write(p, vec![0u8; meta.len() as usize]).unwrap();
        std::fs::File::options().write(true).open(p).unwrap().set_modified(meta.modified().unwrap()).unwrap();
    }
    std::fs::write(
        sb.path("work/inbox/satellite/MODIS_new.csv"),
        firms_table(&[(37.53, 115.52, "2026-06-05", "0530")]),
    )
    .unwrap();
    let out = sb.cmd().args(["--set", "retention.inputs=\"keep\"", "run"]).output().unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("inputs: 21 found, 20 already done, 1 processed, 0 bad"), "{}", stdout(&out));
    assert_eq!(sb.tickets().len(), before + 1);
}

/// A frame observation of CAM01 at `at` (nothing flagged unless `sighting`), recorded as input
/// `sha` with its sighting when there is one.
fn record_frame(store: &mut Store, sha: &str, at: chrono::DateTime<Utc>, sighting: bool) {
    let cfg = Config::default();
    let frame = FrameObservation {
        camera_id: "CAM01".into(),
        camera_lon: 115.58,
        camera_lat: 37.58,
        captured_at: at,
        pan_deg: 40.0,
        tilt_deg: -1.0,
        hfov_deg: 30.0,
        score: if sighting { 0.9 } else { 0.1 },
        flagged: sighting,
        tile_box: [0.4, 0.5, 0.5, 0.6],
        azimuth_deg: Some(40.0),
        sigma_deg: 0.3,
        picture: None,
        view_off: None,
    };
    let mut located = Vec::new();
    if sighting {
        let mut d = Detection::point(SourceKind::Camera, 115.6, 37.6, at, 300.0);
        d.sensor = "CAM01".into();
        located.push(Located::on_farmland(d));
    }
    let input = InputRef {
        path: Path::new(sha),
        sha256: sha,
        kind: "frame",
        frame: Some(&frame),
        note: None,
        forecasts: &[],
        view: None,
    };
    let notify = firepoint::notify::NotifyConfig::default();
    record_input(store, input, &located, &cfg.rules(), cfg.persistence.cell_deg, &notify).unwrap();
}

/// Pruning keeps what the county's record and the inbox check need: per-frame results go after
/// `frames_days` (on the towers' clock); a frame's input row goes with them only once its file has left the inbox and
/// when no sighting refers to it; batch records after `runs_days`. Recent rows stay.
fn r21_pruning_keeps_the_record_and_the_inbox_check(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let long_ago = Utc.with_ymd_and_hms(2026, 1, 5, 3, 0, 0).unwrap();
    record_frame(&mut store, "old-left", long_ago, false);
    record_frame(&mut store, "old-in-inbox", long_ago, false);
    record_frame(&mut store, "old-sighting", long_ago, true);
    record_frame(&mut store, "recent", Utc::now(), false);
    for sha in ["old-left", "old-sighting", "recent"] {
        store.mark_file(sha, Some((10, 20)), Some(DELETED)).unwrap();
    }
    let run = |at: chrono::DateTime<Utc>| firepoint::store::BatchRun {
        worker: "t:1".into(),
        started_at: at,
        finished_at: at,
        outcome: "ok".into(),
        inputs: 1,
        processed: 1,
        skipped: 0,
        failed: 0,
        retried: 0,
        opened: 0,
        by_kind: Default::default(),
    };
    store.record_batch_run(&run(Utc::now() - Duration::days(200))).unwrap();
    store.record_batch_run(&run(Utc::now())).unwrap();
    // input rows are stamped with the time they were recorded (now): prune as of a day after
    // `frames_days` from now. Frames age on the towers' clock (the newest frame: now), so the
    // January frames go and the recent one stays, with its input row
    let policy = RetentionConfig::default();
    let pruned = store.prune(&policy, Utc::now() + Duration::days(policy.frames_days + 1)).unwrap();
    assert_eq!(pruned.frames, 3, "the three frames of January");
    let inputs = db.strings("SELECT sha256 FROM inputs ORDER BY sha256");
    assert_eq!(
        inputs,
        ["old-in-inbox", "old-sighting", "recent"],
        "in the inbox, a sighting's, a frame's: kept ({pruned})"
    );
    assert_eq!((pruned.inputs, pruned.batch_runs), (1, 1), "the 200-day-old record goes, the new one stays");
    assert_eq!(store.prune(&policy, Utc::now() + Duration::days(policy.frames_days + 1)).unwrap().total(), 0);
}

both!(r21_pruning_keeps_the_record_and_the_inbox_check);

/// A processed input that cannot leave (the archive is not a folder here) makes the batch partial,
/// is named, stays in the inbox with no place recorded (so pruning never forgets it), and the next
/// batch that can moves it without processing it again.
#[test]
fn r21_an_input_that_cannot_leave_is_said_kept_in_mind_and_moved_by_the_next_batch() {
    let sb = Sandbox::new();
    let inputs = tables(&sb, 2);
    std::fs::create_dir_all(sb.path("work")).unwrap();
    std::fs::write(sb.path("work/not-a-folder"), b"x").unwrap();
    let out = sb.cmd().args(["--set", "paths.archive=\"work/not-a-folder\"", "run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "partial: {stderr}");
    assert!(stderr.contains("MODIS_000.csv was processed but cannot archive it"), "{stderr}");
    assert!(inputs.iter().all(|p| p.exists()), "they stay");
    assert_eq!(sb.tickets().len(), 2);
    let s = store(&sb);
    assert_eq!(s.last_batch_run().unwrap().unwrap().outcome, "partial");
    let db = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let placed: i64 =
        db.query_row("SELECT count(*) FROM inputs WHERE archived_to IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(placed, 0, "no place recorded for files still in the inbox");
    let out = sb.cmd().arg("run").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("inputs: 2 found, 2 already done, 0 processed"), "{}", stdout(&out));
    assert!(inputs.iter().all(|p| !p.exists()) && archived(&sb).len() == 2);
    assert_eq!(sb.tickets().len(), 2);
}

/// Issue 22: `inbox/satellite` as a link to a folder outside the inbox. Unasked, nothing under it
/// is read or moved and the warning names the link and the key; with `batch.follow_linked_inbox`
/// (a share the upload server writes) its files are processed and archived like any other.
#[test]
fn r22_a_linked_inbox_folder_is_never_emptied_unless_the_county_says_it_is_its_share() {
    let sb = Sandbox::new();
    let share = sb.path("share/satellite");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::create_dir_all(sb.path("work/inbox")).unwrap();
    let table = share.join("MODIS_000.csv");
    std::fs::write(&table, firms_table(&[(37.53, 115.52, "2026-06-01", "0530")])).unwrap();
    std::os::unix::fs::symlink(&share, sb.path("work/inbox/satellite")).unwrap();

    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(table.exists(), "a file the county did not put in the inbox was moved");
    assert!(sb.tickets().is_empty(), "nothing under the link was read");
    assert!(
        stderr.contains("inbox/satellite") && stderr.contains("batch.follow_linked_inbox"),
        "the warning names the link and the key: {stderr}"
    );

    let out = sb.cmd().args(["--set", "batch.follow_linked_inbox=true", "run"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sb.tickets().len(), 1);
    assert!(!table.exists(), "the county's share: its file left like any inbox file");
    assert_eq!(archived(&sb).len(), 1);
    assert!(sb.path("work/inbox/satellite").is_dir(), "the link itself stays");
}
