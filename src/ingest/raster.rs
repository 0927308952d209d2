//! Brightness-temperature scenes read through GDAL: a georeferenced raster with a ~3.9 µm (MIR)
//! and a ~11 µm (TIR) band in kelvin, and the acquisition time in its metadata.
//!
//! Bands are found by their `WAVELENGTH_UM` metadata item or, failing that, by a description that
//! names the wavelength (`BT_3.9um`, `BT_11um`). Fill values and NaN become NaN. It owns reading
//! and checking the scene; the fire test itself lives in `detect::hotspot`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gdal::{Dataset, Metadata};

use super::Limits;
use crate::domain::{BtScene, FireCell, FireGrid};
use crate::grid::Georef;

#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("cannot open satellite raster {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("satellite raster {path} has no geotransform; is it georeferenced?")]
    NoGeoTransform { path: PathBuf },
    #[error("satellite raster {path} has no {band} band (tag it with WAVELENGTH_UM metadata or a description like BT_3.9um)")]
    MissingBand { path: PathBuf, band: &'static str },
    #[error("cannot read band {band} of satellite raster {path} (truncated or corrupt?)")]
    Read {
        path: PathBuf,
        band: usize,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("satellite raster {path}: {band} band is not brightness temperature in kelvin ({why})")]
    Units { path: PathBuf, band: &'static str, why: String },
    #[error("satellite raster {path} has more than limits.max_fire_pixels ({max}) fire pixels: not a fire product (one class everywhere?)")]
    TooManyFires { path: PathBuf, max: usize },
    #[error("satellite raster {path} is too large to read: {why}")]
    TooLarge { path: PathBuf, why: String },
    #[error("satellite raster {path} has no ACQUISITION_TIME metadata (ISO 8601, UTC)")]
    NoTime { path: PathBuf },
    #[error("satellite raster {path}: ACQUISITION_TIME `{value}`: {why}")]
    BadTime { path: PathBuf, value: String, why: String },
}

/// Which band carries `want_um` (±0.6 µm), by metadata or description.
fn find_band(ds: &Dataset, want_um: f64) -> Option<usize> {
    (1..=ds.raster_count()).find(|&i| {
        let Ok(band) = ds.rasterband(i) else { return false };
        if let Some(um) = band.metadata_item("WAVELENGTH_UM", "").and_then(|v| v.trim().parse::<f64>().ok()) {
            return (um - want_um).abs() <= 0.6;
        }
        let desc = band.description().unwrap_or_default().to_ascii_lowercase();
        let num: String =
            desc.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        num.parse::<f64>().is_ok_and(|um| (um - want_um).abs() <= 0.6 && desc.contains("um"))
    })
}

fn read_bt(ds: &Dataset, path: &Path, index: usize, name: &'static str) -> Result<Vec<f32>, RasterError> {
    let band = ds.rasterband(index).map_err(|source| RasterError::Read { path: path.into(), band: index, source })?;
    if let Some(units) = band.metadata_item("UNITS", "").or_else(|| Some(band.unit()).filter(|u| !u.is_empty())) {
        if !matches!(units.trim(), "K" | "kelvin" | "Kelvin") {
            return Err(RasterError::Units { path: path.into(), band: name, why: format!("units are `{units}`") });
        }
    }
    let mut data = super::read_band::<f32>(&band, ds.raster_size()).map_err(|source| RasterError::Read {
        path: path.into(),
        band: index,
        source,
    })?;
    let nodata = band.no_data_value();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for v in &mut data {
        if Some(*v as f64) == nodata || !v.is_finite() || *v <= 0.0 {
            *v = f32::NAN;
        } else {
            sum += *v as f64;
            n += 1;
        }
    }
    if n == 0 {
        return Err(RasterError::Units { path: path.into(), band: name, why: "every pixel is fill".into() });
    }
    let mean = sum / n as f64;
    if !(150.0..=400.0).contains(&mean) {
        return Err(RasterError::Units {
            path: path.into(),
            band: name,
            why: format!("mean value {mean:.1} is outside 150–400 K"),
        });
    }
    Ok(data)
}

/// MOD14 fire-mask classes: 7 low, 8 nominal, 9 high confidence fire.
pub fn mod14_confidence(code: i16) -> Option<f32> {
    match code {
        7 => Some(0.3),
        8 => Some(0.6),
        9 => Some(0.9),
        _ => None,
    }
}

fn band_named(ds: &Dataset, names: &[&str]) -> Option<usize> {
    (1..=ds.raster_count()).find(|&i| {
        ds.rasterband(i).ok().is_some_and(|b| {
            let desc = b.description().unwrap_or_default().to_ascii_lowercase().replace(['_', ' '], "");
            let content =
                b.metadata_item("CONTENT", "").unwrap_or_default().to_ascii_lowercase().replace(['_', ' '], "");
            names.iter().any(|n| desc == *n || content == *n)
        })
    })
}

/// Reads the georeference and time, each required.
fn georef(ds: &Dataset, path: &Path) -> Result<(Georef, DateTime<Utc>), RasterError> {
    let gt = ds.geo_transform().map_err(|_| RasterError::NoGeoTransform { path: path.into() })?;
    if gt == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0] {
        return Err(RasterError::NoGeoTransform { path: path.into() });
    }
    let raw_time = ds.metadata_item("ACQUISITION_TIME", "").ok_or(RasterError::NoTime { path: path.into() })?;
    let bad = |why: String| RasterError::BadTime { path: path.into(), value: crate::text::quote(&raw_time), why };
    let at = DateTime::parse_from_rfc3339(raw_time.trim())
        .map_err(|_| bad("not an ISO 8601 time".into()))
        .and_then(|t| crate::time::plausible(t.with_timezone(&Utc)).map_err(bad))?;
    let srs = ds.spatial_ref().ok().filter(|s| s.auth_code().ok() != Some(4326)).and_then(|s| s.to_wkt().ok());
    Ok((Georef { gt, srs_wkt: srs }, at))
}

