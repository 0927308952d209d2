//! Sample inputs for demos and tests (`firepoint simulate`): one satellite pass over the sample
//! district as a brightness-temperature GeoTIFF with planted fires, and tower-camera frames with
//! pose sidecars, some with a drawn smoke plume over a planted fire. Deterministic for a seed.
//!
//! It also writes `truth.json` beside the inbox: what was planted where, so a person or a test
//! can check what the pipeline found. The frames are drawings, not photographs: whether the
//! smoke model (trained on real photographs) sees their plumes is itself something to measure.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, TimeZone, Utc};
use gdal::raster::Buffer;
use gdal::{DriverManager, Metadata};
use image::{Rgb, RgbImage};
use serde::Serialize;

use crate::aoi::generate::{BRICK_KILN, CEMENT_PLANT};
use crate::aoi::Aoi;
use crate::ingest::frame::Pose;
use crate::locate::camera;
use crate::rng::SplitMix;

/// One planted fire.
#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    pub label: String,
    pub lon: f64,
    pub lat: f64,
    /// What firepoint should make of it.
    pub expect: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub satellite: Vec<Planted>,
    pub camera: Vec<Planted>,
    pub files: Vec<PathBuf>,
}

const RES: f64 = 0.01;
const FRAME_W: u32 = 640;
const FRAME_H: u32 = 480;

pub fn pass_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap()
}

/// The county weather bureau's rain forecast for the evening after the sample day, for the first
/// township (the 下雨前 window of the patrol plan; the pass's fires lie in other townships).
fn forecast(aoi: &Aoi, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let town = aoi.townships.first().context("sample AOI has no township")?;
    let path = dir.join("county_forecast_20260611.csv");
    let text = format!(
        "\u{feff}valid_from,valid_to,probability,amount_mm,township\n2026-06-11 18:00,2026-06-12 02:00,80%,12,{}\n",
        town.code
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Writes sample inputs under `inbox` (satellite/, frames/, weather/) and `truth.json` beside it.
pub fn simulate(aoi: &Aoi, inbox: &Path, seed: u64) -> Result<Truth> {
    let mut rng = SplitMix::new(seed);
    let mut truth = Truth { satellite: Vec::new(), camera: Vec::new(), files: Vec::new() };
    let sat = satellite(aoi, &inbox.join("satellite"), pass_time(), &mut rng, &mut truth)?;
    truth.files.push(sat);
    frames(aoi, &inbox.join("frames"), &mut rng, &mut truth)?;
    truth.files.push(forecast(aoi, &inbox.join("weather"))?);
    let truth_path = inbox.parent().unwrap_or(Path::new(".")).join("truth.json");
    std::fs::write(&truth_path, serde_json::to_string_pretty(&truth)? + "\n")
        .with_context(|| format!("cannot write {}", truth_path.display()))?;
    Ok(truth)
}

fn satellite(aoi: &Aoi, dir: &Path, at: DateTime<Utc>, rng: &mut SplitMix, truth: &mut Truth) -> Result<PathBuf> {
    use geo::BoundingRect;
    std::fs::create_dir_all(dir)?;
    let r = aoi.county.area.bounding_rect().context("empty county")?;
    let (x0, y0) = ((r.min().x / RES).floor() * RES - 0.1, (r.max().y / RES).ceil() * RES + 0.1);
    let w = ((r.max().x + 0.1 - x0) / RES).ceil() as usize;
    let h = ((y0 - (r.min().y - 0.1)) / RES).ceil() as usize;
    let mut t11: Vec<f32> =
        (0..w * h).map(|i| (293.0 + 2.0 * (i % w) as f64 / w as f64 + rng.normal(0.5)) as f32).collect();
    let mut t4: Vec<f32> = t11.iter().map(|&v| v + 4.0 + rng.normal(0.7) as f32).collect();
    let cell = |lon: f64, lat: f64| (((y0 - lat) / RES) as usize, ((lon - x0) / RES) as usize);
    let mut plant = |label: &str, lon: f64, lat: f64, pixels: &[(i64, i64, f32)], expect: &str| {
        let (row, col) = cell(lon, lat);
        for &(dr, dc, heat) in pixels {
            let i = (row as i64 + dr) as usize * w + (col as i64 + dc) as usize;
            t4[i] += heat;
            t11[i] += heat * 0.06;
        }
        let (clon, clat) = (x0 + (col as f64 + 0.5) * RES, y0 - (row as f64 + 0.5) * RES);
        truth.satellite.push(Planted { label: label.into(), lon: clon, lat: clat, expect: expect.into() });
    };
    plant("straw fire, two pixels", 115.655, 37.645, &[(0, 0, 38.0), (0, 1, 22.0)], "ticket: straw");
    plant("straw fire", 115.565, 37.705, &[(0, 0, 30.0)], "ticket: straw");
    plant("fire near national station 1999B", 115.785, 37.675, &[(0, 0, 45.0)], "ticket: high priority");
    plant("cement plant kiln", CEMENT_PLANT.0, CEMENT_PLANT.1, &[(0, 0, 35.0)], "suppressed: known heat source");
    plant("fire outside the county", 115.45, 37.45, &[(0, 0, 40.0)], "dropped: outside the AOI");

    let path = dir.join(format!("SIM_AQUA_{}.tif", at.format("%Y%m%dT%H%MZ")));
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let mut ds = driver.create_with_band_type::<f32, _>(&path, w, h, 2)?;
    ds.set_geo_transform(&[x0, RES, 0.0, y0, 0.0, -RES])?;
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326)?)?;
    ds.set_metadata_item("ACQUISITION_TIME", &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "")?;
    ds.set_metadata_item("SENSOR", "MODIS-Aqua-like (simulated)", "")?;
    for (n, (data, um, desc)) in [(t4, "3.96", "BT_3.9um"), (t11, "11.03", "BT_11um")].into_iter().enumerate() {
        let mut band = ds.rasterband(n + 1)?;
        band.set_description(desc)?;
        band.set_metadata_item("WAVELENGTH_UM", um, "")?;
        band.set_metadata_item("UNITS", "K", "")?;
        band.set_no_data_value(Some(-9999.0))?;
        band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
    }
    Ok(path)
}

