//! A crash never loses a ticket and a rerun never duplicates one: a batch killed with SIGKILL
//! part-way, then run again, ends with exactly the tickets of an uninterrupted batch.

mod common;

use common::Sandbox;

/// 400 FIRMS tables, one fire each: 40 places 2.5 km or more apart inside the sample county, on
/// 10 different days (so no two are the same fire). About a second of work in a debug build.
fn inbox(sb: &Sandbox) {
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..400 {
        let (p, day) = (i % 40, 1 + i / 40);
        let (lon, lat) = (115.52 + (p % 10) as f64 * 0.035, 37.53 + (p / 10) as f64 * 0.06);
        let date = format!("2026-06-{day:02}");
        std::fs::write(dir.join(format!("MODIS_{i:03}.csv")), common::firms_table(&[(lat, lon, &date, "0530")]))
            .unwrap();
    }
}

fn ticket_ids(sb: &Sandbox) -> Vec<String> {
    let mut ids: Vec<String> = sb.tickets().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn batch_killed_midway_then_rerun_has_every_ticket_exactly_once() {
    let reference = Sandbox::new();
    inbox(&reference);
    reference.cmd().arg("run").assert().code(0);
    let want = ticket_ids(&reference);
    assert!(want.len() >= 350, "the grid gives well-separated fires: {}", want.len());

    // three kills that land mid-batch (some but not all inputs recorded); the delay adapts to
    // the machine's speed until a kill does land there
    let mut delay_ms = 150u64;
    let mut mid_batch = 0;
    for attempt in 0..12 {
        if mid_batch == 3 {
            break;
        }
        let sb = Sandbox::new();
        inbox(&sb);
        let mut child = sb.std_cmd().arg("run").stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no destructor, no rollback code runs
        let _ = child.wait();
        let stored = ticket_ids(&sb).len();
        eprintln!("attempt {attempt}: killed at {delay_ms} ms with {stored} of {} tickets stored", want.len());
        if stored == 0 {
            delay_ms *= 2;
            continue;
        }
        if stored == want.len() {
            delay_ms = (delay_ms / 2).max(10);
            continue;
        }
        mid_batch += 1;
        delay_ms += 120; // the next kill a little later in the batch
        sb.cmd().arg("run").assert().code(0);
        assert_eq!(ticket_ids(&sb), want, "after a kill at {delay_ms} ms and a rerun");
        let detections: i64 = sb.tickets().iter().map(|t| t["detections"].as_i64().unwrap()).sum();
        assert_eq!(detections as usize, want.len(), "no sighting counted twice");
    }
    assert_eq!(mid_batch, 3, "three kills must land mid-batch (some but not all inputs recorded)");
}
