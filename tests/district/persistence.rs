//! The persistence mask end to end: history imported from fire-point tables, then a batch.

use crate::common;

use common::Sandbox;
use predicates::prelude::*;

/// A FIRMS MODIS table with one row per (lat, lon, date, HHMM UTC).
fn firms(rows: &[(f64, f64, String, &str)]) -> String {
    let rows: Vec<(f64, f64, &str, &str)> = rows.iter().map(|(a, b, d, t)| (*a, *b, d.as_str(), *t)).collect();
    common::firms_table(&rows)
}

#[test]
fn kiln_seen_on_many_nights_is_suppressed_and_a_field_burned_by_day_is_not() {
    let sb = Sandbox::new();
    let kiln = (37.712, 115.812); // open farmland in the sample county, away from the AOI's heat sources
    let field = (37.585, 115.655);
    let mut history = Vec::new();
    for day in 1..=6 {
        // 18:30 UTC is 02:30 Beijing: night. Jitter of a pixel's geolocation: ±300 m.
        let j = 0.003 * ((day % 3) as f64 - 1.0);
        history.push((kiln.0 + j, kiln.1 - j, format!("2026-05-{day:02}"), "1830"));
        // 05:30 UTC is 13:30 Beijing: day
        history.push((field.0, field.1, format!("2026-05-{day:02}"), "0530"));
    }
    let hist = sb.path("history.csv");
    std::fs::write(&hist, firms(&history)).unwrap();
    sb.cmd()
        .args(["history", "import", hist.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("12 detections added"));

    let inbox = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("today.csv"),
        firms(&[(kiln.0, kiln.1, "2026-06-10".into(), "1830"), (field.0, field.1, "2026-06-10".into(), "0530")]),
    )
    .unwrap();
    sb.cmd().arg("run").assert().code(0).stdout(predicate::str::contains("1 suppressed"));
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    assert!(common::metres(common::lonlat(&tickets[0]), (field.1, field.0)) < 100.0);
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn himawari_steel_plant_points_on_the_available_firms_history() {
    let root = common::shared_data("satellite");
    let sb = Sandbox::new();
    let firms_dir = root.join("firms-modis-global-24h");
    let mut import = sb.cmd();
    import.args(["history", "import"]);
    for e in std::fs::read_dir(&firms_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "csv") {
            import.arg(p);
        }
    }
    import.assert().success();
    let him = std::fs::read_dir(root.join("himawari-l2wlf-odin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .unwrap();
    // the shared history holds four FIRMS days: with the operational rule (5 days) nothing is
    // suppressed; with 2 days, the Panzhihua steel works (26.58 N, 101.66 E) is
    let out = sb.cmd().args(["history", "mask", him.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("212 detections, 0 on persistent"));
    let out = sb
        .cmd()
        .args([
            "--set",
            "persistence.min_days=2",
            "--set",
            "persistence.lookback_days=4000",
            "history",
            "mask",
            him.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let suppressed: Vec<&str> = text.lines().filter(|l| l.starts_with("suppressed")).collect();
    assert!(!suppressed.is_empty(), "{text}");
    for l in suppressed {
        let f: Vec<f64> = l.split_whitespace().skip(1).take(2).map(|v| v.parse().unwrap()).collect();
        assert!((f[0] - 101.66).abs() < 0.1 && (f[1] - 26.58).abs() < 0.1, "{l}");
    }
}