/// What a demo camera watches: a fire that starts after the view's history, or a cloud that
/// drifts across its sky (no fire).
enum Story {
    Fire { label: &'static str, lon: f64, lat: f64, expect: &'static str },
    Cloud,
}

/// A demo tower sequence: one frame a minute at one preset, `history` frames of the quiet view
/// before anything happens, then `after` frames of the story.
struct Shot {
    camera: &'static str,
    story: Story,
    pan_deg: f64,
    history: usize,
    after: usize,
}

/// Frames of the view's own past before the story begins: more than a view model's warm-up,
/// so that what comes after is judged against the view's memory.
const HISTORY_FRAMES: usize = 6;

fn frames(aoi: &Aoi, dir: &Path, rng: &mut SplitMix, truth: &mut Truth) -> Result<()> {
    let cam3 = aoi.camera("CAM03").context("sample AOI has no CAM03")?;
    let cam8 = aoi.camera("CAM08").context("sample AOI has no CAM08")?;
    // targets placed relative to their towers: 2.4 km at 60°, and the brick kiln's village edge
    let (sx, sy) = aoi.projector.to_m(cam3.lon, cam3.lat);
    let straw = aoi.projector.to_deg(sx + 2400.0 * 60f64.to_radians().sin(), sy + 2400.0 * 60f64.to_radians().cos());
    let garbage = village_edge(aoi, cam8).unwrap_or((BRICK_KILN.0 + 0.01, BRICK_KILN.1));
    let (h, after) = (HISTORY_FRAMES, 6);
    let shots = [
        Shot {
            camera: "CAM03",
            story: Story::Fire { label: "straw smoke", lon: straw.0, lat: straw.1, expect: "ticket: straw, camera" },
            pan_deg: 0.0,
            history: h,
            after,
        },
        Shot {
            camera: "CAM08",
            story: Story::Fire {
                label: "garbage smoke at a village",
                lon: garbage.0,
                lat: garbage.1,
                expect: "ticket: garbage, camera",
            },
            pan_deg: 0.0,
            history: h,
            after,
        },
        Shot { camera: "CAM05", story: Story::Cloud, pan_deg: 135.0, history: h, after },
    ];
    for shot in shots {
        let cam = aoi.camera(shot.camera).with_context(|| format!("sample AOI has no {}", shot.camera))?;
        let sub = dir.join(shot.camera);
        std::fs::create_dir_all(&sub)?;
        let pan = match shot.story {
            Story::Fire { lon, lat, .. } => aim_at(aoi, cam, lon, lat),
            Story::Cloud => shot.pan_deg,
        };
        let aspect = FRAME_H as f64 / FRAME_W as f64;
        let plume = Plume::new(rng);
        // the view's history ends at the pass; the story runs one frame a minute after it
        for k in 0..shot.history + shot.after {
            let minute = k as i64 - shot.history as i64 + 1;
            let at = pass_time() + Duration::minutes(minute);
            let pose = pose(cam, at, pan);
            let mut img = landscape(cam, &pose, (FRAME_W, FRAME_H), rng);
            if let Some(step) = k.checked_sub(shot.history) {
                match shot.story {
                    Story::Fire { lon, lat, .. } => {
                        if let Some((fx, fy)) = camera::project(aoi, cam, &pose, aspect, lon, lat) {
                            plume.draw(&mut img, fx, fy, 0.45 + 0.15 * step as f64);
                        }
                    }
                    Story::Cloud => draw_cloud(&mut img, 0.15 + 0.09 * step as f64, 0.18, rng),
                }
            }
            let stem = format!("{}_{}", cam.id, at.format("%Y%m%dT%H%M%SZ"));
            let path = sub.join(format!("{stem}.jpg"));
            let file = std::fs::File::create(&path)?;
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90).encode_image(&img)?;
            std::fs::write(sub.join(format!("{stem}.json")), serde_json::to_string_pretty(&pose)? + "\n")?;
            truth.files.push(path);
        }
        match shot.story {
            Story::Fire { label, lon, lat, expect } => {
                truth.camera.push(Planted { label: label.into(), lon, lat, expect: expect.into() })
            }
            Story::Cloud => {
                let (lon, lat) = (cam.lon, cam.lat);
                let (label, expect) = ("a cloud drifting across the sky", "no ticket (a moving cloud is no fire)");
                truth.camera.push(Planted { label: label.into(), lon, lat, expect: expect.into() })
            }
        }
    }
    Ok(())
}

