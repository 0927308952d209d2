//! GOES-R ABI NetCDF through GDAL's netCDF driver: L1b radiances converted to brightness
//! temperature with each file's own Planck constants, and the L2 Fire Detection and
//! Characterization (FDC) product's fire mask and fire radiative power.
//!
//! Grids stay on the ABI fixed grid (geostationary projection, as GDAL reports it); lon/lat come
//! from GDAL/PROJ where needed (`BtScene::lonlat`). An L1b scene is named by its 3.9 µm file
//! (channel 7); the 11.2 µm file (channel 14) of the same scan must lie beside it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gdal::cpl::CslStringList;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};

use super::Limits;
use crate::domain::BtScene;

#[derive(Debug, thiserror::Error)]
pub enum GoesError {
    #[error("cannot open GOES file {path} (truncated or not NetCDF?)")]
    Open {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("GOES file {path} has no variable `{var}`")]
    MissingVar { path: PathBuf, var: &'static str },
    #[error("cannot read `{var}` from GOES file {path} (truncated?)")]
    Read {
        path: PathBuf,
        var: &'static str,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("GOES file name {path} is not an ABI product name (OR_ABI-…_G1x_s…_e…_c….nc)")]
    Name { path: PathBuf },
    #[error("GOES L1b scene {path}: no {band} file of the same scan ({pattern}) beside it")]
    MissingBand { path: PathBuf, band: &'static str, pattern: String },
    #[error("GOES L1b {path}: {what}")]
    Mismatch { path: PathBuf, what: String },
    #[error("GOES file {path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("GOES file {path} is too large to read: {why}")]
    TooLarge { path: PathBuf, why: String },
}

/// What an ABI file name says: `OR_ABI-L1b-RadM1-M6C07_G17_s20193002000275_e…_c….nc`.
#[derive(Debug, Clone, PartialEq)]
pub struct AbiName {
    /// `L1b-RadM1`, `L2-FDCC`, ...
    pub product: String,
    pub channel: Option<u8>,
    pub platform: String,
    /// The scan start token, `s20193002000275`.
    pub start: String,
}

impl AbiName {
    pub fn parse(path: &Path) -> Option<AbiName> {
        let name = path.file_name()?.to_str()?;
        let rest = name.strip_prefix("OR_ABI-")?.strip_suffix(".nc")?;
        let mut parts = rest.split('_');
        let head = parts.next()?;
        let platform = parts.next()?.to_string();
        let start = parts.next().filter(|s| s.starts_with('s'))?.to_string();
        let (product, mode) = head.rsplit_once('-')?;
        let channel = mode.split_once('C').and_then(|(_, c)| c.parse().ok());
        Some(AbiName { product: product.to_string(), channel, platform, start })
    }
    pub fn is_l1b(&self) -> bool {
        self.product.starts_with("L1b-Rad")
    }
    pub fn is_fdc(&self) -> bool {
        self.product.starts_with("L2-FDC")
    }
}

/// One variable on the ABI fixed grid.
#[derive(Debug, Clone)]
pub struct Grid<T> {
    pub width: usize,
    pub height: usize,
    pub gt: [f64; 6],
    pub srs_wkt: String,
    pub data: Vec<T>,
    pub start: DateTime<Utc>,
}

fn open_var(path: &Path, var: &'static str) -> Result<Dataset, GoesError> {
    if !path.exists() {
        return Err(GoesError::Open {
            path: path.into(),
            source: gdal::errors::GdalError::BadArgument("no such file".into()),
        });
    }
    let ds = Dataset::open(format!("NETCDF:\"{}\":{var}", path.display()))
        .map_err(|source| GoesError::Open { path: path.into(), source })?;
    if ds.raster_count() == 0 {
        return Err(GoesError::MissingVar { path: path.into(), var });
    }
    Ok(ds)
}

/// Reads variable `var` as f64 with its scale, offset and fill value applied (fill → NaN).
fn read_grid(path: &Path, var: &'static str, limits: &Limits) -> Result<Grid<f64>, GoesError> {
    let ds = open_var(path, var)?;
    let read = |source| GoesError::Read { path: path.into(), var, source };
    let band = ds.rasterband(1).map_err(read)?;
    let (w, h) = ds.raster_size();
    limits.check(w, h).map_err(|why| GoesError::TooLarge { path: path.into(), why })?;
    let raw = super::read_band::<f64>(&band, (w, h)).map_err(read)?;
    let (scale, offset, fill) = (band.scale().unwrap_or(1.0), band.offset().unwrap_or(0.0), band.no_data_value());
    let data = raw.into_iter().map(|v| if Some(v) == fill { f64::NAN } else { v * scale + offset }).collect();
    let gt = ds
        .geo_transform()
        .map_err(|_| GoesError::Invalid { path: path.into(), what: "no fixed-grid geotransform".into() })?;
    let srs_wkt = ds
        .spatial_ref()
        .and_then(|s| s.to_wkt())
        .map_err(|_| GoesError::Invalid { path: path.into(), what: "no goes_imager_projection".into() })?;
    let start = ds
        .metadata_item("NC_GLOBAL#time_coverage_start", "")
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| GoesError::Invalid { path: path.into(), what: "no valid time_coverage_start".into() })
        .and_then(|t| {
            crate::time::plausible(t)
                .map_err(|e| GoesError::Invalid { path: path.into(), what: format!("time_coverage_start: {e}") })
        })?;
    Ok(Grid { width: w, height: h, gt, srs_wkt, data, start })
}

/// A scalar variable (Planck constants) through GDAL's multidimensional API.
fn read_scalar(path: &Path, var: &'static str) -> Result<f64, GoesError> {
    let opts = DatasetOptions { open_flags: GdalOpenFlags::GDAL_OF_MULTIDIM_RASTER, ..Default::default() };
    let ds = Dataset::open_ex(path, opts).map_err(|source| GoesError::Open { path: path.into(), source })?;
    let group = ds.root_group().map_err(|source| GoesError::Read { path: path.into(), var, source })?;
    let arr =
        group.open_md_array(var, CslStringList::new()).map_err(|_| GoesError::MissingVar { path: path.into(), var })?;
    let v = arr.read_as::<f64>(vec![], vec![]).map_err(|source| GoesError::Read { path: path.into(), var, source })?;
    v.first().copied().filter(|x| x.is_finite()).ok_or(GoesError::MissingVar { path: path.into(), var })
}

/// Brightness temperature (K) of one L1b infrared band: BT = (fk2 / ln(fk1 / L + 1) − bc1) / bc2.
pub fn read_l1b_bt(path: &Path, limits: &Limits) -> Result<Grid<f32>, GoesError> {
    let rad = read_grid(path, "Rad", limits)?;
    let [fk1, fk2, bc1, bc2] = ["planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2"].map(|v| read_scalar(path, v));
    let (fk1, fk2, bc1, bc2) = (fk1?, fk2?, bc1?, bc2?);
    let data = rad
        .data
        .iter()
        .map(|&l| if l > 0.0 { ((fk2 / (fk1 / l + 1.0).ln() - bc1) / bc2) as f32 } else { f32::NAN })
        .collect();
    Ok(Grid { width: rad.width, height: rad.height, gt: rad.gt, srs_wkt: rad.srs_wkt, data, start: rad.start })
}

/// The file of `channel` from the same scan as `primary`, in the same folder.
pub fn sibling(primary: &Path, channel: u8) -> Option<PathBuf> {
    let name = AbiName::parse(primary)?;
    let dir = primary.parent()?;
    let want = format!("M6C{channel:02}_{}_{}_", name.platform, name.start);
    let alt = format!("M3C{channel:02}_{}_{}_", name.platform, name.start);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with("OR_ABI-L1b-Rad") && (n.contains(&want) || n.contains(&alt))
        })
        // a companion that is not a regular file (a FIFO, a device link) is no companion
        .filter(|p| super::regular_file(p).is_ok())
}

