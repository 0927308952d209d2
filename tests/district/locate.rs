//! Geolocation against the sample district: village/grid lookup and camera geometry.

use chrono::TimeZone;
use firepoint::aoi::{Aoi, LandClass};
use firepoint::ingest::frame::Pose;
use firepoint::locate::camera;

fn aoi() -> Aoi {
    Aoi::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).expect("sample AOI loads")
}

#[test]
fn every_village_centroid_maps_back_to_its_own_grid_cell() {
    use geo::InteriorPoint;
    let aoi = aoi();
    assert_eq!(aoi.villages.len(), 200);
    for v in &aoi.villages {
        let p = v.area.interior_point().unwrap();
        let found = aoi.village_at(p.x(), p.y()).expect("inside some village");
        assert_eq!(found.grid_id, v.grid_id);
        assert_eq!(aoi.township(&found.township).map(|t| t.code.as_str()), Some(v.township.as_str()));
    }
    assert!(aoi.village_at(115.3, 37.3).is_none(), "outside the county");
}

#[test]
fn cement_plant_is_a_heat_source_and_open_field_is_not() {
    let aoi = aoi();
    let (lon, lat) = firepoint::aoi::generate::CEMENT_PLANT;
    assert_eq!(aoi.heat_source_near(lon, lat, 500.0, 0.0).map(|h| h.kind.as_str()), Some("cement_plant"));
    // ~800 m east of the plant's edge: outside its 500 m buffer unless the detection is uncertain
    assert!(aoi.heat_source_near(lon + 0.0125, lat, 500.0, 0.0).is_none());
    assert!(aoi.heat_source_near(lon + 0.0125, lat, 500.0, 700.0).is_some());
    assert_eq!(
        aoi.landuse_at(firepoint::aoi::generate::COUNTY_TOWN.0, firepoint::aoi::generate::COUNTY_TOWN.1),
        LandClass::BuiltUp
    );
}

#[test]
fn camera_ray_to_ground_and_back_agree_within_ranging_error() {
    let aoi = aoi();
    let cam = aoi.camera("CAM03").unwrap();
    let pose = Pose {
        camera_id: "CAM03".into(),
        captured_at: chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 31, 0).unwrap(),
        pan_deg: 60.0,
        tilt_deg: -1.5,
        hfov_deg: 40.0,
        extra: Default::default(),
    };
    let aspect = 0.75;
    for (dist, bearing) in [(800.0, 55.0), (1500.0, 62.0), (2500.0, 60.0), (4000.0, 70.0)] {
        let (sx, sy) = aoi.projector.to_m(cam.lon, cam.lat);
        let b: f64 = f64::to_radians(bearing);
        let (lon, lat) = aoi.projector.to_deg(sx + dist * b.sin(), sy + dist * b.cos());
        let (fx, fy) = camera::project(&aoi, cam, &pose, aspect, lon, lat).expect("in view");
        let fix = camera::ground_fix(&aoi, cam, &pose, aspect, fx, fy);
        assert!(fix.hit_ground);
        let err = aoi.projector.distance_m((fix.lon, fix.lat), (lon, lat));
        assert!(err <= 0.05 * dist + 25.0, "{dist} m at {bearing}°: off by {err:.0} m");
        assert!((fix.azimuth_deg - bearing).abs() < 0.5);
    }
    // looking above the horizon: placed at the range limit, flagged
    let up = camera::ground_fix(&aoi, cam, &pose, aspect, 0.5, 0.0);
    assert!(!up.hit_ground && (up.distance_m - cam.range_m).abs() < 1.0);
}

