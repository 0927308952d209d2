//! Many workers on one PostgreSQL store: four `firepoint run` workers share an inbox of ~2,000
//! inputs while workers are SIGKILLed at random and replaced; the store ends with exactly the
//! tickets one uninterrupted SQLite batch makes of the same inbox (same ids, same sightings,
//! same merges), no input lost, none recorded twice.
//!
//! Needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs it.

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Db, Sandbox};

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The shared inbox: 1,990 FIRMS tables of 1–3 rows from 160 fires in the sample county, each
/// fire seen again and again 5–40 minutes apart over a few hours (so later inputs join earlier
/// tickets, and neighbours straddle grid cells), plus bad inputs (a table with no valid row, an
/// empty file, a truncated GeoTIFF) that must be quarantined once.
fn inbox(sb: &Sandbox) -> usize {
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg(2026);
    let fires: Vec<(f64, f64, i64)> = (0..160)
        .map(|i| {
            let lon = 115.50 + rng.next() * 0.38;
            let lat = 37.52 + rng.next() * 0.20;
            (lon, lat, (i % 5) * 24 * 60 + (rng.next() * 600.0) as i64)
        })
        .collect();
    let mut clock: Vec<i64> = fires.iter().map(|f| f.2).collect();
    let n = 1990;
    for i in 0..n {
        let rows: Vec<(f64, f64, String, String)> = (0..1 + (rng.next() * 3.0) as usize)
            .map(|_| {
                let f = (rng.next() * fires.len() as f64) as usize;
                clock[f] += 5 + (rng.next() * 35.0) as i64;
                let t = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
                    + chrono::Duration::minutes(clock[f]);
                let jitter = |r: &mut Lcg| (r.next() - 0.5) * 0.004;
                let (lon, lat) = (fires[f].0 + jitter(&mut rng), fires[f].1 + jitter(&mut rng));
                (lat, lon, t.format("%Y-%m-%d").to_string(), t.format("%H%M").to_string())
            })
            .collect();
        let rows: Vec<(f64, f64, &str, &str)> =
            rows.iter().map(|(a, b, c, d)| (*a, *b, c.as_str(), d.as_str())).collect();
        std::fs::write(dir.join(format!("MODIS_{i:04}.csv")), common::firms_table(&rows)).unwrap();
    }
    std::fs::write(dir.join("MODIS_bad_rows.csv"), "latitude,longitude\nnot,a number\n").unwrap();
    std::fs::write(dir.join("MODIS_empty.csv"), "").unwrap();
    std::fs::write(dir.join("SCENE_truncated.tif"), b"II*\0\x08\0\0\0\xff").unwrap();
    n + 3
}

/// What makes two tickets the same: everything but the times the rows were written.
fn comparable(tickets: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = tickets
        .into_iter()
        .map(|mut t| {
            let o = t.as_object_mut().unwrap();
            o.remove("created_at");
            o.remove("updated_at");
            if let Some(r) = o.get_mut("related").and_then(|r| r.as_array_mut()) {
                r.sort_by_key(|v| v.to_string());
            }
            t
        })
        .collect();
    out.sort_by_key(|t| t["id"].as_str().unwrap().to_string());
    out
}

