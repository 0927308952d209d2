//! Drone photos (无人机): where the drone was and where its camera looked when a photo was
//! taken, read from the photo's own metadata — EXIF (GPS position and altitude, capture time,
//! 35 mm focal length, serial number) and DJI's XMP tags (`drone-dji:GimbalYawDegree`,
//! `GimbalPitchDegree`, `GimbalRollDegree`, `FlightYawDegree`, `AbsoluteAltitude`,
//! `RelativeAltitude`, `GpsLatitude` / `GpsLongitude`), both through GDAL's JPEG driver (EXIF
//! as `EXIF_*` items, the XMP packet in the `xml:XMP` domain, parsed with `roxmltree`) — and,
//! for what the photo lacks, from a JSON sidecar `<photo>.json` ([`Sidecar`]).
//!
//! Each value is taken from the first source that has it (the photo first, the sidecar fills
//! gaps), checked (a number, in range) and remembered with its source for the evidence. Photos
//! without a position, an attitude, an altitude or a capture time, looking at or above the
//! horizon, or with XMP that is not XML are refused with a [`DroneError`] naming the file and
//! what is wrong. The altitude is kept as the photo says it ([`Altitude`]); which one is trusted
//! is `locate::drone`'s rule. This module reads no pixels and knows nothing of the DEM.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};
use serde::{Deserialize, Serialize};

/// How drone photos are read and placed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DroneConfig {
    /// Horizontal field of view, degrees, of a photo whose EXIF has no `FocalLengthIn35mmFilm`
    /// and whose sidecar gives no `hfov_deg` (73.7: a 24 mm-equivalent lens, most DJI cameras).
    pub default_hfov_deg: f64,
    /// Which altitude places the drone: `relative` (default) — the ground under the drone on the
    /// DEM (or the sidecar's `takeoff_alt_m`) plus `RelativeAltitude` (height above the take-off
    /// point, barometric, good to a metre or two), falling back to the absolute altitude when the
    /// photo has no relative one; `absolute` — `AbsoluteAltitude` / EXIF `GPSAltitude` / the
    /// sidecar's `alt_m` above sea level first (DJI's is off by tens of metres on some models),
    /// falling back to the relative one.
    pub altitude: AltitudeRule,
    /// Farthest ground distance from the drone at which smoke is placed, metres; a ray that
    /// meets the ground farther (or grazes it) cannot be placed and the photo is quarantined.
    pub max_range_m: f64,
    /// Heading (yaw) error of the drone's compass and gimbal, degrees (1 σ): the error across
    /// the ray.
    pub yaw_sigma_deg: f64,
    /// Gimbal pitch error, degrees (1 σ): with the smoke's place in the photo, the error along
    /// the ray.
    pub pitch_sigma_deg: f64,
}

impl Default for DroneConfig {
    fn default() -> Self {
        DroneConfig {
            default_hfov_deg: 73.7,
            altitude: AltitudeRule::Relative,
            max_range_m: 5000.0,
            yaw_sigma_deg: 2.0,
            pitch_sigma_deg: 0.5,
        }
    }
}

impl DroneConfig {
    /// Values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if !(1.0..=170.0).contains(&self.default_hfov_deg) {
            return Err(format!("drone.default_hfov_deg must be between 1 and 170, not {}", self.default_hfov_deg));
        }
        if !(self.max_range_m.is_finite() && self.max_range_m > 0.0) {
            return Err(format!("drone.max_range_m must be a positive number, not {}", self.max_range_m));
        }
        for (name, v) in [("yaw_sigma_deg", self.yaw_sigma_deg), ("pitch_sigma_deg", self.pitch_sigma_deg)] {
            if !(0.0..=45.0).contains(&v) {
                return Err(format!("drone.{name} must be between 0 and 45 degrees, not {v}"));
            }
        }
        Ok(())
    }
}

