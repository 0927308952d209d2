//! Detect: finds fires in one input at a time and says where they are in lon/lat.
//!
//! [`hotspot`] tests satellite pixels; [`smoke`] scores camera frames with the ONNX model. This
//! module turns both into [`Detection`]s: fire pixels are grouped into 8-connected clusters (one
//! fire, one detection) and frame sightings are placed on the ground by `locate::camera`. It
//! knows nothing of villages, heat sources or tickets.

pub mod glint;
pub mod hotspot;
pub mod smoke;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ingest::raster::BtScene;

/// Where a detection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Satellite,
    Camera,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Satellite => "satellite",
            SourceKind::Camera => "camera",
        }
    }
}

/// One sighting of one fire.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    pub source: SourceKind,
    /// Sensor name for satellites, camera id for cameras.
    pub sensor: String,
    pub observed_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    /// Location uncertainty, metres (half a pixel's diagonal; the camera's ranging error).
    pub radius_m: f64,
    /// The pixel footprint as a closed lon/lat ring (pixel polygon, or scan × track), where the
    /// source has one; camera sightings and date-only tables have none.
    pub footprint: Option<Vec<[f64; 2]>>,
    /// 0..1.
    pub confidence: f32,
    /// Source-specific numbers (pixel count, max T4, FRP; frame score, bearing, distance).
    pub evidence: serde_json::Value,
}

impl Detection {
    /// A sighting at a point, with no footprint and no evidence (tools, tests, benchmarks).
    pub fn point(source: SourceKind, lon: f64, lat: f64, observed_at: DateTime<Utc>, radius_m: f64) -> Detection {
        Detection {
            source,
            sensor: source.as_str().into(),
            observed_at,
            lon,
            lat,
            radius_m,
            footprint: None,
            confidence: 0.9,
            evidence: serde_json::Value::Null,
        }
    }
}

/// Groups fire pixels into 8-connected clusters, one detection each, placed at the centroid
/// weighted by T4 excess over the background. Pixels off the Earth are left out.
pub fn scene_detections(scene: &BtScene, fires: &[hotspot::FirePixel]) -> Vec<Detection> {
    clusters(fires)
        .into_iter()
        .filter_map(|members| {
            let pixels: Vec<&hotspot::FirePixel> = members.iter().map(|&i| &fires[i]).collect();
            let first = pixels[0];
            // centres of the cluster's pixels, then the first pixel's right and lower neighbours (its size)
            let mut cells: Vec<(usize, usize)> = pixels.iter().map(|p| (p.row, p.col)).collect();
            cells.push((first.row, first.col + 1));
            cells.push((first.row + 1, first.col));
            let ll = scene.lonlat(&cells);
            let n = pixels.len();
            let (o, right, down) = (ll[0]?, ll[n]?, ll[n + 1]?);
            let proj = crate::aoi::Projector::new(o.0, o.1);
            let (px_w, px_h) = (proj.distance_m(o, right), proj.distance_m(o, down));
            let mut weights = Vec::with_capacity(n);
            let mut centres = Vec::with_capacity(n);
            for (p, c) in pixels.iter().zip(&ll[..n]) {
                if let Some(c) = c {
                    weights.push(((p.t4 - p.t4_bg) as f64).max(0.1));
                    centres.push(*c);
                }
            }
            let wsum: f64 = weights.iter().sum();
            let lon = centres.iter().zip(&weights).map(|(c, w)| c.0 * w).sum::<f64>() / wsum;
            let lat = centres.iter().zip(&weights).map(|(c, w)| c.1 * w).sum::<f64>() / wsum;
            let frp: f64 = pixels.iter().map(|p| hotspot::frp_mw(p, px_w * px_h)).sum();
            let max_t4 = pixels.iter().map(|p| p.t4).fold(f32::MIN, f32::max);
            let confidence = pixels.iter().map(|p| p.confidence).fold(0.0, f32::max);
            let rows: Vec<usize> = pixels.iter().map(|p| p.row).collect();
            let cols: Vec<usize> = pixels.iter().map(|p| p.col).collect();
            let footprint = pixel_ring(&scene.gt, scene.srs_wkt.as_deref(), &rows, &cols);
            Some(Detection {
                source: SourceKind::Satellite,
                sensor: scene.sensor.clone(),
                observed_at: scene.acquired_at,
                lon,
                lat,
                radius_m: 0.5 * px_w.hypot(px_h),
                footprint,
                confidence,
                evidence: serde_json::json!({
                    "pixels": n, "max_t4_k": max_t4, "frp_mw": (frp * 100.0).round() / 100.0,
                    "rows": [rows.iter().min(), rows.iter().max()], "cols": [cols.iter().min(), cols.iter().max()],
                    "pixel_m": [px_w.round(), px_h.round()],
                }),
            })
        })
        .collect()
}