fn spawn_worker(sb: &Sandbox, store: &str) -> Child {
    sb.std_cmd()
        .args(["--set", &format!("paths.store={store:?}")])
        .args(["--set", "batch.claim_s=3", "--set", "batch.poll_ms=50", "--set", "camera.chunk=8"])
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r10_four_workers_killed_at_random_make_the_tickets_of_one_uninterrupted_sqlite_batch() {
    // the reference: one batch, SQLite, never interrupted
    let reference = Sandbox::new();
    let n = inbox(&reference);
    reference.cmd().arg("run").assert().code(1); // partial: the three bad inputs
    let want = comparable(reference.tickets());
    let joined: i64 = want.iter().map(|t| t["detections"].as_i64().unwrap()).sum();
    assert!(want.len() > 150 && joined > want.len() as i64 * 3, "{} tickets, {joined} sightings", want.len());
    assert!(want.iter().any(|t| !t["related"].as_array().unwrap().is_empty()), "some fires straddle grid cells");

    let db = Db::postgres();
    let url = db.path().display().to_string();
    let sb = Sandbox::new();
    assert_eq!(inbox(&sb), n);
    let mut workers: Vec<Child> = (0..4).map(|_| spawn_worker(&sb, &url)).collect();
    let mut rng = Lcg(7);
    let (mut kills, started) = (0, Instant::now());
    // kill a random worker every 0.3–1.5 s and start another in its place, 16 times
    while kills < 16 && started.elapsed() < Duration::from_secs(240) {
        std::thread::sleep(Duration::from_millis(300 + (rng.next() * 1200.0) as u64));
        let i = (rng.next() * workers.len() as f64) as usize;
        if workers[i].try_wait().unwrap().is_some() {
            break; // the queue ran dry: the workers are leaving
        }
        let _ = workers[i].kill(); // SIGKILL: no destructor, no rollback code runs
        let _ = workers[i].wait();
        kills += 1;
        workers[i] = spawn_worker(&sb, &url);
    }
    for w in &mut workers {
        let status = w.wait().unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "a worker failed: {status:?}");
    }
    eprintln!("{kills} workers killed in {:.0?}; {} tickets expected", started.elapsed(), want.len());
    assert!(kills >= 4, "the kills landed while work remained ({kills})");
    // a last worker finds nothing left to do
    let last = sb.cmd().args(["--set", &format!("paths.store={url:?}")]).arg("run").output().unwrap();
    let said = String::from_utf8_lossy(&last.stdout);
    assert!(said.contains("0 processed"), "{said}");

    let got = comparable({
        let out = sb
            .cmd()
            .args(["--set", &format!("paths.store={url:?}"), "tickets", "list", "--format", "jsonl"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    });
    assert_eq!(got.len(), want.len(), "same number of tickets");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "ticket {} differs", w["id"]);
    }
    // every input recorded exactly once (done or quarantined), every sighting once
    let inputs = db.strings("SELECT status || ':' || count(*) FROM inputs GROUP BY status ORDER BY status");
    assert_eq!(inputs, [format!("done:{}", n - 3), "quarantined:3".to_string()]);
    let queue = db.strings("SELECT CAST(count(*) AS TEXT) FROM queue");
    assert_eq!(queue, ["0"]);
    let log_opens = db.strings("SELECT CAST(count(*) AS TEXT) FROM ticket_log WHERE action = 'open'");
    assert_eq!(log_opens, [want.len().to_string()], "one audit row per ticket opened");
}

/// A bearer-token request to the feed; (status, body).
fn call(port: u16, method: &str, path: &str, token: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("Bearer {token}");
    let res = match method {
        "POST" => agent.post(&url).header("Authorization", &auth).header("Content-Type", "application/json").send("{}"),
        _ => agent.get(&url).header("Authorization", &auth).call(),
    };
    let mut res = res.unwrap();
    (res.status().as_u16(), res.body_mut().read_to_string().unwrap())
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r10_the_feed_lists_and_takes_steps_on_a_postgresql_store() {
    let db = Db::postgres();
    let store = format!("paths.store={:?}", db.path().display().to_string());
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().args(["--set", &store, "run"]).assert().code(0);
    let out = sb.cmd().args(["--set", &store, "token", "add", "--county"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let token = said.split_whitespace().find(|w| w.starts_with("fpt_")).expect("a token").to_string();
    let server = common::serve(&sb, &[&store]);
    let (status, body) = call(server.port, "GET", "/tickets", &token);
    assert_eq!(status, 200, "{body}");
    let list: Vec<serde_json::Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(list.len(), 6, "the demo's six tickets (4 of the pass, 2 of the towers)");
    let id = list[0]["id"].as_str().unwrap();
    let (status, body) = call(server.port, "POST", &format!("/tickets/{id}/ack"), &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"acknowledged\""), "{body}");
    let (status, _) = call(server.port, "POST", &format!("/tickets/{id}/ack"), &token);
    assert_eq!(status, 409, "a second ack is refused");
    let steps = db.strings(&format!("SELECT action FROM ticket_log WHERE ticket_id = '{id}' ORDER BY seq"));
    assert_eq!(steps, ["open", "ack"]);
    // the sender claims and settles every queued message on this store too (no channel is
    // configured here: each is skipped, none left pending)
    let out = sb.cmd().args(["--set", &store, "notify"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("outbox: 0 pending, 0 sent, 0 failed"), "{said}");
    assert_eq!(db.strings("SELECT DISTINCT state FROM outbox"), ["skipped"]);
}