/// Which altitude a drone is placed at (see [`DroneConfig::altitude`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AltitudeRule {
    /// Ground at the take-off point (the DEM under the drone, or the sidecar's `takeoff_alt_m`)
    /// plus the relative altitude.
    Relative,
    /// The absolute altitude above sea level.
    Absolute,
}

#[derive(Debug, thiserror::Error)]
pub enum DroneError {
    #[error("cannot open drone photo {path} as a JPEG")]
    Open {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("drone photo {path}: its XMP packet is not XML")]
    Xmp {
        path: PathBuf,
        #[source]
        source: roxmltree::Error,
    },
    #[error("drone photo {path}: {field} ({from}) is `{value}`, {why}")]
    BadValue { path: PathBuf, field: &'static str, from: &'static str, value: String, why: String },
    #[error("drone photo {path} has no {what} in its metadata ({looked}) and {sidecar}")]
    Missing { path: PathBuf, what: &'static str, looked: &'static str, sidecar: SidecarState },
    #[error(
        "drone photo {path}: gimbal pitch {pitch_deg}° ({from}) is at or above the horizon; a drone photo \
         is placed where it looks down to the ground (pitch below 0, −90 straight down)"
    )]
    LooksUp { path: PathBuf, pitch_deg: f64, from: &'static str },
    #[error("drone sidecar {path} is not valid")]
    BadSidecar {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("drone sidecar {path} is {what}")]
    SidecarFile { path: PathBuf, what: String },
    #[error(
        "drone photo {path} cannot be decoded: it does not end with JPEG's end-of-image marker (a truncated upload?)"
    )]
    Truncated { path: PathBuf },
    #[error("drone photo {path}: the image cannot be decoded")]
    Pixels {
        path: PathBuf,
        #[source]
        source: super::frame::FrameError,
    },
}

/// Whether a photo had a sidecar to fill what its metadata lacks (said in [`DroneError::Missing`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SidecarState {
    /// No sidecar was there: it may still be on its way.
    Absent(PathBuf),
    /// The sidecar was read and lacks it too.
    Lacks(PathBuf),
}

impl std::fmt::Display for SidecarState {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            SidecarState::Absent(p) => write!(f, "there is no sidecar {}", p.display()),
            SidecarState::Lacks(p) => write!(f, "its sidecar {} has none either", p.display()),
        }
    }
}

impl DroneError {
    /// The sidecar this photo still waits for, when its metadata is incomplete and no sidecar
    /// has arrived (uploads are not atomic).
    pub fn awaited_sidecar(&self) -> Option<&Path> {
        match self {
            DroneError::Missing { sidecar: SidecarState::Absent(p), .. } => Some(p),
            _ => None,
        }
    }
}

/// The JSON sidecar `<photo>.json`: every field optional, used for what the photo's metadata
/// lacks. Fields beyond these are accepted and named in the log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sidecar {
    pub drone_id: Option<String>,
    pub captured_at: Option<DateTime<Utc>>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Altitude above sea level, metres.
    pub alt_m: Option<f64>,
    /// Altitude above the take-off point, metres.
    pub relative_alt_m: Option<f64>,
    /// Ground elevation of the take-off point above sea level, metres (else the DEM under the
    /// drone is taken).
    pub takeoff_alt_m: Option<f64>,
    /// Azimuth of the camera's optical axis, degrees clockwise from north.
    pub yaw_deg: Option<f64>,
    /// Camera pitch from the horizon, degrees (−90 straight down).
    pub pitch_deg: Option<f64>,
    pub roll_deg: Option<f64>,
    pub hfov_deg: Option<f64>,
    #[serde(flatten, skip_serializing)]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The altitudes a photo gives, metres.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Altitude {
    /// Above sea level (XMP `AbsoluteAltitude`, EXIF `GPSAltitude`, sidecar `alt_m`).
    pub absolute_m: Option<f64>,
    /// Above the take-off point (XMP `RelativeAltitude`, sidecar `relative_alt_m`).
    pub relative_m: Option<f64>,
    /// Ground elevation of the take-off point (sidecar `takeoff_alt_m`).
    pub takeoff_m: Option<f64>,
}

