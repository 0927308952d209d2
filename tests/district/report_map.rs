//! The report's PNG map: markers land where their tickets are, in their kind's colour, on the
//! sample district; the table copes with more townships than fit; a missing font names its package.

use std::path::Path;

use firepoint::aoi::Aoi;
use firepoint::domain::{BurnKind, Ticket};
use firepoint::report_map::{self, Frame, MapError, BACKGROUND, HEIGHT, WIDTH};

fn sample() -> Aoi {
    Aoi::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).expect("sample AOI loads")
}

/// A ticket of `kind` at `lon`, `lat`, placed in its village's township as dispatch would.
fn ticket(aoi: &Aoi, id: &str, kind: &str, lon: f64, lat: f64) -> Ticket {
    let village = aoi.village_at(lon, lat).expect("test point lies in a village");
    let township = aoi.township(&village.township).expect("village's township exists");
    let at = "2026-06-09T02:00:00Z";
    serde_json::from_value(serde_json::json!({
        "id": id, "status": "open", "kind": kind, "priority": "normal", "reasons": [], "lon": lon, "lat": lat,
        "radius_m": 700.0, "township_code": township.code, "township": township.name, "team": "", "team_phone": "",
        "village_code": village.code, "village": village.name, "grid_id": "", "grid_member": "", "grid_phone": "",
        "landuse": "farmland", "sources": ["satellite"], "cameras": [], "related": [], "detections": 1,
        "first_seen": at, "last_seen": at, "deadline": at, "created_at": at, "updated_at": at,
        "acked_by": null, "acked_at": null, "closed_at": null, "close_note": null
    }))
    .unwrap()
}

fn rows(tickets: &[Ticket]) -> Vec<firepoint::report::ReportRow> {
    let points = tickets.iter().map(|t| (t.id.clone(), 2)).collect();
    let monday = firepoint::report::parse_week("2026-W24").unwrap();
    firepoint::report::period(tickets, &points, monday..=monday + chrono::Duration::days(6), chrono::Utc::now())
}

fn rgb(c: plotters::style::RGBColor) -> image::Rgb<u8> {
    image::Rgb([c.0, c.1, c.2])
}

#[test]
fn map_markers_sit_at_their_tickets_in_their_kinds_colour_and_outside_the_county_is_background() {
    let aoi = sample();
    let tickets = [
        ticket(&aoi, "s1", "straw", 115.60, 37.60),
        ticket(&aoi, "g1", "garbage", 115.75, 37.70),
        ticket(&aoi, "u1", "unknown", 115.80, 37.56),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("map.png");
    let title = format!("{} 2026-W24 秸秆焚烧火点通报", aoi.county.name);
    report_map::render(&aoi, &tickets, &rows(&tickets), &title, &out).unwrap();

    let img = image::open(&out).expect("map is a PNG").to_rgb8();
    assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
    let frame = Frame::new(&aoi).unwrap();
    for t in &tickets {
        let (x, y) = frame.pixel(t.lon, t.lat);
        assert_eq!(*img.get_pixel(x as u32, y as u32), rgb(report_map::marker_colour(t.kind)), "ticket {}", t.id);
    }
    // distinct colours, so a marker of one kind drawn at another's place would fail above
    let colours: std::collections::HashSet<_> =
        [BurnKind::Straw, BurnKind::Garbage, BurnKind::Unknown].map(|k| rgb(report_map::marker_colour(k))).into();
    assert_eq!(colours.len(), 3);
    // west of the county's box, at its middle latitude: inside the map panel, outside the county
    let bbox = geo::BoundingRect::bounding_rect(&aoi.county.area).unwrap();
    let (lon, lat) = (bbox.min().x - 0.01, (bbox.min().y + bbox.max().y) / 2.0);
    assert!(!aoi.contains(lon, lat));
    let (x, y) = frame.pixel(lon, lat);
    assert!(x > report_map::MAP_PANEL.0, "test point is on the map panel");
    assert_eq!(*img.get_pixel(x as u32, y as u32), rgb(BACKGROUND));
    // and inside the county, away from markers, is not background (the township fill)
    let (x, y) = frame.pixel(115.70, 37.65);
    assert_ne!(*img.get_pixel(x as u32, y as u32), rgb(BACKGROUND));
}

#[test]
fn a_ranking_longer_than_the_panel_and_a_ticket_off_the_map_still_render() {
    let aoi = sample();
    let mut off_map = ticket(&aoi, "far", "straw", 115.60, 37.60);
    off_map.lon = 120.0;
    let mut long = rows(&[ticket(&aoi, "s1", "straw", 115.60, 37.60)]);
    let total = long.pop().unwrap();
    long.extend((1..=40).map(|i| firepoint::report::ReportRow {
        rank: i,
        township: format!("乡镇{i}"),
        ..total.clone()
    }));
    long.push(total);
    let out = tempfile::tempdir().unwrap().path().join("map.png");
    // the temp dir is gone: writing fails, and the error names the file
    let err = report_map::render(&aoi, &[off_map.clone()], &long, "长表", &out).unwrap_err();
    assert!(matches!(&err, MapError::Write { path, .. } if *path == out), "{err}");
    let dir = tempfile::tempdir().unwrap();
    report_map::render(&aoi, &[off_map], &long, "长表", &dir.path().join("map.png")).unwrap();
}

#[test]
fn a_missing_font_error_names_the_debian_package() {
    let err = report_map::find_font(&[("/nonexistent/wqy-microhei.ttc", "fonts-wqy-microhei")]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("apt-get install fonts-wqy-microhei") && msg.contains("/nonexistent/wqy-microhei.ttc"),
        "{msg}"
    );
}
