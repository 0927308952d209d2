//! Issue 21: loading the district — the prepared district kept between batches (used while the
//! layers are unchanged, read again when one is edited, rebuilt when its file is corrupt, and
//! placing points exactly as a fresh load), broken polygons still caught in large layers, and
//! the phone numbers of the layers checked.

use std::path::{Path, PathBuf};

use firepoint::aoi::{Aoi, AoiConfig};
use serde_json::{json, Value};

use crate::common::Sandbox;

fn cfg_in(cache: &Path) -> AoiConfig {
    AoiConfig { cache_dir: cache.to_path_buf(), ..AoiConfig::default() }
}

fn load(dir: &Path, cfg: &AoiConfig) -> Aoi {
    Aoi::load_with(dir, &firepoint::ingest::Limits::default(), cfg).expect("district loads")
}

/// The one cache file in `cache`.
fn cache_file(cache: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

#[test]
fn r21_a_cached_district_places_points_exactly_as_the_fresh_one() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(true);
    let cache = sb.path("cache");
    let fresh = load(&dir, &AoiConfig { cache: false, ..cfg_in(&cache) });
    assert!(!cache.exists(), "aoi.cache = false writes no cache");
    let first = load(&dir, &cfg_in(&cache));
    // a load that uses the cache leaves its file alone: set its time back and look again
    let file = cache_file(&cache);
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    let cached = load(&dir, &cfg_in(&cache));
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), old, "the cache was used, not rewritten");
    for aoi in [&first, &cached] {
        assert_eq!(format!("{:?}", aoi.county), format!("{:?}", fresh.county));
        assert_eq!(format!("{:?}", aoi.villages), format!("{:?}", fresh.villages));
        assert_eq!(format!("{:?}", aoi.townships), format!("{:?}", fresh.townships));
        assert_eq!(format!("{:?}", aoi.landuse), format!("{:?}", fresh.landuse));
        assert_eq!(format!("{:?}", aoi.roads), format!("{:?}", fresh.roads));
        assert_eq!(format!("{:?}", aoi.dump_sites), format!("{:?}", fresh.dump_sites));
        assert_eq!(format!("{:?}", aoi.cameras), format!("{:?}", fresh.cameras));
        assert_eq!(aoi.warnings, fresh.warnings);
        assert_eq!(aoi.dem.is_some(), fresh.dem.is_some());
    }
    let r = geo::BoundingRect::bounding_rect(&fresh.county.area).unwrap();
    let points: Vec<(f64, f64)> = (0..60)
        .flat_map(|i| (0..60).map(move |j| (i, j)))
        .map(|(i, j)| {
            (
                r.min().x - 0.01 + (r.width() + 0.02) * i as f64 / 59.0,
                r.min().y - 0.01 + (r.height() + 0.02) * j as f64 / 59.0,
            )
        })
        .collect();
    for &(lon, lat) in &points {
        let want = fresh.place(lon, lat);
        let got = cached.place(lon, lat);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "({lon}, {lat})");
        assert_eq!(cached.nearest_road(lon, lat, None), fresh.nearest_road(lon, lat, None));
        assert_eq!(cached.nearest_dump_site(lon, lat), fresh.nearest_dump_site(lon, lat));
        assert_eq!(cached.distance_to_built_up(lon, lat), fresh.distance_to_built_up(lon, lat));
        assert_eq!(cached.elevation(lon, lat).to_bits(), fresh.elevation(lon, lat).to_bits());
        assert_eq!(cached.contains(lon, lat), fresh.contains(lon, lat));
    }
}

#[test]
fn r21_a_layer_edited_after_caching_is_read_again() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let cache = sb.path("cache");
    let before = load(&dir, &cfg_in(&cache));
    assert_eq!(before.villages[0].name, read_json(&dir.join("villages.geojson"))["features"][0]["properties"]["name"]);
    // the same size and the same modification time: only the content tells
    let path = dir.join("villages.geojson");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let old = &before.villages[0].name;
    let new: String = old.chars().rev().collect();
    assert_ne!(&new, old);
    std::fs::write(&path, text.replacen(old.as_str(), &new, 1)).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, text.len());
    let after = load(&dir, &cfg_in(&cache));
    assert_eq!(after.villages[0].name, new);
    // and a field mapping that changes what is read is a change too
    let mut mapped = cfg_in(&cache);
    mapped.fields.insert("villages.name".into(), "grid_id".into());
    let remapped = load(&dir, &mapped);
    assert_eq!(remapped.villages[0].name, remapped.villages[0].grid_id);
}

#[test]
fn r21_a_corrupt_or_foreign_cache_file_is_ignored_and_rebuilt() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let cache = sb.path("cache");
    let fresh = load(&dir, &cfg_in(&cache));
    let file = cache_file(&cache);
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() - 100; // inside the payload: a coordinate's bits
    flipped[at] ^= 0x40;
    let truncated = good[..good.len() / 2].to_vec();
    for bad in [flipped, truncated, b"not a cache".to_vec(), Vec::new()] {
        std::fs::write(&file, &bad).unwrap();
        let aoi = load(&dir, &cfg_in(&cache));
        assert_eq!(format!("{:?}", aoi.villages), format!("{:?}", fresh.villages));
        assert_eq!(std::fs::read(&file).unwrap(), good, "rebuilt as it was");
    }
}

