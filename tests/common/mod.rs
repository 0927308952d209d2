//! Shared test helpers: a sandbox folder with its own inbox, store, feed and quarantine, using
//! the repository's sample district, and a way to run the binary the way cron does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// A file of the repository (a model, the sample district).
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Sandbox {
    /// `firepoint` with every path pointed into the sandbox, the repo's aoi/ and the shipped
    /// smoke model (models/smoke-view-v3.onnx).
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same command as a plain `std::process::Command` (to spawn and kill it).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("firepoint"));
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let quoted = |p: PathBuf| format!("{:?}", p.display().to_string());
        cmd.current_dir(self.dir.path())
            .env("ORT_DYLIB_PATH", repo.join(".deps/onnxruntime/libonnxruntime.so"))
            .env_remove("FIREPOINT_CONFIG")
            .env_remove("RUST_LOG")
            // the prepared district's cache (issue 21) stays in the sandbox
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .args(["--set", &format!("paths.aoi={}", quoted(repo.join("aoi")))])
            .args(["--set", &format!("camera.model={}", quoted(repo.join("models/smoke-view-v3.onnx")))])
            .args(["--set", "paths.inbox=\"work/inbox\"", "--set", "paths.store=\"work/firepoint.sqlite\""])
            .args(["--set", "paths.feed=\"work/feed\"", "--set", "paths.quarantine=\"work/quarantine\""])
            .args(["--set", "paths.archive=\"work/archive\""])
            // the sample district's day (2026-06-10) and the tests' fixtures are replayed live; the
            // live window has its own tests (r22_…) that set it
            .args(["--set", "events.live_window_h=0"]);
        cmd
    }

    pub fn simulate(&self) {
        self.cmd().arg("simulate").assert().success();
    }

    pub fn tickets(&self) -> Vec<serde_json::Value> {
        let out = self.cmd().args(["tickets", "list", "--format", "jsonl"]).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// A copy of the sample district in the sandbox (`aoi/`), its vector layers and, when
    /// `with_dem`, every other file too; returns its folder.
    pub fn copy_aoi(&self, with_dem: bool) -> PathBuf {
        let aoi = self.path("aoi");
        std::fs::create_dir_all(&aoi).unwrap();
        for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi")).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && (with_dem || p.extension().is_some_and(|x| x == "geojson")) {
                std::fs::copy(&p, aoi.join(p.file_name().unwrap())).unwrap();
            }
        }
        aoi
    }

    pub fn truth(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("work/truth.json")).unwrap()).unwrap()
    }
}

/// A running `firepoint serve` of a sandbox, stopped however the test ends.
pub struct Server {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `firepoint serve` on a free loopback port with `extra` settings (`section.key=value`;
/// the notification sender off) and waits until it answers `/health` (the port is bound a little
/// before the accept loop runs).
pub fn serve(sb: &Sandbox, extra: &[&str]) -> Server {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = sb.std_cmd();
    cmd.args(["--set", "serve.notify_every_s=0"]);
    for e in extra {
        cmd.args(["--set", e]);
    }
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stderr(std::process::Stdio::null());
    let server = Server { child: cmd.spawn().unwrap(), port };
    let healthy = || -> Option<bool> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out.starts_with("HTTP/1.1 200"))
    };
    for _ in 0..100 {
        if healthy() == Some(true) {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("firepoint serve did not start on port {port}");
}

/// A folder of the shared real data: `$FIREPOINT_DATA/<sub>`, else `../shared/data/<sub>` beside
/// the repository. Tests that call it are `#[ignore]`d with that reason, so they never pass by
/// not running: `scripts/test.sh` runs them (`--include-ignored`) when the data is there, and a
/// test run that asked for them without the data fails here.
pub fn shared_data(sub: &str) -> PathBuf {
    let root = std::env::var_os("FIREPOINT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join(sub);
    assert!(dir.is_dir(), "this test needs the real data at {} (set FIREPOINT_DATA)", dir.display());
    dir
}

/// Metres between two lon/lat points (equirectangular; fine at county scale).
pub fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let kx = 111_320.0 * a.1.to_radians().cos();
    ((a.0 - b.0) * kx).hypot((a.1 - b.1) * 110_574.0)
}

pub fn lonlat(v: &serde_json::Value) -> (f64, f64) {
    (v["lon"].as_f64().unwrap(), v["lat"].as_f64().unwrap())
}

/// The header of a FIRMS MODIS table (the layout of the real archive files).
pub const FIRMS_MODIS_HEADER: &str =
    "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight";

/// A FIRMS MODIS table, one fire per (lat, lon, acq_date, acq_time HHMM) row: 330 K, 1 km pixel,
/// Aqua, confidence 80, 10 MW, day.
pub fn firms_table(rows: &[(f64, f64, &str, &str)]) -> String {
    let mut s = format!("{FIRMS_MODIS_HEADER}\n");
    for (lat, lon, date, time) in rows {
        s += &format!("{lat:.4},{lon:.4},330.0,1.0,1.0,{date},{time},A,80,6.1NRT,295.0,10.0,D\n");
    }
    s
}

/// Every file below `dir` (recursively).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

/// A fresh store for a test, of either backend: a SQLite file in a temp folder, or a new
/// database on the throwaway PostgreSQL cluster `scripts/test.sh` starts (`FIREPOINT_TEST_PG`,
/// see scripts/pg.sh). Tests of both run the same body (`both!`).
pub enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

/// Why the PostgreSQL half of a store test is ignored in a bare `cargo test`.
pub const NEEDS_PG: &str =
    "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these";

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A new, empty database on the test cluster.
    pub fn postgres() -> Db {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = std::env::var("FIREPOINT_TEST_PG").expect(
            "FIREPOINT_TEST_PG is not set: run scripts/test.sh, which starts a throwaway PostgreSQL (scripts/pg.sh)",
        );
        let name = format!("fp_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to FIREPOINT_TEST_PG");
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin.rsplit_once('/').expect("a URL naming a database").0;
        Db::Postgres(format!("{base}/{name}"))
    }

    /// Another fresh store of the same backend.
    pub fn fresh(&self) -> Db {
        match self {
            Db::Sqlite(_) => Db::sqlite(),
            Db::Postgres(_) => Db::postgres(),
        }
    }

    /// What `paths.store` says for it.
    pub fn path(&self) -> PathBuf {
        match self {
            Db::Sqlite(dir) => dir.path().join("t.sqlite"),
            Db::Postgres(url) => url.into(),
        }
    }

    /// The first column of every row of `sql`, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(_) => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
            }
            Db::Postgres(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.query(sql, &[]).unwrap().iter().map(|r| r.get::<_, String>(0)).collect()
            }
        }
    }

    /// Runs `sql` on its own connection; the database's refusal as text.
    pub fn exec(&self, sql: &str) -> Result<(), String> {
        match self {
            Db::Sqlite(_) => {
                rusqlite::Connection::open(self.path()).unwrap().execute_batch(sql).map_err(|e| e.to_string())
            }
            Db::Postgres(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.batch_execute(sql).map_err(|e| format!("{e:?}"))
            }
        }
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

/// Runs store test `$name(&Db)` on SQLite, and on PostgreSQL where `scripts/test.sh` started one.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&super::common::Db::sqlite())
            }
            #[test]
            #[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
            fn postgres() {
                super::$name(&super::common::Db::postgres())
            }
        }
    )*};
}