/// Where each part of a pose came from: `exif`, `xmp`, `sidecar`, `config`, `folder`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Sources {
    pub id: &'static str,
    pub time: &'static str,
    pub position: &'static str,
    pub yaw: &'static str,
    pub pitch: &'static str,
    pub hfov: &'static str,
}

/// A drone photo's pose: the drone's position and the camera's attitude at capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DronePose {
    pub drone_id: String,
    pub captured_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub altitude: Altitude,
    /// Azimuth of the optical axis, degrees clockwise from north.
    pub yaw_deg: f64,
    /// Pitch of the optical axis from the horizon, degrees: below 0 (−90 straight down).
    pub pitch_deg: f64,
    /// Rotation about the optical axis, degrees, positive clockwise as seen from behind the
    /// camera (its right side down); usually 0 on a stabilised gimbal.
    pub roll_deg: f64,
    /// Horizontal field of view, degrees.
    pub hfov_deg: f64,
    pub sources: Sources,
}

/// What one source (the photo's EXIF and XMP, or the sidecar) says, unchecked.
#[derive(Debug, Default)]
struct Said {
    id: Option<String>,
    time: Option<DateTime<Utc>>,
    position: Option<(f64, f64)>,
    absolute_m: Option<f64>,
    relative_m: Option<f64>,
    yaw: Option<f64>,
    /// The aircraft's heading: the camera's yaw only when nothing better is known.
    flight_yaw: Option<f64>,
    pitch: Option<f64>,
    roll: Option<f64>,
    hfov: Option<f64>,
    /// EXIF Make and Model: the drone's name when nothing better is known.
    model: Option<String>,
}

/// The DJI XMP namespace (`xmlns:drone-dji`).
const DJI_NS: &str = "dji.com/drone-dji";
/// Largest sidecar read, bytes.
pub const SIDECAR_MAX: u64 = 64 * 1024;

/// A drone photo's pose from its metadata and, for what it lacks, its sidecar.
pub fn read_pose(path: &Path, cfg: &DroneConfig) -> Result<DronePose, DroneError> {
    let photo = read_photo(path)?;
    let sidecar_path = super::frame::sidecar_of(path);
    let sidecar = read_sidecar(&sidecar_path)?;
    let side = sidecar.as_ref().map(|s| sidecar_said(s, path)).transpose()?.unwrap_or_default();
    let state = if sidecar.is_some() { SidecarState::Lacks(sidecar_path) } else { SidecarState::Absent(sidecar_path) };
    resolve(path, photo, side, sidecar.as_ref(), state, cfg)
}