#[test]
fn r21_a_cache_folder_that_cannot_be_written_costs_only_time() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let blocker = sb.path("a-file");
    std::fs::write(&blocker, "").unwrap();
    let aoi = load(&dir, &cfg_in(&blocker.join("cache")));
    assert!(!aoi.villages.is_empty());
}

#[test]
fn r21_a_cache_kept_in_the_aoi_folder_itself_is_used() {
    // a relative cache_dir is taken from the AOI folder; "." puts the file among the layers,
    // where it must not count as one of them
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let cfg = AoiConfig { cache_dir: ".".into(), ..AoiConfig::default() };
    load(&dir, &cfg);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "bin"))
        .expect("the cache file in the AOI folder");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    load(&dir, &cfg);
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), old, "the cache was used, not rewritten");
}

/// A square village of `n` vertices along its edges around the sample county's first village,
/// as a GeoJSON layer file holding that one feature.
fn big_village(dir: &Path, n: usize, broken: bool) -> PathBuf {
    let mut layer = read_json(&crate::common::repo_path("aoi/villages.geojson"));
    let side = n / 4;
    let (x0, y0, d) = (115.5, 37.5, 0.02);
    let mut ring: Vec<[f64; 2]> = Vec::new();
    for (sx, sy, dx, dy) in [(0., 0., 1., 0.), (1., 0., 0., 1.), (1., 1., -1., 0.), (0., 1., 0., -1.)] {
        for k in 0..side {
            let t = k as f64 / side as f64;
            ring.push([x0 + d * (sx + dx * t), y0 + d * (sy + dy * t)]);
        }
    }
    if broken {
        // one vertex near the end pulled across the opposite side: two edges cross the ring
        let at = ring.len() - 7;
        ring[at] = [x0 + d * 1.5, ring[at][1]];
    }
    ring.push(ring[0]);
    let mut feature = layer["features"][0].clone();
    feature["geometry"] = json!({"type": "Polygon", "coordinates": [ring]});
    layer["features"] = json!([feature]);
    let path = dir.join(format!("villages-{n}-{broken}.geojson"));
    write_json(&path, &layer);
    path
}

#[test]
fn r21_a_broken_polygon_is_still_caught_in_a_large_layer() {
    let sb = Sandbox::new();
    let cfg = AoiConfig::default();
    let fine = firepoint::aoi::check_layer("villages", &big_village(&sb.dir.path(), 40_000, false), &cfg);
    assert_eq!((fine.read, fine.problems.len()), (1, 0), "{:?}", fine.problems);
    let broken = firepoint::aoi::check_layer("villages", &big_village(&sb.dir.path(), 40_000, true), &cfg);
    assert_eq!(broken.read, 0);
    assert!(
        broken.problems[0].contains(
            "feature 0: invalid polygon: polygon at index 0 is invalid: exterior ring has a self-intersection"
        ),
        "{:?}",
        broken.problems
    );
}

#[test]
fn r21_phone_numbers_are_checked_and_written_one_way_when_the_layers_are_read() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let villages = dir.join("villages.geojson");
    let mut layer = read_json(&villages);
    layer["features"][0]["properties"]["phone"] = json!("+86 139 1234 5678");
    layer["features"][1]["properties"]["phone"] = json!("139-1234-567");
    layer["features"][2]["properties"]["phone"] = json!("0318-1234567");
    write_json(&villages, &layer);
    let aoi =
        Aoi::load_with(&dir, &firepoint::ingest::Limits::default(), &AoiConfig { cache: false, ..Default::default() })
            .expect("a wrong phone does not stop the load");
    assert_eq!(aoi.villages[0].phone, "13912345678");
    assert_eq!((aoi.villages[1].phone.as_str(), aoi.villages[2].phone.as_str()), ("", ""));
    assert_eq!(aoi.villages.len(), layer["features"].as_array().unwrap().len(), "every village kept");
    assert_eq!(aoi.bad_phones.len(), 2, "{:?}", aoi.bad_phones);
    let fid1 =
        format!("{}: feature 1, field `phone`: `139-1234-567`: a mainland mobile number has 11", villages.display());
    assert!(aoi.bad_phones[0].contains(&fid1), "{:?}", aoi.bad_phones);
    assert!(aoi.bad_phones[1].contains("`0318-1234567`"), "a grid member's landline: {:?}", aoi.bad_phones);
    // the sample district's own numbers pass: a township's landline, written one way
    assert_eq!(aoi.townships[0].phone, "0318-0000001");
    assert_eq!(aoi.villages[3].phone, "13900000004");
    // `aoi check` names them as errors and exits 1
    let out = sb.cmd().args(["aoi", "check"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("error: AOI layer {fid1}")), "{stderr}");
}