/// A soft bright cloud drifting across the upper sky: centre at frame fractions (`fx`, `fy`).
fn draw_cloud(img: &mut RgbImage, fx: f64, fy: f64, rng: &mut SplitMix) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let (cx, cy, rx, ry) = (fx * w, fy * h, 0.16 * w, 0.07 * h);
    let bumps: Vec<(f64, f64, f64)> =
        (0..6).map(|i| (cx + (i as f64 - 2.5) * rx * 0.32, cy + rng.normal(0.2) * ry, rx * 0.45)).collect();
    for y in (cy - 2.0 * ry).max(0.0) as u32..((cy + 2.0 * ry).min(h - 1.0) as u32) {
        for x in (cx - 2.0 * rx).max(0.0) as u32..((cx + 2.0 * rx).min(w - 1.0) as u32) {
            let a = bumps.iter().fold(0.0f64, |a, &(bx, by, r)| {
                let d = ((x as f64 - bx) / r).powi(2) + ((y as f64 - by) / (r * ry / rx)).powi(2);
                a.max((1.0 - d).max(0.0))
            }) * 0.75;
            let px = img.get_pixel_mut(x, y);
            for c in 0..3 {
                px[c] = (px[c] as f64 * (1.0 - a) + 240.0 * a) as u8;
            }
        }
    }
}

/// A plume of one fire: its shape (lean, width, turbulence, shade) drawn once and kept, so the
/// frames of a sequence show the same plume rising and widening from the same base.
struct Plume {
    lean: f64,
    width: f64,
    shade: f64,
    /// Turbulence: a coarse grid of random values, interpolated (value noise).
    noise: Vec<f64>,
}

