//! Georeferencing, the bottom layer every stage shares: raster grids (a GDAL geotransform and a
//! CRS) to lon/lat through one PROJ transform per grid, pixel outlines, the local metric
//! projection used for every distance, and the day/night split of the sun's zenith angle.
//!
//! It owns geometry only: it reads no files, knows no sensors and no tickets.

use geo::{MultiPolygon, Point};

/// Day when the sun is less than this far from the zenith, degrees (MOD14's day/night split).
pub const DAY_ZENITH_DEG: f64 = 85.0;

/// Whether the sun is up at a place and time, by [`DAY_ZENITH_DEG`].
pub fn is_day(at: chrono::DateTime<chrono::Utc>, lon: f64, lat: f64) -> bool {
    crate::time::solar_zenith_deg(at, lon, lat) < DAY_ZENITH_DEG
}

/// Local metric projection around a point: equirectangular, metres east/north. Over a county
/// (≤ 60 km across) its scale error stays under 0.1 %, which is far below a satellite pixel and
/// a camera's ranging error. Every distance in firepoint goes through it, never raw degrees.
#[derive(Debug, Clone, Copy)]
pub struct Projector {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Projector {
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let phi = lat0.to_radians();
        // metres per degree on the WGS84 ellipsoid at latitude phi
        let ky = 111_132.92 - 559.82 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
        let kx = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
        Projector { lon0, lat0, kx, ky }
    }
    pub fn to_m(&self, lon: f64, lat: f64) -> (f64, f64) {
        ((lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky)
    }
    pub fn to_deg(&self, x: f64, y: f64) -> (f64, f64) {
        (self.lon0 + x / self.kx, self.lat0 + y / self.ky)
    }
    pub fn point(&self, lon: f64, lat: f64) -> Point<f64> {
        let (x, y) = self.to_m(lon, lat);
        Point::new(x, y)
    }
    pub fn project(&self, g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        use geo::MapCoords;
        g.map_coords(|c| {
            let (x, y) = self.to_m(c.x, c.y);
            geo::coord! { x: x, y: y }
        })
    }
    /// Distance in metres between two lon/lat points.
    pub fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        let (ax, ay) = self.to_m(a.0, a.1);
        let (bx, by) = self.to_m(b.0, b.1);
        (ax - bx).hypot(ay - by)
    }
}

/// A raster grid's georeference: GDAL geotransform and CRS (`None` means EPSG:4326 lon/lat).
#[derive(Debug, Clone, PartialEq)]
pub struct Georef {
    pub gt: [f64; 6],
    pub srs_wkt: Option<String>,
}

impl Georef {
    /// The grid-to-lon/lat transform, built once: make one per grid and reuse it.
    pub fn to_lonlat(&self) -> ToLonLat {
        ToLonLat { gt: self.gt, transform: self.srs_wkt.as_deref().map(lonlat_transform) }
    }
}

/// Grid positions to lon/lat, with the PROJ transform built once (see [`Georef::to_lonlat`]).
pub struct ToLonLat {
    gt: [f64; 6],
    /// `None`: the grid is lon/lat already; `Some(None)`: the CRS could not be set up (every
    /// point comes back `None`).
    transform: Option<Option<gdal::spatial_ref::CoordTransform>>,
}

