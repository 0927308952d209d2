//! Ingest: turns input files into in-memory scenes and frames, and nothing more.
//!
//! [`raster`] reads brightness-temperature GeoTIFFs through GDAL; [`frame`] decodes camera frames
//! with `image` and reads their pose sidecars. [`discover`] lists an inbox. Every error names the
//! file it came from, so the batch can report and quarantine it and go on.

pub mod frame;
pub mod goes;
pub mod raster;
pub mod tables;

use std::path::{Path, PathBuf};

/// What kind of input a file is, by where it sits in the inbox and its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A brightness-temperature GeoTIFF, an ABI L1b scene (its channel-7 file) or an FDC product.
    Satellite,
    /// A fire-point table (FIRMS, Himawari WLF, MEE).
    Table,
    Frame,
}

impl InputKind {
    /// The kind of input a file is; `None` for files that are not inputs by themselves (pose
    /// sidecars, and ABI L1b files of channels other than 7, read as companions of their scene).
    pub fn of(path: &Path) -> Option<InputKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "tif" | "tiff" => Some(InputKind::Satellite),
            "nc" => match goes::AbiName::parse(path) {
                Some(n) if n.is_l1b() && n.channel != Some(7) => None,
                _ => Some(InputKind::Satellite),
            },
            "csv" | "txt" => Some(InputKind::Table),
            "jpg" | "jpeg" | "png" => Some(InputKind::Frame),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Satellite => "satellite",
            InputKind::Table => "table",
            InputKind::Frame => "frame",
        }
    }
}

/// Every input file under `inbox/satellite` and `inbox/frames` (recursively), sorted by path so
/// a batch is reproducible. Pose sidecars (`.json`) travel with their frame and are not listed.
pub fn discover(inbox: &Path) -> std::io::Result<Vec<(InputKind, PathBuf)>> {
    let mut out = Vec::new();
    for sub in ["satellite", "frames"] {
        let root = inbox.join(sub);
        if root.is_dir() {
            walk(&root, &mut out)?;
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<(InputKind, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if let Some(kind) = InputKind::of(&path) {
            out.push((kind, path));
        }
    }
    Ok(())
}
