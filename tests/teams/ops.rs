//! Issue 21, part 3: seeing that it works — `/metrics` read by a small parser of Prometheus'
//! text format and checked against a store the test filled, JSON logs on stderr, the deploy/
//! units (parsed; `systemd-analyze verify` where setup.sh installed it), and a satellite ticket
//! escalated to the county office.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::TimeZone;
use common::{Db, Sandbox};
use firepoint::config::Config;
use firepoint::domain::{Detection, SourceKind};
use firepoint::locate::Located;
use firepoint::store::Store;

/// One sample of an exposition: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`).
fn name_len(s: &str, colon: bool) -> usize {
    let ok =
        |i: usize, c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (i > 0 && c.is_ascii_digit());
    s.char_indices().take_while(|&(i, c)| ok(i, c)).count()
}

/// Parses Prometheus' text format 0.0.4 strictly enough to catch what a scraper refuses: every
/// sample's family has one `# HELP` and one `# TYPE` before its samples, names are names, label
/// values are quoted with only `\\`, `\"` and `\n` escapes, values are numbers (or `NaN`, `±Inf`).
fn parse_exposition(text: &str) -> Result<(Vec<Sample>, HashMap<String, String>), String> {
    let (mut help, mut types, mut samples) = (HashMap::new(), HashMap::<String, String>::new(), Vec::new());
    for (n, line) in text.lines().enumerate() {
        let at = |what: &str| format!("line {}: {what}: {line}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if help.insert(name.to_string(), ()).is_some() {
                return Err(at("a second HELP"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("TYPE without a type"))?;
            if !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind) {
                return Err(at("unknown type"));
            }
            if samples.iter().any(|s: &Sample| s.name == name) || types.insert(name.into(), kind.into()).is_some() {
                return Err(at("TYPE after samples, or twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue; // a comment
        }
        let len = name_len(line, true);
        if len == 0 {
            return Err(at("no metric name"));
        }
        let name = &line[..len];
        let mut rest = &line[len..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            loop {
                if let Some(after) = rest.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let l = name_len(rest, false);
                let key = rest[..l].to_string();
                rest = rest[l..].strip_prefix("=\"").ok_or_else(|| at("label without =\""))?;
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next().ok_or_else(|| at("unterminated label value"))? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            _ => return Err(at("bad escape")),
                        },
                        (_, '\n') => return Err(at("newline in a label value")),
                        (_, c) => value.push(c),
                    }
                };
                if l == 0 || labels.insert(key, value).is_some() {
                    return Err(at("empty or repeated label name"));
                }
                rest = &rest[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        let mut fields = rest.strip_prefix(' ').ok_or_else(|| at("no space before the value"))?.split(' ');
        let value = match fields.next().unwrap_or("") {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse::<f64>().map_err(|_| at("value is not a number"))?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at("timestamp is not an integer"))?;
        }
        // a summary's or histogram's _sum, _count and _bucket belong to its family
        let family = ["_sum", "_count", "_bucket"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| matches!(types.get(*f).map(String::as_str), Some("summary" | "histogram")))
            })
            .unwrap_or(name);
        if !help.contains_key(family) || !types.contains_key(family) {
            return Err(at("a sample without its family's HELP and TYPE before it"));
        }
        samples.push(Sample { name: name.into(), labels, value });
    }
    Ok((samples, types))
}

/// The value of `name` with exactly `labels` (panics when absent: the series must be there).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
        .value
}

/// The sum of every sample of `name`.
fn total(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

#[test]
fn r21_the_exposition_parser_refuses_what_a_scraper_refuses() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\\n\"} 1\na_total 2.5e3\n";
    let (samples, _) = parse_exposition(ok).unwrap();
    assert_eq!(samples[0].labels["k"], "v\"\n");
    assert_eq!(samples[1].value, 2500.0);
    for bad in [
        "a 1\n",                                             // no HELP / TYPE
        "# HELP a x\n# TYPE a gauge\na one\n",               // not a number
        "# HELP a x\n# TYPE a gauge\na{k=\"v} 1\n",          // unterminated
        "# HELP a x\n# TYPE a gauge\na{k=\"\\t\"} 1\n",      // an escape the format has not
        "# HELP a x\n# TYPE a gauge\na 1\n# TYPE a gauge\n", // TYPE after samples
        "# HELP a x\n# TYPE a meter\na 1\n",                 // no such type
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad:?} was accepted");
    }
}

