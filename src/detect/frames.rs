//! The camera path: frames scored in parallel by the smoke model and, where smoke is seen,
//! placed on the ground as a camera [`Detection`] with its evidence.
//!
//! [`FrameDetector`] lives for a whole batch and keeps a small pool of [`SmokeWorker`]s (one ONNX
//! Runtime session and input buffer each): a rayon job takes an idle worker, scores its frame and
//! puts the worker back, so a batch builds at most one session per thread, never one per job
//! split. The session built to check that the model starts is the pool's first worker.

use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

use super::smoke::{SmokeError, SmokeModel, SmokeScore, SmokeWorker};
use super::{Detected, InputError};
use crate::aoi::Aoi;
use crate::domain::{Detection, FrameObservation, SourceKind};
use crate::ingest::frame;
use crate::locate::camera;

/// Scores frames against one model and one district for a whole batch.
pub struct FrameDetector<'a> {
    pub(super) model: SmokeModel,
    /// The district, for placing sightings; `None` for scoring alone (`smoke eval`).
    pub(super) aoi: Option<&'a Aoi>,
    pub(super) sidecar_wait: std::time::Duration,
    idle: Mutex<Vec<SmokeWorker>>,
    sessions: std::sync::atomic::AtomicUsize,
    /// Largest frame decoded, pixels (`limits.max_frame_pixels`).
    pub(super) max_pixels: u64,
}

