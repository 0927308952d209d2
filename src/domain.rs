//! The shared vocabulary, at the bottom with [`crate::grid`]: what a satellite scene, a fire
//! product and a sighting are ([`BtScene`], [`FireGrid`], [`Detection`]), what a dispatch
//! ticket is ([`Ticket`] and its enums), and the two answers the event rule gives
//! ([`Decision`]). Every stage speaks these types; none of them reads a file, runs a test or
//! touches the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::grid::{Daylight, Georef};

/// `as_str` / `parse` for a plain enum stored and shown as text.
macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            /// Every value as written (JSON, SQL, the CLI): the store's CHECK lists are made of these.
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)+ _ => None } }
        }
    };
}
pub(crate) use str_enum;

/// Where a detection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Satellite,
    Camera,
    /// A drone photo (无人机), placed from the drone's own position and attitude.
    Drone,
}
str_enum!(SourceKind { Satellite => "satellite", Camera => "camera", Drone => "drone" });

impl SourceKind {
    /// A sighting someone can act on at once (a camera or drone frame): acknowledge and on-site
    /// deadlines in minutes, an SMS at once; satellite points are verified the same day.
    pub fn is_sighting(self) -> bool {
        matches!(self, SourceKind::Camera | SourceKind::Drone)
    }
}

/// One sighting of one fire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detection {
    pub source: SourceKind,
    /// Sensor name for satellites, camera id for cameras.
    pub sensor: String,
    pub observed_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    /// Location uncertainty, metres (half a pixel's diagonal; the camera's ranging error).
    pub radius_m: f64,
    /// The pixel footprint as a closed lon/lat ring (pixel polygon, or scan × track), where the
    /// source has one; camera sightings and date-only tables have none.
    pub footprint: Option<Vec<[f64; 2]>>,
    /// 0..1.
    pub confidence: f32,
    /// Source-specific numbers (pixel count, max T4, FRP; frame score, bearing, distance).
    pub evidence: serde_json::Value,
}

impl Detection {
    /// The cameras a sighting names: its own (camera sightings) and the tower that confirmed it.
    pub fn cameras(&self) -> Vec<String> {
        if self.source != SourceKind::Camera {
            return Vec::new();
        }
        let mut out = vec![self.sensor.clone()];
        if let Some(other) = self.evidence.get("confirmed_by_camera").and_then(|v| v.as_str()) {
            if other != self.sensor {
                out.push(other.to_string());
            }
        }
        out
    }

    /// A sighting at a point, with no footprint and no evidence (tools, tests, benchmarks).
    pub fn point(source: SourceKind, lon: f64, lat: f64, observed_at: DateTime<Utc>, radius_m: f64) -> Detection {
        Detection {
            source,
            sensor: source.as_str().into(),
            observed_at,
            lon,
            lat,
            radius_m,
            footprint: None,
            confidence: 0.9,
            evidence: serde_json::Value::Null,
        }
    }
}

/// What one camera frame showed, kept for confirming sightings over frames and towers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameObservation {
    pub camera_id: String,
    /// The tower's position (for a second tower's bearing to cross this one's).
    pub camera_lon: f64,
    pub camera_lat: f64,
    pub captured_at: DateTime<Utc>,
    pub pan_deg: f64,
    pub tilt_deg: f64,
    pub hfov_deg: f64,
    pub score: f32,
    pub flagged: bool,
    /// The most likely smoke tile, fractions of the frame: [x0, y0, x1, y1].
    pub tile_box: [f64; 4],
    /// Azimuth of the plume base, degrees (flagged frames).
    pub azimuth_deg: Option<f64>,
    /// The bearing's angular error, degrees (1 σ).
    pub sigma_deg: f64,
    /// A hash of the middle of the picture, pixel for pixel (`health::picture_hash`): the same
    /// hash frame after frame is a frozen feed.
    #[serde(default)]
    pub picture: Option<String>,
    /// The view differs from its own history as a whole (`moved`, `blocked`, `blurred`:
    /// `detect::view::view_off`), judged once the view is known.
    #[serde(default)]
    pub view_off: Option<String>,
}