impl ToLonLat {
    /// Fractional grid positions (row, col; 0.0 is a pixel's top-left edge) as (lon, lat);
    /// `None` where off the Earth (geostationary disks) or not transformable.
    pub fn positions(&self, positions: &[(f64, f64)]) -> Vec<Option<(f64, f64)>> {
        let gt = &self.gt;
        let xy = positions.iter().map(|&(r, c)| (gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]));
        match &self.transform {
            None => xy.map(Some).collect(),
            Some(None) => vec![None; positions.len()],
            Some(Some(ct)) => xy
                .map(|(x, y)| {
                    let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
                    ct.transform_coords(&mut xs, &mut ys, &mut zs).ok()?;
                    (xs[0].is_finite() && ys[0].is_finite()).then_some((xs[0], ys[0]))
                })
                .collect(),
        }
    }

    /// Centres of pixels (row, col) as (lon, lat); see [`ToLonLat::positions`].
    pub fn centres(&self, pixels: &[(usize, usize)]) -> Vec<Option<(f64, f64)>> {
        let centres: Vec<(f64, f64)> = pixels.iter().map(|&(r, c)| (r as f64 + 0.5, c as f64 + 0.5)).collect();
        self.positions(&centres)
    }

    /// The outline of the pixels spanning `rows` × `cols` (their bounding block's four corners)
    /// as a closed lon/lat ring; `None` if a corner is off the Earth.
    pub fn pixel_ring(&self, rows: &[usize], cols: &[usize]) -> Option<Vec<[f64; 2]>> {
        let (r0, r1) = (*rows.iter().min()? as f64, *rows.iter().max()? as f64 + 1.0);
        let (c0, c1) = (*cols.iter().min()? as f64, *cols.iter().max()? as f64 + 1.0);
        let corners = [(r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0)];
        self.positions(&corners).into_iter().map(|p| p.map(|(x, y)| [x, y])).collect()
    }
}

fn lonlat_transform(wkt: &str) -> Option<gdal::spatial_ref::CoordTransform> {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let mut src = SpatialRef::from_wkt(wkt).ok()?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut dst = SpatialRef::from_epsg(4326).ok()?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &dst).ok()
}

/// A closed ring of a `w_m` (east–west) × `h_m` (north–south) rectangle centred on a point.
pub fn rect_ring(lon: f64, lat: f64, w_m: f64, h_m: f64) -> Vec<[f64; 2]> {
    let p = Projector::new(lon, lat);
    [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0)]
        .iter()
        .map(|&(sx, sy)| {
            let (x, y) = p.to_deg(sx * w_m / 2.0, sy * h_m / 2.0);
            [x, y]
        })
        .collect()
}

/// Day or night over a scene: uniform, or sampled on a coarse grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Daylight {
    All(bool),
    Grid { step: usize, cols: usize, day: Vec<bool> },
}

impl Daylight {
    /// Day or night per pixel of a `width` × `height` grid at time `at`. A grid whose corners and
    /// centre agree is all one; one that crosses the terminator gets the solar zenith on a grid
    /// of every 16th pixel (one PROJ transform for the grid), read at the nearest node. Off-Earth
    /// nodes count as night.
    pub fn of_grid(to_ll: &ToLonLat, width: usize, height: usize, at: chrono::DateTime<chrono::Utc>) -> Daylight {
        let (h, w) = (height.max(1), width.max(1));
        let probes = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h / 2, w / 2)];
        let day_at = |p: Option<(f64, f64)>| p.map(|(lon, lat)| is_day(at, lon, lat));
        let seen: Vec<bool> = to_ll.centres(&probes).into_iter().filter_map(day_at).collect();
        if !seen.is_empty() && seen.iter().all(|&d| d == seen[0]) {
            return Daylight::All(seen[0]);
        }
        const STEP: usize = 16;
        let (rows, cols) = (h.div_ceil(STEP) + 1, w.div_ceil(STEP) + 1);
        let nodes: Vec<(usize, usize)> =
            (0..rows).flat_map(|r| (0..cols).map(move |c| ((r * STEP).min(h - 1), (c * STEP).min(w - 1)))).collect();
        let day = to_ll.centres(&nodes).into_iter().map(|p| day_at(p).unwrap_or(false)).collect();
        Daylight::Grid { step: STEP, cols, day }
    }

    pub fn is_day(&self, row: usize, col: usize) -> bool {
        match self {
            Daylight::All(d) => *d,
            Daylight::Grid { step, cols, day } => {
                let (r, c) = ((row + step / 2) / step, (col + step / 2) / step);
                day.get(r * cols + c.min(cols - 1)).copied().unwrap_or(false)
            }
        }
    }
}
