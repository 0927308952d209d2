//! Camera frames: the JPEG/PNG pixels (decoded with `image`) and the pose sidecar
//! `<frame>.json` the tower writes with each frame: camera id, capture time (UTC), pan, tilt and
//! horizontal field of view at capture.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("cannot decode camera frame {path}")]
    Decode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("camera frame {path} is {what}")]
    TooLarge { path: PathBuf, what: String },
    #[error("camera frame {path} has no pose sidecar {sidecar}")]
    NoPose { path: PathBuf, sidecar: PathBuf },
    #[error("pose sidecar {path} is not valid")]
    BadPose {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("pose sidecar {path}: {what}")]
    PoseRange { path: PathBuf, what: String },
    #[error("pose sidecar {path} is {what}")]
    SidecarFile { path: PathBuf, what: String },
}

/// The camera's pose when the frame was taken. Fields a tower adds beyond these (firmware
/// versions, zoom steps) are accepted and named in the log, never a reason to refuse a frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pose {
    pub camera_id: String,
    pub captured_at: DateTime<Utc>,
    /// Pan, degrees clockwise from the camera's pan-zero heading.
    pub pan_deg: f64,
    /// Tilt of the optical axis, degrees; negative looks down.
    pub tilt_deg: f64,
    /// Horizontal field of view at the current zoom, degrees.
    pub hfov_deg: f64,
    /// Anything else the sidecar holds (ignored).
    #[serde(flatten, skip_serializing)]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Largest pose sidecar read, bytes.
pub const SIDECAR_MAX: u64 = 64 * 1024;

pub fn sidecar_of(frame: &Path) -> PathBuf {
    frame.with_extension("json")
}

pub fn read_pose(frame: &Path) -> Result<Pose, FrameError> {
    let sidecar = sidecar_of(frame);
    if std::fs::symlink_metadata(&sidecar).is_err() {
        return Err(FrameError::NoPose { path: frame.into(), sidecar });
    }
    // a FIFO or a link to a device would hang or never end: only a small regular file is read
    crate::ingest::regular_file(&sidecar).map_err(|what| FrameError::SidecarFile { path: sidecar.clone(), what })?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(&sidecar)
                .map_err(|_| FrameError::NoPose { path: frame.into(), sidecar: sidecar.clone() })?,
            SIDECAR_MAX + 1,
        ),
        &mut text,
    )
    .map_err(|e| FrameError::SidecarFile { path: sidecar.clone(), what: format!("unreadable ({e})") })?;
    if text.len() as u64 > SIDECAR_MAX {
        let what = format!("larger than {SIDECAR_MAX} bytes: not a pose");
        return Err(FrameError::SidecarFile { path: sidecar, what });
    }
    parse_pose(&text, &sidecar)
}

/// A pose from the sidecar's text (`sidecar` only names it in errors), its ranges checked.
pub fn parse_pose(text: &str, sidecar: &Path) -> Result<Pose, FrameError> {
    let sidecar = sidecar.to_path_buf();
    let pose: Pose =
        serde_json::from_str(text).map_err(|source| FrameError::BadPose { path: sidecar.clone(), source })?;
    if !pose.extra.is_empty() {
        let keys: Vec<&str> = pose.extra.keys().map(String::as_str).collect();
        tracing::info!("pose sidecar {}: fields ignored: {}", sidecar.display(), crate::text::quote(&keys.join(", ")));
    }
    let bad = |what: &str| Err(FrameError::PoseRange { path: sidecar.clone(), what: what.into() });
    if !(0.5..=120.0).contains(&pose.hfov_deg) {
        return bad("hfov_deg must be between 0.5 and 120");
    }
    if !(-90.0..=90.0).contains(&pose.tilt_deg) || !pose.pan_deg.is_finite() {
        return bad("tilt_deg must be between -90 and 90 and pan_deg finite");
    }
    if let Err(e) = crate::time::plausible(pose.captured_at) {
        return bad(&format!("captured_at: {e}"));
    }
    Ok(pose)
}

/// Decodes a frame of at most `max_pixels` pixels: its header's size is checked first (a
/// decompression bomb is refused before anything is allocated), and the decoder is held to the
/// same limit.
pub fn decode(path: &Path, max_pixels: u64) -> Result<image::RgbImage, FrameError> {
    let io = |e: std::io::Error| FrameError::Decode { path: path.into(), source: image::ImageError::IoError(e) };
    let reader = || -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>, FrameError> {
        image::ImageReader::open(path).map_err(io)?.with_guessed_format().map_err(io)
    };
    let (w, h) = reader()?.into_dimensions().map_err(|source| FrameError::Decode { path: path.into(), source })?;
    if w as u64 * h as u64 > max_pixels {
        let what =
            format!("{w} × {h} pixels, over limits.max_frame_pixels ({max_pixels}); raise it if the frame is genuine");
        return Err(FrameError::TooLarge { path: path.into(), what });
    }
    let mut r = reader()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    r.limits(limits);
    r.decode().map(|img| img.into_rgb8()).map_err(|source| FrameError::Decode { path: path.into(), source })
}
