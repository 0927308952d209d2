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
    /// Why it is not ticketed (a known heat source), if so.
    pub suppressed_by: Option<String>,
}

impl Located {
    /// A detection on farmland outside every village, zone and ring, not suppressed.
    pub fn on_farmland(detection: Detection) -> Located {
        Located { detection, place: PlaceInfo::bare(crate::aoi::LandClass::Farmland), suppressed_by: None }
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
        let suppressed_by = aoi
            .heat_source_near(d.lon, d.lat, heat_buffer_m, slack)
            .map(|h| format!("known heat source {} {} ({})", h.id, h.name, h.kind));
        let place = aoi.place(d.lon, d.lat);
        inside.push(Located { detection: d, place, suppressed_by });
    }
    Placed { inside, outside }
}
