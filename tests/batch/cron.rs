//! Issue 6: inputs that used to stop a county's cron for good. Each test runs the binary the way
//! cron does (`firepoint run` over an inbox) and checks the exit code, stderr and what is kept.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{files_under, firms_table, Sandbox};

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Runs `firepoint run` and kills it after `limit`: a hang fails the test instead of the suite.
fn run_bounded(sb: &Sandbox, args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = sb
        .std_cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("`firepoint {}` still running after {limit:?}: it hangs", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn r6_impossible_dates_are_bad_rows_and_the_store_stays_readable() {
    let sb = Sandbox::new();
    let table = firms_table(&[
        (37.60, 115.60, "+12345-01-01", "0530"),
        (37.61, 115.61, "-0001-06-10", "0530"),
        (37.62, 115.62, "9999-12-31", "2359"),
        (37.63, 115.63, "1999-12-31", "0530"),
        (37.60, 115.70, "2026-06-10", "0530"),
    ]);
    write(&sb.path("work/inbox/satellite/MODIS_dates.csv"), table);
    let pose = r#"{"camera_id": "CAM03", "captured_at": "9999-12-31T23:55:00Z", "pan_deg": 64.0, "tilt_deg": -1.5, "hfov_deg": 40.0}"#;
    write(&sb.path("work/inbox/frames/CAM03/late.json"), pose);
    let mut img = image::RgbImage::new(64, 48);
    img.pixels_mut().for_each(|p| *p = image::Rgb([120, 140, 160]));
    img.save(sb.path("work/inbox/frames/CAM03/late.jpg")).unwrap();

    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "bad rows and a bad frame: partial; {stderr}");
    for line in ["line 2", "line 3", "line 4", "line 5"] {
        assert!(stderr.contains(line), "{line} named: {stderr}");
    }
    assert!(stderr.contains("late.jpg") && stderr.contains("captured_at"), "{stderr}");
    assert_eq!(sb.tickets().len(), 1, "the good row's fire");
    // every reader of the store still works, and later batches still ingest
    for args in [&["report", "--day", "2026-06-10"][..], &["tickets", "list"][..]] {
        sb.cmd().args(args).assert().success();
    }
    write(&sb.path("work/inbox/satellite/MODIS_next.csv"), firms_table(&[(37.70, 115.60, "2026-06-11", "0530")]));
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(sb.tickets().len(), 2);
}

/// A GeoTIFF that declares `size`² pixels but holds almost nothing (sparse, a few KB).
fn sparse_tif(path: &Path, size: usize, georef: bool) {
    use gdal::Metadata;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let opts = gdal::cpl::CslStringList::from_iter([
        "SPARSE_OK=TRUE",
        "TILED=YES",
        "BLOCKXSIZE=4096",
        "BLOCKYSIZE=4096",
        "BIGTIFF=YES",
    ]);
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(path, size, size, 2, &opts).unwrap();
    if georef {
        ds.set_geo_transform(&[115.0, 1e-5, 0.0, 38.0, 0.0, -1e-5]).unwrap();
        ds.set_metadata_item("ACQUISITION_TIME", "2026-06-10T05:30:00Z", "").unwrap();
        for (i, um) in ["3.9", "11.0"].iter().enumerate() {
            ds.rasterband(i + 1).unwrap().set_metadata_item("WAVELENGTH_UM", um, "").unwrap();
        }
    }
}

#[test]
fn r6_geotiff_declaring_100000_squared_pixels_is_quarantined_without_reading() {
    let sb = Sandbox::new();
    let tif = sb.path("work/inbox/satellite/huge.tif");
    sparse_tif(&tif, 100_000, true);
    assert!(std::fs::metadata(&tif).unwrap().len() < 5_000_000, "the file itself is small");
    let out = run_bounded(&sb, &["run"], Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("huge.tif") && stderr.contains("limits.max_pixels"), "{stderr}");
    let note = files_under(&sb.path("work/quarantine")).into_iter().find(|p| p.ends_with("huge.tif.error.txt"));
    assert!(std::fs::read_to_string(note.expect("note")).unwrap().contains("100000 × 100000"));
    // the next run is clean: the file left the inbox
    sb.cmd().arg("run").assert().code(0);
    // a larger limit reads a genuine large scene: 3000² is under a raised limit, and over a tiny one
    let ok = sb.path("work/inbox/satellite/ok.tif");
    sparse_tif(&ok, 3000, true);
    let out = sb.cmd().args(["--set", "limits.max_pixels=1000000", "run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("3000 × 3000"), "limit is configurable");
}

#[test]
fn r6_sparse_huge_dem_fails_aoi_check_with_the_reason() {
    let sb = Sandbox::new();
    let aoi = sb.copy_aoi(false);
    sparse_tif(&aoi.join("dem.tif"), 100_000, true);
    let out = run_bounded(&sb, &["aoi", "check", aoi.to_str().unwrap()], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dem.tif") && stderr.contains("too large"), "{stderr}");
}

#[test]
fn r6_inbox_walk_does_not_follow_a_folder_link_out_of_the_inbox() {
    let sb = Sandbox::new();
    let outside = sb.path("elsewhere");
    write(&outside.join("not_yours.csv"), "this,is,not\na,fire,table\n");
    std::fs::create_dir_all(sb.path("work/inbox/satellite")).unwrap();
    std::os::unix::fs::symlink(&outside, sb.path("work/inbox/satellite/link")).unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(outside.join("not_yours.csv").exists(), "a file outside the inbox was moved");
    assert!(!sb.path("work/quarantine").exists());
}

#[test]
fn r6_fifo_and_device_link_are_named_and_skipped_without_hanging() {
    let sb = Sandbox::new();
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.tif");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.tif")).unwrap();
    write(&dir.join("MODIS_ok.csv"), firms_table(&[(37.60, 115.70, "2026-06-10", "0530")]));
    let out = run_bounded(&sb, &["run"], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("pipe.tif") && stderr.contains("zero.tif"), "both named: {stderr}");
    assert_eq!(sb.tickets().len(), 1, "the real input was processed");
    assert!(fifo.exists(), "left where it is");
    // named by hand, a FIFO is a bad input (exit 1), not a hang
    let out = run_bounded(&sb, &["pass", fifo.to_str().unwrap()], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn r6_a_dead_batch_lock_is_taken_over_and_a_stuck_one_is_reported() {
    use std::io::Write;
    let sb = Sandbox::new();
    write(&sb.path("work/inbox/satellite/MODIS_a.csv"), firms_table(&[(37.60, 115.70, "2026-06-10", "0530")]));
    // a lock file left by a killed batch: nobody holds the OS lock, so it is taken over
    let lock = sb.path("work/firepoint.lock");
    write(&lock, "pid 999999 since 2020-01-01T00:00:00Z\n");
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(sb.tickets().len(), 1);

    // a batch that holds the lock: recent → a quiet note, exit 0; for hours → stuck, exit 2
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.try_lock().unwrap();
    let stamp = |t: chrono::DateTime<chrono::Utc>| {
        held.set_len(0).unwrap();
        std::io::Seek::rewind(&mut &held).unwrap();
        (&held).write_all(format!("pid 4242 since {}\n", t.to_rfc3339()).as_bytes()).unwrap();
    };
    stamp(chrono::Utc::now());
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another firepoint batch is running"));
    stamp(chrono::Utc::now() - chrono::Duration::hours(3));
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stuck") && stderr.contains("pid 4242"), "{stderr}");
}

#[test]
fn r6_quarantine_keeps_same_named_files_from_different_folders() {
    let sb = Sandbox::new();
    let inbox = sb.path("work/inbox");
    write(&inbox.join("satellite/a/t.csv"), "no,layout,here\n1,2,3\n");
    write(&inbox.join("satellite/b/t.csv"), "still,no,layout\n4,5,6\n");
    for cam in ["CAM03", "CAM05"] {
        write(&inbox.join(format!("frames/{cam}/img.jpg")), format!("not a jpeg from {cam}"));
        let pose = format!(
            r#"{{"camera_id": "{cam}", "captured_at": "2026-06-10T05:31:00Z", "pan_deg": 0.0, "tilt_deg": -1.0, "hfov_deg": 40.0}}"#
        );
        write(&inbox.join(format!("frames/{cam}/img.json")), pose);
    }
    sb.cmd().arg("run").assert().code(1);
    let kept = files_under(&sb.path("work/quarantine"));
    for rel in ["satellite/a/t.csv", "satellite/b/t.csv", "frames/CAM03/img.jpg", "frames/CAM05/img.jpg"] {
        let hit = kept.iter().find(|p| p.ends_with(rel)).unwrap_or_else(|| panic!("{rel} not kept: {kept:?}"));
        assert!(hit.with_file_name(format!("{}.error.txt", hit.file_name().unwrap().to_str().unwrap())).exists());
    }
    assert!(kept.iter().any(|p| p.ends_with("frames/CAM05/img.json")), "sidecar beside its frame");
    let texts: Vec<String> = kept
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        texts.contains(&"not a jpeg from CAM03".to_string()) && texts.contains(&"not a jpeg from CAM05".to_string())
    );
}

#[test]
fn r6_a_huge_header_line_gives_a_short_error() {
    let sb = Sandbox::new();
    let header = "x".repeat(2_000_000);
    write(&sb.path("work/inbox/satellite/header_only.csv"), format!("{header}\n"));
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.len() < 5_000, "stderr is {} bytes", out.stderr.len());
    let note =
        files_under(&sb.path("work/quarantine")).into_iter().find(|p| p.to_string_lossy().ends_with(".error.txt"));
    let note = std::fs::read_to_string(note.unwrap()).unwrap();
    assert!(note.len() < 5_000 && note.contains("header_only.csv") && note.contains("more bytes"), "{}", note.len());
}

#[test]
fn r6_errors_name_the_thing_and_print_their_cause_once() {
    let sb = Sandbox::new();
    write(&sb.path("work/firepoint.sqlite"), "this is not a database, it is a text file that is long enough");
    let out = sb.cmd().args(["tickets", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ticket store work/firepoint.sqlite"), "{stderr}");
    assert_eq!(stderr.matches("not a database").count(), 1, "{stderr}");

    let out = sb.cmd().args(["--set", "sla.on_site_minutes=12", "config"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert_eq!(stderr.matches("on_site_minutes").count(), 1, "{stderr}");
}

#[test]
fn r6_typed_choices_are_refused_by_the_command_line() {
    let sb = Sandbox::new();
    for args in [
        &["tickets", "list", "--status", "burning"][..],
        &["tickets", "list", "--format", "xml"][..],
        &["report", "--format", "pdf"][..],
        &["validate", "goes", "--l1b", "a.nc", "--fdc", "b.nc", "--offset", "5"][..],
    ] {
        let out = sb.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: usage error, not a panic (101)");
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"), "{args:?}");
    }
}

#[test]
fn r6_trial_overlapping_downloads_never_count_a_fire_point_twice() {
    let sb = Sandbox::new();
    let row = (37.64, 115.60, "2026-06-10", "0530");
    write(&sb.path("work/inbox/satellite/FIRMS_24h.csv"), firms_table(&[row]));
    sb.cmd().arg("run").assert().code(0);
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    sb.cmd().args(["tickets", "resolve", &id, "--by", "网格员", "--action", "已扑灭"]).assert().success();
    // the 48-hour download repeats the row (and adds a new fire); a resend differs by a blank line
    let both = firms_table(&[row, (37.70, 115.75, "2026-06-11", "0530")]);
    write(&sb.path("work/inbox/satellite/FIRMS_48h.csv"), &both);
    write(&sb.path("work/inbox/satellite/FIRMS_48h_resent.csv"), format!("{both}\n"));
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 sighting(s) already recorded"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 2, "the closed fire is not reopened or duplicated: {tickets:#?}");
    assert!(tickets.iter().all(|t| t["detections"] == 1));
}

#[test]
fn r6_trial_one_absurd_row_is_a_bad_row_and_a_quiet_day_is_fine() {
    let sb = Sandbox::new();
    let mut table = firms_table(&[(37.64, 115.60, "2026-06-10", "0530"), (37.70, 115.75, "2026-06-10", "0530")]);
    table += "37.66,115.66,330.0,1e308,1.0,2026-06-10,0530,A,80,6.1NRT,295.0,10.0,D\n";
    table += "37.67,115.67,330.0,0,-3,2026-06-10,0530,A,nan,6.1NRT,295.0,10.0,D\n";
    write(&sb.path("work/inbox/satellite/FIRMS_rows.csv"), table);
    write(&sb.path("work/inbox/satellite/FIRMS_quiet_day.csv"), format!("{}\n", common::FIRMS_MODIS_HEADER));
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "two bad rows: partial; {stderr}");
    assert!(
        stderr.contains("line 4") && stderr.contains("line 5") && stderr.contains("not a satellite pixel"),
        "{stderr}"
    );
    assert!(!stderr.contains("FIRMS_quiet_day"), "a header-only table is a day without fires: {stderr}");
    assert_eq!(sb.tickets().len(), 2, "the good rows are processed");
}

#[test]
fn r6_trial_a_goes_scene_waits_for_its_channel_14_and_the_cli_says_what_it_did() {
    let sb = Sandbox::new();
    let c07 =
        sb.path("work/inbox/satellite/OR_ABI-L1b-RadM1-M6C07_G17_s20193002000275_e20193002000344_c20193002000390.nc");
    write(&c07, "not yet a netcdf, channel 14 not here either");
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not arrived yet") && c07.exists());
    sb.cmd().args(["--set", "batch.companion_wait_min=0", "run"]).assert().code(1);
    assert!(!c07.exists(), "after the wait: quarantined");
    // zero bytes, a missing inbox, a missing file, a blank name: each said plainly
    write(&sb.path("work/inbox/satellite/zero.tif"), "");
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zero.tif is empty (0 bytes)"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {stderr}");
    let out = sb.cmd().args(["--set", "paths.inbox=\"work/inbxo\"", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("work/inbxo does not exist"));
    let out = sb.cmd().args(["pass", "nope.tif"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nope.tif: no such file"));
    assert!(files_under(&sb.path("work/quarantine")).iter().all(|p| !p.to_string_lossy().contains("nope")));
    let out = sb.cmd().args(["tickets", "ack", "FP-X", "--by", "  "]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a blank name is refused");
}

#[test]
fn r6_trial_a_pass_that_finds_a_batch_running_says_it_did_nothing() {
    let sb = Sandbox::new();
    let lock = sb.path("work/firepoint.lock");
    write(&lock, "");
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.try_lock().unwrap();
    let table = sb.path("t.csv");
    write(&table, firms_table(&[(37.64, 115.60, "2026-06-10", "0530")]));
    let out = sb.cmd().args(["pass", table.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run the pass again"));
    // cron's `run` overlapping a batch is the quiet case
    std::fs::create_dir_all(sb.path("work/inbox")).unwrap();
    sb.cmd().arg("run").assert().code(0);
}
