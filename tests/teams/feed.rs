//! The ticket feed is read by other systems (dispatch apps, GIS screens): its shape is pinned.

use crate::common;

#[test]
fn demo_ticket_feed_shape_is_pinned() {
    let sb = common::Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let tickets = sb.tickets();
    insta::assert_json_snapshot!("demo_tickets", tickets, {
        "[].created_at" => "[wall clock]",
        "[].updated_at" => "[wall clock]",
    });
}

/// Three tickets of the sample district at fixed times, taken through the steps a township team
/// takes (so every ledger column has a value somewhere): open, acknowledged + on site + resolved,
/// false alarm; and the GeoJSON and ledger exports of them.
fn worked_tickets() -> Vec<firepoint::domain::Ticket> {
    use chrono::TimeZone;
    use firepoint::domain::{Detection, FalseAlarmCause, SourceKind};
    use firepoint::lifecycle::Step;
    let dir = tempfile::tempdir().unwrap();
    let mut store = firepoint::store::Store::open(&dir.path().join("t.sqlite")).unwrap();
    let aoi = firepoint::aoi::Aoi::load(std::path::Path::new("aoi")).unwrap();
    let at = |h, m| chrono::Utc.with_ymd_and_hms(2026, 6, 10, h, m, 0).unwrap();
    let place = |lon: f64, lat: f64, min| {
        let mut loc = firepoint::locate::Located::on_farmland(Detection::point(
            SourceKind::Satellite,
            lon,
            lat,
            at(5, min),
            700.0,
        ));
        loc.place = aoi.place(lon, lat);
        loc
    };
    let cfg = firepoint::config::Config::default();
    let input = firepoint::batch::InputRef {
        path: "p".as_ref(),
        sha256: "pass",
        kind: "satellite",
        frame: None,
        note: None,
        forecasts: &[],
        view: None,
    };
    let dets = [place(115.665, 37.645, 30), place(115.60, 37.70, 31), place(115.72, 37.60, 32)];
    let ids =
        firepoint::batch::record_input(&mut store, input, &dets, &cfg.rules(), cfg.persistence.cell_deg, &cfg.notify)
            .unwrap()
            .opened;
    assert_eq!(ids.len(), 3);
    store.step(&ids[1], &Step::Ack, "网格员甲", at(6, 0), &cfg.notify).unwrap();
    store.step(&ids[1], &Step::OnSite { note: None }, "网格员甲", at(6, 20), &cfg.notify).unwrap();
    store
        .step(&ids[1], &Step::Resolve { action: "已扑灭，秸秆清运".into() }, "网格员甲", at(6, 40), &cfg.notify)
        .unwrap();
    let cause = Step::FalseAlarm { cause: FalseAlarmCause::IndustrialHeat, note: Some("砖厂烟囱".into()) };
    store.step(&ids[2], &cause, "网格员乙", at(10, 0), &cfg.notify).unwrap();
    store.escalate_overdue(at(12, 0), &cfg.notify).unwrap();
    store.tickets(&firepoint::store::TicketFilter::all()).unwrap()
}

#[test]
fn r9_the_ledger_csv_and_the_geojson_export_are_pinned() {
    let tickets = worked_tickets();
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-10T12:00:00Z").unwrap().to_utc();
    insta::assert_snapshot!("ledger_csv", firepoint::feed::ledger_csv(&tickets, now));
    let geojson = firepoint::feed::geojson(&tickets);
    insta::assert_json_snapshot!("tickets_geojson", geojson, {
        ".features[].properties.created_at" => "[wall clock]",
        ".features[].properties.updated_at" => insta::dynamic_redaction(move |value, _| {
            // steps were taken at fixed times; a ticket nobody touched was updated when it opened
            if value.as_str().is_some_and(|v| v.starts_with("2026-06-10")) { value } else { "[wall clock]".into() }
        }),
    });
}

/// Issue 21: the feed files hold the last `feed.window_days` (every active ticket, the others
/// changed within the window) and are written again only when a ticket changed; the store keeps
/// every ticket.
#[test]
fn r21_the_feed_is_bounded_by_its_window_and_written_only_when_tickets_change() {
    use chrono::{Duration, Utc};
    use firepoint::domain::FalseAlarmCause;
    use firepoint::lifecycle::Step;
    let sb = common::Sandbox::new();
    let dir = sb.path("work/inbox/satellite");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, lon) in [115.55, 115.65, 115.75].iter().enumerate() {
        std::fs::write(dir.join(format!("t{i}.csv")), common::firms_table(&[(37.6, *lon, "2026-06-01", "0530")]))
            .unwrap();
    }
    sb.cmd().arg("run").assert().code(0);
    let feed = sb.path("work/feed/tickets.jsonl");
    let lines = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!(lines(&feed), 3);
    // an empty batch writes nothing: the files are the very ones written before
    let inode = |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let first = (inode(&feed), inode(&sb.path("work/feed/tickets.geojson")));
    sb.cmd().arg("run").assert().code(0);
    assert_eq!((inode(&feed), inode(&sb.path("work/feed/tickets.geojson"))), first, "not written again");
    // one ticket closed 30 days ago (as a replayed ledger would): out of the 7-day window, in the store
    let cfg = firepoint::config::Config::default();
    let mut store = firepoint::store::Store::open_existing(&sb.path("work/firepoint.sqlite")).unwrap();
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    let step = Step::FalseAlarm { cause: FalseAlarmCause::IndustrialHeat, note: None };
    store.step(&id, &step, "网格员", Utc::now() - Duration::days(30), &cfg.notify).unwrap();
    drop(store);
    sb.cmd().arg("run").assert().code(0);
    assert_ne!(inode(&feed), first.0, "a ticket changed: written again");
    let ids: Vec<String> = std::fs::read_to_string(&feed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "the ticket closed 30 days ago left the feed");
    assert!(!ids.contains(&id));
    assert_eq!(sb.tickets().len(), 3, "the store keeps it");
    // a wider window shows it again
    sb.cmd().args(["--set", "feed.window_days=60", "run"]).assert().code(0);
    assert_eq!(lines(&feed), 3);
}
