//! Issue 23: what a province's day asks of the feed and the CLI beyond one county — a burst of
//! reads on a shared PostgreSQL store takes at most `serve.pool_size` of its connections, the
//! clients behind the recommended reverse proxy are capped each on its own address, and a store
//! this user may not write can still be read.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{serve, Db, Sandbox};

/// A GET with `Host: localhost`, Connection: close and `headers`: the status (0: closed
/// unanswered) and the response head, lower-cased.
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    let _ = s.write_all(format!("{req}\r\n").as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map_or(text.clone(), |(h, _)| h.to_string()).to_ascii_lowercase())
}

/// `n` connections from this address, each answered once and kept alive, so the server has
/// surely counted every one. The start-up check's connection may hold a slot until the server
/// hears it close: try again (bounded) rather than guess how long that takes.
fn hold(port: u16, n: usize) -> Vec<TcpStream> {
    let answered = || -> Option<TcpStream> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
        let mut buf = [0u8; 512];
        let got = s.read(&mut buf).ok()?;
        String::from_utf8_lossy(&buf[..got]).starts_with("HTTP/1.1 200").then_some(s)
    };
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let held: Vec<TcpStream> = (0..n).filter_map(|_| answered()).collect();
        if held.len() == n {
            return held;
        }
        assert!(Instant::now() < until, "{n} connections from one address were never all served");
        drop(held);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The finding: behind the reverse proxy every request came from its one address and the
/// per-address cap reset 1,872 of 2,000. With the proxy trusted, 2,000 requests of 200 clients
/// through it are served while the proxy's own address already holds the cap's connections.
#[test]
fn r23_clients_behind_a_trusted_proxy_are_not_capped_as_one_address() {
    let sb = Sandbox::new();
    let settings =
        ["serve.trusted_proxies=[\"127.0.0.1\"]", "serve.max_connections_per_ip=4", "serve.head_timeout_s=60"];
    let server = serve(&sb, &settings);
    let _proxy_keepalive = hold(server.port, 4);
    let mut refused = Vec::new();
    for i in 0..2000 {
        let client = format!("198.18.{}.{}", i % 200 / 100, i % 100 + 1);
        let forwarded = format!("{client}, 127.0.0.1");
        let (status, _) = get(server.port, "/health", &[("X-Forwarded-For", &forwarded)]);
        if status != 200 {
            refused.push((client, status));
        }
    }
    assert!(refused.is_empty(), "{} of 2000 refused, first {:?}", refused.len(), refused.first());
}

/// A forwarded header from a peer that is no trusted proxy is ignored: a client naming a new
/// address on every request is still one address, capped.
#[test]
fn r23_a_client_cannot_forward_its_way_round_the_cap() {
    let sb = Sandbox::new();
    let settings =
        ["serve.trusted_proxies=[\"10.0.0.1\"]", "serve.max_connections_per_ip=4", "serve.head_timeout_s=60"];
    let server = serve(&sb, &settings);
    let _held = hold(server.port, 4);
    for i in 0..20 {
        let spoofed = format!("198.18.0.{}", i + 1);
        let forwarded = format!("for={spoofed}");
        let (status, _) = get(server.port, "/health", &[("X-Forwarded-For", &spoofed), ("Forwarded", &forwarded)]);
        assert_eq!(status, 0, "request {i} claiming {spoofed} was served past the cap");
    }
}