/// Records one input of `located` (a satellite input named after `sha`).
fn record(store: &mut Store, sha: &str, located: &[Located], notify: &firepoint::notify::NotifyConfig) -> Vec<String> {
    crate::store::record_notified(store, sha, located, notify).unwrap().opened
}

fn placed(source: SourceKind, lon: f64, lat: f64, minute: u32) -> Located {
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, minute, 0).unwrap();
    let mut d = Detection::point(source, lon, lat, at, 300.0);
    if source != SourceKind::Satellite {
        d.sensor = "camera:T1".into();
    }
    let mut loc = Located::on_farmland(d);
    loc.place = aoi().place(lon, lat);
    loc
}

fn aoi() -> firepoint::aoi::Aoi {
    firepoint::aoi::Aoi::load(&common::repo_path("aoi")).unwrap()
}

/// The store's counts `/metrics` reads, on both databases: the queue, the outbox by channel and state, tickets by opening source and status.
fn r21_metric_counts_are_the_stores_rows(db: &Db) {
    let quiet = firepoint::notify::NotifyConfig::default();
    let mut store = Store::open(&db.path()).unwrap();
    let sat = record(
        &mut store,
        "s1",
        &[placed(SourceKind::Satellite, 115.60, 37.60, 0), placed(SourceKind::Satellite, 115.30, 37.40, 0)],
        &quiet,
    );
    let cam = record(&mut store, "c1", &[placed(SourceKind::Camera, 115.72, 37.60, 1)], &quiet);
    assert_eq!((sat.len(), cam.len()), (2, 1));
    store.record_quarantine(Path::new("bad.tif"), "q1", "satellite", "not a raster").unwrap();
    store.step(&sat[0], &firepoint::lifecycle::Step::Ack, "网格员", chrono::Utc::now(), &quiet).unwrap();
    let queued = |sha: &str| firepoint::store::Queued {
        sha256: sha.into(),
        key: sha.into(),
        path: sha.into(),
        kind: "frame".into(),
    };
    store.enqueue(&[queued("w1"), queued("w2")], chrono::Utc::now()).unwrap();
    let c = store.metric_counts().unwrap();
    let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(c.queue.get(&k(&["waiting"])), Some(&2));
    assert_eq!(c.tickets.get(&k(&["satellite", "open"])), Some(&1));
    assert_eq!(c.tickets.get(&k(&["satellite", "acknowledged"])), Some(&1));
    assert_eq!(c.tickets.get(&k(&["camera", "open"])), Some(&1));
    let (pending, sent, failed, skipped) = store.outbox_counts().unwrap();
    let state = |s: &str| c.outbox.iter().filter(|(k, _)| k[1] == s).map(|(_, n)| n).sum::<i64>();
    assert_eq!((state("pending"), state("sent"), state("failed"), state("skipped")), (pending, sent, failed, skipped));
    assert!(pending > 0 && c.outbox.keys().any(|k| k[0] == "sms") && c.outbox.keys().any(|k| k[0] == "webhook"));
}

both!(r21_metric_counts_are_the_stores_rows);