const NOISE: usize = 9;

impl Plume {
    fn new(rng: &mut SplitMix) -> Plume {
        Plume {
            lean: rng.range(0.2, 0.7),
            width: rng.range(0.5, 0.8),
            shade: rng.range(205.0, 235.0),
            noise: (0..NOISE * NOISE).map(|_| rng.unit()).collect(),
        }
    }

    /// Value noise at (u, v) in [0, 1]², bilinear between the grid's values.
    fn turbulence(&self, u: f64, v: f64) -> f64 {
        let (gx, gy) = (u.clamp(0.0, 1.0) * (NOISE - 1) as f64, v.clamp(0.0, 1.0) * (NOISE - 1) as f64);
        let (x0, y0) = ((gx as usize).min(NOISE - 2), (gy as usize).min(NOISE - 2));
        let (tx, ty) = (gx - x0 as f64, gy - y0 as f64);
        let at = |x: usize, y: usize| self.noise[y * NOISE + x];
        let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
        let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }

    /// Draws the plume rising from frame position (fx, fy) at `growth` (its height is
    /// `growth` × 150 px of a 640-pixel-wide frame, scaled with the frame's width).
    fn draw(&self, img: &mut RgbImage, fx: f64, fy: f64, growth: f64) {
        let (w, h) = (img.width() as f64, img.height() as f64);
        let scale = w / FRAME_W as f64;
        let (bx, by) = (fx * w, fy * h);
        let height = 150.0 * growth * scale;
        let top_w = height * self.width;
        let (x0, x1) = ((bx - top_w).max(0.0) as u32, ((bx + top_w * (1.0 + self.lean)).min(w - 1.0)) as u32);
        let (y0, y1) = ((by - height).max(0.0) as u32, (by.min(h - 1.0)) as u32);
        for y in y0..=y1 {
            let t = (by - y as f64) / height; // 0 at the base, 1 at the top
            let centre = bx + self.lean * top_w * t * t;
            let half = (0.12 + 0.88 * t.powf(0.7)) * top_w / 2.0 + 1.0;
            for x in x0..=x1 {
                let d = (x as f64 - centre) / half;
                let core = (-1.3 * d * d).exp();
                let turb = 0.5 + self.turbulence((x as f64 - bx + top_w) / (2.5 * top_w), t);
                let a = (core * turb * 0.8 * (1.0 - t.powi(3))).clamp(0.0, 0.9);
                let px = img.get_pixel_mut(x, y);
                for c in 0..3 {
                    px[c] = (px[c] as f64 * (1.0 - a) + self.shade * a) as u8;
                }
            }
        }
    }
}

/// A point just outside the built-up block of the village nearest to `cam`'s 1.5–3 km ring.
fn village_edge(aoi: &Aoi, cam: &crate::aoi::Camera) -> Option<(f64, f64)> {
    use geo::Centroid;
    aoi.villages
        .iter()
        .filter_map(|v| v.area.centroid().map(|c| (c.x(), c.y())))
        .map(|c| (c, aoi.projector.distance_m(c, (cam.lon, cam.lat))))
        .filter(|(_, d)| (1500.0..3000.0).contains(d))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|((lon, lat), _)| (lon + 0.0012, lat + 0.0012))
}

