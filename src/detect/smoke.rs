//! The camera smoke model, run through ONNX Runtime (`ort`).
//!
//! [`SmokeModel`] holds the model file, its checked checksum and decision threshold (from the
//! metrics file the training script writes beside it). Each rayon worker makes one
//! [`SmokeWorker`] (one `ort` session, one reused input tensor) because `Session::run` takes
//! `&mut self`. A worker resizes a frame to the model's 320×240 input and returns the frame score
//! and the per-patch probabilities; placing the sighting on the ground is `locate::camera`'s job.
//!
//! ONNX Runtime allows one environment per process; it is created on first use from
//! `ORT_DYLIB_PATH`, else `libonnxruntime.so` beside the executable, else `.deps/onnxruntime/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::imageops::FilterType;
use ort::session::Session;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    #[error("cannot load ONNX Runtime from {path} (run scripts/setup.sh, or set ORT_DYLIB_PATH)")]
    Runtime {
        path: PathBuf,
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read smoke model {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("smoke model {path} does not match the checksum in {metrics} (expected {expected}, found {found})")]
    Checksum { path: PathBuf, metrics: PathBuf, expected: String, found: String },
    #[error("cannot read smoke model metrics {path}")]
    MetricsRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("smoke model metrics {path} are not valid")]
    Metrics {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot start a session for smoke model {path}")]
    Session {
        path: PathBuf,
        #[source]
        source: ort::Error,
    },
    #[error("smoke model {path} failed on a frame")]
    Inference {
        path: PathBuf,
        #[source]
        source: ort::Error,
    },
    #[error("smoke model {path} gave an unexpected output: {what}")]
    Output { path: PathBuf, what: String },
}

/// The camera smoke model and its decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// ONNX model; its card and metrics sit beside it (same stem, `.json`).
    pub model: PathBuf,
    /// Frame score at or above which a frame is a smoke detection. Empty: the model's own
    /// threshold from its metrics file (chosen on the validation split).
    pub threshold: Option<f32>,
    /// Frames a worker thread scores before its results are stored (bounds memory).
    pub chunk: usize,
    /// A frame whose pose sidecar has not arrived (uploads are not atomic) is left in the inbox
    /// for later batches for this many minutes after it was written, then quarantined.
    pub sidecar_wait_min: i64,
    /// A border band at the top of every frame that the model never sees (a burned-in caption,
    /// timestamp or logo): percent of the frame's height, filled with the picture's nearest row
    /// before scoring. 0: none. A camera listed in `bands` uses its own.
    pub blank_top_pct: f64,
    /// The same at the bottom of every frame, percent of its height.
    pub blank_bottom_pct: f64,
    /// Per camera id, `CAM07 = [6.0, 0.0]`: its [top, bottom] bands in percent, for cameras
    /// whose captions differ from the rest.
    pub bands: std::collections::BTreeMap<String, [f64; 2]>,
    /// Tower health: a tower that has sent no frame for this many minutes while the others
    /// have (the newest frame of any tower is the clock) is offline; the county office is told.
    pub stale_after_min: i64,
    /// Tower health: this many frames in a row with the same picture (the middle of the frame,
    /// pixel for pixel: a live sensor never repeats itself; captions may change) is a frozen
    /// feed; this many frames in a row whose view differs from its own history as a whole
    /// (turned off its preset, covered, out of focus) is a changed view.
    pub frozen_frames: usize,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            model: "models/smoke-view-v3.onnx".into(),
            threshold: None,
            chunk: 64,
            sidecar_wait_min: 10,
            blank_top_pct: 0.0,
            blank_bottom_pct: 0.0,
            bands: Default::default(),
            stale_after_min: 15,
            frozen_frames: 3,
        }
    }
}

impl CameraConfig {
    /// The bands of `camera` (top, bottom) as fractions of the frame's height.
    pub fn bands_of(&self, camera: &str) -> (f64, f64) {
        let [t, b] = self.bands.get(camera).copied().unwrap_or([self.blank_top_pct, self.blank_bottom_pct]);
        (t / 100.0, b / 100.0)
    }

