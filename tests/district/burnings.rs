//! Issue 11: the four burnings (四烧), the risk windows and the patrol plan, end to end — tickets
//! carry their kind rule and windows, a window confirms a camera sighting on fewer frames, rain
//! forecasts dropped into the inbox open 下雨前, reports count by kind and window, and
//! `firepoint plan --day` writes the same CSV and map for the same inputs.

use crate::common;

use std::path::Path;

use chrono::{TimeZone, Utc};
use common::{firms_table, Db, Sandbox};
use firepoint::batch::{record_input, InputRef, Recorded};
use firepoint::config::Config;
use firepoint::domain::{Detection, FrameObservation, SourceKind};
use firepoint::locate::Located;
use firepoint::store::{Store, TicketFilter};

/// A flagged frame of CAM01 at `at` and its camera sighting at (115.6, 37.6).
fn flagged(at: chrono::DateTime<Utc>) -> (FrameObservation, Located) {
    let frame = FrameObservation {
        camera_id: "CAM01".into(),
        camera_lon: 115.58,
        camera_lat: 37.58,
        captured_at: at,
        pan_deg: 40.0,
        tilt_deg: -1.0,
        hfov_deg: 30.0,
        score: 0.9,
        flagged: true,
        tile_box: [0.4, 0.5, 0.5, 0.6],
        azimuth_deg: Some(40.0),
        sigma_deg: 0.3,
        picture: None,
        view_off: None,
    };
    let mut d = Detection::point(SourceKind::Camera, 115.6, 37.6, at, 300.0);
    d.sensor = "CAM01".into();
    d.evidence = serde_json::json!({ "score": 0.9 });
    (frame, Located::on_farmland(d))
}

fn record_frame(store: &mut Store, sha: &str, at: chrono::DateTime<Utc>) -> Recorded {
    let cfg = Config::default();
    let (frame, loc) = flagged(at);
    let input = InputRef {
        path: sha.as_ref(),
        sha256: sha,
        kind: "frame",
        frame: Some(&frame),
        note: None,
        forecasts: &[],
        view: None,
    };
    record_input(
        store,
        input,
        &[loc],
        &cfg.rules(),
        cfg.persistence.cell_deg,
        &firepoint::notify::NotifyConfig::default(),
    )
    .unwrap()
}

/// One flagged frame is an alarm at 17:30 Beijing (收工时), and waits for a second one at 13:30.
fn r11_a_risk_window_confirms_a_camera_sighting_on_one_frame(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let off = record_frame(&mut store, "sha-off", Utc.with_ymd_and_hms(2026, 3, 2, 5, 30, 0).unwrap());
    assert_eq!((off.opened.len(), off.awaiting), (0, 1), "off-window: 2 of the last 3 frames, unchanged");
    let on = record_frame(&mut store, "sha-on", Utc.with_ymd_and_hms(2026, 3, 3, 9, 30, 0).unwrap());
    assert_eq!((on.opened.len(), on.awaiting), (1, 0), "收工时: one frame");
    let t = store.ticket(&on.opened[0]).unwrap();
    assert_eq!(t.windows, ["收工时 16:30–19:00"]);
    assert_eq!(t.priority, firepoint::domain::Priority::High);
    assert!(t.reasons.contains(&"risk window 收工时 16:30–19:00".to_string()), "{:?}", t.reasons);
    assert_eq!(t.kind_why.rule, "farmland_off_season");
    assert_eq!(t.kind_why.inputs["date"], "2026-03-03");
    // kept as written: reopened, the same
    drop(store);
    let store = Store::open(&db.path()).unwrap();
    assert_eq!(store.ticket(&on.opened[0]).unwrap(), t);
}

/// A forecast input is kept by the store and read back for later batches.
fn r11_forecasts_are_kept_and_read_back(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let rain = firepoint::burn::Forecast {
        valid_from: Utc.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap(),
        valid_to: Utc.with_ymd_and_hms(2026, 6, 10, 18, 0, 0).unwrap(),
        probability: 0.75,
        amount_mm: 8.5,
        circle: Some((115.6, 37.6, 5000.0)),
        township: None,
    };
    let town = firepoint::burn::Forecast { circle: None, township: Some("999901003".into()), ..rain.clone() };
    let cfg = Config::default();
    let both = [rain.clone(), town.clone()];
    let input = InputRef {
        path: "rain.csv".as_ref(),
        sha256: "sha-rain",
        kind: "weather",
        frame: None,
        note: None,
        forecasts: &both,
        view: None,
    };
    record_input(
        &mut store,
        input,
        &[],
        &cfg.rules(),
        cfg.persistence.cell_deg,
        &firepoint::notify::NotifyConfig::default(),
    )
    .unwrap();
    drop(store);
    let store = Store::open(&db.path()).unwrap();
    assert_eq!(store.forecasts(Utc.with_ymd_and_hms(2026, 6, 10, 0, 0, 0).unwrap()).unwrap(), both);
    assert!(store.forecasts(Utc.with_ymd_and_hms(2026, 6, 11, 0, 0, 0).unwrap()).unwrap().is_empty(), "rain over");
}

