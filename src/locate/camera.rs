//! Camera geometry: from a position in a frame and the tower's pose to a point on the ground,
//! and back (used to plant sample smoke where a known fire is).
//!
//! Pinhole model, no roll: azimuth = pan-zero heading + pan + the pixel's horizontal angle;
//! elevation = tilt + the pixel's vertical angle. The ray is marched over the DEM from the lens
//! (tower base elevation + height) until it meets the ground or leaves the camera's range.

use crate::aoi::{Aoi, Camera};
use crate::ingest::frame::Pose;

/// Where a frame position lands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundFix {
    pub lon: f64,
    pub lat: f64,
    pub azimuth_deg: f64,
    pub distance_m: f64,
    /// Ranging uncertainty, metres: grows with distance; large when the ray misses the ground.
    pub radius_m: f64,
    /// False when the ray never met the ground within range (placed at the range limit).
    pub hit_ground: bool,
}

const STEP_M: f64 = 20.0;

fn vfov_deg(hfov_deg: f64, aspect_h_over_w: f64) -> f64 {
    2.0 * ((hfov_deg.to_radians() / 2.0).tan() * aspect_h_over_w).atan().to_degrees()
}

/// Angles (azimuth, elevation), degrees, of the ray through frame position (fx, fy) in 0..1.
pub fn ray(cam: &Camera, pose: &Pose, aspect: f64, fx: f64, fy: f64) -> (f64, f64) {
    let th = (pose.hfov_deg.to_radians() / 2.0).tan();
    let tv = (vfov_deg(pose.hfov_deg, aspect).to_radians() / 2.0).tan();
    let az = cam.pan_zero_deg + pose.pan_deg + ((fx - 0.5) * 2.0 * th).atan().to_degrees();
    let el = pose.tilt_deg + ((0.5 - fy) * 2.0 * tv).atan().to_degrees();
    (az.rem_euclid(360.0), el)
}

/// The ground point seen at frame position (fx, fy).
pub fn ground_fix(aoi: &Aoi, cam: &Camera, pose: &Pose, aspect: f64, fx: f64, fy: f64) -> GroundFix {
    let (az, el) = ray(cam, pose, aspect, fx, fy);
    let (sx, sy) = aoi.projector.to_m(cam.lon, cam.lat);
    let lens = aoi.elevation(cam.lon, cam.lat) + cam.height_m;
    let (ux, uy) = (az.to_radians().sin(), az.to_radians().cos());
    let slope = el.to_radians().tan();
    let mut d = STEP_M;
    while d <= cam.range_m {
        let (lon, lat) = aoi.projector.to_deg(sx + ux * d, sy + uy * d);
        if lens + slope * d <= aoi.elevation(lon, lat) {
            return GroundFix {
                lon,
                lat,
                azimuth_deg: az,
                distance_m: d,
                radius_m: (0.1 * d).max(STEP_M),
                hit_ground: true,
            };
        }
        d += STEP_M;
    }
    let (lon, lat) = aoi.projector.to_deg(sx + ux * cam.range_m, sy + uy * cam.range_m);
    GroundFix { lon, lat, azimuth_deg: az, distance_m: cam.range_m, radius_m: 0.3 * cam.range_m, hit_ground: false }
}

/// Frame position (fx, fy) in 0..1 of a ground point, or `None` when it is out of view.
pub fn project(aoi: &Aoi, cam: &Camera, pose: &Pose, aspect: f64, lon: f64, lat: f64) -> Option<(f64, f64)> {
    let (sx, sy) = aoi.projector.to_m(cam.lon, cam.lat);
    let (tx, ty) = aoi.projector.to_m(lon, lat);
    let d = (tx - sx).hypot(ty - sy);
    let az = (tx - sx).atan2(ty - sy).to_degrees();
    let drop = aoi.elevation(lon, lat) - (aoi.elevation(cam.lon, cam.lat) + cam.height_m);
    let el = drop.atan2(d).to_degrees();
    let rel_az = (az - cam.pan_zero_deg - pose.pan_deg + 540.0).rem_euclid(360.0) - 180.0;
    let th = (pose.hfov_deg.to_radians() / 2.0).tan();
    let tv = (vfov_deg(pose.hfov_deg, aspect).to_radians() / 2.0).tan();
    let fx = 0.5 + rel_az.to_radians().tan() / (2.0 * th);
    let fy = 0.5 - (el - pose.tilt_deg).to_radians().tan() / (2.0 * tv);
    (rel_az.abs() < 89.0 && (0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy)).then_some((fx, fy))
}