/// The first source's value of a field, with that source's name.
fn first<T: Clone>(options: &[(Option<T>, &'static str)]) -> Option<(T, &'static str)> {
    options.iter().find_map(|(v, from)| v.clone().map(|v| (v, *from)))
}

fn resolve(
    path: &Path,
    photo: (Said, Said),
    side: Said,
    sidecar: Option<&Sidecar>,
    state: SidecarState,
    cfg: &DroneConfig,
) -> Result<DronePose, DroneError> {
    let (exif, xmp) = photo;
    let missing = |what, looked| DroneError::Missing { path: path.into(), what, looked, sidecar: state.clone() };
    let (position, pos_from) = first(&[(exif.position, "exif"), (xmp.position, "xmp"), (side.position, "sidecar")])
        .ok_or_else(|| missing("position", "EXIF GPSLatitude/GPSLongitude, XMP drone-dji:GpsLatitude"))?;
    let (yaw, yaw_from) = first(&[(xmp.yaw, "xmp"), (side.yaw, "sidecar"), (xmp.flight_yaw, "xmp FlightYawDegree")])
        .ok_or_else(|| missing("camera yaw", "XMP drone-dji:GimbalYawDegree or FlightYawDegree"))?;
    let (pitch, pitch_from) = first(&[(xmp.pitch, "xmp"), (side.pitch, "sidecar")])
        .ok_or_else(|| missing("camera pitch", "XMP drone-dji:GimbalPitchDegree"))?;
    let roll = first(&[(xmp.roll, "xmp"), (side.roll, "sidecar")]).map_or(0.0, |r| r.0);
    let takeoff_m = sidecar.and_then(|s| s.takeoff_alt_m);
    let takeoff_m = takeoff_m.map(|v| number(path, "takeoff_alt_m", "sidecar", v, -500.0..=9_000.0)).transpose()?;
    let altitude = Altitude {
        absolute_m: xmp.absolute_m.or(exif.absolute_m).or(side.absolute_m),
        relative_m: xmp.relative_m.or(side.relative_m),
        takeoff_m,
    };
    if altitude.absolute_m.is_none() && altitude.relative_m.is_none() {
        return Err(missing("altitude", "XMP drone-dji:RelativeAltitude or AbsoluteAltitude, EXIF GPSAltitude"));
    }
    let (captured_at, time_from) = first(&[(exif.time, "exif"), (side.time, "sidecar")])
        .ok_or_else(|| missing("capture time", "EXIF GPSDateStamp/GPSTimeStamp or DateTimeOriginal"))?;
    let (hfov, hfov_from) =
        first(&[(exif.hfov, "exif"), (side.hfov, "sidecar")]).unwrap_or((cfg.default_hfov_deg, "config"));
    let folder = path
        .parent()
        .filter(|p| p.parent().and_then(|g| g.file_name()).is_some_and(|n| n == "drone"))
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let (drone_id, id_from) = first(&[
        (xmp.id.clone(), "xmp"),
        (exif.id.clone(), "exif"),
        (side.id, "sidecar"),
        (folder, "folder"),
        (exif.model.clone(), "exif model"),
    ])
    .unwrap_or(("drone".into(), "none"));
    if let Err(why) = crate::time::plausible(captured_at) {
        let value = captured_at.to_rfc3339();
        return Err(DroneError::BadValue { path: path.into(), field: "capture time", from: time_from, value, why });
    }
    if pitch >= 0.0 {
        return Err(DroneError::LooksUp { path: path.into(), pitch_deg: pitch, from: pitch_from });
    }
    Ok(DronePose {
        drone_id,
        captured_at,
        lon: position.1,
        lat: position.0,
        altitude,
        yaw_deg: yaw.rem_euclid(360.0),
        pitch_deg: pitch,
        roll_deg: roll,
        hfov_deg: hfov,
        sources: Sources {
            id: id_from,
            time: time_from,
            position: pos_from,
            yaw: yaw_from,
            pitch: pitch_from,
            hfov: hfov_from,
        },
    })
}

/// Whether the photo ends with JPEG's end-of-image marker (trailing zero padding allowed): the
/// JPEG decoder fills a cut-off photo with grey rather than fail, so a truncated upload is
/// caught here. Reads the last 4 KiB only.
pub fn check_complete(path: &Path) -> Result<(), DroneError> {
    use std::io::{Read, Seek, SeekFrom};
    let truncated = || DroneError::Truncated { path: path.into() };
    let mut file = std::fs::File::open(path).map_err(|_| truncated())?;
    let len = file.metadata().map(|m| m.len()).map_err(|_| truncated())?;
    file.seek(SeekFrom::Start(len.saturating_sub(4096))).map_err(|_| truncated())?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(|_| truncated())?;
    let end = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end >= 2 && tail[end - 2..end] == [0xFF, 0xD9] {
        Ok(())
    } else {
        Err(truncated())
    }
}

/// The photo's EXIF and XMP, through GDAL.
fn read_photo(path: &Path) -> Result<(Said, Said), DroneError> {
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY,
        allowed_drivers: Some(&["JPEG"]),
        ..Default::default()
    };
    let ds = Dataset::open_ex(path, options).map_err(|source| DroneError::Open { path: path.into(), source })?;
    let item = |key: &str| ds.metadata_item(key, "").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let exif = exif_said(path, &item)?;
    let xmp = match ds.metadata_domain("xml:XMP") {
        Some(lines) => xmp_said(path, &lines.concat())?,
        None => Said::default(),
    };
    Ok((exif, xmp))
}

/// A checked number: finite and in `range`.
fn number(
    path: &Path,
    field: &'static str,
    from: &'static str,
    value: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, DroneError> {
    let bad =
        |why: &str| DroneError::BadValue { path: path.into(), field, from, value: value.to_string(), why: why.into() };
    if !value.is_finite() {
        return Err(bad("not a number"));
    }
    if !range.contains(&value) {
        return Err(bad(range_text(field)));
    }
    Ok(value)
}

fn range_text(field: &str) -> &'static str {
    match field {
        "latitude" => "outside −90..90",
        "longitude" => "outside −180..180",
        "hfov" | "35 mm focal length" => "not a plausible field of view",
        "roll" => "outside −180..180",
        "pitch" => "outside −90..90",
        _ => "out of range",
    }
}

/// GDAL's text of EXIF rationals, `(37) (38) (12.5)`, as numbers.
fn rationals(path: &Path, field: &'static str, text: &str) -> Result<Vec<f64>, DroneError> {
    text.split(')')
        .map(|p| p.trim().trim_start_matches('(').trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<f64>().map_err(|_| DroneError::BadValue {
                path: path.into(),
                field,
                from: "exif",
                value: crate::text::quote(text),
                why: "not EXIF rationals".into(),
            })
        })
        .collect()
}

