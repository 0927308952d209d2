//! The day's patrol plan (巡查计划): per township, its villages ranked by burning risk, with the
//! risk windows of the day and their times, for `firepoint plan --day DATE` (CSV and a PNG map).
//!
//! A village's risk, 0–100, is the sum of six documented parts (the README's "Patrol plan"
//! repeats them):
//!
//! | part | points | from |
//! |---|---|---|
//! | farmland × crop stage | 35 × farmland share × stage factor | land use sampled on a lattice over the village; the factor is 1 when a harvest or sowing stage holds that day or sowing is within `windows.before_sowing_days`, 0.6 in leaf fall or pruning, 0.3 otherwise |
//! | fire points, last 7 days | 20 × min(1, n / 3) | satellite fire points (火点) of the village's tickets, the 7 Beijing days before DATE |
//! | fire points, last 365 days | 15 × min(1, n / 10) | the same, the 365 days before DATE |
//! | highway | 10 × (1 within 0.5 km of a highway, falling linearly to 0 at 5 km) | the `roads` layer, nearest lattice point |
//! | no-burn zone | 10 × (1 when any of the village lies in one, falling linearly to 0 at 2 km) | the `no_burn_zones` layer, nearest lattice point |
//! | rain | 10 if a forecast qualifying for 下雨前 covers the village that day | `weather/` forecasts in the store |
//!
//! Deterministic: the same district, store, configuration and DATE give the same bytes (nothing
//! reads the clock; ties are broken by village code). It reads the store and the AOI and writes
//! only the two files it is given.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use geo::{BoundingRect, Contains, Coord, Distance, Euclidean, MapCoords, MultiPolygon, Point};
use serde::Serialize;

use crate::aoi::{Aoi, LandClass, RoadClass};
use crate::burn::{BurnConfig, Forecast, WindowsConfig};

/// Lattice points per side sampled over a village's box (those inside the village count).
const LATTICE: usize = 16;

/// One village's line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    pub township_code: String,
    pub township: String,
    /// 1 for the township's riskiest village.
    pub rank: usize,
    pub village_code: String,
    pub village: String,
    pub grid_member: String,
    pub phone: String,
    /// 0–100.
    pub risk: f64,
    /// 0–1 of the village that is farmland.
    pub farmland_share: f64,
    /// The crop calendar's stages that day (and 播种前), or empty.
    pub crop_stage: String,
    pub fire_points_7d: usize,
    pub fire_points_365d: usize,
    /// Kilometres from the village to the nearest highway (none without a roads layer).
    pub highway_km: Option<f64>,
    /// The nearest no-burn zone within 2 km of the village (0 km: part of the village lies in it).
    pub no_burn_zone: Option<String>,
    /// Kilometres from the village to that zone.
    pub no_burn_km: Option<f64>,
    /// The rain forecast that makes the day a 下雨前 day for the village.
    pub rain: Option<String>,
}

/// The day's plan: its risk windows (name and local times) and every village's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub day: NaiveDate,
    pub windows: Vec<String>,
    pub rows: Vec<PlanRow>,
}

use crate::time::beijing_midnight as midnight;

/// Land use, no-burn zone and highway distance over a village, from its lattice points.
struct Sampled {
    farmland_share: f64,
    /// The nearest no-burn zone within [`ZONE_REACH_M`]: its index and metres.
    zone: Option<(usize, f64)>,
    highway_m: Option<f64>,
}

/// A no-burn zone counts for a village up to this far, metres.
const ZONE_REACH_M: f64 = 2000.0;

/// The no-burn zones in metres on the district's projection, with their boxes.
struct ZonesM(Vec<(MultiPolygon<f64>, geo::Rect<f64>)>);

impl ZonesM {
    fn new(aoi: &Aoi) -> ZonesM {
        let p = aoi.projector;
        ZonesM(
            aoi.no_burn
                .iter()
                .filter_map(|z| {
                    let m = z.area.map_coords(|c| {
                        let (x, y) = p.to_m(c.x, c.y);
                        Coord { x, y }
                    });
                    m.bounding_rect().map(|r| (m, r))
                })
                .collect(),
        )
    }

    /// The nearest zone within [`ZONE_REACH_M`] of (x, y) metres: its index and metres (0 inside).
    fn nearest(&self, x: f64, y: f64) -> Option<(usize, f64)> {
        let q = Point::new(x, y);
        self.0
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| {
                let dx = (r.min().x - x).max(x - r.max().x).max(0.0);
                let dy = (r.min().y - y).max(y - r.max().y).max(0.0);
                dx.hypot(dy) <= ZONE_REACH_M
            })
            .map(|(i, (m, _))| (i, Euclidean.distance(&q, m)))
            .filter(|(_, d)| *d <= ZONE_REACH_M)
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
    }
}

