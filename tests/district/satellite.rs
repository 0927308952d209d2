//! The satellite path on real data from ../shared/data/satellite (or $FIREPOINT_DATA/satellite):
//! GOES-17 ABI against the official FDC mask, the no-fire scene, and every real fire-point table.
//! Each test is ignored unless asked for (`--include-ignored`, as scripts/test.sh does when the
//! data is there): it cannot pass by not running.

use crate::common;

use std::path::{Path, PathBuf};

use firepoint::config::Config;
use firepoint::ingest::{goes, tables};

fn sat() -> PathBuf {
    common::shared_data("satellite")
}

fn find(dir: &Path, needle: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in {}", dir.display()))
}

fn goes_dir(sat: &Path) -> PathBuf {
    sat.join("goes-abi-joyprojects")
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn goes17_kincade_scene_matches_the_official_fdc_mask() {
    let sat = sat();
    let g = goes_dir(&sat);
    let scene =
        goes::read_abi_scene(&find(&g.join("l1b_radm_g17_2019300_2000_wildfire"), "M6C07"), &Default::default())
            .unwrap();
    let fdc = goes::read_fdc(&find(&g.join("l2_fdcc"), "FDCC-M6_G17"), &Default::default()).unwrap();
    assert_eq!((scene.width, scene.height), (500, 500));
    assert!(scene.is_daytime(), "20:00Z over California is day");
    // the production path (per-pixel day/night, the ABI preset, sun glint), as `firepoint run`
    // and `firepoint validate goes` use it: the README's figures are what users get
    let (ours, glint) = firepoint::detect::fire_pixels(&scene, &Config::default().hotspot);
    let cmp = firepoint::validate::compare(&scene, &ours, &fdc, 230, 1690);
    assert_eq!((cmp.ours, cmp.found_3x3, cmp.extra_3x3, cmp.hits_exact, glint), (22, 27, 0, 22, 0), "README figures");
    eprintln!("GOES-17 2019-10-27 20:00Z vs FDC: {cmp:?}");
    assert_eq!(cmp.official, 29, "the FDC has 29 fire pixels in the mesoscale window (SOURCES.txt)");
    assert!(cmp.found_fraction() >= 0.90, "found {:.3} of official fire pixels within 3x3", cmp.found_fraction());
    assert!(cmp.extra_fraction() <= 0.10, "{:.3} of our pixels have no official fire within 3x3", cmp.extra_fraction());
    let ratio = cmp.frp_ratio().expect("some exact hits carry FDC Power");
    assert!((0.3..3.0).contains(&ratio), "FRP ours/FDC {ratio:.2} is off by more than a factor of 3");
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn goes17_no_fire_night_scene_has_zero_detections() {
    let sat = sat();
    let scene = goes::read_abi_scene(
        &find(&goes_dir(&sat).join("l1b_radm_g17_2019335_1027_nofire"), "M6C07"),
        &Default::default(),
    )
    .unwrap();
    assert!(!scene.is_daytime(), "10:27Z over California is night");
    assert!(firepoint::detect::fire_pixels(&scene, &Config::default().hotspot).0.is_empty());
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn fdc_product_gives_one_fire_point_per_fire_pixel_in_lon_lat() {
    let sat = sat();
    let fdc = goes::read_fdc(&find(&goes_dir(&sat).join("l2_fdcc"), "FDCC-M6_G17"), &Default::default()).unwrap();
    let fire_pixels = fdc.mask.data.iter().filter(|&&c| goes::is_fire_code(c)).count();
    assert_eq!(fire_pixels, 43, "SOURCES.txt: 43 fire pixels in the G17 CONUS FDC");
    let dets = firepoint::detect::fdc_detections(&fdc);
    // every fire pixel is a fire point (火点) of its own, with its footprint
    assert_eq!(dets.len(), 43);
    assert!(dets.iter().all(|d| d.footprint.as_ref().is_some_and(|r| r.len() == 5)));
    let fires: std::collections::HashSet<u64> = dets.iter().map(|d| d.evidence["fire"].as_u64().unwrap()).collect();
    assert!(fires.len() < 43, "adjacent pixels share their fire: {} fires", fires.len());
    // the Kincade fire, Sonoma County: ~38.7 N, 122.7 W
    assert!(dets.iter().any(|d| (d.lat - 38.7).abs() < 0.2 && (d.lon + 122.75).abs() < 0.2), "{dets:#?}");
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn truncated_netcdf_and_missing_band_name_the_file() {
    let sat = sat();
    let src = find(&goes_dir(&sat).join("l1b_radm_g17_2019300_2000_wildfire"), "M6C07");
    let dir = tempfile::tempdir().unwrap();
    // channel 7 alone: the 11.2 µm file is missing
    let alone = dir.path().join(src.file_name().unwrap());
    std::fs::copy(&src, &alone).unwrap();
    let err = goes::read_abi_scene(&alone, &Default::default()).unwrap_err().to_string();
    assert!(err.contains(alone.to_str().unwrap()) && err.contains("11.2"), "{err}");
    // truncated to a third
    let bytes = std::fs::read(&src).unwrap();
    std::fs::write(&alone, &bytes[..bytes.len() / 3]).unwrap();
    let err = format!("{:#}", anyhow::Error::from(goes::read_l1b_bt(&alone, &Default::default()).unwrap_err()));
    assert!(err.contains(alone.to_str().unwrap()), "{err}");
}

fn table(sat: &Path, folder: &str, needle: &str) -> tables::Table {
    tables::read_table(&find(&sat.join(folder), needle)).unwrap()
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn every_row_of_the_real_fire_point_tables_parses() {
    let sat = sat();
    for (folder, needle, layout, rows) in [
        ("firms-modis-global-24h", "2023-08-01", tables::Layout::FirmsModis, 36_555),
        ("firms-modis-global-24h", "2025-04-22", tables::Layout::FirmsModis, 13_069),
        ("himawari-l2wlf-odin", "H09_", tables::Layout::HimawariWlf, 212),
        ("fy-straw-burning-secmep", ".csv", tables::Layout::Mee, 2_583),
    ] {
        let t = table(&sat, folder, needle);
        assert_eq!(t.layout, layout, "{needle}");
        assert!(t.bad_rows.is_empty(), "{needle}: {:?}", &t.bad_rows[..t.bad_rows.len().min(5)]);
        assert_eq!(t.detections.len(), rows, "{needle}");
    }
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn table_times_land_on_the_right_beijing_reporting_day() {
    let sat = sat();
    let t = table(&sat, "firms-modis-global-24h", "2023-08-01");
    let mut next_day = 0;
    for d in &t.detections {
        let utc_day = d.observed_at.date_naive();
        let bj = firepoint::time::reporting_day(d.observed_at);
        let after_1600 = d.observed_at.format("%H%M").to_string().as_str() >= "1600";
        assert_eq!(bj, if after_1600 { utc_day.succ_opt().unwrap() } else { utc_day }, "{:?}", d.observed_at);
        next_day += after_1600 as usize;
    }
    assert!(next_day > 0, "the file has passes after 16:00 UTC");
    // Himawari 19:02 UTC on 2025-12-09 is 03:02 on the 10th in Beijing
    let h = table(&sat, "himawari-l2wlf-odin", "H09_");
    assert!(h.detections.iter().all(|d| firepoint::time::reporting_day(d.observed_at).to_string() == "2025-12-10"));
    // MEE dates are Beijing dates already: the first row is 2017-01-03, every row at 12:00 Beijing
    let m = table(&sat, "fy-straw-burning-secmep", ".csv");
    assert_eq!(firepoint::time::reporting_day(m.detections[0].observed_at).to_string(), "2017-01-03");
    let bj = firepoint::time::beijing();
    assert!(m.detections.iter().all(|d| d.observed_at.with_timezone(&bj).format("%H:%M").to_string() == "12:00"));
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn rows_outside_the_district_are_dropped_and_counted() {
    let sat = sat();
    let aoi = firepoint::aoi::Aoi::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).unwrap();
    let t = table(&sat, "firms-modis-global-24h", "2025-04-22");
    let n = t.detections.len();
    let placed = firepoint::locate::locate(&aoi, t.detections, 500.0);
    assert_eq!(placed.inside.len() + placed.outside, n);
    assert!(placed.outside > 13_000);
}

/// A county of `half_deg` around (lon, lat) in `dir`: two townships (west, east) and villages
/// (grid cells) of 0.05° — what a county office would hand over, built for a real scene.
fn county_around(dir: &Path, lon: f64, lat: f64, half_deg: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let rect = |w: f64, s: f64, e: f64, n: f64| serde_json::json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]});
    let layer = |features: Vec<serde_json::Value>| {
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
    };
    let feature = |props: serde_json::Value, geometry: serde_json::Value| serde_json::json!({"type": "Feature", "properties": props, "geometry": geometry});
    let (w, s, e, n) = (lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg);
    std::fs::write(
        dir.join("county.geojson"),
        layer(vec![feature(serde_json::json!({"code": "069097", "name": "test county"}), rect(w, s, e, n))]),
    )
    .unwrap();
    std::fs::write(
        dir.join("townships.geojson"),
        layer(vec![
            feature(serde_json::json!({"code": "06909701", "name": "west", "team": "west team"}), rect(w, s, lon, n)),
            feature(serde_json::json!({"code": "06909702", "name": "east", "team": "east team"}), rect(lon, s, e, n)),
        ]),
    )
    .unwrap();
    let cells = (2.0 * half_deg / 0.05).round() as usize;
    let mut villages = Vec::new();
    for i in 0..cells {
        for j in 0..cells {
            let (x0, y0) = (w + i as f64 * 0.05, s + j as f64 * 0.05);
            let town = if x0 + 0.025 < lon { "06909701" } else { "06909702" };
            let code = format!("{town}{i:02}{j:02}");
            villages.push(feature(
                serde_json::json!({"code": code, "name": code, "township": town, "grid_id": format!("G-{i}-{j}"), "grid_member": "member"}),
                rect(x0, y0, x0 + 0.05, y0 + 0.05),
            ));
        }
    }
    std::fs::write(dir.join("villages.geojson"), layer(villages)).unwrap();
}

/// (lon, lat) of every satellite detection the store holds with a ticket.
fn stored_fire_points(store: &Path) -> Vec<(f64, f64)> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt =
        conn.prepare("SELECT lon, lat FROM detections WHERE source = 'satellite' AND ticket_id IS NOT NULL").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn r8_every_official_fire_pixel_of_the_kincade_scene_has_a_stored_fire_point_nearby() {
    let sat = sat();
    let g = goes_dir(&sat);
    let l1b = find(&g.join("l1b_radm_g17_2019300_2000_wildfire"), "M6C07");
    let fdc = goes::read_fdc(&find(&g.join("l2_fdcc"), "FDCC-M6_G17"), &Default::default()).unwrap();
    let sb = common::Sandbox::new();
    let aoi = sb.path("kincade");
    county_around(&aoi, -122.75, 38.70, 1.0);
    let with_aoi = format!("paths.aoi={:?}", aoi.to_str().unwrap());
    let out = sb.cmd().args(["--set", &with_aoi, "pass"]).arg(&l1b).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ours = stored_fire_points(&sb.path("work/firepoint.sqlite"));
    // the official fire pixels inside the county
    let inside = |p: &(f64, f64)| (p.0 + 122.75).abs() < 1.0 && (p.1 - 38.70).abs() < 1.0;
    let official: Vec<(f64, f64)> =
        firepoint::detect::fdc_detections(&fdc).iter().map(|d| (d.lon, d.lat)).filter(inside).collect();
    assert!(official.len() >= 20, "the Kincade fire's FDC pixels: {}", official.len());
    let near = |p: &(f64, f64), set: &[(f64, f64)]| set.iter().any(|q| common::metres(*p, *q) <= 3000.0);
    let found = official.iter().filter(|p| near(p, &ours)).count();
    let extra = ours.iter().filter(|p| !near(p, &official)).count();
    eprintln!(
        "Kincade from the store: {} official, {} found within 3 km; {} ours, {} without an official pixel within 3 km",
        official.len(),
        found,
        ours.len(),
        extra
    );
    assert!(found as f64 >= 0.9 * official.len() as f64, "found {found} of {}", official.len());
    assert!(extra as f64 <= 0.1 * ours.len() as f64, "{extra} of {} ours are extra", ours.len());
    // every stored point is its own pixel, placed in its own grid cell
    let tickets = sb.tickets();
    assert!(tickets.len() > 1, "a fire over ~20 km reaches several grid cells: {}", tickets.len());
    assert!(
        tickets.iter().all(|t| t["township_code"].as_str().unwrap().starts_with("069097")),
        "codes keep their zero"
    );
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn r8_the_no_fire_scene_stores_no_fire_point() {
    let sat = sat();
    let l1b = find(&goes_dir(&sat).join("l1b_radm_g17_2019335_1027_nofire"), "M6C07");
    let scene = goes::read_abi_scene(&l1b, &Default::default()).unwrap();
    let (lon, lat) = scene.pixel_center(250, 250).expect("the window's centre is on the Earth");
    let sb = common::Sandbox::new();
    let aoi = sb.path("county");
    county_around(&aoi, lon, lat, 2.0);
    let with_aoi = format!("paths.aoi={:?}", aoi.to_str().unwrap());
    let out = sb.cmd().args(["--set", &with_aoi, "pass"]).arg(&l1b).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stored_fire_points(&sb.path("work/firepoint.sqlite")).is_empty());
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let done: i64 = conn.query_row("SELECT count(*) FROM inputs WHERE status = 'done'", [], |r| r.get(0)).unwrap();
    assert_eq!(done, 1, "the scene was read and recorded");
}
