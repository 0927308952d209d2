//! Issue 9: the feed server as a township team and a hostile client meet it over loopback —
//! tokens scope every read and write, writes are JSON from the same origin on an allowed host,
//! a slow or oversized client holds only its own connection.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{serve, Sandbox};

/// A running `firepoint serve`, stopped however the test ends.
fn token(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.cmd().args(["token", "add"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A raw HTTP/1.1 exchange (the client writes exactly `request`): status (0: no answer), the
/// response head lower-cased, and the body.
fn exchange(port: u16, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// [`exchange`]'s status and body.
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let (status, _, body) = exchange(port, request);
    (status, body)
}

/// A request with `Host: localhost` and Connection: close, as its bytes.
fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    req.into_bytes()
}

/// A request with `Host: localhost` and Connection: close.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    raw(port, &request_bytes(method, path, headers, body))
}

fn get(port: u16, path: &str, token: &str) -> (u16, String) {
    request(port, "GET", path, &[("Authorization", &format!("Bearer {token}"))], "")
}

fn post(port: u16, path: &str, token: &str, body: &str) -> (u16, String) {
    let auth = format!("Bearer {token}");
    request(port, "POST", path, &[("Authorization", &auth), ("Content-Type", "application/json")], body)
}

fn lines(body: &str) -> Vec<serde_json::Value> {
    body.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn r9_tokens_scope_every_read_and_write_to_the_township() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let all = sb.tickets();
    let mine = all[0]["township_code"].as_str().unwrap().to_string();
    let theirs = all.iter().find(|t| t["township_code"] != mine.as_str()).expect("two townships have tickets");
    let their_id = theirs["id"].as_str().unwrap().to_string();
    let county = token(&sb, &["--county", "--name", "县办"]);
    let town = token(&sb, &["--township", &mine, "--name", "城关镇王五"]);
    let server = serve(&sb, &[]);
    let port = server.port;

    // no token, a wrong one: 401, JSON
    let (status, body) = request(port, "GET", "/tickets", &[], "");
    assert_eq!(status, 401, "{body}");
    let (_, head, _) = exchange(port, &request_bytes("GET", "/me", &[], ""));
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string());
    assert_eq!(get(port, "/tickets", "fpt_guessed").0, 401);
    assert_eq!(request(port, "GET", "/health", &[], "").0, 200, "health needs no token");
    let lower = format!("bearer {county}");
    assert_eq!(request(port, "GET", "/me", &[("Authorization", &lower)], "").0, 200, "the scheme is case-insensitive");
    let (status, body) = get(port, "/tickets?township=nowhere", &county);
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        request(port, "DELETE", "/tickets", &[("Authorization", &lower), ("Content-Type", "application/json")], "");
    assert_eq!(status, 405);
    assert!(body.contains("\"error\""), "{body}");
    // the page and the API are never framed by another site
    let (status, head, _) = exchange(port, &request_bytes("GET", "/", &[], ""));
    assert_eq!(status, 200);
    assert!(head.contains("x-frame-options: deny") && head.contains("frame-ancestors 'none'"), "{head}");

    // the county sees all; the township its own, however it asks
    let (_, body) = get(port, "/tickets", &county);
    assert_eq!(lines(&body).len(), all.len());
    // a window and a cap, for a client that does not want the whole history
    let (_, body) = get(port, "/tickets?limit=2", &county);
    assert_eq!(lines(&body).len(), 2.min(all.len()));
    let (_, body) = get(port, "/tickets?since=2030-01-01T00:00:00Z", &county);
    assert!(body.is_empty(), "{body}");
    let (_, body) = get(port, "/tickets?since=2026-06-10T00:00:00%2B08:00", &county);
    assert_eq!(lines(&body).len(), all.len());
    assert_eq!(get(port, "/tickets?since=yesterday", &county).0, 400);
    let (_, body) = get(port, "/tickets?status=active", &town);
    let seen = lines(&body);
    assert!(!seen.is_empty() && seen.iter().all(|t| t["township_code"] == mine.as_str()), "{body}");
    assert_eq!(get(port, &format!("/tickets?township={}", theirs["township_code"].as_str().unwrap()), &town).0, 403);
    let (_, gj) = get(port, "/tickets.geojson", &town);
    let gj: serde_json::Value = serde_json::from_str(&gj).unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), seen.len());
    // another township's ticket, its id typed by hand: as if it did not exist
    assert_eq!(get(port, &format!("/tickets/{their_id}"), &town).0, 404);
    assert_eq!(get(port, &format!("/tickets/{their_id}/log"), &town).0, 404);
    assert_eq!(post(port, &format!("/tickets/{their_id}/ack"), &town, "{}").0, 404);
    assert_eq!(sb.tickets().iter().find(|t| t["id"] == their_id.as_str()).unwrap()["status"], "open");
    let (_, villages) = get(port, "/villages.geojson", &town);
    let villages: serde_json::Value = serde_json::from_str(&villages).unwrap();
    let features = villages["features"].as_array().unwrap();
    assert!(!features.is_empty() && features.iter().all(|f| f["properties"]["township_code"] == mine.as_str()));
    let (_, me) = get(port, "/me", &town);
    assert!(me.contains("城关镇王五") && me.contains(&mine), "{me}");

    // the steps, `by` from the token (a body's `by` is refused, not trusted)
    let id = seen[0]["id"].as_str().unwrap();
    assert_eq!(post(port, &format!("/tickets/{id}/ack"), &town, r#"{"by": "someone else"}"#).0, 400);
    let (status, body) = post(port, &format!("/tickets/{id}/ack"), &town, "{}");
    assert_eq!(status, 200, "{body}");
    let t: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["status"], "acknowledged");
    assert!(t["acked_by"].as_str().unwrap().starts_with("城关镇王五"), "{t}");
    assert_eq!(post(port, &format!("/tickets/{id}/ack"), &town, "{}").0, 409, "acknowledged already");
    // lists are rebuilt after a change, never served stale; an unchanged one is 304 by its ETag
    let etag = |port: u16, tok: &str, tag: &str| -> (u16, String, String) {
        let auth = format!("Bearer {tok}");
        let req = request_bytes(
            "GET",
            "/tickets?status=acknowledged",
            &[("Authorization", &auth), ("If-None-Match", tag)],
            "",
        );
        let (status, head, body) = exchange(port, &req);
        let tag = head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap().trim().to_string();
        (status, tag, body)
    };
    let (status, tag, body) = etag(port, &town, "\"none\"");
    assert_eq!((status, lines(&body).len()), (200, 1));
    assert_eq!(etag(port, &town, &tag).0, 304, "unchanged: not sent again");
    assert_eq!(post(port, &format!("/tickets/{id}/resolve"), &town, "{}").0, 400, "resolve needs an action");
    assert_eq!(post(port, &format!("/tickets/{id}/false_alarm"), &town, r#"{"cause": "aliens"}"#).0, 400);
    let (status, body) = post(port, &format!("/tickets/{id}/false_alarm"), &town, r#"{"cause": "cooking_smoke"}"#);
    assert_eq!(status, 200, "{body}");
    let (status, new_tag, body) = etag(port, &town, &tag);
    assert_eq!((status, lines(&body).len()), (200, 0), "the changed list, not the cached one");
    assert_ne!(new_tag, tag);
    let (_, log) = get(port, &format!("/tickets/{id}/log"), &county);
    let log: Vec<serde_json::Value> = serde_json::from_str(&log).unwrap();
    let steps: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["open", "ack", "false_alarm"]);
    assert_eq!(log[2]["detail"]["cause"], "cooking_smoke");
    // a revoked token is refused from then on
    sb.cmd().args(["token", "revoke", "2"]).assert().success();
    assert_eq!(get(port, "/tickets", &town).0, 401);
}

#[test]
fn r9_writes_are_json_from_the_same_origin_on_an_allowed_host() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    let county = token(&sb, &["--county"]);
    let server = serve(&sb, &[r#"serve.allowed_hosts=["127.0.0.1", "localhost", "fire.county.example"]"#]);
    let (port, auth) = (server.port, format!("Bearer {county}"));
    let path = format!("/tickets/{id}/resolve");
    let body = r#"{"action": "x"}"#;
    // a form or text/plain POST (what a foreign page can send without a preflight)
    let (status, _) = request(port, "POST", &path, &[("Authorization", &auth), ("Content-Type", "text/plain")], body);
    assert_eq!(status, 415);
    let cross =
        [("Authorization", auth.as_str()), ("Content-Type", "application/json"), ("Origin", "http://evil.example")];
    assert_eq!(request(port, "POST", &path, &cross, body).0, 403);
    // DNS rebinding: a foreign Host is not served, reads included
    let rebind =
        format!("GET /tickets HTTP/1.1\r\nHost: evil.example\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw(port, rebind.as_bytes()).0, 421);
    assert_eq!(
        sb.tickets().iter().find(|t| t["id"] == id.as_str()).unwrap()["status"],
        "open",
        "nothing above changed it"
    );
    // behind the county's reverse proxy: the page's origin is the proxy's name, Host the backend's
    let proxied = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Origin", "https://fire.county.example"),
    ];
    let (status, answer) = request(port, "POST", &format!("/tickets/{id}/ack"), &proxied, "{}");
    assert_eq!(status, 200, "{answer}");
    let same = [("Authorization", auth.as_str()), ("Content-Type", "application/json"), ("Origin", "http://localhost")];
    assert_eq!(request(port, "POST", &path, &same, body).0, 200);
}

#[test]
fn r9_a_slow_or_oversized_client_holds_only_its_own_connection() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let county = token(&sb, &["--county"]);
    let server = serve(&sb, &["serve.request_timeout_s=2", "serve.head_timeout_s=2"]);
    let port = server.port;
    // a client announcing 60 KB and sending one byte a second
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /tickets/x/ack HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {county}\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let started = Instant::now();
        let mut out = Vec::new();
        while started.elapsed() < Duration::from_secs(15) {
            if s.write_all(b" ").is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if !out.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(800));
        }
        (String::from_utf8_lossy(&out).to_string(), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(request(port, "GET", "/health", &[], "").0, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "health waited {:?} behind the slow client", t.elapsed());
    let (answer, took) = slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "the slow client is cut off: {answer:?}");
    assert!(answer.contains("application/json"), "errors are JSON, the timeout's too: {answer:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");

    // a chunked body past the limit, never announced in Content-Length
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"POST /tickets/x/ack HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = vec![b'a'; 16 * 1024];
    let mut refused = false;
    for _ in 0..64 {
        let sent = s
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|_| s.write_all(&chunk))
            .and_then(|_| s.write_all(b"\r\n"));
        if sent.is_err() {
            refused = true;
            break;
        }
    }
    let mut out = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut out);
    assert!(refused || out.starts_with("HTTP/1.1 4"), "1 MiB chunked body accepted: {out:?}");
    // a body over the limit, announced: 413 as JSON
    let (status, body) =
        request(port, "POST", "/tickets/x/ack", &[("Content-Type", "application/json")], &"a".repeat(70_000));
    assert_eq!(status, 413);
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string(), "{body}");
    // a 10 MB URL
    let long = format!("GET /tickets?{} HTTP/1.1\r\nHost: localhost\r\n\r\n", "a".repeat(10 << 20));
    let (status, _) = raw(port, long.as_bytes());
    assert!(status == 431 || status == 414 || status == 400 || status == 0, "10 MB URL answered {status}");
    assert_eq!(request(port, "GET", "/health", &[], "").0, 200, "and the server is still there");
}