/// A batch run that ended `ago` before now after `seconds`, with `by_kind` [(kind, outcome, n)].
fn batch_run(
    ago: chrono::Duration,
    seconds: i64,
    outcome: &str,
    by_kind: &[(&str, &str, i64)],
) -> firepoint::store::BatchRun {
    let finished_at = chrono::Utc::now() - ago;
    let mut kinds: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (kind, out, n) in by_kind {
        kinds.entry(kind.to_string()).or_default().insert(out.to_string(), *n);
    }
    let inputs = by_kind.iter().map(|k| k.2).sum();
    firepoint::store::BatchRun {
        worker: "host:1".into(),
        started_at: finished_at - chrono::Duration::seconds(seconds),
        finished_at,
        outcome: outcome.into(),
        inputs,
        processed: inputs,
        skipped: 0,
        failed: 0,
        retried: 0,
        opened: 0,
        by_kind: kinds,
    }
}

/// A router over the store at `path` (the sample district, `batch.stale_after_min` 15).
fn app(path: &Path) -> axum::Router {
    let cfg = Config::default();
    let villages = firepoint::serve::villages_geojson(&aoi());
    firepoint::serve::router(path, &cfg.serve, &cfg.notify, 15, villages, "127.0.0.1:8787".parse().unwrap()).unwrap()
}

/// GET `uri` with an optional token: status, content type, body.
fn call(rt: &tokio::runtime::Runtime, app: &axum::Router, uri: &str, token: Option<&str>) -> (u16, String, String) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().uri(uri).header("host", "localhost");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = rt.block_on(app.clone().oneshot(req.body(axum::body::Body::empty()).unwrap())).unwrap();
    let (status, ct) =
        (resp.status().as_u16(), resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()));
    let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
    (status, ct.unwrap_or_default(), String::from_utf8(bytes.to_vec()).unwrap())
}

/// `/health/batch` (no token): 200 `ok` while the last batch ended within
/// `batch.stale_after_min`, 503 `stale` before the first batch and once the last is older.
#[test]
fn r21_batch_health_is_stale_when_no_batch_ended_within_stale_after_min() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    Store::open(&path).unwrap();
    let (app, rt) = (app(&path), tokio::runtime::Runtime::new().unwrap());
    let health = || {
        let (status, ct, body) = call(&rt, &app, "/health/batch", None);
        assert_eq!(ct, "application/json");
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap())
    };
    let (status, body) = health();
    assert_eq!(
        (status, &body["status"], &body["last_batch_finished"]),
        (503, &"stale".into(), &serde_json::Value::Null)
    );
    let old = batch_run(chrono::Duration::minutes(16), 30, "ok", &[]);
    Store::open(&path).unwrap().record_batch_run(&old).unwrap();
    let (status, body) = health();
    assert_eq!((status, &body["status"], body["stale_after_min"].as_i64()), (503, &"stale".into(), Some(15)), "{body}");
    let fresh = batch_run(chrono::Duration::minutes(14), 30, "partial", &[]);
    Store::open(&path).unwrap().record_batch_run(&fresh).unwrap();
    let (status, body) = health();
    assert_eq!(
        (status, &body["status"], &body["last_batch_outcome"]),
        (200, &"ok".into(), &"partial".into()),
        "{body}"
    );
    assert_eq!(body["last_batch_finished"], firepoint::store::ts(fresh.finished_at));
}

