//! Issue #10's figure: placing 1 M points (village, land use, no-burn zone, nearest station)
//! in a district of 10,000 village grid cells of 64–256 vertices, in sorted (Hilbert) and random
//! order, on 1 and 2 threads; through `scripts/bench_place.sh` side by side with geopandas /
//! shapely 2 (`benches/reference/place_shapely.py`) on the same files.
//!
//! Writes the district once to `target/bench-data/place/` (GeoJSON layers that both sides read
//! through GDAL, and the points as raw little-endian f64 lon/lat pairs), then writes what it found
//! for every point (`rust_<order>.i32`) and its timings (`rust.json`) for the Python side to
//! compare. Run without `--bench` (as `cargo test --all-targets` does) it only places a small
//! district once, as a smoke test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use firepoint::aoi::{Aoi, LandClass, PlaceIds};
use firepoint::rng::SplitMix;
use serde_json::{json, Value};

/// Bump when the generated data changes, so that an old copy is rewritten.
const DATA_VERSION: &str = "place-v1";
const LON0: f64 = 115.0;
const LAT0: f64 = 37.0;
/// About 1 km × 1 km at 37° N.
const DX: f64 = 0.01125;
const DY: f64 = 0.009;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/place")
}

fn r7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// The district: `n` × `n` villages, land use, no-burn zones and stations, as layers.
struct District {
    n: usize,
    corner: Vec<Vec<(f64, f64)>>,
    seed: u64,
}

impl District {
    fn new(n: usize, seed: u64) -> District {
        let mut rng = SplitMix::new(seed);
        let corner = (0..=n)
            .map(|j| {
                (0..=n)
                    .map(|i| {
                        (
                            LON0 + (i as f64 + rng.range(-0.15, 0.15)) * DX,
                            LAT0 + (j as f64 + rng.range(-0.15, 0.15)) * DY,
                        )
                    })
                    .collect()
            })
            .collect();
        District { n, corner, seed }
    }

    /// The shared boundary from corner `a` to corner `b` (`vertical`: b is above a): 15–63 points
    /// between them on a wavy line, the same for both villages it separates.
    fn edge(&self, i: usize, j: usize, vertical: bool) -> Vec<(f64, f64)> {
        let a = self.corner[j][i];
        let b = if vertical { self.corner[j + 1][i] } else { self.corner[j][i + 1] };
        let mut rng = SplitMix::new(self.seed ^ ((i as u64) << 40) ^ ((j as u64) << 20) ^ vertical as u64);
        let k = 15 + (rng.next_u64() % 49) as usize;
        let (f1, f2) = (1.0 + (rng.next_u64() % 3) as f64, 3.0 + (rng.next_u64() % 4) as f64);
        let (p1, p2) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut pts = vec![a];
        for m in 1..=k {
            let t = m as f64 / (k + 1) as f64;
            let w = 0.08
                * (std::f64::consts::PI * t).sin()
                * (0.6 * (std::f64::consts::TAU * f1 * t + p1).sin()
                    + 0.4 * (std::f64::consts::TAU * f2 * t + p2).sin());
            pts.push((a.0 + dx * t - dy * w * DX / DY, a.1 + dy * t + dx * w * DY / DX));
        }
        pts.push(b);
        pts.into_iter().map(|(x, y)| (r7(x), r7(y))).collect()
    }

    /// Village (i, j)'s ring, counter-clockwise, closed.
    fn ring(&self, i: usize, j: usize) -> Vec<[f64; 2]> {
        let mut ring = self.edge(i, j, false);
        ring.pop();
        let mut right = self.edge(i + 1, j, true);
        right.pop();
        let mut top = self.edge(i, j + 1, false);
        top.reverse();
        top.pop();
        let mut left = self.edge(i, j, true);
        left.reverse();
        ring.extend(right.into_iter().chain(top).chain(left));
        ring.into_iter().map(|(x, y)| [x, y]).collect()
    }

    fn extent(&self) -> (f64, f64, f64, f64) {
        let m = 2.0;
        (LON0 - m * DX, LAT0 - m * DY, LON0 + (self.n as f64 + m) * DX, LAT0 + (self.n as f64 + m) * DY)
    }
}

/// A star-shaped ring of `n` vertices, radius in [r/2, r] metres, around `c`; clockwise if `cw`.
fn star(rng: &mut SplitMix, c: (f64, f64), r_m: f64, n: usize, cw: bool) -> Vec<[f64; 2]> {
    let (kx, ky) = (DX / 1000.0, DY / 1000.0);
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let r = r_m * rng.range(0.5, 1.0);
            [r7(c.0 + r * a.cos() * kx), r7(c.1 + r * a.sin() * ky)]
        })
        .collect();
    if cw {
        ring.reverse();
    }
    ring.push(ring[0]);
    ring
}

fn feature(props: Value, rings: Vec<Vec<[f64; 2]>>) -> Value {
    json!({"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": rings}})
}

fn write_layer(dir: &Path, name: &str, features: Vec<Value>) -> std::io::Result<()> {
    let fc = json!({
        "type": "FeatureCollection",
        "name": name,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    });
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{name}.geojson")))?);
    serde_json::to_writer(&mut w, &fc)?;
    w.flush()
}