#[test]
fn r9_reads_do_not_wait_for_a_batch_holding_the_write_lock() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let county = token(&sb, &["--county"]);
    let server = serve(&sb, &[]);
    // a long batch transaction: the write lock held, a change not yet committed
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; UPDATE tickets SET detections = detections + 100;").unwrap();
    let t = Instant::now();
    let (status, body) = get(server.port, "/tickets", &county);
    assert_eq!(status, 200, "{body}");
    assert!(t.elapsed() < Duration::from_secs(2), "a read waited {:?} behind the batch", t.elapsed());
    assert!(lines(&body).iter().all(|t| t["detections"].as_i64().unwrap() < 100), "reads see the last commit");
    // a step waits for the lock (busy timeout) and goes through once the batch commits
    let id = lines(&body)[0]["id"].as_str().unwrap().to_string();
    let port = server.port;
    let step = std::thread::spawn(move || post(port, &format!("/tickets/{id}/ack"), &county, "{}"));
    std::thread::sleep(Duration::from_millis(500));
    conn.execute_batch("COMMIT;").unwrap();
    let (status, body) = step.join().unwrap();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn r9_a_step_that_cannot_get_the_lock_in_time_says_503_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let county = token(&sb, &["--county"]);
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    let server = serve(&sb, &["serve.request_timeout_s=3", "serve.connection_timeout_s=10"]);
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let t = Instant::now();
    let (status, body) = post(server.port, &format!("/tickets/{id}/ack"), &county, "{}");
    assert_eq!(status, 503, "{body}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    conn.execute_batch("COMMIT;").unwrap();
    assert_eq!(sb.tickets().iter().find(|t| t["id"] == id.as_str()).unwrap()["status"], "open");
}