/// The finding: 1,000 reads at once kept one PostgreSQL connection each, for good, until
/// the cluster refused every other client. Now 300 reads at once through a pool of 4 are each
/// answered 200 or 503 (never 500), the feed never holds more than its pool and its one writer,
/// and the CLI still connects afterwards.
#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r23_a_burst_of_reads_takes_at_most_the_pool_of_a_postgres_store() {
    let db = Db::postgres();
    let Db::Postgres(url) = &db else { unreachable!() };
    let name = url.rsplit('/').next().unwrap().to_string();
    let sb = Sandbox::new();
    let store = format!("paths.store={url:?}");
    let pool = 4;
    let pool_size = format!("serve.pool_size={pool}");
    // the feed creates the schema as it starts; then a county token for the reads
    let server = serve(&sb, &[&store, &pool_size, "serve.max_connections_per_ip=1000"]);
    let out = sb.cmd().args(["--set", &store, "token", "add", "--county"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let auth = format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim());

    // the connections to the test's database but the CLI's (the token's may still be closing);
    // this test's own sampling connection sits in another database
    let admin = std::env::var("FIREPOINT_TEST_PG").unwrap();
    let mut watch = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let sql = "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity
               WHERE datname = $1 AND application_name IS DISTINCT FROM 'firepoint-cli' GROUP BY 1";
    let held = |watch: &mut postgres::Client| -> Vec<(String, i64)> {
        watch.query(sql, &[&name]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let port = server.port;
    let go = std::sync::Arc::new(std::sync::Barrier::new(301));
    let readers: Vec<_> = (0..300)
        .map(|_| {
            let (go, auth) = (go.clone(), auth.clone());
            std::thread::spawn(move || {
                go.wait();
                get(port, "/tickets", &[("Authorization", &auth)])
            })
        })
        .collect();
    go.wait();
    let mut most = 0;
    let mut seen = Vec::new();
    while !readers.iter().all(|r| r.is_finished()) {
        let now = held(&mut watch);
        most = most.max(now.iter().map(|(_, n)| n).sum());
        seen.extend(now);
    }
    let answers: Vec<(u16, String)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let after = held(&mut watch);
    let unexpected: Vec<&(u16, String)> = answers.iter().filter(|(s, _)| *s != 200 && *s != 503).collect();
    assert!(unexpected.is_empty(), "{} answers neither 200 nor 503, first {:?}", unexpected.len(), unexpected.first());
    assert!(answers.iter().any(|(s, _)| *s == 200), "no read was served");
    assert!(
        answers.iter().filter(|(s, _)| *s == 503).all(|(_, head)| head.contains("retry-after:")),
        "a 503 says when to retry"
    );
    // the pool's connections and the writer's
    let total: i64 = after.iter().map(|(_, n)| n).sum();
    assert!(
        most <= pool + 1 && total <= pool + 1,
        "the feed held {most} connections at most, {total} after: {after:?}"
    );
    assert!(seen.iter().chain(&after).all(|(app, _)| app == "firepoint-serve"), "{seen:?}");
    // the cluster still takes a CLI's connection
    let out = sb.cmd().args(["--set", &store, "tickets", "list", "--format", "jsonl"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs the sandbox's `firepoint args` as a user who may not write the store: as root (who
/// writes anything), as `nobody` through setpriv; otherwise as this user.
fn as_reader(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut cmd = sb.std_cmd();
    cmd.args(args);
    if nix_root() {
        let mut wrapped = std::process::Command::new("setpriv");
        wrapped.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(cmd.get_program());
        wrapped.args(cmd.get_args()).current_dir(sb.dir.path());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        cmd = wrapped;
    }
    cmd.output().unwrap()
}

fn nix_root() -> bool {
    std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The issue's finding: a read-only store could not even be listed ("attempt to write a readonly
/// database"): opening it migrated and set pragmas. The reading commands open it read-only.
#[test]
fn r23_a_read_only_store_can_be_listed_and_reported() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let file = sb.path("work/firepoint.sqlite");
    // straight from the file (a reading command would leave SQLite's -wal and -shm beside it): as
    // the last connection closes, SQLite removes them, so the reader finds none and cannot make them
    let id: String = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT id FROM tickets LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let listing = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(sb.path("work"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        names.sort();
        names
    };
    let (before, files) = (std::fs::read(&file).unwrap(), listing());
    assert!(!files.iter().any(|n| n.starts_with("firepoint.sqlite-")), "{files:?}");
    let mode = |p: &std::path::Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(sb.dir.path(), 0o755); // the reader may reach it
    mode(&file, 0o444);
    mode(&sb.path("work"), 0o555);
    let runs = [
        vec!["tickets", "list", "--format", "jsonl"],
        vec!["tickets", "list"],
        vec!["tickets", "log", &id],
        vec!["tickets", "cap", &id],
        vec!["report"],
    ];
    for args in runs {
        let out = as_reader(&sb, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        mode(&sb.path("work"), 0o755); // the temp dir must be removable whatever happens
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
        mode(&sb.path("work"), 0o555);
    }
    mode(&sb.path("work"), 0o755);
    assert_eq!(std::fs::read(&file).unwrap(), before, "the store was not written");
    assert_eq!(listing(), files, "nothing was made beside it");
}

/// A reading command never migrates: a store of an older schema is refused, saying so and what
/// to do, and left as it was.
#[test]
fn r23_a_read_command_refuses_an_older_store_and_leaves_it_as_it_was() {
    let sb = Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let file = sb.path("work/firepoint.sqlite");
    let older = firepoint::store::SCHEMA_VERSION - 1;
    rusqlite::Connection::open(&file).unwrap().pragma_update(None, "user_version", older).unwrap();
    let out = sb.cmd().args(["tickets", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("schema version {older}, older than this firepoint's")), "{stderr}");
    let version: i64 =
        rusqlite::Connection::open(&file).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, older, "the store was not migrated");
}