/// An ABI L1b scene from its channel-7 (3.9 µm) file and the channel-14 (11.2 µm) file beside it.
pub fn read_abi_scene(c07: &Path, limits: &Limits) -> Result<BtScene, GoesError> {
    let name = AbiName::parse(c07).ok_or_else(|| GoesError::Name { path: c07.into() })?;
    if name.channel != Some(7) {
        return Err(GoesError::Invalid {
            path: c07.into(),
            what: "an L1b scene is named by its channel 7 (3.9 µm) file".into(),
        });
    }
    let c14 = sibling(c07, 14).ok_or_else(|| GoesError::MissingBand {
        path: c07.into(),
        band: "11.2 µm (channel 14)",
        pattern: format!("OR_ABI-{}-M6C14_{}_{}_*.nc", name.product, name.platform, name.start),
    })?;
    let t4 = read_l1b_bt(c07, limits)?;
    let t11 = read_l1b_bt(&c14, limits)?;
    if (t4.width, t4.height) != (t11.width, t11.height) || t4.gt != t11.gt {
        return Err(GoesError::Mismatch { path: c14, what: "channel 14 is not on channel 7's grid".into() });
    }
    // channel 15 (12.3 µm), when present, feeds the cloud test
    let t12 = match sibling(c07, 15) {
        Some(c15) => {
            let g = read_l1b_bt(&c15, limits)?;
            if g.gt != t4.gt || g.data.len() != t4.data.len() {
                return Err(GoesError::Mismatch { path: c15, what: "channel 15 is not on channel 7's grid".into() });
            }
            Some(g.data)
        }
        None => None,
    };
    Ok(BtScene {
        path: c07.into(),
        width: t4.width,
        height: t4.height,
        georef: crate::grid::Georef { gt: t4.gt, srs_wkt: Some(t4.srs_wkt) },
        t4: t4.data,
        t11: t11.data,
        t12,
        acquired_at: t4.start,
        sensor: format!("ABI-{}", name.platform),
    })
}

