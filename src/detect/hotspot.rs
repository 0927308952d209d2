//! Fire pixels in a brightness-temperature scene: a contextual test after MODIS MOD14 C6 (Giglio
//! et al. 2003/2016), with every threshold a documented parameter.
//!
//! Per pixel: the cloud test (T12, or T11 without a 12 µm band, below 265 K); a potential-fire
//! prefilter on T4 and ΔT = T4 − T11; the absolute test; otherwise a background window grown from
//! 3×3 to 21×21 until at least 25 % and at least 8 of its pixels are valid, clear, non-fire
//! background; then the contextual tests on ΔT and T4 against the background means and mean
//! absolute deviations, and by day the T11 test; a ramp-function confidence; FRP by the MIR
//! radiance method. Rows run in parallel (rayon). Thresholds are presets per sensor family.
//! Sun glint is rejected afterwards where the view geometry is known (`detect::glint`).
//! Not here, for want of inputs: a water mask, the desert-boundary and coastal rejections and
//! MOD14's reflectance-based glint tests (they need reflectances and land-cover masks).
//! Day or night thresholds are chosen per pixel by the caller (`detect_with`; a scene that
//! crosses the terminator samples the solar zenith on a coarse grid, `BtScene::daylight`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Thresholds for one time of day, kelvin.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Prefilter: T4 above this ...
    pub potential_t4: f32,
    /// ... and ΔT above this.
    pub potential_dt: f32,
    /// Absolute test: T4 above this is a fire whatever the background.
    pub absolute_t4: f32,
    /// Background pixels with T4 above this ...
    pub bg_fire_t4: f32,
    /// ... and ΔT above this are background fires, left out of the window.
    pub bg_fire_dt: f32,
}

/// Fire-test parameters for one sensor family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HotspotParams {
    /// Day thresholds (sun less than 85° from the zenith at the pixel), kelvin.
    pub day: Thresholds,
    /// Night thresholds, kelvin.
    pub night: Thresholds,
    /// ΔT must exceed the background mean by this many mean absolute deviations ...
    pub dt_mad_k: f32,
    /// ... and by at least this many kelvin.
    pub dt_min_excess: f32,
    /// T4 must exceed the background mean by this many mean absolute deviations.
    pub t4_mad_k: f32,
    /// Background window half-size grows from 1 (3×3) to this (21×21 at 10).
    pub max_half_window: usize,
    /// Valid background pixels needed: at least this fraction of the window ...
    pub min_valid_fraction: f32,
    /// ... and at least this many.
    pub min_valid: usize,
    /// Cloud: a pixel whose 12 µm (or, without that band, 11 µm) brightness temperature is
    /// below this is cloud — never tested, never background (MOD14's T12 < 265 K test).
    pub cloud_t12: f32,
}

/// Thresholds per sensor family; a scene picks its preset by its sensor name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HotspotConfig {
    /// MODIS 1 km (MOD14 C6, Giglio et al. 2016); also used for GeoTIFFs of unknown sensor.
    pub modis: HotspotParams,
    /// VIIRS 375 m I-bands (VNP14IMG, Schroeder et al. 2014): I4 saturates near 367 K, so the
    /// prefilter is higher by day.
    pub viirs_i: HotspotParams,
    /// The geostationary 2 km imagers: GOES-R ABI, Himawari AHI and FY-4 AGRI (`SensorFamily`).
    /// The MODIS values, which meet the targets on the GOES-17 validation scene.
    pub abi: HotspotParams,
}

impl Default for HotspotConfig {
    fn default() -> Self {
        let viirs = HotspotParams {
            day: Thresholds {
                potential_t4: 325.0,
                potential_dt: 25.0,
                absolute_t4: 360.0,
                bg_fire_t4: 335.0,
                bg_fire_dt: 30.0,
            },
            night: Thresholds {
                potential_t4: 295.0,
                potential_dt: 10.0,
                absolute_t4: 320.0,
                bg_fire_t4: 300.0,
                bg_fire_dt: 10.0,
            },
            ..HotspotParams::default()
        };
        HotspotConfig { modis: HotspotParams::default(), viirs_i: viirs, abi: HotspotParams::default() }
    }
}

