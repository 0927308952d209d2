//! The prepared placement against the linear scans it replaced, on districts built to hit the
//! hard cases: points on vertices and edges (exactly: every coordinate is a multiple of 1/1024),
//! on the latitude of a vertex, in holes, in overlapping polygons (of every land-use class),
//! outside everything, equidistant from two stations, and not finite.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{Coord, LineString, MultiPolygon, Polygon};

use super::super::{village_rtree, Aoi, County, LandClass, Station, Township, Village, Zone};
use super::PlaceIds;
use crate::grid::Projector;
use crate::rng::SplitMix;

fn snap(v: f64) -> f64 {
    (v * 1024.0).round() / 1024.0
}

/// A star-shaped ring of `n` vertices around `c` (radii in [r/2, r]), counter-clockwise, closed.
fn star(rng: &mut SplitMix, c: (f64, f64), r: f64, n: usize) -> LineString<f64> {
    let mut pts: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let rr = r * rng.range(0.5, 1.0);
            Coord { x: snap(c.0 + rr * a.cos()), y: snap(c.1 + rr * a.sin()) }
        })
        .collect();
    pts.push(pts[0]);
    LineString(pts)
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> LineString<f64> {
    LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
}

/// A star of radius in [lo, hi), with a hole (a smaller star, clockwise) one time in three.
fn blob(rng: &mut SplitMix, c: (f64, f64), lo: f64, hi: f64) -> MultiPolygon<f64> {
    let r = rng.range(lo, hi);
    let n = 3 + (rng.next_u64() % 80) as usize;
    let outer = star(rng, c, r, n);
    let holes = if rng.next_u64().is_multiple_of(3) {
        let n = 3 + (rng.next_u64() % 20) as usize;
        let mut h = star(rng, c, r * 0.4, n);
        h.0.reverse();
        vec![h]
    } else {
        Vec::new()
    };
    MultiPolygon::new(vec![Polygon::new(outer, holes)])
}

fn village(i: usize, area: MultiPolygon<f64>) -> Village {
    Village {
        code: format!("v{i}"),
        name: format!("village {i}"),
        township: format!("t{}", i % 5),
        grid_id: format!("g{i}"),
        grid_member: String::new(),
        phone: String::new(),
        area,
    }
}

/// A district of `cells` × `cells` lattice villages on [0, 4]², a few stars laid over them, land
/// use and no-burn zones (overlapping, with holes), and stations with ties.
fn district(seed: u64, cells: usize) -> Aoi {
    let mut rng = SplitMix::new(seed);
    let step = 4.0 / cells as f64;
    let corner: Vec<Vec<(f64, f64)>> = (0..=cells)
        .map(|j| {
            (0..=cells)
                .map(|i| {
                    (snap(i as f64 * step + rng.normal(step * 0.1)), snap(j as f64 * step + rng.normal(step * 0.1)))
                })
                .collect()
        })
        .collect();
    let mut villages: Vec<Village> = Vec::new();
    for j in 0..cells {
        for i in 0..cells {
            let ring = vec![corner[j][i], corner[j][i + 1], corner[j + 1][i + 1], corner[j + 1][i], corner[j][i]];
            let n = villages.len();
            villages.push(village(n, MultiPolygon::new(vec![Polygon::new(LineString::from(ring), vec![])])));
        }
    }
    for _ in 0..8 {
        let c = (snap(rng.range(0.0, 4.0)), snap(rng.range(0.0, 4.0)));
        let n = villages.len();
        villages.push(village(n, blob(&mut rng, c, 0.1, 0.8)));
    }
    // two parts, one of them an axis-aligned square with a square hole
    let two = MultiPolygon::new(vec![
        Polygon::new(rect(1.0, 1.0, 2.0, 2.0), vec![rect(1.25, 1.25, 1.5, 1.5)]),
        Polygon::new(rect(3.0, 0.5, 3.5, 1.0), vec![]),
    ]);
    let n = villages.len();
    villages.push(village(n, two));
    let mut landuse: Vec<(LandClass, MultiPolygon<f64>)> = (0..60)
        .map(|k| {
            let class = LandClass::ALL[k % LandClass::ALL.len()];
            let c = (snap(rng.range(-0.2, 4.2)), snap(rng.range(-0.2, 4.2)));
            (class, blob(&mut rng, c, 0.05, 0.6))
        })
        .collect();
    landuse.push((LandClass::BuiltUp, MultiPolygon::new(vec![Polygon::new(rect(0.5, 0.5, 3.5, 0.75), vec![])])));
    // a tree belt across the built-up strip and a grass patch over both: built-up, then tree
    // belt, win where they overlap, whatever the layer's order
    landuse.push((LandClass::Grassland, MultiPolygon::new(vec![Polygon::new(rect(1.0, 0.25, 2.0, 1.0), vec![])])));
    landuse.push((LandClass::TreeBelt, MultiPolygon::new(vec![Polygon::new(rect(1.5, 0.0, 1.625, 4.0), vec![])])));
    let no_burn: Vec<Zone> = (0..6)
        .map(|k| {
            let c = (snap(rng.range(0.5, 3.5)), snap(rng.range(0.5, 3.5)));
            Zone { name: format!("zone {k}"), area: blob(&mut rng, c, 0.3, 1.5) }
        })
        .collect();
    let mut stations: Vec<Station> = (0..5)
        .map(|k| Station {
            code: format!("s{k}"),
            name: format!("station {k}"),
            lon: rng.range(0.0, 4.0),
            lat: rng.range(0.0, 4.0),
        })
        .collect();
    // a tie on x = 2 and a station given twice: the first must win
    stations.push(Station { code: "w".into(), name: "west".into(), lon: 1.0, lat: 2.0 });
    stations.push(Station { code: "e".into(), name: "east".into(), lon: 3.0, lat: 2.0 });
    stations.push(Station { code: "e2".into(), name: "east again".into(), lon: 3.0, lat: 2.0 });
    let townships = (0..4)
        .map(|t| Township {
            code: format!("t{t}"),
            name: format!("township {t}"),
            team: String::new(),
            leader: String::new(),
            phone: String::new(),
        })
        .collect();
    let county = County {
        code: "c".into(),
        name: "test".into(),
        area: MultiPolygon::new(vec![Polygon::new(rect(0.0, 0.0, 4.0, 4.0), vec![])]),
    };
    let mut aoi = Aoi {
        dir: "test".into(),
        county,
        townships,
        village_index: village_rtree(&villages),
        villages,
        no_burn,
        stations,
        heat_sources: Vec::new(),
        landuse,
        cameras: Vec::new(),
        roads: Vec::new(),
        dump_sites: Vec::new(),
        view_masks: Vec::new(),
        dem: None,
        warnings: Vec::new(),
        bad_phones: Vec::new(),
        projector: Projector::new(2.0, 2.0),
        snap_m: 100.0,
        heat_m: Vec::new(),
        placer: super::Placer::empty(),
        near: super::super::near::Indexes::empty(),
    };
    aoi.placer = super::Placer::new(&aoi);
    aoi.near = super::super::near::Indexes::new(&aoi);
    aoi
}

