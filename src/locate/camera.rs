//! Camera geometry: from a position in a frame and the tower's pose to a point on the ground,
//! and back (used to plant sample smoke where a known fire is); and the intersection of
//! bearings from two or more towers ([`triangulate`]).
//!
//! Pinhole model, no roll: azimuth = pan-zero heading + pan + the pixel's horizontal angle;
//! elevation = tilt + the pixel's vertical angle. The ray leaves the lens (the tower's height
//! above its base on the DEM) and is marched over the DEM, with the Earth's curvature and standard atmospheric
//! refraction (an effective radius of R / (1 − 0.13)): the ground falls away by d² / 2R_eff at
//! distance d. The crossing is refined by bisection. The fix's uncertainty comes from the
//! angular errors (pixel and pose): across the ray s·σ (s the slant distance), along it
//! (d² + h²)·σ / h (d the ground distance, h the lens' height above the fix) — it grows with
//! range, fast for grazing rays. A ray that grazes (meets the ground at less than
//! `MIN_GRAZING_DEG`) or misses is capped at the camera's range and flagged. [`march_from`] is
//! the one marcher: a tower's ray starts at its mast ([`Lens::tower`]), a drone's wherever the
//! drone flies (`locate::drone`).

use crate::aoi::{Aoi, Camera};
use crate::grid::Projector;
use crate::ingest::frame::Pose;

/// Where a frame position lands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundFix {
    pub lon: f64,
    pub lat: f64,
    pub azimuth_deg: f64,
    pub distance_m: f64,
    /// Location uncertainty, metres (1 σ, the larger of the along- and across-ray errors).
    pub radius_m: f64,
    /// False when the ray never met the ground within range (placed at the range limit).
    pub hit_ground: bool,
    /// True when the ray met the ground at a grazing angle or not at all: the distance is
    /// capped and poorly known (a second tower or a person must place it).
    pub near_horizon: bool,
}

/// Angular errors a fix is judged by, degrees (1 σ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AngleErrors {
    /// Pose (pan/tilt read-out and mounting) error.
    pub pose_deg: f64,
    /// The plume base's pixel position error, as an angle.
    pub pixel_deg: f64,
}

impl AngleErrors {
    /// ±0.2° pose and ±2 px on a frame `width_px` wide covering `hfov_deg`.
    pub fn typical(hfov_deg: f64, width_px: f64) -> AngleErrors {
        AngleErrors { pose_deg: 0.2, pixel_deg: 2.0 * hfov_deg / width_px.max(1.0) }
    }
    fn total_rad(&self) -> f64 {
        self.pose_deg.hypot(self.pixel_deg).to_radians()
    }
}

/// Earth radius, metres, and the standard refraction coefficient.
const EARTH_R_M: f64 = 6_371_000.0;
const REFRACTION_K: f64 = 0.13;
/// Rays meeting the ground at less than this (degrees) are treated as near the horizon.
pub const MIN_GRAZING_DEG: f64 = 0.15;
const STEP_M: f64 = 20.0;

/// How far the ground falls below the tangent plane at distance `d`, metres (curvature with
/// standard refraction).
pub fn earth_drop_m(d: f64) -> f64 {
    d * d * (1.0 - REFRACTION_K) / (2.0 * EARTH_R_M)
}

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

/// The ground point seen at frame position (fx, fy), with the typical angular errors for a
/// frame 1920 px wide.
pub fn ground_fix(aoi: &Aoi, cam: &Camera, pose: &Pose, aspect: f64, fx: f64, fy: f64) -> GroundFix {
    let (az, el) = ray(cam, pose, aspect, fx, fy);
    march(aoi, cam, az, el, &AngleErrors::typical(pose.hfov_deg, 1920.0))
}

/// Where a ray starts: a lens at a known height above sea level, how far it may reach, and the
/// smallest uncertainty a fix from it is given. A tower's lens is its mast on the DEM; a drone's
/// is wherever it flies ([`crate::locate::drone`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lens {
    pub lon: f64,
    pub lat: f64,
    /// Height of the lens above sea level (the DEM's datum), metres.
    pub alt_m: f64,
    /// Farthest ground distance a ray is followed to, metres.
    pub range_m: f64,
    /// The smallest radius a fix is given, metres.
    pub min_radius_m: f64,
}

