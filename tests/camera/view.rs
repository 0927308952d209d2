//! Issue 19: camera alarms from what is new in a view, through the binary with the shipped view
//! model (models/smoke-view-v3.onnx) on the demo's tower sequences: a view's history, then a
//! plume that appears and grows (two towers), and a cloud drifting across a third tower's sky.

use crate::common;

use common::Sandbox;

/// `firepoint` with the shipped view model (the sandbox's default is the spine's patch model).
fn shipped_std(sb: &Sandbox) -> std::process::Command {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-view-v3.onnx");
    let mut cmd = sb.std_cmd();
    cmd.args(["--set", &format!("camera.model={model:?}")]);
    cmd
}

fn shipped(sb: &Sandbox) -> assert_cmd::Command {
    assert_cmd::Command::from_std(shipped_std(sb))
}

fn tickets(sb: &Sandbox) -> Vec<serde_json::Value> {
    let out = shipped(sb).args(["tickets", "list", "--format", "jsonl"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The district's village (code) at a point.
fn village_at(lon: f64, lat: f64) -> String {
    let aoi = firepoint::aoi::Aoi::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).unwrap();
    aoi.place(lon, lat).village.map(|v| v.code).unwrap_or_default()
}

fn camera_tickets(all: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    all.iter().filter(|t| t["sources"].as_array().unwrap().iter().any(|s| s == "camera")).collect()
}

#[test]
fn r19_the_demo_towers_raise_a_confirmed_ticket_in_each_planted_village_and_none_for_the_cloud() {
    let sb = Sandbox::new();
    sb.simulate();
    let out = shipped(&sb).arg("run").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let all = tickets(&sb);
    let camera = camera_tickets(&all);
    let truth = sb.truth();
    for planted in truth["camera"].as_array().unwrap() {
        let (lon, lat) = (planted["lon"].as_f64().unwrap(), planted["lat"].as_f64().unwrap());
        let expect = planted["expect"].as_str().unwrap();
        if !expect.starts_with("ticket") {
            continue;
        }
        let village = village_at(lon, lat);
        let hit = camera.iter().find(|t| t["village_code"] == village.as_str());
        let Some(t) = hit else {
            panic!("no camera ticket in village {village} for {planted}: {camera:#?}\n{stdout}");
        };
        assert!(common::metres(common::lonlat(t), (lon, lat)) < 800.0, "placed near the fire: {t}");
        assert!(t["detections"].as_i64().unwrap() >= 1);
    }
    // the cloud's tower raises nothing: no camera ticket names CAM05
    assert!(
        camera.iter().all(|t| !t["cameras"].as_array().unwrap().iter().any(|c| c == "CAM05")),
        "a drifting cloud made a ticket: {camera:#?}"
    );
    // every camera ticket was confirmed (k of n frames at the same place), none by one frame
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let awaiting: i64 = conn
        .query_row("SELECT count(*) FROM detections WHERE suppressed_by LIKE 'awaiting confirmation%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let views: i64 = conn.query_row("SELECT count(*) FROM views", [], |r| r.get(0)).unwrap();
    assert_eq!(views, 3, "one memory per tower preset");
    assert!(awaiting >= 2, "the first flagged frame of each fire waits for the next: {awaiting}");
}

/// A batch killed while it records the towers' frames, then run again, ends with the tickets and
/// the view memories of an uninterrupted batch: each memory is written with its frame.
#[test]
fn r19_a_batch_killed_mid_view_then_rerun_ends_as_an_uninterrupted_one() {
    let reference = Sandbox::new();
    reference.simulate();
    shipped(&reference).arg("run").assert().code(0);
    let memory = |sb: &Sandbox| -> Vec<(String, i64, String)> {
        let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
        let mut st = conn.prepare("SELECT camera_id, frames, memory FROM views ORDER BY camera_id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    let ids = |sb: &Sandbox| -> Vec<(String, i64)> {
        let mut v: Vec<_> = tickets(sb)
            .iter()
            .map(|t| (t["id"].as_str().unwrap().to_string(), t["detections"].as_i64().unwrap()))
            .collect();
        v.sort();
        v
    };
    let (want_ids, want_memory) = (ids(&reference), memory(&reference));
    let sb = Sandbox::new();
    sb.simulate();
    // kill once some frames, but not all, are recorded (read from the store, not a clock)
    let frames_now = |sb: &Sandbox| -> i64 {
        rusqlite::Connection::open_with_flags(
            sb.path("work/firepoint.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| c.query_row("SELECT count(*) FROM frames", [], |r| r.get(0)))
        .unwrap_or(0)
    };
    let mut child = shipped_std(&sb).arg("run").stdout(std::process::Stdio::null()).spawn().unwrap();
    while frames_now(&sb) < 8 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let killed_at = frames_now(&sb);
    shipped(&sb).arg("run").assert().code(0);
    assert_eq!(ids(&sb), want_ids, "killed after {killed_at} frames");
    assert_eq!(memory(&sb), want_memory, "killed after {killed_at} frames");
}
