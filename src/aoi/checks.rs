//! Whole-district checks run after every layer is read: a county extent that is not a county in
//! lon/lat, villages (grid cells) outside it, gaps and overlaps between grid cells, and heat
//! sources that would silence too much of the county. Problems stop the load (`aoi check` exit
//! 2); gaps and overlaps are warnings, since county GIS data often carries slivers, but each over
//! 1 m² is named with its area, its place and its villages, worst first.

use geo::{Area, BooleanOps, BoundingRect, Contains, Distance, InteriorPoint, MultiPolygon};
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

/// Smallest gap or overlap `aoi check` names, m²: below it, the rounding of coordinates drawn
/// by two hands along one border.
pub const MIN_SLIVER_M2: f64 = 1.0;

/// Overlaps between grid cells and gaps (parts of the county in no grid cell), each over
/// [`MIN_SLIVER_M2`], worst first: its area, a place inside it (lon/lat) and the villages
/// involved (those sharing an overlap; those within 50 m of a gap). A fire in an overlap goes to
/// one of the two cells; one in a gap goes to the nearest village within `aoi.snap_m`, else it
/// is unassigned (未归属). Warnings: county GIS data often carries slivers.
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
    let name = |i: usize| format!("{} {}", villages[i].code, villages[i].name);
    let place = |m: &MultiPolygon<f64>| {
        m.interior_point().map(|q| p.to_deg(q.x(), q.y())).map_or("?".into(), |(x, y)| format!("({x:.5}, {y:.5})"))
    };
    // (area m², message), worst first
    let mut found: Vec<(f64, String)> = Vec::new();
    for (i, m) in cells.iter().enumerate() {
        let Some(b) = m.bounding_rect() else { continue };
        let env = AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
        for other in index.locate_in_envelope_intersecting(&env).map(|g| g.data).filter(|&j| j > i) {
            let shared = m.intersection(&cells[other]);
            let area = shared.unsigned_area();
            if area > MIN_SLIVER_M2 {
                found.push((
                    area,
                    format!(
                        "overlap of {area:.0} m² at {} between villages {} and {}: a fire there goes to one of them",
                        place(&shared),
                        name(i),
                        name(other)
                    ),
                ));
            }
        }
    }
    let county = p.project(&c.area);
    let union = geo::unary_union(cells.iter());
    let gaps = county.difference(&union);
    let county_area = county.unsigned_area();
    let mut gap_total = 0.0;
    for gap in gaps.0 {
        let area = gap.unsigned_area();
        if area <= MIN_SLIVER_M2 {
            continue;
        }
        gap_total += area;
        let Some(b) = gap.bounding_rect() else { continue };
        let env = AABB::from_corners([b.min().x - 50.0, b.min().y - 50.0], [b.max().x + 50.0, b.max().y + 50.0]);
        let gap = MultiPolygon::new(vec![gap]);
        let mut around: Vec<usize> = index
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .filter(|&i| geo::Euclidean.distance(&cells[i], &gap) <= 50.0)
            .collect();
        around.sort();
        let around = if around.is_empty() {
            "no village within 50 m".to_string()
        } else {
            format!("beside {}", first_ten(around.into_iter().map(name).collect::<Vec<_>>().iter()))
        };
        found.push((
            area,
            format!("gap of {area:.0} m² at {} in no village ({around}): a fire there is snapped or unassigned", place(&gap)),
        ));
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = found.into_iter().map(|(_, m)| m).collect();
    if county_area > 0.0 && gap_total > 0.01 * county_area {
        out.insert(
            0,
            format!(
                "villages leave {:.2} km² ({:.1} %) of the county uncovered: fires there reach no grid member",
                gap_total / 1e6,
                100.0 * gap_total / county_area
            ),
        );
    }
    out
}

