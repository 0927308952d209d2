//! A mutation fuzzer for every parser that reads outside data, on stable Rust (no nightly, no
//! instrumentation): seeds from `fuzz/corpus/<target>/`, mutated (bit flips, interesting bytes and
//! numbers, splices of other seeds, cuts, repeats), fed to the parser; a panic is caught, its
//! input saved under `fuzz/findings/`, and counted. GDAL-backed targets write each input to a file
//! first, so an abort inside C code leaves the input behind (its path is printed at start).
//!
//! `cargo run --release --example fuzz -- TARGET EXECUTIONS [SEED]`, or `bash scripts/fuzz.sh`
//! for all. Targets: pose, table, config, http (the feed's router, in process), geotiff, netcdf
//! (through GDAL and the scene readers), aoi (a mutated layer of the sample district).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// SplitMix64 with a bounded draw.
struct Rng(firepoint::rng::SplitMix);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(firepoint::rng::SplitMix::new(seed))
    }
    /// Uniform in 0..n (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
}

const INTERESTING_BYTES: &[u8] = b"\x00\xff\x7f\x80\"{}[],:-.eE9\n\r\t\\#";
const INTERESTING_TEXT: &[&str] = &[
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "1e-320",
    "-0",
    "99999999999999999999",
    "0",
    "-1",
    "4294967296",
    "9223372036854775808",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "9999-12-31",
    "2026-13-45",
    "24:61",
    "\u{feff}",
    "乡镇",
    "\u{0}",
    "%00",
    "../../etc/passwd",
    "=cmd",
    "\"\"\"",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let len = data.len().max(1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 => {
                let i = rng.below(len).min(data.len());
                let word = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())].as_bytes();
                data.splice(i..i, word.iter().copied());
            }
            3 if data.len() > 1 => {
                // replace a run of digits with an extreme number
                let i = rng.below(data.len());
                if let Some(start) = (i..data.len()).find(|&k| data[k].is_ascii_digit()) {
                    let end = (start..data.len()).find(|&k| !data[k].is_ascii_digit()).unwrap_or(data.len());
                    let word = INTERESTING_TEXT[rng.below(11)].as_bytes();
                    data.splice(start..end, word.iter().copied());
                }
            }
            4 if data.len() > 1 => {
                let a = rng.below(data.len());
                let b = (a + 1 + rng.below(64)).min(data.len());
                data.drain(a..b);
            }
            5 if !data.is_empty() => {
                let a = rng.below(data.len());
                let b = (a + 1 + rng.below(256)).min(data.len());
                let chunk = data[a..b].to_vec();
                let at = rng.below(data.len());
                data.splice(at..at, chunk);
            }
            6 => {
                // splice in part of another seed
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(512)).min(other.len());
                    let at = rng.below(len).min(data.len());
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ if !data.is_empty() => {
                let cut = rng.below(data.len());
                data.truncate(cut);
            }
            _ => data.push(INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]),
        }
    }
    data.truncate(1 << 20);
    data
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new("fuzz/corpus").join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no seed corpus {}: {e}", dir.display()))
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out.sort();
    out
}

/// The feed's router over a store with tickets of the sample district and one county token.
struct Http {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    ids: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Http {
    fn new() -> Http {
        use chrono::TimeZone;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.sqlite");
        let mut store = firepoint::store::Store::open(&path).unwrap();
        let aoi = firepoint::aoi::Aoi::load(Path::new("aoi")).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let located: Vec<firepoint::locate::Located> = (0..20)
            .map(|i| {
                let (lon, lat) = (115.56 + 0.015 * i as f64, 37.55 + 0.01 * i as f64);
                let d =
                    firepoint::domain::Detection::point(firepoint::domain::SourceKind::Satellite, lon, lat, at, 700.0);
                let mut l = firepoint::locate::Located::on_farmland(d);
                l.place = aoi.place(lon, lat);
                l
            })
            .collect();
        let cfg = firepoint::config::Config::default();
        let input =
            firepoint::batch::InputRef { path: "f".as_ref(), sha256: "f", kind: "satellite", frame: None, note: None };
        let ids = firepoint::batch::record_input(&mut store, input, &located, &cfg.rules(), cfg.persistence.cell_deg)
            .unwrap()
            .opened;
        let (_, token) = store.add_token("fuzz", None).unwrap();
        let villages = firepoint::serve::villages_geojson(&aoi);
        let router =
            firepoint::serve::router(&path, &cfg.serve, &cfg.notify, villages, "127.0.0.1:8787".parse().unwrap())
                .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Http { runtime, router, token, ids, _dir: dir }
    }