/// The imager a scene comes from, named by its sensor name or SENSOR tag: the one classifier
/// behind both the test's thresholds ([`HotspotConfig::preset`]) and the FRP channel
/// ([`SensorFamily::band`]), so the two never disagree about a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorFamily {
    /// GOES-R ABI (2 km).
    Abi,
    /// Himawari AHI (2 km, band 7 as ABI's).
    Ahi,
    /// FY-4A/B AGRI (2 km at 3.72 µm).
    Agri,
    /// FY-3 MERSI-II (1 km).
    Mersi,
    /// Suomi-NPP / NOAA-20/21 VIIRS (375 m I-bands).
    Viirs,
    /// Terra / Aqua MODIS (1 km).
    Modis,
    /// A GeoTIFF of an unnamed sensor.
    Generic,
}

impl SensorFamily {
    /// The family of `sensor` (`ABI-G17`, `GOES-16 ABI`, `AHI-H9`, `FY-4A AGRI`, `FY-3D MERSI`,
    /// `Terra MODIS`, `MOD14`, `VIIRS`, `NOAA-20`, `SNPP`, …).
    pub fn of(sensor: &str) -> SensorFamily {
        let s = sensor.to_ascii_uppercase();
        let any = |names: &[&str]| names.iter().any(|n| s.contains(n));
        match () {
            _ if any(&["ABI", "GOES"]) => SensorFamily::Abi,
            _ if any(&["AHI", "HIMAWARI"]) => SensorFamily::Ahi,
            _ if any(&["AGRI", "FY-4", "FY4"]) => SensorFamily::Agri,
            _ if any(&["MERSI", "FY-3", "FY3"]) => SensorFamily::Mersi,
            _ if any(&["VIIRS", "NOAA-20", "NOAA-21", "SNPP", "NPP", "JPSS"]) => SensorFamily::Viirs,
            _ if any(&["MODIS", "MOD14", "MYD14", "TERRA", "AQUA"]) => SensorFamily::Modis,
            _ => SensorFamily::Generic,
        }
    }

    /// Its MIR fire channel, for FRP.
    pub fn band(self) -> MirBand {
        match self {
            SensorFamily::Abi => MirBand::ABI,
            SensorFamily::Ahi => MirBand::AHI,
            SensorFamily::Agri => MirBand::AGRI,
            SensorFamily::Mersi => MirBand::MERSI,
            SensorFamily::Viirs => MirBand::VIIRS,
            SensorFamily::Modis => MirBand::MODIS,
            SensorFamily::Generic => MirBand::GENERIC,
        }
    }
}

impl HotspotConfig {
    /// The thresholds of a sensor family: the geostationary 2 km imagers (ABI, and AHI and AGRI,
    /// whose fire channels and pixels are ABI's kind) the `abi` preset; VIIRS its I-band preset;
    /// MODIS, MERSI (1 km) and unnamed sensors the MODIS preset.
    pub fn preset(&self, family: SensorFamily) -> &HotspotParams {
        match family {
            SensorFamily::Abi | SensorFamily::Ahi | SensorFamily::Agri => &self.abi,
            SensorFamily::Viirs => &self.viirs_i,
            SensorFamily::Modis | SensorFamily::Mersi | SensorFamily::Generic => &self.modis,
        }
    }

    /// The preset for a scene's sensor name ([`SensorFamily::of`]).
    pub fn for_sensor(&self, sensor: &str) -> &HotspotParams {
        self.preset(SensorFamily::of(sensor))
    }
}

