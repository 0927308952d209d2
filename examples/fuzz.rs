//! A mutation fuzzer for every parser that reads outside data, on stable Rust (no nightly, no
//! instrumentation): seeds from `fuzz/corpus/<target>/`, mutated (bit flips, interesting bytes and
//! numbers, splices of other seeds, cuts, repeats), fed to the parser; a panic is caught, its
//! input saved under `fuzz/findings/`, and counted. GDAL-backed targets write each input to a file
//! first, so an abort inside C code leaves the input behind (its path is printed at start).
//!
//! `aoi-layer` reads its inputs from GDAL's `/vsimem/` instead; a signal handler writes the input
//! being read when the process dies of SIGABRT, SIGSEGV, SIGBUS, SIGFPE or SIGILL. Half its inputs
//! are mutated as JSON (values replaced, removed, repeated, columns renamed), since nearly every
//! byte mutation breaks GeoJSON's syntax before the layer's checks are reached.
//!
//! `cargo run --release --example fuzz -- TARGET EXECUTIONS [SEED]`, or `bash scripts/fuzz.sh`
//! for all. Targets: pose, table, config, http (the feed's router, in process), geotiff, netcdf
//! (through GDAL and the scene readers), aoi (the sample district loaded whole, its `stations`
//! layer mutated), aoi-layer (one mutated layer of any kind, read and checked as `Aoi::load` reads
//! that layer).

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
    let start = seeds[rng.below(seeds.len())].clone();
    mutate_from(rng, start, seeds)
}

/// 1–8 mutations of `data`; `seeds` for splices.
fn mutate_from(rng: &mut Rng, mut data: Vec<u8>, seeds: &[Vec<u8>]) -> Vec<u8> {
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

/// The seeds of `aoi-layer`: the sample district's layers (`aoi/*.geojson`) and
/// `fuzz/corpus/aoi-layer/`, each with the layer its file name starts with (`villages-few.geojson`:
/// villages).
fn layer_seeds() -> Vec<LayerSeed> {
    let mut out = Vec::new();
    for dir in ["aoi", "fuzz/corpus/aoi-layer"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("no seeds in {dir}: {e}"))
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "geojson"))
            .collect();
        files.sort();
        for path in files {
            let stem = path.file_stem().unwrap().to_string_lossy();
            let name = stem.split('-').next().unwrap();
            let kind = firepoint::aoi::LAYER_KINDS
                .into_iter()
                .find(|k| *k == name)
                .unwrap_or_else(|| panic!("seed {} is named after no AOI layer", path.display()));
            let bytes = std::fs::read(&path).unwrap();
            out.push(LayerSeed { kind, json: serde_json::from_slice(&bytes).ok(), bytes });
        }
    }
    out
}

/// A seed of `aoi-layer`: the layer its file is, its bytes, and its JSON (parsed once).
struct LayerSeed {
    kind: &'static str,
    bytes: Vec<u8>,
    json: Option<serde_json::Value>,
}

/// One `aoi-layer` execution's layer and input: layer `n` of the rotation, mutated from one of its
/// own seeds (7 times in 8) or from any seed (a layer of another kind, wrong fields).
fn layer_input(rng: &mut Rng, n: u64, seeds: &[LayerSeed], all: &[Vec<u8>]) -> (&'static str, Vec<u8>) {
    let kinds = firepoint::aoi::LAYER_KINDS;
    let kind = kinds[(n % kinds.len() as u64) as usize];
    let own: Vec<&LayerSeed> = seeds.iter().filter(|s| s.kind == kind).collect();
    let start =
        if own.is_empty() || rng.below(8) == 0 { &seeds[rng.below(seeds.len())] } else { own[rng.below(own.len())] };
    // nearly every byte mutation breaks GeoJSON's syntax (the driver refuses the file before our
    // checks): half the inputs are mutated as JSON instead, a quarter of those then as bytes too
    if let (0, Some(doc)) = (rng.below(2), &start.json) {
        if let Some(json) = mutate_json(rng, doc.clone()) {
            return (kind, if rng.below(4) == 0 { mutate_from(rng, json, all) } else { json });
        }
    }
    (kind, mutate_from(rng, start.bytes.clone(), all))
}

