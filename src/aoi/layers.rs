//! Reading the AOI layers through GDAL/OGR: one function per layer, each naming the file and the
//! field when something is missing. Geometry is transformed by OGR/PROJ from the layer's own CRS
//! (CGCS2000, its Gauss–Krüger zones, Web Mercator, …) to lon/lat (EPSG:4326, lon first) and
//! converted to `geo` types; a layer without a CRS is refused.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{Feature, Layer, LayerAccess};
use gdal::Dataset;
use geo::{Geometry, MultiPolygon};

use super::*;

const EXTENSIONS: [&str; 3] = ["geojson", "gpkg", "shp"];

fn find(dir: &Path, layer: &str) -> Result<PathBuf, AoiError> {
    EXTENSIONS
        .iter()
        .map(|ext| dir.join(format!("{layer}.{ext}")))
        .find(|p| p.exists())
        .ok_or_else(|| AoiError::MissingLayer { dir: dir.into(), layer: layer.into() })
}

/// One feature's fields and geometry, read out of GDAL so callers handle plain values.
struct Row<'a> {
    path: &'a Path,
    fid: u64,
    feature: Feature<'a>,
    to_lonlat: &'a CoordTransform,
}

impl Row<'_> {
    fn opt_str(&self, field: &str) -> Option<String> {
        let idx = self.feature.field_index(field).ok()?;
        self.feature.field_as_string(idx).ok().flatten().filter(|s| !s.is_empty())
    }
    fn str(&self, field: &str) -> Result<String, AoiError> {
        self.opt_str(field).ok_or_else(|| self.missing(field))
    }
    fn opt_f64(&self, field: &str) -> Option<f64> {
        let idx = self.feature.field_index(field).ok()?;
        self.feature.field_as_double(idx).ok().flatten()
    }
    fn f64(&self, field: &str) -> Result<f64, AoiError> {
        self.opt_f64(field).ok_or_else(|| self.missing(field))
    }
    fn missing(&self, field: &str) -> AoiError {
        AoiError::MissingField { path: self.path.into(), fid: self.fid, field: field.into() }
    }
    fn bad(&self, what: impl Into<String>) -> AoiError {
        AoiError::BadGeometry { path: self.path.into(), fid: self.fid, what: what.into() }
    }
    fn geometry(&self) -> Result<Geometry<f64>, AoiError> {
        let g = self.feature.geometry().ok_or_else(|| self.bad("no geometry"))?;
        let g = g.transform(self.to_lonlat).map_err(|e| self.bad(format!("cannot transform to lon/lat: {e}")))?;
        g.to_geo().map_err(|e| self.bad(format!("unreadable geometry: {e}")))
    }
    fn area(&self) -> Result<MultiPolygon<f64>, AoiError> {
        match self.geometry()? {
            Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
            Geometry::MultiPolygon(m) => Ok(m),
            other => {
                Err(self.bad(format!("expected a polygon, found {other:?}").chars().take(120).collect::<String>()))
            }
        }
    }
    fn point(&self) -> Result<(f64, f64), AoiError> {
        match self.geometry()? {
            Geometry::Point(p) => Ok((p.x(), p.y())),
            _ => Err(self.bad("expected a point")),
        }
    }
}

/// Reads every feature of layer `name` in `dir` through `f`.
fn read<T>(dir: &Path, name: &str, mut f: impl FnMut(&Row) -> Result<T, AoiError>) -> Result<Vec<T>, AoiError> {
    let path = find(dir, name)?;
    let ds = Dataset::open(&path).map_err(|source| AoiError::Open { path: path.clone(), source })?;
    let mut layer = ds.layer(0).map_err(|source| AoiError::Open { path: path.clone(), source })?;
    let to_lonlat = lonlat_transform(&layer, &path)?;
    let mut out = Vec::new();
    for (i, feature) in layer.features().enumerate() {
        let fid = feature.fid().unwrap_or(i as u64);
        out.push(f(&Row { path: &path, fid, feature, to_lonlat: &to_lonlat })?);
    }
    Ok(out)
}

