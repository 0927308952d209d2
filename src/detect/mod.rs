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

/// Index lists of 8-connected clusters, ordered by their first pixel (row-major).
fn clusters(fires: &[hotspot::FirePixel]) -> Vec<Vec<usize>> {
    let at: HashMap<(usize, usize), usize> = fires.iter().enumerate().map(|(i, f)| ((f.row, f.col), i)).collect();
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
            let (r, c) = (fires[i].row as i64, fires[i].col as i64);
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