/// Issue 18: steps queued behind one another while a batch held the lock each waited their own
/// busy timeout in turn, so the later ones were written after their clients had been answered 408.
/// A step is written only if its request's time has not run out: applied ⇔ answered 200.
#[test]
fn r18_a_step_answered_anything_but_200_is_never_applied_later() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let county = token(&sb, &["--county"]);
    let ids: Vec<String> = sb.tickets().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.len() >= 3, "{ids:?}");
    let server = serve(&sb, &["serve.request_timeout_s=2", "serve.connection_timeout_s=10"]);
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let port = server.port;
    let steps: Vec<_> = ids
        .iter()
        .map(|id| {
            let (id, county) = (id.clone(), county.clone());
            std::thread::spawn(move || post(port, &format!("/tickets/{id}/ack"), &county, "{}").0)
        })
        .collect();
    // the batch commits after the first requests' time ran out, while later ones still queue
    std::thread::sleep(Duration::from_millis(2500));
    conn.execute_batch("COMMIT;").unwrap();
    let answers: Vec<u16> = steps.into_iter().map(|s| s.join().unwrap()).collect();
    // whatever was still queued has had every chance to be written by now
    std::thread::sleep(Duration::from_secs(3));
    let tickets = sb.tickets();
    for (id, answer) in ids.iter().zip(&answers) {
        let status = tickets.iter().find(|t| t["id"] == id.as_str()).unwrap()["status"].as_str().unwrap().to_string();
        assert!([200, 408, 503].contains(answer), "{id}: {answer}");
        assert_eq!(status == "acknowledged", *answer == 200, "{id} answered {answer} is {status}: {answers:?}");
    }
}