fn sensor(ds: &Dataset) -> String {
    ds.metadata_item("SENSOR", "").unwrap_or_else(|| "unknown".into())
}

/// Opens a GeoTIFF and checks its declared size against `limits` before anything is read.
fn open(path: &Path, limits: &Limits) -> Result<Dataset, RasterError> {
    let ds = Dataset::open(path).map_err(|source| RasterError::Open { path: path.into(), source })?;
    let (w, h) = ds.raster_size();
    limits.check(w, h).map_err(|why| RasterError::TooLarge { path: path.into(), why })?;
    Ok(ds)
}

/// What a satellite GeoTIFF holds.
pub enum GeoTiff {
    FireMask(FireGrid),
    Scene(BtScene),
}

/// Reads a satellite GeoTIFF, opened once: a fire product if it has a fire-mask band, else a
/// brightness-temperature scene.
pub fn read_geotiff(path: &Path, limits: &Limits) -> Result<GeoTiff, RasterError> {
    let ds = open(path, limits)?;
    match fire_mask_from(&ds, path, limits)? {
        Some(grid) => Ok(GeoTiff::FireMask(grid)),
        None => bt_scene_from(&ds, path).map(GeoTiff::Scene),
    }
}

/// A GeoTIFF fire product, if `path` is one: a band described (or with `CONTENT` metadata)
/// `FireMask` holding MOD14 classes (7, 8, 9 are fires), and optionally an `FRP` band in MW.
/// `Ok(None)` means the file has no fire-mask band (read it as brightness temperatures).
pub fn read_fire_mask(path: &Path, limits: &Limits) -> Result<Option<FireGrid>, RasterError> {
    fire_mask_from(&open(path, limits)?, path, limits)
}