/// Degrees from EXIF's (degrees, minutes, seconds) and its N/S or E/W reference.
fn dms(path: &Path, field: &'static str, text: &str, reference: Option<&str>) -> Result<f64, DroneError> {
    let parts = rationals(path, field, text)?;
    let deg = match parts.as_slice() {
        [d, m, s] => d + m / 60.0 + s / 3600.0,
        [d, m] => d + m / 60.0,
        [d] => *d,
        _ => f64::NAN,
    };
    let negative = reference.is_some_and(|r| r.starts_with(['S', 's', 'W', 'w']));
    Ok(if negative { -deg } else { deg })
}

fn exif_said(path: &Path, item: &dyn Fn(&str) -> Option<String>) -> Result<Said, DroneError> {
    let mut said = Said::default();
    if let (Some(lat), Some(lon)) = (item("EXIF_GPSLatitude"), item("EXIF_GPSLongitude")) {
        let lat = dms(path, "latitude", &lat, item("EXIF_GPSLatitudeRef").as_deref())?;
        let lon = dms(path, "longitude", &lon, item("EXIF_GPSLongitudeRef").as_deref())?;
        said.position = Some((
            number(path, "latitude", "exif", lat, -90.0..=90.0)?,
            number(path, "longitude", "exif", lon, -180.0..=180.0)?,
        ));
    }
    if let Some(alt) = item("EXIF_GPSAltitude") {
        let v = rationals(path, "altitude", &alt)?.first().copied().unwrap_or(f64::NAN);
        // GPSAltitudeRef 1: below sea level
        let below =
            item("EXIF_GPSAltitudeRef").is_some_and(|r| r.trim_start_matches("0x").trim_start_matches('0') == "1");
        said.absolute_m = Some(number(path, "GPSAltitude", "exif", if below { -v } else { v }, -500.0..=12_000.0)?);
    }
    if let Some(f35) = item("EXIF_FocalLengthIn35mmFilm") {
        let f: f64 = f35.parse().unwrap_or(f64::NAN);
        let f = number(path, "35 mm focal length", "exif", f, 1.0..=2000.0)?;
        // 36 mm: the width of a 35 mm frame
        said.hfov = Some(2.0 * (36.0 / (2.0 * f)).atan().to_degrees());
    }
    said.time = exif_time(item);
    said.id = item("EXIF_BodySerialNumber").map(|s| crate::text::quote(&s));
    let model = [item("EXIF_Make"), item("EXIF_Model")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    said.model = (!model.is_empty()).then(|| crate::text::quote(&model));
    Ok(said)
}

/// The capture time: the GPS date and time (UTC), else `DateTimeOriginal` with its
/// `OffsetTimeOriginal`, else `DateTimeOriginal` as Beijing time (what a drone's remote
/// controller in the county is set to).
fn exif_time(item: &dyn Fn(&str) -> Option<String>) -> Option<DateTime<Utc>> {
    let gps = || -> Option<DateTime<Utc>> {
        let date = chrono::NaiveDate::parse_from_str(&item("EXIF_GPSDateStamp")?, "%Y:%m:%d").ok()?;
        let hms: Vec<f64> = item("EXIF_GPSTimeStamp")?
            .split(')')
            .filter_map(|p| p.trim().trim_start_matches('(').trim().parse().ok())
            .collect();
        let [h, m, s] = hms[..] else { return None };
        let secs = h * 3600.0 + m * 60.0 + s;
        (secs.is_finite() && (0.0..86_400.0).contains(&secs))
            .then(|| date.and_hms_opt(0, 0, 0))
            .flatten()
            .map(|d| d.and_utc() + chrono::Duration::milliseconds((secs * 1000.0).round() as i64))
    };
    let original = || -> Option<DateTime<Utc>> {
        let local = NaiveDateTime::parse_from_str(&item("EXIF_DateTimeOriginal")?, "%Y:%m:%d %H:%M:%S").ok()?;
        let offset = item("EXIF_OffsetTimeOriginal")
            .and_then(|o| DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{o}")).ok())
            .map(|d| *d.offset())
            .unwrap_or_else(crate::time::beijing);
        offset.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
    };
    gps().or_else(original)
}

/// What DJI's XMP says: `drone-dji:*` as attributes of `rdf:Description` (most models) or as
/// elements (some firmware), matched by the namespace, not the prefix.
fn xmp_said(path: &Path, packet: &str) -> Result<Said, DroneError> {
    let doc = roxmltree::Document::parse(packet).map_err(|source| DroneError::Xmp { path: path.into(), source })?;
    let mut tags: Vec<(&str, String)> = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        for a in node.attributes().filter(|a| a.namespace().is_some_and(|ns| ns.contains(DJI_NS))) {
            tags.push((a.name(), a.value().to_string()));
        }
        if node.tag_name().namespace().is_some_and(|ns| ns.contains(DJI_NS)) {
            tags.push((node.tag_name().name(), node.text().unwrap_or("").to_string()));
        }
    }
    let get = |name: &str| tags.iter().find(|(n, _)| *n == name).map(|(_, v)| v.trim());
    let num = |name: &'static str, range| -> Result<Option<f64>, DroneError> {
        let Some(text) = get(name) else { return Ok(None) };
        let bad = |why: &str| DroneError::BadValue {
            path: path.into(),
            field: name,
            from: "xmp",
            value: crate::text::quote(text),
            why: why.into(),
        };
        let v: f64 = text.parse().map_err(|_| bad("not a number"))?;
        if !v.is_finite() {
            return Err(bad("not a number"));
        }
        if !std::ops::RangeInclusive::<f64>::contains(&range, &v) {
            return Err(bad(range_text(xmp_field(name))));
        }
        Ok(Some(v))
    };
    let lat = num("GpsLatitude", -90.0..=90.0)?;
    // some DJI firmware spells it GpsLongtitude
    let lon = match num("GpsLongitude", -180.0..=180.0)? {
        Some(v) => Some(v),
        None => num("GpsLongtitude", -180.0..=180.0)?,
    };
    let any = -1.0e6..=1.0e6;
    Ok(Said {
        id: get("DroneSerialNumber").or(get("CameraSerialNumber")).filter(|s| !s.is_empty()).map(crate::text::quote),
        // 0, 0 is what some models write before the GPS has a fix
        position: lat.zip(lon).filter(|&(a, b)| a != 0.0 || b != 0.0),
        absolute_m: num("AbsoluteAltitude", -500.0..=12_000.0)?,
        relative_m: num("RelativeAltitude", -2_000.0..=10_000.0)?,
        yaw: num("GimbalYawDegree", any.clone())?,
        flight_yaw: num("FlightYawDegree", any)?,
        pitch: num("GimbalPitchDegree", -90.0..=90.0)?,
        roll: num("GimbalRollDegree", -180.0..=180.0)?,
        ..Default::default()
    })
}

