//! Ingest: turns input files into in-memory scenes and frames, and nothing more.
//!
//! [`raster`] reads brightness-temperature GeoTIFFs through GDAL; [`frame`] decodes camera frames
//! with `image` and reads their pose sidecars. [`discover`] lists an inbox. Every error names the
//! file it came from, so the batch can report and quarantine it and go on.

pub mod drone;
pub mod frame;
pub mod goes;
pub mod raster;
pub mod tables;
pub mod weather;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Size limits checked before any pixel is read: a 465 KB GeoTIFF may declare 100000 × 100000
/// pixels, and reading it whole would take 40 GB.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest raster band read (width × height), pixels; bigger inputs are quarantined.
    pub max_pixels: u64,
    /// Most fire pixels one scene or fire product may have; more is a broken input (a mask
    /// filled with one class, a scene of fill values), quarantined before it fills memory.
    pub max_fire_pixels: usize,
    /// Largest camera frame decoded (width × height), pixels: a few-KB JPEG or PNG may declare
    /// 60000 × 60000; the header is checked before a pixel is decoded, and the decoder is held to
    /// it too. Bigger frames are quarantined.
    pub max_frame_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // a GOES full disk (5424²), a VIIRS I-band granule (6400 × 6464) and a 5000² tile fit;
        // an 8K camera frame (7680 × 4320 = 33 M) fits
        Limits { max_pixels: 100_000_000, max_fire_pixels: 200_000, max_frame_pixels: 40_000_000 }
    }
}

impl Limits {
    /// `Err` with the reason when a `width` × `height` raster is over the limit.
    pub fn check(&self, width: usize, height: usize) -> Result<(), String> {
        let n = width as u64 * height as u64;
        if n > self.max_pixels {
            return Err(format!(
                "{width} × {height} pixels ({n}) is over limits.max_pixels ({}); raise it if the input is genuine",
                self.max_pixels
            ));
        }
        Ok(())
    }
}

/// Rows read per GDAL call: bands are read in strips into one buffer, never whole in one call.
const STRIP_ROWS: usize = 256;

/// Reads a `width` × `height` band strip by strip, handing each strip (its first row and its
/// values, row-major) to `each`. Memory beyond what `each` keeps: one strip.
pub(crate) fn read_strips<T: Copy + gdal::raster::GdalType + Default>(
    band: &gdal::raster::RasterBand,
    (width, height): (usize, usize),
    mut each: impl FnMut(usize, &[T]),
) -> gdal::errors::Result<()> {
    let mut buf = vec![T::default(); width * STRIP_ROWS.min(height.max(1))];
    for row0 in (0..height).step_by(STRIP_ROWS) {
        let rows = STRIP_ROWS.min(height - row0);
        let strip = &mut buf[..width * rows];
        band.read_into_slice::<T>((0, row0 as isize), (width, rows), (width, rows), strip, None)?;
        each(row0, strip);
    }
    Ok(())
}

/// A whole band as one vector, read in strips (see [`read_strips`]).
pub(crate) fn read_band<T: Copy + gdal::raster::GdalType + Default>(
    band: &gdal::raster::RasterBand,
    size: (usize, usize),
) -> gdal::errors::Result<Vec<T>> {
    let mut out = Vec::with_capacity(size.0 * size.1);
    read_strips::<T>(band, size, |_, strip| out.extend_from_slice(strip))?;
    Ok(out)
}

/// What a file is, named once, by where it sits and what it is called: every part of firepoint
/// that must know (the inbox walk, `firepoint pass`, the satellite readers, `validate goes`) asks
/// [`Product::of`]. A new product is a variant here, one line in `of`, and its reader.
#[derive(Debug, Clone, PartialEq)]
pub enum Product {
    /// A GeoTIFF: brightness temperatures, or a fire mask (its content says which).
    GeoTiff,
    /// A GOES ABI L1b channel-7 file: a scene, read with its channel-14 companion.
    AbiScene(goes::AbiName),
    /// A GOES ABI L1b file of another channel: read as its scene's companion, not an input.
    AbiCompanion(goes::AbiName),
    /// A GOES ABI fire product (FDC mask and power).
    AbiFireProduct(goes::AbiName),
    /// A NetCDF file whose name is not a GOES ABI product's: refused, naming what is expected.
    OtherNetcdf,
    /// A fire-point table (FIRMS, Himawari WLF, MEE).
    Table,
    /// A tower camera frame.
    Frame,
    /// A drone photo (a JPEG under a `drone` folder).
    DronePhoto,
    /// A rain forecast (CSV or JSON under a `weather` folder).
    Forecast,
}

