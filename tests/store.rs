//! The ticket store: durability across reopen, one transaction per input, idempotent ids.

use chrono::TimeZone;
use firepoint::batch::{record_input, InputRef, Recorded};
use firepoint::config::Config;
use firepoint::domain::{Detection, SourceKind, Status};
use firepoint::locate::Located;
use firepoint::store::{Store, TicketFilter};

/// Records one satellite input (named after its checksum) with the default rules.
fn record(store: &mut Store, sha: &str, located: &[Located]) -> Result<Recorded, firepoint::store::StoreError> {
    let cfg = Config::default();
    let input = InputRef { path: sha.as_ref(), sha256: sha, kind: "satellite", frame: None, note: None };
    record_input(store, input, located, &cfg.rules(), cfg.persistence.cell_deg)
}

fn located(lon: f64, lat: f64, minute: u32) -> Located {
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, minute, 0).unwrap();
    Located::on_farmland(Detection::point(SourceKind::Satellite, lon, lat, at, 700.0))
}

#[test]
fn tickets_survive_reopen_and_same_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    {
        let mut store = Store::open(&path).unwrap();
        let rec = record(&mut store, "sha-a", &[located(115.6, 37.6, 0)]).unwrap();
        assert_eq!(rec.opened.len(), 1);
    } // dropped without any explicit flush, as a killed process would
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.tickets(&TicketFilter::all()).unwrap().len(), 1);
    assert_eq!(store.input_status("sha-a").unwrap().as_deref(), Some("done"));
    // recording the same input twice fails as a whole and changes nothing
    let again = record(&mut store, "sha-a", &[located(115.9, 37.9, 0)]);
    assert!(again.is_err());
    assert_eq!(store.tickets(&TicketFilter::all()).unwrap().len(), 1);
}

#[test]
fn a_failed_input_transaction_leaves_no_half_written_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let mut bad = located(115.6, 37.6, 0);
    bad.detection.confidence = f32::NAN; // SQLite stores NaN as NULL: the NOT NULL check fails mid-input
    let err = record(&mut store, "sha-b", &[located(115.7, 37.7, 0), bad]);
    assert!(err.is_err(), "the second detection must fail");
    assert!(store.tickets(&TicketFilter::all()).unwrap().is_empty(), "the first detection's ticket was rolled back");
    assert_eq!(store.input_status("sha-b").unwrap(), None, "the input will be processed again");
}

#[test]
fn ticket_ids_depend_only_on_the_input_and_detection() {
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
            record(&mut store, "sha-x", &[located(115.6, 37.6, 0)]).unwrap().opened[0].clone()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert!(ids[0].starts_with("FP-20260610-"), "{}", ids[0]);
}

#[test]
fn a_closed_ticket_is_not_joined_by_a_new_sighting() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let id = record(&mut store, "s1", &[located(115.6, 37.6, 0)]).unwrap().opened[0].clone();
    let joined = record(&mut store, "s2", &[located(115.6, 37.6, 5)]).unwrap();
    assert_eq!(joined.joined, vec![id.clone()]);
    store.close(&id, "out", chrono::Utc::now()).unwrap();
    let rekindled = record(&mut store, "s3", &[located(115.6, 37.6, 20)]).unwrap();
    assert_eq!(rekindled.opened.len(), 1, "a fire seen again after closing is a new ticket");
    assert_eq!(store.tickets(&TicketFilter::status(Status::Open)).unwrap().len(), 1);
}

#[test]
fn daily_report_counts_the_beijing_day_and_verification_before_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let at = |h, m| chrono::Utc.with_ymd_and_hms(2026, 6, 10, h, m, 0).unwrap();
    let day = |h| {
        Located::on_farmland(Detection::point(SourceKind::Satellite, 115.6, 37.6 + h as f64 * 0.1, at(h, 30), 700.0))
    };
    let a = record(&mut store, "a", &[day(5)]).unwrap().opened.remove(0);
    let b = record(&mut store, "b", &[day(6)]).unwrap().opened.remove(0);
    // 17:30 UTC is 01:30 the next day in Beijing: not in the 10 June report
    record(&mut store, "c", &[day(17)]).unwrap();
    store.ack(&a, "team", at(7, 0)).unwrap(); // in time (deadline 23:59:59 Beijing = 15:59:59 UTC)
    store.close(&b, "out", at(16, 30)).unwrap(); // after the deadline
    let rows = firepoint::report::daily(
        &store.tickets(&TicketFilter::all()).unwrap(),
        &store.fire_points().unwrap(),
        "2026-06-10".parse().unwrap(),
    );
    let total = rows.last().unwrap();
    assert_eq!(total.township_code, "total");
    assert_eq!(total.fire_points, 2, "one satellite point in each of the two tickets of the day");
    assert_eq!((total.tickets, total.satellite, total.acked, total.closed, total.verified_in_time), (2, 2, 1, 1, 1));
    let csv = firepoint::report::to_csv(&rows);
    assert!(csv.starts_with("rank,township_code,township,tickets,fire_points,"), "{csv}");
}

#[test]
fn r8_the_report_counts_fire_points_beside_fire_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
    // three adjacent 1-km pixels of one fire in one grid cell, and a lone pixel far away
    let px = |lon: f64, lat: f64| {
        let mut d = Detection::point(SourceKind::Satellite, lon, lat, at, 700.0);
        d.footprint = Some(firepoint::grid::rect_ring(lon, lat, 880.0, 1110.0));
        Located::on_farmland(d)
    };
    let report =
        record(&mut store, "scene", &[px(115.60, 37.60), px(115.61, 37.60), px(115.62, 37.60), px(115.80, 37.70)])
            .unwrap();
    assert_eq!(report.opened.len(), 2, "one fire, one event per grid cell; the lone pixel is another");
    let rows = firepoint::report::daily(
        &store.tickets(&TicketFilter::all()).unwrap(),
        &store.fire_points().unwrap(),
        "2026-06-10".parse().unwrap(),
    );
    let total = rows.last().unwrap();
    assert_eq!((total.tickets, total.fire_points), (2, 4));
    // the fire's ticket covers its three pixels: centred on them, its radius reaching the outer ones
    let fire = store.ticket(&report.opened[0]).unwrap();
    assert_eq!(fire.detections, 3);
    // (the box is kept in the R*Tree in float32: ~1e-5 degrees)
    assert!((fire.lon - 115.61).abs() < 2e-5, "{}", fire.lon);
    assert!(fire.radius_m > 880.0 + 440.0, "{}", fire.radius_m);
}

#[test]
fn r9_the_ledger_csv_opens_in_excel_with_chinese_headers_one_row_per_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let opened = record(&mut store, "a", &[located(115.6, 37.6, 30), located(115.8, 37.7, 31)]).unwrap().opened;
    store.ack(&opened[0], "网格员甲", chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 40, 0).unwrap()).unwrap();
    let csv = firepoint::feed::ledger_csv(&store.tickets(&TicketFilter::all()).unwrap());
    assert!(csv.starts_with("\u{feff}编号,乡镇,"), "BOM, then the Chinese header");
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let acked = rows.iter().find(|r| r[col("编号")] == opened[0]).unwrap();
    assert_eq!((&acked[col("状态")], &acked[col("签收人")]), ("已签收", "网格员甲"));
    assert_eq!(&acked[col("签收时间")], "2026-06-10 13:40", "Beijing time");
}
