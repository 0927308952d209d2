//! Issue 11, drone frames: drone photos in `inbox/drone/` placed from their own metadata. The
//! photos are synthetic: the test draws smoke where a known fire appears from the drone's pose
//! (the inverse projection, `locate::drone::project`) and writes the metadata itself — a real
//! APP1 EXIF segment (TIFF header, IFD0, Exif IFD, GPS IFD) and a real APP1 XMP packet with DJI's
//! `drone-dji:*` tags — so the reader under test (GDAL's JPEG driver) sees what a DJI photo
//! carries. Run the way cron runs the binary.

use crate::common;

use std::path::{Path, PathBuf};

use chrono::TimeZone;
use common::{files_under, Sandbox};
use firepoint::aoi::Aoi;
use firepoint::ingest::drone::{Altitude, DroneConfig, DronePose, Sources};

// ---- EXIF and XMP, written by hand -------------------------------------------------------

/// One IFD entry: tag, type (1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL), count, value bytes.
type Entry = (u16, u16, u32, Vec<u8>);

fn ascii(s: &str) -> (u16, u32, Vec<u8>) {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    (2, b.len() as u32, b)
}

fn rationals(vs: &[f64]) -> (u16, u32, Vec<u8>) {
    let mut b = Vec::new();
    for v in vs {
        b.extend(((v * 10_000.0).round() as u32).to_le_bytes());
        b.extend(10_000u32.to_le_bytes());
    }
    (5, vs.len() as u32, b)
}

fn entry(tag: u16, (typ, count, value): (u16, u32, Vec<u8>)) -> Entry {
    (tag, typ, count, value)
}

/// An IFD at `offset` from the TIFF header: entries sorted by tag, values over 4 bytes after it.
fn ifd(mut entries: Vec<Entry>, offset: u32) -> Vec<u8> {
    entries.sort_by_key(|e| e.0);
    let data_at = offset + 2 + 12 * entries.len() as u32 + 4;
    let (mut head, mut data) = ((entries.len() as u16).to_le_bytes().to_vec(), Vec::new());
    for (tag, typ, count, value) in entries {
        head.extend(tag.to_le_bytes());
        head.extend(typ.to_le_bytes());
        head.extend(count.to_le_bytes());
        if value.len() <= 4 {
            let mut v = value.clone();
            v.resize(4, 0);
            head.extend(v);
        } else {
            head.extend((data_at + data.len() as u32).to_le_bytes());
            data.extend(value);
            if data.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    head.extend(0u32.to_le_bytes());
    head.extend(data);
    head
}

fn dms(deg: f64) -> Vec<f64> {
    let d = deg.abs().floor();
    let m = ((deg.abs() - d) * 60.0).floor();
    vec![d, m, (deg.abs() - d - m / 60.0) * 3600.0]
}

/// What the test puts in a photo's EXIF.
struct Exif {
    lat: f64,
    lon: f64,
    gps_alt: f64,
    at: chrono::DateTime<chrono::Utc>,
    f35: Option<u16>,
    serial: Option<&'static str>,
}

/// The APP1 EXIF segment: IFD0 (Make, Model, pointers), the Exif IFD (DateTimeOriginal,
/// FocalLengthIn35mmFilm, BodySerialNumber) and the GPS IFD.
fn exif_app1(e: &Exif) -> Vec<u8> {
    let gps = vec![
        entry(0x0000, (1, 4, vec![2, 3, 0, 0])),
        entry(0x0001, ascii(if e.lat < 0.0 { "S" } else { "N" })),
        entry(0x0002, rationals(&dms(e.lat))),
        entry(0x0003, ascii(if e.lon < 0.0 { "W" } else { "E" })),
        entry(0x0004, rationals(&dms(e.lon))),
        entry(0x0005, (1, 1, vec![0])),
        entry(0x0006, rationals(&[e.gps_alt])),
        entry(
            0x0007,
            rationals(&[
                e.at.format("%H").to_string().parse().unwrap(),
                e.at.format("%M").to_string().parse().unwrap(),
                e.at.format("%S").to_string().parse().unwrap(),
            ]),
        ),
        entry(0x001D, ascii(&e.at.format("%Y:%m:%d").to_string())),
    ];
    let beijing = e.at + chrono::Duration::hours(8);
    let mut exif = vec![entry(0x9003, ascii(&beijing.format("%Y:%m:%d %H:%M:%S").to_string()))];
    if let Some(f) = e.f35 {
        exif.push(entry(0xA405, (3, 1, f.to_le_bytes().to_vec())));
    }
    if let Some(s) = e.serial {
        exif.push(entry(0xA431, ascii(s)));
    }
    let ifd0 = |exif_at: u32, gps_at: u32| {
        vec![
            entry(0x010F, ascii("DJI")),
            entry(0x0110, ascii("FC6310S")),
            entry(0x8769, (4, 1, exif_at.to_le_bytes().to_vec())),
            entry(0x8825, (4, 1, gps_at.to_le_bytes().to_vec())),
        ]
    };
    let len0 = ifd(ifd0(0, 0), 8).len() as u32;
    let exif_at = 8 + len0;
    let exif_ifd = ifd(exif, exif_at);
    let gps_at = exif_at + exif_ifd.len() as u32;
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(ifd(ifd0(exif_at, gps_at), 8));
    tiff.extend(exif_ifd);
    tiff.extend(ifd(gps, gps_at));
    app1(b"Exif\0\0", &tiff)
}

fn app1(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut seg = vec![0xFF, 0xE1];
    seg.extend(((2 + header.len() + body.len()) as u16).to_be_bytes());
    seg.extend(header);
    seg.extend(body);
    seg
}

/// The APP1 XMP segment around `packet`.
fn xmp_app1(packet: &str) -> Vec<u8> {
    app1(b"http://ns.adobe.com/xap/1.0/\0", packet.as_bytes())
}

/// A DJI XMP packet with `tags` as attributes of `rdf:Description` (most models).
fn dji_xmp(tags: &[(&str, String)]) -> String {
    let attrs: String = tags.iter().map(|(k, v)| format!(" drone-dji:{k}=\"{v}\"")).collect();
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="DJI Meta Data" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" tiff:Make="DJI"{attrs}/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#
    )
}

/// A JPEG of `img` with `segments` right after its SOI marker.
fn jpeg(img: &image::RgbImage, segments: &[Vec<u8>]) -> Vec<u8> {
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 92).encode_image(img).unwrap();
    let mut out = plain[..2].to_vec();
    for s in segments {
        out.extend(s);
    }
    out.extend(&plain[2..]);
    out
}