/// Where a value sits in a JSON document.
enum Step {
    Key(String),
    Index(usize),
}

/// How many values `v` holds, itself included.
fn json_count(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Object(m) => m.values().map(json_count).sum(),
        serde_json::Value::Array(a) => a.iter().map(json_count).sum(),
        _ => 0,
    }
}

/// The place of the `k`-th value of `v` in depth-first order (0: `v` itself), appended to `at`.
fn json_place(v: &serde_json::Value, k: usize, at: &mut Vec<Step>) {
    let Some(mut k) = k.checked_sub(1) else { return };
    let children: Box<dyn Iterator<Item = (Step, &serde_json::Value)>> = match v {
        serde_json::Value::Object(m) => Box::new(m.iter().map(|(key, v)| (Step::Key(key.clone()), v))),
        serde_json::Value::Array(a) => Box::new(a.iter().enumerate().map(|(i, v)| (Step::Index(i), v))),
        _ => return,
    };
    for (step, child) in children {
        let n = json_count(child);
        if k < n {
            at.push(step);
            return json_place(child, k, at);
        }
        k -= n;
    }
}

fn json_at<'v>(v: &'v mut serde_json::Value, place: &[Step]) -> Option<&'v mut serde_json::Value> {
    place.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Values a layer's fields and geometries are tried with.
fn interesting_json(rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    let all = [
        json!(null),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(-1e308),
        json!(5e-324),
        json!(9223372036854775807i64),
        json!(18446744073709551615u64),
        json!(""),
        json!("NaN"),
        json!("999901001.000000000000000"),
        json!("\u{FFFD}王庄"),
        json!("\u{CD}\u{F5}\u{D7}\u{AF}"), // 王庄 in GBK read as Latin-1
        json!(true),
        json!([]),
        json!({}),
        json!([[]]),
        json!("Point"),
        json!("MultiPoint"),
        json!("LineString"),
        json!("Polygon"),
        json!("MultiPolygon"),
        json!("GeometryCollection"),
        json!("farmland"),
        json!("water"),
        json!("urn:ogc:def:crs:EPSG::4547"),
        json!("urn:ogc:def:crs:EPSG::3857"),
        json!("urn:ogc:def:crs:EPSG::4326"),
        json!("EPSG:999999"),
        json!({"type": "Point", "coordinates": [115.6, 37.6]}),
        json!({"type": "Polygon", "coordinates": [[[115.6, 37.6], [115.7, 37.6], [115.6, 37.6], [115.7, 37.6], [115.6, 37.6]]]}),
    ];
    all[rng.below(all.len())].clone()
}

/// Names a column is tried with: other fields', upper case, cut to 10 characters (Shapefile).
const COLUMN_NAMES: &[&str] = &[
    "code",
    "CODE",
    "Name",
    "id",
    "team",
    "township",
    "grid_membe",
    "pan_zero_d",
    "hfov_max_d",
    "网格员",
    "",
    "class",
];

/// 1–4 mutations that keep `seed` JSON: a value replaced (an interesting one, another value of the
/// document, a number scaled or shifted), removed or repeated, or an object's key renamed.
fn mutate_json(rng: &mut Rng, mut doc: serde_json::Value) -> Option<Vec<u8>> {
    use serde_json::Value;
    for _ in 0..1 + rng.below(4) {
        let count = json_count(&doc);
        let (mut place, mut elsewhere) = (Vec::new(), Vec::new());
        json_place(&doc, rng.below(count), &mut place);
        json_place(&doc, rng.below(count), &mut elsewhere);
        let place = &place;
        let other = json_at(&mut doc, &elsewhere)?.clone();
        let choice = rng.below(6);
        let (parent, last) = (json_at(&mut doc, &place[..place.len().saturating_sub(1)])?, place.last());
        match (choice, parent, last) {
            (0, Value::Object(m), Some(Step::Key(k))) => {
                m.remove(k);
            }
            (0, Value::Array(a), Some(Step::Index(i))) => {
                a.remove(*i);
            }
            (1, Value::Array(a), Some(Step::Index(i))) => {
                let copy = a[*i].clone();
                a.insert(*i, copy);
            }
            (2, Value::Object(m), Some(Step::Key(k))) => {
                if let Some(v) = m.remove(k) {
                    m.insert(COLUMN_NAMES[rng.below(COLUMN_NAMES.len())].to_string(), v);
                }
            }
            _ => {
                let node = json_at(&mut doc, place)?;
                *node = match (choice, node.as_f64()) {
                    (3, Some(x)) => {
                        let shifted = [x * 1e6, -x, x + 360.0, x + 1e-12, x * 0.5][rng.below(5)];
                        serde_json::Number::from_f64(shifted).map_or(Value::Null, Value::Number)
                    }
                    (4, _) => other,
                    _ => interesting_json(rng),
                };
            }
        }
    }
    serde_json::to_vec(&doc).ok()
}

