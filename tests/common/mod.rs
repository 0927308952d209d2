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

    /// `firepoint` with every path pointed into the sandbox (and the repo's aoi/).
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
            .args(["--set", &format!("paths.aoi={}", quoted(repo.join("aoi")))])
            .args(["--set", &format!("camera.model={}", quoted(repo.join("models/smoke-patch-v1.onnx")))])
            .args(["--set", "paths.inbox=\"work/inbox\"", "--set", "paths.store=\"work/firepoint.sqlite\""])
            .args(["--set", "paths.feed=\"work/feed\"", "--set", "paths.quarantine=\"work/quarantine\""]);
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

    pub fn truth(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("work/truth.json")).unwrap()).unwrap()
    }
}

/// A folder of the shared real data (`$FIREPOINT_DATA/<sub>`, else `../shared/data/<sub>` beside
/// the repository), or `None` after printing SKIPPED for the test that wanted it.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FIREPOINT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    eprintln!("SKIPPED: no shared data at {} (set FIREPOINT_DATA)", dir.display());
    None
}

/// Metres between two lon/lat points (equirectangular; fine at county scale).
pub fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let kx = 111_320.0 * a.1.to_radians().cos();
    ((a.0 - b.0) * kx).hypot((a.1 - b.1) * 110_574.0)
}

pub fn lonlat(v: &serde_json::Value) -> (f64, f64) {
    (v["lon"].as_f64().unwrap(), v["lat"].as_f64().unwrap())
}