impl Lens {
    /// A tower's lens: its height above the DEM at its foot.
    pub fn tower(aoi: &Aoi, cam: &Camera) -> Lens {
        let alt_m = aoi.elevation(cam.lon, cam.lat) + cam.height_m;
        Lens { lon: cam.lon, lat: cam.lat, alt_m, range_m: cam.range_m, min_radius_m: STEP_M }
    }
}

/// A ray's angular errors, radians (1 σ): across it (azimuth) and along it (elevation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaySigma {
    pub azimuth_rad: f64,
    pub elevation_rad: f64,
}

/// The ground point along azimuth `az` and elevation `el` (degrees) from the camera's lens.
pub fn march(aoi: &Aoi, cam: &Camera, az: f64, el: f64, errors: &AngleErrors) -> GroundFix {
    let sigma = errors.total_rad();
    march_from(aoi, &Lens::tower(aoi, cam), az, el, RaySigma { azimuth_rad: sigma, elevation_rad: sigma })
}

/// The ground point along azimuth `az` and elevation `el` (degrees) from `lens`: the one ray
/// marcher of towers and drones. The fix's radius is the larger of the across-ray error
/// (slant distance × σ_azimuth) and the along-ray one ((d² + h²) / h × σ_elevation, d the ground
/// distance and h the lens' height above the fix: d²/h for a grazing tower ray, h straight
/// down), between `lens.min_radius_m` and 0.3 × range.
pub fn march_from(aoi: &Aoi, lens: &Lens, az: f64, el: f64, sigma: RaySigma) -> GroundFix {
    let (sx, sy) = aoi.projector.to_m(lens.lon, lens.lat);
    let (ux, uy) = (az.to_radians().sin(), az.to_radians().cos());
    let slope = el.to_radians().tan();
    let at = |d: f64| aoi.projector.to_deg(sx + ux * d, sy + uy * d);
    // height of the ray above the ground at distance d (negative: below it)
    let above = |d: f64| {
        let (lon, lat) = at(d);
        lens.alt_m + slope * d + earth_drop_m(d) - aoi.elevation(lon, lat)
    };
    let capped = |hit: bool| {
        let (lon, lat) = at(lens.range_m);
        GroundFix {
            lon,
            lat,
            azimuth_deg: az,
            distance_m: lens.range_m,
            radius_m: 0.3 * lens.range_m,
            hit_ground: hit,
            near_horizon: true,
        }
    };
    let (mut prev, mut d) = (0.0, STEP_M);
    while d <= lens.range_m {
        if above(d) <= 0.0 {
            let (mut lo, mut hi) = (prev, d);
            for _ in 0..20 {
                let mid = 0.5 * (lo + hi);
                if above(mid) <= 0.0 {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            // the angle at which the ray meets the ground: its height over the last 100 m
            let back = hi.min(100.0);
            let grazing = if back > 0.0 { (above(hi - back) / back).atan().to_degrees() } else { 90.0 };
            if grazing < MIN_GRAZING_DEG {
                return capped(true);
            }
            let (lon, lat) = at(hi);
            let height = (lens.alt_m - aoi.elevation(lon, lat)).max(1.0) + earth_drop_m(hi);
            let along = (hi * hi + height * height) / height * sigma.elevation_rad;
            let across = hi.hypot(height) * sigma.azimuth_rad;
            return GroundFix {
                lon,
                lat,
                azimuth_deg: az,
                distance_m: hi,
                radius_m: along.max(across).max(lens.min_radius_m).min(0.3 * lens.range_m),
                hit_ground: true,
                near_horizon: false,
            };
        }
        prev = d;
        d += STEP_M;
    }
    capped(false)
}

/// Two or more towers' bearings to one plume, intersected.
#[derive(Debug, Clone, PartialEq)]
pub struct Triangulated {
    pub lon: f64,
    pub lat: f64,
    /// The 1 σ error ellipse: semi-axes (major, minor), metres, and the major axis' azimuth,
    /// degrees clockwise from north.
    pub ellipse_m: (f64, f64),
    pub ellipse_azimuth_deg: f64,
    /// The radius a ticket takes: the major semi-axis.
    pub radius_m: f64,
}

/// One tower's bearing: where it stands and the azimuth (degrees from north) it sees the plume at,
/// with its angular error (degrees, 1 σ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bearing {
    pub lon: f64,
    pub lat: f64,
    pub azimuth_deg: f64,
    pub sigma_deg: f64,
}

/// Weighted least-squares intersection of bearing lines (each weighted by 1 / (d σ)², d its
/// distance to the solution, refined twice), with the error ellipse from the normal matrix.
/// `None` with fewer than two bearings, near-parallel lines (crossing under 5°), or a solution
/// behind a tower.
pub fn triangulate(bearings: &[Bearing]) -> Option<Triangulated> {
    if bearings.len() < 2 {
        return None;
    }
    let proj = Projector::new(bearings[0].lon, bearings[0].lat);
    // each bearing as (tower in metres, unit direction, σ in radians)
    type Line = ((f64, f64), (f64, f64), f64);
    let lines: Vec<Line> = bearings
        .iter()
        .map(|b| {
            let a = b.azimuth_deg.to_radians();
            (proj.to_m(b.lon, b.lat), (a.sin(), a.cos()), b.sigma_deg.max(1e-3).to_radians())
        })
        .collect();
    let max_cross = lines
        .iter()
        .flat_map(|(_, u, _)| lines.iter().map(move |(_, v, _)| (u.0 * v.1 - u.1 * v.0).abs()))
        .fold(0.0, f64::max);
    if max_cross < 5f64.to_radians().sin() {
        return None;
    }
    let solve = |dist: &dyn Fn(usize) -> f64| -> Option<((f64, f64), [f64; 3])> {
        let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, ((px, py), (ux, uy), s)) in lines.iter().enumerate() {
            let w = 1.0 / (dist(i) * s).powi(2);
            let (nx, ny) = (-uy, *ux);
            let c = nx * px + ny * py;
            a11 += w * nx * nx;
            a12 += w * nx * ny;
            a22 += w * ny * ny;
            b1 += w * nx * c;
            b2 += w * ny * c;
        }
        let det = a11 * a22 - a12 * a12;
        (det.abs() > 1e-18).then(|| (((a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det), [a11, a12, a22]))
    };
    let (mut x, mut normal) = solve(&|_| 1000.0)?;
    for _ in 0..2 {
        let at = x;
        (x, normal) = solve(&|i| (at.0 - lines[i].0 .0).hypot(at.1 - lines[i].0 .1).max(50.0))?;
    }
    // in front of every tower
    if lines.iter().any(|((px, py), (ux, uy), _)| (x.0 - px) * ux + (x.1 - py) * uy <= 0.0) {
        return None;
    }
    // covariance = inverse of the normal matrix; its eigenvalues are the squared semi-axes
    let [a11, a12, a22] = normal;
    let det = a11 * a22 - a12 * a12;
    let (c11, c12, c22) = (a22 / det, -a12 / det, a11 / det);
    let mean = 0.5 * (c11 + c22);
    let spread = (0.25 * (c11 - c22).powi(2) + c12 * c12).sqrt();
    let (major, minor) = ((mean + spread).max(0.0).sqrt(), (mean - spread).max(0.0).sqrt());
    // the major axis' direction in (east, north), as an azimuth
    let angle = 0.5 * (2.0 * c12).atan2(c11 - c22); // from east, counter-clockwise
    let azimuth = (90.0 - angle.to_degrees()).rem_euclid(180.0);
    let (lon, lat) = proj.to_deg(x.0, x.1);
    Some(Triangulated { lon, lat, ellipse_m: (major, minor), ellipse_azimuth_deg: azimuth, radius_m: major })
}

/// Frame position (fx, fy) in 0..1 of a ground point, or `None` when it is out of view.
pub fn project(aoi: &Aoi, cam: &Camera, pose: &Pose, aspect: f64, lon: f64, lat: f64) -> Option<(f64, f64)> {
    let (sx, sy) = aoi.projector.to_m(cam.lon, cam.lat);
    let (tx, ty) = aoi.projector.to_m(lon, lat);
    let d = (tx - sx).hypot(ty - sy);
    let az = (tx - sx).atan2(ty - sy).to_degrees();
    let drop = aoi.elevation(lon, lat) - earth_drop_m(d) - (aoi.elevation(cam.lon, cam.lat) + cam.height_m);
    let el = drop.atan2(d).to_degrees();
    let rel_az = (az - cam.pan_zero_deg - pose.pan_deg + 540.0).rem_euclid(360.0) - 180.0;
    let th = (pose.hfov_deg.to_radians() / 2.0).tan();
    let tv = (vfov_deg(pose.hfov_deg, aspect).to_radians() / 2.0).tan();
    let fx = 0.5 + rel_az.to_radians().tan() / (2.0 * th);
    let fy = 0.5 - (el - pose.tilt_deg).to_radians().tan() / (2.0 * tv);
    (rel_az.abs() < 89.0 && (0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy)).then_some((fx, fy))
}
