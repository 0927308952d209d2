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
            // named by its code and name (r22), not by an index that differs between formats
            "feature 999901001001 张庄: invalid polygon: polygon at index 0 is invalid: exterior ring has a self-intersection"
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
    let second = &layer["features"][1]["properties"];
    let fid1 = format!(
        "{}: feature {} {}, field `phone`: `139-1234-567`: a mainland mobile number has 11",
        villages.display(),
        second["code"].as_str().unwrap(),
        second["name"].as_str().unwrap()
    );
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

// Issue 22: layers in GCJ-02 / BD-09, gaps between villages, layers that would silence a county,
// and `aoi check` naming every problem in one run.

use firepoint::aoi::china_crs::Datum;

/// Every coordinate of a GeoJSON geometry through `f`.
fn map_coords(v: &mut Value, f: &dyn Fn(f64, f64) -> (f64, f64)) {
    match v {
        Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_f64) => {
            let (x, y) = f(items[0].as_f64().unwrap(), items[1].as_f64().unwrap());
            *v = json!([x, y]);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| map_coords(i, f)),
        _ => {}
    }
}

/// Layer `name` of `dir` with every coordinate moved from WGS-84 into `datum`, as a layer drawn on
/// an Amap (GCJ-02) or Baidu (BD-09) map and saved as WGS-84 is.
fn shift_layer(dir: &Path, name: &str, datum: Datum) {
    let path = dir.join(format!("{name}.geojson"));
    let mut layer = read_json(&path);
    for f in layer["features"].as_array_mut().unwrap() {
        map_coords(&mut f["geometry"]["coordinates"], &|x, y| datum.from_wgs84(x, y));
    }
    write_json(&path, &layer);
}

fn no_cache() -> AoiConfig {
    AoiConfig { cache: false, ..AoiConfig::default() }
}

#[test]
fn r22_layers_declared_gcj02_and_bd09_are_moved_back_exactly() {
    let sb = Sandbox::new();
    let truth = load(&sb.copy_aoi(false), &no_cache());
    let dir = sb.copy_aoi(false);
    shift_layer(&dir, "villages", Datum::Gcj02);
    shift_layer(&dir, "cameras", Datum::Bd09);
    // undeclared: every village sits hundreds of metres off (≈ 530 m east here), and the load
    // (when villages stick out of the county) or `aoi check` (when not) says which way
    let cache = sb.path("cache");
    let undeclared = || {
        let said = match Aoi::load_with(&dir, &firepoint::ingest::Limits::default(), &cfg_in(&cache)) {
            Ok(off) => {
                let moved = off.villages[0].area.0[0].exterior().0[0];
                let want = truth.villages[0].area.0[0].exterior().0[0];
                assert!((moved.x - want.x).abs() > 1e-3, "the sample layer is shifted: {moved:?} vs {want:?}");
                off.topology_warnings().join("\n")
            }
            Err(e) => e.to_string(),
        };
        assert!(said.contains("the villages look GCJ-02: declare aoi.datums.villages = \"GCJ-02\""), "{said}");
    };
    undeclared();
    // declared: the same coordinates as the WGS-84 layers, to 1e-7° (1 cm); the cache is keyed by it
    let datums = [("villages".to_string(), Datum::Gcj02), ("cameras".to_string(), Datum::Bd09)].into();
    let cfg = AoiConfig { datums, ..cfg_in(&cache) };
    let fixed = load(&dir, &cfg);
    for (a, b) in fixed.villages.iter().zip(&truth.villages) {
        for (p, q) in a.area.0[0].exterior().0.iter().zip(&b.area.0[0].exterior().0) {
            assert!((p.x - q.x).abs() < 1e-7 && (p.y - q.y).abs() < 1e-7, "{} {p:?} vs {q:?}", a.code);
        }
    }
    for (a, b) in fixed.cameras.iter().zip(&truth.cameras) {
        assert!((a.lon - b.lon).abs() < 1e-7 && (a.lat - b.lat).abs() < 1e-7, "{} {a:?} vs {b:?}", a.id);
    }
    assert!(fixed.topology_warnings().iter().all(|w| !w.contains("look GCJ-02")), "{:?}", fixed.topology_warnings());
    // the declared district in the cache is not used for the undeclared one (the key has datums)
    load(&dir, &cfg);
    undeclared();
    // an unknown layer name is refused
    let bad = AoiConfig { datums: [("rivers".to_string(), Datum::Gcj02)].into(), ..no_cache() };
    let e = Aoi::load_with(&dir, &firepoint::ingest::Limits::default(), &bad).err().expect("refused").to_string();
    assert!(e.contains("aoi.datums: `rivers` is not an AOI layer"), "{e}");
}