fn xmp_field(name: &str) -> &'static str {
    match name {
        "GpsLatitude" => "latitude",
        "GpsLongitude" | "GpsLongtitude" => "longitude",
        "GimbalPitchDegree" => "pitch",
        "GimbalRollDegree" => "roll",
        _ => "",
    }
}

/// The sidecar beside a photo, if there is one (a FIFO or a huge file is refused, as for
/// camera frames).
fn read_sidecar(sidecar: &Path) -> Result<Option<Sidecar>, DroneError> {
    if std::fs::symlink_metadata(sidecar).is_err() {
        return Ok(None);
    }
    let file_err = |what: String| DroneError::SidecarFile { path: sidecar.into(), what };
    crate::ingest::regular_file(sidecar).map_err(file_err)?;
    let mut text = String::new();
    let file = std::fs::File::open(sidecar).map_err(|e| file_err(format!("unreadable ({e})")))?;
    std::io::Read::read_to_string(&mut std::io::Read::take(file, SIDECAR_MAX + 1), &mut text)
        .map_err(|e| file_err(format!("unreadable ({e})")))?;
    if text.len() as u64 > SIDECAR_MAX {
        return Err(file_err(format!("larger than {SIDECAR_MAX} bytes: not a drone pose")));
    }
    let sidecar_value: Sidecar =
        serde_json::from_str(&text).map_err(|source| DroneError::BadSidecar { path: sidecar.into(), source })?;
    if !sidecar_value.extra.is_empty() {
        let keys: Vec<&str> = sidecar_value.extra.keys().map(String::as_str).collect();
        tracing::info!("drone sidecar {}: fields ignored: {}", sidecar.display(), crate::text::quote(&keys.join(", ")));
    }
    Ok(Some(sidecar_value))
}