/// A fire product on a grid (GOES FDC, a GeoTIFF fire mask): its fire pixels with class,
/// confidence and FRP.
pub struct FireGrid {
    pub gt: [f64; 6],
    /// `None` means EPSG:4326.
    pub srs_wkt: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub sensor: String,
    pub product: &'static str,
    pub fires: Vec<FireCell>,
}

#[derive(Debug, Clone, Copy)]
pub struct FireCell {
    pub row: usize,
    pub col: usize,
    pub code: i16,
    pub confidence: f32,
    /// MW; 0 where the product has none.
    pub frp_mw: f64,
}

impl Cell for FireCell {
    fn cell(&self) -> (usize, usize) {
        (self.row, self.col)
    }
}

impl FireGrid {
    fn lonlat(&self, cells: &[(usize, usize)]) -> Vec<Option<(f64, f64)>> {
        crate::ingest::raster::pixel_centers_lonlat(&self.gt, self.srs_wkt.as_deref(), cells)
    }
}

/// Detections from a fire product: 8-connected clusters of fire pixels, placed at the
/// FRP-weighted centroid, FRP summed, confidence from the best class in the cluster.
pub fn fire_grid_detections(grid: &FireGrid) -> Vec<Detection> {
    clusters(&grid.fires)
        .into_iter()
        .filter_map(|members| {
            let px: Vec<&FireCell> = members.iter().map(|&i| &grid.fires[i]).collect();
            let mut cells: Vec<(usize, usize)> = px.iter().map(|p| (p.row, p.col)).collect();
            cells.push((px[0].row, px[0].col + 1));
            let ll = grid.lonlat(&cells);
            let n = px.len();
            let centres: Vec<(f64, f64)> = ll[..n].iter().copied().collect::<Option<Vec<_>>>()?;
            let size_m = crate::aoi::Projector::new(centres[0].0, centres[0].1).distance_m(centres[0], ll[n]?);
            let weights: Vec<f64> = px.iter().map(|p| p.frp_mw.max(0.1)).collect();
            let wsum: f64 = weights.iter().sum();
            let lon = centres.iter().zip(&weights).map(|(p, w)| p.0 * w).sum::<f64>() / wsum;
            let lat = centres.iter().zip(&weights).map(|(p, w)| p.1 * w).sum::<f64>() / wsum;
            let rows: Vec<usize> = px.iter().map(|p| p.row).collect();
            let cols: Vec<usize> = px.iter().map(|p| p.col).collect();
            Some(Detection {
                source: SourceKind::Satellite,
                sensor: grid.sensor.clone(),
                observed_at: grid.observed_at,
                lon,
                lat,
                radius_m: size_m * std::f64::consts::FRAC_1_SQRT_2,
                footprint: pixel_ring(&grid.gt, grid.srs_wkt.as_deref(), &rows, &cols),
                confidence: px.iter().map(|p| p.confidence).fold(0.0, f32::max),
                evidence: serde_json::json!({
                    "product": grid.product, "pixels": n, "codes": px.iter().map(|p| p.code).collect::<Vec<_>>(),
                    "frp_mw": (px.iter().map(|p| p.frp_mw).sum::<f64>() * 100.0).round() / 100.0,
                }),
            })
        })
        .collect()
}

/// Detections from a GOES FDC product (fire mask codes 10–15, 30–35; Power as FRP).
pub fn fdc_detections(fdc: &crate::ingest::goes::Fdc) -> Vec<Detection> {
    use crate::ingest::goes::{fire_code_confidence, is_fire_code};
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
        gt: m.gt,
        srs_wkt: Some(m.srs_wkt.clone()),
        observed_at: m.start,
        sensor: format!("ABI-FDC-{}", fdc.platform),
        product: "GOES FDC",
        fires,
    })
}

/// The outline of the pixels spanning `rows` × `cols` (their bounding block's four corners) as a
/// closed lon/lat ring; `None` if a corner is off the Earth.
fn pixel_ring(gt: &[f64; 6], wkt: Option<&str>, rows: &[usize], cols: &[usize]) -> Option<Vec<[f64; 2]>> {
    let (r0, r1) = (*rows.iter().min()? as f64, *rows.iter().max()? as f64 + 1.0);
    let (c0, c1) = (*cols.iter().min()? as f64, *cols.iter().max()? as f64 + 1.0);
    let corners = [(r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0)];
    let ll = crate::ingest::raster::grid_lonlat(gt, wkt, &corners);
    ll.into_iter().map(|p| p.map(|(x, y)| [x, y])).collect()
}

/// A closed ring of a `w_m` (east–west) × `h_m` (north–south) rectangle centred on a point.
pub fn rect_ring(lon: f64, lat: f64, w_m: f64, h_m: f64) -> Vec<[f64; 2]> {
    let p = crate::aoi::Projector::new(lon, lat);
    [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0)]
        .iter()
        .map(|&(sx, sy)| {
            let (x, y) = p.to_deg(sx * w_m / 2.0, sy * h_m / 2.0);
            [x, y]
        })
        .collect()
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