impl Default for HotspotParams {
    fn default() -> Self {
        HotspotParams {
            day: Thresholds {
                potential_t4: 310.0,
                potential_dt: 10.0,
                absolute_t4: 360.0,
                bg_fire_t4: 325.0,
                bg_fire_dt: 20.0,
            },
            night: Thresholds {
                potential_t4: 305.0,
                potential_dt: 10.0,
                absolute_t4: 320.0,
                bg_fire_t4: 310.0,
                bg_fire_dt: 10.0,
            },
            dt_mad_k: 3.5,
            dt_min_excess: 6.0,
            t4_mad_k: 3.0,
            max_half_window: 10,
            min_valid_fraction: 0.25,
            min_valid: 8,
            cloud_t12: 265.0,
        }
    }
}

/// A pixel that passed the tests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FirePixel {
    pub row: usize,
    pub col: usize,
    pub t4: f32,
    pub t11: f32,
    /// Background T4 (for FRP); the pixel's own T4 minus 10 K where no background was found.
    pub t4_bg: f32,
    /// 0..1, after MOD14 C6's ramp-function confidence.
    pub confidence: f32,
}

/// Background statistics of a window: means and mean absolute deviations.
#[derive(Debug, Clone, Copy)]
struct Background {
    t4: f32,
    t4_mad: f32,
    t11: f32,
    t11_mad: f32,
    dt: f32,
    dt_mad: f32,
}

/// A scene's bands on one grid; NaN marks invalid pixels. `t12` is optional (cloud test).
pub struct Bands<'a> {
    pub t4: &'a [f32],
    pub t11: &'a [f32],
    pub t12: Option<&'a [f32]>,
    pub width: usize,
    pub height: usize,
}

impl<'a> Bands<'a> {
    /// A scene's bands as the test takes them.
    pub fn of(scene: &'a crate::domain::BtScene) -> Self {
        Bands { t4: &scene.t4, t11: &scene.t11, t12: scene.t12.as_deref(), width: scene.width, height: scene.height }
    }

    /// The two bands the test needs, without a 12 µm band.
    pub fn new(t4: &'a [f32], t11: &'a [f32], width: usize, height: usize) -> Self {
        Bands { t4, t11, t12: None, width, height }
    }

    fn is_cloud(&self, i: usize, p: &HotspotParams) -> bool {
        self.t12.map_or(self.t11[i], |t12| t12[i]) < p.cloud_t12
    }

    /// Valid (both bands finite) and clear.
    fn valid(&self, i: usize, p: &HotspotParams) -> bool {
        self.t4[i].is_finite() && self.t11[i].is_finite() && !self.is_cloud(i, p)
    }