impl FrameObservation {
    /// Whether two frames' smoke tiles are at the same place of the view: they overlap once
    /// each is grown by half its size on every side (a plume drifts by a tile between frames).
    pub fn overlaps(&self, other: &FrameObservation) -> bool {
        let grow = |b: [f64; 4]| {
            let (w, h) = ((b[2] - b[0]) / 2.0, (b[3] - b[1]) / 2.0);
            [b[0] - w, b[1] - h, b[2] + w, b[3] + h]
        };
        let (a, b) = (grow(self.tile_box), grow(other.tile_box));
        a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
    }
}

/// Why a detection makes no ticket. Stored as its text (`detections.suppressed_by`), which
/// [`std::fmt::Display`] writes exactly as counties have read it; the batch counts by variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Suppression {
    /// Within the buffer of a known heat source (steel mill, kiln, power plant).
    HeatSource { id: String, name: String, kind: String },
    /// A place that burns day after day: the persistence mask.
    Persistent { days: u32, night_days: u32, lookback_days: i64 },
    /// A flagged frame whose smoke lies in a drawn or learned mask of its view.
    Masked { camera: String, reason: String },
    /// A camera sighting waiting for more frames of its view or a second tower.
    Awaiting { flagged: usize, needed: usize },
    /// The same sighting delivered again in another input (the input's checksum, shortened).
    Duplicate { input: String },
    /// Seen before the live window (`events.live_window_h`): a back-filled point goes to the
    /// history (persistence mask, plan, fire-point ledger), never to a ticket.
    History { live_window_h: i64 },
}

impl Suppression {
    /// Waiting for confirmation, not suppressed for good.
    pub fn is_awaiting(&self) -> bool {
        matches!(self, Suppression::Awaiting { .. })
    }

    pub fn is_duplicate(&self) -> bool {
        matches!(self, Suppression::Duplicate { .. })
    }

    pub fn is_history(&self) -> bool {
        matches!(self, Suppression::History { .. })
    }
}

impl Serialize for Suppression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for Suppression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Suppression::HeatSource { id, name, kind } => write!(f, "known heat source {id} {name} ({kind})"),
            Suppression::Persistent { days, night_days, lookback_days } => write!(
                f,
                "persistent heat source: seen here on {days} days ({night_days} at night) in the last {lookback_days} days"
            ),
            Suppression::Masked { camera, reason } => write!(f, "masked view of {camera}: {reason}"),
            Suppression::Awaiting { flagged, needed } => {
                write!(f, "awaiting confirmation: {flagged} of {needed} frames of this view flag smoke")
            }
            Suppression::Duplicate { input } => {
                write!(f, "duplicate: the same sighting is already recorded (input {input}…)")
            }
            Suppression::History { live_window_h } => {
                write!(f, "history: seen more than {live_window_h} h before it was recorded (events.live_window_h); no ticket")
            }
        }
    }
}

/// A part of one camera preset's view where smoke-like things are not fires (a chimney, a road,
/// a quarry): drawn by the county, or learned from tiles that flag day after day unconfirmed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ViewMask {
    pub camera_id: String,
    pub pan_deg: f64,
    pub tilt_deg: f64,
    /// Fractions of the frame: [x0, y0, x1, y1].
    pub bbox: [f64; 4],
    pub reason: String,
}

impl ViewMask {
    /// Whether the frame's smoke tile lies mostly (≥ half of its area) inside this mask of the
    /// same camera and preset (pan/tilt within the tolerances).
    pub fn covers(&self, f: &FrameObservation, pan_tol: f64, tilt_tol: f64) -> bool {
        let same_view = self.camera_id == f.camera_id
            && (self.pan_deg - f.pan_deg).abs() <= pan_tol
            && (self.tilt_deg - f.tilt_deg).abs() <= tilt_tol;
        let (a, b) = (self.bbox, f.tile_box);
        let inter = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let area = (b[2] - b[0]) * (b[3] - b[1]);
        same_view && area > 0.0 && inter >= 0.5 * area
    }
}

/// One pass: MIR and TIR brightness temperatures (K, NaN where invalid) on one grid.
#[derive(Debug, Clone)]
pub struct BtScene {
    pub path: std::path::PathBuf,
    pub width: usize,
    pub height: usize,
    pub georef: Georef,
    pub t4: Vec<f32>,
    pub t11: Vec<f32>,
    /// ~12 µm brightness temperature, where the input has it (cloud test).
    pub t12: Option<Vec<f32>>,
    pub acquired_at: DateTime<Utc>,
    pub sensor: String,
}

