//! Sun-glint rejection (MOD14: a fire pixel whose glint angle is under 2° is rejected), applied
//! where the input gives the view geometry: geostationary scenes, whose satellite position is in
//! the grid's CRS (`+proj=geos +lon_0 +h`). Polar-orbiter GeoTIFFs carry no view angles, so
//! their pixels pass unchanged.
//!
//! Glint angle θg between the sun's specular reflection and the view direction:
//! cos θg = cos θs cos θv − sin θs sin θv cos(φs − φv), zenith θ and azimuth φ of the directions
//! from the pixel to the sun (s) and to the satellite (v).

use super::hotspot::FirePixel;
use crate::domain::BtScene;

/// Pixels under this glint angle (degrees) are rejected.
pub const MAX_GLINT_DEG: f64 = 2.0;

/// View zenith and azimuth (degrees) from a ground point to a geostationary satellite over
/// longitude `sat_lon` at `height_m` above the equator (spherical Earth, ample for 2°).
pub fn geostationary_view(lon: f64, lat: f64, sat_lon: f64, height_m: f64) -> (f64, f64) {
    const R: f64 = 6_371_000.0;
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    let p = [R * la.cos() * lo.cos(), R * la.cos() * lo.sin(), R * la.sin()];
    let sl = sat_lon.to_radians();
    let s = [(R + height_m) * sl.cos(), (R + height_m) * sl.sin(), 0.0];
    let d = [s[0] - p[0], s[1] - p[1], s[2] - p[2]];
    let norm = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let up = [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()];
    let east = [-lo.sin(), lo.cos(), 0.0];
    let north = [-la.sin() * lo.cos(), -la.sin() * lo.sin(), la.cos()];
    let dot = |a: [f64; 3]| (a[0] * d[0] + a[1] * d[1] + a[2] * d[2]) / norm;
    let zen = dot(up).clamp(-1.0, 1.0).acos().to_degrees();
    (zen, dot(east).atan2(dot(north)).to_degrees().rem_euclid(360.0))
}

/// Glint angle, degrees, from sun and view zenith/azimuth (degrees).
pub fn glint_angle(sun: (f64, f64), view: (f64, f64)) -> f64 {
    let (zs, as_) = (sun.0.to_radians(), sun.1.to_radians());
    let (zv, av) = (view.0.to_radians(), view.1.to_radians());
    let c = zs.cos() * zv.cos() - zs.sin() * zv.sin() * (as_ - av).cos();
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

/// (`lon_0`, `h`) of a geostationary CRS, from its PROJ string.
fn geostationary(scene: &BtScene) -> Option<(f64, f64)> {
    let srs = gdal::spatial_ref::SpatialRef::from_wkt(scene.georef.srs_wkt.as_deref()?).ok()?;
    let proj4 = srs.to_proj4().ok()?;
    if !proj4.contains("+proj=geos") {
        return None;
    }
    let param =
        |key: &str| proj4.split_whitespace().find_map(|t| t.strip_prefix(key)).and_then(|v| v.parse::<f64>().ok());
    Some((param("+lon_0=").unwrap_or(0.0), param("+h=")?))
}

/// Drops fire pixels in sun glint, where the scene's geometry is known; returns how many.
/// `to_ll` is the scene's lon/lat transform, built once by the caller.
pub fn reject(scene: &BtScene, to_ll: &crate::grid::ToLonLat, fires: &mut Vec<FirePixel>) -> usize {
    let Some((sat_lon, h)) = geostationary(scene) else { return 0 };
    let cells: Vec<(usize, usize)> = fires.iter().map(|f| (f.row, f.col)).collect();
    let ll = to_ll.centres(&cells);
    let before = fires.len();
    let mut keep = ll.iter().map(|p| {
        p.is_none_or(|(lon, lat)| {
            let sun = crate::time::sun_position(scene.acquired_at, lon, lat);
            sun.0 >= 90.0 || glint_angle(sun, geostationary_view(lon, lat, sat_lon, h)) >= MAX_GLINT_DEG
        })
    });
    fires.retain(|_| keep.next().unwrap_or(true));
    before - fires.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn satellite_straight_overhead_at_the_sub_satellite_point() {
        let (zen, _) = geostationary_view(-137.0, 0.0, -137.0, 35_786_023.0);
        assert!(zen < 0.01);
        // from 37.6 N, 115.7 E, Himawari at 140.7 E is to the south-east, ~50° from zenith
        let (zen, az) = geostationary_view(115.7, 37.6, 140.7, 35_786_023.0);
        assert!((40.0..60.0).contains(&zen) && (90.0..180.0).contains(&az), "{zen} {az}");
    }

    #[test]
    fn sun_stands_south_at_local_noon_in_the_northern_summer() {
        // 115.7 E: local solar noon near 04:20 UTC
        let (zen, az) = crate::time::sun_position(Utc.with_ymd_and_hms(2026, 6, 21, 4, 20, 0).unwrap(), 115.7, 37.6);
        assert!((13.0..16.0).contains(&zen), "{zen}");
        assert!((160.0..200.0).contains(&az), "{az}");
    }

    #[test]
    fn specular_geometry_has_zero_glint_and_opposite_sides_do_not() {
        assert!(glint_angle((30.0, 120.0), (30.0, 300.0)) < 1e-9);
        assert!((glint_angle((30.0, 120.0), (30.0, 120.0)) - 60.0).abs() < 1e-9);
    }
}