    fn background(&self, row: usize, col: usize, p: &HotspotParams, th: &Thresholds) -> Option<Background> {
        let mut idx = Vec::with_capacity((2 * p.max_half_window + 1).pow(2));
        for half in 1..=p.max_half_window {
            idx.clear();
            let (r0, r1) = (row.saturating_sub(half), (row + half).min(self.height - 1));
            let (c0, c1) = (col.saturating_sub(half), (col + half).min(self.width - 1));
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let i = r * self.width + c;
                    if (r, c) == (row, col) || !self.valid(i, p) {
                        continue;
                    }
                    let dt = self.t4[i] - self.t11[i];
                    if self.t4[i] > th.bg_fire_t4 && dt > th.bg_fire_dt {
                        continue;
                    }
                    idx.push(i);
                }
            }
            let window = ((2 * half + 1).pow(2) - 1) as f32;
            if idx.len() >= p.min_valid && idx.len() as f32 >= p.min_valid_fraction * window {
                return Some(self.stats(&idx));
            }
        }
        None
    }

    /// Means and mean absolute deviations, accumulated in f64.
    fn stats(&self, idx: &[usize]) -> Background {
        let n = idx.len() as f64;
        let values = |f: &dyn Fn(usize) -> f32| -> (f32, f32) {
            let mean = idx.iter().map(|&i| f(i) as f64).sum::<f64>() / n;
            let mad = idx.iter().map(|&i| (f(i) as f64 - mean).abs()).sum::<f64>() / n;
            (mean as f32, mad as f32)
        };
        let (t4, t4_mad) = values(&|i| self.t4[i]);
        let (t11, t11_mad) = values(&|i| self.t11[i]);
        let (dt, dt_mad) = values(&|i| self.t4[i] - self.t11[i]);
        Background { t4, t4_mad, t11, t11_mad, dt, dt_mad }
    }

    fn test_pixel(&self, row: usize, col: usize, day: bool, p: &HotspotParams) -> Option<FirePixel> {
        let i = row * self.width + col;
        if !self.valid(i, p) {
            return None;
        }
        let th = if day { &p.day } else { &p.night };
        let (t4, t11) = (self.t4[i], self.t11[i]);
        let dt = t4 - t11;
        if t4 <= th.potential_t4 || dt <= th.potential_dt {
            return None;
        }
        let bg = self.background(row, col, p, th);
        let absolute = t4 > th.absolute_t4;
        let contextual = bg.is_some_and(|b| {
            let dt_ok = dt > b.dt + p.dt_mad_k * b.dt_mad && dt > b.dt + p.dt_min_excess;
            let t4_ok = t4 > b.t4 + p.t4_mad_k * b.t4_mad;
            let t11_ok = !day || t11 > b.t11 + b.t11_mad - 4.0;
            dt_ok && t4_ok && t11_ok
        });
        if !(absolute || contextual) {
            return None;
        }
        let confidence = confidence(t4, dt, bg.as_ref(), th, day);
        let t4_bg = bg.map_or(t4 - 10.0, |b| b.t4);
        Some(FirePixel { row, col, t4, t11, t4_bg, confidence })
    }
}

/// Ramp from 0 at `lo` to 1 at `hi`.
fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// MOD14 C6-style confidence: geometric mean of how far T4 and the two z-scores clear their tests.
fn confidence(t4: f32, dt: f32, bg: Option<&Background>, th: &Thresholds, day: bool) -> f32 {
    let c1 = ramp(t4, th.potential_t4, if day { 340.0 } else { 320.0 });
    let Some(b) = bg else { return c1 };
    let z_dt = (dt - b.dt) / b.dt_mad.max(0.5);
    let z_t4 = (t4 - b.t4) / b.t4_mad.max(0.5);
    (c1 * ramp(z_dt, 2.5, 6.0) * ramp(z_t4, 3.0, 6.0)).cbrt()
}

/// All fire pixels of a scene that is all day or all night, in row-major order.
pub fn detect(bands: &Bands, day: bool, p: &HotspotParams) -> Vec<FirePixel> {
    detect_with(bands, &|_, _| day, p)
}

/// All fire pixels, with day or night thresholds chosen per pixel by `is_day(row, col)` (scenes
/// that cross the terminator), in row-major order.
pub fn detect_with(bands: &Bands, is_day: &(dyn Fn(usize, usize) -> bool + Sync), p: &HotspotParams) -> Vec<FirePixel> {
    detect_at_most(bands, is_day, p, usize::MAX - 1).expect("no limit")
}

/// [`detect_with`], stopping early with `Err(count)` once more than `max` pixels pass: a scene
/// of fill values that all pass the absolute test must not fill memory.
pub fn detect_at_most(
    bands: &Bands,
    is_day: &(dyn Fn(usize, usize) -> bool + Sync),
    p: &HotspotParams,
    max: usize,
) -> Result<Vec<FirePixel>, usize> {
    assert_eq!(bands.t4.len(), bands.width * bands.height, "t4 band size");
    assert_eq!(bands.t11.len(), bands.width * bands.height, "t11 band size");
    let mut fires: Vec<FirePixel> = (0..bands.height)
        .into_par_iter()
        .flat_map_iter(|row| (0..bands.width).filter_map(move |col| bands.test_pixel(row, col, is_day(row, col), p)))
        .take_any(max + 1)
        .collect();
    if fires.len() > max {
        return Err(fires.len());
    }
    fires.sort_unstable_by_key(|f| (f.row, f.col));
    Ok(fires)
}