fn fire_mask_from(ds: &Dataset, path: &Path, limits: &Limits) -> Result<Option<FireGrid>, RasterError> {
    let Some(mask_band) = band_named(ds, &["firemask"]) else { return Ok(None) };
    let (georef, observed_at) = georef(ds, path)?;
    let (w, h) = ds.raster_size();
    let band = |i: usize| ds.rasterband(i).map_err(|source| RasterError::Read { path: path.into(), band: i, source });
    let mask = band(mask_band)?;
    let frp_band = band_named(ds, &["frp", "maxfrp"]);
    let frp = frp_band.map(band).transpose()?;
    // strip by strip: only the fire cells are kept, never a whole band
    let mut fires = Vec::new();
    let mut frp_strip = vec![0f64; 0];
    let mut failed = None;
    super::read_strips::<f64>(&mask, (w, h), |row0, strip| {
        if failed.is_some() || !strip.iter().any(|&m| mod14_confidence(m as i16).is_some()) {
            return;
        }
        if fires.len() > limits.max_fire_pixels {
            failed = Some(RasterError::TooManyFires { path: path.into(), max: limits.max_fire_pixels });
            return;
        }
        if let (Some(b), Some(index)) = (&frp, frp_band) {
            let rows = strip.len() / w;
            frp_strip.resize(strip.len(), 0.0);
            if let Err(source) =
                b.read_into_slice::<f64>((0, row0 as isize), (w, rows), (w, rows), &mut frp_strip, None)
            {
                failed = Some(RasterError::Read { path: path.into(), band: index, source });
                return;
            }
        }
        for (i, &m) in strip.iter().enumerate() {
            let code = m as i16;
            if let Some(confidence) = mod14_confidence(code) {
                let f = frp_strip.get(i).copied().filter(|f| frp.is_some() && f.is_finite()).unwrap_or(0.0);
                fires.push(FireCell { row: row0 + i / w, col: i % w, code, confidence, frp_mw: f.max(0.0) });
            }
        }
    })
    .map_err(|source| RasterError::Read { path: path.into(), band: mask_band, source })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Some(FireGrid { georef, observed_at, sensor: sensor(ds), product: "fire mask GeoTIFF", fires }))
}

/// Reads a brightness-temperature GeoTIFF scene.
pub fn read_bt_scene(path: &Path, limits: &Limits) -> Result<BtScene, RasterError> {
    bt_scene_from(&open(path, limits)?, path)
}

fn bt_scene_from(ds: &Dataset, path: &Path) -> Result<BtScene, RasterError> {
    let (georef, acquired_at) = georef(ds, path)?;
    let mir = find_band(ds, 3.9).ok_or(RasterError::MissingBand { path: path.into(), band: "3.9 µm (MIR)" })?;
    let tir = find_band(ds, 11.0).ok_or(RasterError::MissingBand { path: path.into(), band: "11 µm (TIR)" })?;
    let (width, height) = ds.raster_size();
    Ok(BtScene {
        path: path.into(),
        width,
        height,
        georef,
        t4: read_bt(ds, path, mir, "3.9 µm")?,
        t11: read_bt(ds, path, tir, "11 µm")?,
        t12: find_band(ds, 12.0).filter(|&b| b != tir).map(|b| read_bt(ds, path, b, "12 µm")).transpose()?,
        acquired_at,
        sensor: sensor(ds),
    })
}

#[cfg(test)]
mod scene_files {
    use super::*;
    use chrono::TimeZone;
    use gdal::raster::Buffer;

    /// A 20×20 GeoTIFF; `bands` = (wavelength metadata, units, value).
    fn tif(bands: &[(&str, &str, f32)], georef: bool, time: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scene.tif");
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver.create_with_band_type::<f32, _>(&path, 20, 20, bands.len()).unwrap();
        if georef {
            ds.set_geo_transform(&[115.0, 0.01, 0.0, 38.0, 0.0, -0.01]).unwrap();
        }
        if time {
            ds.set_metadata_item("ACQUISITION_TIME", "2026-06-10T05:30:00Z", "").unwrap();
        }
        for (i, (um, units, v)) in bands.iter().enumerate() {
            let mut b = ds.rasterband(i + 1).unwrap();
            b.set_metadata_item("WAVELENGTH_UM", um, "").unwrap();
            b.set_metadata_item("UNITS", units, "").unwrap();
            b.set_no_data_value(Some(-9999.0)).unwrap();
            b.write((0, 0), (20, 20), &mut Buffer::new((20, 20), vec![*v; 400])).unwrap();
        }
        drop(ds);
        (dir, path)
    }

