//! The ticket store: durability across reopen, one transaction per input, idempotent ids.

use chrono::TimeZone;
use firepoint::config::Config;
use firepoint::domain::Status;
use firepoint::domain::{Detection, SourceKind};
use firepoint::locate::Located;
use firepoint::store::{Store, TicketFilter};

fn located(lon: f64, lat: f64, minute: u32) -> Located {
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, minute, 0).unwrap();
    Located::on_farmland(Detection::point(SourceKind::Satellite, lon, lat, at, 700.0))
}

#[test]
fn tickets_survive_reopen_and_same_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    let cfg = Config::default();
    let rules = cfg.rules();
    {
        let mut store = Store::open(&path).unwrap();
        let rec = firepoint::batch::record_input(
            &mut store,
            firepoint::batch::InputRef { path: "a.tif".as_ref(), sha256: "sha-a", kind: "satellite" },
            &[located(115.6, 37.6, 0)],
            &rules,
            cfg.persistence.cell_deg,
        )
        .unwrap();
        assert_eq!(rec.opened.len(), 1);
    } // dropped without any explicit flush, as a killed process would
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.tickets(&TicketFilter::all()).unwrap().len(), 1);
    assert_eq!(store.input_status("sha-a").unwrap().as_deref(), Some("done"));
    // recording the same input twice fails as a whole and changes nothing
    let again = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "a.tif".as_ref(), sha256: "sha-a", kind: "satellite" },
        &[located(115.9, 37.9, 0)],
        &rules,
        cfg.persistence.cell_deg,
    );
    assert!(again.is_err());
    assert_eq!(store.tickets(&TicketFilter::all()).unwrap().len(), 1);
}

#[test]
fn a_failed_input_transaction_leaves_no_half_written_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let cfg = Config::default();
    let rules = cfg.rules();
    let mut bad = located(115.6, 37.6, 0);
    bad.detection.confidence = f32::NAN; // SQLite stores NaN as NULL: the NOT NULL check fails mid-input
    let err = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "b.tif".as_ref(), sha256: "sha-b", kind: "satellite" },
        &[located(115.7, 37.7, 0), bad],
        &rules,
        cfg.persistence.cell_deg,
    );
    assert!(err.is_err(), "the second detection must fail");
    assert!(store.tickets(&TicketFilter::all()).unwrap().is_empty(), "the first detection's ticket was rolled back");
    assert_eq!(store.input_status("sha-b").unwrap(), None, "the input will be processed again");
}

#[test]
fn ticket_ids_depend_only_on_the_input_and_detection() {
    let cfg = Config::default();
    let rules = cfg.rules();
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
            firepoint::batch::record_input(
                &mut store,
                firepoint::batch::InputRef { path: "x.tif".as_ref(), sha256: "sha-x", kind: "satellite" },
                &[located(115.6, 37.6, 0)],
                &rules,
                cfg.persistence.cell_deg,
            )
            .unwrap()
            .opened[0]
                .clone()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert!(ids[0].starts_with("FP-20260610-"), "{}", ids[0]);
}

#[test]
fn a_closed_ticket_is_not_joined_by_a_new_sighting() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let cfg = Config::default();
    let rules = cfg.rules();
    let id = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "1".as_ref(), sha256: "s1", kind: "satellite" },
        &[located(115.6, 37.6, 0)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap()
    .opened[0]
        .clone();
    let joined = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "2".as_ref(), sha256: "s2", kind: "satellite" },
        &[located(115.6, 37.6, 5)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap();
    assert_eq!(joined.joined, vec![id.clone()]);
    store.close(&id, "out", chrono::Utc::now()).unwrap();
    let rekindled = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "3".as_ref(), sha256: "s3", kind: "satellite" },
        &[located(115.6, 37.6, 20)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap();
    assert_eq!(rekindled.opened.len(), 1, "a fire seen again after closing is a new ticket");
    assert_eq!(store.tickets(&TicketFilter::status(Status::Open)).unwrap().len(), 1);
}

#[test]
fn daily_report_counts_the_beijing_day_and_verification_before_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.sqlite")).unwrap();
    let cfg = Config::default();
    let rules = cfg.rules();
    let at = |h, m| chrono::Utc.with_ymd_and_hms(2026, 6, 10, h, m, 0).unwrap();
    let day = |h| {
        Located::on_farmland(Detection::point(SourceKind::Satellite, 115.6, 37.6 + h as f64 * 0.1, at(h, 30), 700.0))
    };
    let a = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "a".as_ref(), sha256: "a", kind: "satellite" },
        &[day(5)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap()
    .opened
    .remove(0);
    let b = firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "b".as_ref(), sha256: "b", kind: "satellite" },
        &[day(6)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap()
    .opened
    .remove(0);
    // 17:30 UTC is 01:30 the next day in Beijing: not in the 10 June report
    firepoint::batch::record_input(
        &mut store,
        firepoint::batch::InputRef { path: "c".as_ref(), sha256: "c", kind: "satellite" },
        &[day(17)],
        &rules,
        cfg.persistence.cell_deg,
    )
    .unwrap();
    store.ack(&a, "team", at(7, 0)).unwrap(); // in time (deadline 23:59:59 Beijing = 15:59:59 UTC)
    store.close(&b, "out", at(16, 30)).unwrap(); // after the deadline
    let rows = firepoint::report::daily(&store.tickets(&TicketFilter::all()).unwrap(), "2026-06-10".parse().unwrap());
    let total = rows.last().unwrap();
    assert_eq!(total.township_code, "total");
    assert_eq!((total.tickets, total.satellite, total.acked, total.closed, total.verified_in_time), (2, 2, 1, 1, 1));
    let csv = firepoint::report::to_csv(&rows);
    assert!(csv.starts_with("township_code,township,tickets,"), "{csv}");
}
