//! Whole-district checks run after every layer is read: a county extent that is not a county in
//! lon/lat, villages (grid cells) outside it, and gaps and overlaps between grid cells. Problems
//! stop the load (`aoi check` exit 2); gaps and overlaps are warnings, since county GIS data often
//! carries slivers, but each is named because a fire in a gap reaches no grid member.

use geo::{Area, BooleanOps, BoundingRect, Contains, InteriorPoint, MultiPolygon};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};

use super::{County, Village};
use crate::grid::Projector;

/// Widest plausible AOI, degrees (a large prefecture-level city spans a few degrees).
const MAX_SPAN_DEG: f64 = 15.0;
/// Smallest plausible county area, m².
const MIN_AREA_M2: f64 = 1.0e4;

/// The first ten of `items`, comma-separated, "…" when there are more.
fn first_ten<S: AsRef<str>>(items: impl ExactSizeIterator<Item = S>) -> String {
    let n = items.len();
    let shown: Vec<String> = items.take(10).map(|s| s.as_ref().to_string()).collect();
    format!("{}{}", shown.join(", "), if n > 10 { ", …" } else { "" })
}

/// The county's extent and area are those of a place in lon/lat.
pub(super) fn county_extent(c: &County) -> Vec<String> {
    let Some(r) = c.area.bounding_rect() else {
        return vec![format!("county {} has an empty polygon", c.code)];
    };
    let (w, h) = (r.width(), r.height());
    let mut out = Vec::new();
    if w > MAX_SPAN_DEG || h > MAX_SPAN_DEG {
        out.push(format!(
            "county {} spans {w:.1}° × {h:.1}° of lon/lat: not a county (is the declared CRS the one its coordinates are in?)",
            c.code
        ));
    } else {
        let p = Projector::new(r.center().x, r.center().y);
        let area = p.project(&c.area).unsigned_area();
        if area < MIN_AREA_M2 {
            out.push(format!("county {} has an area of {area:.0} m²: not a county", c.code));
        }
    }
    out
}

/// Township codes are unique and every village names one of them (listed once, capped).
pub(super) fn references(townships: &[super::Township], villages: &[Village]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for t in townships {
        if !seen.insert(t.code.as_str()) {
            out.push(format!(
                "township code {} is used by more than one township: tickets would go to the first",
                t.code
            ));
        }
    }
    let orphans: Vec<String> = villages
        .iter()
        .filter(|v| !seen.contains(v.township.as_str()))
        .map(|v| format!("{} → {}", v.code, v.township))
        .collect();
    if !orphans.is_empty() {
        out.push(format!(
            "{} village(s) name a township that is not in townships: {}",
            orphans.len(),
            first_ten(orphans.iter())
        ));
    }
    out
}

/// Village codes used twice (warning: the grid cell, not the code, decides the ticket).
pub(super) fn duplicate_villages(villages: &[Village]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let dups: std::collections::BTreeSet<&str> =
        villages.iter().filter(|v| !seen.insert(v.code.as_str())).map(|v| v.code.as_str()).collect();
    match dups.len() {
        0 => Vec::new(),
        n => vec![format!("{n} village code(s) used by more than one village: {}", first_ten(dups.iter()))],
    }
}

/// Stations and camera towers far (> 20 km) outside the county's box: usually a layer whose
/// declared CRS differs from the others' (a neighbouring Gauss–Krüger zone).
pub(super) fn far_from_county<'a>(
    c: &County,
    points: impl Iterator<Item = (&'static str, &'a str, f64, f64)>,
) -> Vec<String> {
    let Some(r) = c.area.bounding_rect() else { return Vec::new() };
    let p = Projector::new(r.center().x, r.center().y);
    let (w, s) = p.to_m(r.min().x, r.min().y);
    let (e, n) = p.to_m(r.max().x, r.max().y);
    points
        .filter(|(_, _, lon, lat)| {
            let (x, y) = p.to_m(*lon, *lat);
            x < w - 20e3 || x > e + 20e3 || y < s - 20e3 || y > n + 20e3
        })
        .map(|(what, id, lon, lat)| {
            format!("{what} {id} at ({lon:.4}, {lat:.4}) is more than 20 km outside the county: is its layer's declared CRS right?")
        })
        .collect()
}

/// Villages whose interior lies outside the county polygon.
pub(super) fn outside_county(c: &County, villages: &[Village]) -> Vec<String> {
    let outside: Vec<&str> = villages
        .iter()
        .filter(|v| v.area.interior_point().is_some_and(|p| !c.area.contains(&p)))
        .map(|v| v.code.as_str())
        .collect();
    match outside.len() {
        0 => Vec::new(),
        n => vec![format!(
            "{n} village(s)/grid cell(s) lie outside the county {}: {}",
            c.code,
            first_ten(outside.iter())
        )],
    }
}

/// Overlaps between grid cells (over 1 % of the smaller one) and the part of the county that no
/// grid cell covers (over 1 %).
pub(super) fn gaps_and_overlaps(c: &County, villages: &[Village]) -> Vec<String> {
    let Some(r) = c.area.bounding_rect() else { return Vec::new() };
    if r.width() > MAX_SPAN_DEG || r.height() > MAX_SPAN_DEG {
        return Vec::new(); // said already, as a problem
    }
    let p = Projector::new(r.center().x, r.center().y);
    let cells: Vec<MultiPolygon<f64>> = villages.iter().map(|v| p.project(&v.area)).collect();
    let index = RTree::bulk_load(
        cells
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let b = m.bounding_rect()?;
                Some(GeomWithData::new(Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]), i))
            })
            .collect(),
    );
    let mut out = Vec::new();
    let mut overlap_total = 0.0;
    for (i, m) in cells.iter().enumerate() {
        let Some(b) = m.bounding_rect() else { continue };
        let env = AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
        for other in index.locate_in_envelope_intersecting(&env).map(|g| g.data).filter(|&j| j > i) {
            let shared = m.intersection(&cells[other]).unsigned_area();
            overlap_total += shared;
            let smaller = m.unsigned_area().min(cells[other].unsigned_area());
            if shared > 0.01 * smaller {
                out.push(format!(
                    "grid cells {} and {} overlap by {:.0} m² ({:.0} % of the smaller): a fire there goes to one of them",
                    villages[i].code,
                    villages[other].code,
                    shared,
                    100.0 * shared / smaller
                ));
            }
        }
    }
    let county = p.project(&c.area);
    let county_area = county.unsigned_area();
    let covered: f64 = cells.iter().map(|m| m.intersection(&county).unsigned_area()).sum::<f64>() - overlap_total;
    let gap = county_area - covered;
    if county_area > 0.0 && gap > 0.01 * county_area {
        out.push(format!(
            "grid cells leave {:.2} km² ({:.1} %) of the county uncovered: fires there reach no grid member",
            gap / 1e6,
            100.0 * gap / county_area
        ));
    }
    out
}
