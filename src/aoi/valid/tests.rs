//! The indexed check against `geo`'s own (`first_problem_quadratic`): the same first problem for
//! hand-made broken shapes, for random rings that often cross themselves, and for a large ring
//! broken in one place.

use geo::{polygon, wkt, Coord, LineString, MultiPolygon, Polygon};

use super::*;
use crate::rng::SplitMix;

fn same(m: &MultiPolygon<f64>) -> Option<InvalidMultiPolygon> {
    let fast = first_problem(m);
    assert_eq!(fast, first_problem_quadratic(m), "{m:?}");
    fast
}

fn one(p: Polygon<f64>) -> Option<InvalidMultiPolygon> {
    same(&MultiPolygon::new(vec![p]))
}

/// A wavy ring of `n` vertices around (x, y), radius about `r`: valid, every edge short.
fn wavy(n: usize, (x, y): (f64, f64), r: f64) -> LineString<f64> {
    let mut pts: Vec<Coord<f64>> = (0..n)
        .map(|k| {
            let t = k as f64 / n as f64 * std::f64::consts::TAU;
            let rr = r * (1.0 + 0.05 * (7.0 * t).sin());
            Coord { x: x + rr * t.cos(), y: y + rr * t.sin() }
        })
        .collect();
    pts.push(pts[0]);
    LineString::new(pts)
}

#[test]
fn r21_valid_shapes_stay_valid() {
    assert_eq!(one(polygon![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 4.)]), None);
    // a hole touching the exterior at one point is valid
    assert_eq!(one(wkt!(POLYGON((0. 0., 4. 1., 4. 4., 0. 4., 0. 0.), (0. 2., 2. 1., 3. 2., 2. 3., 0. 2.)))), None);
    // large: geo's check would take minutes here
    assert_eq!(first_problem(&MultiPolygon::new(vec![Polygon::new(wavy(50_000, (116.0, 39.0), 0.3), vec![])])), None);
}

#[test]
fn r21_each_kind_of_broken_polygon_is_caught_as_geo_catches_it() {
    let bowtie = wkt!(POLYGON((0. 0., 2. 2., 2. 0., 0. 2., 0. 0.)));
    assert!(matches!(
        one(bowtie),
        Some(InvalidMultiPolygon::InvalidPolygon(_, InvalidPolygon::SelfIntersection(RingRole::Exterior)))
    ));
    // a ring passing twice through one vertex (an inverted hole): two edges end there
    assert!(one(wkt!(POLYGON((0. 0., 2. 0., 1. 1., 2. 2., 0. 2., 1. 1., 0. 0.)))).is_some());
    // a vertex on another edge's middle
    assert!(one(wkt!(POLYGON((0. 0., 4. 0., 4. 4., 2. 0., 0. 4., 0. 0.)))).is_some());
    // too few points, after repeated ones
    assert!(one(wkt!(POLYGON((0. 0., 1. 1., 1. 1., 0. 0.)))).is_some());
    // a hole outside, a hole along the exterior, holes overlapping, holes sharing an edge
    let square = || LineString::from(vec![(0., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)]);
    let hole =
        |x0: f64, y0: f64, x1: f64, y1: f64| LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]);
    assert!(one(Polygon::new(square(), vec![hole(20., 20., 21., 21.)])).is_some());
    assert!(one(Polygon::new(square(), vec![hole(0., 2., 3., 3.)])).is_some());
    assert!(one(Polygon::new(square(), vec![hole(1., 1., 4., 4.), hole(3., 3., 5., 5.)])).is_some());
    assert!(one(Polygon::new(square(), vec![hole(1., 1., 3., 3.), hole(3., 1., 5., 3.)])).is_some());
    // a self-crossing hole; a hole with a NaN
    assert!(one(Polygon::new(
        square(),
        vec![LineString::from(vec![(1., 1.), (3., 3.), (3., 1.), (1., 3.), (1., 1.)])]
    ))
    .is_some());
    let nan = Polygon::new(square(), vec![LineString::from(vec![(1., 1.), (3., 1.), (f64::NAN, 3.), (1., 1.)])]);
    assert!(one(nan).is_some());
    // parts of a multipolygon overlapping, sharing an edge; apart (valid)
    let part = |x0: f64| Polygon::new(hole(x0, 0., x0 + 2., 2.), vec![]);
    assert!(same(&MultiPolygon::new(vec![part(0.), part(1.)])).is_some());
    assert!(matches!(
        same(&MultiPolygon::new(vec![part(0.), part(2.)])),
        Some(InvalidMultiPolygon::ElementsTouchOnALine(GeometryIndex(0), GeometryIndex(1)))
    ));
    assert_eq!(same(&MultiPolygon::new(vec![part(0.), part(5.), part(10.)])), None);
}

#[test]
fn r21_random_rings_give_geo_s_answer() {
    let mut rng = SplitMix::new(21);
    let mut broken = 0;
    for round in 0..400 {
        let n = 4 + (rng.next_u64() % 40) as usize;
        // star-shaped rings with jitter: some cross themselves, some do not; a few snapped to a
        // coarse grid so that vertices land on other edges and edges overlap
        let coarse = round % 4 == 0;
        let mut pts: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                let t = k as f64 / n as f64 * std::f64::consts::TAU + rng.normal(0.3);
                let r = rng.range(0.2, 1.0);
                let (x, y) = (r * t.cos(), r * t.sin());
                if coarse {
                    ((x * 4.0).round() / 4.0, (y * 4.0).round() / 4.0)
                } else {
                    (x, y)
                }
            })
            .collect();
        pts.push(pts[0]);
        let hole = (round % 3 == 0).then(|| wavy(3 + round % 9, (rng.normal(0.2), rng.normal(0.2)), 0.15));
        let p = Polygon::new(LineString::from(pts), hole.into_iter().collect());
        broken += one(p.clone()).is_some() as usize;
        let shifted = Polygon::new(
            p.exterior().0.iter().map(|c| (c.x + rng.range(0.5, 2.5), c.y)).collect::<Vec<_>>().into(),
            vec![],
        );
        same(&MultiPolygon::new(vec![p, shifted]));
    }
    assert!((50..350).contains(&broken), "the random rings should be a mix: {broken} of 400 broken");
}

#[test]
fn r21_a_large_ring_broken_in_one_place_is_caught() {
    // 100 k vertices; one vertex pushed across the far side of the ring near the end
    let mut ring = wavy(100_000, (116.0, 39.0), 0.3);
    assert!(!self_intersects(&ring));
    let n = ring.0.len();
    ring.0[n - 10] = Coord { x: 116.0 - 0.5, y: 39.0 };
    assert!(self_intersects(&ring));
    let p = Polygon::new(ring, vec![]);
    assert!(matches!(
        first_problem(&MultiPolygon::new(vec![p])),
        Some(InvalidMultiPolygon::InvalidPolygon(
            GeometryIndex(0),
            InvalidPolygon::SelfIntersection(RingRole::Exterior)
        ))
    ));
    // the same ring with a tiny loop: a vertex nudged so that two neighbouring edges cross
    let mut ring = wavy(100_000, (116.0, 39.0), 0.3);
    ring.0.swap(40_000, 40_001);
    assert!(self_intersects(&ring));
}