    /// Band percents between 0 and 40 each.
    pub fn check(&self) -> Result<(), String> {
        let ok = |v: f64| (0.0..=40.0).contains(&v);
        let all = [("blank_top_pct", self.blank_top_pct), ("blank_bottom_pct", self.blank_bottom_pct)];
        if let Some((k, v)) = all.iter().find(|(_, v)| !ok(*v)) {
            return Err(format!("camera.{k} must be between 0 and 40 (percent of the frame's height), not {v}"));
        }
        match self.bands.iter().find(|(_, b)| !b.iter().all(|v| ok(*v))) {
            Some((cam, b)) => Err(format!("camera.bands.{cam}: each band 0..40 percent, not {b:?}")),
            None => Ok(()),
        }
    }
}

/// Fills the top `top` and bottom `bottom` fractions of `frame`'s rows with the nearest row
/// outside them: a burned-in caption becomes plain picture, the same in every frame of a view.
pub fn blank_bands(frame: &mut image::RgbImage, (top, bottom): (f64, f64)) {
    let (w, h) = frame.dimensions();
    let rows = |f: f64| ((f.clamp(0.0, 0.4) * h as f64).round() as u32).min(h / 2);
    let (t, b) = (rows(top), rows(bottom));
    let stride = w as usize * 3;
    let raw: &mut [u8] = frame;
    for (band, source) in [(0..t, t), (h - b..h, (h - b).saturating_sub(1))] {
        if band.is_empty() || source >= h {
            continue;
        }
        let src = raw[source as usize * stride..(source as usize + 1) * stride].to_vec();
        for y in band {
            raw[y as usize * stride..(y as usize + 1) * stride].copy_from_slice(&src);
        }
    }
}

impl SmokeError {
    /// Errors of the runtime or the model, not of a frame: they stop the batch (exit 2).
    pub fn is_fatal(&self) -> bool {
        matches!(self, SmokeError::Runtime { .. } | SmokeError::Session { .. })
    }
}

/// The spine's patch model (v1) takes the whole frame at this size.
pub const INPUT_W: u32 = 320;
pub const INPUT_H: u32 = 240;

/// How a tile model (v2) sees a frame: resized (bilinear, aspect kept) to `resize_width`
/// (height at least `tile`), cut into `tile`-pixel tiles at multiples of `stride` plus one flush
/// with the right and bottom edges, row by row; then, when `whole_frame_tile`, the whole frame
/// resized to one tile (aspect not kept), last. The frame score is the largest tile probability.
/// The training script writes these numbers into the model's metrics file and follows them.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Tiling {
    pub tile: u32,
    pub resize_width: u32,
    pub stride: u32,
    pub whole_frame_tile: bool,
}

impl Tiling {
    /// Tile starts along one side of `len` pixels.
    fn starts(&self, len: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut x = 0;
        while x + self.tile < len {
            out.push(x);
            x += self.stride.max(1);
        }
        out.push(len.saturating_sub(self.tile));
        out
    }

    /// The resized frame's size for a `width` × `height` frame.
    pub fn resized(&self, width: u32, height: u32) -> (u32, u32) {
        let h = (height as f64 * self.resize_width as f64 / width.max(1) as f64).round() as u32;
        (self.resize_width, h.max(self.tile))
    }

    /// The tiles' top-left corners in the resized frame, row by row (the whole-frame tile not
    /// included).
    pub fn corners(&self, width: u32, height: u32) -> Vec<(u32, u32)> {
        let (w, h) = self.resized(width, height);
        let xs = self.starts(w);
        self.starts(h).into_iter().flat_map(|y| xs.iter().map(move |&x| (x, y))).collect()
    }
}

/// How the model's input is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// v1: the whole frame at 320×240 in, a grid of `patch`-pixel probabilities out.
    Patches { patch: u32 },
    /// v2: tiles in, one probability per tile out.
    Tiles(Tiling),
}

/// The fields of the training script's metrics file that inference needs.
#[derive(Debug, Clone, Deserialize)]
struct Metrics {
    model: String,
    sha256: String,
    threshold: f32,
    patch: Option<u32>,
    #[serde(flatten)]
    tiling: Option<Tiling>,
    /// Whether the model was trained and checked on night infrared (grayscale) frames.
    #[serde(default)]
    infrared: bool,
    /// A view model (issue 19): its change head and per-view rule.
    view: Option<super::view::ViewModel>,
}

