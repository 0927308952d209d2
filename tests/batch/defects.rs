//! Issue 18's stop-the-line defects, each a regression test that failed before its fix.

use crate::common;

use common::Sandbox;
use std::collections::HashMap;

/// Two FIRMS tables of one reporting day whose tickets' short ids (`FP-<day>-` + 6 hex digits,
/// 24 bits) are the same: found by trying brightness values until two tables' first ids meet.
fn colliding_tables() -> (String, String) {
    use sha2::{Digest, Sha256};
    let row = |lat: f64, lon: f64, bright: u32| {
        format!(
            "{}\n{lat:.4},{lon:.4},{}.{:02},1.0,1.0,2026-06-03,0530,A,80,6.1NRT,295.0,10.0,D\n",
            common::FIRMS_MODIS_HEADER,
            330 + bright / 100,
            bright % 100
        )
    };
    let seen = chrono::DateTime::parse_from_rfc3339("2026-06-03T05:30:00Z").unwrap().with_timezone(&chrono::Utc);
    let id = |text: &str| {
        let sha = format!("{:x}", Sha256::digest(text.as_bytes()));
        firepoint::events::ticket_id(&sha, 0, seen)
    };
    // two places 20 km apart in the sample county, so the two fires never merge
    let mut first: HashMap<String, String> = HashMap::new();
    for k in 0..40_000 {
        let a = row(37.53, 115.52, k);
        first.insert(id(&a), a);
        let b = row(37.71, 115.66, k);
        if let Some(a) = first.get(&id(&b)) {
            return (a.clone(), b);
        }
    }
    panic!("no 24-bit collision among 40,000 × 40,000 ids (expected thousands)");
}

/// Issue 18: two tickets of one day whose 24-bit ids collided made the second input fail with
/// "UNIQUE constraint failed: tickets.id" — every later run exited 2 and nothing after that input
/// was ever processed. Now the second ticket takes a longer id and both runs go through.
#[test]
fn r18_colliding_ticket_ids_are_resolved_never_fatal() {
    let (a, b) = colliding_tables();
    let sb = Sandbox::new();
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("MODIS_a.csv"), &a).unwrap();
    sb.cmd().arg("run").assert().code(0);
    std::fs::write(dir.join("MODIS_b.csv"), &b).unwrap();
    // a third, ordinary input after the colliding one: it must be processed too
    std::fs::write(dir.join("MODIS_c.csv"), common::firms_table(&[(37.62, 115.80, "2026-06-03", "0530")])).unwrap();
    sb.cmd().arg("run").assert().code(0);
    let mut ids: Vec<String> = sb.tickets().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "one ticket per fire: {ids:?}");
    let short: Vec<&String> = ids.iter().filter(|i| i.len() == "FP-20260603-".len() + 6).collect();
    let long: Vec<&String> = ids.iter().filter(|i| i.len() == "FP-20260603-".len() + 8).collect();
    assert_eq!((short.len(), long.len()), (2, 1), "the later of the colliding pair takes 8 digits: {ids:?}");
    assert!(long[0].starts_with(short.iter().find(|s| long[0].starts_with(s.as_str())).unwrap().as_str()));
    // a rerun changes nothing and fails nothing
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(sb.tickets().len(), 3);
}

/// Issue 18: the lock file beside the store and the feed's temporary file followed links planted
/// at their names and overwrote the link's target. The batch now refuses a linked lock file
/// (naming it) and writes the feed through fresh temporary files; the targets are untouched.
#[test]
fn r18_links_planted_at_the_lock_and_feed_names_are_never_followed() {
    let sb = Sandbox::new();
    let victim = sb.path("victim.conf");
    std::fs::write(&victim, "system file\n").unwrap();
    std::fs::create_dir_all(sb.path("work/feed")).unwrap();
    std::fs::create_dir_all(sb.path("work/inbox")).unwrap();
    std::os::unix::fs::symlink(&victim, sb.path("work/firepoint.lock")).unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("firepoint.lock") && stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "system file\n");

    std::fs::remove_file(sb.path("work/firepoint.lock")).unwrap();
    for name in ["tickets.tmp", "tickets.jsonl", "tickets.geojson"] {
        std::os::unix::fs::symlink(&victim, sb.path("work/feed").join(name)).unwrap();
    }
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "system file\n");
    let feed = std::fs::read_to_string(sb.path("work/feed/tickets.jsonl")).unwrap();
    assert_eq!(feed.lines().count(), sb.tickets().len());
    assert!(!std::fs::symlink_metadata(sb.path("work/firepoint.lock")).unwrap().file_type().is_symlink());
}