/// A North China Plain view as a tower sees it: a hazy sky paling to the horizon, a tree line
/// and village roofs along it, and fields in perspective (stubble, maize, bare soil, wheat) fading
/// into the haze with distance, the horizon where the pose puts it. The scene is a function of
/// the camera and its preset alone, so every frame of a view shows the same place; `rng` adds
/// each frame's own sensor noise and a slight exposure change.
fn landscape(cam: &crate::aoi::Camera, pose: &Pose, (frame_w, frame_h): (u32, u32), rng: &mut SplitMix) -> RgbImage {
    let aspect = frame_h as f64 / frame_w as f64;
    // the horizon: the row whose ray has elevation 0
    let horizon = (0..frame_h)
        .find(|&y| camera::ray(cam, pose, aspect, 0.5, y as f64 / frame_h as f64).1 < 0.0)
        .unwrap_or(frame_h / 2);
    let view_seed = cam.id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
        ^ (pose.pan_deg.round() as i64 as u64).wrapping_mul(0x9E37_79B9);
    let hash = |a: i64, b: i64| -> f64 {
        let mut r = SplitMix::new(view_seed ^ (a as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (b as u64) << 17);
        r.unit()
    };
    let (w, h) = (frame_w as f64, frame_h as f64);
    let scale = w / FRAME_W as f64;
    let haze = [214.0, 220.0, 224.0];
    let exposure = 1.0 + rng.normal(0.01);
    let palette = [[168.0, 150.0, 112.0], [92.0, 118.0, 64.0], [128.0, 106.0, 82.0], [182.0, 168.0, 112.0]];
    let mut img = RgbImage::new(frame_w, frame_h);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let n = rng.normal(3.0);
        let hz = horizon as f64;
        // the tree line: a ragged dark band just above the horizon, with a village block now and then
        let column = (x as f64 / (6.0 * scale)) as i64;
        let trees = (2.0 + 5.0 * hash(column, 7)) * scale;
        let village = hash(column / 9, 11) < 0.18;
        let v = if (y as f64) < hz - trees - if village { 3.0 * scale } else { 0.0 } {
            let t = (y as f64 / hz.max(1.0)).powf(0.6);
            [118.0 + (haze[0] - 118.0) * t, 152.0 + (haze[1] - 152.0) * t, 205.0 + (haze[2] - 205.0) * t]
        } else if (y as f64) < hz {
            let base = if village && hash(column, 13) < 0.5 { [150.0, 112.0, 104.0] } else { [82.0, 94.0, 84.0] };
            base.map(|c| c * 0.55 + 0.45 * 210.0)
        } else {
            // fields: rows in depth, parcels across, each of one crop
            let depth = ((y as f64 - hz) / (h - hz).max(1.0)).max(1e-3);
            let dist = 1.0 / depth;
            let across = (x as f64 - w / 2.0) / w * dist;
            let (row, parcel) = ((dist * 2.2) as i64, (across * 3.0 + hash((dist * 2.2) as i64, 3) * 7.0) as i64);
            let crop = palette[(hash(row, parcel) * palette.len() as f64) as usize % palette.len()];
            let furrow = 1.0 + 0.06 * ((across * 160.0).sin());
            let mist = (-depth * 5.0).exp() * 0.65;
            [0, 1, 2].map(|c| (crop[c] * furrow) * (1.0 - mist) + haze[c] * mist)
        };
        *px = Rgb(v.map(|c| (c * exposure + n).clamp(0.0, 255.0) as u8));
    }
    img
}

/// A drone photo (`size` pixels) of textured fields seen from `pose` (sky above the horizon
/// where the pose shows it), with a plume rising from photo position `plume` when given.
/// Deterministic for a seed; used by the drone tests, which write the photo's metadata
/// themselves.
pub fn drone_photo(
    pose: &crate::ingest::drone::DronePose,
    (w, h): (u32, u32),
    plume: Option<(f64, f64)>,
    seed: u64,
) -> RgbImage {
    let mut rng = SplitMix::new(seed);
    let aspect = h as f64 / w as f64;
    let phase = rng.range(0.0, std::f64::consts::TAU) as f32;
    let mut img = RgbImage::new(w, h);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let n = (rng.unit() * 10.0) as f32;
        let (fx, fy) = (x as f64 / w as f64, y as f64 / h as f64);
        let v = if crate::locate::drone::ray(pose, aspect, fx, fy).1 >= 0.0 {
            [150.0 + n, 185.0 + n, 225.0 + n]
        } else {
            // strips of fields across the photo, some stubble-brown, some green
            let stripe = ((x as f32 * 0.05 + y as f32 * 0.02 + phase).sin() * 0.5 + 0.5) * 30.0;
            [100.0 + stripe + n, 115.0 + stripe * 0.5 + n, 60.0 + n]
        };
        *px = Rgb(v.map(|c| c.clamp(0.0, 255.0) as u8));
    }
    if let Some((fx, fy)) = plume {
        draw_plume(&mut img, fx, fy, 1.6, &mut rng);
    }
    img
}

