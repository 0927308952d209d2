//! Issue 22: history is not today, and the fire-point ledger. A back-filled table (last year's
//! points) goes to the history and the ledger, never to a ticket; a table mixing old and fresh
//! points opens tickets for the fresh ones only; every point has its ledger row with the source's
//! own county beside ours.

use chrono::{Duration, Utc};

use crate::common;
use crate::common::{Db, Sandbox};

const MEE_HEADER: &str = "时间,中心经度,中心纬度,省,市,县";

/// Three points inside the sample county, each in its own cell, with the MEE table's own county:
/// ours written two ways, and a neighbour's name for the third.
fn mee_rows(times: [String; 3]) -> String {
    let places = [(115.60, 37.60, "示范县"), (115.70, 37.66, "示范"), (115.80, 37.72, "邻县")];
    let mut s = format!("{MEE_HEADER}\n");
    for (t, (lon, lat, county)) in times.iter().zip(places) {
        s += &format!("{t},{lon},{lat},河北省,衡水市,{county}\n");
    }
    s
}

fn beijing(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&firepoint::time::beijing()).format("%Y-%m-%d %H:%M").to_string()
}

/// The sandbox's command with the live window of a deployment (the sandbox replays its fixed
/// day live, `events.live_window_h = 0`).
fn live(sb: &Sandbox) -> assert_cmd::Command {
    let mut c = sb.cmd();
    c.args(["--set", "events.live_window_h=24"]);
    c
}

/// The sandbox's command on `db`'s store.
fn on(sb: &Sandbox, db: &Db, live_window: bool) -> assert_cmd::Command {
    let mut c = if live_window { live(sb) } else { sb.cmd() };
    c.args(["--set", &format!("paths.store={:?}", db.path().display().to_string())]);
    c
}

/// `SELECT count(*) FROM {from}` on `db`.
fn count_in(db: &Db, from: &str) -> i64 {
    db.strings(&format!("SELECT CAST(count(*) AS TEXT) FROM {from}"))[0].parse().unwrap()
}

fn ledger(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.strip_prefix('\u{feff}').expect("the ledger starts with a BOM for Excel");
    csv::Reader::from_reader(body.as_bytes()).records().map(Result::unwrap).collect()
}

fn r22_a_back_filled_table_of_last_year_opens_no_ticket_and_fills_history_and_ledger(db: &Db) {
    let sb = Sandbox::new();
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    let year_ago = Utc::now() - Duration::days(380);
    let times = [0, 1, 2].map(|d| beijing(year_ago + Duration::days(d)));
    std::fs::write(dir.join("mee_last_year.csv"), mee_rows(times)).unwrap();
    let out = on(&sb, db, true).arg("run").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("history: 3 point(s)"), "{stdout}");
    assert_eq!(count_in(db, "tickets"), 0, "no ticket for last year's points");
    assert_eq!(count_in(db, "outbox"), 0, "nothing notified, nothing to escalate");
    assert_eq!(count_in(db, "heat_cells"), 3, "every point is in the history");
    assert_eq!(count_in(db, "detections WHERE suppressed_by LIKE 'history:%'"), 3);
    // the ledger: in the feed folder and from the command, one row per point, its table row
    let rows = ledger(&sb.path("work/feed/fire_points.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().map(|r| r[1].to_string()).collect::<Vec<_>>(), ["2", "3", "4"]);
    assert!(rows
        .iter()
        .all(|r| r[0].ends_with("mee_last_year.csv") && r[16].is_empty() && r[17].starts_with("history")));
    assert_eq!(rows.iter().map(|r| r[9].to_string()).collect::<Vec<_>>(), ["示范县", "示范", "邻县"]);
    // 示范县 and 示范 are ours; 邻县 is flagged with the distance to our border
    assert_eq!(rows.iter().map(|r| r[20].to_string()).collect::<Vec<_>>(), ["", "", "是"]);
    let m: f64 = rows[2][21].parse().expect("a distance in metres");
    assert!(m > 100.0 && m < 20_000.0, "{m}");
    assert!(rows[0][21].is_empty());
    let out = sb.path("ledger.csv");
    on(&sb, db, false).args(["fire-points", "--out"]).arg(&out).assert().success();
    assert_eq!(ledger(&out), rows);
    // the rankings count a back-filled point on the day (week) it was seen, without a ticket
    let day = year_ago.with_timezone(&firepoint::time::beijing()).format("%Y-%m-%d").to_string();
    let report = on(&sb, db, false).args(["report", "--day", &day, "--format", "csv"]).output().unwrap();
    let report = String::from_utf8(report.stdout).unwrap();
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(report.as_bytes()).records().map(Result::unwrap).collect();
    let total = rows.iter().find(|r| &r[1] == "total").expect("a total row");
    assert_eq!((&total[3], &total[4]), ("0", "1"), "{report}");
    assert!(rows.iter().any(|r| &r[0] == "1" && &r[4] == "1"), "the township is ranked: {report}");
    // a second run duplicates nothing
    on(&sb, db, true).arg("run").assert().success();
    assert_eq!(count_in(db, "detections"), 3);
}

#[test]
fn r22_a_pass_over_a_table_mixing_old_and_fresh_points_tickets_only_the_fresh() {
    let sb = Sandbox::new();
    let now = Utc::now();
    let times =
        [beijing(now - Duration::days(30)), beijing(now - Duration::days(2)), beijing(now - Duration::hours(2))];
    let table = sb.path("mee_mixed.csv");
    std::fs::write(&table, mee_rows(times)).unwrap();
    let out = live(&sb).arg("pass").arg(&table).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("history: 2 point(s)") && stdout.contains("tickets: 1 new"), "{stdout}");
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(firepoint_lon(&tickets[0]), 115.80);
    let rows = ledger(&sb.path("work/feed/fire_points.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][16], tickets[0]["id"].as_str().unwrap());
    assert_eq!(&rows[2][18], "待签收");
    assert!(rows[..2].iter().all(|r| r[16].is_empty() && r[17].starts_with("history")));
}

fn firepoint_lon(t: &serde_json::Value) -> f64 {
    t["lon"].as_f64().unwrap()
}

both!(r22_a_back_filled_table_of_last_year_opens_no_ticket_and_fills_history_and_ledger);