/// A version-6 store (no kind rules, windows or forecasts) is migrated on open; its tickets read
/// with an empty rule and no window.
fn r11_a_version_6_store_is_migrated(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let on = record_frame(&mut store, "sha-on", Utc.with_ymd_and_hms(2026, 3, 3, 9, 30, 0).unwrap());
    drop(store);
    // what versions 7 to 10 added, taken away again
    let back_to_6 =
        "ALTER TABLE tickets DROP COLUMN kind_why; ALTER TABLE tickets DROP COLUMN windows; DROP TABLE forecasts;
        DROP TABLE views; DROP TABLE evidence; DROP TABLE tower_notices;
        ALTER TABLE frames DROP COLUMN picture; ALTER TABLE frames DROP COLUMN view_off;
        DROP INDEX inputs_by_path; DROP INDEX inputs_by_time; DROP TABLE batch_runs;
        ALTER TABLE inputs DROP COLUMN size; ALTER TABLE inputs DROP COLUMN mtime_ns;
        ALTER TABLE inputs DROP COLUMN archived_to;";
    match db {
        Db::Sqlite(_) => db.exec(&format!("{back_to_6} PRAGMA user_version = 6;")),
        Db::Postgres(_) => db.exec(&format!("{back_to_6} UPDATE firepoint_schema SET version = 6;")),
    }
    .unwrap();
    let store = Store::open(&db.path()).unwrap();
    let t = store.ticket(&on.opened[0]).unwrap();
    assert_eq!((t.kind_why.rule.as_str(), t.windows.len()), ("", 0));
    assert!(store.forecasts(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()).unwrap().is_empty());
    assert_eq!(store.tickets(&TicketFilter::all()).unwrap().len(), 1);
    assert!(store.evidence_list(&on.opened[0]).unwrap().is_empty() && store.open_notices().unwrap().is_empty());
}

both!(
    r11_a_risk_window_confirms_a_camera_sighting_on_one_frame,
    r11_forecasts_are_kept_and_read_back,
    r11_a_version_6_store_is_migrated
);

fn sample_aoi() -> firepoint::aoi::Aoi {
    firepoint::aoi::Aoi::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi")).unwrap()
}

/// `n` villages of one township, each with a point on farmland away from dump sites, highways,
/// no-burn zones and national stations (a June fire there is straw burning of normal priority),
/// as (lon, lat, village code, township code).
fn quiet_villages(aoi: &firepoint::aoi::Aoi, n: usize) -> Vec<(f64, f64, String, String)> {
    use geo::BoundingRect;
    let mut out: Vec<(f64, f64, String, String)> = Vec::new();
    for v in &aoi.villages {
        if out.first().is_some_and(|o| o.3 != v.township) {
            continue;
        }
        let Some(b) = v.area.bounding_rect() else { continue };
        let quiet = (1..8).flat_map(|j| (1..8).map(move |i| (i, j))).find_map(|(i, j)| {
            let (lon, lat) = (b.min().x + b.width() * i as f64 / 8.0, b.min().y + b.height() * j as f64 / 8.0);
            let (lon, lat) = ((lon * 1e4).round() / 1e4, (lat * 1e4).round() / 1e4);
            let p = aoi.place(lon, lat);
            let near = firepoint::locate::near(aoi, lon, lat);
            let ok = p.village.as_ref().is_some_and(|pv| pv.code == v.code)
                && p.landuse == firepoint::aoi::LandClass::Farmland
                && p.no_burn_zone.is_none()
                && near.highway.as_ref().is_none_or(|h| h.1 > 800.0)
                && near.dump.as_ref().is_none_or(|d| d.1 > 500.0)
                && p.station.as_ref().is_none_or(|s| s.1 > 3500.0);
            ok.then_some((lon, lat))
        });
        if let Some((lon, lat)) = quiet {
            out.push((lon, lat, v.code.clone(), v.township.clone()));
        }
        if out.len() == n {
            break;
        }
    }
    assert_eq!(out.len(), n, "the sample district has {n} quiet villages in one township");
    out
}