/// A grey-white plume rising from (fx, fy), leaning with the wind; `growth` scales its height.
/// Drawn for a 640-pixel-wide frame and scaled with the frame's width.
fn draw_plume(img: &mut RgbImage, fx: f64, fy: f64, growth: f64, rng: &mut SplitMix) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let (bx, by) = (fx * w, fy * h);
    let scale = w / FRAME_W as f64;
    let puffs = (40.0 * growth) as usize;
    for i in 0..puffs {
        let t = i as f64 / puffs as f64;
        let cx = bx + 70.0 * scale * growth * t * t + rng.normal(3.0) * scale;
        let cy = by - 120.0 * scale * growth * t;
        let r = (5.0 + 28.0 * t * growth.sqrt()) * scale;
        let alpha = 0.55 * (1.0 - 0.6 * t);
        let shade = 205.0 + 30.0 * rng.unit();
        let (x0, x1) = ((cx - r).max(0.0) as u32, (cx + r).min(w - 1.0) as u32);
        let (y0, y1) = ((cy - r).max(0.0) as u32, (cy + r).min(h - 1.0) as u32);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt() / r;
                if d < 1.0 {
                    let a = alpha * (1.0 - d * d);
                    let px = img.get_pixel_mut(x, y);
                    for c in 0..3 {
                        px[c] = (px[c] as f64 * (1.0 - a) + shade * a) as u8;
                    }
                }
            }
        }
    }
}

/// One cron slice of a simulated county day (`firepoint simulate --slice`).
#[derive(Debug, Clone)]
pub struct Slice {
    /// The first minute of the slice (UTC).
    pub start: DateTime<Utc>,
    /// One frame a minute from every camera, for this many minutes.
    pub minutes: u32,
    /// Frame width and height, pixels.
    pub size: (u32, u32),
    /// Only the district's first N cameras (all when None).
    pub cameras: Option<usize>,
    /// Smoke events over the slice's UTC day (the same events whatever the slice).
    pub fires_per_day: usize,
    /// Also a satellite pass at `start`, with the sample pass's planted fires.
    pub scene: bool,
}

/// What a slice wrote.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SliceWritten {
    pub frames: usize,
    pub frames_with_smoke: usize,
    pub scenes: usize,
}

/// A smoke event of the day: one camera watches a fire for `minutes` from `start`.
struct Fire {
    camera: usize,
    start: DateTime<Utc>,
    minutes: i64,
    lon: f64,
    lat: f64,
}

/// The day's smoke events for `cameras`, from the seed and the UTC day alone.
fn day_fires(aoi: &Aoi, cameras: &[&crate::aoi::Camera], seed: u64, day: DateTime<Utc>, n: usize) -> Vec<Fire> {
    let mut rng = SplitMix::new(seed ^ day.timestamp() as u64);
    (0..n)
        .map(|_| {
            let camera = (rng.next_u64() % cameras.len().max(1) as u64) as usize;
            let start = day + Duration::minutes((rng.next_u64() % 1440) as i64);
            let minutes = 20 + (rng.next_u64() % 26) as i64;
            let (bearing, dist) = (rng.range(0.0, 360.0).to_radians(), rng.range(1500.0, 4000.0));
            let (cx, cy) = aoi.projector.to_m(cameras[camera].lon, cameras[camera].lat);
            let (lon, lat) = aoi.projector.to_deg(cx + dist * bearing.sin(), cy + dist * bearing.cos());
            Fire { camera, start, minutes, lon, lat }
        })
        .collect()
}