fn sample(aoi: &Aoi, zones: &ZonesM, village: usize) -> Sampled {
    let v = &aoi.villages[village];
    let Some(bbox) = v.area.bounding_rect() else {
        return Sampled { farmland_share: 0.0, zone: None, highway_m: None };
    };
    let (mut inside, mut farmland, mut zone, mut highway) = (0usize, 0usize, None::<(usize, f64)>, None::<f64>);
    for j in 0..LATTICE {
        for i in 0..LATTICE {
            let lon = bbox.min().x + (i as f64 + 0.5) / LATTICE as f64 * bbox.width();
            let lat = bbox.min().y + (j as f64 + 0.5) / LATTICE as f64 * bbox.height();
            if !v.area.contains(&Point::new(lon, lat)) {
                continue;
            }
            inside += 1;
            let ids = aoi.place_ids(lon, lat);
            farmland += (ids.landuse == LandClass::Farmland) as usize;
            let (x, y) = aoi.projector.to_m(lon, lat);
            let near = match ids.no_burn_zone {
                // inside: the zone `place` names (the first in the layer's order), 0 m
                Some(z) => Some((z as usize, 0.0)),
                None => zones.nearest(x, y),
            };
            if let Some(n) = near.filter(|n| zone.is_none_or(|z| n.1 < z.1)) {
                zone = Some(n);
            }
            if let Some(r) = aoi.nearest_road(lon, lat, Some(RoadClass::Highway)) {
                highway = Some(highway.map_or(r.distance_m, |h| h.min(r.distance_m)));
            }
        }
    }
    Sampled { farmland_share: farmland as f64 / inside.max(1) as f64, zone, highway_m: highway }
}

/// The crop stage factor of the plan's first part, and the stage names that day.
fn stage_factor(burn: &BurnConfig, windows: &WindowsConfig, day: NaiveDate) -> (f64, Vec<String>) {
    let stages = burn.stages_on(day);
    let sowing_soon = crate::burn::before_sowing(burn, windows.before_sowing_days, day);
    let mut names: Vec<String> = stages.iter().map(|s| s.name.clone()).collect();
    names.extend(sowing_soon.iter().map(|w| w.label()));
    let factor = if !sowing_soon.is_empty() || stages.iter().any(|s| s.stage == "harvest" || s.stage == "sowing") {
        1.0
    } else if stages.iter().any(|s| s.stage == "leaf_fall" || s.stage == "pruning") {
        0.6
    } else {
        0.3
    };
    (factor, names)
}

/// The forecast that makes `day` a 下雨前 day at (lon, lat) in `township`: rain starting that
/// local day with the window's probability and amount.
fn rain_on<'f>(
    forecasts: &'f [Forecast],
    windows: &WindowsConfig,
    day: NaiveDate,
    (lon, lat): (f64, f64),
    township: &str,
) -> Option<&'f Forecast> {
    let (from, to) = (midnight(day), midnight(day + Duration::days(1)));
    forecasts
        .iter()
        .filter(|f| f.valid_from >= from && f.valid_from < to)
        .filter(|f| f.probability >= windows.rain_min_probability && f.amount_mm >= windows.rain_min_mm)
        .filter(|f| f.covers(lon, lat, township))
        .min_by_key(|f| f.valid_from)
}

fn round(v: f64, per: f64) -> f64 {
    (v * per).round() / per
}

/// Satellite fire points per village code (`Store::fire_points_by_village`) over the 7 and the
/// 365 Beijing days before the plan's day ([`History::spans`]).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub week: HashMap<String, usize>,
    pub year: HashMap<String, usize>,
}

impl History {
    /// The [from, to) instants of the week and the year before `day`.
    pub fn spans(day: NaiveDate) -> [(DateTime<Utc>, DateTime<Utc>); 2] {
        let end = midnight(day);
        [(midnight(day - Duration::days(7)), end), (midnight(day - Duration::days(365)), end)]
    }
}