    fn err(bands: &[(&str, &str, f32)], georef: bool, time: bool) -> String {
        let (_d, p) = tif(bands, georef, time);
        let e = read_bt_scene(&p, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains(p.to_str().unwrap()), "error must name the file: {e}");
        e
    }

    #[test]
    fn fire_mask_geotiff_gives_clustered_detections_with_frp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.tif");
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver.create_with_band_type::<f32, _>(&path, 20, 20, 2).unwrap();
        ds.set_geo_transform(&[115.0, 0.01, 0.0, 38.0, 0.0, -0.01]).unwrap();
        ds.set_metadata_item("ACQUISITION_TIME", "2026-06-10T05:30:00Z", "").unwrap();
        let mut mask = vec![5.0f32; 400];
        mask[5 * 20 + 5] = 9.0;
        mask[5 * 20 + 6] = 7.0; // same fire
        mask[15 * 20 + 15] = 8.0; // another
        let mut frp = vec![0.0f32; 400];
        frp[5 * 20 + 5] = 30.0;
        frp[5 * 20 + 6] = 10.0;
        for (i, (name, data)) in [("FireMask", mask), ("FRP", frp)].into_iter().enumerate() {
            let mut b = ds.rasterband(i + 1).unwrap();
            b.set_description(name).unwrap();
            b.write((0, 0), (20, 20), &mut Buffer::new((20, 20), data)).unwrap();
        }
        drop(ds);
        let grid = read_fire_mask(&path, &Limits::default()).unwrap().expect("a fire mask");
        let dets = crate::detect::fire_grid_detections(&grid);
        // every fire pixel is a fire point at its own centre; the first two are one fire
        assert_eq!(dets.len(), 3);
        assert_eq!(
            (dets[0].evidence["frp_mw"].as_f64(), dets[1].evidence["frp_mw"].as_f64()),
            (Some(30.0), Some(10.0))
        );
        assert_eq!((dets[0].evidence["fire"].as_u64(), dets[1].evidence["fire"].as_u64()), (Some(0), Some(0)));
        assert_eq!((dets[2].evidence["fire"].as_u64(), dets[0].evidence["fire_pixels"].as_u64()), (Some(1), Some(2)));
        assert_eq!(dets[0].confidence, 0.9);
        assert!((dets[0].lon - 115.055).abs() < 1e-9 && (dets[1].lon - 115.065).abs() < 1e-9, "{}", dets[0].lon);
        assert_eq!(dets[0].footprint.as_ref().map(Vec::len), Some(5), "its pixel polygon");
        let ring = dets[0].footprint.as_ref().unwrap();
        assert!((ring[1][0] - ring[0][0] - 0.01).abs() < 1e-9, "one pixel wide: {ring:?}");
        // a brightness-temperature scene is not a fire mask
        let (_d, p) = tif(&[("3.9", "K", 300.0), ("11", "K", 290.0)], true, true);
        assert!(read_fire_mask(&p, &Limits::default()).unwrap().is_none());
    }

    #[test]
    fn a_scene_across_the_terminator_uses_night_thresholds_on_its_night_side() {
        // lon -60..60 at the equator, 06:00 UTC: sunrise along 0° E, night to the west
        let (w, h) = (240, 20);
        let mut t4 = vec![300.0f32; w * h];
        let t11 = vec![295.0f32; w * h];
        // two pixels at 325 K with no valid neighbours: only the night absolute test (320 K) fires
        for &(r, c) in &[(10usize, 60usize), (10, 180)] {
            for dr in 0..3 {
                for dc in 0..3 {
                    t4[(r + dr - 1) * w + c + dc - 1] = f32::NAN;
                }
            }
            t4[r * w + c] = 325.0;
        }
        let scene = BtScene {
            path: "x".into(),
            width: w,
            height: h,
            georef: Georef { gt: [-60.0, 0.5, 0.0, 5.0, 0.0, -0.5], srs_wkt: None },
            t4,
            t11,
            t12: None,
            acquired_at: chrono::Utc.with_ymd_and_hms(2026, 3, 20, 6, 0, 0).unwrap(),
            sensor: "test".into(),
        };
        let light = scene.daylight();
        assert!(matches!(light, crate::grid::Daylight::Grid { .. }));
        assert!(!light.is_day(10, 60) && light.is_day(10, 180));
        let p = crate::detect::hotspot::HotspotParams { max_half_window: 1, ..Default::default() };
        let fires = crate::detect::hotspot::detect_with(
            &crate::detect::hotspot::Bands::of(&scene),
            &|r, c| light.is_day(r, c),
            &p,
        );
        assert_eq!(fires.iter().map(|f| f.col).collect::<Vec<_>>(), vec![60], "only the night-side pixel");
    }

    #[test]
    fn projected_scene_gives_lon_lat_in_the_right_order() {
        // a scene in UTM zone 50N (EPSG:32650) over Hebei; pixel centres must come back as lon, lat
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("utm.tif");
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver.create_with_band_type::<f32, _>(&path, 10, 10, 2).unwrap();
        ds.set_geo_transform(&[400_000.0, 1000.0, 0.0, 4_170_000.0, 0.0, -1000.0]).unwrap();
        ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32650).unwrap()).unwrap();
        ds.set_metadata_item("ACQUISITION_TIME", "2026-06-10T05:30:00Z", "").unwrap();
        for (i, um) in ["3.9", "11"].iter().enumerate() {
            let mut b = ds.rasterband(i + 1).unwrap();
            b.set_metadata_item("WAVELENGTH_UM", um, "").unwrap();
            b.write((0, 0), (10, 10), &mut Buffer::new((10, 10), vec![300.0f32; 100])).unwrap();
        }
        drop(ds);
        let scene = read_bt_scene(&path, &Limits::default()).unwrap();
        assert!(scene.georef.srs_wkt.is_some());
        let (lon, lat) = scene.pixel_center(5, 5).unwrap();
        // 405.5 km east, 4164.5 km north in zone 50 (central meridian 117° E): about 115.9° E, 37.6° N
        assert!((115.5..116.5).contains(&lon) && (37.3..37.9).contains(&lat), "{lon} {lat}");
        // and back: the inverse transform lands on the pixel centre
        use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
        let mut wgs = SpatialRef::from_epsg(4326).unwrap();
        wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let utm = SpatialRef::from_epsg(32650).unwrap();
        let back = CoordTransform::new(&wgs, &utm).unwrap();
        let (mut x, mut y, mut z) = ([lon], [lat], [0.0]);
        back.transform_coords(&mut x, &mut y, &mut z).unwrap();
        assert!((x[0] - 405_500.0).abs() < 0.01 && (y[0] - 4_164_500.0).abs() < 0.01, "{x:?} {y:?}");
    }

    #[test]
    fn missing_tir_band() {
        assert!(err(&[("3.9", "K", 300.0)], true, true).contains("11 µm"));
    }

    #[test]
    fn celsius_is_refused_by_units_and_by_value() {
        assert!(err(&[("3.9", "K", 300.0), ("11", "C", 20.0)], true, true).contains("units are `C`"));
        assert!(err(&[("3.9", "K", 300.0), ("11", "K", 20.0)], true, true).contains("outside 150–400 K"));
    }

    #[test]
    fn all_fill_band() {
        assert!(err(&[("3.9", "K", -9999.0), ("11", "K", 290.0)], true, true).contains("every pixel is fill"));
    }

    #[test]
    fn unreferenced_geotiff() {
        assert!(err(&[("3.9", "K", 300.0), ("11", "K", 290.0)], false, true).contains("georeferenced"));
    }

    #[test]
    fn no_acquisition_time() {
        assert!(err(&[("3.9", "K", 300.0), ("11", "K", 290.0)], true, false).contains("ACQUISITION_TIME"));
    }

    #[test]
    fn nan_pixels_become_invalid_not_fires() {
        let (_d, p) = tif(&[("3.9", "K", f32::NAN), ("11", "K", 290.0)], true, true);
        // a band that is all NaN is as bad as all fill
        assert!(read_bt_scene(&p, &Limits::default()).is_err());
    }
}