/// The L2 FDC product: fire mask codes and fire radiative power (MW) on the fixed grid.
pub struct Fdc {
    pub path: PathBuf,
    pub platform: String,
    pub mask: Grid<i16>,
    pub power: Vec<f32>,
}

/// Mask codes of fire pixels: 10–15 and their temporally filtered twins 30–35.
pub fn is_fire_code(code: i16) -> bool {
    (10..=15).contains(&code) || (30..=35).contains(&code)
}

/// Confidence of an FDC fire class: good/saturated 1.0, high 0.9, medium 0.7, cloudy 0.6, low 0.4.
pub fn fire_code_confidence(code: i16) -> f32 {
    match code % 20 {
        10 | 11 => 1.0,
        13 => 0.9,
        14 => 0.7,
        12 => 0.6,
        _ => 0.4,
    }
}

pub fn read_fdc(path: &Path, limits: &Limits) -> Result<Fdc, GoesError> {
    let name = AbiName::parse(path).ok_or_else(|| GoesError::Name { path: path.into() })?;
    let mask = read_grid(path, "Mask", limits)?;
    let power = read_grid(path, "Power", limits)?;
    if power.data.len() != mask.data.len() {
        return Err(GoesError::Mismatch { path: path.into(), what: "Power and Mask differ in size".into() });
    }
    Ok(Fdc {
        path: path.into(),
        platform: name.platform,
        power: power.data.iter().map(|&p| if p.is_finite() { p as f32 } else { 0.0 }).collect(),
        mask: Grid {
            width: mask.width,
            height: mask.height,
            gt: mask.gt,
            srs_wkt: mask.srs_wkt,
            data: mask.data.iter().map(|&m| if m.is_finite() { m as i16 } else { -1 }).collect(),
            start: mask.start,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_names_parse() {
        let n =
            AbiName::parse(Path::new("OR_ABI-L1b-RadM1-M6C07_G17_s20193002000275_e20193002000344_c20193002000390.nc"))
                .unwrap();
        assert_eq!(
            (n.product.as_str(), n.channel, n.platform.as_str(), n.start.as_str()),
            ("L1b-RadM1", Some(7), "G17", "s20193002000275")
        );
        assert!(n.is_l1b());
        let f = AbiName::parse(Path::new("OR_ABI-L2-FDCC-M6_G17_s20193002001196_e20193002003569_c20193002004132.nc"))
            .unwrap();
        assert!(f.is_fdc() && f.channel.is_none());
        assert!(AbiName::parse(Path::new("scene.nc")).is_none());
    }

    #[test]
    fn fire_codes_are_10_to_15_and_30_to_35() {
        let fires: Vec<i16> = (0..100).filter(|&c| is_fire_code(c)).collect();
        assert_eq!(fires, vec![10, 11, 12, 13, 14, 15, 30, 31, 32, 33, 34, 35]);
        assert_eq!(fire_code_confidence(33), 0.9);
    }
}
