//! Drone geometry: from a place in a drone photo and the drone's pose to a point on the ground,
//! and back ([`project`], used to plant test smoke where a known fire is).
//!
//! A drone is a camera whose lens is at a known altitude: its ray is marched over the DEM by the
//! towers' marcher ([`camera::march_from`], curvature and refraction included). Pinhole model
//! with yaw (azimuth of the optical axis), pitch (from the horizon, −90 straight down) and roll
//! (about the optical axis, positive clockwise seen from behind): a pixel's ray is the optical
//! axis plus its offsets along the image's right and up axes, exact at any pitch (a tower's
//! small-tilt approximation would not do straight down).
//!
//! **Which altitude is trusted** ([`lens`], `drone.altitude`): by default the relative one —
//! the ground under the drone on the DEM (or the sidecar's `takeoff_alt_m`) plus DJI's
//! `RelativeAltitude` (barometric, above the take-off point, good to a metre or two);
//! `AbsoluteAltitude` / EXIF `GPSAltitude` (off by tens of metres on some DJI models) only when
//! the photo has no relative altitude. On the plain a drone flies within a few kilometres of its
//! take-off point, where the ground differs by a few metres; in hilly country give
//! `takeoff_alt_m` in the sidecar. A lens less than a metre above the DEM is refused.
//!
//! The uncertainty: across the ray, slant distance × σ (compass yaw and the smoke's horizontal
//! place in the photo); along it, (d² + h²) / h × σ (gimbal pitch and the vertical place). It
//! reads no files.

use super::camera::{self, earth_drop_m, GroundFix, Lens, RaySigma};
use crate::aoi::Aoi;
use crate::ingest::drone::{AltitudeRule, DroneConfig, DronePose};

/// Why a drone photo's smoke cannot be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error(
        "the drone's altitude, {alt_m:.1} m above sea level ({from}), is not above the ground under it \
         ({ground_m:.1} m on the DEM)"
    )]
    BelowGround { alt_m: f64, from: &'static str, ground_m: f64 },
    #[error("the photo gives no altitude")]
    NoAltitude,
    #[error(
        "the ray through the smoke's base (azimuth {azimuth_deg:.1}°, {elevation_deg:.1}° from the horizon) \
         does not meet the ground within drone.max_range_m ({range_m} m)"
    )]
    NoGround { azimuth_deg: f64, elevation_deg: f64, range_m: f64 },
    #[error(
        "the ray through the smoke's base (azimuth {azimuth_deg:.1}°, {elevation_deg:.1}° from the horizon) \
         meets the ground at a grazing angle: its distance cannot be known"
    )]
    Grazing { azimuth_deg: f64, elevation_deg: f64 },
}

/// Where a drone's lens is, and which altitude put it there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DroneLens {
    pub lens: Lens,
    /// The DEM's ground under the drone, metres above sea level.
    pub ground_m: f64,
    /// `relative+dem`, `relative+takeoff` or `absolute`.
    pub altitude_from: &'static str,
}

impl DroneLens {
    /// Height of the lens above the ground under the drone, metres.
    pub fn above_ground_m(&self) -> f64 {
        self.lens.alt_m - self.ground_m
    }
}

/// The drone's lens by the altitude rule (module header).
pub fn lens(aoi: &Aoi, pose: &DronePose, cfg: &DroneConfig) -> Result<DroneLens, PlaceError> {
    let ground_m = aoi.elevation(pose.lon, pose.lat);
    let a = &pose.altitude;
    let relative = a.relative_m.map(|r| match a.takeoff_m {
        Some(t) => (t + r, "relative+takeoff"),
        None => (ground_m + r, "relative+dem"),
    });
    let absolute = a.absolute_m.map(|v| (v, "absolute"));
    let chosen = match cfg.altitude {
        AltitudeRule::Relative => relative.or(absolute),
        AltitudeRule::Absolute => absolute.or(relative),
    };
    let (alt_m, from) = chosen.ok_or(PlaceError::NoAltitude)?;
    if alt_m - ground_m < 1.0 {
        return Err(PlaceError::BelowGround { alt_m, from, ground_m });
    }
    let lens = Lens { lon: pose.lon, lat: pose.lat, alt_m, range_m: cfg.max_range_m, min_radius_m: 2.0 };
    Ok(DroneLens { lens, ground_m, altitude_from: from })
}

type V3 = [f64; 3];

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The camera's forward, right and up axes in (east, north, up).
fn axes(pose: &DronePose) -> [V3; 3] {
    let (yaw, pitch, roll) = (pose.yaw_deg.to_radians(), pose.pitch_deg.to_radians(), pose.roll_deg.to_radians());
    let forward = [yaw.sin() * pitch.cos(), yaw.cos() * pitch.cos(), pitch.sin()];
    let right0 = [yaw.cos(), -yaw.sin(), 0.0];
    let up0 = [-yaw.sin() * pitch.sin(), -yaw.cos() * pitch.sin(), pitch.cos()];
    // roll clockwise (seen from behind) turns the right axis down
    let (c, s) = (roll.cos(), roll.sin());
    let right = [0, 1, 2].map(|i| right0[i] * c - up0[i] * s);
    let up = [0, 1, 2].map(|i| up0[i] * c + right0[i] * s);
    [forward, right, up]
}

