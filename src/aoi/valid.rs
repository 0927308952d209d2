//! Polygon validity in O(n log n): the first problem `geo`'s `Validation::check_validation` finds
//! in a multipolygon, the same problem, found without comparing every edge with every other.
//!
//! `geo` 0.33 tests a ring for self-intersection by testing each of its n edges against all the
//! others (n² tests: 14 s for a 30 k-vertex county boundary, 132 s for a 100 k-vertex village,
//! issue 21), and a multipolygon's parts and a polygon's holes pairwise with `relate`. Here the
//! same pairwise test runs only on the pairs whose bounding boxes meet, found with an R-tree of
//! the edges' boxes: two edges (or rings, or polygons) whose closed boxes do not meet share no
//! point, so the skipped pairs are exactly the ones the test would have passed. The order of the
//! checks is `geo`'s, so the problem reported (and its message) is the one `geo` reports first.
//! Cost: O((n + k) log n), k the pairs of edges whose boxes meet — a few per edge for a boundary
//! drawn by hand or densified, since neighbouring edges are short and only touch their
//! neighbours. It owns no data and reads no files.

use geo::algorithm::validation::{CoordIndex, GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{BoundingRect, Coord, Intersects, Line, LineString, MultiPolygon, Polygon, PreparedGeometry, Relate};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};

/// The first problem `geo::Validation::check_validation(m)` reports, or `None` when `m` is valid.
pub(crate) fn first_problem(m: &MultiPolygon<f64>) -> Option<InvalidMultiPolygon> {
    let boxes = Boxes::new(m.0.iter().map(|p| p.bounding_rect().map(|r| (r.min(), r.max()))));
    for (i, polygon) in m.0.iter().enumerate() {
        if let Some(e) = polygon_problem(polygon) {
            return Some(InvalidMultiPolygon::InvalidPolygon(GeometryIndex(i), e));
        }
        for j in boxes.meeting_after(i) {
            let im = polygon.relate(&m.0[j]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Some(InvalidMultiPolygon::ElementsOverlaps(GeometryIndex(i), GeometryIndex(j)));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Some(InvalidMultiPolygon::ElementsTouchOnALine(GeometryIndex(i), GeometryIndex(j)));
            }
        }
    }
    None
}

/// The first problem of one polygon, in `geo`'s order: each ring's point count, self-intersection
/// and coordinates; then each hole against the exterior and against the later holes.
fn polygon_problem(p: &Polygon<f64>) -> Option<InvalidPolygon> {
    if p.exterior().0.is_empty() {
        return None;
    }
    let rings = std::iter::once(p.exterior()).chain(p.interiors());
    for (k, ring) in rings.enumerate().filter(|(_, r)| !r.0.is_empty()) {
        let role = if k == 0 { RingRole::Exterior } else { RingRole::Interior(k - 1) };
        let mut distinct = ring.0.clone();
        distinct.dedup();
        if distinct.len() < 4 {
            return Some(InvalidPolygon::TooFewPointsInRing(role));
        }
        if self_intersects(ring) {
            return Some(InvalidPolygon::SelfIntersection(role));
        }
        if let Some(at) = ring.0.iter().position(|c| !finite(c)) {
            return Some(InvalidPolygon::NonFiniteCoord(role, CoordIndex(at)));
        }
    }
    if p.interiors().iter().all(|r| r.0.is_empty()) {
        return None;
    }
    holes_problem(p)
}

