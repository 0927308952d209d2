//! China's obfuscated lon/lat datums: GCJ-02 (国测局坐标, "Mars" coordinates: Amap/高德, DataV,
//! Tencent) and BD-09 (Baidu), and their exact conversion to WGS-84.
//!
//! A layer drawn on an Amap or Baidu base map carries their offset (a few hundred metres, varying
//! across the country) although its file says WGS-84 or CGCS2000; `aoi.datums` declares it per
//! layer and the reader undoes it after OGR's transform to lon/lat. Owns the published forward
//! formulas and their numeric inverses; it reads nothing and knows no layer.
//!
//! GCJ-02 is WGS-84 plus the published offset on the Krasovsky ellipsoid (a = 6 378 245 m,
//! e² = 0.006 693 421 622 965 943 23), applied inside China's box only (lon 72.004–137.8347,
//! lat 0.8293–55.8271; outside it GCJ-02 equals WGS-84). BD-09 is GCJ-02 plus Baidu's second step
//! (a rotation and scaling about the origin with x_π = π·3000/180, then +0.0065° lon, +0.006° lat).
//! Neither has a closed-form inverse: [`Datum::to_wgs84`] iterates the forward map (a fixed
//! point, the offset's derivative being small) until the step is below 1e-10° (about 0.01 mm).

use serde::{Deserialize, Serialize};

/// Krasovsky 1940 semi-major axis, metres.
const A: f64 = 6_378_245.0;
/// Krasovsky 1940 eccentricity squared.
const EE: f64 = 0.006_693_421_622_965_943_23;
/// Baidu's x_π.
const X_PI: f64 = std::f64::consts::PI * 3000.0 / 180.0;
/// Where the inverse stops: the last step's size, degrees.
const TOLERANCE_DEG: f64 = 1e-10;
/// Steps the inverse takes at most (it converges in under ten inside China).
const MAX_STEPS: usize = 50;

/// The datum a layer's lon/lat are in after OGR's transform from its declared CRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Datum {
    /// WGS-84 or CGCS2000 (the same to well under a metre): no offset.
    #[default]
    #[serde(rename = "WGS-84", alias = "WGS84", alias = "CGCS2000")]
    Wgs84,
    /// GCJ-02 (国测局, "Mars"): Amap/高德, DataV.GeoAtlas, Tencent maps.
    #[serde(rename = "GCJ-02", alias = "GCJ02")]
    Gcj02,
    /// BD-09 (Baidu lon/lat, bd09ll): Baidu maps.
    #[serde(rename = "BD-09", alias = "BD09")]
    Bd09,
}

impl std::fmt::Display for Datum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Datum::Wgs84 => "WGS-84",
            Datum::Gcj02 => "GCJ-02",
            Datum::Bd09 => "BD-09",
        })
    }
}

impl Datum {
    /// `(lon, lat)` in this datum as WGS-84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => gcj02_to_wgs84(lon, lat),
            Datum::Bd09 => {
                let (x, y) = bd09_to_gcj02(lon, lat);
                gcj02_to_wgs84(x, y)
            }
        }
    }

    /// WGS-84 `(lon, lat)` in this datum.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => wgs84_to_gcj02(lon, lat),
            Datum::Bd09 => {
                let (x, y) = wgs84_to_gcj02(lon, lat);
                gcj02_to_bd09(x, y)
            }
        }
    }
}

/// Whether the point lies outside the box inside which GCJ-02 is offset.
fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

/// The published offset's latitude term, before scaling to degrees (x = lon − 105, y = lat − 35).
fn offset_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

/// The published offset's longitude term, before scaling to degrees.
fn offset_lon(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02, the published forward formula.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (x, y) = (lon - 105.0, lat - 35.0);
    let rad = lat.to_radians();
    let magic = 1.0 - EE * rad.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = offset_lat(x, y) * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * std::f64::consts::PI);
    let d_lon = offset_lon(x, y) * 180.0 / (A / sqrt_magic * rad.cos() * std::f64::consts::PI);
    (lon + d_lon, lat + d_lat)
}

/// GCJ-02 → BD-09, Baidu's published forward formula.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 2e-5 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 3e-6 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// The point `p` with `forward(p) = target`, by fixed-point steps from `start`.
fn invert(forward: fn(f64, f64) -> (f64, f64), target: (f64, f64), start: (f64, f64)) -> (f64, f64) {
    let (mut lon, mut lat) = start;
    for _ in 0..MAX_STEPS {
        let (fx, fy) = forward(lon, lat);
        let (dx, dy) = (fx - target.0, fy - target.1);
        lon -= dx;
        lat -= dy;
        if dx.abs() < TOLERANCE_DEG && dy.abs() < TOLERANCE_DEG {
            break;
        }
    }
    (lon, lat)
}

