//! Per-stage benchmarks (criterion): hotspot test per scene size, AOI point lookups, smoke model
//! per frame, and store writes. Run: `cargo bench --bench pipeline` (ORT_DYLIB_PATH comes from
//! .cargo/config.toml). Under `cargo test --all-targets` each runs once, as a smoke test.

use std::hint::black_box;
use std::path::Path;

use chrono::TimeZone;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use firepoint::aoi::Aoi;
use firepoint::detect::hotspot::{detect, Bands, HotspotParams};

/// A synthetic daytime scene: textured background with one hot pixel in every 2,500.
fn scene(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = firepoint::rng::SplitMix::new(n as u64);
    let t11: Vec<f32> = (0..n * n).map(|_| 293.0 + rng.normal(1.0) as f32).collect();
    let t4: Vec<f32> = t11
        .iter()
        .enumerate()
        .map(|(i, &v)| v + 4.0 + rng.normal(0.8) as f32 + if i % 2500 == 1234 { 30.0 } else { 0.0 })
        .collect();
    (t4, t11)
}

fn hotspot(c: &mut Criterion) {
    let mut g = c.benchmark_group("hotspot");
    g.sample_size(10);
    for n in [1000usize, 2000] {
        let (t4, t11) = scene(n);
        let bands = Bands::new(&t4, &t11, n, n);
        g.throughput(Throughput::Elements((n * n) as u64));
        g.bench_with_input(BenchmarkId::new("detect", format!("{n}x{n}")), &bands, |b, bands| {
            b.iter(|| detect(black_box(bands), true, &HotspotParams::default()))
        });
    }
    g.finish();
}

fn aoi() -> Aoi {
    Aoi::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).expect("sample AOI")
}

fn locate(c: &mut Criterion) {
    let aoi = aoi();
    let mut g = c.benchmark_group("locate");
    for n in [1_000usize, 10_000, 100_000] {
        let mut rng = firepoint::rng::SplitMix::new(1);
        let pts: Vec<(f64, f64)> = (0..n).map(|_| (rng.range(115.5, 115.9), rng.range(37.5, 37.8))).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_with_input(BenchmarkId::new("place", n), &pts, |b, pts| {
            b.iter(|| pts.iter().filter(|(x, y)| aoi.place(*x, *y).village.is_some()).count())
        });
    }
    g.finish();
}

fn smoke(c: &mut Criterion) {
    let model = firepoint::detect::smoke::SmokeModel::load(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-patch-v1.onnx")),
        None,
    )
    .expect("model loads (run scripts/setup.sh for ONNX Runtime)");
    let mut worker = model.worker().unwrap();
    let frame = image::RgbImage::from_fn(1920, 1080, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 120]));
    let mut g = c.benchmark_group("smoke");
    g.sample_size(20);
    g.bench_function("score_1920x1080", |b| b.iter(|| worker.score(black_box(&frame)).unwrap().score));
    g.finish();
}

fn store(c: &mut Criterion) {
    use firepoint::domain::{Detection, SourceKind};
    let dir = tempfile::tempdir().unwrap();
    let mut store = firepoint::store::Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let cfg = firepoint::config::Config::default();
    let rules = cfg.rules();
    let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
    let located: Vec<_> = (0..100)
        .map(|i| {
            let (lon, lat) = (115.5 + (i % 10) as f64 * 0.04, 37.5 + (i / 10) as f64 * 0.03);
            firepoint::locate::Located::on_farmland(Detection::point(SourceKind::Satellite, lon, lat, at, 700.0))
        })
        .collect();
    let mut k = 0u64;
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.bench_function("record_input_100_detections", |b| {
        b.iter(|| {
            k += 1;
            firepoint::batch::record_input(
                &mut store,
                firepoint::batch::InputRef {
                    path: Path::new("x"),
                    sha256: &format!("sha{k}"),
                    kind: "satellite",
                    frame: None,
                    note: None,
                    forecasts: &[],
                    view: None,
                },
                &located,
                &rules,
                cfg.persistence.cell_deg,
                &firepoint::notify::NotifyConfig::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, hotspot, locate, smoke, store);
criterion_main!(benches);