/// The transform from the layer's CRS to lon/lat (EPSG:4326, lon first; an identity for
/// GeoJSON's CRS84). CGCS2000 (EPSG:4490) and WGS 84 differ by well under a metre, which PROJ
/// treats as the same datum.
fn lonlat_transform(layer: &Layer, path: &Path) -> Result<CoordTransform, AoiError> {
    let mut src = layer.spatial_ref().ok_or_else(|| AoiError::NoCrs { path: path.into() })?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let crs = |source| AoiError::Crs { path: path.into(), source };
    let mut dst = SpatialRef::from_epsg(4326).map_err(crs)?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &dst).map_err(crs)
}

pub(super) fn read_county(dir: &Path) -> Result<County, AoiError> {
    let mut all = read(dir, "county", |r| Ok(County { code: r.str("code")?, name: r.str("name")?, area: r.area()? }))?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(AoiError::Invalid { dir: dir.into(), what: format!("county layer must hold one feature, found {n}") }),
    }
}

pub(super) fn read_townships(dir: &Path) -> Result<Vec<Township>, AoiError> {
    read(dir, "townships", |r| {
        Ok(Township {
            code: r.str("code")?,
            name: r.str("name")?,
            team: r.str("team")?,
            leader: r.opt_str("leader").unwrap_or_default(),
            phone: r.opt_str("phone").unwrap_or_default(),
        })
    })
}

pub(super) fn read_villages(dir: &Path) -> Result<Vec<Village>, AoiError> {
    read(dir, "villages", |r| {
        Ok(Village {
            code: r.str("code")?,
            name: r.str("name")?,
            township: r.str("township")?,
            grid_id: r.str("grid_id")?,
            grid_member: r.str("grid_member")?,
            phone: r.opt_str("phone").unwrap_or_default(),
            area: r.area()?,
        })
    })
}

pub(super) fn read_zones(dir: &Path, name: &str) -> Result<Vec<Zone>, AoiError> {
    read(dir, name, |r| Ok(Zone { name: r.str("name")?, area: r.area()? }))
}

pub(super) fn read_stations(dir: &Path) -> Result<Vec<Station>, AoiError> {
    read(dir, "stations", |r| {
        let (lon, lat) = r.point()?;
        Ok(Station { code: r.str("code")?, name: r.str("name")?, lon, lat })
    })
}

pub(super) fn read_heat_sources(dir: &Path) -> Result<Vec<HeatSource>, AoiError> {
    read(dir, "heat_sources", |r| {
        Ok(HeatSource {
            id: r.str("id")?,
            name: r.str("name")?,
            kind: r.str("kind")?,
            buffer_m: r.opt_f64("buffer_m"),
            area: r.area()?,
        })
    })
}

pub(super) fn read_landuse(dir: &Path) -> Result<Vec<(LandClass, MultiPolygon<f64>)>, AoiError> {
    read(dir, "landuse", |r| {
        let class = match r.str("class")?.as_str() {
            "farmland" => LandClass::Farmland,
            "built_up" => LandClass::BuiltUp,
            "water" => LandClass::Water,
            other => return Err(r.bad(format!("unknown land-use class `{other}` (farmland, built_up, water)"))),
        };
        Ok((class, r.area()?))
    })
}

