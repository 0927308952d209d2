//! Detect: finds fires in one input at a time and says where they are in lon/lat.
//!
//! [`hotspot`] tests satellite pixels; [`glint`] rejects sun glint; [`smoke`] scores camera
//! frames with the ONNX model and [`frames`] turns flagged frames into sightings on the ground;
//! [`drone`] does the same for drone photos with the same model and sessions.
//! This module reads an input through `ingest` and returns its [`Detection`]s: one fire point
//! (火点) per fire pixel of a scene or product, each with its footprint (the pixels of one
//! 8-connected cluster share `evidence.fire`), table rows one each. Bad inputs come back as a typed [`InputError`] naming the file. It
//! knows nothing of villages, heat sources or tickets.

pub mod drone;
pub mod eval;
pub mod frames;
pub mod glint;
pub mod hotspot;
pub mod sequences;
pub mod smoke;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::domain::{BtScene, Detection, FireCell, FireGrid, SourceKind};
use crate::grid::Projector;
use crate::ingest::{frame, goes, raster, tables, InputKind, Limits};

/// Why one input could not be used. Each variant names the file; the batch turns it into text
/// once, for stderr and the quarantine note.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Raster(#[from] raster::RasterError),
    #[error(transparent)]
    Goes(#[from] goes::GoesError),
    #[error(transparent)]
    Table(#[from] tables::TableError),
    #[error(transparent)]
    Weather(#[from] crate::ingest::weather::WeatherError),
    #[error(transparent)]
    Frame(#[from] frame::FrameError),
    #[error(transparent)]
    Smoke(#[from] smoke::SmokeError),
    #[error(transparent)]
    Drone(#[from] crate::ingest::drone::DroneError),
    #[error("drone photo {path}: smoke seen (score {score:.2}) but it cannot be placed on the ground")]
    DronePlace {
        path: PathBuf,
        score: f32,
        #[source]
        source: crate::locate::drone::PlaceError,
    },
    #[error("drone photo {path} cannot be placed")]
    DroneLens {
        path: PathBuf,
        #[source]
        source: crate::locate::drone::PlaceError,
    },
    #[error("camera frame {path}: camera `{camera}` is not in the AOI's cameras layer")]
    UnknownCamera { path: PathBuf, camera: String },
    #[error("{path}: not a GOES ABI product name (OR_ABI-L1b-Rad…C07… or OR_ABI-L2-FDC…)")]
    NotAbi { path: PathBuf },
    #[error("cannot read input {path}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("input {path} is {what}")]
    NotRegular { path: PathBuf, what: String },
    #[error("{path}: a detection's {why}")]
    ImpossibleValue { path: PathBuf, why: String },
    #[error("{path}: {count} fire pixels is over limits.max_fire_pixels ({max}): not a fire scene (a fill value?)")]
    TooManyFires { path: PathBuf, count: usize, max: usize },
    #[error("input {path} changed while it was read (still being written?); it is tried again next batch")]
    StillWriting { path: PathBuf },
    #[error("camera frame {path}: its pose sidecar {sidecar} has not arrived yet; it is tried again next batch")]
    SidecarPending { path: PathBuf, sidecar: PathBuf },
    #[error("input {path} is empty (0 bytes)")]
    EmptyFile { path: PathBuf },
    #[error("GOES scene {path}: a channel of the same scan has not arrived yet; it is tried again next batch")]
    CompanionPending { path: PathBuf },
    #[error("{path}: not a satellite scene, fire product or fire-point table")]
    NotSatellite { path: PathBuf },
}

impl InputError {
    /// A file still being written, or a frame whose sidecar is still on its way, is not bad: it
    /// is left in place and tried again next batch.
    pub fn is_retry(&self) -> bool {
        matches!(
            self,
            InputError::StillWriting { .. } | InputError::SidecarPending { .. } | InputError::CompanionPending { .. }
        )
    }
}

/// What one input gave: its detections, and the parts that could not be read (table rows).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Detected {
    pub detections: Vec<Detection>,
    pub warnings: Vec<String>,
    /// For a camera frame: what it showed, flagged or not (confirmation counts both).
    pub frame: Option<crate::domain::FrameObservation>,
    /// Why an input that was read was not looked at (a night infrared frame), kept in the store.
    pub note: Option<String>,
    /// For a rain forecast: its rows (it has no detections).
    #[serde(default)]
    pub forecasts: Vec<crate::burn::Forecast>,
    /// For a frame a view model scored: what the recorder judges against the view's memory.
    #[serde(default)]
    pub scored: Option<frames::ScoredFrame>,
}

impl From<Vec<Detection>> for Detected {
    fn from(detections: Vec<Detection>) -> Self {
        Detected { detections, ..Default::default() }
    }
}

/// The configuration the satellite path is run with.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub hotspot: &'a hotspot::HotspotConfig,
    pub limits: &'a Limits,
    /// How long after it was written a scene waits for a companion file (GOES channel 14) before
    /// it is refused.
    pub companion_wait: std::time::Duration,
}

/// Detections of one satellite scene, product or table (frames go through [`frames`]).
pub fn detect_file(kind: InputKind, path: &Path, settings: Settings) -> Result<Detected, InputError> {
    match kind {
        InputKind::Table => detect_table(path),
        InputKind::Satellite => detect_scene(path, settings),
        // frames and photos go through `frames::FrameDetector`; forecasts are read, not detected
        InputKind::Frame | InputKind::Drone | InputKind::Weather => Err(InputError::NotSatellite { path: path.into() }),
    }
}

fn detect_table(path: &Path) -> Result<Detected, InputError> {
    let table = tables::read_table(path)?;
    let warnings = table
        .bad_rows
        .iter()
        .map(|(line, why)| format!("{} line {line}: {why} (row skipped)", path.display()))
        .collect();
    Ok(Detected { detections: table.detections, warnings, ..Default::default() })
}

fn detect_scene(path: &Path, settings: Settings) -> Result<Detected, InputError> {
    use crate::ingest::Product;
    let max = settings.limits.max_fire_pixels;
    let too_many = |count| InputError::TooManyFires { path: path.into(), count, max };
    let scene = match Product::of(path) {
        Some(Product::AbiFireProduct(_)) => {
            let fdc = goes::read_fdc(path, settings.limits)?;
            let count = fdc.mask.data.iter().filter(|&&c| goes::is_fire_code(c)).count();
            if count > max {
                return Err(too_many(count));
            }
            return Ok(fdc_detections(&fdc).into());
        }
        Some(Product::AbiScene(_) | Product::AbiCompanion(_)) => match goes::read_abi_scene(path, settings.limits) {
            Err(goes::GoesError::MissingBand { .. }) if young(path, settings.companion_wait) => {
                return Err(InputError::CompanionPending { path: path.into() })
            }
            other => other?,
        },
        Some(Product::OtherNetcdf) => return Err(InputError::NotAbi { path: path.into() }),
        _ => match raster::read_geotiff(path, settings.limits)? {
            raster::GeoTiff::FireMask(grid) => return Ok(fire_grid_detections(&grid).into()),
            raster::GeoTiff::Scene(scene) => scene,
        },
    };
    // one PROJ transform for the scene: daylight, glint and the clusters' places all use it
    let to_ll = scene.georef.to_lonlat();
    let (fires, glint) = fire_pixels_with(&scene, &to_ll, settings.hotspot, max).map_err(too_many)?;
    tracing::info!(file = %path.display(), fire_pixels = fires.len(), sun_glint_rejected = glint, "satellite scene tested");
    Ok(scene_detections(&scene, &to_ll, &fires).into())
}

/// Whether `path` was written less than `wait` ago (an upload whose companions may follow).
pub fn young(path: &Path, wait: std::time::Duration) -> bool {
    let modified = std::fs::metadata(path).and_then(|m| m.modified());
    modified.is_ok_and(|t| t.elapsed().unwrap_or_default() < wait)
}

/// The production fire test of a scene: day or night thresholds per pixel, the scene sensor's
/// preset, then sun-glint rejection. Returns the fire pixels and how many glint removed.
pub fn fire_pixels(scene: &BtScene, presets: &hotspot::HotspotConfig) -> (Vec<hotspot::FirePixel>, usize) {
    fire_pixels_with(scene, &scene.georef.to_lonlat(), presets, usize::MAX - 1).expect("no limit")
}

/// [`fire_pixels`] with the scene's transform built, refusing a scene with more than `max`
/// fire pixels (`Err(count)`).
pub fn fire_pixels_with(
    scene: &BtScene,
    to_ll: &crate::grid::ToLonLat,
    presets: &hotspot::HotspotConfig,
    max: usize,
) -> Result<(Vec<hotspot::FirePixel>, usize), usize> {
    let daylight = crate::grid::Daylight::of_grid(to_ll, scene.width, scene.height, scene.acquired_at);
    let bands = hotspot::Bands::of(scene);
    let preset = presets.for_sensor(&scene.sensor);
    let mut fires = hotspot::detect_at_most(&bands, &|r, c| daylight.is_day(r, c), preset, max)?;
    let glint = glint::reject(scene, to_ll, &mut fires);
    Ok((fires, glint))
}

/// One fire pixel as a point on the ground: which pixel of the input, its fire (cluster) and the
/// cluster's size, its centre, its size on the ground (m) and its footprint.
struct PixelPoint {
    index: usize,
    fire: usize,
    fire_pixels: usize,
    centre: (f64, f64),
    size_m: (f64, f64),
    footprint: Option<Vec<[f64; 2]>>,
}

/// Every fire pixel of `fires` as a [`PixelPoint`], cluster by cluster. A pixel's size comes from
/// its right and lower neighbours' centres (its left and upper ones at the edge of a
/// geostationary disk); a pixel whose centre is off the Earth is left out and counted in the log.
fn pixel_points(fires: &[impl Cell], to_ll: &crate::grid::ToLonLat) -> Vec<PixelPoint> {
    let mut out = Vec::with_capacity(fires.len());
    let mut off_earth = 0;
    for (fire, members) in clusters(fires).into_iter().enumerate() {
        let cells: Vec<(usize, usize)> = members
            .iter()
            .flat_map(|&i| {
                let (r, c) = fires[i].cell();
                [(r, c), (r, c + 1), (r + 1, c), (r, c.saturating_sub(1)), (r.saturating_sub(1), c)]
            })
            .collect();
        let ll = to_ll.centres(&cells);
        for (k, &i) in members.iter().enumerate() {
            let (r, c) = fires[i].cell();
            let at = |j: usize| ll[5 * k + j];
            let Some(centre) = at(0) else {
                off_earth += 1;
                continue;
            };
            let proj = Projector::new(centre.0, centre.1);
            let size = |near: Option<(f64, f64)>, far: Option<(f64, f64)>| {
                near.or(far).map(|p| proj.distance_m(centre, p)).filter(|d| *d > 0.0)
            };
            let (Some(w), Some(h)) = (size(at(1), at(3)), size(at(2), at(4))) else {
                off_earth += 1;
                continue;
            };
            out.push(PixelPoint {
                index: i,
                fire,
                fire_pixels: members.len(),
                centre,
                size_m: (w, h),
                footprint: to_ll.pixel_ring(&[r], &[c]),
            });
        }
    }
    if off_earth > 0 {
        tracing::warn!("{off_earth} fire pixel(s) left out: not placeable on the Earth");
    }
    out
}

/// Fire points (火点) from a scene's fire pixels: every fire pixel is one detection at its own
/// centre, with its footprint (pixel polygon), its FRP, confidence and the scene time, so that
/// each is placed in its own village and counted as the reports count fire points. Pixels of one
/// 8-connected cluster share `evidence.fire` (the cluster's number in the scene) and carry the
/// cluster's size in `evidence.fire_pixels`.
pub fn scene_detections(
    scene: &BtScene,
    to_ll: &crate::grid::ToLonLat,
    fires: &[hotspot::FirePixel],
) -> Vec<Detection> {
    let band = hotspot::MirBand::of(&scene.sensor);
    pixel_points(fires, to_ll)
        .into_iter()
        .map(|pt| {
            let p = &fires[pt.index];
            let (px_w, px_h) = pt.size_m;
            let frp = hotspot::frp_mw(p, px_w * px_h, band);
            Detection {
                source: SourceKind::Satellite,
                sensor: scene.sensor.clone(),
                observed_at: scene.acquired_at,
                lon: pt.centre.0,
                lat: pt.centre.1,
                radius_m: 0.5 * px_w.hypot(px_h),
                footprint: pt.footprint,
                confidence: p.confidence,
                evidence: serde_json::json!({
                    "pixels": 1, "fire": pt.fire, "fire_pixels": pt.fire_pixels, "t4_k": p.t4,
                    "frp_mw": (frp * 100.0).round() / 100.0, "row": p.row, "col": p.col,
                    "pixel_m": [px_w.round(), px_h.round()],
                }),
            }
        })
        .collect()
}

impl Cell for FireCell {
    fn cell(&self) -> (usize, usize) {
        (self.row, self.col)
    }
}

/// Fire points from a fire product: every fire pixel one detection at its centre with its
/// footprint, FRP and confidence class; pixels of one 8-connected cluster share `evidence.fire`.
pub fn fire_grid_detections(grid: &FireGrid) -> Vec<Detection> {
    let to_ll = grid.georef.to_lonlat();
    pixel_points(&grid.fires, &to_ll)
        .into_iter()
        .map(|pt| {
            let p = &grid.fires[pt.index];
            let (px_w, px_h) = pt.size_m;
            Detection {
                source: SourceKind::Satellite,
                sensor: grid.sensor.clone(),
                observed_at: grid.observed_at,
                lon: pt.centre.0,
                lat: pt.centre.1,
                radius_m: 0.5 * px_w.hypot(px_h),
                footprint: pt.footprint,
                confidence: p.confidence,
                evidence: serde_json::json!({
                    "product": grid.product, "pixels": 1, "fire": pt.fire, "fire_pixels": pt.fire_pixels, "code": p.code,
                    "frp_mw": (p.frp_mw * 100.0).round() / 100.0, "row": p.row, "col": p.col,
                }),
            }
        })
        .collect()
}

/// Detections from a GOES FDC product (fire mask codes 10–15, 30–35; Power as FRP).
pub fn fdc_detections(fdc: &goes::Fdc) -> Vec<Detection> {
    use goes::{fire_code_confidence, is_fire_code};
    let m = &fdc.mask;
    let fires = (0..m.data.len())
        .filter(|&i| is_fire_code(m.data[i]))
        .map(|i| FireCell {
            row: i / m.width,
            col: i % m.width,
            code: m.data[i],
            confidence: fire_code_confidence(m.data[i]),
            frp_mw: fdc.power[i] as f64,
        })
        .collect();
    fire_grid_detections(&FireGrid {
        georef: crate::grid::Georef { gt: m.gt, srs_wkt: Some(m.srs_wkt.clone()) },
        observed_at: m.start,
        sensor: format!("ABI-FDC-{}", fdc.platform),
        product: "GOES FDC",
        fires,
    })
}

/// Index lists of 8-connected clusters of cells, ordered by their first cell (row-major).
fn clusters(fires: &[impl Cell]) -> Vec<Vec<usize>> {
    let at: HashMap<(usize, usize), usize> = fires.iter().enumerate().map(|(i, f)| (f.cell(), i)).collect();
    let mut seen = vec![false; fires.len()];
    let mut out = Vec::new();
    for start in 0..fires.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut members = Vec::new();
        while let Some(i) = stack.pop() {
            members.push(i);
            let (r, c) = (fires[i].cell().0 as i64, fires[i].cell().1 as i64);
            for (dr, dc) in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)] {
                let (nr, nc) = (r + dr, c + dc);
                if nr < 0 || nc < 0 {
                    continue;
                }
                if let Some(&j) = at.get(&(nr as usize, nc as usize)) {
                    if !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        members.sort_unstable();
        out.push(members);
    }
    out
}

/// Something on a (row, col) grid.
trait Cell {
    fn cell(&self) -> (usize, usize);
}

impl Cell for hotspot::FirePixel {
    fn cell(&self) -> (usize, usize) {
        (self.row, self.col)
    }
}

impl Cell for (usize, usize) {
    fn cell(&self) -> (usize, usize) {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(row: usize, col: usize) -> hotspot::FirePixel {
        hotspot::FirePixel { row, col, t4: 330.0, t11: 295.0, t4_bg: 300.0, confidence: 0.8 }
    }

    #[test]
    fn diagonal_neighbours_join_and_distant_pixels_do_not() {
        let fires = [px(1, 1), px(2, 2), px(10, 10), px(3, 3), px(10, 12)];
        let c = clusters(&fires);
        assert_eq!(c, vec![vec![0, 1, 3], vec![2], vec![4]]);
    }
}