#[derive(Debug, Clone)]
pub struct SmokeModel {
    pub path: PathBuf,
    pub version: String,
    pub threshold: f32,
    /// Scores night infrared (grayscale) frames; when false they are skipped with the reason.
    pub infrared: bool,
    /// A view model sees what is new in a camera's view: its change head and rule (the frame's
    /// tiles then also give keys, `SmokeScore::view`).
    pub view: Option<std::sync::Arc<super::view::ViewModel>>,
    bytes: std::sync::Arc<Vec<u8>>,
    layout: Layout,
}

/// One scored part of a frame: where (fractions of the frame, [x0, y0, x1, y1]) and how likely
/// smoke.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TileScore {
    pub bbox: [f64; 4],
    pub prob: f32,
    /// The whole-frame view (not a place in the frame).
    pub whole: bool,
}

/// The score of one frame: its largest tile probability and every tile; from a view model,
/// also each tile's key and change-head input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeScore {
    pub score: f32,
    pub tiles: Vec<TileScore>,
    pub view: Option<super::view::ViewOutputs>,
}

impl SmokeScore {
    pub fn from_tiles(tiles: Vec<TileScore>) -> SmokeScore {
        SmokeScore { score: tiles.iter().map(|t| t.prob).fold(0.0, f32::max), tiles, view: None }
    }

    /// The most likely place of smoke (the whole-frame view only when there is no other).
    pub fn best(&self) -> Option<&TileScore> {
        let placed = self.tiles.iter().filter(|t| !t.whole);
        placed.max_by(|a, b| a.prob.total_cmp(&b.prob)).or_else(|| self.tiles.first())
    }

    /// The most likely smoke tile in the pixels of a `width` × `height` frame: [x0, y0, x1, y1].
    pub fn best_tile_box(&self, width: u32, height: u32) -> [u32; 4] {
        self.tile_box(self.best(), width, height)
    }

    /// Tile `t`'s box (the whole frame for none) in the pixels of a `width` × `height` frame.
    pub fn tile_box(&self, t: Option<&TileScore>, width: u32, height: u32) -> [u32; 4] {
        let b = t.map_or([0.0, 0.0, 1.0, 1.0], |t| t.bbox);
        let (w, h) = (width as f64, height as f64);
        [(b[0] * w).round() as u32, (b[1] * h).round() as u32, (b[2] * w).round() as u32, (b[3] * h).round() as u32]
    }

    /// The sighting's image position as fractions of width and height (0..1): the centre column
    /// of the most likely tile, and the bottom of the lowest tile at or above `threshold` that
    /// spans that column (where a plume meets the ground).
    pub fn plume_base(&self, threshold: f32) -> (f64, f64) {
        self.plume_base_of(self.best(), threshold)
    }

    /// [`SmokeScore::plume_base`] under tile `best` (the one a view's rule chose).
    pub fn plume_base_of(&self, best: Option<&TileScore>, threshold: f32) -> (f64, f64) {
        let Some(best) = best else { return (0.5, 0.5) };
        let x = 0.5 * (best.bbox[0] + best.bbox[2]);
        let bottom = self
            .tiles
            .iter()
            .filter(|t| !t.whole && t.prob >= threshold && t.bbox[0] <= x && x < t.bbox[2])
            .map(|t| t.bbox[3])
            .fold(best.bbox[3], f64::max);
        (x, bottom)
    }
}

fn runtime_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return p.into();
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("libonnxruntime.so")));
    match beside {
        Some(p) if p.exists() => p,
        _ => PathBuf::from(".deps/onnxruntime/libonnxruntime.so"),
    }
}

