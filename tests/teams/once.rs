//! Issue 23: what must happen once when several processes share one store (PostgreSQL above
//! all, where nothing serialises writers the way SQLite's write lock does): an overdue step is
//! escalated by one sender, with one idempotency key a level; two tickets never name each other
//! (or a chain) as duplicates; concurrent feed writers never leave a feed file torn or stale.

use crate::common;

use std::sync::{Arc, Barrier};

use chrono::TimeZone;
use common::Db;
use firepoint::batch::{record_input, InputRef};
use firepoint::config::Config;
use firepoint::domain::{Detection, SourceKind, Status};
use firepoint::lifecycle::Step;
use firepoint::locate::Located;
use firepoint::store::{Store, TicketFilter};

/// Notification settings with an SMS gateway and a county office (messages are only queued).
fn notify() -> firepoint::notify::NotifyConfig {
    firepoint::notify::NotifyConfig {
        sms_url: "http://127.0.0.1:9/sms".into(),
        county_office_phone: "0311-12345".into(),
        ..Default::default()
    }
}

/// `n` satellite tickets on farmland in the test AOI (each with a township team's phone).
fn tickets(store: &mut Store, n: usize) -> Vec<String> {
    let cfg = Config::default();
    let aoi = firepoint::aoi::Aoi::load(std::path::Path::new("aoi")).unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 0, 0).unwrap();
    let located: Vec<Located> = (0..n)
        .map(|i| {
            let (lon, lat) = (115.3 + (i % 10) as f64 * 0.05, 37.4 + (i / 10) as f64 * 0.05);
            let mut l = Located::on_farmland(Detection::point(SourceKind::Satellite, lon, lat, at, 700.0));
            l.place = aoi.place(lon, lat);
            l
        })
        .collect();
    let input = InputRef {
        path: "once".as_ref(),
        sha256: "once",
        kind: "satellite",
        frame: None,
        note: None,
        forecasts: &[],
        view: None,
    };
    record_input(store, input, &located, &cfg.rules(), cfg.persistence.cell_deg, &notify()).unwrap().opened
}

