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
use ndarray::Array4;
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
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig { model: "models/smoke-patch-v1.onnx".into(), threshold: None, chunk: 64, sidecar_wait_min: 10 }
    }
}

impl SmokeError {
    /// Errors of the runtime or the model, not of a frame: they stop the batch (exit 2).
    pub fn is_fatal(&self) -> bool {
        matches!(self, SmokeError::Runtime { .. } | SmokeError::Session { .. })
    }
}

pub const INPUT_W: u32 = 320;
pub const INPUT_H: u32 = 240;

/// The fields of the training script's metrics file that inference needs.
#[derive(Debug, Clone, Deserialize)]
struct Metrics {
    model: String,
    sha256: String,
    threshold: f32,
    patch: u32,
}

#[derive(Debug, Clone)]
pub struct SmokeModel {
    pub path: PathBuf,
    pub version: String,
    pub threshold: f32,
    bytes: std::sync::Arc<Vec<u8>>,
    patch: u32,
}

/// The score of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeScore {
    pub score: f32,
    /// Patch grid (rows × cols) of smoke probabilities, row-major.
    pub grid: (usize, usize),
    pub patches: Vec<f32>,
}

impl SmokeScore {
    /// The sighting's image position as fractions of width and height (0..1): the column of the
    /// most likely patch and the bottom of the lowest patch above `threshold` in that column
    /// (where a plume meets the ground).
    /// The most likely smoke tile in the pixels of a `width` × `height` frame: [x0, y0, x1, y1].
    pub fn best_tile_box(&self, width: u32, height: u32) -> [u32; 4] {
        let (rows, cols) = self.grid;
        let best = self.patches.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        let (r, c) = ((best / cols.max(1)) as u32, (best % cols.max(1)) as u32);
        let (rows, cols) = (rows.max(1) as u32, cols.max(1) as u32);
        [c * width / cols, r * height / rows, (c + 1) * width / cols, (r + 1) * height / rows]
    }

    pub fn plume_base(&self, threshold: f32) -> (f64, f64) {
        let (rows, cols) = self.grid;
        let best = self.patches.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        let col = best % cols;
        let lowest = (0..rows).rev().find(|&r| self.patches[r * cols + col] >= threshold).unwrap_or(best / cols);
        ((col as f64 + 0.5) / cols as f64, (lowest as f64 + 1.0) / rows as f64)
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
    /// Loads `path`, checks it against the checksum in `<stem>.json`, and takes the threshold from
    /// there unless `threshold` overrides it.
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
        environment()?;
        Ok(SmokeModel {
            path: path.into(),
            version: metrics.model,
            threshold: threshold.unwrap_or(metrics.threshold),
            bytes: std::sync::Arc::new(bytes),
            patch: metrics.patch,
        })
    }

    /// A new inference worker: one session, one input buffer. Make one per thread.
    pub fn worker(&self) -> Result<SmokeWorker, SmokeError> {
        let env = environment()?;
        let err = |source: ort::Error| SmokeError::Session { path: self.path.clone(), source };
        let session = Session::builder(env)
            .map_err(err)?
            .with_intra_threads(1)
            .map_err(|e| err(e.into()))?
            .commit_from_memory(&self.bytes)
            .map_err(err)?;
        Ok(SmokeWorker {
            model: self.clone(),
            session,
            input: Array4::zeros((1, 3, INPUT_H as usize, INPUT_W as usize)),
        })
    }
}

pub struct SmokeWorker {
    model: SmokeModel,
    session: Session,
    input: Array4<f32>,
}

impl SmokeWorker {
    /// Scores one frame (any size; it is resized to 320×240, aspect not kept, as in training).
    pub fn score(&mut self, frame: &image::RgbImage) -> Result<SmokeScore, SmokeError> {
        let small = image::imageops::resize(frame, INPUT_W, INPUT_H, FilterType::Triangle);
        for (x, y, px) in small.enumerate_pixels() {
            for c in 0..3 {
                self.input[[0, c, y as usize, x as usize]] = px[c] as f32 / 255.0;
            }
        }
        let fail = |source: ort::Error| SmokeError::Inference { path: self.model.path.clone(), source };
        let tensor = TensorRef::from_array_view(&self.input).map_err(fail)?;
        let outputs = self.session.run(ort::inputs!["image" => tensor]).map_err(fail)?;
        let probs = outputs["patch_prob"].try_extract_array::<f32>().map_err(fail)?;
        let patches: Vec<f32> = probs.iter().copied().collect();
        let grid = ((INPUT_H / self.model.patch) as usize, (INPUT_W / self.model.patch) as usize);
        if patches.len() != grid.0 * grid.1 {
            return Err(SmokeError::Output {
                path: self.model.path.clone(),
                what: format!("patch_prob has {} values, expected {}", patches.len(), grid.0 * grid.1),
            });
        }
        let score = patches.iter().copied().fold(0.0, f32::max);
        Ok(SmokeScore { score, grid, patches })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plume_base_is_lowest_hot_patch_in_best_column() {
        let mut patches = vec![0.0; 4 * 5];
        patches[5 + 2] = 0.9; // row 1, col 2: the best
        patches[2 * 5 + 2] = 0.6; // row 2, col 2: above threshold, lower
        patches[3 * 5 + 4] = 0.7; // another column
        let s = SmokeScore { score: 0.9, grid: (4, 5), patches };
        assert_eq!(s.plume_base(0.5), (0.5, 0.75));
    }
}