/// `/metrics` through the router: the county token only, the text format, and numbers that
/// are the store's.
#[test]
fn r21_metrics_are_prometheus_text_that_counts_what_the_store_holds() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let quiet = firepoint::notify::NotifyConfig::default();
    let (county, town) = {
        let mut store = Store::open(&path).unwrap();
        let sat = record(
            &mut store,
            "s1",
            &[placed(SourceKind::Satellite, 115.60, 37.60, 0), placed(SourceKind::Satellite, 115.30, 37.40, 0)],
            &quiet,
        );
        record(&mut store, "c1", &[placed(SourceKind::Camera, 115.72, 37.60, 1)], &quiet);
        store.record_quarantine(Path::new("bad.tif"), "q1", "satellite", "not a raster").unwrap();
        store.step(&sat[0], &firepoint::lifecycle::Step::Ack, "网格员", chrono::Utc::now(), &quiet).unwrap();
        // no channel configured: every message due is settled as skipped
        firepoint::sender::send_due(&mut store, &quiet, 10_000).unwrap();
        record(&mut store, "s2", &[placed(SourceKind::Satellite, 115.50, 37.70, 2)], &quiet);
        for run in [
            batch_run(
                chrono::Duration::minutes(60),
                10,
                "ok",
                &[("satellite", "done", 2), ("satellite", "quarantined", 1)],
            ),
            batch_run(chrono::Duration::minutes(30), 40, "partial", &[("frame", "done", 5), ("frame", "skipped", 3)]),
            batch_run(chrono::Duration::minutes(5), 200, "ok", &[("frame", "done", 1)]),
        ] {
            store.record_batch_run(&run).unwrap();
        }
        let town = store.ticket(&sat[0]).unwrap().township_code;
        (store.add_token("县值班", None).unwrap().1, store.add_token("乡", Some(&town)).unwrap().1)
    };
    let (pending, _, _, skipped) = Store::open(&path).unwrap().outbox_counts().unwrap();
    let cameras = aoi().cameras.len() as f64;
    let app = app(&path);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let get = |token: Option<&str>| {
        let mut req = Request::builder().uri("/metrics").header("host", "localhost");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = rt.block_on(app.clone().oneshot(req.body(Body::empty()).unwrap())).unwrap();
        let (status, ct) =
            (resp.status().as_u16(), resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()));
        let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
        (status, ct.unwrap_or_default(), String::from_utf8(bytes.to_vec()).unwrap())
    };
    assert_eq!(get(None).0, 401, "a token is needed");
    assert_eq!(get(Some(&town)).0, 403, "the county's numbers are not a township's");
    let (status, ct, body) = get(Some(&county));
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let (s, types) = parse_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert_eq!(types["firepoint_inputs_total"], "counter");
    assert_eq!(types["firepoint_batch_duration_seconds"], "histogram");
    let inputs =
        |s: &[Sample], kind, outcome| value(s, "firepoint_inputs_total", &[("kind", kind), ("outcome", outcome)]);
    assert_eq!((inputs(&s, "satellite", "done"), inputs(&s, "satellite", "quarantined")), (2.0, 1.0));
    assert_eq!((inputs(&s, "frame", "done"), inputs(&s, "frame", "skipped")), (6.0, 3.0));
    let runs = |s: &[Sample], outcome| value(s, "firepoint_batch_runs_total", &[("outcome", outcome)]);
    assert_eq!((runs(&s, "ok"), runs(&s, "partial"), runs(&s, "failed")), (2.0, 1.0, 0.0));
    let le = |s: &[Sample], le| value(s, "firepoint_batch_duration_seconds_bucket", &[("le", le)]);
    assert_eq!((le(&s, "5"), le(&s, "15"), le(&s, "60"), le(&s, "300"), le(&s, "+Inf")), (0.0, 1.0, 2.0, 3.0, 3.0));
    assert_eq!(value(&s, "firepoint_batch_duration_seconds_sum", &[]), 250.0);
    assert_eq!(value(&s, "firepoint_batch_duration_seconds_count", &[]), 3.0);
    assert_eq!(value(&s, "firepoint_last_batch_duration_seconds", &[]), 200.0);
    assert_eq!(value(&s, "firepoint_batch_stale", &[]), 0.0);
    let last = Store::open(&path).unwrap().last_batch_run().unwrap().unwrap();
    assert_eq!(value(&s, "firepoint_last_batch_finished_timestamp_seconds", &[]), last.finished_at.timestamp() as f64);
    assert_eq!(value(&s, "firepoint_tickets_opened_total", &[("source", "satellite")]), 3.0);
    assert_eq!(value(&s, "firepoint_tickets_opened_total", &[("source", "camera")]), 1.0);
    assert_eq!(
        value(&s, "firepoint_tickets_opened_total", &[("source", "drone")]),
        0.0,
        "an empty series is 0, not absent"
    );
    assert_eq!(value(&s, "firepoint_tickets", &[("status", "open")]), 3.0);
    assert_eq!(value(&s, "firepoint_tickets", &[("status", "acknowledged")]), 1.0);
    assert_eq!(value(&s, "firepoint_tickets", &[("status", "resolved")]), 0.0);
    assert_eq!(value(&s, "firepoint_queue", &[("state", "waiting")]), 0.0);
    assert_eq!(total(&s, "firepoint_outbox_pending"), pending as f64);
    assert!(pending > 0 && skipped > 0);
    assert_eq!(value(&s, "firepoint_deliveries_total", &[("channel", "sms"), ("state", "sent")]), 0.0);
    let skipped_seen = value(&s, "firepoint_deliveries_total", &[("channel", "sms"), ("state", "skipped")])
        + value(&s, "firepoint_deliveries_total", &[("channel", "webhook"), ("state", "skipped")]);
    assert_eq!(skipped_seen, skipped as f64);
    assert_eq!(total(&s, "firepoint_towers"), cameras, "every tower of the district, once");
    assert_eq!(value(&s, "firepoint_towers", &[("state", "unknown")]), cameras, "no frame from any");
    // the next scrape adds the runs that ended since, each once
    let later = batch_run(chrono::Duration::minutes(1), 2, "ok", &[("frame", "done", 4)]);
    Store::open(&path).unwrap().record_batch_run(&later).unwrap();
    let (_, _, body) = get(Some(&county));
    let (s, _) = parse_exposition(&body).unwrap();
    assert_eq!((inputs(&s, "frame", "done"), runs(&s, "ok")), (10.0, 3.0));
    assert_eq!(
        (le(&s, "5"), le(&s, "+Inf"), value(&s, "firepoint_batch_duration_seconds_count", &[])),
        (1.0, 4.0, 4.0)
    );
}

