//! Locate: puts each detection in the district — village grid cell, township team, land use,
//! no-burn zone, nearest national station — and suppresses those on known heat sources.
//!
//! Detections outside the county are dropped here and counted, never silently lost. [`camera`]
//! turns a frame position and the tower's pose into a ground point; [`drone`] does the same for
//! a drone photo with the same ray marcher. It reads no files and writes nothing; the AOI is
//! loaded once by the caller.

pub mod camera;
pub mod drone;

use serde::Serialize;

use crate::aoi::{Aoi, PlaceInfo};
use crate::domain::{Detection, SourceKind};

/// A detection with its place in the district.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub detection: Detection,
    pub place: PlaceInfo,
    /// Distances to the village settlement, roads and dump sites, for the kind rules and the
    /// highway priority.
    pub near: crate::burn::Near,
    /// Why it is not ticketed (a known heat source), if so.
    pub suppressed_by: Option<crate::domain::Suppression>,
}

impl Located {
    /// A detection on farmland outside every village, zone and ring, not suppressed.
    pub fn on_farmland(detection: Detection) -> Located {
        Located {
            detection,
            place: PlaceInfo::bare(crate::aoi::LandClass::Farmland),
            near: crate::burn::Near::default(),
            suppressed_by: None,
        }
    }
}

/// The detections inside the county, located, and how many fell outside.
pub struct Placed {
    pub inside: Vec<Located>,
    pub outside: usize,
}

pub fn locate(aoi: &Aoi, detections: Vec<Detection>, heat_buffer_m: f64) -> Placed {
    let mut inside = Vec::new();
    let mut outside = 0;
    for d in detections {
        if !aoi.contains(d.lon, d.lat) {
            outside += 1;
            continue;
        }
        // a satellite pixel's centre can sit half a pixel from the source it sees
        let slack = if d.source == SourceKind::Satellite { d.radius_m } else { 0.0 };
        let suppressed_by = aoi.heat_source_near(d.lon, d.lat, heat_buffer_m, slack).map(|h| {
            crate::domain::Suppression::HeatSource { id: h.id.clone(), name: h.name.clone(), kind: h.kind.to_string() }
        });
        // a point in a gap between villages goes to the nearest within aoi.snap_m
        let place = aoi.snap(d.lon, d.lat);
        let near = near(aoi, d.lon, d.lat);
        inside.push(Located { detection: d, place, near, suppressed_by });
    }
    Placed { inside, outside }
}

/// What the kind rules and the highway priority read of a fire's surroundings at (lon, lat).
pub fn near(aoi: &Aoi, lon: f64, lat: f64) -> crate::burn::Near {
    let class = |c: crate::aoi::RoadClass| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from));
    crate::burn::Near {
        village_m: aoi.distance_to_built_up(lon, lat),
        road: aoi.nearest_road(lon, lat, None).map(|r| (class(r.class).unwrap_or_default(), r.name, r.distance_m)),
        highway: aoi.nearest_road(lon, lat, Some(crate::aoi::RoadClass::Highway)).map(|r| (r.name, r.distance_m)),
        dump: aoi.nearest_dump_site(lon, lat),
    }
}
