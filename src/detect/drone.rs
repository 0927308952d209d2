//! The drone path: photos from `inbox/drone/` scored by the same smoke model and sessions as
//! the towers' frames ([`FrameDetector`]); a flagged photo is a [`Detection`] at once (a patrol
//! pointed the drone on purpose: no confirmation over frames), placed where the ray through the
//! plume base meets the DEM (`locate::drone`).
//!
//! The pose comes from the photo's metadata or its sidecar (`ingest::drone`). A photo whose
//! metadata is incomplete and whose sidecar has not arrived waits `camera.sidecar_wait_min`
//! like a frame; bad metadata, an altitude below the ground, or smoke whose base cannot be
//! placed are errors naming the photo (the batch quarantines it). Unflagged photos give no
//! detection. Night infrared photos follow the frames' rule.

use std::path::Path;

use rayon::prelude::*;

use super::frames::FrameDetector;
use super::{Detected, InputError};
use crate::domain::{Detection, SourceKind};
use crate::ingest::{drone, frame};
use crate::locate::drone as geometry;

/// Rounds to one decimal (evidence is read by people).
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl FrameDetector<'_> {
    /// Scores drone photos in parallel; one result per path, in order.
    pub fn detect_drones(&self, paths: &[&Path], cfg: &drone::DroneConfig) -> Vec<Result<Detected, InputError>> {
        paths
            .par_iter()
            .map(|path| match self.with_worker(|w| self.detect_drone(w, path, cfg)) {
                Ok(result) => result,
                Err(session) => Err(session.into()),
            })
            .collect()
    }

    /// One photo: pose, lens, pixels, score; a sighting on the ground when the score reaches the
    /// model's threshold.
    fn detect_drone(
        &self,
        worker: &mut super::smoke::SmokeWorker,
        path: &Path,
        cfg: &drone::DroneConfig,
    ) -> Result<Detected, InputError> {
        let pose = match drone::read_pose(path, cfg) {
            Err(e) if e.awaited_sidecar().is_some() && super::young(path, self.sidecar_wait) => {
                let sidecar = e.awaited_sidecar().unwrap_or(path).to_path_buf();
                return Err(InputError::SidecarPending { path: path.into(), sidecar });
            }
            other => other?,
        };
        let aoi = self.aoi.expect("photos are placed only by a detector made with a district");
        let lens =
            geometry::lens(aoi, &pose, cfg).map_err(|source| InputError::DroneLens { path: path.into(), source })?;
        drone::check_complete(path)?;
        let img = frame::decode(path, self.max_pixels)
            .map_err(|source| drone::DroneError::Pixels { path: path.into(), source })?;
        if let Some(unscored) = self.infrared_unscored(&img, "photo") {
            return Ok(unscored);
        }
        let score = worker.score(&img)?;
        let threshold = self.model.threshold;
        if score.score < threshold {
            return Ok(Detected::default());
        }
        let (w, h) = img.dimensions();
        let (wf, hf) = (w as f64, h as f64);
        let base = score.plume_base(threshold);
        // the base is known to a tile: a uniform error over the best tile's size
        let b = score.best_tile_box(w, h);
        let twelve = 12f64.sqrt();
        let place =
            geometry::PlaceSigma { x: (b[2] - b[0]) as f64 / wf / twelve, y: (b[3] - b[1]) as f64 / hf / twelve };
        let fix = geometry::ground_fix(aoi, &pose, &lens.lens, hf / wf, base, place, cfg)
            .map_err(|source| InputError::DronePlace { path: path.into(), score: score.score, source })?;
        let (_, elevation) = geometry::ray(&pose, hf / wf, base.0, base.1);
        let height = lens.lens.alt_m - aoi.elevation(fix.lon, fix.lat);
        // the flagged tile as fractions of the photo (its evidence picture draws it)
        let tile = [b[0] as f64 / wf, b[1] as f64 / hf, b[2] as f64 / wf, b[3] as f64 / hf]
            .map(|v| (v * 1000.0).round() / 1000.0);
        let detection = Detection {
            source: SourceKind::Drone,
            sensor: pose.drone_id.clone(),
            observed_at: pose.captured_at,
            lon: fix.lon,
            lat: fix.lat,
            radius_m: fix.radius_m,
            footprint: None,
            confidence: score.score,
            evidence: serde_json::json!({
                "photo": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "model": self.model.version, "score": score.score, "threshold": threshold,
                "drone": {
                    "lon": pose.lon, "lat": pose.lat, "alt_m": r1(lens.lens.alt_m),
                    "altitude_from": lens.altitude_from, "above_ground_m": r1(lens.above_ground_m()),
                },
                "gimbal": { "yaw_deg": r1(pose.yaw_deg), "pitch_deg": r1(pose.pitch_deg), "roll_deg": r1(pose.roll_deg) },
                "hfov_deg": r1(pose.hfov_deg),
                "plume_base": [(base.0 * 1000.0).round() / 1000.0, (base.1 * 1000.0).round() / 1000.0],
                "tile": tile,
                "azimuth_deg": r1(fix.azimuth_deg), "elevation_deg": r1(elevation),
                "distance_m": fix.distance_m.round(), "slant_m": fix.distance_m.hypot(height).round(),
                "sources": pose.sources,
            }),
        };
        Ok(Detected { detections: vec![detection], ..Default::default() })
    }
}