/// Runs `f(store, i)` on `n` threads, each with its own connection, started together.
fn at_once<T: Send + 'static>(
    db: &Db,
    n: usize,
    f: impl Fn(&mut Store, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let (barrier, f) = (Arc::new(Barrier::new(n)), Arc::new(f));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (path, barrier, f) = (db.path(), barrier.clone(), f.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                barrier.wait();
                f(&mut store, i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Three senders escalate the same overdue steps at once (serve's sender and cron's `notify`):
/// each step is escalated once, and its messages carry a key made of the ticket, the step and
/// the level, so a repeat would be refused by the outbox and dropped by any receiver.
fn r23_three_senders_at_once_escalate_each_overdue_step_once(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let ids = tickets(&mut store, 40);
    // both deadlines of every ticket (verify, then the lead's) are long past
    let now = chrono::Utc.with_ymd_and_hms(2026, 6, 20, 0, 0, 0).unwrap();
    for _round in 0..3 {
        at_once(db, 3, move |s, _| s.escalate_overdue(now, &notify()).unwrap());
    }
    let escalations = db.strings("SELECT ticket_id FROM ticket_log WHERE action = 'escalate'");
    assert_eq!(escalations.len(), ids.len() * 2, "verify and lead once each, per ticket");
    for id in &ids {
        let t = store.ticket(id).unwrap();
        assert_eq!((t.escalation, t.escalated.clone()), (2, vec!["verify".to_string(), "lead".to_string()]));
    }
    let keys = db.strings(
        "SELECT o.key FROM outbox o JOIN ticket_log l ON l.seq = o.log_seq WHERE l.action = 'escalate' ORDER BY o.key",
    );
    assert!(!keys.is_empty());
    for id in &ids {
        for (step, level) in [("verify", 1), ("lead", 2)] {
            let prefix = format!("{id}/escalate/{step}/{level}/");
            assert!(keys.iter().any(|k| k.starts_with(&prefix)), "a key {prefix}… among {keys:?}");
        }
    }
}

/// `duplicate A --of B` and `duplicate B --of A` at the same moment: one wins, the other is
/// refused, and the fire stays on the list (on every pair).
fn r23_two_tickets_marked_duplicates_of_each_other_at_once_keep_the_fire(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let ids = Arc::new(tickets(&mut store, 40));
    let now = chrono::Utc::now();
    let pairs = ids.len() / 2;
    let ids2 = ids.clone();
    let won: Vec<usize> = at_once(db, 2, move |s, side| {
        (0..pairs)
            .filter(|p| {
                let (a, b) = (&ids2[2 * p], &ids2[2 * p + 1]);
                let (id, of) = if side == 0 { (a, b) } else { (b, a) };
                s.step(id, &Step::Duplicate { of: of.clone() }, "甲", now, &notify()).is_ok()
            })
            .count()
    });
    assert_eq!(won.iter().sum::<usize>(), pairs, "exactly one of each pair: {won:?}");
    for p in 0..pairs {
        let (a, b) = (store.ticket(&ids[2 * p]).unwrap(), store.ticket(&ids[2 * p + 1]).unwrap());
        let carriers = [&a, &b].iter().filter(|t| t.status == Status::Open).count();
        assert_eq!(carriers, 1, "one of {} and {} still carries the fire", a.id, b.id);
    }
}

/// A duplicate always names a ticket that carries the fire: a ticket that others name as their
/// duplicate cannot itself become a duplicate (A of B, then B of C is refused), nor can a
/// ticket name a duplicate (C of A, with A a duplicate of B).
fn r23_duplicates_never_chain(db: &Db) {
    let mut store = Store::open(&db.path()).unwrap();
    let ids = tickets(&mut store, 3);
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    let now = chrono::Utc::now();
    let dup = |of: &str| Step::Duplicate { of: of.into() };
    store.step(a, &dup(b), "甲", now, &notify()).unwrap();
    let err = store.step(b, &dup(c), "甲", now, &notify()).unwrap_err().to_string();
    assert!(err.contains(a.as_str()), "the refusal names the duplicate that points at {b}: {err}");
    assert_eq!(store.ticket(b).unwrap().status, Status::Open, "the fire is still on the list");
    let err = store.step(c, &dup(a), "甲", now, &notify()).unwrap_err().to_string();
    assert!(err.contains("is itself a duplicate of"), "{err}");
    // every duplicate names an active ticket
    for t in store.tickets(&TicketFilter::all()).unwrap() {
        if let Some(of) = &t.duplicate_of {
            assert_eq!(store.ticket(of).unwrap().status, Status::Open, "{} names {of}", t.id);
        }
    }
}

/// Workers writing the feed at once (here 4 threads, each its own ticket list, 25 rounds) while
/// readers read: every read of each file parses as its own format, and after each round the
/// two files and their `.feed-state` are one writer's (the same number of tickets in each).
#[test]
fn r23_feed_writers_at_once_never_leave_a_torn_or_mixed_feed() {
    let db = Db::sqlite();
    let mut store = Store::open(&db.path()).unwrap();
    tickets(&mut store, 8);
    let all = Arc::new(store.tickets(&TicketFilter::all()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (feed, done) = (feed.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(feed.join("tickets.jsonl")) {
                    for line in text.lines() {
                        let t: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                        assert!(t["id"].is_string(), "a ticket, not GeoJSON: {line}");
                    }
                    reads += 1;
                }
                if let Ok(text) = std::fs::read_to_string(feed.join("tickets.geojson")) {
                    let g: serde_json::Value = serde_json::from_str(&text).expect("GeoJSON parses");
                    assert_eq!(g["type"], "FeatureCollection");
                }
            }
            reads
        })
    };
    for round in 0..25 {
        let writers: Vec<_> = (1..=4usize)
            .map(|n| {
                let (feed, all) = (feed.clone(), all.clone());
                std::thread::spawn(move || {
                    let state = firepoint::feed::FeedState {
                        version: (round * 10 + n) as i64,
                        tickets: n as i64,
                        from_day: "2026-06-10".into(),
                    };
                    firepoint::feed::write(&feed, &all[..n * 2], Some(&state)).unwrap();
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        let lines = std::fs::read_to_string(feed.join("tickets.jsonl")).unwrap().lines().count();
        let g: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(feed.join("tickets.geojson")).unwrap()).unwrap();
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(feed.join(".feed-state")).unwrap()).unwrap();
        let written = state["tickets"].as_u64().unwrap() as usize * 2;
        assert_eq!(
            (lines, g["features"].as_array().unwrap().len()),
            (written, written),
            "round {round}: the JSONL, the GeoJSON and the state are one writer's"
        );
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0, "the reader read the feed");
}

both!(
    r23_three_senders_at_once_escalate_each_overdue_step_once,
    r23_two_tickets_marked_duplicates_of_each_other_at_once_keep_the_fire,
    r23_duplicates_never_chain,
);