/// The process's one ONNX Runtime environment.
fn environment() -> Result<&'static ort::environment::Environment, SmokeError> {
    type Failed = (PathBuf, std::sync::Arc<dyn std::error::Error + Send + Sync>);
    static ENV: OnceLock<Result<ort::environment::Environment, Failed>> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = runtime_path();
        let builder = ort::init_from(&path).map_err(|e| (path.clone(), std::sync::Arc::new(e) as _))?;
        builder.with_name("firepoint").build().map_err(|e| (path.clone(), std::sync::Arc::new(e) as _))
    })
    .as_ref()
    .map_err(|(path, source)| SmokeError::Runtime { path: path.clone(), source: source.clone() })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl SmokeModel {
    /// Loads `path`, checks it against the checksum in `<stem>.json`, and takes the threshold and
    /// the input layout from there (the threshold unless `threshold` overrides it).
    pub fn load(path: &Path, threshold: Option<f32>) -> Result<SmokeModel, SmokeError> {
        let bytes = std::fs::read(path).map_err(|source| SmokeError::Read { path: path.into(), source })?;
        let metrics_path = path.with_extension("json");
        let text = std::fs::read_to_string(&metrics_path)
            .map_err(|source| SmokeError::MetricsRead { path: metrics_path.clone(), source })?;
        let metrics: Metrics =
            serde_json::from_str(&text).map_err(|source| SmokeError::Metrics { path: metrics_path.clone(), source })?;
        let found = sha256_hex(&bytes);
        if found != metrics.sha256 {
            return Err(SmokeError::Checksum {
                path: path.into(),
                metrics: metrics_path,
                expected: metrics.sha256,
                found,
            });
        }
        let layout = match (metrics.tiling, metrics.patch) {
            (Some(t), _) if t.tile > 0 && t.resize_width >= t.tile => Layout::Tiles(t),
            (None, Some(patch)) if patch > 0 => Layout::Patches { patch },
            _ => {
                return Err(SmokeError::Output {
                    path: metrics_path,
                    what: "the metrics name neither a tiling (tile, resize_width, stride) nor a patch size".into(),
                })
            }
        };
        if let Some(v) = &metrics.view {
            let tiles = matches!(layout, Layout::Tiles(_));
            v.check()
                .and_then(|_| tiles.then_some(()).ok_or_else(|| "a view model must be a tile model".into()))
                .map_err(|what| SmokeError::Output { path: metrics_path.clone(), what })?;
        }
        environment()?;
        Ok(SmokeModel {
            path: path.into(),
            version: metrics.model,
            threshold: threshold.unwrap_or(metrics.threshold),
            infrared: metrics.infrared,
            view: metrics.view.map(std::sync::Arc::new),
            bytes: std::sync::Arc::new(bytes),
            layout,
        })
    }

    /// A new inference worker: one session, reused buffers. Make one per thread.
    pub fn worker(&self) -> Result<SmokeWorker, SmokeError> {
        let env = environment()?;
        let err = |source: ort::Error| SmokeError::Session { path: self.path.clone(), source };
        let session = Session::builder(env)
            .map_err(err)?
            .with_intra_threads(1)
            .map_err(|e| err(e.into()))?
            .commit_from_memory(&self.bytes)
            .map_err(err)?;
        Ok(SmokeWorker { model: self.clone(), session, input: Vec::new(), resizer: fast_image_resize::Resizer::new() })
    }
}

pub struct SmokeWorker {
    model: SmokeModel,
    session: Session,
    /// The input tensor's values, reused from frame to frame.
    input: Vec<f32>,
    resizer: fast_image_resize::Resizer,
}

impl SmokeWorker {
    /// Scores one frame of any size, as the model's layout says.
    pub fn score(&mut self, frame: &image::RgbImage) -> Result<SmokeScore, SmokeError> {
        match self.model.layout {
            Layout::Patches { patch } => self.score_patches(frame, patch),
            Layout::Tiles(t) => self.score_tiles(frame, t),
        }
    }

    fn fail(&self) -> impl Fn(ort::Error) -> SmokeError {
        let path = self.model.path.clone();
        move |source| SmokeError::Inference { path: path.clone(), source }
    }