impl BtScene {
    /// Pixel centres as (lon, lat), `None` where the point is off the Earth (geostationary disks).
    pub fn lonlat(&self, pixels: &[(usize, usize)]) -> Vec<Option<(f64, f64)>> {
        self.georef.to_lonlat().centres(pixels)
    }

    /// Centre of pixel (row, col) as (lon, lat), if on the Earth.
    pub fn pixel_center(&self, row: usize, col: usize) -> Option<(f64, f64)> {
        self.lonlat(&[(row, col)])[0]
    }

    /// Day or night per pixel (see [`Daylight::of_grid`]).
    pub fn daylight(&self) -> Daylight {
        Daylight::of_grid(&self.georef.to_lonlat(), self.width, self.height, self.acquired_at)
    }

    /// Daytime at the scene centre (MOD14's day/night split).
    pub fn is_daytime(&self) -> bool {
        let centre = self.pixel_center(self.height / 2, self.width / 2);
        centre.is_some_and(|(lon, lat)| crate::grid::is_day(self.acquired_at, lon, lat))
    }
}

/// A fire product on a grid (GOES FDC, a GeoTIFF fire mask): its fire pixels with class,
/// confidence and FRP.
#[derive(Debug, Clone)]
pub struct FireGrid {
    pub georef: Georef,
    pub observed_at: DateTime<Utc>,
    pub sensor: String,
    pub product: &'static str,
    pub fires: Vec<FireCell>,
}

#[derive(Debug, Clone, Copy)]
pub struct FireCell {
    pub row: usize,
    pub col: usize,
    pub code: i16,
    pub confidence: f32,
    /// MW; 0 where the product has none.
    pub frp_mw: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnKind {
    /// 秸秆: crop residue on farmland.
    Straw,
    /// 荒草: grass and weeds on waste land, banks and verges.
    Weeds,
    /// 枯枝落叶: dead branches and leaves (tree belts, courtyards, prunings).
    Leaves,
    /// 垃圾: rubbish.
    Garbage,
    Unknown,
}
str_enum!(BurnKind { Straw => "straw", Weeds => "weeds", Leaves => "leaves", Garbage => "garbage", Unknown => "unknown" });

impl BurnKind {
    /// The four burnings (四烧) and unknown, in the order reports list them.
    pub const ALL: [BurnKind; 5] =
        [BurnKind::Straw, BurnKind::Weeds, BurnKind::Leaves, BurnKind::Garbage, BurnKind::Unknown];

    /// The burning as an alert or an SMS names it (an unknown kind is 露天焚烧, open burning).
    pub fn event_chinese(self) -> &'static str {
        match self {
            BurnKind::Straw => "秸秆焚烧",
            BurnKind::Weeds => "荒草焚烧",
            BurnKind::Leaves => "枯枝落叶焚烧",
            BurnKind::Garbage => "垃圾焚烧",
            BurnKind::Unknown => "露天焚烧",
        }
    }
}

/// Why a ticket has its kind: the rule that held and what it was judged on (`burn::classify`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KindWhy {
    /// The rule's name; empty for tickets opened before kinds had rules.
    pub rule: String,
    /// The inputs: land use, local date, calendar stages, distances, source, FRP.
    pub inputs: serde_json::Map<String, serde_json::Value>,
}

/// A ticket's source (`satellite`, `camera`) as the ledger and alerts say it.
pub fn source_chinese(source: &str) -> &str {
    match source {
        "satellite" => "卫星",
        "camera" => "摄像头",
        "drone" => "无人机",
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Normal,
}
str_enum!(Priority { High => "high", Normal => "normal" });

/// A ticket's life cycle: open → acknowledged (签收) → on_site (到场) → resolved (查实) /
/// false_alarm (查否) / duplicate; the last three close it and nothing reopens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    OnSite,
    Resolved,
    FalseAlarm,
    Duplicate,
}
str_enum!(Status {
    Open => "open", Acknowledged => "acknowledged", OnSite => "on_site", Resolved => "resolved",
    FalseAlarm => "false_alarm", Duplicate => "duplicate"
});

impl Status {
    /// Still being worked (open, acknowledged or on site): the pipeline may add sightings.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::Acknowledged | Status::OnSite)
    }
    /// The state as the ledger (台账) writes it.
    pub fn chinese(self) -> &'static str {
        match self {
            Status::Open => "待签收",
            Status::Acknowledged => "已签收",
            Status::OnSite => "已到场",
            Status::Resolved => "查实",
            Status::FalseAlarm => "查否",
            Status::Duplicate => "重复",
        }
    }
}