/// Every ring of every polygon the district has.
fn rings(aoi: &Aoi) -> Vec<&LineString<f64>> {
    let areas = aoi.villages.iter().map(|v| &v.area).chain(aoi.landuse.iter().map(|(_, a)| a));
    areas
        .chain(aoi.no_burn.iter().map(|z| &z.area))
        .flat_map(|m| m.0.iter())
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .collect()
}

/// Points of every hard kind, each kind about equally often.
fn points(aoi: &Aoi, rng: &mut SplitMix, n: usize) -> Vec<(f64, f64)> {
    let rings = rings(aoi);
    let r = geo::BoundingRect::bounding_rect(&aoi.county.area).expect("a county");
    let (w, h) = (r.width() / 8.0, r.height() / 8.0);
    let (x0, y0, x1, y1) = (r.min().x - w, r.min().y - h, r.max().x + w, r.max().y + h);
    let mid = (r.min().x + r.max().x) / 2.0;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let ring = &rings[(rng.next_u64() % rings.len() as u64) as usize].0;
        let k = (rng.next_u64() % (ring.len() as u64 - 1)) as usize;
        let (a, b) = (ring[k], ring[k + 1]);
        let p = match rng.next_u64() % 7 {
            0 => (snap(rng.range(x0, x1)), snap(rng.range(y0, y1))),
            1 => (a.x, a.y),                             // a vertex
            2 => ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0), // exactly on an edge
            3 => (snap(rng.range(x0, x1)), a.y),         // on a vertex's latitude
            4 => (mid, snap(rng.range(y0, y1))),         // as far from two stations (x = 2)
            5 => (rng.range(x0, x1), rng.range(y0, y1)),
            _ => [(f64::NAN, 1.0), (1.0, f64::NAN), (f64::INFINITY, 2.0), (-1e300, 1e300)][out.len() % 4],
        };
        out.push(p);
    }
    out
}

/// Village, township, land use, zone, station with its distance's bits.
type Key = (Option<u32>, Option<u32>, LandClass, Option<u32>, Option<(u32, u64)>);

/// Equal, with the station distance compared bit for bit (NaN included).
fn key(p: &PlaceIds) -> Key {
    (p.village, p.township, p.landuse, p.no_burn_zone, p.station.map(|(i, d)| (i, d.to_bits())))
}

