//! The satellite path on real data from ../shared/data/satellite (or $FIREPOINT_DATA/satellite):
//! GOES-17 ABI against the official FDC mask, the no-fire scene, and every real fire-point table.
//! Each test is ignored unless asked for (`--include-ignored`, as scripts/test.sh does when the
//! data is there): it cannot pass by not running.

mod common;

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