fn plan_files(sb: &Sandbox, day: &str) -> (Vec<u8>, Vec<u8>) {
    let (csv, png) = (sb.path(&format!("p-{day}.csv")), sb.path(&format!("p-{day}.png")));
    sb.cmd()
        .args(["plan", "--day", day, "--csv", csv.to_str().unwrap(), "--map", png.to_str().unwrap()])
        .assert()
        .success();
    (std::fs::read(csv).unwrap(), std::fs::read(png).unwrap())
}

#[test]
fn r11_tickets_reports_and_the_plan_show_kinds_windows_and_their_reasons() {
    let sb = Sandbox::new();
    let aoi = sample_aoi();
    let v = quiet_villages(&aoi, 3);
    let town = v[0].3.clone();
    let inbox = sb.path("work/inbox");
    std::fs::create_dir_all(inbox.join("satellite")).unwrap();
    std::fs::create_dir_all(inbox.join("weather")).unwrap();
    // village 0 burnt on three days of the week before 10 June (13:30 Beijing, off-window);
    // village 1 on 17:30 of 9 June (收工时); village 2 never
    let table = firms_table(&[
        (v[0].1, v[0].0, "2026-06-05", "0530"),
        (v[0].1, v[0].0, "2026-06-07", "0530"),
        (v[0].1, v[0].0, "2026-06-08", "0530"),
        (v[1].1, v[1].0, "2026-06-09", "0930"),
    ]);
    std::fs::write(inbox.join("satellite/firms_week.csv"), table).unwrap();
    // rain over the township on the evening of 10 June (Beijing), a whole-district drizzle
    std::fs::write(
        inbox.join("weather/county_bureau.csv"),
        format!(
            "valid_from,valid_to,probability,amount_mm,township\n\
             2026-06-10 20:00,2026-06-11 04:00,80%,15,{town}\n\
             2026-06-10 20:00,2026-06-11 04:00,90%,0.5,\n"
        ),
    )
    .unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("weather: 2 rain forecast(s) read"), "{stdout}");

    let tickets = sb.tickets();
    let of = |code: &str| tickets.iter().filter(|t| t["village_code"] == code).collect::<Vec<_>>();
    // 5, 7, 8 June (maize sowing has begun: no 播种前) are days apart: three tickets, straw in the wheat harvest, no window
    for t in of(&v[0].2) {
        assert_eq!(t["kind"], "straw");
        assert_eq!(t["kind_why"]["rule"], "farmland_in_harvest_or_sowing", "{t}");
        assert_eq!(t["kind_why"]["inputs"]["landuse"], "farmland");
        assert!(t["windows"].as_array().unwrap().is_empty());
        assert_eq!(t["priority"], "normal");
    }
    let evening = of(&v[1].2);
    assert_eq!(evening.len(), 1);
    assert_eq!(evening[0]["windows"], serde_json::json!(["收工时 16:30–19:00"]));
    assert_eq!(evening[0]["priority"], "high");

    // the report counts them by kind and window: the week of 8 and 9 June
    let report = sb.cmd().args(["report", "--week", "2026-W24", "--format", "csv"]).output().unwrap();
    let report = String::from_utf8(report.stdout).unwrap();
    let header: Vec<&str> = report.lines().next().unwrap().split(',').collect();
    let total: Vec<&str> = report.lines().last().unwrap().split(',').collect();
    let col = |name: &str| total[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!((col("straw"), col("weeds"), col("leaves"), col("garbage"), col("unknown")), ("2", "0", "0", "0", "0"));
    assert_eq!(col("in_window"), "1");

    // the plan: the same bytes twice; village 0 (3 fire points this week) first in its
    // township; rain named where the township's forecast holds, not for the drizzle
    let (csv, png) = plan_files(&sb, "2026-06-10");
    assert_eq!(plan_files(&sb, "2026-06-10"), (csv.clone(), png.clone()), "deterministic");
    assert!(csv.starts_with("\u{feff}日期,乡镇代码".as_bytes()), "UTF-8 with BOM and Chinese headers");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), aoi.villages.len(), "every village once");
    let get = |r: &csv::StringRecord, h: &str| r[head.iter().position(|x| x == h).unwrap()].to_string();
    let row = |code: &str| rows.iter().find(|r| get(r, "村代码") == code).unwrap();
    assert_eq!(get(row(&v[0].2), "近7天火点"), "3");
    assert_eq!(get(row(&v[1].2), "近7天火点"), "1");
    assert_eq!(get(row(&v[2].2), "近7天火点"), "0");
    assert_eq!(get(row(&v[0].2), "近365天火点"), "3");
    // every row's score is the documented sum of its columns (shares and distances rounded in
    // the CSV: a tolerance of half a point), and each township's rows run from its riskiest down
    let num = |r: &csv::StringRecord, h: &str| get(r, h).parse::<f64>().unwrap_or(f64::NAN);
    for r in &rows {
        let factor = 1.0; // 10 June: wheat harvest and maize sowing
        let highway = num(r, "距高速(km)");
        let highway = if highway.is_nan() { 0.0 } else { (1.0 - (highway - 0.5) / 4.5).clamp(0.0, 1.0) };
        let want = 35.0 * num(r, "耕地占比") * factor
            + 20.0 * (num(r, "近7天火点") / 3.0).min(1.0)
            + 15.0 * (num(r, "近365天火点") / 10.0).min(1.0)
            + 10.0 * highway
            + if get(r, "禁烧区").is_empty() {
                0.0
            } else {
                10.0 * (1.0 - num(r, "距禁烧区(km)") / 2.0).clamp(0.0, 1.0)
            }
            + if get(r, "降雨预报").is_empty() { 0.0 } else { 10.0 };
        assert!((num(r, "风险分") - want).abs() <= 0.5, "{r:?}: {want}");
    }
    for w in rows.windows(2).filter(|w| get(&w[0], "乡镇代码") == get(&w[1], "乡镇代码")) {
        assert!(num(&w[0], "风险分") >= num(&w[1], "风险分"));
        assert_eq!(num(&w[0], "排名") + 1.0, num(&w[1], "排名"));
    }
    assert!(get(row(&v[2].2), "降雨预报").starts_with("20:00 80%"), "the township's rain");
    assert!(get(row(&v[2].2), "作物期").contains("小麦收获"));
    let elsewhere = rows.iter().find(|r| get(r, "乡镇代码") != town).unwrap();
    assert_eq!(get(elsewhere, "降雨预报"), "", "0.5 mm is below windows.rain_min_mm");
    assert!(get(elsewhere, "风险时段").contains("收工时 16:30–19:00"));
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1640, 1000));
    // a day later the week's fire points have moved on
    let (later, _) = plan_files(&sb, "2026-06-16");
    let later = String::from_utf8(later[3..].to_vec()).unwrap();
    assert!(later.lines().any(|l| l.contains(&v[0].2) && l.split(',').nth(11) == Some("0")), "{later}");
}