#[test]
fn r9_clients_that_never_read_give_their_slots_back_and_one_address_cannot_take_them_all() {
    let sb = Sandbox::new();
    let settings = ["serve.max_connections=4", "serve.request_timeout_s=2", "serve.connection_timeout_s=3"];
    let server = serve(&sb, &settings);
    let port = server.port;
    // four connections pipelining requests for the page's largest file and never reading
    let hogs: Vec<TcpStream> = (0..4)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut w = s.try_clone().unwrap();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    if w.write_all(b"GET /vendor/leaflet.js HTTP/1.1\r\nHost: localhost\r\n\r\n").is_err() {
                        break;
                    }
                }
            });
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let (status, _) = request(port, "GET", "/health", &[], "");
    assert_eq!(status, 200, "health after the hogs' connections expired");
    assert!(t.elapsed() < Duration::from_secs(6), "waited {:?}", t.elapsed());
    drop(hogs);
    drop(server);

    // one address may hold only max_connections_per_ip connections
    let server = serve(&sb, &["serve.max_connections_per_ip=2"]);
    // two connections, each answered once and kept alive: the server has surely counted both.
    // Until it has heard the start-up check's connection close, that one still holds a slot: try
    // again (bounded) rather than guess how long that takes
    let answered = |port: u16| -> Option<TcpStream> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).ok()?;
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200").then_some(s)
    };
    let until = Instant::now() + Duration::from_secs(30);
    let held: Vec<TcpStream> = loop {
        let pair: Vec<TcpStream> = (0..2).filter_map(|_| answered(server.port)).collect();
        if pair.len() == 2 {
            break pair;
        }
        assert!(Instant::now() < until, "two connections from one address were never both served");
        drop(pair);
        std::thread::sleep(Duration::from_millis(100));
    };
    let (status, _) = request(server.port, "GET", "/health", &[], "");
    assert_eq!(status, 0, "a third connection from the same address is closed unanswered");
    drop(held);
    // the server hears the two close when it hears it: look again until it has (bounded)
    let until = Instant::now() + Duration::from_secs(30);
    while request(server.port, "GET", "/health", &[], "").0 != 200 {
        assert!(Instant::now() < until, "the address's slots never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 18: the handlers through the router itself (`Router::oneshot`, no socket): the token
/// extractor, the JSON errors, a typed step route and its body, an unknown step.
#[test]
fn r18_handlers_answer_through_the_router_without_a_socket() {
    use axum::body::Body;
    use axum::http::Request;
    use chrono::TimeZone;
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let cfg = firepoint::config::Config::default();
    let (id, token) = {
        let mut store = firepoint::store::Store::open(&path).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let d = firepoint::domain::Detection::point(firepoint::domain::SourceKind::Satellite, 115.6, 37.6, at, 700.0);
        let located = [firepoint::locate::Located::on_farmland(d)];
        let input = firepoint::batch::InputRef {
            path: "a".as_ref(),
            sha256: "a",
            kind: "satellite",
            frame: None,
            note: None,
            forecasts: &[],
            view: None,
        };
        let rec = firepoint::batch::record_input(
            &mut store,
            input,
            &located,
            &cfg.rules(),
            0.004,
            &firepoint::notify::NotifyConfig::default(),
        )
        .unwrap();
        (rec.opened[0].clone(), store.add_token("县值班", None).unwrap().1)
    };
    let aoi = firepoint::aoi::Aoi::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi")).unwrap();
    let villages = firepoint::serve::villages_geojson(&aoi);
    let app = firepoint::serve::router(&path, &cfg.serve, &cfg.notify, 15, villages, "127.0.0.1:8787".parse().unwrap())
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let call = |method: &str, uri: &str, auth: bool, body: &str| {
        let mut req = Request::builder().method(method).uri(uri).header("host", "localhost");
        if auth {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if method == "POST" {
            req = req.header("content-type", "application/json");
        }
        let resp = rt.block_on(app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap())).unwrap();
        let status = resp.status().as_u16();
        let www = resp.headers().get("www-authenticate").is_some();
        let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
        (status, String::from_utf8_lossy(&bytes).to_string(), www)
    };
    assert_eq!(call("GET", "/health", false, "").0, 200);
    let (status, body, www) = call("GET", "/tickets", false, "");
    assert_eq!((status, www), (401, true), "{body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].as_str().unwrap().contains("Bearer"));
    let (status, body, _) = call("GET", "/tickets", true, "");
    assert_eq!((status, lines(&body).len()), (200, 1), "{body}");
    let (status, body, _) = call("POST", &format!("/tickets/{id}/resolve"), true, "{}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("resolve needs `action`"), "{body}");
    let (status, body, _) = call("POST", &format!("/tickets/{id}/fly"), true, "");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no step `fly`"), "{body}");
    let (status, body, _) = call("POST", &format!("/tickets/{id}/ack"), true, "");
    assert_eq!(status, 200, "an empty body is {{}}: {body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"], "acknowledged");
    let (status, body, _) = call("GET", &format!("/tickets/{id}/log"), true, "");
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!((status, actions), (200, vec!["open", "ack"]));
    let (status, body, _) = call("GET", "/nowhere", true, "");
    assert_eq!(status, 404);
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string(), "{body}");
}

/// Issue 20: a camera ticket's pictures (the frame with its region drawn, the crop, the view's
/// earlier frame) are served under the ticket with the ticket's own scoping, linked from the
/// webhook and the SMS; a satellite ticket's evidence is its footprints with sensor, pass time,
/// FRP and confidence.
#[test]
fn r20_evidence_comes_with_every_ticket_scoped_as_the_ticket() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().args(["--set", "notify.public_url=\"https://fire.example.gov.cn/\"", "run"]).assert().code(0);
    let all = sb.tickets();
    let cam = all.iter().find(|t| t["sources"][0] == "camera").expect("the demo's camera ticket");
    let sat = all.iter().find(|t| t["sources"][0] == "satellite").expect("a satellite ticket");
    let (cam_id, cam_town) = (cam["id"].as_str().unwrap(), cam["township_code"].as_str().unwrap());
    let other = all.iter().find(|t| t["township_code"] != cam_town).unwrap()["township_code"].as_str().unwrap();
    let county = token(&sb, &["--county"]);
    let mine = token(&sb, &["--township", cam_town]);
    let theirs = token(&sb, &["--township", other]);
    let server = serve(&sb, &[]);
    let port = server.port;

    let (status, body) = get(port, &format!("/tickets/{cam_id}/evidence"), &mine);
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list["evidence"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["before.jpg", "crop.jpg", "frame.jpg"], "{body}");
    for e in list["evidence"].as_array().unwrap() {
        let auth = format!("Bearer {mine}");
        let (status, head, _) =
            exchange(port, &request_bytes("GET", e["url"].as_str().unwrap(), &[("Authorization", &auth)], ""));
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("content-type: image/jpeg"), "{head}");
        let len: usize = head.split("content-length: ").nth(1).unwrap().lines().next().unwrap().trim().parse().unwrap();
        assert!(len > 1000 && len <= 200 * 1024, "{}: {len} bytes", e["name"]);
        assert_eq!(e["bytes"].as_u64(), Some(len as u64));
    }
    // another township's evidence is "no ticket", as its ticket is; an unknown piece is 404
    for path in [format!("/tickets/{cam_id}/evidence"), format!("/tickets/{cam_id}/evidence/frame.jpg")] {
        let (status, body) = get(port, &path, &theirs);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains(cam_id) && !body.contains("JFIF"), "{body}");
        assert_eq!(request(port, "GET", &path, &[], "").0, 401, "{path} needs a token");
    }
    assert_eq!(get(port, &format!("/tickets/{cam_id}/evidence/secret.jpg"), &county).0, 404);

    // a satellite ticket: its pixels' footprints with sensor, pass time, FRP and confidence
    let sat_id = sat["id"].as_str().unwrap();
    let (status, body) = get(port, &format!("/tickets/{sat_id}/evidence/footprints.geojson"), &county);
    assert_eq!(status, 200, "{body}");
    let fc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let f = &fc["features"][0];
    assert_eq!(f["geometry"]["type"], "Polygon", "{body}");
    assert!(f["properties"]["sensor"].is_string() && f["properties"]["confidence"].is_number(), "{body}");
    assert!(f["properties"]["frp_mw"].as_f64().is_some_and(|v| v > 0.0), "{body}");
    assert!(f["properties"]["observed_at"].as_str().unwrap().ends_with('Z'), "{body}");

    // the duty page's towers (the county: every one; a township: its own) and satellite inputs
    let (_, body) = get(port, "/towers", &county);
    let all_towers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all_towers["features"].as_array().unwrap().len(), 10, "{body}");
    let states: Vec<&str> =
        all_towers["features"].as_array().unwrap().iter().map(|f| f["properties"]["state"].as_str().unwrap()).collect();
    assert!(
        states.contains(&"ok") && states.contains(&"unknown"),
        "towers that sent frames and those that did not: {states:?}"
    );
    let (_, body) = get(port, "/towers", &mine);
    let own: serde_json::Value = serde_json::from_str(&body).unwrap();
    let n = own["features"].as_array().unwrap().len();
    assert!(n < 10, "a township sees its own towers only ({n})");
    assert_eq!(get(port, "/passes", &mine).0, 403, "the county's inputs are for the county office");
    let (_, body) = get(port, "/passes", &county);
    assert!(body.contains("SIM_AQUA") && body.contains("\"detections\""), "{body}");

    // the SMS's short link goes to the page opened at the ticket
    let (status, head, _) = exchange(port, &request_bytes("GET", &format!("/e/{cam_id}"), &[], ""));
    assert_eq!(status, 302, "{head}");
    assert!(head.contains(&format!("location: /#ticket={}", cam_id.to_ascii_lowercase())), "{head}");

    // the webhook JSON links the pictures on the bureau's host; the SMS carries the short link
    let db = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let bodies: Vec<(String, String)> = db
        .prepare("SELECT channel, body FROM outbox WHERE ticket_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([cam_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let hook: serde_json::Value = serde_json::from_str(&bodies.iter().find(|b| b.0 == "webhook").unwrap().1).unwrap();
    assert_eq!(
        hook["evidence"]["frame"],
        format!("https://fire.example.gov.cn/tickets/{cam_id}/evidence/frame.jpg").as_str(),
        "{hook}"
    );
    let sms: serde_json::Value = serde_json::from_str(&bodies.iter().find(|b| b.0 == "sms").unwrap().1).unwrap();
    assert!(sms["text"].as_str().unwrap().ends_with(&format!("https://fire.example.gov.cn/e/{cam_id}")), "{sms}");
    let sat_hook: serde_json::Value = serde_json::from_str(
        &db.query_row("SELECT body FROM outbox WHERE ticket_id = ?1 AND channel = 'webhook'", [sat_id], |r| {
            r.get::<_, String>(0)
        })
        .unwrap(),
    )
    .unwrap();
    assert!(sat_hook.get("evidence").is_none(), "a satellite ticket has no pictures: {sat_hook}");
}