/// The sample district without its most central village: a hole that no village covers.
fn district_with_a_hole(sb: &Sandbox) -> (PathBuf, firepoint::aoi::Village) {
    let dir = sb.copy_aoi(false);
    let whole = load(&dir, &no_cache());
    let c = geo::Centroid::centroid(&whole.county.area).unwrap();
    let centre = |v: &firepoint::aoi::Village| geo::Centroid::centroid(&v.area).unwrap();
    let gone = whole
        .villages
        .iter()
        .min_by(|a, b| {
            let d = |v: &firepoint::aoi::Village| geo::Distance::distance(&geo::Euclidean, centre(v), c);
            d(a).total_cmp(&d(b))
        })
        .unwrap()
        .clone();
    let path = dir.join("villages.geojson");
    let mut layer = read_json(&path);
    layer["features"].as_array_mut().unwrap().retain(|f| f["properties"]["code"] != json!(gone.code));
    write_json(&path, &layer);
    (dir, gone)
}

#[test]
fn r22_a_point_in_a_gap_is_snapped_to_the_nearest_village_or_left_to_the_county_office() {
    let sb = Sandbox::new();
    let (dir, gone) = district_with_a_hole(&sb);
    let aoi = load(&dir, &no_cache());
    assert_eq!(aoi.snap_m, 100.0, "the documented default");
    // 20 m inside the hole from one of its corners: the nearest village takes it, and says so
    let corner = gone.area.0[0].exterior().0[0];
    let mid = geo::Centroid::centroid(&gone.area).unwrap();
    let (cx, cy) = aoi.projector.to_m(corner.x, corner.y);
    let (mx, my) = aoi.projector.to_m(mid.x(), mid.y());
    let k = 20.0 / (mx - cx).hypot(my - cy);
    let (lon, lat) = aoi.projector.to_deg(cx + k * (mx - cx), cy + k * (my - cy));
    assert!(aoi.place(lon, lat).village.is_none(), "the point lies in the hole");
    let snapped = aoi.snap(lon, lat);
    let (v, m) = (snapped.village.as_ref().expect("snapped"), snapped.snapped_m.unwrap());
    assert!(m > 0.0 && m <= 20.5, "{m} m");
    assert_eq!(snapped.township.as_ref().map(|t| &t.code), Some(&v.township));
    let note = firepoint::dispatch::placement_note(&snapped).unwrap();
    assert!(note.starts_with(&format!("snapped {m:.0} m to {} {}", v.code, v.name)), "{note}");
    // the hole's middle is farther than aoi.snap_m from every village: unassigned (未归属)
    let middle = aoi.snap(mid.x(), mid.y());
    assert!(aoi.contains(mid.x(), mid.y()));
    assert!(middle.village.is_none() && middle.township.is_none() && middle.snapped_m.is_none() && middle.unassigned);
    assert!(!aoi.snap(0.0, 0.0).unassigned, "outside the county is not the county office's");
    assert!(firepoint::dispatch::placement_note(&middle).unwrap().starts_with("未归属 (unassigned)"));
    // locate() snaps too
    let d = firepoint::domain::Detection::point(
        firepoint::domain::SourceKind::Satellite,
        lon,
        lat,
        "2026-10-10T05:00:00Z".parse().unwrap(),
        10.0,
    );
    let placed = firepoint::locate::locate(&aoi, vec![d], 500.0);
    assert_eq!(placed.inside[0].place.snapped_m, snapped.snapped_m);
    // `aoi check` names the gap: its area, a place in it and the villages around it
    let warnings = aoi.topology_warnings();
    let gap = warnings.iter().find(|w| w.starts_with("gap of ")).unwrap_or_else(|| panic!("{warnings:?}"));
    let want = geo::Area::unsigned_area(&aoi.projector.project(&gone.area));
    let said: f64 = gap["gap of ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!((said - want).abs() < 0.01 * want, "{gap} (the village removed had {want:.0} m²)");
    assert!(gap.contains(" m² at (") && gap.contains("in no village (beside "), "{gap}");
}

#[test]
fn r22_layers_that_would_silence_the_county_are_refused_naming_the_feature() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    let county = read_json(&dir.join("county.geojson"))["features"][0]["geometry"].clone();
    let heat = dir.join("heat_sources.geojson");
    let mut layer = read_json(&heat);
    let first = layer["features"][0]["properties"].clone();
    layer["features"][0]["properties"]["buffer_m"] = json!(1e12);
    layer["features"][1]["properties"]["buffer_m"] = json!(-5);
    // a source drawn over the whole county, no buffer: suppresses every fire
    layer["features"][2]["properties"].as_object_mut().unwrap().remove("buffer_m");
    layer["features"][2]["geometry"] = county;
    let third = layer["features"][2]["properties"].clone();
    write_json(&heat, &layer);
    let cams = dir.join("cameras.geojson");
    let mut cameras = read_json(&cams);
    cameras["features"][0]["properties"]["hfov_min_deg"] = json!(0);
    cameras["features"][1]["properties"]["range_m"] = json!(1e15);
    let cam0 = cameras["features"][0]["properties"].clone();
    write_json(&cams, &cameras);
    // and, in the same run, a missing field and a village naming no township
    let villages = dir.join("villages.geojson");
    let mut v = read_json(&villages);
    v["features"][3]["properties"].as_object_mut().unwrap().remove("grid_member");
    v["features"][4]["properties"]["township"] = json!("nowhere");
    let v3 = v["features"][3]["properties"].clone();
    write_json(&villages, &v);
    let e = Aoi::load_with(&dir, &firepoint::ingest::Limits::default(), &no_cache()).err().expect("refused");
    let e = e.to_string();
    let name = |p: &Value, id: &str| format!("feature {} {}", p[id].as_str().unwrap(), p["name"].as_str().unwrap());
    for want in [
        format!("{}, field `buffer_m`: 1000000000000 m: a buffer is 0 to 5000 m", name(&first, "id")),
        "field `buffer_m`: -5 m".to_string(),
        format!("{}, field `hfov_min_deg`: 0°", name(&cam0, "id")),
        "field `range_m`: 1000000000000000 m".to_string(),
        format!("{} has no value in field `grid_member", name(&v3, "code")),
        "name a township that is not in townships".to_string(),
    ] {
        assert!(e.contains(&want), "wanted `{want}` in one run's error:\n{e}");
    }
    // fix the values: the source over the county is still an error, named
    let mut layer = read_json(&heat);
    layer["features"][0]["properties"]["buffer_m"] = json!(500);
    layer["features"][1]["properties"]["buffer_m"] = json!(500);
    write_json(&heat, &layer);
    write_json(&cams, &read_json(&crate::common::repo_path("aoi/cameras.geojson")));
    write_json(&villages, &read_json(&crate::common::repo_path("aoi/villages.geojson")));
    let e = Aoi::load_with(&dir, &firepoint::ingest::Limits::default(), &no_cache()).err().expect("refused").to_string();
    let want = format!("{} {}", third["id"].as_str().unwrap(), third["name"].as_str().unwrap());
    assert!(e.contains("heat sources would suppress every fire on 100 % of the county") && e.contains(&want), "{e}");
}

#[test]
fn r22_a_field_mapping_for_an_absent_layer_is_not_blamed() {
    let sb = Sandbox::new();
    let dir = sb.copy_aoi(false);
    std::fs::remove_file(dir.join("cameras.geojson")).unwrap();
    let fields = [("cameras.range_m".to_string(), "射程".to_string())].into();
    let aoi = load(&dir, &AoiConfig { fields, ..no_cache() });
    assert!(aoi.cameras.is_empty());
    assert!(aoi.warnings.iter().any(|w| w.contains("optional layer `cameras` not found")), "{:?}", aoi.warnings);
}
