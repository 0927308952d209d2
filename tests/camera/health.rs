//! Issue 20: tower health from the frames that arrive (and those that do not). A simulated
//! morning of three towers: one live, one that goes silent, one whose picture freezes (its
//! burned-in clock still ticking): exactly two notices for the county office, the online rates
//! in the report, and both notices closed when the towers come back.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Sandbox;

/// What a receiver got: (path, idempotency key, body) per request.
type Got = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

/// A real local HTTP receiver that answers 200 and keeps what it got.
fn receiver() -> (u16, Got) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (mut len, mut key) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "idempotency-key" => key = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            keep.lock().unwrap().push((path, key, serde_json::from_slice(&body).unwrap()));
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

/// A frame of `camera` at `at`: noise from `seed` (a live sensor never repeats), with a caption
/// row at the top that changes with the time (as a tower's clock does).
fn frame(sb: &Sandbox, camera: &str, at: DateTime<Utc>, seed: u64) {
    let dir = sb.path(&format!("work/inbox/frames/{camera}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut img = image::RgbImage::from_fn(320, 240, |_, y| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = (x % 40) as u8;
        if y < 120 {
            image::Rgb([150 + v, 170 + v, 200 + v])
        } else {
            image::Rgb([90 + v, 110 + v, 60 + v])
        }
    });
    for px in 0..320 {
        let on = (at.timestamp() / 60) >> (px / 8 % 32) & 1 == 1; // the minute in binary
        img.put_pixel(px, 4, if on { image::Rgb([255, 255, 255]) } else { image::Rgb([0, 0, 0]) });
    }
    let name = format!("{camera}_{}", at.format("%Y%m%dT%H%M%SZ"));
    img.save(dir.join(format!("{name}.png"))).unwrap();
    let pose = serde_json::json!({
        "camera_id": camera, "captured_at": at.to_rfc3339(), "pan_deg": 0.0, "tilt_deg": -1.5, "hfov_deg": 40.0,
    });
    std::fs::write(dir.join(format!("{name}.json")), pose.to_string()).unwrap();
}

fn notices(sb: &Sandbox) -> Vec<(String, String, String, Option<String>, String)> {
    let db = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let mut st =
        db.prepare("SELECT camera_id, kind, since, closed_at, told FROM tower_notices ORDER BY camera_id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn r20_a_tower_gone_silent_and_one_frozen_make_exactly_two_notices_and_the_online_rates() {
    let sb = Sandbox::new();
    let t0 = Utc.with_ymd_and_hms(2026, 6, 10, 0, 0, 0).unwrap(); // 08:00 Beijing
    let at = |i: i64| t0 + Duration::minutes(10 * i);
    for i in 0..=24 {
        frame(&sb, "CAM01", at(i), 1000 + i as u64);
        if i <= 12 {
            frame(&sb, "CAM02", at(i), 2000 + i as u64); // silent after 10:00 Beijing
        }
        // frozen from 10:00: the same picture, the caption still ticking
        frame(&sb, "CAM04", at(i), if i < 12 { 4000 + i as u64 } else { 4012 });
    }
    let out = sb.cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("tower notice for the county office").count(), 2, "{stderr}");
    let want = |cam: &str, kind: &str, since: DateTime<Utc>| {
        (cam.to_string(), kind.to_string(), since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let got: Vec<_> = notices(&sb).into_iter().map(|n| (n.0, n.1, n.2)).collect();
    assert_eq!(got, [want("CAM02", "offline", at(12)), want("CAM04", "frozen", at(12))]);
    // a second batch with nothing new adds nothing; notices are never tickets
    sb.cmd().arg("run").assert().code(0);
    assert_eq!(notices(&sb).len(), 2);
    assert!(sb.tickets().iter().all(|t| t["sources"][0] != "tower"));

    let cams = String::from_utf8(sb.cmd().arg("cameras").output().unwrap().stdout).unwrap();
    let line = |id: &str| cams.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string();
    assert!(line("CAM01").ends_with(" ok"), "{cams}");
    assert!(line("CAM02").contains("offline (离线) since 06-10 10:00"), "{cams}");
    assert!(line("CAM04").contains("frozen (画面冻结) since 06-10 10:00"), "{cams}");
    assert!(line("CAM07").contains("never heard from"), "{cams}");

    // the report: 25 ten-minute slots heard from; CAM02 and CAM04 live in 13 of them
    let report = String::from_utf8(sb.cmd().args(["report", "--day", "2026-06-10"]).output().unwrap().stdout).unwrap();
    let row = |id: &str| report.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string();
    assert!(row("CAM01").contains("100.0%") && row("CAM01").contains(" 0.0"), "{report}");
    for cam in ["CAM02", "CAM04"] {
        assert!(row(cam).contains("52.0%") && row(cam).contains(" 2.0"), "{cam}: {report}");
    }
    assert!(row("CAM04").contains("画面冻结 since 06-10 10:00"), "{report}");
    assert!(row("CAM07").contains("0.0%"), "a tower never heard from is offline all day: {report}");

    // the sender tells the county office, by SMS and webhook, once
    let (port, got) = receiver();
    let (hook, sms) = (
        format!("notify.webhook_url=\"http://127.0.0.1:{port}/hook\""),
        format!("notify.sms_url=\"http://127.0.0.1:{port}/sms\""),
    );
    let notify = || {
        let mut c = sb.cmd();
        c.args(["--set", &hook, "--set", &sms, "--set", "notify.county_office_phone=\"13900000001\"", "notify"]);
        c.assert().success();
    };
    notify();
    assert!(notices(&sb).iter().all(|n| n.4 == "sent"), "{:?}", notices(&sb));
    let told = |event: &str| -> Vec<String> {
        let got = got.lock().unwrap();
        let notes: Vec<String> = got
            .iter()
            .filter(|(p, _, b)| p == "/hook" && b["event"] == event)
            .map(|(_, _, b)| b["notice"]["camera_id"].as_str().unwrap().to_string())
            .collect();
        notes
    };
    assert_eq!(told("tower.offline"), ["CAM02"]);
    assert_eq!(told("tower.frozen"), ["CAM04"]);
    let texts: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, b)| p == "/sms" && b["to"] == "13900000001")
        .map(|(_, _, b)| b["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("CAM02离线")) && texts.iter().any(|t| t.contains("CAM04画面冻结")),
        "{texts:?}"
    );
    let before_rerun = got.lock().unwrap().len();
    notify();
    assert_eq!(got.lock().unwrap().len(), before_rerun, "told once");

    // both come back: their notices close, and no new one opens
    for i in 25..=27 {
        for (cam, seed) in [("CAM01", 1000), ("CAM02", 2000), ("CAM04", 4000)] {
            frame(&sb, cam, at(i), seed + i as u64);
        }
    }
    sb.cmd().arg("run").assert().code(0);
    let after = notices(&sb);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.iter().all(|n| n.3.is_some()), "closed on recovery: {after:?}");
    notify();
    let mut back = told("tower.recovered");
    back.sort();
    assert_eq!(back, ["CAM02", "CAM04"]);
    let cams = String::from_utf8(sb.cmd().arg("cameras").output().unwrap().stdout).unwrap();
    assert!(["CAM01", "CAM02", "CAM04"].iter().all(|c| line_of(&cams, c).ends_with(" ok")), "{cams}");
}

