//! The persistence mask: static heat sources learned from the history of satellite detections.
//!
//! Every satellite detection marks its ~400 m cell (a lon/lat grid of `cell_deg`) as seen on its
//! Beijing reporting day, by day or by night (sun more than 85° from the zenith). A detection is
//! on a persistent source when the cells within its footprint were seen, together, on at least
//! `min_days` distinct days in the `lookback_days` before its own day, with a night sighting on
//! at least `min_night_fraction` of those days: straw fires move from field to field and burn by
//! day; kilns and steel mills stay put and burn all night. Pooling the footprint's cells absorbs
//! the pixel-to-pixel geolocation jitter of repeated passes over one plant.
//! The store keeps the history; this module owns the cell arithmetic and the rule.

use chrono::{DateTime, NaiveDate, Utc};

use serde::{Deserialize, Serialize};

use crate::domain::Detection;

/// The persistence mask learned from history: ~400 m cells with satellite detections on many
/// distinct days, mostly at night, are static heat sources (kilns, steel mills), not burning.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Persistence {
    /// Cell size in degrees (0.004° ≈ 445 m north–south, 350 m east–west at 38° N).
    pub cell_deg: f64,
    /// A cell is persistent with detections on at least this many distinct Beijing days ...
    pub min_days: u32,
    /// ... within this many days before the detection's own day ...
    pub lookback_days: i64,
    /// ... and at least this fraction of those days with a night detection.
    pub min_night_fraction: f64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence { cell_deg: 0.004, min_days: 5, lookback_days: 365, min_night_fraction: 0.5 }
    }
}

/// A grid cell index.
pub type Cell = (i64, i64);

pub fn cell_of(lon: f64, lat: f64, cell_deg: f64) -> Cell {
    ((lon / cell_deg).floor() as i64, (lat / cell_deg).floor() as i64)
}

/// The square of cells covering `radius_m` around a point, as (min cell, max cell): at least
/// the point's cell and its 8 neighbours, at most 11 × 11 cells.
pub fn cells_near(lon: f64, lat: f64, radius_m: f64, cell_deg: f64) -> (Cell, Cell) {
    let (cx, cy) = cell_of(lon, lat, cell_deg);
    let cell_m = cell_deg * 111_000.0 * lat.to_radians().cos().max(0.2);
    let k = ((radius_m / cell_m).ceil() as i64).clamp(1, 5);
    ((cx - k, cy - k), (cx + k, cy + k))
}

pub fn is_night(d: &Detection) -> bool {
    !crate::grid::is_day(d.observed_at, d.lon, d.lat)
}

/// The history of a detection's footprint in the lookback window: distinct days with a sighting,
/// and of those, days with a night sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellHistory {
    pub days: u32,
    pub night_days: u32,
}

impl CellHistory {
    pub fn is_persistent(&self, p: &Persistence) -> bool {
        self.days >= p.min_days && self.night_days as f64 >= p.min_night_fraction * self.days as f64
    }
}

/// The lookback window for a detection at `at`: [day − lookback, day), in Beijing days.
pub fn window(at: DateTime<Utc>, p: &Persistence) -> (NaiveDate, NaiveDate) {
    let day = crate::time::reporting_day(at);
    (day - chrono::Duration::days(p.lookback_days), day)
}

/// Why a detection is suppressed, if its footprint is a persistent source.
pub fn verdict(h: &CellHistory, p: &Persistence) -> Option<crate::domain::Suppression> {
    h.is_persistent(p).then_some(crate::domain::Suppression::Persistent {
        days: h.days,
        night_days: h.night_days,
        lookback_days: p.lookback_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbourhood_grows_with_uncertainty_and_is_capped() {
        let side = |r| {
            let ((x0, y0), (x1, y1)) = cells_near(115.6, 37.6, r, 0.004);
            (x1 - x0 + 1, y1 - y0 + 1)
        };
        assert_eq!(side(100.0), (3, 3));
        assert_eq!(side(1400.0), (9, 9));
        assert_eq!(side(50_000.0), (11, 11));
    }

    #[test]
    fn persistent_needs_many_days_and_nights() {
        let p = Persistence::default();
        let h = |days, night_days| CellHistory { days, night_days };
        assert!(h(5, 3).is_persistent(&p));
        assert!(!h(4, 4).is_persistent(&p), "too few days");
        assert!(!h(12, 2).is_persistent(&p), "a field burned by day on many days is not a kiln");
        assert!(verdict(&h(6, 6), &p).unwrap().to_string().contains("6 days (6 at night)"));
        assert!(verdict(&h(2, 2), &p).is_none());
    }
}