/// Spectral radiance (W m⁻² sr⁻¹ µm⁻¹) at wavelength `um` for temperature `t` (K).
fn planck(um: f64, t: f64) -> f64 {
    const C1: f64 = 1.191_042_7e8; // W µm⁴ m⁻² sr⁻¹
    const C2: f64 = 1.438_776_9e4; // µm K
    C1 / (um.powi(5) * ((C2 / (um * t)).exp() - 1.0))
}

/// A sensor's MIR fire channel: its central wavelength and the MIR-radiance-method coefficient
/// `a` of L(λ, T) ≈ a T⁴ over 650–1350 K at that wavelength (least squares, as Wooster et al.
/// 2003/2005 derive it per band; `cargo test mir_coefficients` recomputes them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MirBand {
    pub um: f64,
    pub a: f64,
}

impl MirBand {
    /// GOES-R ABI band 7 (3.80–4.00 µm, centre 3.89 µm).
    pub const ABI: MirBand = MirBand { um: 3.89, a: 3.031e-9 };
    /// Himawari AHI band 7 (centre 3.89 µm).
    pub const AHI: MirBand = MirBand { um: 3.89, a: 3.031e-9 };
    /// MODIS band 21/22 (3.96 µm).
    pub const MODIS: MirBand = MirBand { um: 3.96, a: 2.936e-9 };
    /// VIIRS I4 (3.74 µm).
    pub const VIIRS: MirBand = MirBand { um: 3.74, a: 3.240e-9 };
    /// FY-4A/B AGRI 3.72 µm (the Chinese geostationary imager).
    pub const AGRI: MirBand = MirBand { um: 3.72, a: 3.268e-9 };
    /// FY-3 MERSI-II band 20 (3.80 µm).
    pub const MERSI: MirBand = MirBand { um: 3.80, a: 3.155e-9 };
    /// A generic 3.9 µm channel (GeoTIFF scenes of an unnamed sensor).
    pub const GENERIC: MirBand = MirBand { um: 3.9, a: 3.016e-9 };

    /// The band of a scene's `sensor` name or SENSOR tag ([`SensorFamily::of`]).
    pub fn of(sensor: &str) -> MirBand {
        SensorFamily::of(sensor).band()
    }
}