impl<'a> FrameDetector<'a> {
    /// Starts one session at once, so a model or runtime that cannot run fails here (before
    /// anything is recorded), and keeps it as the first worker.
    /// `sidecar_wait`: how long after it was written a frame without its pose sidecar is left
    /// for later batches rather than refused.
    pub fn new(
        model: SmokeModel,
        aoi: &'a Aoi,
        sidecar_wait: std::time::Duration,
    ) -> Result<FrameDetector<'a>, SmokeError> {
        let first = model.worker()?;
        let max_pixels = crate::ingest::Limits::default().max_frame_pixels;
        Ok(FrameDetector {
            model,
            aoi: Some(aoi),
            sidecar_wait,
            idle: Mutex::new(vec![first]),
            sessions: 1.into(),
            max_pixels,
        })
    }

    /// A detector that only scores frames (no district, no poses): [`FrameDetector::score`].
    pub fn scorer(model: SmokeModel) -> Result<FrameDetector<'static>, SmokeError> {
        let first = model.worker()?;
        let wait = std::time::Duration::ZERO;
        let max_pixels = crate::ingest::Limits::default().max_frame_pixels;
        Ok(FrameDetector {
            model,
            aoi: None,
            sidecar_wait: wait,
            idle: Mutex::new(vec![first]),
            sessions: 1.into(),
            max_pixels,
        })
    }

    /// Frames over `max_pixels` pixels are refused before they are decoded.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// ONNX Runtime sessions built so far (at most one per rayon thread).
    pub fn sessions(&self) -> usize {
        self.sessions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` with an idle worker (building one only when none is idle), then returns it.
    pub(super) fn with_worker<R>(&self, f: impl FnOnce(&mut SmokeWorker) -> R) -> Result<R, SmokeError> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut worker = match taken {
            Some(w) => w,
            None => {
                self.sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.model.worker()?
            }
        };
        let out = f(&mut worker);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
        Ok(out)
    }

    /// A night infrared (grayscale) `what` (frame, photo) the model was not trained on: recorded
    /// as not scored, with the reason; `None` for an image the model scores.
    pub(super) fn infrared_unscored(&self, img: &image::RgbImage, what: &str) -> Option<Detected> {
        (!self.model.infrared && super::smoke::is_grayscale(img)).then(|| {
            let note = format!(
                "night infrared (grayscale) {what}: not scored; model {} was not trained on infrared",
                self.model.version
            );
            Detected { note: Some(note), ..Default::default() }
        })
    }

    /// The operational threshold: a frame scoring at or above it is a smoke sighting.
    pub fn threshold(&self) -> f32 {
        self.model.threshold
    }

    /// The production scoring of one frame file, no pose needed: decode, score. Returns the
    /// score and the frame's size (width, height).
    pub fn score(&self, path: &Path) -> Result<(SmokeScore, (u32, u32)), InputError> {
        let img = frame::decode(path, self.max_pixels)?;
        let score = self.with_worker(|w| w.score(&img))??;
        Ok((score, img.dimensions()))
    }

    /// Scores `paths` in parallel; one result per path, in order.
    pub fn detect_all(&self, paths: &[&Path]) -> Vec<Result<Detected, InputError>> {
        paths
            .par_iter()
            .map(|path| match self.with_worker(|w| self.detect(w, path)) {
                Ok(result) => result,
                Err(session) => Err(session.into()),
            })
            .collect()
    }

    /// One frame: pose, pixels, camera, score; a sighting on the ground when the score reaches
    /// the model's threshold.
    fn detect(&self, worker: &mut SmokeWorker, path: &Path) -> Result<Detected, InputError> {
        let pose = match frame::read_pose(path) {
            Err(frame::FrameError::NoPose { sidecar, .. }) if super::young(path, self.sidecar_wait) => {
                return Err(InputError::SidecarPending { path: path.into(), sidecar })
            }
            // a sidecar cut short by its upload: wait for the rest
            Err(frame::FrameError::BadPose { path: sidecar, source })
                if source.is_eof() && super::young(path, self.sidecar_wait) =>
            {
                return Err(InputError::SidecarPending { path: path.into(), sidecar })
            }
            other => other?,
        };
        let img = frame::decode(path, self.max_pixels)?;
        let aoi = self.aoi.expect("frames are placed only by a detector made with a district");
        let cam = aoi
            .camera(&pose.camera_id)
            .ok_or_else(|| InputError::UnknownCamera { path: path.into(), camera: pose.camera_id.clone() })?;
        if let Some(unscored) = self.infrared_unscored(&img, "frame") {
            return Ok(unscored);
        }
        let score = worker.score(&img)?;
        let threshold = self.model.threshold;
        let (w, h) = img.dimensions();
        let b = score.best_tile_box(w, h);
        let (wf, hf) = (w as f64, h as f64);
        let errors = camera::AngleErrors::typical(pose.hfov_deg, wf);
        let mut observed = FrameObservation {
            camera_id: cam.id.clone(),
            camera_lon: cam.lon,
            camera_lat: cam.lat,
            captured_at: pose.captured_at,
            pan_deg: pose.pan_deg,
            tilt_deg: pose.tilt_deg,
            hfov_deg: pose.hfov_deg,
            score: score.score,
            flagged: score.score >= threshold,
            tile_box: [b[0] as f64 / wf, b[1] as f64 / hf, b[2] as f64 / wf, b[3] as f64 / hf],
            azimuth_deg: None,
            sigma_deg: errors.pose_deg.hypot(errors.pixel_deg),
        };
        if !observed.flagged {
            return Ok(Detected { frame: Some(observed), ..Default::default() });
        }
        let (fx, fy) = score.plume_base(threshold);
        let fix = camera::ground_fix(aoi, cam, &pose, hf / wf, fx, fy);
        observed.azimuth_deg = Some(fix.azimuth_deg);
        let detection = Detection {
            source: SourceKind::Camera,
            sensor: cam.id.clone(),
            observed_at: pose.captured_at,
            lon: fix.lon,
            lat: fix.lat,
            radius_m: fix.radius_m,
            footprint: None,
            confidence: score.score,
            evidence: serde_json::json!({
                "frame": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "model": self.model.version, "score": score.score, "threshold": threshold,
                "azimuth_deg": (fix.azimuth_deg * 10.0).round() / 10.0, "distance_m": fix.distance_m.round(),
                "hit_ground": fix.hit_ground, "near_horizon": fix.near_horizon,
            }),
        };
        Ok(Detected { detections: vec![detection], frame: Some(observed), ..Default::default() })
    }
}