/// `camera_masks.json` (optional): a list of `{"camera_id", "pan_deg", "tilt_deg", "bbox":
/// [x0, y0, x1, y1] in fractions of the frame, "reason"}` — parts of a preset's view where
/// smoke-like things are not fires (chimneys, roads, quarries).
pub(super) fn read_view_masks(dir: &Path) -> Result<Vec<crate::domain::ViewMask>, AoiError> {
    let path = dir.join("camera_masks.json");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bad = |what: String| AoiError::Invalid { dir: path.clone(), what };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("unreadable ({e})")))?;
    let masks: Vec<crate::domain::ViewMask> =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a list of camera masks ({e})")))?;
    for m in &masks {
        let b = m.bbox;
        if !(0.0..=1.0).contains(&b[0]) || !(0.0..=1.0).contains(&b[3]) || b[0] >= b[2] || b[1] >= b[3] || b[2] > 1.0 {
            return Err(bad(format!(
                "mask of {} has bbox {b:?}: fractions of the frame, x0 < x1, y0 < y1",
                m.camera_id
            )));
        }
    }
    Ok(masks)
}

pub(super) fn read_cameras(dir: &Path) -> Result<Vec<Camera>, AoiError> {
    read(dir, "cameras", |r| {
        let (lon, lat) = r.point()?;
        Ok(Camera {
            id: r.str("id")?,
            name: r.str("name")?,
            lon,
            lat,
            height_m: r.f64("height_m")?,
            pan_zero_deg: r.opt_f64("pan_zero_deg").unwrap_or(0.0),
            hfov_min_deg: r.f64("hfov_min_deg")?,
            hfov_max_deg: r.f64("hfov_max_deg")?,
            range_m: r.f64("range_m")?,
        })
    })
}

/// A north-up elevation grid, read whole (a county DEM is small).
#[derive(Debug, Clone)]
pub struct Dem {
    gt: [f64; 6],
    width: usize,
    height: usize,
    data: Vec<f32>,
    nodata: Option<f64>,
}

impl Dem {
    /// Elevation interpolated bilinearly between the four nearest cell centres (nearest cell at
    /// the grid's edge); `None` outside the grid or where a needed cell is nodata.
    pub fn sample(&self, lon: f64, lat: f64) -> Option<f64> {
        let col = (lon - self.gt[0]) / self.gt[1];
        let row = (lat - self.gt[3]) / self.gt[5];
        if col < 0.0 || row < 0.0 || col >= self.width as f64 || row >= self.height as f64 {
            return None;
        }
        // position relative to cell centres
        let (x, y) = ((col - 0.5).max(0.0), (row - 0.5).max(0.0));
        let (c0, r0) = ((x.floor() as usize).min(self.width - 1), (y.floor() as usize).min(self.height - 1));
        let (c1, r1) = ((c0 + 1).min(self.width - 1), (r0 + 1).min(self.height - 1));
        let (fx, fy) = (x - c0 as f64, y - r0 as f64);
        let v = |r: usize, c: usize| {
            let v = self.data[r * self.width + c] as f64;
            (Some(v) != self.nodata && v.is_finite()).then_some(v)
        };
        let top = v(r0, c0)? * (1.0 - fx) + v(r0, c1)? * fx;
        let bottom = v(r1, c0)? * (1.0 - fx) + v(r1, c1)? * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }
}

pub(super) fn read_dem(dir: &Path, limits: &crate::ingest::Limits) -> Result<Option<Dem>, AoiError> {
    let path = dir.join("dem.tif");
    if !path.exists() {
        return Ok(None);
    }
    let err = |what: String| AoiError::Dem { path: path.clone(), what };
    let ds = Dataset::open(&path).map_err(|source| AoiError::Open { path: path.clone(), source })?;
    let gt = ds.geo_transform().map_err(|e| err(format!("no geotransform ({e})")))?;
    if gt[2] != 0.0 || gt[4] != 0.0 {
        return Err(err("rotated grids are not supported; warp it north-up first".into()));
    }
    let band = ds.rasterband(1).map_err(|e| err(e.to_string()))?;
    let (w, h) = ds.raster_size();
    limits.check(w, h).map_err(|why| err(format!("too large to read: {why}")))?;
    let data = crate::ingest::read_band::<f32>(&band, (w, h)).map_err(|e| err(e.to_string()))?;
    Ok(Some(Dem { gt, width: w, height: h, data, nodata: band.no_data_value() }))
}