// ---- the scene ------------------------------------------------------------------------------

fn aoi() -> Aoi {
    Aoi::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aoi"))).expect("sample AOI loads")
}

/// The known fire: a straw fire on farmland of the sample district.
const FIRE: (f64, f64) = (115.565, 37.705);
const SIZE: (u32, u32) = (640, 480);

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 31, 0).unwrap()
}

/// A patrol drone `dist` m from the fire (bearing `from_deg` from the fire), 120 m above its
/// take-off point, its camera turned toward the fire and pitched so the fire sits below the
/// photo's centre.
fn scene(aoi: &Aoi, dist: f64, from_deg: f64) -> DronePose {
    let (fx, fy) = aoi.projector.to_m(FIRE.0, FIRE.1);
    let b = from_deg.to_radians();
    let (lon, lat) = aoi.projector.to_deg(fx + dist * b.sin(), fy + dist * b.cos());
    let rel = 120.0;
    let look_down = (rel / dist).atan().to_degrees();
    DronePose {
        drone_id: "UAV-TEST".into(),
        captured_at: at(),
        lon,
        lat,
        altitude: Altitude { relative_m: Some(rel), ..Default::default() },
        yaw_deg: (from_deg + 180.0 + 6.0).rem_euclid(360.0),
        pitch_deg: -(look_down - 8.0),
        roll_deg: 0.0,
        hfov_deg: 2.0 * (36.0f64 / 48.0).atan().to_degrees(), // 24 mm equivalent
        sources: Sources::default(),
    }
}

/// Where the fire appears in a photo taken from `pose`.
fn fire_in_photo(aoi: &Aoi, pose: &DronePose) -> (f64, f64) {
    let lens = firepoint::locate::drone::lens(aoi, pose, &DroneConfig::default()).unwrap();
    let aspect = SIZE.1 as f64 / SIZE.0 as f64;
    firepoint::locate::drone::project(aoi, pose, &lens.lens, aspect, FIRE.0, FIRE.1).expect("the fire is in view")
}

