//! The binary run the way cron runs it: exit codes, stderr, files on disk.

mod common;

use common::{lonlat, metres, Sandbox};
use predicates::prelude::*;

#[test]
fn demo_batch_tickets_every_planted_fire_and_not_the_cement_plant() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd()
        .arg("run")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 suppressed on known heat sources"))
        .stdout(predicate::str::contains("1 outside the county (dropped)"));
    let tickets = sb.tickets();
    let truth = sb.truth();
    for fire in truth["satellite"].as_array().unwrap() {
        let expect = fire["expect"].as_str().unwrap();
        let near: Vec<_> = tickets.iter().filter(|t| metres(lonlat(t), lonlat(fire)) < 1500.0).collect();
        if expect.starts_with("ticket") {
            // one ticket per grid cell the fire's pixels fall in, each naming the others
            assert!(!near.is_empty(), "planted fire {fire} should have a ticket, tickets: {tickets:#?}");
            for t in &near {
                assert!(t["sources"].as_array().unwrap().contains(&"satellite".into()));
                let related = t["related"].as_array().unwrap();
                assert_eq!(related.len(), near.len() - 1, "{fire}: the tickets of one fire name each other: {near:#?}");
                assert!(near.iter().filter(|o| o["id"] != t["id"]).all(|o| related.contains(&o["id"])));
            }
            let cells: std::collections::HashSet<_> = near.iter().map(|t| t["grid_id"].as_str().unwrap()).collect();
            assert_eq!(cells.len(), near.len(), "one ticket per grid cell: {near:#?}");
        } else {
            assert!(near.is_empty(), "planted {fire} must not be ticketed");
        }
    }
    let high: Vec<_> = tickets.iter().filter(|t| t["priority"] == "high").collect();
    assert_eq!(high.len(), 1, "only the fire near station 1999B is high priority: {tickets:#?}");
    assert!(high[0]["reasons"][0].as_str().unwrap().contains("national station"));
    // the feed files were written and agree with the store
    let feed = std::fs::read_to_string(sb.path("work/feed/tickets.jsonl")).unwrap();
    assert_eq!(feed.lines().count(), tickets.len());
    let gj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("work/feed/tickets.geojson")).unwrap()).unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), tickets.len());
}

#[test]
fn rerun_of_the_same_inbox_creates_no_duplicate_tickets() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let first = sb.tickets();
    assert!(!first.is_empty());
    // the processed inputs left the inbox (issue 21): a rerun finds nothing to do
    sb.cmd().arg("run").assert().code(0).stdout(predicate::str::contains("inputs: 0 found"));
    // simulate rewrites the same files byte for byte (a delivery repeated): known by content,
    // skipped, and archived in turn
    sb.simulate();
    sb.cmd()
        .arg("run")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("38 already done")) // the scene, 3 towers × 12 frames, the forecast
        .stdout(predicate::str::contains("tickets: 0 new"));
    assert!(common::files_under(&sb.path("work/inbox")).is_empty(), "the repeated delivery left the inbox too");
    assert_eq!(sb.tickets(), first);
}

#[test]
fn r2_corrupt_frame_and_truncated_geotiff_exit_partial_named_and_quarantined() {
    let sb = Sandbox::new();
    sb.simulate();
    let frame = sb.path("work/inbox/frames/CAM05/CAM05_20260610T053100Z.jpg");
    std::fs::write(&frame, b"\xff\xd8\xff\xe0 this is not a jpeg").unwrap();
    let scene = std::fs::read_dir(sb.path("work/inbox/satellite")).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&scene).unwrap();
    let truncated = sb.path("work/inbox/satellite/SIM_AQUA_20260610T0700Z_truncated.tif");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "partial batch exits 1; stderr: {stderr}");
    assert!(stderr.contains("CAM05_20260610T053100Z.jpg"), "stderr names the frame: {stderr}");
    assert!(stderr.contains("SIM_AQUA_20260610T0700Z_truncated.tif"), "stderr names the scene: {stderr}");
    // the good scene still produced its tickets (4: the two-pixel fire spans two grid cells), and
    // the towers watching the two fires theirs
    assert_eq!(sb.tickets().len(), 6);
    // bad files left the inbox for the quarantine folder, each with its error beside it
    assert!(!frame.exists() && !truncated.exists());
    let q: Vec<_> = common::files_under(&sb.path("work/quarantine"));
    for name in [
        "CAM05_20260610T053100Z.jpg",
        "CAM05_20260610T053100Z.json",
        "SIM_AQUA_20260610T0700Z_truncated.tif",
        "CAM05_20260610T053100Z.jpg.error.txt",
        "SIM_AQUA_20260610T0700Z_truncated.tif.error.txt",
    ] {
        assert!(q.iter().any(|p| p.ends_with(name)), "{name} not in quarantine: {q:?}");
    }
    // the next cron run has nothing bad left: exit 0
    sb.cmd().arg("run").assert().code(0);
}

