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

use super::smoke::{SmokeError, SmokeModel, SmokeScore, SmokeWorker, TileScore};
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
    /// The border bands blanked before scoring (`camera.blank_*_pct`, `camera.bands`).
    bands: super::smoke::CameraConfig,
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
            bands: Default::default(),
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
            bands: Default::default(),
        })
    }

    /// The border bands (captions, logos) blanked in every frame before it is scored.
    pub fn with_bands(mut self, camera: &super::smoke::CameraConfig) -> Self {
        self.bands = camera.clone();
        self
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

    /// The operational threshold: a frame scoring at or above it is a smoke sighting (for a
    /// view model, a frame of a view that is warming up).
    pub fn threshold(&self) -> f32 {
        self.model.threshold
    }

    /// A view model's change head and rule.
    pub fn view_model(&self) -> Option<&super::view::ViewModel> {
        self.model.view.as_deref()
    }

    /// The production scoring of one frame file, no pose needed: decode, score. Returns the
    /// score and the frame's size (width, height).
    pub fn score(&self, path: &Path) -> Result<(SmokeScore, (u32, u32)), InputError> {
        let mut img = frame::decode(path, self.max_pixels)?;
        super::smoke::blank_bands(&mut img, self.bands.bands_of(""));
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
        let mut img = frame::decode(path, self.max_pixels)?;
        super::smoke::blank_bands(&mut img, self.bands.bands_of(&pose.camera_id));
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
        let errors = camera::AngleErrors::typical(pose.hfov_deg, w as f64);
        let mut observed = FrameObservation {
            camera_id: cam.id.clone(),
            camera_lon: cam.lon,
            camera_lat: cam.lat,
            captured_at: pose.captured_at,
            pan_deg: pose.pan_deg,
            tilt_deg: pose.tilt_deg,
            hfov_deg: pose.hfov_deg,
            score: score.score,
            flagged: false,
            tile_box: [0.0, 0.0, 1.0, 1.0],
            azimuth_deg: None,
            sigma_deg: errors.pose_deg.hypot(errors.pixel_deg),
            picture: Some(crate::health::picture_hash(&img)),
            view_off: None,
        };
        let view = self.model.view.is_some();
        let scored = ScoredFrame {
            pose,
            width: w,
            height: h,
            name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            model: self.model.version.clone(),
            score,
            thumb: view.then(|| super::view::Thumb::of(&img)),
        };
        // a view model's frame is judged by the recorder, against its view's memory
        if view {
            return Ok(Detected { frame: Some(observed), scored: Some(scored), ..Default::default() });
        }
        let best = scored.score.best().copied();
        if scored.score.score < threshold {
            observed.tile_box = scored.tile_fractions(best.as_ref());
            return Ok(Detected { frame: Some(observed), ..Default::default() });
        }
        let why = serde_json::json!({ "threshold": threshold });
        let base = scored.score.plume_base_of(best.as_ref(), threshold);
        let detection = sighting(aoi, cam, &scored, best.as_ref(), base, &mut observed, why);
        Ok(Detected { detections: vec![detection], frame: Some(observed), ..Default::default() })
    }
}

/// A frame scored by the model and not yet judged: a view model's frames wait for the recorder,
/// which judges them against their view's memory (`detect::view`) and places a sighting with
/// [`sighting`]. Kept whole in the workers' queue between the two.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScoredFrame {
    pub pose: frame::Pose,
    pub width: u32,
    pub height: u32,
    /// The frame's file name (evidence).
    pub name: Option<String>,
    /// The model version that scored it (evidence).
    pub model: String,
    pub score: SmokeScore,
    /// A small grey copy of the frame (view models), to compare with the view's background.
    #[serde(default)]
    pub thumb: Option<super::view::Thumb>,
}

impl ScoredFrame {
    /// Tile `t`'s box as fractions of the frame.
    pub fn tile_fractions(&self, t: Option<&TileScore>) -> [f64; 4] {
        let b = self.score.tile_box(t, self.width, self.height);
        let (wf, hf) = (self.width as f64, self.height as f64);
        [b[0] as f64 / wf, b[1] as f64 / hf, b[2] as f64 / wf, b[3] as f64 / hf]
    }
}

/// The sighting of `scored` at `tile` (the best one for a single-frame model, the one a view's
/// rule chose for a view model) with its plume base at frame position `(fx, fy)`, placed on the
/// ground by a ray over the DEM. Fills in the observation's tile and azimuth and marks it
/// flagged; `why` is merged into the evidence.
pub fn sighting(
    aoi: &Aoi,
    cam: &crate::aoi::Camera,
    scored: &ScoredFrame,
    tile: Option<&TileScore>,
    (fx, fy): (f64, f64),
    observed: &mut FrameObservation,
    why: serde_json::Value,
) -> Detection {
    let (wf, hf) = (scored.width as f64, scored.height as f64);
    let fix = camera::ground_fix(aoi, cam, &scored.pose, hf / wf, fx, fy);
    observed.flagged = true;
    observed.tile_box = scored.tile_fractions(tile);
    observed.azimuth_deg = Some(fix.azimuth_deg);
    let mut evidence = serde_json::json!({
        "frame": scored.name, "model": scored.model, "score": observed.score,
        "azimuth_deg": (fix.azimuth_deg * 10.0).round() / 10.0, "distance_m": fix.distance_m.round(),
        "hit_ground": fix.hit_ground, "near_horizon": fix.near_horizon,
    });
    if let (Some(e), serde_json::Value::Object(w)) = (evidence.as_object_mut(), why) {
        e.extend(w);
    }
    Detection {
        source: SourceKind::Camera,
        sensor: cam.id.clone(),
        observed_at: scored.pose.captured_at,
        lon: fix.lon,
        lat: fix.lat,
        radius_m: fix.radius_m,
        footprint: None,
        confidence: observed.score,
        evidence,
    }
}