/// Each hole within the exterior, touching it at points only, and holes neither overlapping nor
/// sharing a line: `geo`'s tests, the hole-against-hole ones only where the boxes meet.
fn holes_problem(p: &Polygon<f64>) -> Option<InvalidPolygon> {
    let exterior = Polygon::new(p.exterior().clone(), vec![]);
    let exterior = PreparedGeometry::from(&exterior);
    let holes: Vec<Polygon<f64>> = p.interiors().iter().map(|r| Polygon::new(r.clone(), vec![])).collect();
    let boxes = Boxes::new(p.interiors().iter().map(|r| {
        if r.0.is_empty() {
            None
        } else {
            r.bounding_rect().map(|b| (b.min(), b.max()))
        }
    }));
    for (i, hole) in holes.iter().enumerate().filter(|(i, _)| !p.interiors()[*i].0.is_empty()) {
        let prepared = PreparedGeometry::from(hole);
        let against_exterior = exterior.relate(&prepared);
        if !against_exterior.is_contains() {
            return Some(InvalidPolygon::InteriorRingNotContainedInExteriorRing(RingRole::Interior(i)));
        }
        if against_exterior.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            return Some(InvalidPolygon::IntersectingRingsOnALine(RingRole::Exterior, RingRole::Interior(i)));
        }
        for j in boxes.meeting_after(i) {
            let im = prepared.relate(&holes[j]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Some(InvalidPolygon::IntersectingRingsOnAnArea(RingRole::Interior(i), RingRole::Interior(j)));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Some(InvalidPolygon::IntersectingRingsOnALine(RingRole::Interior(i), RingRole::Interior(j)));
            }
        }
    }
    None
}

fn finite(c: &Coord<f64>) -> bool {
    c.x.is_finite() && c.y.is_finite()
}

/// `geo`'s self-intersection test of a ring: two different edges that meet, unless one ends
/// where the other starts (neighbours, and a ring touching itself at a vertex, pass). Edges with
/// a non-finite end have no usable box: each is tested against every edge, as `geo` does.
pub(crate) fn self_intersects(ring: &LineString<f64>) -> bool {
    let edges: Vec<Line<f64>> = ring.lines().collect();
    let meet = |a: &Line<f64>, b: &Line<f64>| a.intersects(b) && a.start != b.end && a.end != b.start;
    let (odd, fine): (Vec<usize>, Vec<usize>) =
        (0..edges.len()).partition(|&i| !finite(&edges[i].start) || !finite(&edges[i].end));
    if odd.iter().any(|&i| edges.iter().enumerate().any(|(j, e)| j != i && meet(&edges[i], e))) {
        return true;
    }
    let boxes =
        Boxes::new((0..edges.len()).map(|i| fine.binary_search(&i).ok().map(|_| (edges[i].start, edges[i].end))));
    fine.iter().any(|&i| boxes.meeting_after(i).any(|j| meet(&edges[i], &edges[j])))
}

/// Closed boxes of numbered things (`None`: no box, never met) in an R-tree.
struct Boxes {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    envelopes: Vec<Option<AABB<[f64; 2]>>>,
}

impl Boxes {
    /// Each item's box from two opposite corners.
    fn new(corners: impl Iterator<Item = Option<(Coord<f64>, Coord<f64>)>>) -> Boxes {
        let envelopes: Vec<Option<AABB<[f64; 2]>>> =
            corners.map(|c| c.map(|(a, b)| AABB::from_corners([a.x, a.y], [b.x, b.y]))).collect();
        let items = envelopes
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| GeomWithData::new(Rectangle::from_aabb(e), i)))
            .collect();
        Boxes { tree: RTree::bulk_load(items), envelopes }
    }

    /// The items after `i` whose boxes meet `i`'s (touching counts), in ascending order.
    fn meeting_after(&self, i: usize) -> impl Iterator<Item = usize> {
        let mut out: Vec<usize> = match &self.envelopes[i] {
            Some(e) => self.tree.locate_in_envelope_intersecting(e).map(|g| g.data).filter(|&j| j > i).collect(),
            None => Vec::new(),
        };
        out.sort_unstable();
        out.into_iter()
    }
}

/// `geo`'s own check, every edge against every other: the reference the tests compare with.
#[cfg(test)]
fn first_problem_quadratic(m: &MultiPolygon<f64>) -> Option<InvalidMultiPolygon> {
    geo::Validation::check_validation(m).err()
}

#[cfg(test)]
#[path = "valid/tests.rs"]
mod tests;