/// How the layer reads of `aoi-layer` ended, per layer: every feature read without a problem,
/// some read, none read (refused).
#[derive(Default, Debug)]
struct LayerOutcomes(std::collections::BTreeMap<&'static str, [u64; 3]>);

impl LayerOutcomes {
    fn add(&mut self, kind: &'static str, check: &firepoint::aoi::LayerCheck) {
        let i = match (check.read, check.problems.is_empty()) {
            (0, _) => 2,
            (_, true) => 0,
            (_, false) => 1,
        };
        self.0.entry(kind).or_default()[i] += 1;
    }
}

/// Writes the input being read when the process dies of a signal (an abort or a fault in GDAL's C
/// code is no panic, and an input in `/vsimem/` dies with the process).
mod crash {
    use std::ffi::{c_char, c_int, CString};
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

    static PATH: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());
    static INPUT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
    static LEN: AtomicUsize = AtomicUsize::new(0);
    const SAID: &[u8] = b"\nfuzz: killed by a signal; the input being read is saved in fuzz/findings/ (crash-*.bin)\n";

    /// From now on a fatal signal writes the current input to `path`.
    pub fn arm(path: &std::path::Path) {
        let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        PATH.store(c.into_raw(), Ordering::SeqCst);
        for sig in [libc::SIGABRT, libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            // SAFETY: the handler only calls async-signal-safe functions (open, write, close,
            // signal, raise) on memory set before it was installed; it runs on the alternate stack
            // Rust's runtime gives the main thread, so a stack overflow in C code is caught too
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    }

    /// `data` is the input being read until the next call (it must live that long).
    pub fn reading(data: &[u8]) {
        LEN.store(0, Ordering::SeqCst);
        INPUT.store(data.as_ptr() as *mut u8, Ordering::SeqCst);
        LEN.store(data.len(), Ordering::SeqCst);
    }

    extern "C" fn on_signal(sig: c_int) {
        let (path, input, len) =
            (PATH.load(Ordering::SeqCst), INPUT.load(Ordering::SeqCst), LEN.load(Ordering::SeqCst));
        // SAFETY: `path` is a leaked CString, `input` lives until the next `reading`
        unsafe {
            let fd = libc::open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644);
            if fd >= 0 && !input.is_null() {
                libc::write(fd, input as *const libc::c_void, len);
                libc::close(fd);
            }
            libc::write(2, SAID.as_ptr() as *const libc::c_void, SAID.len());
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
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
        let input = firepoint::batch::InputRef {
            path: "f".as_ref(),
            sha256: "f",
            kind: "satellite",
            frame: None,
            note: None,
            forecasts: &[],
            view: None,
        };
        let ids = firepoint::batch::record_input(
            &mut store,
            input,
            &located,
            &cfg.rules(),
            cfg.persistence.cell_deg,
            &firepoint::notify::NotifyConfig::default(),
        )
        .unwrap()
        .opened;
        let (_, token) = store.add_token("fuzz", None).unwrap();
        let villages = firepoint::serve::villages_geojson(&aoi);
        let router = firepoint::serve::router(
            &path,
            &cfg.serve,
            &cfg.notify,
            cfg.batch.stale_after_min,
            villages,
            "127.0.0.1:8787".parse().unwrap(),
        )
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
        eprintln!(
            "usage: fuzz TARGET EXECUTIONS [SEED]   (pose, table, weather, config, http, geotiff, netcdf, aoi, aoi-layer)"
        );
        std::process::exit(2)
    });
    let executions: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let layer_corpus = if target == "aoi-layer" { layer_seeds() } else { Vec::new() };
    let corpus =
        if target == "aoi-layer" { layer_corpus.iter().map(|s| s.bytes.clone()).collect() } else { seeds(target) };
    let findings = PathBuf::from("fuzz/findings");
    let scratch = tempfile::tempdir().unwrap();
    let file = |ext: &str| scratch.path().join(format!("input.{ext}"));
    eprintln!(
        "fuzz {target}: {} seeds, {executions} executions; GDAL inputs are written under {}",
        corpus.len(),
        if target == "aoi-layer" {
            Path::new("/vsimem/fuzz (saved in fuzz/findings/ on a crash)")
        } else {
            scratch.path()
        }
        .display()
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

    // `aoi-layer`: the default field names, and the county's own (a global mapping applies only to
    // layers that have its column, as in `Aoi::load`)
    let mapped = firepoint::aoi::AoiConfig {
        fields: [
            ("code", "村代码"),
            ("grid_member", "网格员"),
            ("phone", "联系电话"),
            ("pan_zero_deg", "pan_zero_d"),
            ("hfov_min_deg", "hfov_min_d"),
            ("hfov_max_deg", "hfov_max_d"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    };
    let layer_configs = [firepoint::aoi::AoiConfig::default(), mapped];
    let mut outcomes = LayerOutcomes::default();
    let mut buf = Vec::new();
    if target == "aoi-layer" {
        std::fs::create_dir_all(&findings).unwrap();
        crash::arm(&findings.join(format!("crash-{target}-{seed}.bin")));
    }

    let statuses: std::sync::Mutex<std::collections::BTreeMap<u16, u64>> = Default::default();
    let mut rng = Rng::new(seed);
    let mut panics: Vec<String> = Vec::new();
    let started = Instant::now();
    for n in 0..executions {
        let (kind, data) = match target {
            "aoi-layer" => layer_input(&mut rng, n, &layer_corpus, &corpus),
            _ => ("", mutate(&mut rng, &corpus)),
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match target {
            "pose" => {
                let _ = firepoint::ingest::frame::parse_pose(&String::from_utf8_lossy(&data), Path::new("fuzz.json"));
            }
            "table" => {
                let _ = firepoint::ingest::tables::parse_table(&data, Path::new("fuzz.csv"));
            }
            "weather" => {
                let name = if n % 2 == 0 { "fuzz.csv" } else { "fuzz.json" };
                let _ = firepoint::ingest::weather::parse_forecasts(&data, Path::new(name));
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
                // every input read through GDAL, none from the district's cache (issue 21)
                let fresh = firepoint::aoi::AoiConfig { cache: false, ..Default::default() };
                let _ = firepoint::aoi::Aoi::load_with(&aoi_dir, &limits, &fresh);
            }
            "aoi-layer" => {
                let path = PathBuf::from(format!("/vsimem/fuzz/{kind}.geojson"));
                crash::reading(&data);
                // borrowed, not handed over: `vsi::create_mem_file` gives GDAL an empty Vec's
                // dangling pointer to free (gdal 0.19), a crash of the harness, not of firepoint
                buf.clear();
                buf.extend_from_slice(&data);
                let file = gdal::vsi::create_mem_file_from_ref(&path, &mut buf).unwrap();
                let cfg = &layer_configs[(n / firepoint::aoi::LAYER_KINDS.len() as u64 % 2) as usize];
                let check = firepoint::aoi::check_layer(kind, &path, cfg);
                drop(file);
                outcomes.add(kind, &check);
            }
            other => panic!("unknown target {other}"),
        }));
        crash::reading(&[]);
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
    if target == "aoi-layer" {
        eprintln!("layer reads [every feature read, some read, none read]: {:?}", outcomes.0);
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