/// The sidecar's values, checked like the photo's.
fn sidecar_said(s: &Sidecar, photo: &Path) -> Result<Said, DroneError> {
    let path = super::frame::sidecar_of(photo);
    let check = |field, v: Option<f64>, range| v.map(|v| number(&path, field, "sidecar", v, range)).transpose();
    let lat = check("latitude", s.lat, -90.0..=90.0)?;
    let lon = check("longitude", s.lon, -180.0..=180.0)?;
    let any = -1.0e6..=1.0e6;
    Ok(Said {
        id: s.drone_id.as_deref().filter(|s| !s.trim().is_empty()).map(crate::text::quote),
        time: s.captured_at,
        position: lat.zip(lon),
        absolute_m: check("alt_m", s.alt_m, -500.0..=12_000.0)?,
        relative_m: check("relative_alt_m", s.relative_alt_m, -2_000.0..=10_000.0)?,
        yaw: check("yaw", s.yaw_deg, any)?,
        pitch: check("pitch", s.pitch_deg, -90.0..=90.0)?,
        roll: check("roll", s.roll_deg, -180.0..=180.0)?,
        hfov: check("hfov", s.hfov_deg, 1.0..=170.0)?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = r#"xmlns:x="adobe:ns:meta/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/""#;

    fn said(packet: &str) -> Result<Said, DroneError> {
        xmp_said(Path::new("p.jpg"), packet)
    }

    #[test]
    fn dji_tags_are_read_as_attributes_of_the_description() {
        let packet = format!(
            r#"<x:xmpmeta {NS}><rdf:RDF><rdf:Description drone-dji:GimbalYawDegree="+45.50" drone-dji:GimbalPitchDegree="-30.0" drone-dji:GimbalRollDegree="+0.00" drone-dji:RelativeAltitude="+120.10" drone-dji:AbsoluteAltitude="+180.2" drone-dji:GpsLatitude="37.1" drone-dji:GpsLongtitude="115.2"/></rdf:RDF></x:xmpmeta>"#
        );
        let s = said(&packet).unwrap();
        assert_eq!((s.yaw, s.pitch, s.roll), (Some(45.5), Some(-30.0), Some(0.0)));
        assert_eq!((s.relative_m, s.absolute_m), (Some(120.1), Some(180.2)));
        assert_eq!(s.position, Some((37.1, 115.2)), "DJI's GpsLongtitude spelling too");
    }

    #[test]
    fn dji_tags_are_read_as_elements_and_by_namespace_not_prefix() {
        let packet = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dji="http://www.dji.com/drone-dji/1.0/"><dji:GimbalYawDegree> -12.5 </dji:GimbalYawDegree><dji:GimbalPitchDegree>-90.0</dji:GimbalPitchDegree><dji:FlightYawDegree>170</dji:FlightYawDegree></rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let s = said(packet).unwrap();
        assert_eq!((s.yaw, s.pitch, s.flight_yaw), (Some(-12.5), Some(-90.0), Some(170.0)));
        // another maker's tag of the same local name is not DJI's
        let other = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/" xmlns:o="http://example.com/other/"><o:GimbalYawDegree>3</o:GimbalYawDegree></x:xmpmeta>"#;
        assert_eq!(said(other).unwrap().yaw, None);
    }

    #[test]
    fn bad_xmp_is_named() {
        let nan = format!(
            r#"<x:xmpmeta {NS}><rdf:RDF><rdf:Description drone-dji:GimbalPitchDegree="NaN"/></rdf:RDF></x:xmpmeta>"#
        );
        let e = said(&nan).unwrap_err().to_string();
        assert!(e.contains("p.jpg") && e.contains("GimbalPitchDegree") && e.contains("not a number"), "{e}");
        let out = format!(
            r#"<x:xmpmeta {NS}><rdf:RDF><rdf:Description drone-dji:GimbalPitchDegree="-120"/></rdf:RDF></x:xmpmeta>"#
        );
        assert!(said(&out).unwrap_err().to_string().contains("outside −90..90"));
        assert!(matches!(said("<x:xmpmeta><broken"), Err(DroneError::Xmp { .. })));
        // a prefix never declared is not XML with namespaces either
        assert!(matches!(said(r#"<a drone-dji:GimbalYawDegree="1"/>"#), Err(DroneError::Xmp { .. })));
    }

    #[test]
    fn exif_rationals_become_signed_degrees() {
        let p = Path::new("p.jpg");
        let lat = dms(p, "latitude", "(37) (38) (12.5)", Some("S")).unwrap();
        assert!((lat + (37.0 + 38.0 / 60.0 + 12.5 / 3600.0)).abs() < 1e-12);
        assert!(dms(p, "longitude", "(nan) (0) (0)", Some("E")).unwrap().is_nan(), "checked by number()");
        assert!(rationals(p, "latitude", "(x)").is_err());
    }

    #[test]
    fn the_capture_time_is_gps_utc_else_the_original_in_beijing_time() {
        let item = |gps: bool| {
            move |k: &str| match k {
                "EXIF_GPSDateStamp" if gps => Some("2026:06:10".to_string()),
                "EXIF_GPSTimeStamp" if gps => Some("(5) (31) (0)".to_string()),
                "EXIF_DateTimeOriginal" => Some("2026:06:10 13:32:00".to_string()),
                _ => None,
            }
        };
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(exif_time(&item(true)), Some(t("2026-06-10T05:31:00Z")));
        assert_eq!(exif_time(&item(false)), Some(t("2026-06-10T05:32:00Z")));
    }
}