/// The plan for `day`.
pub fn plan(
    aoi: &Aoi,
    burn: &BurnConfig,
    windows: &WindowsConfig,
    forecasts: &[Forecast],
    day: NaiveDate,
    history: &History,
) -> Plan {
    let (factor, stage_names) = stage_factor(burn, windows, day);
    let (week, year) = (&history.week, &history.year);
    let zones = ZonesM::new(aoi);
    let mut rows: Vec<PlanRow> = (0..aoi.villages.len())
        .map(|i| {
            let v = &aoi.villages[i];
            let s = sample(aoi, &zones, i);
            let centre = geo::Centroid::centroid(&v.area).map(|c| (c.x(), c.y())).unwrap_or((f64::NAN, f64::NAN));
            let rain = rain_on(forecasts, windows, day, centre, &v.township);
            let (n7, n365) = (week.get(&v.code).copied().unwrap_or(0), year.get(&v.code).copied().unwrap_or(0));
            let highway = s.highway_m.map_or(0.0, |m| (1.0 - (m / 1000.0 - 0.5) / 4.5).clamp(0.0, 1.0));
            let risk = 35.0 * s.farmland_share * factor
                + 20.0 * (n7 as f64 / 3.0).min(1.0)
                + 15.0 * (n365 as f64 / 10.0).min(1.0)
                + 10.0 * highway
                + 10.0 * s.zone.map_or(0.0, |(_, m)| (1.0 - m / ZONE_REACH_M).clamp(0.0, 1.0))
                + if rain.is_some() { 10.0 } else { 0.0 };
            let town = aoi.townships.iter().find(|t| t.code == v.township);
            PlanRow {
                township_code: v.township.clone(),
                township: town.map(|t| t.name.clone()).unwrap_or_default(),
                rank: 0,
                village_code: v.code.clone(),
                village: v.name.clone(),
                grid_member: v.grid_member.clone(),
                phone: v.phone.clone(),
                risk: round(risk, 10.0),
                farmland_share: round(s.farmland_share, 100.0),
                crop_stage: stage_names.join("; "),
                fire_points_7d: n7,
                fire_points_365d: n365,
                highway_km: s.highway_m.map(|m| round(m / 1000.0, 10.0)),
                no_burn_zone: s.zone.map(|(z, _)| aoi.no_burn[z].name.clone()),
                no_burn_km: s.zone.map(|(_, m)| round(m / 1000.0, 100.0)),
                rain: rain.map(|f| {
                    let from = f.valid_from.with_timezone(&crate::time::beijing());
                    format!("{} {:.0}% {:.1} mm", from.format("%H:%M"), f.probability * 100.0, f.amount_mm)
                }),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.township_code.as_str(), -a.risk, a.village_code.as_str())
            .partial_cmp(&(b.township_code.as_str(), -b.risk, b.village_code.as_str()))
            .expect("risks are finite")
    });
    let mut last = String::new();
    let mut rank = 0;
    for r in &mut rows {
        if r.township_code != last {
            (last, rank) = (r.township_code.clone(), 0);
        }
        rank += 1;
        r.rank = rank;
    }
    let mut day_windows: Vec<String> =
        windows.daily.iter().map(|w| format!("{} {}–{}", w.name, w.from, w.to)).collect();
    day_windows.extend(crate::burn::before_sowing(burn, windows.before_sowing_days, day).iter().map(|w| w.label()));
    if rows.iter().any(|r| r.rain.is_some()) {
        day_windows.push("下雨前 (见各村降雨预报)".into());
    }
    Plan { day, windows: day_windows, rows }
}

/// The plan as CSV, UTF-8 with a BOM (Excel opens it as UTF-8), Chinese headers, one village a line.
pub fn to_csv(plan: &Plan) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "日期",
        "乡镇代码",
        "乡镇",
        "排名",
        "村代码",
        "村",
        "网格员",
        "电话",
        "风险分",
        "耕地占比",
        "作物期",
        "近7天火点",
        "近365天火点",
        "距高速(km)",
        "禁烧区",
        "距禁烧区(km)",
        "降雨预报",
        "风险时段",
    ])
    .expect("in-memory writer");
    let windows = plan.windows.join("; ");
    for r in &plan.rows {
        let cell = crate::feed::cell;
        w.write_record([
            plan.day.to_string(),
            cell(&r.township_code),
            cell(&r.township),
            r.rank.to_string(),
            cell(&r.village_code),
            cell(&r.village),
            cell(&r.grid_member),
            cell(&r.phone),
            format!("{:.1}", r.risk),
            format!("{:.2}", r.farmland_share),
            cell(&r.crop_stage),
            r.fire_points_7d.to_string(),
            r.fire_points_365d.to_string(),
            r.highway_km.map(|k| format!("{k:.1}")).unwrap_or_default(),
            cell(r.no_burn_zone.as_deref().unwrap_or("")),
            r.no_burn_km.map(|k| format!("{k:.2}")).unwrap_or_default(),
            cell(r.rain.as_deref().unwrap_or("")),
            cell(&windows),
        ])
        .expect("in-memory writer");
    }
    let body = String::from_utf8(w.into_inner().expect("in-memory writer")).expect("CSV is UTF-8");
    format!("\u{feff}{body}")
}