fn line_of(text: &str, id: &str) -> String {
    text.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string()
}

/// A frame of a structured view (fields laid out by `fields`) with a little sensor noise.
fn view_frame(sb: &Sandbox, camera: &str, at: DateTime<Utc>, fields: u32, seed: u32) {
    let dir = sb.path(&format!("work/inbox/frames/{camera}"));
    std::fs::create_dir_all(&dir).unwrap();
    let img = image::RgbImage::from_fn(320, 240, |x, y| {
        let n = ((x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(97)) % 5) as u8;
        if y < 100 {
            image::Rgb([150 + n, 175 + n, 215 + n])
        } else {
            let f = ((x / 29 * 7 + y / 19 * 13 + fields * 3) % 5) as u8;
            image::Rgb([60 + f * 35 + n, 70 + f * 28 + n, 40 + f * 20 + n])
        }
    });
    let name = format!("{camera}_{}", at.format("%Y%m%dT%H%M%SZ"));
    img.save(dir.join(format!("{name}.png"))).unwrap();
    let pose = serde_json::json!({
        "camera_id": camera, "captured_at": at.to_rfc3339(), "pan_deg": 0.0, "tilt_deg": -1.5, "hfov_deg": 40.0,
    });
    std::fs::write(dir.join(format!("{name}.json")), pose.to_string()).unwrap();
}

#[test]
fn r20_a_tower_turned_off_its_preset_is_a_changed_view_and_a_steady_one_is_not() {
    let sb = Sandbox::new();
    let t0 = Utc.with_ymd_and_hms(2026, 6, 10, 0, 0, 0).unwrap();
    for i in 0..15u32 {
        let at = t0 + Duration::minutes(10 * i as i64);
        view_frame(&sb, "CAM06", at, if i < 12 { 1 } else { 2 }, 100 + i); // turned at 10:00
        view_frame(&sb, "CAM01", at, 1, 200 + i); // steady all morning
    }
    sb.cmd().arg("run").assert().code(0);
    let got: Vec<_> = notices(&sb).into_iter().map(|n| (n.0, n.1, n.2)).collect();
    let since = (t0 + Duration::minutes(120)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(got, [("CAM06".to_string(), "view_changed".to_string(), since)]);
    let db = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let why: Vec<Option<String>> = db
        .prepare("SELECT view_off FROM frames WHERE camera_id = 'CAM06' ORDER BY captured_at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(why[..12], vec![None; 12], "the view's own frames");
    assert_eq!(why[12..], vec![Some("moved".to_string()); 3]);
}