/// The share of the county that the heat sources silence: each source's polygon grown by its
/// own buffer, A + P·b + π·b² (exact for a convex polygon, an overestimate where the buffers of
/// a concave one fold over), summed (overlaps between sources counted twice). An error when
/// over `max_share`, naming the sources that cover the most.
pub(super) fn suppressed_share(c: &County, sources: &[super::HeatSource], max_share: f64) -> Option<String> {
    let r = c.area.bounding_rect()?;
    if r.width() > MAX_SPAN_DEG || r.height() > MAX_SPAN_DEG {
        return None; // said already, as a problem
    }
    let p = Projector::new(r.center().x, r.center().y);
    let county = p.project(&c.area).unsigned_area();
    let perimeter = |m: &MultiPolygon<f64>| -> f64 {
        let ring = |l: &geo::LineString<f64>| l.0.windows(2).map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y)).sum::<f64>();
        m.0.iter().map(|poly| ring(poly.exterior()) + poly.interiors().iter().map(ring).sum::<f64>()).sum()
    };
    let mut covers: Vec<(f64, &super::HeatSource)> = sources
        .iter()
        .map(|h| {
            let m = p.project(&h.area);
            let b = h.buffer_m.unwrap_or(0.0).max(0.0);
            (m.unsigned_area() + perimeter(&m) * b + std::f64::consts::PI * b * b, h)
        })
        .collect();
    let total: f64 = covers.iter().map(|(a, _)| a).sum();
    if county <= 0.0 || total <= max_share * county {
        return None;
    }
    covers.sort_by(|a, b| b.0.total_cmp(&a.0));
    let worst: Vec<String> = covers
        .iter()
        .take(5)
        .map(|(a, h)| format!("{} {} ({:.1} km² with buffer_m {})", h.id, h.name, a / 1e6, h.buffer_m.unwrap_or(0.0)))
        .collect();
    Some(format!(
        "heat sources would suppress every fire on {:.0} % of the county ({:.1} of {:.1} km²; at most {:.0} %, \
         aoi.max_suppressed_share): {}",
        100.0 * total.min(county) / county,
        total / 1e6,
        county / 1e6,
        100.0 * max_share,
        first_ten(worst.iter())
    ))
}

/// Whether the villages and the county boundary fit each other better with one of them moved by
/// the GCJ-02 or BD-09 offset: a layer drawn on an Amap or Baidu map sits a few hundred metres off
/// while its file says WGS-84 (`aoi.datums`). Compares the area where county and villages disagree
/// (the symmetric difference) as read, and with the villages' union converted each way; a warning
/// when one of those halves a disagreement of over 0.5 % of the county.
pub(super) fn offset_hint(c: &County, villages: &[Village]) -> Option<String> {
    use super::china_crs::Datum;
    let r = c.area.bounding_rect()?;
    if r.width() > MAX_SPAN_DEG || r.height() > MAX_SPAN_DEG || villages.is_empty() {
        return None;
    }
    let p = Projector::new(r.center().x, r.center().y);
    let union = geo::unary_union(villages.iter().map(|v| &v.area));
    let county = p.project(&c.area);
    let misfit = |m: &MultiPolygon<f64>| county.xor(&p.project(m)).unsigned_area();
    let as_read = misfit(&union);
    let moved = |f: &dyn Fn(f64, f64) -> (f64, f64)| {
        geo::MapCoords::map_coords(&union, |q| {
            let (x, y) = f(q.x, q.y);
            geo::Coord { x, y }
        })
    };
    let tries: [(&str, Box<dyn Fn(f64, f64) -> (f64, f64)>); 4] = [
        ("the villages look GCJ-02: declare aoi.datums.villages = \"GCJ-02\"", Box::new(|x: f64, y: f64| Datum::Gcj02.to_wgs84(x, y))),
        ("the villages look BD-09: declare aoi.datums.villages = \"BD-09\"", Box::new(|x: f64, y: f64| Datum::Bd09.to_wgs84(x, y))),
        ("the county looks GCJ-02: declare aoi.datums.county = \"GCJ-02\"", Box::new(|x: f64, y: f64| Datum::Gcj02.from_wgs84(x, y))),
        ("the county looks BD-09: declare aoi.datums.county = \"BD-09\"", Box::new(|x: f64, y: f64| Datum::Bd09.from_wgs84(x, y))),
    ];
    let area = county.unsigned_area();
    let (best, what) = tries
        .iter()
        .map(|(what, f)| (misfit(&moved(f.as_ref())), *what))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (as_read > 0.005 * area && best < 0.5 * as_read).then(|| {
        format!(
            "the villages and the county boundary disagree on {:.2} km², {:.2} km² with one of them moved by a Chinese \
             map's offset: {what} (or convert that layer to WGS-84)",
            as_read / 1e6,
            best / 1e6
        )
    })
}