#[test]
fn r11_a_bad_forecast_is_quarantined_named_and_the_batch_goes_on() {
    let sb = Sandbox::new();
    let inbox = sb.path("work/inbox");
    std::fs::create_dir_all(inbox.join("weather")).unwrap();
    std::fs::create_dir_all(inbox.join("satellite")).unwrap();
    std::fs::write(
        inbox.join("weather/bad.json"),
        r#"[{"valid_from": "tomorrow", "valid_to": "2026-06-10 20:00", "probability": 0.5, "amount_mm": 3}]"#,
    )
    .unwrap();
    std::fs::write(inbox.join("satellite/f.csv"), firms_table(&[(37.62, 115.62, "2026-06-10", "0530")])).unwrap();
    let out = sb.cmd().arg("run").output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "partial: {all}");
    assert!(all.contains("bad.json") && all.contains("row 1") && all.contains("valid_from `tomorrow`"), "{all}");
    let quarantined = common::files_under(&sb.path("work/quarantine"));
    assert!(
        quarantined.iter().any(|p| p.ends_with("weather/bad.json")),
        "quarantined under its inbox path: {quarantined:?}"
    );
    assert!(!inbox.join("weather/bad.json").exists());
    assert_eq!(sb.tickets().len(), 1, "the table was recorded");
    assert!(Store::open(&sb.path("work/firepoint.sqlite")).unwrap().tickets(&TicketFilter::all()).unwrap().len() == 1);
}
