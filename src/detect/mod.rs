//! Detect: finds fires in one input at a time and says where they are in lon/lat.
//!
//! [`hotspot`] tests satellite pixels; [`smoke`] scores camera frames with the ONNX model. This
//! module turns both into [`Detection`]s: fire pixels are grouped into 8-connected clusters (one
//! fire, one detection) and frame sightings are placed on the ground by `locate::camera`. It
//! knows nothing of villages, heat sources or tickets.

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
    /// 0..1.
    pub confidence: f32,
    /// Source-specific numbers (pixel count, max T4, FRP; frame score, bearing, distance).
    pub evidence: serde_json::Value,
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
            Some(Detection {
                source: SourceKind::Satellite,
                sensor: scene.sensor.clone(),
                observed_at: scene.acquired_at,
                lon,
                lat,
                radius_m: 0.5 * px_w.hypot(px_h),
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

/// Detections from a GOES FDC product: 8-connected clusters of fire-mask pixels, placed at the
/// Power-weighted centroid, FRP summed, confidence from the best fire class.
pub fn fdc_detections(fdc: &crate::ingest::goes::Fdc) -> Vec<Detection> {
    use crate::ingest::goes::{fire_code_confidence, is_fire_code};
    let m = &fdc.mask;
    let cells: Vec<(usize, usize)> =
        (0..m.data.len()).filter(|&i| is_fire_code(m.data[i])).map(|i| (i / m.width, i % m.width)).collect();
    let scene_ll = |pts: &[(usize, usize)]| {
        let xy: Vec<(f64, f64)> = pts
            .iter()
            .map(|&(r, c)| (m.gt[0] + (c as f64 + 0.5) * m.gt[1], m.gt[3] + (r as f64 + 0.5) * m.gt[5]))
            .collect();
        crate::ingest::raster::to_lonlat(&m.srs_wkt, &xy)
    };
    clusters(&cells)
        .into_iter()
        .filter_map(|members| {
            let px: Vec<(usize, usize)> = members.iter().map(|&i| cells[i]).collect();
            let ll: Vec<(f64, f64)> = scene_ll(&px).into_iter().collect::<Option<Vec<_>>>()?;
            let power: Vec<f64> = px.iter().map(|&(r, c)| fdc.power[r * m.width + c] as f64).collect();
            let weights: Vec<f64> = power.iter().map(|p| p.max(0.1)).collect();
            let wsum: f64 = weights.iter().sum();
            let lon = ll.iter().zip(&weights).map(|(p, w)| p.0 * w).sum::<f64>() / wsum;
            let lat = ll.iter().zip(&weights).map(|(p, w)| p.1 * w).sum::<f64>() / wsum;
            let codes: Vec<i16> = px.iter().map(|&(r, c)| m.data[r * m.width + c]).collect();
            Some(Detection {
                source: SourceKind::Satellite,
                sensor: format!("ABI-FDC-{}", fdc.platform),
                observed_at: m.start,
                lon,
                lat,
                radius_m: 1414.0, // half the diagonal of a 2 km pixel at nadir; larger off nadir
                confidence: codes.iter().map(|&c| fire_code_confidence(c)).fold(0.0, f32::max),
                evidence: serde_json::json!({"product": "FDC", "pixels": px.len(), "mask_codes": codes, "frp_mw": power.iter().sum::<f64>()}),
            })
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