impl Product {
    /// What `path` is; `None` for what is no input (a pose sidecar, an unknown extension).
    pub fn of(path: &Path) -> Option<Product> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "tif" | "tiff" => Product::GeoTiff,
            "nc" => match goes::AbiName::parse(path) {
                Some(n) if n.is_fdc() => Product::AbiFireProduct(n),
                Some(n) if n.is_l1b() && n.channel != Some(7) => Product::AbiCompanion(n),
                Some(n) => Product::AbiScene(n),
                None => Product::OtherNetcdf,
            },
            "csv" | "json" if in_folder(path, "weather") => Product::Forecast,
            "csv" | "txt" => Product::Table,
            "jpg" | "jpeg" if in_drone_folder(path) => Product::DronePhoto,
            "jpg" | "jpeg" | "png" => Product::Frame,
            _ => return None,
        })
    }

    /// The kind of input the product is; `None` for a companion file.
    pub fn kind(&self) -> Option<InputKind> {
        Some(match self {
            Product::GeoTiff | Product::AbiScene(_) | Product::AbiFireProduct(_) | Product::OtherNetcdf => {
                InputKind::Satellite
            }
            Product::AbiCompanion(_) => return None,
            Product::Table => InputKind::Table,
            Product::Frame => InputKind::Frame,
            Product::DronePhoto => InputKind::Drone,
            Product::Forecast => InputKind::Weather,
        })
    }
}

/// What kind of input a file is, by where it sits in the inbox and its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A brightness-temperature GeoTIFF, an ABI L1b scene (its channel-7 file) or an FDC product.
    Satellite,
    /// A fire-point table (FIRMS, Himawari WLF, MEE).
    Table,
    Frame,
    /// A drone photo (`inbox/drone/`), placed from its own position and attitude.
    Drone,
    /// A rain forecast (`inbox/weather/`, CSV or JSON): read before anything else of a batch.
    Weather,
}

impl InputKind {
    /// The kind of input a file is; `None` for files that are not inputs by themselves (pose
    /// sidecars, and ABI L1b files of channels other than 7, read as companions of their scene).
    pub fn of(path: &Path) -> Option<InputKind> {
        Product::of(path)?.kind()
    }

    /// The kind of a file under `inbox/drone/`: JPEG photos only (their `.json` sidecars travel
    /// with them).
    fn of_drone(path: &Path) -> Option<InputKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        matches!(ext.as_str(), "jpg" | "jpeg").then_some(InputKind::Drone)
    }

    /// The kind [`InputKind::as_str`] names.
    pub fn parse(s: &str) -> Option<InputKind> {
        [InputKind::Satellite, InputKind::Table, InputKind::Frame, InputKind::Drone, InputKind::Weather]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Satellite => "satellite",
            InputKind::Table => "table",
            InputKind::Frame => "frame",
            InputKind::Drone => "drone",
            InputKind::Weather => "weather",
        }
    }

    /// The kind of a file under `inbox/weather/`: forecasts (`.csv`, `.json`) only.
    fn of_weather(path: &Path) -> Option<InputKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        matches!(ext.as_str(), "csv" | "json").then_some(InputKind::Weather)
    }
}

/// Whether a JPEG named by hand (`firepoint pass`) is a drone photo: it sits in a folder named
/// `drone` or in a subfolder of one (`…/drone/<drone>/photo.jpg`), as in the inbox.
fn in_drone_folder(path: &Path) -> bool {
    in_folder(path, "drone")
}

/// Whether `path` sits in a folder named `name`, or in a subfolder of one.
fn in_folder(path: &Path, name: &str) -> bool {
    let mut up = path.ancestors().skip(1).take(2);
    up.any(|p| p.file_name().is_some_and(|n| n == name))
}

/// Every input file under `inbox/weather`, `inbox/satellite`, `inbox/frames` and `inbox/drone`
/// (recursively), forecasts first (a fire of the same batch is judged with them), then sorted by
/// path so a batch is reproducible. Pose sidecars (`.json`) travel with their frame or photo and
/// are not listed.
///
/// Only regular files are inputs: a FIFO or a link to a device would hang the batch, so such
/// entries are named in a warning and left alone. Symbolic links to regular files are inputs
/// (quarantine and the archive move the link, never its target); links to folders below the
/// four folders are not followed, so the walk never leaves them.
///
/// One of the four folders may itself be a symbolic link to a share the county's upload server
/// writes: it is walked only with `follow_linked` (`batch.follow_linked_inbox`), and then its
/// files are the county's inputs and leave it like any other (archived, quarantined). Without it
/// the link is named in a warning and nothing under it is read or moved, so a link made by
/// mistake (to a home folder, to `/`) never moves a file the county did not put in the inbox.
/// A share mounted at the folder (a mount, a bind mount) is a folder, not a link: always walked.
pub fn discover(inbox: &Path, follow_linked: bool) -> std::io::Result<Vec<(InputKind, PathBuf)>> {
    let mut out = Vec::new();
    for (sub, kind_of) in [
        ("weather", InputKind::of_weather as fn(&Path) -> Option<InputKind>),
        ("satellite", InputKind::of),
        // a camera whose folder is called `drone` still sends frames
        ("frames", |p| InputKind::of(p).map(|k| if k == InputKind::Drone { InputKind::Frame } else { k })),
        ("drone", InputKind::of_drone),
    ] {
        let root = inbox.join(sub);
        let linked = std::fs::symlink_metadata(&root).is_ok_and(|m| m.file_type().is_symlink());
        if linked && !follow_linked && root.is_dir() {
            tracing::warn!(
                "{}: a link to another folder, not read (its files would be moved out of it); set \
                 batch.follow_linked_inbox = true if it is the county's share, or mount the share there",
                root.display()
            );
            continue;
        }
        // below the four folders no link to a folder is followed
        if root.is_dir() {
            walk(&root, kind_of, &mut out)?;
        }
    }
    out.sort_by(|a, b| (a.0 != InputKind::Weather, &a.1).cmp(&(b.0 != InputKind::Weather, &b.1)));
    Ok(out)
}