/// A run with `--log-format json` (or FIREPOINT_LOG_FORMAT=json) says everything on stderr as
/// one JSON object a line, its bad input included; text stays the default.
#[test]
fn r21_json_logs_are_one_object_a_line_on_stderr() {
    let with_bad_input = || {
        let sb = Sandbox::new();
        let bad = sb.path("work/inbox/satellite/bad_scene.tif");
        std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
        std::fs::write(&bad, b"not a GeoTIFF at all").unwrap();
        sb
    };
    let out = with_bad_input().cmd().args(["--log-format", "json", "-v", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a bad input is a partial run");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {e}: {l}")))
        .collect();
    assert!(
        lines.len() >= 2 && lines.iter().all(|l| l.is_object() && l["level"].is_string() && l["timestamp"].is_string()),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "ERROR" && l["fields"]["message"].as_str().unwrap_or("").contains("bad input")),
        "the bad input is said as a JSON error: {stderr}"
    );
    // the environment variable says the same; text is the default
    let out = with_bad_input().cmd().env("FIREPOINT_LOG_FORMAT", "json").arg("run").output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad input") && stderr.lines().all(|l| l.starts_with('{')), "{stderr}");
    let out = with_bad_input().cmd().arg("run").output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("error: bad input") && !stderr.lines().any(|l| l.starts_with('{')), "{stderr}");
}