/// Why a sighting was not a burning fire (查否), from the county's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FalseAlarmCause {
    IndustrialHeat,
    CookingSmoke,
    CloudFog,
    Dust,
    Other,
}
str_enum!(FalseAlarmCause {
    IndustrialHeat => "industrial_heat", CookingSmoke => "cooking_smoke", CloudFog => "cloud_fog", Dust => "dust",
    Other => "other"
});

impl FalseAlarmCause {
    pub const ALL: [FalseAlarmCause; 5] = [
        FalseAlarmCause::IndustrialHeat,
        FalseAlarmCause::CookingSmoke,
        FalseAlarmCause::CloudFog,
        FalseAlarmCause::Dust,
        FalseAlarmCause::Other,
    ];
    pub fn chinese(self) -> &'static str {
        match self {
            FalseAlarmCause::IndustrialHeat => "工业热源",
            FalseAlarmCause::CookingSmoke => "炊烟",
            FalseAlarmCause::CloudFog => "云雾",
            FalseAlarmCause::Dust => "扬尘",
            FalseAlarmCause::Other => "其他",
        }
    }
}

/// A dispatch ticket as stored and as the feed shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub id: String,
    pub status: Status,
    pub kind: BurnKind,
    pub priority: Priority,
    pub reasons: Vec<String>,
    /// Why it is of its kind: the rule that held and its inputs (empty before kind rules).
    #[serde(default)]
    pub kind_why: KindWhy,
    /// The risk windows it was first seen in (`收工时 16:30–19:00`, …); empty off-window.
    #[serde(default)]
    pub windows: Vec<String>,
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
    pub township_code: String,
    pub township: String,
    pub team: String,
    pub team_phone: String,
    pub village_code: String,
    pub village: String,
    pub grid_id: String,
    pub grid_member: String,
    pub grid_phone: String,
    pub landuse: String,
    pub sources: Vec<String>,
    /// The cameras that saw it: those whose sightings the ticket holds and the towers that
    /// confirmed them (empty for satellite-only tickets).
    pub cameras: Vec<String>,
    /// Tickets of the same fire in neighbouring grid cells (a fire crossing a village boundary
    /// is one ticket per cell, each team acting in its own; they name each other).
    pub related: Vec<String>,
    pub detections: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Camera sightings: on site by then; satellite points: verified (closed) by then.
    pub deadline: DateTime<Utc>,
    /// Camera sightings: acknowledged by then; none for satellite points (one step, verify).
    pub ack_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who and when of each step, as the township team set them; a batch never writes these.
    pub acked_by: Option<String>,
    pub acked_at: Option<DateTime<Utc>>,
    pub on_site_by: Option<String>,
    pub on_site_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// What was done (查实) or the note of a false alarm.
    pub close_note: Option<String>,
    pub false_alarm_cause: Option<FalseAlarmCause>,
    pub duplicate_of: Option<String>,
    /// A ticket closed before this one's fire was seen again, at the same place (a closed ticket
    /// is never reopened: the new sighting opens this one, which names the old).
    pub follows: Option<String>,
    /// 0: the grid member; 1: the township lead; 2: the county office (see `lifecycle`).
    #[serde(default)]
    pub escalation: i64,
    /// The steps whose deadline passed and that were escalated (`ack`, `on_site`, `verify`).
    #[serde(default)]
    pub escalated: Vec<String>,
}

/// What the event rule needs to know of an open ticket.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub id: String,
    /// The grid cell (网格) the ticket was dispatched to, as `township code/grid id` (grid ids are
    /// often numbered per township); "/" outside every cell.
    pub cell: String,
    pub lon: f64,
    pub lat: f64,
    /// The box its sightings cover (west, east, south, north; their footprints, or points).
    pub bbox: [f64; 4],
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Closed (resolved, false alarm, duplicate): never joined, only named by a new ticket.
    pub closed: bool,
}

/// What becomes of one located, unsuppressed detection.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// It is a fire an open ticket already has: add the sighting to that ticket (`id`); the
    /// same fire's tickets in other grid cells within reach of it (`related`) are linked to it.
    Join { id: String, related: Vec<String> },
    /// It is a new fire: open this ticket.
    Open(Box<Ticket>),
}