/// Writes one slice of a county day under `inbox`: `frames/<camera>/` one frame a minute from
/// each camera (sidecar beside it), most of them plain landscape at one of four presets that the
/// tower patrols minute by minute, those of a camera watching one of the day's fires pointed at
/// it with a growing plume; and, with `scene`, a satellite pass at the slice's start. Frames are
/// drawn in parallel; the same seed and slice give the same files.
pub fn slice(aoi: &Aoi, inbox: &Path, seed: u64, s: &Slice) -> Result<SliceWritten> {
    use rayon::prelude::*;
    let all: Vec<&crate::aoi::Camera> = aoi.cameras.iter().take(s.cameras.unwrap_or(usize::MAX)).collect();
    let day = s.start.date_naive().and_hms_opt(0, 0, 0).context("bad day")?.and_utc();
    let fires = if all.is_empty() { Vec::new() } else { day_fires(aoi, &all, seed, day, s.fires_per_day) };
    let jobs: Vec<(usize, i64)> = (0..s.minutes as i64).flat_map(|m| (0..all.len()).map(move |c| (c, m))).collect();
    let written = jobs
        .par_iter()
        .map(|&(c, m)| -> Result<bool> {
            let cam = all[c];
            let at = s.start + Duration::minutes(m);
            let minute_of_day = (at - day).num_minutes();
            let mut rng = SplitMix::new(seed ^ ((c as u64) << 32) ^ at.timestamp() as u64);
            let fire =
                fires.iter().find(|f| f.camera == c && at >= f.start && at < f.start + Duration::minutes(f.minutes));
            let pan = match fire {
                Some(f) => aim_at(aoi, cam, f.lon, f.lat),
                None => (c as f64 * 37.0 + (minute_of_day % 4) as f64 * 90.0).rem_euclid(360.0),
            };
            let pose = pose(cam, at, pan);
            let mut img = landscape(cam, &pose, s.size, &mut rng);
            let mut smoke = false;
            if let Some(f) = fire {
                let aspect = s.size.1 as f64 / s.size.0 as f64;
                if let Some((fx, fy)) = camera::project(aoi, cam, &pose, aspect, f.lon, f.lat) {
                    let growth = (1.0 + 0.1 * (at - f.start).num_minutes() as f64).min(3.0);
                    draw_plume(&mut img, fx, fy, growth, &mut rng);
                    smoke = true;
                }
            }
            let sub = inbox.join("frames").join(&cam.id);
            std::fs::create_dir_all(&sub)?;
            let stem = format!("{}_{}", cam.id, at.format("%Y%m%dT%H%M%SZ"));
            let path = sub.join(format!("{stem}.jpg"));
            let file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90).encode_image(&img)?;
            // the sidecar last, as a tower's upload ends
            std::fs::write(sub.join(format!("{stem}.json")), serde_json::to_string_pretty(&pose)? + "\n")?;
            Ok(smoke)
        })
        .collect::<Result<Vec<bool>>>()?;
    let mut out =
        SliceWritten { frames: written.len(), frames_with_smoke: written.iter().filter(|&&s| s).count(), scenes: 0 };
    if s.scene {
        let mut rng = SplitMix::new(seed ^ s.start.timestamp() as u64);
        let mut truth = Truth { satellite: Vec::new(), camera: Vec::new(), files: Vec::new() };
        satellite(aoi, &inbox.join("satellite"), s.start, &mut rng, &mut truth)?;
        out.scenes = 1;
    }
    Ok(out)
}

/// The pan that puts a fire at (`lon`, `lat`) a little left of centre in `cam`'s view.
fn aim_at(aoi: &Aoi, cam: &crate::aoi::Camera, lon: f64, lat: f64) -> f64 {
    let (tx, ty) = aoi.projector.to_m(lon, lat);
    let (cx, cy) = aoi.projector.to_m(cam.lon, cam.lat);
    (tx - cx).atan2(ty - cy).to_degrees() - cam.pan_zero_deg + 4.0
}

/// A simulated frame's pose: level-ish tilt, a 40° lens.
fn pose(cam: &crate::aoi::Camera, at: DateTime<Utc>, pan: f64) -> Pose {
    Pose {
        camera_id: cam.id.clone(),
        captured_at: at,
        pan_deg: pan.rem_euclid(360.0),
        tilt_deg: -1.5,
        hfov_deg: 40.0,
        extra: Default::default(),
    }
}