/// The satellite ticket's ladder: the township lead at the day's cutoff, the county office past
/// the lead's own deadline (SMS to `notify.county_office_phone`), each once.
fn r21_an_overdue_satellite_ticket_reaches_the_county_office_once(db: &Db) {
    let notify = firepoint::notify::NotifyConfig { county_office_phone: "0311-12345".into(), ..Default::default() };
    let mut store = Store::open(&db.path()).unwrap();
    let id = record(&mut store, "sat", &[placed(SourceKind::Satellite, 115.6, 37.6, 0)], &notify).remove(0);
    let t = store.ticket(&id).unwrap();
    assert_eq!(t.ack_deadline, None, "a satellite ticket: one team step, verify by the cutoff");
    let lead_due = t.deadline + chrono::Duration::hours(firepoint::lifecycle::SATELLITE_LEAD_H);
    let s = chrono::Duration::seconds(1);
    assert_eq!(store.escalate_overdue(t.deadline + s, &notify).unwrap(), 1, "the township lead at the cutoff");
    assert_eq!(store.escalate_overdue(lead_due, &notify).unwrap(), 0, "not late at the lead's deadline itself");
    assert_eq!(store.escalate_overdue(lead_due + s, &notify).unwrap(), 1, "the county office past it");
    assert_eq!(store.escalate_overdue(lead_due + chrono::Duration::days(2), &notify).unwrap(), 0, "once");
    let t = store.ticket(&id).unwrap();
    assert_eq!((t.escalation, t.escalated.clone()), (2, vec!["verify".to_string(), "lead".to_string()]));
    let to = db.strings(&format!(
        "SELECT o.target FROM outbox o JOIN ticket_log l ON l.seq = o.log_seq
         WHERE o.ticket_id = '{id}' AND o.channel = 'sms' AND l.action = 'escalate' ORDER BY o.id"
    ));
    assert_eq!(to, [t.team_phone.clone(), "0311-12345".to_string()]);
    let texts = db.strings(&format!(
        "SELECT o.body FROM outbox o JOIN ticket_log l ON l.seq = o.log_seq
         WHERE o.ticket_id = '{id}' AND o.channel = 'sms' AND l.action = 'escalate' ORDER BY o.id"
    ));
    assert!(texts[0].contains("核查超时，升级至乡镇负责人"), "{}", texts[0]);
    assert!(texts[1].contains("核查超时，升级至县办"), "the same wording, the county's level: {}", texts[1]);
    // the ledger still counts one late team step (the lead's deadline is no team step)
    assert_eq!(firepoint::lifecycle::late_steps(&t, lead_due + s).len(), 1);
}

both!(r21_an_overdue_satellite_ticket_reaches_the_county_office_once);

/// A file of deploy/.
fn deploy(rel: &str) -> std::path::PathBuf {
    common::repo_path("deploy").join(rel)
}

/// A systemd unit as its sections' `key=value` lines, in order (comments dropped, continued
/// lines joined); panics on a line that is neither.
fn unit(path: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).unwrap().replace("\\\n", " ");
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(['#', ';'])) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_string());
            out.entry(name.into()).or_default();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{}: not key=value: {line}", path.display()));
        let section = section.clone().unwrap_or_else(|| panic!("{}: {line} before any [section]", path.display()));
        out.entry(section).or_default().push((key.trim().into(), value.trim().into()));
    }
    out
}