/// Errors in metres of camera fixes on synthetic truth: ground points at `dist` from a tower of the
/// sample district, seen with ±2 px plume-base noise and ±0.2° pose noise (1 σ, pan and tilt),
/// placed by one tower on the DEM and by two towers' bearings. Returns (single, triangulated).
fn fix_errors(aoi: &Aoi, dist: f64, n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = firepoint::rng::SplitMix::new(seed);
    let (hfov, width) = (40.0, 1920.0);
    let px_deg = hfov / width;
    let (mut single, mut tri) = (Vec::new(), Vec::new());
    while single.len() < n {
        let mut cam = aoi.cameras[(rng.unit() * aoi.cameras.len() as f64) as usize % aoi.cameras.len()].clone();
        cam.range_m = 12_000.0; // measure past the sample towers' 5 km
        let bearing = rng.range(0.0, 360.0);
        let (sx, sy) = aoi.projector.to_m(cam.lon, cam.lat);
        let b = bearing.to_radians();
        let truth = aoi.projector.to_deg(sx + dist * b.sin(), sy + dist * b.cos());
        // the second tower: another one within 8 km of the point, at least 20° of crossing
        let other = aoi.cameras.iter().filter(|c| c.id != cam.id).find(|c| {
            let (ox, oy) = aoi.projector.to_m(c.lon, c.lat);
            let (tx, ty) = aoi.projector.to_m(truth.0, truth.1);
            let d2 = (tx - ox).hypot(ty - oy);
            let cross = ((tx - sx) * (ty - oy) - (ty - sy) * (tx - ox)).abs() / (dist * d2);
            d2 < 8_000.0 && cross > 20f64.to_radians().sin()
        });
        // true pose looking at the point, then the noisy pose and pixel the camera reports
        let drop = aoi.elevation(truth.0, truth.1)
            - camera::earth_drop_m(dist)
            - (aoi.elevation(cam.lon, cam.lat) + cam.height_m);
        let el_true = drop.atan2(dist).to_degrees();
        let az_seen = bearing + rng.normal(0.2) + rng.normal(2.0 * px_deg);
        let el_seen = el_true + rng.normal(0.2) + rng.normal(2.0 * px_deg);
        let errors = camera::AngleErrors { pose_deg: 0.2, pixel_deg: 2.0 * px_deg };
        let fix = camera::march(aoi, &cam, az_seen.rem_euclid(360.0), el_seen, &errors);
        single.push(aoi.projector.distance_m((fix.lon, fix.lat), truth));
        if let Some(o) = other {
            let (ox, oy) = aoi.projector.to_m(o.lon, o.lat);
            let (tx, ty) = aoi.projector.to_m(truth.0, truth.1);
            let az_o = (tx - ox).atan2(ty - oy).to_degrees() + rng.normal(0.2) + rng.normal(2.0 * px_deg);
            let sigma = 0.2f64.hypot(2.0 * px_deg);
            let bearings = [
                camera::Bearing { lon: cam.lon, lat: cam.lat, azimuth_deg: az_seen, sigma_deg: sigma },
                camera::Bearing { lon: o.lon, lat: o.lat, azimuth_deg: az_o, sigma_deg: sigma },
            ];
            if let Some(t) = camera::triangulate(&bearings) {
                tri.push(aoi.projector.distance_m((t.lon, t.lat), truth));
            }
        }
    }
    (single, tri)
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn r7_camera_fix_errors_on_synthetic_truth_and_the_triangulation_target() {
    let aoi = aoi();
    eprintln!("distance | single tower on the DEM: median, p90 | two towers triangulated: median, p90 (n)");
    for dist in [1000.0, 3000.0, 5000.0, 8000.0] {
        let (mut single, mut tri) = fix_errors(&aoi, dist, 300, dist as u64);
        let (s50, s90) = (quantile(&mut single, 0.5), quantile(&mut single, 0.9));
        let (t50, t90) = (quantile(&mut tri, 0.5), quantile(&mut tri, 0.9));
        eprintln!("{:>5.0} km | {s50:>6.0} m {s90:>6.0} m | {t50:>5.0} m {t90:>5.0} m ({})", dist / 1000.0, tri.len());
        assert!(tri.len() >= 50, "enough two-tower cases at {dist} m");
        if dist <= 5000.0 {
            assert!(t50 <= 150.0, "triangulated median {t50:.0} m at {dist} m (target ≤ 150 m)");
        }
        if dist <= 1000.0 {
            assert!(s50 <= 150.0, "one tower at 1 km: median {s50:.0} m");
        }
    }
}

#[test]
fn r7_bearings_that_cross_meet_where_they_should_and_parallel_ones_do_not() {
    let p = firepoint::grid::Projector::new(115.7, 37.6);
    let target = p.to_deg(2000.0, 3000.0);
    let tower = |x: f64, y: f64| {
        let (lon, lat) = p.to_deg(x, y);
        let az = (2000.0 - x).atan2(3000.0 - y).to_degrees();
        camera::Bearing { lon, lat, azimuth_deg: az, sigma_deg: 0.2 }
    };
    let t = camera::triangulate(&[tower(0.0, 0.0), tower(5000.0, 0.0)]).unwrap();
    assert!(p.distance_m((t.lon, t.lat), target) < 1.0);
    assert!(t.ellipse_m.0 >= t.ellipse_m.1 && t.radius_m < 50.0, "{t:?}");
    assert!(camera::triangulate(&[tower(0.0, 0.0), tower(1.0, 1.5)]).is_none(), "near-parallel");
    assert!(camera::triangulate(&[tower(0.0, 0.0)]).is_none(), "one tower");
    let mut behind = tower(5000.0, 0.0);
    behind.azimuth_deg += 180.0;
    assert!(camera::triangulate(&[tower(0.0, 0.0), behind]).is_none(), "behind a tower");
}
