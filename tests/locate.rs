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
