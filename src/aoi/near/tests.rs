//! Roads, dump sites and the distance to built-up land, on tiny districts written as GeoJSON and
//! read through [`Aoi::load_with`]: distances checked by hand (laid out in metres on the
//! district's projection, so that 100 m off a segment's middle is 100 m), the indexed answers
//! against a scan of every segment, and the layers' errors.

use std::path::Path;

use geo::{Distance, Euclidean, Line, LineString};
use serde_json::{json, Value};

use super::super::{Aoi, AoiConfig, AoiError, LandClass, RoadClass};
use crate::grid::Projector;
use crate::rng::SplitMix;

/// The test district's centre: its county is a square of ±5 km around it, so that its centroid,
/// the projection's origin, is this point.
const CENTRE: (f64, f64) = (115.7, 37.65);

fn proj() -> Projector {
    Projector::new(CENTRE.0, CENTRE.1)
}

/// Lon/lat of `(x, y)` metres from the centre.
fn deg(x: f64, y: f64) -> [f64; 2] {
    let (lon, lat) = proj().to_deg(x, y);
    [lon, lat]
}

fn ring_m(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
    vec![deg(x0, y0), deg(x1, y0), deg(x1, y1), deg(x0, y1), deg(x0, y0)]
}

fn feature(props: Value, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": props, "geometry": geometry})
}

fn polygon_m(props: Value, x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    feature(props, json!({"type": "Polygon", "coordinates": [ring_m(x0, y0, x1, y1)]}))
}

fn line_m(props: Value, pts: &[(f64, f64)]) -> Value {
    let coords: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| deg(x, y)).collect();
    feature(props, json!({"type": "LineString", "coordinates": coords}))
}