#[test]
fn i10_prepared_place_answers_as_the_linear_scans() {
    let mut rng = SplitMix::new(10);
    let (mut on_edge, mut in_hole, mut overlapping, mut outside) = (0, 0, 0, 0);
    // per class: points placed in it, and points in it that lie in polygons of two classes or more
    let (mut classes, mut contested) = ([0usize; 5], [0usize; 5]);
    for seed in 0..6 {
        let aoi = district(seed, [3, 7, 12][seed as usize % 3]);
        let pts = points(&aoi, &mut rng, 6000);
        // three times over: a batch large enough to be placed in place order
        let thrice: Vec<(f64, f64)> = pts.iter().chain(&pts).chain(&pts).copied().collect();
        assert!(thrice.len() >= super::SORT_FROM);
        let many = aoi.place_many(&thrice);
        for (i, &(lon, lat)) in pts.iter().enumerate() {
            let want = aoi.place_linear(lon, lat);
            let got = aoi.place_ids(lon, lat);
            assert_eq!(key(&got), key(&want), "seed {seed}, point {i} ({lon}, {lat})");
            for k in [i, i + pts.len(), i + 2 * pts.len()] {
                assert_eq!(key(&many[k]), key(&want), "place_many, seed {seed}, point {i}");
            }
            assert_eq!(aoi.village_at(lon, lat).map(|v| &v.code), want.village.map(|v| &aoi.villages[v as usize].code));
            assert_eq!(aoi.landuse_at(lon, lat), want.landuse);
            // how often the hard cases came up, so that the test cannot pass without them
            let c = Coord { x: lon, y: lat };
            let pos: Vec<CoordPos> = aoi.villages.iter().map(|v| v.area.coordinate_position(&c)).collect();
            on_edge += pos.contains(&CoordPos::OnBoundary) as usize;
            overlapping += (pos.iter().filter(|p| **p == CoordPos::Inside).count() > 1) as usize;
            outside += (want.village.is_none() && want.no_burn_zone.is_none()) as usize;
            let class = want.landuse.rank() as usize;
            classes[class] += 1;
            let p = geo::Point::new(lon, lat);
            let mut under: Vec<u8> =
                aoi.landuse.iter().filter(|(_, a)| geo::Contains::contains(a, &p)).map(|(c, _)| c.rank()).collect();
            under.sort_unstable();
            under.dedup();
            contested[class] += (under.len() > 1) as usize;
            let holed = aoi.landuse.iter().map(|(_, a)| a).chain(aoi.no_burn.iter().map(|z| &z.area));
            in_hole += holed.flat_map(|m| m.0.iter()).any(|p| {
                p.interiors()
                    .iter()
                    .any(|h| Polygon::new(h.clone(), vec![]).coordinate_position(&c) == CoordPos::Inside)
            }) as usize;
        }
    }
    for c in LandClass::ALL {
        let k = c.rank() as usize;
        assert!(classes[k] > 1000, "{c:?}: only {} points", classes[k]);
        // farmland is never contested: any other class over it wins
        assert!(c == LandClass::Farmland || contested[k] > 50, "{c:?}: only {} contested points", contested[k]);
    }
    assert!(
        on_edge > 1000 && in_hole > 300 && overlapping > 1000 && outside > 1000,
        "cases: {on_edge} on an edge, {in_hole} in a hole, {overlapping} in overlapping villages, {outside} outside"
    );
}

#[test]
fn i10_place_info_is_the_ids_strings() {
    let aoi = district(3, 5);
    let mut rng = SplitMix::new(3);
    let tie = aoi.place(2.0, 2.5);
    assert_eq!(tie.station.map(|s| s.0), Some("west".to_string()), "the first of two equidistant stations");
    for (lon, lat) in points(&aoi, &mut rng, 500) {
        let (info, ids) = (aoi.place(lon, lat), aoi.place_ids(lon, lat));
        assert_eq!(info.village.map(|v| v.code), ids.village.map(|i| aoi.villages[i as usize].code.clone()));
        assert_eq!(info.township.map(|t| t.code), ids.township.map(|i| aoi.townships[i as usize].code.clone()));
        assert_eq!(info.no_burn_zone, ids.no_burn_zone.map(|i| aoi.no_burn[i as usize].name.clone()));
    }
}

#[test]
fn i10_sample_district_places_as_the_linear_scans() {
    let aoi = Aoi::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).expect("sample AOI");
    let mut rng = SplitMix::new(7);
    let pts = points(&aoi, &mut rng, 20_000);
    let inside = pts.iter().filter(|p| aoi.place_linear(p.0, p.1).village.is_some()).count();
    assert!(inside > 4_000, "only {inside} points in a village");
    for (lon, lat) in pts {
        assert_eq!(key(&aoi.place_ids(lon, lat)), key(&aoi.place_linear(lon, lat)), "({lon}, {lat})");
    }
}