/// tan of half the horizontal and vertical fields of view (`aspect` = height / width).
fn half_tans(pose: &DronePose, aspect: f64) -> (f64, f64) {
    let th = (pose.hfov_deg.to_radians() / 2.0).tan();
    (th, th * aspect)
}

/// Azimuth and elevation (degrees) of the ray through photo position (fx, fy) in 0..1.
pub fn ray(pose: &DronePose, aspect: f64, fx: f64, fy: f64) -> (f64, f64) {
    let [f, r, u] = axes(pose);
    let (th, tv) = half_tans(pose, aspect);
    let (x, y) = ((fx - 0.5) * 2.0 * th, (0.5 - fy) * 2.0 * tv);
    let d = [0, 1, 2].map(|i| f[i] + x * r[i] + y * u[i]);
    let az = d[0].atan2(d[1]).to_degrees().rem_euclid(360.0);
    (az, d[2].atan2(d[0].hypot(d[1])).to_degrees())
}

/// Photo position (fx, fy) in 0..1 of a ground point seen from `lens`, or `None` when it is
/// behind the camera or out of the photo.
pub fn project(aoi: &Aoi, pose: &DronePose, lens: &Lens, aspect: f64, lon: f64, lat: f64) -> Option<(f64, f64)> {
    let (sx, sy) = aoi.projector.to_m(lens.lon, lens.lat);
    let (tx, ty) = aoi.projector.to_m(lon, lat);
    let d = (tx - sx).hypot(ty - sy);
    let v = [tx - sx, ty - sy, aoi.elevation(lon, lat) - earth_drop_m(d) - lens.alt_m];
    let [f, r, u] = axes(pose);
    let depth = dot(v, f);
    if depth <= 0.0 {
        return None;
    }
    let (th, tv) = half_tans(pose, aspect);
    let fx = 0.5 + dot(v, r) / depth / (2.0 * th);
    let fy = 0.5 - dot(v, u) / depth / (2.0 * tv);
    ((0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy)).then_some((fx, fy))
}

/// How well the smoke's place in the photo is known, as fractions of its width and height
/// (1 σ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceSigma {
    pub x: f64,
    pub y: f64,
}

/// The ground point seen at photo position (fx, fy): the ray through it marched from the lens.
/// Refused when the ray misses the ground within range or grazes it.
pub fn ground_fix(
    aoi: &Aoi,
    pose: &DronePose,
    lens: &Lens,
    aspect: f64,
    (fx, fy): (f64, f64),
    place: PlaceSigma,
    cfg: &DroneConfig,
) -> Result<GroundFix, PlaceError> {
    let (az, el) = ray(pose, aspect, fx, fy);
    let vfov = 2.0 * half_tans(pose, aspect).1.atan().to_degrees();
    let sigma = RaySigma {
        azimuth_rad: cfg.yaw_sigma_deg.hypot(place.x * pose.hfov_deg).to_radians(),
        elevation_rad: cfg.pitch_sigma_deg.hypot(place.y * vfov).to_radians(),
    };
    let fix = camera::march_from(aoi, lens, az, el, sigma);
    match (fix.hit_ground, fix.near_horizon) {
        (true, false) => Ok(fix),
        (true, true) => Err(PlaceError::Grazing { azimuth_deg: az, elevation_deg: el }),
        (false, _) => Err(PlaceError::NoGround { azimuth_deg: az, elevation_deg: el, range_m: lens.range_m }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::drone::{Altitude, Sources};

    fn pose(yaw: f64, pitch: f64, roll: f64) -> DronePose {
        DronePose {
            drone_id: "T".into(),
            captured_at: chrono::Utc::now(),
            lon: 115.6,
            lat: 37.6,
            altitude: Altitude { relative_m: Some(120.0), ..Default::default() },
            yaw_deg: yaw,
            pitch_deg: pitch,
            roll_deg: roll,
            hfov_deg: 70.0,
            sources: Sources::default(),
        }
    }

    #[test]
    fn the_photo_centre_looks_along_yaw_and_pitch_whatever_the_roll() {
        for roll in [0.0, 15.0, -30.0] {
            let (az, el) = ray(&pose(30.0, -45.0, roll), 0.75, 0.5, 0.5);
            assert!((az - 30.0).abs() < 1e-9 && (el + 45.0).abs() < 1e-9, "{az} {el}");
        }
        // the top of a nadir photo faces the heading; its right side is 90° clockwise
        let p = pose(30.0, -90.0, 0.0);
        assert!((ray(&p, 0.75, 0.5, 0.0).0 - 30.0).abs() < 1e-6);
        assert!((ray(&p, 0.75, 1.0, 0.5).0 - 120.0).abs() < 1e-6);
        // rolled clockwise, the photo's right edge looks lower than its left
        let p = pose(0.0, -30.0, 10.0);
        assert!(ray(&p, 0.75, 1.0, 0.5).1 < ray(&p, 0.75, 0.0, 0.5).1);
    }

    #[test]
    fn a_ray_looking_up_never_meets_the_ground() {
        // the behaviour of the marcher the photo relies on: without a district, flat ground at 0
        let p = pose(0.0, -10.0, 0.0);
        let (_, el) = ray(&p, 0.75, 0.5, 0.0);
        assert!(el > 0.0, "the top of a photo pitched −10° with a 52° vertical view looks up: {el}");
    }
}