fn walk(
    dir: &Path,
    kind_of: fn(&Path) -> Option<InputKind>,
    out: &mut Vec<(InputKind, PathBuf)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        // the entry itself: a link is not followed here
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            // one unreadable subfolder must not stop the whole inbox
            if let Err(e) = walk(&path, kind_of, out) {
                tracing::warn!("{}: cannot list this folder ({e}); its files wait for the next batch", path.display());
            }
            continue;
        }
        if kind.is_symlink() && path.is_dir() {
            tracing::warn!(
                "{}: a link to a folder, not followed (the inbox walk stays inside the inbox)",
                path.display()
            );
            continue;
        }
        let Some(input) = kind_of(&path) else { continue };
        match regular_file(&path) {
            Ok(()) => out.push((input, path)),
            Err(why) => tracing::warn!("{}: {why}; not an input, left where it is", path.display()),
        }
    }
    Ok(())
}

/// `Ok` when `path` is a regular file or a link to one; otherwise what it is.
pub fn regular_file(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("unreadable ({e})"))?;
    if meta.is_file() {
        return Ok(());
    }
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let what = if meta.is_dir() { "a folder" } else { "a FIFO, socket or device, not a regular file" };
    Err(if link { format!("a symbolic link to {what}") } else { what.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r11_a_file_named_by_hand_is_known_by_its_folder() {
        let of = |p: &str| InputKind::of(Path::new(p));
        assert_eq!(of("/data/weather/county.csv"), Some(InputKind::Weather));
        assert_eq!(of("/data/weather/2026/service.json"), Some(InputKind::Weather));
        assert_eq!(of("/data/firms/MODIS_C6_1.csv"), Some(InputKind::Table));
        assert_eq!(of("/data/frames/CAM01/f.json"), None, "a pose sidecar is no input");
        assert_eq!(of("/data/drone/UAV-01/p.jpg"), Some(InputKind::Drone));
        assert_eq!(of("/data/frames/CAM01/f.jpg"), Some(InputKind::Frame));
    }

    /// Issue 18: what a file is is decided in one place; the GOES names too (the inbox walk,
    /// `pass`, the scene reader and `validate goes` used to decide each on their own).
    #[test]
    fn r18_one_place_names_every_product() {
        let of = |p: &str| Product::of(Path::new(p));
        let c07 = "OR_ABI-L1b-RadM1-M6C07_G17_s20193002000276_e20193002000334_c20193002000375.nc";
        let c14 = "OR_ABI-L1b-RadM1-M6C14_G17_s20193002000276_e20193002000334_c20193002000393.nc";
        let fdc = "OR_ABI-L2-FDCM1-M6_G17_s20193002000276_e20193002000334_c20193002000562.nc";
        assert!(matches!(of(c07), Some(Product::AbiScene(_))));
        assert!(matches!(of(c14), Some(Product::AbiCompanion(_))));
        assert!(matches!(of(fdc), Some(Product::AbiFireProduct(_))));
        assert_eq!(of("granule.nc"), Some(Product::OtherNetcdf));
        assert_eq!(of("pass.TIF"), Some(Product::GeoTiff));
        assert_eq!(of("/in/weather/f.csv"), Some(Product::Forecast));
        assert_eq!(of("/in/satellite/f.csv"), Some(Product::Table));
        assert_eq!(of("/in/drone/UAV/p.JPG"), Some(Product::DronePhoto));
        assert_eq!(of("/in/frames/CAM/f.png"), Some(Product::Frame));
        assert_eq!(of("notes.docx"), None);
        // the kind of input each is, a companion none
        assert_eq!(of(c14).unwrap().kind(), None);
        assert_eq!(of(fdc).unwrap().kind(), Some(InputKind::Satellite));
        assert_eq!(of("/in/weather/f.json").unwrap().kind(), Some(InputKind::Weather));
    }
}