#[test]
fn camera_sightings_of_one_fire_merge_into_one_ticket() {
    // the spine's single-frame model at threshold 0 flags every frame: this tests the camera
    // plumbing (geolocation, merging, deadlines), not a model's judgement
    let sb = Sandbox::new();
    sb.simulate();
    let spine = format!("camera.model={:?}", common::repo_path("models/smoke-patch-v1.onnx"));
    sb.cmd()
        .args(["--set", &spine, "--set", "camera.threshold=0.0", "run"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("frames: 36 scored, 36 with smoke"))
        // the sample frames are from June 2026: every camera alarm is late against the 2-minute rule
        .stdout(predicate::str::contains("pushed later than sla.alarm_min"));
    let out = sb.cmd().args(["--set", &spine, "--set", "camera.threshold=0.0", "run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 processed"), "a rerun adds nothing");
    let tickets = sb.tickets();
    let cam: Vec<_> = tickets.iter().filter(|t| t["sources"] == serde_json::json!(["camera"])).collect();
    let total: i64 = cam.iter().map(|t| t["detections"].as_i64().unwrap()).sum();
    // the first flagged frame of each view waits for a second one (confirmation: 2 of the last 3)
    let awaiting = 36 - total;
    assert!(awaiting >= 3, "the first frame of each of the three views waits: {cam:#?}");
    assert!(cam.len() >= 2, "CAM03's and CAM08's plumes are confirmed by their second frames: {cam:#?}");
    for t in cam {
        let first = chrono::DateTime::parse_from_rfc3339(t["first_seen"].as_str().unwrap()).unwrap();
        let due = chrono::DateTime::parse_from_rfc3339(t["deadline"].as_str().unwrap()).unwrap();
        let minutes = (due - first).num_minutes();
        assert!(
            minutes == 15 || minutes == 10,
            "camera tickets are due on site in 15 (high: 10) minutes, got {minutes}"
        );
    }
}

#[test]
fn tickets_are_acknowledged_then_closed_and_not_reopened() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    sb.cmd().args(["tickets", "ack", &id, "--by", "网格员001"]).assert().success();
    sb.cmd().args(["tickets", "on-site", &id, "--by", "网格员001"]).assert().success();
    sb.cmd().args(["tickets", "resolve", &id, "--by", "网格员001", "--action", "已扑灭"]).assert().success();
    let t = sb.tickets().into_iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(t["status"], "resolved");
    assert_eq!(
        (&t["acked_by"], &t["on_site_by"], &t["closed_by"]),
        (&"网格员001".into(), &"网格员001".into(), &"网格员001".into())
    );
    assert_eq!(t["close_note"], "已扑灭");
    sb.cmd()
        .args(["tickets", "ack", &id, "--by", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("ticket {id} is resolved; cannot ack it")));
    sb.cmd().args(["tickets", "list", "--status", "resolved"]).assert().success().stdout(predicate::str::contains(&id));
    // the audit log: who and when of every step
    let log = sb.cmd().args(["tickets", "log", &id]).output().unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    let actions: Vec<&str> = log.lines().map(|l| l.split_whitespace().nth(3).unwrap()).collect();
    assert_eq!(actions, ["open", "ack", "on_site", "resolve"], "{log}");
}

#[test]
fn unknown_config_key_is_fatal_and_says_so() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["--set", "sla.on_site_minutes=5", "config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("on_site_minutes"));
}

#[test]
fn broken_aoi_layer_names_the_file_and_the_field() {
    let sb = Sandbox::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let aoi = sb.path("aoi");
    std::fs::create_dir_all(&aoi).unwrap();
    for e in std::fs::read_dir(repo.join("aoi")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, aoi.join(p.file_name().unwrap())).unwrap();
    }
    let villages = aoi.join("villages.geojson");
    let text = std::fs::read_to_string(&villages).unwrap().replace("\"grid_id\"", "\"grid\"");
    std::fs::write(&villages, text).unwrap();
    sb.cmd()
        .args(["aoi", "check", aoi.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("villages.geojson").and(predicate::str::contains("grid_id")));
}

#[test]
fn r2_same_scene_delivered_twice_under_two_names_is_processed_once() {
    let sb = Sandbox::new();
    sb.simulate();
    let scene = std::fs::read_dir(sb.path("work/inbox/satellite")).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&scene, sb.path("work/inbox/satellite/copy_of_the_pass.tif")).unwrap();
    sb.cmd().arg("run").assert().code(0).stdout(predicate::str::contains("1 already done"));
    assert_eq!(sb.tickets().len(), 6, "4 of the pass, 2 of the towers");
}

#[test]
fn example_config_lists_every_key_with_its_default() {
    let sb = Sandbox::new();
    let out = assert_cmd::Command::cargo_bin("firepoint")
        .unwrap()
        .current_dir(sb.dir.path())
        .env_remove("FIREPOINT_CONFIG")
        .arg("config")
        .output()
        .unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/firepoint.example.toml")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        example,
        "regenerate with `firepoint config > firepoint.example.toml`"
    );
}

#[test]
fn sample_district_regenerates_byte_for_byte() {
    let sb = Sandbox::new();
    let out = sb.path("aoi");
    sb.cmd().args(["aoi", "generate", "--out", out.to_str().unwrap()]).assert().success();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(repo.join(name)).unwrap(), "{name:?} differs from aoi/");
    }
}