    /// Seeds are `METHOD PATH\nheader: value\n…\n\nBODY`; `{id}` and `{token}` are filled in.
    /// Returns the answer's status (0: not a request `http` can build).
    fn run(&self, data: &[u8]) -> u16 {
        use tower::ServiceExt;
        let text = String::from_utf8_lossy(data)
            .replace("{id}", &self.ids[data.len() % self.ids.len()])
            .replace("{token}", &self.token);
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("");
        let (method, uri) = first.split_once(' ').unwrap_or(("GET", first));
        let mut req = axum::http::Request::builder().method(method).uri(uri);
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                req = req.header(k.trim(), v.trim());
            }
        }
        let Ok(req) = req.body(axum::body::Body::from(body.to_string())) else { return 0 };
        let router = self.router.clone();
        self.runtime.block_on(async move {
            let response = router.oneshot(req).await.unwrap();
            let status = response.status().as_u16();
            let _ = axum::body::to_bytes(response.into_body(), 64 << 20).await;
            status
        })
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = args.get(1).map(String::as_str).unwrap_or_else(|| {
        eprintln!("usage: fuzz TARGET EXECUTIONS [SEED]   (pose, table, config, http, geotiff, netcdf, aoi)");
        std::process::exit(2)
    });
    let executions: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let corpus = seeds(target);
    let findings = PathBuf::from("fuzz/findings");
    let scratch = tempfile::tempdir().unwrap();
    let file = |ext: &str| scratch.path().join(format!("input.{ext}"));
    eprintln!(
        "fuzz {target}: {} seeds, {executions} executions; GDAL inputs are written under {}",
        corpus.len(),
        scratch.path().display()
    );
    let last_panic: std::sync::Arc<std::sync::Mutex<String>> = Default::default();
    let lp = last_panic.clone();
    std::panic::set_hook(Box::new(move |info| {
        *lp.lock().unwrap() = format!("{info}");
    }));

    let http = (target == "http").then(Http::new);
    let limits = firepoint::ingest::Limits::default();
    let hotspot = firepoint::detect::hotspot::HotspotConfig::default();
    let settings = || firepoint::detect::Settings {
        hotspot: &hotspot,
        limits: &limits,
        companion_wait: std::time::Duration::ZERO,
    };
    let aoi_dir = scratch.path().join("aoi");
    if target == "aoi" {
        std::fs::create_dir_all(&aoi_dir).unwrap();
        for e in std::fs::read_dir("aoi").unwrap().flatten() {
            std::fs::copy(e.path(), aoi_dir.join(e.file_name())).unwrap();
        }
    }

    let statuses: std::sync::Mutex<std::collections::BTreeMap<u16, u64>> = Default::default();
    let mut rng = Rng::new(seed);
    let mut panics: Vec<String> = Vec::new();
    let started = Instant::now();
    for n in 0..executions {
        let data = mutate(&mut rng, &corpus);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match target {
            "pose" => {
                let _ = firepoint::ingest::frame::parse_pose(&String::from_utf8_lossy(&data), Path::new("fuzz.json"));
            }
            "table" => {
                let _ = firepoint::ingest::tables::parse_table(&data, Path::new("fuzz.csv"));
            }
            "config" => {
                let text = String::from_utf8_lossy(&data);
                let _ = firepoint::config::Config::parse(Some((&text, Path::new("fuzz/firepoint.toml"))), &[]);
            }
            "http" => {
                let status = http.as_ref().unwrap().run(&data);
                *statuses.lock().unwrap().entry(status).or_insert(0u64) += 1;
            }
            "geotiff" | "netcdf" => {
                let path = file(if target == "geotiff" { "tif" } else { "nc" });
                std::fs::write(&path, &data).unwrap();
                let _ = firepoint::detect::detect_file(firepoint::ingest::InputKind::Satellite, &path, settings());
            }
            "aoi" => {
                std::fs::write(aoi_dir.join("stations.geojson"), &data).unwrap();
                let _ = firepoint::aoi::Aoi::load_with(&aoi_dir, &limits, &Default::default());
            }
            other => panic!("unknown target {other}"),
        }));
        if outcome.is_err() {
            let message = last_panic.lock().unwrap().clone();
            let site = message.lines().next().unwrap_or("").to_string();
            if !panics.contains(&site) {
                std::fs::create_dir_all(&findings).unwrap();
                let saved = findings.join(format!("{target}-{}.bin", panics.len()));
                std::fs::write(&saved, &data).unwrap();
                eprintln!("PANIC #{} at execution {n}: {site}\n  input saved: {}", panics.len(), saved.display());
                panics.push(site);
            }
        }
        if n > 0 && n % 100_000 == 0 {
            eprintln!(
                "  {n} executions, {:.0}/s, {} distinct panics",
                n as f64 / started.elapsed().as_secs_f64(),
                panics.len()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if target == "http" {
        eprintln!("answers by status (0: not a buildable request): {:?}", statuses.lock().unwrap());
    }
    println!(
        "| {target} | {executions} | {} | {:.0} s | {:.0}/s | {} |",
        corpus.len(),
        secs,
        executions as f64 / secs,
        panics.len()
    );
    if !panics.is_empty() {
        std::process::exit(1);
    }
}
