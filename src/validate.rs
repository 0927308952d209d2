//! Validation against official products: our fire pixels on an ABI L1b scene against the GOES
//! L2 FDC fire mask on the same fixed grid (`firepoint validate goes`).
//!
//! Counts pixel-exact agreement and agreement within a 3×3 neighbourhood (geolocation and
//! resampling shift fires by a pixel), and pairs our FRP with FDC Power where both have a fire.

use serde::Serialize;

use crate::detect::hotspot::{self, FirePixel};
use crate::domain::BtScene;
use crate::ingest::goes::{is_fire_code, Fdc};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    /// FDC fire pixels inside the window.
    pub official: usize,
    /// Our fire pixels.
    pub ours: usize,
    pub hits_exact: usize,
    pub misses_exact: usize,
    pub false_alarms_exact: usize,
    /// Official fire pixels with one of ours within 3×3.
    pub found_3x3: usize,
    /// Our pixels with no official fire within 3×3.
    pub extra_3x3: usize,
    /// (ours, FDC) FRP in MW for exact hits where FDC has a Power value.
    pub frp_pairs: Vec<(f64, f64)>,
}

impl Comparison {
    pub fn found_fraction(&self) -> f64 {
        self.found_3x3 as f64 / self.official.max(1) as f64
    }
    pub fn extra_fraction(&self) -> f64 {
        self.extra_3x3 as f64 / self.ours.max(1) as f64
    }
    /// Sum of our FRP over the sum of FDC's, for the exact hits.
    pub fn frp_ratio(&self) -> Option<f64> {
        let (a, b) = self.frp_pairs.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
        (b > 0.0).then(|| a / b)
    }
}

/// Compares `ours` (pixels of `scene`) with `fdc` in the window whose top-left FDC pixel is
/// (`row0`, `col0`) and whose size is the scene's.
pub fn compare(scene: &BtScene, ours: &[FirePixel], fdc: &Fdc, row0: usize, col0: usize) -> Comparison {
    let (w, h) = (scene.width, scene.height);
    let official_at = |r: usize, c: usize| -> Option<i16> {
        let (fr, fc) = (r + row0, c + col0);
        (fr < fdc.mask.height && fc < fdc.mask.width).then(|| fdc.mask.data[fr * fdc.mask.width + fc])
    };
    let mut mine = vec![false; w * h];
    for p in ours {
        mine[p.row * w + p.col] = true;
    }
    let near = |grid: &dyn Fn(usize, usize) -> bool, r: usize, c: usize| {
        (r.saturating_sub(1)..=(r + 1).min(h - 1))
            .any(|rr| (c.saturating_sub(1)..=(c + 1).min(w - 1)).any(|cc| grid(rr, cc)))
    };
    let is_official = |r: usize, c: usize| official_at(r, c).is_some_and(is_fire_code);
    let is_mine = |r: usize, c: usize| mine[r * w + c];
    let mut cmp = Comparison {
        official: 0,
        ours: ours.len(),
        hits_exact: 0,
        misses_exact: 0,
        false_alarms_exact: 0,
        found_3x3: 0,
        extra_3x3: 0,
        frp_pairs: vec![],
    };
    for r in 0..h {
        for c in 0..w {
            let (o, m) = (is_official(r, c), is_mine(r, c));
            cmp.official += o as usize;
            cmp.hits_exact += (o && m) as usize;
            cmp.misses_exact += (o && !m) as usize;
            cmp.false_alarms_exact += (m && !o) as usize;
            cmp.found_3x3 += (o && near(&is_mine, r, c)) as usize;
            cmp.extra_3x3 += (m && !near(&is_official, r, c)) as usize;
        }
    }
    let to_ll = scene.georef.to_lonlat();
    for p in ours {
        if !is_official(p.row, p.col) {
            continue;
        }
        let official = fdc.power[(p.row + row0) * fdc.mask.width + p.col + col0] as f64;
        let area = pixel_area_m2(&to_ll, p.row, p.col);
        if official > 0.0 {
            cmp.frp_pairs.push((hotspot::frp_mw(p, area, hotspot::MirBand::of(&scene.sensor)), official));
        }
    }
    cmp
}

/// Ground area of one pixel, m², from its neighbours' lon/lat.
pub fn pixel_area_m2(to_ll: &crate::grid::ToLonLat, row: usize, col: usize) -> f64 {
    let ll = to_ll.centres(&[(row, col), (row, col + 1), (row + 1, col)]);
    match (ll[0], ll[1], ll[2]) {
        (Some(o), Some(r), Some(d)) => {
            let p = crate::grid::Projector::new(o.0, o.1);
            p.distance_m(o, r) * p.distance_m(o, d)
        }
        _ => 0.0,
    }
}