#[test]
fn r3_table_with_a_bad_row_is_processed_and_the_row_named() {
    let sb = Sandbox::new();
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    // two fires inside the sample county, one row with a broken longitude, one far outside
    std::fs::write(
        dir.join("MODIS_C6_1_sample.csv"),
        common::FIRMS_MODIS_HEADER.to_string()
            + "
37.62,115.63,330.5,1.0,1.0,2026-06-10,0530,A,80,6.1NRT,295.1,12.3,D
37.70,115.85,325.0,1.1,1.0,2026-06-10,0530,A,70,6.1NRT,294.0,8.0,D
37.70,oops,325.0,1.1,1.0,2026-06-10,0530,A,70,6.1NRT,294.0,8.0,D
10.0,10.0,325.0,1.1,1.0,2026-06-10,0530,A,70,6.1NRT,294.0,8.0,D
",
    )
    .unwrap();
    sb.cmd()
        .arg("run")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("MODIS_C6_1_sample.csv line 4"))
        .stdout(predicate::str::contains("1 outside the county (dropped)"));
    assert_eq!(sb.tickets().len(), 2);
}

#[test]
fn overlapping_cron_run_stops_at_once_without_touching_the_inbox() {
    let sb = Sandbox::new();
    sb.simulate();
    std::fs::create_dir_all(sb.path("work")).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sb.path("work/firepoint.lock"))
        .unwrap();
    held.lock().unwrap(); // a long batch is running
    sb.cmd().arg("run").assert().code(0).stderr(predicate::str::contains("another firepoint batch is running"));
    assert!(!sb.path("work/feed/tickets.jsonl").exists(), "the second run did nothing");
    drop(held);
    sb.cmd().arg("run").assert().code(0).stdout(predicate::str::contains("tickets: 6 new"));
}

#[test]
fn a_township_team_lists_only_its_own_tickets() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let all = sb.tickets();
    let code = all[0]["township_code"].as_str().unwrap().to_string();
    let out = sb.cmd().args(["tickets", "list", "--format", "jsonl", "--township", &code]).output().unwrap();
    let mine: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!mine.is_empty() && mine.len() < all.len(), "{} of {}", mine.len(), all.len());
    assert!(mine.iter().all(|t| t["township_code"] == code.as_str()));
}

#[test]
fn a_missing_onnx_runtime_is_fatal_before_anything_is_recorded() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .arg("run")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot load ONNX Runtime from /nonexistent/libonnxruntime.so"));
    assert!(sb.tickets().is_empty(), "nothing was processed, so the next run does everything");
}

#[test]
fn r9_the_report_counts_checked_and_false_alarms_and_draws_the_map() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let ids: Vec<String> = sb.tickets().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    sb.cmd().args(["tickets", "resolve", &ids[0], "--by", "甲", "--action", "扑灭"]).assert().success();
    sb.cmd().args(["tickets", "false-alarm", &ids[1], "--by", "乙", "--cause", "cloud_fog"]).assert().success();
    sb.cmd().args(["tickets", "false-alarm", &ids[2], "--by", "乙", "--cause", "fog"]).assert().code(2);
    let png = sb.path("week.png");
    let out = sb.cmd().args(["report", "--week", "2026-W24", "--format", "csv", "--map"]).arg(&png).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let total = r.records().map(Result::unwrap).last().unwrap();
    let col = |name: &str| total[header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!((col("tickets"), col("resolved"), col("false_alarm")), (ids.len().to_string(), "1".into(), "1".into()));
    // the demo's points are days old: every one still open is overdue, the two closed ones late
    assert_eq!(col("overdue"), ids.len().to_string());
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1640, 1000));
}

#[test]
fn r9_token_commands_refuse_a_store_that_is_not_there() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["--set", "paths.store=\"work/typo/firepoint.sqlite\"", "token", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no ticket store at"));
    assert!(!sb.path("work/typo").exists(), "nothing was created at the mistyped path");
    sb.cmd()
        .args(["--set", "notify.sms_template=\"请{member}于{deadine}前到场\"", "config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown placeholder {deadine}"));
    sb.cmd().args(["--set", "sla.satellite_cutoff=\"25:00\"", "config"]).assert().code(2);
    sb.cmd().args(["--set", "sla.ack_min=30", "config"]).assert().code(2);
    // values that parse but make no sense, each named
    for (set, says) in [
        ("notify.webhook_url=\"http://\"", "notify.webhook_url"),
        ("notify.sms_url=\"http://127.0.0.1:99999/x\"", "port"),
        ("notify.webhook_url=\"ftp://x\"", "not an http"),
        ("persistence.cell_deg=0", "persistence.cell_deg"),
        ("events.merge_radius_m=nan", "events.merge_radius_m"),
        ("events.station_alert_m=-1", "events.station_alert_m"),
        ("camera.threshold=2", "camera.threshold"),
        ("confirm.frames=5", "confirm"),
        ("serve.allowed_hosts=[]", "serve.allowed_hosts"),
    ] {
        sb.cmd().args(["--set", set, "config"]).assert().code(2).stderr(predicate::str::contains(says));
    }
}