fn write(dir: &Path, name: &str, features: Vec<Value>) {
    let fc = json!({"type": "FeatureCollection", "name": name,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": features});
    std::fs::write(dir.join(format!("{name}.geojson")), fc.to_string()).unwrap();
}

/// A county of one township and one village, ±5 km around [`CENTRE`], with `layers` beside it.
fn district(layers: &[(&str, Vec<Value>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "county", vec![polygon_m(json!({"code": "1", "name": "c"}), -5e3, -5e3, 5e3, 5e3)]);
    write(d, "townships", vec![polygon_m(json!({"code": "t", "name": "t", "team": "t"}), -5e3, -5e3, 5e3, 5e3)]);
    let village = json!({"code": "v", "name": "v", "township": "t", "grid_id": "g", "grid_member": "m"});
    write(d, "villages", vec![polygon_m(village, -5e3, -5e3, 5e3, 5e3)]);
    for (name, features) in layers {
        write(d, name, features.clone());
    }
    dir
}

fn load(dir: &Path, cfg: &AoiConfig) -> Result<Aoi, AoiError> {
    Aoi::load_with(dir, &crate::ingest::Limits::default(), cfg)
}

/// `(x, y)` metres from the centre, on the loaded district's own projection.
fn at(aoi: &Aoi, x: f64, y: f64) -> (f64, f64) {
    let (lon, lat) = proj().to_deg(x, y);
    let (ax, ay) = aoi.projector.to_m(lon, lat);
    assert!((ax - x).abs() < 1e-6 && (ay - y).abs() < 1e-6, "the district is not projected around its centre");
    (lon, lat)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-6
}

fn roads() -> Vec<Value> {
    let multi = |parts: &[[(f64, f64); 2]]| {
        let coords: Vec<Vec<[f64; 2]>> = parts.iter().map(|p| p.iter().map(|&(x, y)| deg(x, y)).collect()).collect();
        json!({"type": "MultiLineString", "coordinates": coords})
    };
    vec![
        line_m(json!({"class": "highway", "name": "G1"}), &[(-500.0, 0.0), (500.0, 0.0)]),
        line_m(json!({"class": "国道", "name": "G107"}), &[(0.0, 1000.0), (0.0, 3000.0)]),
        feature(
            json!({"class": "other"}),
            multi(&[[(2000.0, 0.0), (2000.0, 1000.0)], [(3000.0, 0.0), (3000.0, 1000.0)]]),
        ),
    ]
}

#[test]
fn i11_nearest_road_is_exact_to_the_segment() {
    let dir = district(&[("roads", roads())]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    assert_eq!(aoi.roads.len(), 3);
    let near = |x, y, class| {
        let (lon, lat) = at(&aoi, x, y);
        aoi.nearest_road(lon, lat, class).map(|r| (r.class, r.name, r.distance_m))
    };
    let check = |got: Option<(RoadClass, String, f64)>, class, name: &str, d: f64| {
        let (c, n, m) = got.expect("a road");
        assert!(c == class && n == name && close(m, d), "{c:?} {n} at {m} m, expected {class:?} {name} at {d} m");
    };
    // 100 m off the middle of a 1 km segment whose vertices are 510 m away
    check(near(0.0, 100.0, None), RoadClass::Highway, "G1", 100.0);
    check(near(0.0, -100.0, Some(RoadClass::Highway)), RoadClass::Highway, "G1", 100.0);
    // off its end: to the end point
    check(near(800.0, 0.0, None), RoadClass::Highway, "G1", 300.0);
    check(near(900.0, 400.0, None), RoadClass::Highway, "G1", 400.0 * 2f64.sqrt());
    // of a class: the nearest of that class, however near another is
    check(near(0.0, 100.0, Some(RoadClass::Main)), RoadClass::Main, "G107", 900.0);
    check(near(30.0, 1500.0, None), RoadClass::Main, "G107", 30.0);
    // a multiline's second part; a road without a name
    check(near(2900.0, 500.0, None), RoadClass::Other, "", 100.0);
    check(
        near(2900.0, 500.0, Some(RoadClass::Highway)),
        RoadClass::Highway,
        "G1",
        (2400f64.powi(2) + 500f64.powi(2)).sqrt(),
    );
    // on the road
    check(near(250.0, 0.0, None), RoadClass::Highway, "G1", 0.0);
    assert_eq!(aoi.nearest_road(f64::NAN, 37.6, None), None);
    assert_eq!(aoi.nearest_road(115.7, f64::INFINITY, Some(RoadClass::Other)), None);
}

#[test]
fn i11_without_roads_no_road_is_near_and_check_says_what_is_lost() {
    let dir = district(&[]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    assert_eq!(aoi.nearest_road(CENTRE.0, CENTRE.1, None), None);
    assert_eq!(aoi.nearest_dump_site(CENTRE.0, CENTRE.1), None);
    assert_eq!(aoi.distance_to_built_up(CENTRE.0, CENTRE.1), None);
    let said = |what: &str| aoi.warnings.iter().any(|w| w.contains(what));
    assert!(
        said("optional layer `roads` not found: no fire is raised to high priority for being near a highway, and no kind rule can use road distance"),
        "{:?}",
        aoi.warnings
    );
    assert!(
        said("optional layer `dump_sites` not found: no kind rule can use the distance to a dump site"),
        "{:?}",
        aoi.warnings
    );
}

#[test]
fn i11_dump_sites_are_points_or_areas_at_0_m_inside() {
    let sites = vec![
        feature(
            json!({"name": "东堆放点", "kind": "垃圾堆放点"}),
            json!({"type": "Point", "coordinates": deg(0.0, -2000.0)}),
        ),
        polygon_m(json!({"name": "中转站"}), 1000.0, -2500.0, 1500.0, -2000.0),
    ];
    let dir = district(&[("dump_sites", sites)]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    assert_eq!(aoi.dump_sites[0].kind.as_deref(), Some("垃圾堆放点"));
    assert_eq!(aoi.dump_sites[1].kind, None);
    let near = |x, y| {
        let (lon, lat) = at(&aoi, x, y);
        aoi.nearest_dump_site(lon, lat).expect("a dump site")
    };
    let check = |(name, d): (String, f64), want: &str, m: f64| {
        assert!(name == want && close(d, m), "{name} at {d} m, expected {want} at {m} m");
    };
    check(near(1250.0, -2250.0), "中转站", 0.0);
    check(near(1010.0, -2010.0), "中转站", 0.0);
    check(near(1250.0, -1900.0), "中转站", 100.0);
    check(near(1700.0, -1800.0), "中转站", 200.0 * 2f64.sqrt());
    check(near(0.0, -1900.0), "东堆放点", 100.0);
    check(near(-300.0, -2400.0), "东堆放点", 500.0);
}

#[test]
fn i11_distance_to_built_up_and_the_new_land_classes() {
    let landuse = vec![
        polygon_m(json!({"class": "built_up", "name": "村"}), -200.0, -200.0, 200.0, 200.0),
        polygon_m(json!({"class": "water"}), 1000.0, -5000.0, 1200.0, 5000.0),
        // grass over the built-up block and the river: they win
        polygon_m(json!({"class": "waste"}), -1000.0, -1000.0, 1500.0, -100.0),
        polygon_m(json!({"class": "林带"}), -1000.0, -300.0, 2000.0, -250.0),
        polygon_m(json!({"class": "tree_belt"}), -1000.0, 2000.0, 2000.0, 2050.0),
        polygon_m(json!({"class": "built_up", "name": "村2"}), 3000.0, 3000.0, 3100.0, 3100.0),
    ];
    let dir = district(&[("landuse", landuse)]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    let both = |x, y| {
        let (lon, lat) = at(&aoi, x, y);
        (aoi.landuse_at(lon, lat), aoi.distance_to_built_up(lon, lat).expect("built-up land"))
    };
    let check = |(class, d): (LandClass, f64), want: LandClass, m: f64| {
        assert!(class == want && close(d, m), "{class:?} at {d} m, expected {want:?} at {m} m");
    };
    check(both(0.0, 0.0), LandClass::BuiltUp, 0.0);
    check(both(0.0, -150.0), LandClass::BuiltUp, 0.0);
    check(both(0.0, 300.0), LandClass::Farmland, 100.0);
    check(both(0.0, -400.0), LandClass::Grassland, 200.0);
    check(both(0.0, -275.0), LandClass::TreeBelt, 75.0);
    check(both(1100.0, -275.0), LandClass::Water, (900f64.powi(2) + 75f64.powi(2)).sqrt());
    check(both(500.0, 2025.0), LandClass::TreeBelt, (300f64.powi(2) + 1825f64.powi(2)).sqrt());
    // the second settlement is nearer there
    check(both(2900.0, 3050.0), LandClass::Farmland, 100.0);
    // a landuse layer with no built-up land: no distance, and a warning that says so
    let dir = district(&[("landuse", vec![polygon_m(json!({"class": "荒草地"}), 0.0, 0.0, 100.0, 100.0)])]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    assert_eq!(aoi.landuse_at(CENTRE.0 + 1e-5, CENTRE.1 + 1e-5), LandClass::Grassland);
    assert_eq!(aoi.distance_to_built_up(CENTRE.0, CENTRE.1), None);
    assert!(aoi.warnings.iter().any(|w| w.contains("no built_up polygon")), "{:?}", aoi.warnings);
}

/// Every problem of a district that fails to load.
fn problems(dir: &Path, cfg: &AoiConfig) -> Vec<String> {
    match load(dir, cfg) {
        Err(AoiError::Problems { problems, .. }) => problems,
        Err(e) => panic!("not a list of problems: {e}"),
        Ok(_) => panic!("the district loaded"),
    }
}

#[test]
fn i11_bad_roads_and_dump_sites_are_named_with_file_feature_and_field() {
    let roads = vec![
        line_m(json!({"class": "highway", "name": "G1"}), &[(0.0, 0.0), (10.0, 0.0)]),
        line_m(json!({"class": "motorway", "name": "M1"}), &[(0.0, 0.0), (10.0, 0.0)]),
        polygon_m(json!({"class": "main"}), 0.0, 0.0, 10.0, 10.0),
        line_m(json!({"class": "other"}), &[(5.0, 5.0), (5.0, 5.0)]),
        line_m(json!({"name": "no class"}), &[(0.0, 0.0), (10.0, 0.0)]),
    ];
    let sites = vec![
        feature(json!({"name": "无位置"}), Value::Null),
        line_m(json!({"name": "线"}), &[(0.0, 0.0), (10.0, 0.0)]),
        feature(json!({"kind": "垃圾堆放点"}), json!({"type": "Point", "coordinates": deg(0.0, 0.0)})),
    ];
    let dir = district(&[("roads", roads), ("dump_sites", sites)]);
    let p = problems(dir.path(), &AoiConfig::default());
    let roads = dir.path().join("roads.geojson").display().to_string();
    let sites = dir.path().join("dump_sites.geojson").display().to_string();
    let want = [
        // named by name where the feature has one (r22), else by its index
        format!("AOI layer {roads}: feature M1, field `class`: unknown road class `motorway` (highway, main, other;"),
        format!("AOI layer {roads}: feature 2: expected a line, found a polygon"),
        format!("AOI layer {roads}: feature 3: a line of zero length"),
        format!("AOI layer {roads}: feature no class has no value in field `class"),
        format!("AOI layer {sites}: feature 无位置: no geometry"),
        format!("AOI layer {sites}: feature 线: expected a point or a polygon, found a line"),
        format!("AOI layer {sites}: feature 2 has no value in field `name"),
    ];
    for w in &want {
        assert!(p.iter().any(|p| p.starts_with(w.as_str())), "no problem starting `{w}` in {p:#?}");
    }
    assert_eq!(p.len(), want.len(), "{p:#?}");
    // a bad land-use class is named the same way
    let dir = district(&[("landuse", vec![polygon_m(json!({"class": "forest"}), 0.0, 0.0, 10.0, 10.0)])]);
    let p = problems(dir.path(), &AoiConfig::default());
    let path = dir.path().join("landuse.geojson").display().to_string();
    assert!(
        p[0].starts_with(&format!("AOI layer {path}: feature 0, field `class`: unknown land-use class `forest`")),
        "{p:?}"
    );
}

#[test]
fn i11_roads_and_dump_sites_use_the_county_s_own_column_names() {
    let roads = vec![line_m(json!({"等级": "高速公路", "名称": "京港澳"}), &[(-500.0, 0.0), (500.0, 0.0)])];
    let sites = vec![feature(
        json!({"名称": "西堆放点", "类型": "垃圾中转站"}),
        json!({"type": "Point", "coordinates": deg(0.0, 300.0)}),
    )];
    let dir = district(&[("roads", roads), ("dump_sites", sites)]);
    let mut cfg = AoiConfig::default();
    // the class column unmapped: named, with the columns the layer has
    cfg.fields.insert("name".into(), "名称".into());
    let p = problems(dir.path(), &cfg);
    assert!(
        p.iter().any(|p| p.contains("roads.geojson lacks field(s) `class`; its fields: ") && p.contains("等级")),
        "{p:?}"
    );
    cfg.fields.insert("roads.class".into(), "等级".into());
    cfg.fields.insert("dump_sites.kind".into(), "类型".into());
    let aoi = load(dir.path(), &cfg).unwrap();
    let (lon, lat) = at(&aoi, 0.0, 100.0);
    let road = aoi.nearest_road(lon, lat, Some(RoadClass::Highway)).expect("the highway");
    assert!(road.name == "京港澳" && close(road.distance_m, 100.0), "{road:?}");
    let (name, d) = aoi.nearest_dump_site(lon, lat).expect("the dump site");
    assert!(name == "西堆放点" && close(d, 200.0), "{name} {d}");
    assert_eq!(aoi.dump_sites[0].kind.as_deref(), Some("垃圾中转站"));
}

#[test]
fn i11_check_layer_reads_roads_and_dump_sites_on_their_own() {
    let dir = district(&[("roads", roads())]);
    let check = super::super::check_layer("roads", &dir.path().join("roads.geojson"), &AoiConfig::default());
    assert_eq!((check.read, check.problems.len()), (3, 0), "{:?}", check.problems);
    let check = super::super::check_layer("dump_sites", &dir.path().join("roads.geojson"), &AoiConfig::default());
    assert_eq!(check.read, 0);
    assert!(
        check.problems.iter().any(|p| p.contains("feature G1: expected a point or a polygon")),
        "{:?}",
        check.problems
    );
}

/// Random polylines in `[-5, 5] km²`, some of them long, of random classes.
fn random_roads(rng: &mut SplitMix, n: usize) -> Vec<Value> {
    let classes = ["highway", "main", "other", "other"];
    (0..n)
        .map(|k| {
            let (mut x, mut y) = (rng.range(-5e3, 5e3), rng.range(-5e3, 5e3));
            let steps = 2 + (rng.next_u64() % 40) as usize;
            let mut pts = vec![(x, y)];
            for _ in 0..steps {
                x = (x + rng.normal(300.0)).clamp(-5e3, 5e3);
                y = (y + rng.normal(300.0)).clamp(-5e3, 5e3);
                pts.push((x, y));
            }
            line_m(json!({"class": classes[k % 4], "name": format!("r{k}")}), &pts)
        })
        .collect()
}

#[test]
fn i11_indexed_nearest_road_answers_as_a_scan_of_every_segment() {
    let mut rng = SplitMix::new(11);
    let mut sites = Vec::new();
    for k in 0..40 {
        let (x, y) = (rng.range(-5e3, 5e3), rng.range(-5e3, 5e3));
        sites.push(if k % 2 == 0 {
            feature(json!({"name": format!("d{k}")}), json!({"type": "Point", "coordinates": deg(x, y)}))
        } else {
            polygon_m(json!({"name": format!("d{k}")}), x, y, x + rng.range(100.0, 800.0), y + rng.range(100.0, 800.0))
        });
    }
    let dir = district(&[("roads", random_roads(&mut rng, 300)), ("dump_sites", sites)]);
    let aoi = load(dir.path(), &AoiConfig::default()).unwrap();
    let segments: usize = aoi.roads.iter().map(|r| r.line.0.iter().map(|l| l.0.len() - 1).sum::<usize>()).sum();
    assert!(segments > 5000, "{segments}");
    let p = &aoi.projector;
    let m = |l: &LineString<f64>| -> Vec<Line<f64>> {
        l.lines().map(|s| Line::new(p.point(s.start.x, s.start.y), p.point(s.end.x, s.end.y))).collect()
    };
    let projected: Vec<Vec<Line<f64>>> = aoi.roads.iter().map(|r| r.line.0.iter().flat_map(m).collect()).collect();
    let (mut inside, mut timed, mut queries) = (0, std::time::Duration::ZERO, 0u32);
    for _ in 0..2000 {
        let (lon, lat) = p.to_deg(rng.range(-6e3, 6e3), rng.range(-6e3, 6e3));
        let q = p.point(lon, lat);
        for class in [None, Some(RoadClass::Highway), Some(RoadClass::Main), Some(RoadClass::Other)] {
            let t = std::time::Instant::now();
            let got = aoi.nearest_road(lon, lat, class).expect("roads of every class");
            timed += t.elapsed();
            queries += 1;
            let want = aoi
                .roads
                .iter()
                .zip(&projected)
                .filter(|(r, _)| class.is_none_or(|c| c == r.class))
                .map(|(r, lines)| (r, lines.iter().map(|l| Euclidean.distance(&q, l)).fold(f64::INFINITY, f64::min)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!((got.distance_m - want.1).abs() < 1e-6, "{got:?}, expected {} at {} m", want.0.name, want.1);
        }
        let (name, d) = aoi.nearest_dump_site(lon, lat).unwrap();
        let want = aoi
            .dump_sites
            .iter()
            .map(|s| {
                let d = match &s.site {
                    super::super::Site::Point(x, y) => Euclidean.distance(&q, &p.point(*x, *y)),
                    super::super::Site::Area(a) => Euclidean.distance(&q, &p.project(a)),
                };
                (s, d)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!((d - want.1).abs() < 1e-6, "{name} at {d} m, expected {} at {} m", want.0.name, want.1);
        inside += (d == 0.0) as usize;
    }
    assert!(inside > 10, "only {inside} points inside a dump site");
    eprintln!("nearest_road: {:.1} µs a query over {segments} segments", timed.as_secs_f64() * 1e6 / queries as f64);
}