/// GCJ-02 → WGS-84: the forward formula inverted numerically (to 1e-10°).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    invert(wgs84_to_gcj02, (lon, lat), (lon, lat))
}

/// BD-09 → GCJ-02: Baidu's forward formula inverted numerically (to 1e-10°), started from the
/// usual closed-form approximation (which alone is off by up to about 1e-6°).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon - 0.0065, lat - 0.006);
    let z = (x * x + y * y).sqrt() - 2e-5 * (y * X_PI).sin();
    let theta = y.atan2(x) - 3e-6 * (x * X_PI).cos();
    invert(gcj02_to_bd09, (lon, lat), (z * theta.cos(), z * theta.sin()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: (f64, f64), want: (f64, f64), tol: f64) -> bool {
        (got.0 - want.0).abs() < tol && (got.1 - want.1).abs() < tol
    }

    #[test]
    fn r22_gcj02_forward_matches_published_pairs() {
        // (WGS-84 lon, lat) → (GCJ-02 lon, lat): googollee/eviltransform go/transform_test.go
        // (Shanghai, Shenzhen, Beijing; their order is lat, lng) and wandergis/coordtransform
        // test/app.js (wgs84togcj02(116.404, 39.915))
        let pairs = [
            ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
            ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
            ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
            ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
        ];
        for (wgs, gcj) in pairs {
            let got = wgs84_to_gcj02(wgs.0, wgs.1);
            assert!(close(got, gcj, 1e-9), "{wgs:?} → {got:?}, published {gcj:?}");
            let back = gcj02_to_wgs84(gcj.0, gcj.1);
            assert!(close(back, wgs, 1e-7), "{gcj:?} ← {back:?}, published {wgs:?}");
            assert_eq!(Datum::Gcj02.to_wgs84(gcj.0, gcj.1), back);
        }
    }

    #[test]
    fn r22_bd09_forward_matches_published_pairs() {
        // (GCJ-02 lon, lat) → (BD-09 lon, lat): wandergis/coordtransform test/app.js
        // (gcj02tobd09(116.404, 39.915)); Beijing railway station from the R package
        // documentation quoted there (GCJ-02 39.90245, 116.42703 → BD-09 39.90851, 116.43351)
        let got = gcj02_to_bd09(116.404, 39.915);
        assert!(close(got, (116.41036949371029, 39.92133699351021), 1e-9), "{got:?}");
        let got = gcj02_to_bd09(116.42703, 39.90245);
        assert!(close(got, (116.43351, 39.90851), 2e-5), "{got:?}");
        let back = bd09_to_gcj02(116.41036949371029, 39.92133699351021);
        assert!(close(back, (116.404, 39.915), 1e-7), "{back:?}");
    }

    #[test]
    fn r22_inverses_round_trip_to_a_centimetre_across_china() {
        // 1e-7° is about 1 cm; the inverses stop at 1e-10°
        for i in 0..=40 {
            for j in 0..=30 {
                let (lon, lat) = (74.0 + 1.5 * i as f64 + 0.0137 * j as f64, 18.0 + 1.2 * j as f64);
                for datum in [Datum::Gcj02, Datum::Bd09] {
                    let shifted = datum.from_wgs84(lon, lat);
                    let back = datum.to_wgs84(shifted.0, shifted.1);
                    assert!(close(back, (lon, lat), 1e-9), "{datum} ({lon}, {lat}) → {shifted:?} → {back:?}");
                }
            }
        }
    }

    #[test]
    fn r22_gcj02_offset_is_hundreds_of_metres_in_china_and_none_outside() {
        // Harbin: the offset is several hundred metres (the issue saw ≈ 600 m in the northeast)
        let (lon, lat) = wgs84_to_gcj02(126.63, 45.75);
        let p = crate::grid::Projector::new(126.63, 45.75);
        let (dx, dy) = p.to_m(lon, lat);
        let d = dx.hypot(dy);
        assert!((200.0..1000.0).contains(&d), "{d} m");
        assert_eq!(wgs84_to_gcj02(2.35, 48.85), (2.35, 48.85));
        assert_eq!(gcj02_to_wgs84(2.35, 48.85), (2.35, 48.85));
    }

    #[test]
    fn r22_datum_names_parse_as_written_in_the_config() {
        for (text, d) in [("GCJ-02", Datum::Gcj02), ("BD-09", Datum::Bd09), ("WGS-84", Datum::Wgs84), ("CGCS2000", Datum::Wgs84)]
        {
            let got: Datum = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(got, d);
        }
        assert!(serde_json::from_value::<Datum>(serde_json::json!("GCJ02x")).is_err());
    }
}