    /// v1: the frame resized to 320×240 (aspect not kept, as in training), one patch grid out.
    fn score_patches(&mut self, frame: &image::RgbImage, patch: u32) -> Result<SmokeScore, SmokeError> {
        let small = image::imageops::resize(frame, INPUT_W, INPUT_H, FilterType::Triangle);
        let (w, h) = (INPUT_W as usize, INPUT_H as usize);
        self.input.clear();
        self.input.resize(3 * w * h, 0.0);
        for (x, y, px) in small.enumerate_pixels() {
            for c in 0..3 {
                self.input[c * w * h + y as usize * w + x as usize] = px[c] as f32 / 255.0;
            }
        }
        let view = ndarray::ArrayView4::from_shape((1, 3, h, w), &self.input).expect("buffer fits its shape");
        let fail = self.fail();
        let tensor = TensorRef::from_array_view(view).map_err(&fail)?;
        let outputs = self.session.run(ort::inputs!["image" => tensor]).map_err(&fail)?;
        let probs: Vec<f32> =
            outputs["patch_prob"].try_extract_array::<f32>().map_err(&fail)?.iter().copied().collect();
        let (rows, cols) = ((INPUT_H / patch) as usize, (INPUT_W / patch) as usize);
        if probs.len() != rows * cols {
            return Err(SmokeError::Output {
                path: self.model.path.clone(),
                what: format!("patch_prob has {} values, expected {}", probs.len(), rows * cols),
            });
        }
        let (fw, fh) = (1.0 / cols as f64, 1.0 / rows as f64);
        let tiles = probs
            .iter()
            .enumerate()
            .map(|(i, &prob)| {
                let (r, c) = ((i / cols) as f64, (i % cols) as f64);
                TileScore { bbox: [c * fw, r * fh, (c + 1.0) * fw, (r + 1.0) * fh], prob, whole: false }
            })
            .collect();
        Ok(SmokeScore::from_tiles(tiles))
    }

    /// v2: overlapping tiles of the resized frame plus the whole-frame view, one batch.
    fn score_tiles(&mut self, frame: &image::RgbImage, t: Tiling) -> Result<SmokeScore, SmokeError> {
        let (fw, fh) = frame.dimensions();
        let (rw, rh) = t.resized(fw, fh);
        let resized = self.resize(frame, rw, rh)?;
        let corners = t.corners(fw, fh);
        let n = corners.len() + t.whole_frame_tile as usize;
        let side = t.tile as usize;
        let plane = side * side;
        self.input.clear();
        self.input.resize(n * 3 * plane, 0.0);
        for (k, &(x0, y0)) in corners.iter().enumerate() {
            copy_tile(&resized, rw as usize, (x0 as usize, y0 as usize), side, &mut self.input[k * 3 * plane..]);
        }
        if t.whole_frame_tile {
            let whole = self.resize(frame, t.tile, t.tile)?;
            copy_tile(&whole, side, (0, 0), side, &mut self.input[corners.len() * 3 * plane..]);
        }
        let view = ndarray::ArrayView4::from_shape((n, 3, side, side), &self.input).expect("buffer fits its shape");
        let fail = self.fail();
        let tensor = TensorRef::from_array_view(view).map_err(&fail)?;
        let outputs = self.session.run(ort::inputs!["tiles" => tensor]).map_err(&fail)?;
        let probs: Vec<f32> = outputs["prob"].try_extract_array::<f32>().map_err(&fail)?.iter().copied().collect();
        if probs.len() != n {
            return Err(SmokeError::Output {
                path: self.model.path.clone(),
                what: format!("prob has {} values for {n} tiles", probs.len()),
            });
        }
        let view = match &self.model.view {
            Some(v) => {
                let take = |name: &str| -> Result<Vec<f32>, SmokeError> {
                    let values: Vec<f32> =
                        outputs[name].try_extract_array::<f32>().map_err(&fail)?.iter().copied().collect();
                    if values.len() != n * v.key_width {
                        return Err(SmokeError::Output {
                            path: self.model.path.clone(),
                            what: format!("{name} has {} values for {n} tiles of {}", values.len(), v.key_width),
                        });
                    }
                    Ok(values)
                };
                Some(super::view::ViewOutputs { k: v.key_width, key: take("key")?, now: take("now")? })
            }
            None => None,
        };
        let (sw, sh) = (rw as f64, rh as f64);
        let mut tiles: Vec<TileScore> = corners
            .iter()
            .zip(&probs)
            .map(|(&(x, y), &prob)| {
                let (x, y, s) = (x as f64, y as f64, t.tile as f64);
                TileScore {
                    bbox: [x / sw, y / sh, ((x + s) / sw).min(1.0), ((y + s) / sh).min(1.0)],
                    prob,
                    whole: false,
                }
            })
            .collect();
        if t.whole_frame_tile {
            tiles.push(TileScore { bbox: [0.0, 0.0, 1.0, 1.0], prob: probs[n - 1], whole: true });
        }
        Ok(SmokeScore { view, ..SmokeScore::from_tiles(tiles) })
    }