fn key<'u>(u: &'u BTreeMap<String, Vec<(String, String)>>, section: &str, key: &str) -> Option<&'u str> {
    u.get(section)?.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Words as a shell (and systemd's ExecStart) splits them: whitespace, '…' and "…" quoting.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The firepoint arguments of an ExecStart: itself, or the firepoint command inside `sh -c '…'`
/// up to a redirection or the next command.
fn firepoint_args(exec: &str) -> Vec<String> {
    let mut w = words(exec);
    if w.len() == 3 && w[0].ends_with("/sh") && w[1] == "-c" {
        w = words(&w[2]);
    }
    let at = w.iter().position(|x| x.ends_with("/firepoint")).unwrap_or_else(|| panic!("no firepoint in `{exec}`"));
    w[at + 1..].iter().take_while(|x| ![">", ">>", "|", ";", "&&", "||"].contains(&x.as_str())).cloned().collect()
}

/// Every unit in deploy/systemd parses with its required sections and keys; every ExecStart runs
/// a firepoint subcommand with flags it accepts (`firepoint SUB --help` lists each); every timer
/// has an OnCalendar and starts a service that is there; every log file a unit appends to is
/// rotated by deploy/logrotate.conf.
#[test]
fn r21_the_deploy_units_start_commands_firepoint_accepts() {
    let dir = deploy("systemd");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    for want in [
        "run.service",
        "run.timer",
        "serve.service",
        "notify.service",
        "notify.timer",
        "report.service",
        "report.timer",
    ] {
        assert!(names.contains(&format!("firepoint-{want}")), "deploy/systemd has no firepoint-{want}: {names:?}");
    }
    let rotated = std::fs::read_to_string(deploy("logrotate.conf")).unwrap();
    let glob = rotated.lines().find(|l| l.starts_with('/')).unwrap().trim_end_matches('{').trim().to_string();
    let (log_dir, suffix) = glob.split_once('*').unwrap();
    let mut commands = Vec::new();
    for name in &names {
        let u = unit(&dir.join(name));
        assert!(key(&u, "Unit", "Description").is_some(), "{name}: no Description");
        if name.ends_with(".timer") {
            let calendar = key(&u, "Timer", "OnCalendar").unwrap_or_else(|| panic!("{name}: no OnCalendar"));
            assert!(!calendar.is_empty());
            let service = key(&u, "Timer", "Unit").map(String::from).unwrap_or(name.replace(".timer", ".service"));
            assert!(names.contains(&service), "{name} starts {service}, which is not there");
            assert_eq!(key(&u, "Install", "WantedBy"), Some("timers.target"), "{name}");
            continue;
        }
        assert!(name.ends_with(".service"), "{name}: only services and timers here");
        assert_eq!(key(&u, "Service", "User"), Some("firepoint"), "{name}: a dedicated user");
        assert_eq!(key(&u, "Service", "ProtectSystem"), Some("strict"), "{name}");
        assert_eq!(key(&u, "Service", "NoNewPrivileges"), Some("yes"), "{name}");
        match key(&u, "Service", "Type") {
            Some("oneshot") => {}
            Some("simple") => {
                assert!(matches!(key(&u, "Service", "Restart"), Some("on-failure" | "always")), "{name}: restarted");
                assert_eq!(key(&u, "Install", "WantedBy"), Some("multi-user.target"), "{name}");
            }
            other => panic!("{name}: Type {other:?}"),
        }
        for out in ["StandardOutput", "StandardError"] {
            if let Some(file) = key(&u, "Service", out).and_then(|v| v.strip_prefix("append:")) {
                assert!(file.starts_with(log_dir) && file.ends_with(suffix), "{name}: {file} is not rotated by {glob}");
            }
        }
        let exec = key(&u, "Service", "ExecStart").unwrap_or_else(|| panic!("{name}: no ExecStart"));
        commands.push((name.clone(), firepoint_args(exec)));
    }
    let mut subcommands = Vec::new();
    for (name, args) in commands {
        // global options first (--config FILE, --set K=V, -v), then the subcommand and its flags
        let mut i = 0;
        while args[i].starts_with('-') {
            i += if ["--config", "--set", "--log-format"].contains(&args[i].as_str()) { 2 } else { 1 };
        }
        let sub = &args[i];
        let help = Sandbox::new().cmd().args([sub.as_str(), "--help"]).output().unwrap();
        assert!(help.status.success(), "{name}: `firepoint {sub}` is no subcommand");
        let help = String::from_utf8(help.stdout).unwrap();
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(help.contains(&format!("{flag} ")), "{name}: `firepoint {sub}` has no {flag}:\n{help}");
        }
        subcommands.push(sub.clone());
    }
    subcommands.sort();
    assert_eq!(subcommands, ["notify", "report", "run", "serve"]);
}