type Tags = Vec<(&'static str, String)>;

/// The XMP tags of `pose` (DJI writes signed numbers with a `+`).
fn tags(pose: &DronePose) -> Tags {
    vec![
        ("GimbalYawDegree", format!("{:+.2}", pose.yaw_deg)),
        ("GimbalPitchDegree", format!("{:+.2}", pose.pitch_deg)),
        ("GimbalRollDegree", "+0.00".into()),
        ("FlightYawDegree", format!("{:+.2}", pose.yaw_deg - 3.0)),
        ("RelativeAltitude", format!("{:+.2}", pose.altitude.relative_m.unwrap())),
        // DJI's absolute altitude, 40 m off: the rule must not use it
        ("AbsoluteAltitude", format!("{:+.2}", 160.0 + 40.0)),
    ]
}

fn exif_of(pose: &DronePose) -> Exif {
    Exif {
        lat: pose.lat,
        lon: pose.lon,
        gps_alt: 200.0,
        at: pose.captured_at,
        f35: Some(24),
        serial: Some("1581F5FHD23A00C7"),
    }
}

/// A drone photo of the fire from `pose` with the given metadata segments, at `rel` in the
/// sandbox.
fn write_photo(sb: &Sandbox, rel: &str, pose: &DronePose, smoke: Option<(f64, f64)>, segments: &[Vec<u8>]) -> PathBuf {
    let path = sb.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = firepoint::simulate::drone_photo(pose, SIZE, smoke, 11);
    std::fs::write(&path, jpeg(&img, segments)).unwrap();
    path
}

/// The shipped tile model, at a threshold the drawn plume reaches (its own, 0.95, was chosen on
/// real photographs; the drawn plume scores about 0.64 from this pose).
const THRESHOLD: &str = "camera.threshold=0.5";

/// `firepoint run` with the shipped tile model at [`THRESHOLD`]; no wait for late sidecars.
fn run(sb: &Sandbox, extra: &[&str]) -> std::process::Output {
    let model = format!("camera.model={:?}", concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-tile-v2.onnx"));
    let mut cmd = sb.cmd();
    cmd.args(["--set", &model, "--set", THRESHOLD, "--set", "camera.sidecar_wait_min=0"]);
    cmd.args(extra).arg("run").output().unwrap()
}

type Found = (String, String, f64, f64, f64, serde_json::Value);

fn detections(db: &Path) -> Vec<Found> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut q = conn.prepare("SELECT source, sensor, lon, lat, radius_m, evidence FROM detections").unwrap();
    q.query_map([], |r| {
        let ev: String = r.get(5)?;
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, serde_json::from_str(&ev).unwrap()))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The patrol's photo: 150 m from the fire, 120 m above its take-off point, the fire 8° below
/// the photo's centre and 6° left of it.
fn patrol(aoi: &Aoi) -> (DronePose, (f64, f64)) {
    let pose = scene(aoi, 150.0, 225.0);
    let base = fire_in_photo(aoi, &pose);
    (pose, base)
}

/// The tile model's tile, as fractions of a 640 × 480 photo: 224 px of the 1120 × 840 resize.
const TILE: (f64, f64) = (224.0 / 1120.0, 224.0 / 840.0);

/// The largest ground distance from the fire to where the rays through photo positions up to
/// one tile away from the fire's own position meet the ground: how far a plume base the model
/// places anywhere within one tile of the truth can put the fix.
fn one_tile_bound(aoi: &Aoi, pose: &DronePose, base: (f64, f64)) -> f64 {
    let lens = firepoint::locate::drone::lens(aoi, pose, &DroneConfig::default()).unwrap();
    let aspect = SIZE.1 as f64 / SIZE.0 as f64;
    let sigma = firepoint::locate::drone::PlaceSigma { x: 0.0, y: 0.0 };
    let mut worst: f64 = 0.0;
    for dx in [-1.0, 0.0, 1.0] {
        for dy in [-1.0, 0.0, 1.0] {
            let at = ((base.0 + dx * TILE.0).clamp(0.0, 1.0), (base.1 + dy * TILE.1).clamp(0.0, 1.0));
            let fix =
                firepoint::locate::drone::ground_fix(aoi, pose, &lens.lens, aspect, at, sigma, &DroneConfig::default())
                    .expect("on the ground");
            worst = worst.max(aoi.projector.distance_m((fix.lon, fix.lat), FIRE));
        }
    }
    worst
}

#[test]
fn r11_the_drone_ray_meets_the_ground_where_the_fire_is() {
    // geometry alone, no model: the fire's photo position from the inverse projection, back to
    // the ground through the DEM; near nadir, oblique, rolled, far
    let aoi = aoi();
    let cfg = DroneConfig::default();
    let aspect = 0.75;
    let sigma = firepoint::locate::drone::PlaceSigma { x: 0.02, y: 0.02 };
    for (dist, from, roll, pitch_off) in
        [(20.0, 0.0, 0.0, 0.0), (150.0, 225.0, 0.0, 8.0), (400.0, 90.0, 4.0, -5.0), (1500.0, 300.0, -3.0, 2.0)]
    {
        let mut pose = scene(&aoi, dist, from);
        pose.roll_deg = roll;
        pose.pitch_deg = (pose.pitch_deg - pitch_off).min(-1.0);
        let lens = firepoint::locate::drone::lens(&aoi, &pose, &cfg).unwrap();
        let at = firepoint::locate::drone::project(&aoi, &pose, &lens.lens, aspect, FIRE.0, FIRE.1).expect("in view");
        let fix = firepoint::locate::drone::ground_fix(&aoi, &pose, &lens.lens, aspect, at, sigma, &cfg).unwrap();
        let err = aoi.projector.distance_m((fix.lon, fix.lat), FIRE);
        // the marcher's bisection is exact to millimetres; what is left is the DEM's bilinear
        // sampling along the ray against the point's own
        assert!(err < 0.5, "{dist} m from {from}°, roll {roll}: {err:.3} m off");
        assert!(fix.radius_m >= 2.0 && fix.radius_m < 0.3 * cfg.max_range_m);
    }
}

#[test]
fn r11_a_drone_photo_is_placed_on_its_fire_from_exif_gps_and_dji_xmp() {
    let aoi = aoi();
    let sb = Sandbox::new();
    let (pose, base) = patrol(&aoi);
    let segs = [exif_app1(&exif_of(&pose)), xmp_app1(&dji_xmp(&tags(&pose)))];
    write_photo(&sb, "work/inbox/drone/UAV-07/DJI_0001.JPG", &pose, Some(base), &segs);
    let out = run(&sb, &[]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("drone photos: 1 scored, 1 with smoke"), "{stdout}");
    let found = detections(&sb.path("work/firepoint.sqlite"));
    assert_eq!(found.len(), 1, "{found:?}");
    let (source, sensor, lon, lat, radius, ev) = &found[0];
    assert_eq!((source.as_str(), sensor.as_str()), ("drone", "1581F5FHD23A00C7"), "the EXIF serial names the drone");
    // the altitude rule: DEM under the drone + RelativeAltitude, not DJI's AbsoluteAltitude
    assert_eq!(ev["drone"]["altitude_from"], "relative+dem");
    assert!((ev["drone"]["above_ground_m"].as_f64().unwrap() - 120.0).abs() < 0.2, "{ev}");
    assert_eq!(ev["gimbal"]["pitch_deg"].as_f64().unwrap(), (pose.pitch_deg * 10.0).round() / 10.0);
    assert_eq!(ev["hfov_deg"], 73.7, "from FocalLengthIn35mmFilm 24");
    assert!(ev["slant_m"].as_f64().unwrap() > ev["distance_m"].as_f64().unwrap());
    // the model places the plume base to a tile; the fix is where that position's ray meets the
    // ground, so its error on the known fire is bounded by one tile's footprint on the ground
    let seen = (ev["plume_base"][0].as_f64().unwrap(), ev["plume_base"][1].as_f64().unwrap());
    assert!((seen.0 - base.0).abs() <= TILE.0 && (seen.1 - base.1).abs() <= TILE.1, "{seen:?} vs {base:?}");
    let err = aoi.projector.distance_m((*lon, *lat), FIRE);
    let bound = one_tile_bound(&aoi, &pose, base);
    eprintln!("drone geolocation error {err:.1} m (bound {bound:.1} m, radius {radius:.1} m)");
    assert!(err <= bound, "{err:.1} m from the fire, more than one tile's footprint ({bound:.1} m)");
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["sources"], serde_json::json!(["drone"]));
    assert!(tickets[0]["ack_deadline"].is_string(), "a sighting gets camera-style deadlines: {:#}", tickets[0]);
}

#[test]
fn r11_a_photo_without_metadata_is_placed_from_its_sidecar_and_a_rerun_adds_nothing() {
    let aoi = aoi();
    let sb = Sandbox::new();
    let (pose, base) = patrol(&aoi);
    // no EXIF, no XMP: everything from the sidecar (and a field the tests do not know)
    let photo = write_photo(&sb, "work/inbox/drone/patrol/P0001.jpg", &pose, Some(base), &[]);
    let sidecar = serde_json::json!({
        "drone_id": "UAV-02", "captured_at": "2026-06-10T05:31:00Z", "lat": pose.lat, "lon": pose.lon,
        "relative_alt_m": 120.0, "yaw_deg": pose.yaw_deg, "pitch_deg": pose.pitch_deg, "roll_deg": 0.0,
        "hfov_deg": pose.hfov_deg, "battery": 71,
    });
    std::fs::write(photo.with_extension("json"), sidecar.to_string()).unwrap();
    let out = run(&sb, &["-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("fields ignored: battery"), "{stderr}");
    let found = detections(&sb.path("work/firepoint.sqlite"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, "UAV-02");
    assert_eq!(found[0].5["sources"]["position"], "sidecar");
    assert!(aoi.projector.distance_m((found[0].2, found[0].3), FIRE) <= one_tile_bound(&aoi, &pose, base));
    let first = sb.tickets();
    assert_eq!(first.len(), 1);
    // the photo and its sidecar left the inbox for the archive (issue 21); a rerun finds nothing
    assert!(!photo.exists() && !photo.with_extension("json").exists());
    let archived = common::files_under(&sb.path("work/archive"));
    let kept = archived.iter().find(|p| p.ends_with("drone/patrol/P0001.jpg")).expect("archived");
    assert!(kept.with_extension("json").exists(), "with its sidecar: {archived:?}");
    let out = run(&sb, &[]);
    assert_eq!(out.status.code(), Some(0));
    // delivered a second time under another name: nothing new
    let again = sb.path("work/inbox/drone/patrol/P0001-copy.jpg");
    std::fs::copy(kept, &again).unwrap();
    let out = run(&sb, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("1 already done") && stdout.contains("tickets: 0 new"), "{stdout}");
    assert!(!again.exists(), "the second copy leaves the inbox too");
    assert_eq!(sb.tickets().len(), 1, "no duplicate ticket");
    assert_eq!(detections(&sb.path("work/firepoint.sqlite")).len(), 1);
}

#[test]
fn r11_an_unflagged_drone_photo_is_recorded_with_no_detection() {
    let aoi = aoi();
    let sb = Sandbox::new();
    let (pose, _) = patrol(&aoi);
    let segs = [exif_app1(&exif_of(&pose)), xmp_app1(&dji_xmp(&tags(&pose)))];
    write_photo(&sb, "work/inbox/drone/UAV-07/DJI_0002.JPG", &pose, None, &segs);
    // the model's own threshold (0.95): the plain fields are no smoke
    let model = format!("camera.model={:?}", concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-tile-v2.onnx"));
    let out = sb.cmd().args(["--set", &model, "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("drone photos: 1 scored, 0 with smoke"));
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let (kind, n): (String, i64) = conn
        .query_row("SELECT kind, detections FROM inputs WHERE path LIKE '%DJI_0002.JPG'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((kind.as_str(), n), ("drone", 0));
    assert!(sb.tickets().is_empty());
}

#[test]
fn r11_each_bad_drone_photo_is_named_and_quarantined_and_the_rest_is_done() {
    let aoi = aoi();
    let sb = Sandbox::new();
    let (pose, base) = patrol(&aoi);
    let exif = exif_app1(&exif_of(&pose));
    let xmp_with = |change: &dyn Fn(&mut Tags)| {
        let mut t = tags(&pose);
        change(&mut t);
        xmp_app1(&dji_xmp(&t))
    };
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        ("no_gps.jpg", vec![xmp_app1(&dji_xmp(&tags(&pose)))], "has no position"),
        ("no_attitude.jpg", vec![exif.clone()], "has no camera yaw"),
        ("looks_up.jpg", vec![exif.clone(), xmp_with(&|t| t[1].1 = "+5.00".into())], "at or above the horizon"),
        (
            "nan.jpg",
            vec![exif.clone(), xmp_with(&|t| t[0].1 = "NaN".into())],
            "GimbalYawDegree (xmp) is `NaN`, not a number",
        ),
        (
            "not_xml.jpg",
            vec![exif.clone(), xmp_app1("<x:xmpmeta><rdf:RDF drone-dji:GimbalYawDegree=\"1\"")],
            "XMP packet is not XML",
        ),
        ("low.jpg", vec![exif.clone(), xmp_with(&|t| t[4].1 = "-3.00".into())], "is not above the ground"),
    ];
    for (name, segs, _) in &cases {
        write_photo(&sb, &format!("work/inbox/drone/UAV-07/{name}"), &pose, Some(base), segs);
    }
    // a truncated upload that stays truncated: the metadata is whole, the pixels are not
    let whole = write_photo(
        &sb,
        "work/inbox/drone/UAV-07/truncated.jpg",
        &pose,
        Some(base),
        &[exif.clone(), xmp_with(&|_| {})],
    );
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(&whole, &bytes[..bytes.len() / 2]).unwrap();
    write_photo(&sb, "work/inbox/drone/UAV-07/good.jpg", &pose, Some(base), &[exif.clone(), xmp_with(&|_| {})]);
    let out = run(&sb, &[]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "partial: {stderr}");
    assert!(stdout.contains("1 processed, 7 bad"), "{stdout}");
    let quarantined = files_under(&sb.path("work/quarantine"));
    let mut expected = cases.iter().map(|(n, _, why)| (*n, *why)).collect::<Vec<_>>();
    expected.push(("truncated.jpg", "cannot be decoded"));
    for (name, why) in expected {
        let said = stderr.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not named: {stderr}"));
        assert!(said.contains(why), "{name}: {said}");
        assert!(quarantined.iter().any(|p| p.ends_with(name)), "{name} not quarantined: {quarantined:?}");
        let note = quarantined.iter().find(|p| p.to_string_lossy().ends_with(&format!("{name}.error.txt"))).unwrap();
        assert!(std::fs::read_to_string(note).unwrap().contains(why));
        assert!(!sb.path(&format!("work/inbox/drone/UAV-07/{name}")).exists());
    }
    assert_eq!(sb.tickets().len(), 1, "the good photo still made its ticket");
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts a throwaway cluster (scripts/pg.sh) and runs these"]
fn r11_workers_on_postgresql_place_and_quarantine_drone_photos_as_one_batch_does() {
    let aoi = aoi();
    let (pose, base) = patrol(&aoi);
    let segs = [exif_app1(&exif_of(&pose)), xmp_app1(&dji_xmp(&tags(&pose)))];
    let inbox = |sb: &Sandbox| {
        write_photo(sb, "work/inbox/drone/UAV-07/DJI_0001.JPG", &pose, Some(base), &segs);
        write_photo(sb, "work/inbox/drone/UAV-07/no_gps.jpg", &pose, Some(base), &segs[1..]);
    };
    let one = Sandbox::new();
    inbox(&one);
    assert_eq!(run(&one, &[]).status.code(), Some(1));
    let db = common::Db::postgres();
    let store = format!("paths.store={:?}", db.path().display().to_string());
    let sb = Sandbox::new();
    inbox(&sb);
    let out = run(&sb, &["--set", &store]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_gps.jpg"));
    assert_eq!(db.strings("SELECT kind FROM inputs ORDER BY kind"), ["drone", "drone"]);
    assert_eq!(db.strings("SELECT source || ' ' || sensor FROM detections"), ["drone 1581F5FHD23A00C7"]);
    let ids = |tickets: Vec<serde_json::Value>| tickets.iter().map(|t| t["id"].to_string()).collect::<Vec<_>>();
    let worker_tickets = {
        let out = sb.cmd().args(["--set", &store, "tickets", "list", "--format", "jsonl"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    assert_eq!(ids(worker_tickets), ids(one.tickets()), "the same ticket as one SQLite batch");
    // a second worker run finds everything done
    let out = run(&sb, &["--set", &store]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(db.strings("SELECT CAST(count(*) AS TEXT) FROM tickets"), ["1"]);
}