    /// The frame resized (bilinear, like the training script's PIL) to `w` × `h`, RGB bytes.
    fn resize(&mut self, frame: &image::RgbImage, w: u32, h: u32) -> Result<Vec<u8>, SmokeError> {
        use fast_image_resize::{images::Image, FilterType, PixelType, ResizeAlg, ResizeOptions};
        let output = |what: String| SmokeError::Output { path: self.model.path.clone(), what };
        let src =
            fast_image_resize::images::ImageRef::new(frame.width(), frame.height(), frame.as_raw(), PixelType::U8x3)
                .map_err(|e| output(format!("frame buffer: {e}")))?;
        let mut dst = Image::new(w, h, PixelType::U8x3);
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        self.resizer.resize(&src, &mut dst, &options).map_err(|e| output(format!("resize: {e}")))?;
        Ok(dst.into_vec())
    }
}

/// Whether a frame is a night infrared (grayscale) picture: on a sample of its pixels (a 64 × 64
/// grid) the colour channels agree within 3 levels in at least 90 % of them. Burned-in colour
/// (a red logo, yellow caption text) covers a corner or a band, not a tenth of the picture, so an
/// infrared frame that carries one is still infrared (issue 19: one with a red logo was scored).
/// A daylight frame, even a hazy or foggy one, keeps some colour over most of its pixels.
pub fn is_grayscale(frame: &image::RgbImage) -> bool {
    let (w, h) = frame.dimensions();
    let (mut grey, mut n) = (0usize, 0usize);
    for j in 0..64u32 {
        for i in 0..64u32 {
            let (x, y) = ((i * w) / 64 + w / 128, (j * h) / 64 + h / 128);
            let Some(p) = frame.get_pixel_checked(x.min(w.saturating_sub(1)), y.min(h.saturating_sub(1))) else {
                continue;
            };
            let (r, g, b) = (p[0] as i16, p[1] as i16, p[2] as i16);
            grey += ((r - g).abs() <= 3 && (g - b).abs() <= 3) as usize;
            n += 1;
        }
    }
    n > 0 && grey * 100 >= n * 90
}