/// `systemd-analyze verify` accepts every unit (the firepoint binary put where the units name
/// /srv/firepoint/firepoint) without a warning, and `systemd-analyze calendar` every OnCalendar.
#[test]
#[ignore = "needs systemd-analyze: scripts/setup.sh installs Debian's systemd, scripts/test.sh runs this"]
fn r21_systemd_analyze_verifies_the_deploy_units() {
    let dir = deploy("systemd");
    let tmp = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("firepoint");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text =
            std::fs::read_to_string(&p).unwrap().replace("/srv/firepoint/firepoint ", &format!("{} ", bin.display()));
        let to = tmp.path().join(p.file_name().unwrap());
        std::fs::write(&to, text).unwrap();
        files.push(to);
        if p.extension().is_some_and(|x| x == "timer") {
            let calendar = key(&unit(&p), "Timer", "OnCalendar").unwrap().to_string();
            let out = std::process::Command::new("systemd-analyze").args(["calendar", &calendar]).output().unwrap();
            assert!(out.status.success(), "{}: {calendar}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
        }
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

/// deploy/postgresql/setup.sql on the test cluster (its names made unique): a worker's first
/// run makes the tables, owned by the owner role; the feed's role writes (a token); the read
/// role reads and is refused a write.
#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r21_the_postgresql_layout_lets_workers_and_the_feed_write_and_readers_read_postgres() {
    let admin = std::env::var("FIREPOINT_TEST_PG").expect("FIREPOINT_TEST_PG (scripts/pg.sh)");
    let name = format!("fp{}_{}", std::process::id(), chrono::Utc::now().timestamp_subsec_nanos());
    let sql = std::fs::read_to_string(deploy("postgresql/setup.sql")).unwrap().replace("firepoint", &name);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("setup.sql"), sql).unwrap();
    let out = std::process::Command::new("psql")
        .args([admin.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(tmp.path().join("setup.sql"))
        .output()
        .expect("psql runs (Debian's postgresql-client, with the postgresql package)");
    assert!(out.status.success(), "setup.sql: {}", String::from_utf8_lossy(&out.stderr));
    let server = admin.split_once('@').unwrap().1.rsplit_once('/').unwrap().0.to_string();
    let url = |role: &str| format!("postgres://{name}_{role}@{server}/{name}");
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("work/inbox")).unwrap();
    let store = |role: &str| format!("paths.store={:?}", url(role));
    sb.cmd().args(["--set", &store("worker"), "run"]).assert().code(0);
    sb.cmd().args(["--set", &store("feed"), "token", "add", "--county"]).assert().success();
    let mut read = postgres::Client::connect(&url("read"), postgres::NoTls).unwrap();
    let owner: String =
        read.query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'tickets'", &[]).unwrap().get(0);
    assert_eq!(owner, name, "the owner role owns what the worker made");
    let tokens: i64 = read.query_one("SELECT count(*) FROM tokens", &[]).unwrap().get(0);
    assert_eq!(tokens, 1);
    let refused = read.batch_execute("DELETE FROM tokens").unwrap_err();
    let refused = refused.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(refused.contains("read-only"), "{refused}");
}

/// Issue 22: `-v` is firepoint's progress and `-vv` its details, never the libraries' internals
/// (the PostgreSQL driver logs every query it prepares at debug); `-vvv` shows those too.
#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r22_verbose_levels_show_firepoint_and_keep_the_libraries_quiet_postgres() {
    let db = Db::postgres();
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("work/inbox/satellite")).unwrap();
    std::fs::write(
        sb.path("work/inbox/satellite/MODIS_000.csv"),
        common::firms_table(&[(37.53, 115.52, "2026-06-01", "0530")]),
    )
    .unwrap();
    let store = format!("paths.store={:?}", db.path().display().to_string());
    let stderr = |v: &str, cmd: &str| {
        let out = sb.cmd().args(["--set", &store, v, cmd]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let progress = stderr("-v", "run");
    assert!(progress.contains("batch: 1 input(s) to read"), "-v shows the batch's progress: {progress}");
    let details = stderr("-vv", "run");
    assert!(details.contains("DEBUG"), "-vv shows firepoint's details: {details}");
    assert!(!details.contains("preparing query"), "-vv floods with the driver's queries: {details}");
    let all = stderr("-vvv", "run");
    assert!(all.contains("preparing query"), "-vvv shows the libraries too: {all}");
}
