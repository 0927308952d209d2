//! Issue #3's performance figure: the contextual fire test on a 5,000 × 5,000 scene, against
//! the floor (GDAL reading the bands) and, through `scripts/bench_hotspot.sh`, against the numpy
//! implementation of the same tests in `benches/reference/hotspot_numpy.py`.
//!
//! The scene tiles the real GOES-17 ABI scene of 2019-10-27 20:00Z (Kincade fire) 10 × 10 when
//! the shared data is present (real texture, real fires), else a synthetic scene. It is written
//! once to `target/bench-data/` as a 3-band GeoTIFF plus raw f32 arrays and our mask, which the
//! numpy script reads and compares.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use firepoint::detect::hotspot::{detect, HotspotParams};
use firepoint::domain::BtScene;
use firepoint::ingest::raster::read_bt_scene;

const N: usize = 5000;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data")
}

fn source_bands() -> (Vec<f32>, Vec<f32>, Vec<f32>, usize, String) {
    let root = std::env::var_os("FIREPOINT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join("satellite/goes-abi-joyprojects/l1b_radm_g17_2019300_2000_wildfire");
    let c07 = std::fs::read_dir(&dir)
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok().map(|e| e.path())).find(|p| p.to_string_lossy().contains("M6C07")));
    if let Some(scene) = c07.and_then(|p| firepoint::ingest::goes::read_abi_scene(&p, &Default::default()).ok()) {
        let t12 = scene.t12.clone().unwrap_or_else(|| scene.t11.clone());
        return (scene.t4, scene.t11, t12, scene.width, "GOES-17 ABI 2019-10-27 20:00Z tiled 10x10".into());
    }
    eprintln!("bench: no shared GOES data; using a synthetic scene");
    let mut rng = firepoint::rng::SplitMix::new(5);
    let n = 500;
    let t11: Vec<f32> = (0..n * n).map(|_| 290.0 + rng.normal(2.0) as f32).collect();
    let t4: Vec<f32> = t11
        .iter()
        .enumerate()
        .map(|(i, &v)| v + 8.0 + rng.normal(2.0) as f32 + if i % 997 == 0 { 40.0 } else { 0.0 })
        .collect();
    (t4, t11.clone(), t11, n, "synthetic 500x500 tiled 10x10".into())
}

fn tile(src: &[f32], n: usize) -> Vec<f32> {
    (0..N * N).map(|i| src[((i / N) % n) * n + (i % N) % n]).collect()
}

fn write_raw(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Writes the scene (once) and returns the GeoTIFF's path.
fn prepare() -> PathBuf {
    let dir = data_dir();
    let tif = dir.join("scene5k.tif");
    if tif.exists() {
        return tif;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let (t4, t11, t12, n, what) = source_bands();
    let (t4, t11, t12) = (tile(&t4, n), tile(&t11, n), tile(&t12, n));
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver.create_with_band_type::<f32, _>(&tif, N, N, 3).unwrap();
    ds.set_geo_transform(&[100.0, 0.02, 0.0, 50.0, 0.0, -0.02]).unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap()).unwrap();
    use gdal::Metadata;
    ds.set_metadata_item("ACQUISITION_TIME", "2019-10-27T20:00:27Z", "").unwrap();
    ds.set_metadata_item("SENSOR", "ABI-G17 (tiled)", "").unwrap();
    for (b, (data, um)) in [(&t4, "3.9"), (&t11, "11.2"), (&t12, "12.3")].into_iter().enumerate() {
        let mut band = ds.rasterband(b + 1).unwrap();
        band.set_metadata_item("WAVELENGTH_UM", um, "").unwrap();
        band.set_metadata_item("UNITS", "K", "").unwrap();
        band.write((0, 0), (N, N), &mut gdal::raster::Buffer::new((N, N), data.clone())).unwrap();
    }
    drop(ds);
    write_raw(&dir.join("t4.f32"), &t4);
    write_raw(&dir.join("t11.f32"), &t11);
    write_raw(&dir.join("t12.f32"), &t12);
    std::fs::write(dir.join("scene.txt"), format!("{what}\n{N} {N}\n")).unwrap();
    tif
}

fn write_mask(scene: &BtScene) {
    let fires = detect(&firepoint::detect::hotspot::Bands::of(scene), true, &HotspotParams::default());
    let mut mask = vec![0u8; N * N];
    for f in &fires {
        mask[f.row * N + f.col] = 1;
    }
    std::fs::write(data_dir().join("rust_mask.u8"), mask).unwrap();
    eprintln!("bench: {} fire pixels in the 5000x5000 scene", fires.len());
}

fn bench(c: &mut Criterion) {
    let tif = prepare();
    let scene = read_bt_scene(&tif, &Default::default()).expect("bench scene reads");
    write_mask(&scene);
    let mut g = c.benchmark_group("hotspot_5000x5000");
    g.sample_size(10);
    g.bench_function("gdal_read_3_bands", |b| {
        b.iter(|| read_bt_scene(black_box(&tif), &Default::default()).unwrap().width)
    });
    g.bench_function("detect", |b| {
        b.iter(|| {
            detect(black_box(&firepoint::detect::hotspot::Bands::of(&scene)), true, &HotspotParams::default()).len()
        })
    });
    g.bench_function("read_and_detect", |b| {
        b.iter(|| {
            let s = read_bt_scene(black_box(&tif), &Default::default()).unwrap();
            detect(&firepoint::detect::hotspot::Bands::of(&s), true, &HotspotParams::default()).len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