/// Copies the `side`² tile at `(x0, y0)` of an RGB image `width` pixels wide into `out` as
/// planar RGB in 0..1 (the model's input layout).
fn copy_tile(rgb: &[u8], width: usize, (x0, y0): (usize, usize), side: usize, out: &mut [f32]) {
    let plane = side * side;
    for y in 0..side {
        let row = &rgb[((y0 + y) * width + x0) * 3..((y0 + y) * width + x0 + side) * 3];
        for (x, px) in row.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + y * side + x] = px[c] as f32 / 255.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: usize, cols: usize, hot: &[(usize, usize, f32)]) -> SmokeScore {
        let tiles = (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as f64, (i % cols) as f64);
                let (fw, fh) = (1.0 / cols as f64, 1.0 / rows as f64);
                let prob = hot.iter().find(|h| (h.0, h.1) == (i / cols, i % cols)).map_or(0.0, |h| h.2);
                TileScore { bbox: [c * fw, r * fh, (c + 1.0) * fw, (r + 1.0) * fh], prob, whole: false }
            })
            .collect();
        SmokeScore::from_tiles(tiles)
    }

    #[test]
    fn plume_base_is_lowest_hot_tile_under_the_best_one() {
        // row 1, col 2 the best; row 2, col 2 above threshold and lower; another column hotter below
        let s = grid(4, 5, &[(1, 2, 0.9), (2, 2, 0.6), (3, 4, 0.7)]);
        assert_eq!(s.score, 0.9);
        assert_eq!(s.plume_base(0.5), (0.5, 0.75));
        assert_eq!(s.best_tile_box(500, 400), [200, 100, 300, 200]);
    }

    #[test]
    fn tiles_cover_the_resized_frame_edge_to_edge_in_row_order() {
        let t = Tiling { tile: 224, resize_width: 1120, stride: 192, whole_frame_tile: true };
        assert_eq!(t.resized(1920, 1080), (1120, 630));
        let c = t.corners(1920, 1080);
        let xs: Vec<u32> = c.iter().filter(|p| p.1 == 0).map(|p| p.0).collect();
        assert_eq!(xs, [0, 192, 384, 576, 768, 896], "the last tile is flush with the right edge");
        let ys: Vec<u32> = c.iter().filter(|p| p.0 == 0).map(|p| p.1).collect();
        assert_eq!(ys, [0, 192, 384, 406]);
        assert_eq!(c.len(), 24);
        assert_eq!(c[1], (192, 0), "row by row");
        // a frame narrower than a tile is one tile; a flat one is padded up to a tile high
        let small = Tiling { tile: 224, resize_width: 224, stride: 192, whole_frame_tile: false };
        assert_eq!(small.corners(100, 20), [(0, 0)]);
    }

    /// Issue 19: a night infrared frame with a red logo in a corner and a yellow caption band was
    /// scored as a colour frame; a hazy daylight frame must stay colour.
    #[test]
    fn r19_an_infrared_frame_with_a_colour_logo_is_still_infrared() {
        let mut ir = image::RgbImage::from_fn(640, 360, |x, y| {
            let v = ((x * 7 + y * 3) % 200) as u8 + 20;
            image::Rgb([v, v, v])
        });
        for (x, y, p) in ir.enumerate_pixels_mut() {
            if x > 560 && y < 60 {
                *p = image::Rgb([220, 30, 30]); // a logo
            } else if y < 18 && x < 400 && (x / 4) % 2 == 0 {
                *p = image::Rgb([255, 255, 0]); // caption text
            }
        }
        assert!(is_grayscale(&ir));
        let hazy = image::RgbImage::from_fn(640, 360, |x, y| {
            let v = ((x + y) % 60) as u8 + 150;
            image::Rgb([v, v.saturating_add(4), v.saturating_add(9)])
        });
        assert!(!is_grayscale(&hazy), "a hazy blue-grey day is colour");
        assert!(!is_grayscale(&image::RgbImage::new(0, 0)));
    }

    #[test]
    fn r19_border_bands_become_the_nearest_picture_row() {
        let mut f = image::RgbImage::from_fn(4, 10, |_, y| image::Rgb([y as u8, 0, 0]));
        blank_bands(&mut f, (0.2, 0.1));
        let rows: Vec<u8> = (0..10).map(|y| f.get_pixel(0, y)[0]).collect();
        assert_eq!(rows, [2, 2, 2, 3, 4, 5, 6, 7, 8, 8]);
        blank_bands(&mut f, (0.0, 0.0));
        let mut tiny = image::RgbImage::new(1, 1);
        blank_bands(&mut tiny, (0.4, 0.4)); // nothing to fill from, nothing breaks
    }

    #[test]
    fn a_tile_is_copied_as_planar_rgb_in_0_to_1() {
        let (w, side) = (4usize, 2usize);
        let rgb: Vec<u8> = (0..w * 3 * 3).map(|i| i as u8).collect(); // 4 × 3 pixels
        let mut out = vec![0f32; 3 * side * side];
        copy_tile(&rgb, w, (1, 1), side, &mut out);
        // pixel (1,1) is index 5 → bytes 15,16,17; planes R, G, B
        assert_eq!(out[0] * 255.0, 15.0);
        assert_eq!(out[side * side] * 255.0, 16.0);
        assert_eq!(out[2 * side * side] * 255.0, 17.0);
        assert_eq!(out[3] * 255.0, ((2 * w + 2) * 3) as f32, "(2,2) is the tile's last pixel");
    }
}