/// Fire radiative power, MW, by the MIR radiance method (Wooster et al. 2003/2005):
/// FRP = A σ (L4 − L4,bg) / a, with the sensor's own channel wavelength and coefficient.
pub fn frp_mw(pixel: &FirePixel, pixel_area_m2: f64, band: MirBand) -> f64 {
    const SIGMA: f64 = 5.670_374e-8;
    let dl = planck(band.um, pixel.t4 as f64) - planck(band.um, pixel.t4_bg as f64);
    (pixel_area_m2 * SIGMA * dl.max(0.0) / band.a) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uniform 31×31 scene (T4 295 K, T11 290 K) with the given pixels changed.
    fn scene(changes: &[(usize, usize, f32, f32)]) -> (Vec<f32>, Vec<f32>) {
        let (mut t4, mut t11) = (vec![295.0f32; 31 * 31], vec![290.0f32; 31 * 31]);
        for (i, v) in t4.iter_mut().enumerate() {
            *v += ((i * 7919) % 13) as f32 * 0.15; // a little texture so MADs are not zero
        }
        for &(r, c, a, b) in changes {
            t4[r * 31 + c] = a;
            t11[r * 31 + c] = b;
        }
        (t4, t11)
    }

    fn run(t4: &[f32], t11: &[f32], day: bool) -> Vec<FirePixel> {
        detect(&Bands::new(t4, t11, 31, 31), day, &HotspotParams::default())
    }

    #[test]
    fn cold_cloud_pixels_are_neither_tested_nor_background() {
        // a hot pixel whose 12 µm band says cloud is not a fire
        let (t4, t11) = scene(&[(15, 15, 330.0, 292.0)]);
        let mut t12 = vec![288.0f32; 31 * 31];
        t12[15 * 31 + 15] = 250.0;
        let p = HotspotParams::default();
        assert!(detect(&Bands { t4: &t4, t11: &t11, t12: Some(&t12), width: 31, height: 31 }, true, &p).is_empty());
        // cloud all around: no background anywhere, so only the absolute test could fire
        let mut t12 = vec![250.0f32; 31 * 31];
        t12[15 * 31 + 15] = 288.0;
        assert!(detect(&Bands { t4: &t4, t11: &t11, t12: Some(&t12), width: 31, height: 31 }, true, &p).is_empty());
        // the same pixel in a clear scene is a fire
        let t12 = vec![288.0f32; 31 * 31];
        assert_eq!(detect(&Bands { t4: &t4, t11: &t11, t12: Some(&t12), width: 31, height: 31 }, true, &p).len(), 1);
    }

    #[test]
    fn uniform_scene_has_no_fire() {
        let (t4, t11) = scene(&[]);
        assert!(run(&t4, &t11, true).is_empty());
    }

    #[test]
    fn hot_pixel_passes_contextual_test() {
        let (t4, t11) = scene(&[(15, 15, 330.0, 292.0)]);
        let fires = run(&t4, &t11, true);
        assert_eq!(fires.len(), 1);
        assert_eq!((fires[0].row, fires[0].col), (15, 15));
        assert!(fires[0].confidence > 0.3, "{:?}", fires[0]);
    }

    #[test]
    fn pixel_below_prefilter_is_not_tested() {
        // ΔT of 9 K fails the 10 K prefilter even though T4 stands out
        let (t4, t11) = scene(&[(15, 15, 312.0, 303.0)]);
        assert!(run(&t4, &t11, true).is_empty());
    }

    #[test]
    fn absolute_test_fires_without_background() {
        // every neighbour invalid: no background, but T4 over 360 K by day
        let mut ch: Vec<_> = (0..31).flat_map(|r| (0..31).map(move |c| (r, c, f32::NAN, f32::NAN))).collect();
        ch.push((15, 15, 365.0, 300.0));
        let (t4, t11) = scene(&ch);
        assert_eq!(run(&t4, &t11, true).len(), 1);
        // by night the absolute threshold is 320 K
        ch.pop();
        ch.push((15, 15, 325.0, 300.0));
        let (t4, t11) = scene(&ch);
        assert_eq!(run(&t4, &t11, false).len(), 1);
        assert!(run(&t4, &t11, true).is_empty());
    }

    #[test]
    fn warm_background_raises_the_bar() {
        // a warm 5×5 patch (sunlit ground) around a moderately hot pixel: not a contextual fire
        let mut ch = Vec::new();
        for r in 10..21 {
            for c in 10..21 {
                ch.push((r, c, 318.0 + ((r * c) % 5) as f32 * 2.0, 296.0));
            }
        }
        ch.push((15, 15, 322.0, 296.0));
        let (t4, t11) = scene(&ch);
        assert!(run(&t4, &t11, true).iter().all(|f| (f.row, f.col) != (15, 15)));
    }

    #[test]
    fn background_fires_are_left_out_of_the_window() {
        // a 3×3 block of fires: each still detected, because the others are excluded from its background
        let ch: Vec<_> = (14..17).flat_map(|r| (14..17).map(move |c| (r, c, 340.0, 295.0))).collect();
        let (t4, t11) = scene(&ch);
        assert_eq!(run(&t4, &t11, true).len(), 9);
    }

    #[test]
    fn frp_grows_with_temperature_and_is_zero_at_background() {
        let mut p = FirePixel { row: 0, col: 0, t4: 330.0, t11: 295.0, t4_bg: 300.0, confidence: 1.0 };
        let b = MirBand::ABI;
        let a = frp_mw(&p, 1e6, b);
        p.t4 = 360.0;
        assert!(frp_mw(&p, 1e6, b) > a && a > 0.0);
        p.t4 = 300.0;
        assert_eq!(frp_mw(&p, 1e6, b), 0.0);
    }

    #[test]
    fn mir_coefficients_are_the_fourth_power_fit_of_planck_at_each_band() {
        for band in [
            MirBand::ABI,
            MirBand::AHI,
            MirBand::AGRI,
            MirBand::MERSI,
            MirBand::MODIS,
            MirBand::VIIRS,
            MirBand::GENERIC,
        ] {
            let ts: Vec<f64> = (0..=140).map(|i| 650.0 + 5.0 * i as f64).collect();
            let num: f64 = ts.iter().map(|t| planck(band.um, *t) * t.powi(4)).sum();
            let den: f64 = ts.iter().map(|t| t.powi(8)).sum();
            let fit = num / den;
            assert!((fit / band.a - 1.0).abs() < 2e-3, "{band:?}: fit {fit:e}");
        }
        assert_eq!(MirBand::of("ABI-G17"), MirBand::ABI);
        assert_eq!(MirBand::of("GOES-16 ABI"), MirBand::ABI);
        assert_eq!(MirBand::of("FY-4A AGRI"), MirBand::AGRI);
        assert_eq!(MirBand::of("NOAA-20"), MirBand::VIIRS);
        assert_eq!(MirBand::of("MOD14"), MirBand::MODIS);
        assert_eq!(MirBand::of("Terra MODIS"), MirBand::MODIS);
        assert_eq!(MirBand::of("test"), MirBand::GENERIC);
    }

    /// Issue 18: the thresholds and the FRP band were chosen by two classifiers that disagreed:
    /// a Himawari scene got the MODIS preset with AHI's band, a VIIRS scene named `NOAA-20` the
    /// MODIS preset with VIIRS's band. One family decides both.
    #[test]
    fn r18_one_sensor_family_picks_both_the_preset_and_the_band() {
        let cfg = HotspotConfig::default();
        for (name, preset, band) in [
            ("AHI-H9", &cfg.abi, MirBand::AHI),
            ("Himawari-9", &cfg.abi, MirBand::AHI),
            ("FY-4B AGRI", &cfg.abi, MirBand::AGRI),
            ("ABI-G17", &cfg.abi, MirBand::ABI),
            ("NOAA-20", &cfg.viirs_i, MirBand::VIIRS),
            ("VIIRS-NPP", &cfg.viirs_i, MirBand::VIIRS),
            ("FY-3D MERSI", &cfg.modis, MirBand::MERSI),
            ("Terra MODIS", &cfg.modis, MirBand::MODIS),
            ("scene", &cfg.modis, MirBand::GENERIC),
        ] {
            assert!(std::ptr::eq(cfg.for_sensor(name), preset), "{name}");
            assert_eq!(MirBand::of(name), band, "{name}");
        }
    }

    /// A Himawari-like scene is tested with the geostationary preset: a fire the MODIS preset
    /// would find is missed once the ABI preset's prefilter is raised past it, and found again
    /// when the scene is named as MODIS.
    #[test]
    fn r18_a_himawari_like_scene_is_tested_with_the_geostationary_preset() {
        let (t4, t11) = scene(&[(15, 15, 340.0, 292.0)]);
        let bands = Bands::new(&t4, &t11, 31, 31);
        let mut cfg = HotspotConfig::default();
        cfg.abi.day.potential_t4 = 345.0;
        cfg.abi.day.absolute_t4 = 400.0;
        let ahi = detect(&bands, true, cfg.for_sensor("AHI-H9"));
        let modis = detect(&bands, true, cfg.for_sensor("Terra MODIS"));
        assert!(ahi.is_empty(), "the ABI preset's raised prefilter applies to AHI");
        assert_eq!(modis.len(), 1, "the same pixel under the MODIS preset is a fire");
    }
}