/// Writes the district's layers into `dir`: villages, 100 townships (blocks of 10 × 10), one
/// built-up patch per village (a quarter with a courtyard hole), water bodies, farmland, no-burn
/// zones (overlapping, some with holes) and six stations.
fn write_district(d: &District, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = SplitMix::new(d.seed + 1);
    let (x0, y0, x1, y1) = d.extent();
    let county = vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
    write_layer(dir, "county", vec![feature(json!({"code": "990001", "name": "bench county"}), vec![county])])?;
    let blocks = d.n.div_ceil(10);
    let townships = (0..blocks * blocks)
        .map(|t| {
            let props =
                json!({"code": format!("990001{t:03}"), "name": format!("township {t}"), "team": format!("team {t}")});
            json!({"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [LON0, LAT0]}})
        })
        .collect();
    write_layer(dir, "townships", townships)?;
    let mut villages = Vec::new();
    let mut landuse = Vec::new();
    for j in 0..d.n {
        for i in 0..d.n {
            let t = (j / 10) * blocks + i / 10;
            let code = format!("990001{t:03}{:05}", j * d.n + i);
            let props = json!({"code": code, "name": format!("village {i},{j}"), "township": format!("990001{t:03}"),
                               "grid_id": format!("G{i:03}{j:03}"), "grid_member": "member"});
            villages.push(feature(props, vec![d.ring(i, j)]));
            let c = (LON0 + (i as f64 + rng.range(0.3, 0.7)) * DX, LAT0 + (j as f64 + rng.range(0.3, 0.7)) * DY);
            let r = rng.range(80.0, 250.0);
            let n = 16 + (rng.next_u64() % 33) as usize;
            let mut rings = vec![star(&mut rng, c, r, n, false)];
            if rng.next_u64().is_multiple_of(4) {
                rings.push(star(&mut rng, c, r * 0.25, 8, true));
            }
            landuse.push(feature(json!({"class": "built_up"}), rings));
        }
    }
    write_layer(dir, "villages", villages)?;
    let span = (d.n as f64 * DX, d.n as f64 * DY);
    for k in 0..(d.n * d.n / 25).max(4) {
        let c = (LON0 + rng.range(0.0, span.0), LAT0 + rng.range(0.0, span.1));
        let n = 32 + (rng.next_u64() % 97) as usize;
        let class = if k % 20 == 0 { "farmland" } else { "water" };
        let r = rng.range(100.0, 800.0);
        landuse.push(feature(json!({"class": class}), vec![star(&mut rng, c, r, n, false)]));
    }
    write_layer(dir, "landuse", landuse)?;
    let zones = (0..30)
        .map(|k| {
            let c = (LON0 + rng.range(0.0, span.0), LAT0 + rng.range(0.0, span.1));
            let r = rng.range(2000.0, 8000.0);
            let n = 128 + (rng.next_u64() % 385) as usize;
            let mut rings = vec![star(&mut rng, c, r, n, false)];
            if k % 5 == 0 {
                rings.push(star(&mut rng, c, r * 0.3, 64, true));
            }
            feature(json!({"name": format!("zone {k}")}), rings)
        })
        .collect();
    write_layer(dir, "no_burn_zones", zones)?;
    let stations = (0..6)
        .map(|k| {
            let (x, y) = (r7(LON0 + rng.range(0.0, span.0)), r7(LAT0 + rng.range(0.0, span.1)));
            json!({"type": "Feature", "properties": {"code": format!("S{k}"), "name": format!("station {k}")},
                   "geometry": {"type": "Point", "coordinates": [x, y]}})
        })
        .collect();
    write_layer(dir, "stations", stations)
}

/// Hilbert index of (x, y) on a 2^16 × 2^16 grid.
fn hilbert(mut x: u32, mut y: u32) -> u64 {
    let mut d = 0u64;
    let mut s = 1u32 << 15;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = 0xFFFF - x;
                y = 0xFFFF - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// `n` points uniform over the county's box (random order), and the same points in Hilbert order.
type Points = Vec<(f64, f64)>;

fn points(d: &District, n: usize) -> (Points, Points) {
    let mut rng = SplitMix::new(d.seed + 2);
    let (x0, y0, x1, y1) = d.extent();
    let random: Vec<(f64, f64)> = (0..n).map(|_| (rng.range(x0, x1), rng.range(y0, y1))).collect();
    let mut sorted = random.clone();
    let cell = |v: f64, lo: f64, hi: f64| ((v - lo) / (hi - lo) * 65535.0) as u32;
    sorted.sort_by_cached_key(|&(x, y)| hilbert(cell(x, x0, x1), cell(y, y0, y1)));
    (sorted, random)
}

fn write_points(path: &Path, pts: &[(f64, f64)]) -> std::io::Result<()> {
    let bytes: Vec<u8> = pts.iter().flat_map(|&(x, y)| x.to_le_bytes().into_iter().chain(y.to_le_bytes())).collect();
    std::fs::write(path, bytes)
}

/// Per point: village, land use (0 farmland, 1 built-up, 2 water, 3 grassland, 4 tree belt), no-burn zone and station
/// (indexes into the layers, -1 for none), as little-endian i32.
fn write_answers(path: &Path, ids: &[PlaceIds]) -> std::io::Result<()> {
    let idx = |v: Option<u32>| v.map_or(-1, |i| i as i32);
    let class = |c: LandClass| match c {
        LandClass::Farmland => 0,
        LandClass::BuiltUp => 1,
        LandClass::Water => 2,
        LandClass::Grassland => 3,
        LandClass::TreeBelt => 4,
    };
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|p| [idx(p.village), class(p.landuse), idx(p.no_burn_zone), idx(p.station.map(|s| s.0))])
        .flat_map(i32::to_le_bytes)
        .collect();
    std::fs::write(path, bytes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Median wall time of `runs` calls of `f` on a pool of `threads`, after one warm-up call.
fn time_on<T>(threads: usize, runs: usize, f: impl Fn() -> T + Sync) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    pool.install(|| {
        std::hint::black_box(f());
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    })
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (cells, n_points, runs) = if full { (100, 1_000_000, 7) } else { (6, 2_000, 1) };
    let dir = if full {
        data_dir()
    } else {
        std::env::temp_dir().join(format!("firepoint-place-smoke-{}", std::process::id()))
    };
    let d = District::new(cells, 10);
    let (sorted, random) = points(&d, n_points);
    let stamp = dir.join("VERSION");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(DATA_VERSION) {
        eprintln!("bench: writing the district and {n_points} points to {}", dir.display());
        write_district(&d, &dir.join("aoi")).expect("bench data written");
        write_points(&dir.join("points_sorted.f64"), &sorted).expect("points written");
        write_points(&dir.join("points_random.f64"), &random).expect("points written");
        std::fs::write(&stamp, DATA_VERSION).expect("stamp written");
    }
    let t = Instant::now();
    let aoi = Aoi::load(&dir.join("aoi")).expect("bench district loads");
    let load_s = t.elapsed().as_secs_f64();
    let vertices: usize =
        aoi.villages.iter().map(|v| v.area.0.iter().map(|p| p.exterior().0.len() - 1).sum::<usize>()).sum();
    println!(
        "place: {} villages ({:.0} vertices each on average), {} land-use polygons, {} no-burn zones, {} stations; loaded and indexed in {load_s:.2} s",
        aoi.villages.len(),
        vertices as f64 / aoi.villages.len() as f64,
        aoi.landuse.len(),
        aoi.no_burn.len(),
        aoi.stations.len()
    );
    let load_before = loadavg();
    let mut rows = Vec::new();
    for (order, pts) in [("sorted", &sorted), ("random", &random)] {
        let ids = aoi.place_many(pts);
        write_answers(&dir.join(format!("rust_{order}.i32")), &ids).expect("answers written");
        for threads in [1, 2] {
            let s = time_on(threads, runs, || aoi.place_many(pts));
            println!(
                "place_many {order:>6}, {threads} thread(s): {:8.1} ms  {:6.2} M points/s",
                s * 1e3,
                n_points as f64 / s / 1e6
            );
            rows.push(
                json!({"what": "place_many", "order": order, "threads": threads, "seconds": s, "points": n_points}),
            );
        }
        let s = time_on(1, runs.min(3), || pts.iter().map(|&(x, y)| aoi.place(x, y).landuse as usize).sum::<usize>());
        println!(
            "place (PlaceInfo, copies), {order}, 1 thread: {:8.1} ms  {:6.2} M points/s",
            s * 1e3,
            n_points as f64 / s / 1e6
        );
        rows.push(json!({"what": "place", "order": order, "threads": 1, "seconds": s, "points": n_points}));
    }
    // the linear scans `place` made before, on a sample: the reference, and the old speed
    let sample = &random[..(n_points / 500).max(100)];
    let t = Instant::now();
    let linear: Vec<PlaceIds> = sample.iter().map(|&(x, y)| aoi.place_linear(x, y)).collect();
    let linear_s = t.elapsed().as_secs_f64();
    let differ = sample.iter().zip(&linear).filter(|(&(x, y), want)| aoi.place_ids(x, y) != **want).count();
    println!(
        "before (linear scans), random, 1 thread, {} points: {:.1} µs a point ({:.3} M points/s); {differ} of them placed differently by place_ids",
        sample.len(),
        linear_s / sample.len() as f64 * 1e6,
        sample.len() as f64 / linear_s / 1e6
    );
    rows.push(json!({"what": "linear", "order": "random", "threads": 1, "seconds": linear_s, "points": sample.len(), "differ": differ}));
    assert_eq!(differ, 0, "the prepared placement must answer as the linear scans");
    let report = json!({"load_s": load_s, "loadavg_before": load_before, "loadavg_after": loadavg(), "rows": rows});
    std::fs::write(dir.join("rust.json"), serde_json::to_string_pretty(&report).expect("json") + "\n")
        .expect("written");
    println!("machine load (1/5/15 min) before: {load_before}, after: {}", loadavg());
    if !full {
        std::fs::remove_dir_all(&dir).ok();
    }
}
