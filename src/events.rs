//! Events: when two sightings are the same fire, and what a new fire's ticket says.
//!
//! A detection joins an open (not closed) ticket when it lies within the merge radius (or its
//! own location uncertainty, if larger) of the ticket's fire and falls inside the ticket's
//! seen-interval widened by the merge window; otherwise it opens a ticket whose id derives from
//! the input and the detection, so a rebuilt store gives the same ids. [`decide`] is a pure
//! function over plain values: the store finds the candidate tickets and carries the decision
//! out inside its transaction, so merging also holds across batches and reruns.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::dispatch::{dispatch, Sla};
use crate::domain::{Anchor, Decision, Detection, FrameObservation, Status, Ticket, ViewMask};
use crate::grid::Projector;
use crate::locate::camera::{triangulate, Bearing};
use crate::locate::Located;

/// How sightings are merged into one fire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Detections closer than this to an open ticket's fire join that ticket.
    pub merge_radius_m: f64,
    /// ... if the ticket was last seen at most this many minutes before.
    pub merge_window_min: i64,
    /// Detections inside a known heat source polygon or this close to it are suppressed.
    pub heat_source_buffer_m: f64,
    /// A fire this close to a national monitoring station (国控点) is high priority.
    pub station_alert_m: f64,
    /// A fire this close to a highway (the `roads` layer's `highway` class) is high priority:
    /// smoke on the road is a traffic hazard.
    pub highway_alert_m: f64,
    /// Only points seen within this many hours before they are recorded become live tickets; an
    /// older one (a back-filled table, a `pass` over last year's scenes) goes to the history —
    /// the persistence mask, the patrol plan, the fire-point ledger — and never opens, notifies
    /// or escalates a ticket. 0: every point is live (replaying a past day, as the sample
    /// district's demo does).
    pub live_window_h: i64,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            merge_radius_m: 1500.0,
            merge_window_min: 180,
            heat_source_buffer_m: 500.0,
            station_alert_m: 3000.0,
            highway_alert_m: 500.0,
            live_window_h: 24,
        }
    }
}

impl EventConfig {
    /// Why `d`, recorded at `now`, is history rather than a live sighting (see `live_window_h`).
    pub fn history(&self, d: &Detection, now: DateTime<Utc>) -> Option<crate::domain::Suppression> {
        (self.live_window_h > 0 && d.observed_at < now - Duration::hours(self.live_window_h))
            .then_some(crate::domain::Suppression::History { live_window_h: self.live_window_h })
    }

    /// How far from a detection an open ticket may be and still take it, metres.
    pub fn reach_m(&self, det: &Detection) -> f64 {
        self.merge_radius_m.max(det.radius_m)
    }
}

/// When a camera sighting becomes an alarm: one flagged frame is a flicker (a cloud edge, a
/// glint), the same smoke in several frames of one view, or in two towers' views, is a fire.
/// The default 2 of the last 3 was measured on the FIgLib sequences (`firepoint smoke eval`,
/// models/MODEL_CARD.md): one minute later than alarming on every flag, flickers removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfirmConfig {
    /// A flagged frame raises an alarm when at least this many ...
    pub frames: usize,
    /// ... of the last this many frames of the same camera and preset (itself included) flag
    /// overlapping tiles ...
    pub of_last: usize,
    /// ... within this many minutes before it.
    pub window_min: i64,
    /// The same preset: pan within this many degrees ...
    pub pan_tolerance_deg: f64,
    /// ... and tilt within this many.
    pub tilt_tolerance_deg: f64,
    /// Or at once when another tower's flagged frame within the window has a bearing that
    /// crosses this one's (the fire is then placed where they cross).
    pub second_tower: bool,
    /// A place of a preset's view that flagged, unconfirmed, on at least this many days ...
    pub mask_after_days: usize,
    /// ... within this many days is learned as a mask (shown by `firepoint smoke masks`).
    pub mask_lookback_days: i64,
}

impl Default for ConfirmConfig {
    fn default() -> Self {
        ConfirmConfig {
            frames: 2,
            of_last: 3,
            window_min: 10,
            pan_tolerance_deg: 1.0,
            tilt_tolerance_deg: 0.5,
            second_tower: true,
            mask_after_days: 3,
            mask_lookback_days: 14,
        }
    }
}

/// The configuration a detection is judged by: merging, service levels, confirmation, the kind
/// rules and the risk windows, and the rain forecasts the store holds.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub events: &'a EventConfig,
    pub sla: &'a Sla,
    pub confirm: &'a ConfirmConfig,
    pub burn: &'a crate::burn::BurnConfig,
    pub windows: &'a crate::burn::WindowsConfig,
    /// Forecasts whose rain has not ended (`Store::forecasts`); none: no 下雨前 window.
    pub forecasts: &'a [crate::burn::Forecast],
}

impl<'a> Rules<'a> {
    /// These rules with `forecasts` for the 下雨前 window.
    pub fn with_forecasts(self, forecasts: &'a [crate::burn::Forecast]) -> Rules<'a> {
        Rules { forecasts, ..self }
    }

    /// What dispatching a new ticket reads.
    pub fn dispatch_rules(&self) -> crate::dispatch::DispatchRules<'a> {
        crate::dispatch::DispatchRules {
            station_alert_m: self.events.station_alert_m,
            highway_alert_m: self.events.highway_alert_m,
            sla: self.sla,
            burn: self.burn,
            windows: self.windows,
            forecasts: self.forecasts,
        }
    }

    /// The confirmation rules for a camera sighting seen at `at` at (lon, lat) in `township`:
    /// in a risk window `windows.confirm_frames` flagged frames suffice, when fewer.
    pub fn confirm_at(
        &self,
        at: DateTime<Utc>,
        (lon, lat): (f64, f64),
        township: &str,
    ) -> (ConfirmConfig, Vec<String>) {
        let hits = crate::burn::active_windows(self.windows, self.burn, self.forecasts, at, (lon, lat), township);
        let mut cfg = self.confirm.clone();
        if !hits.is_empty() {
            cfg.frames = cfg.frames.min(self.windows.confirm_frames);
        }
        (cfg, hits.iter().map(|w| w.label()).collect())
    }
}

/// Whether a flagged frame is an alarm yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    /// Enough frames of the same view flag overlapping tiles (how many).
    Frames(usize),
    /// Another tower saw it: its camera id and where the two bearings cross.
    SecondTower { camera: String, fix: crate::locate::camera::Triangulated },
    /// Not yet: flagged frames so far, and how many are needed.
    Pending { flagged: usize, needed: usize },
}

impl Confirmation {
    /// The reason a pending sighting is stored without a ticket.
    pub fn pending_reason(&self) -> Option<crate::domain::Suppression> {
        match self {
            Confirmation::Pending { flagged, needed } => {
                Some(crate::domain::Suppression::Awaiting { flagged: *flagged, needed: *needed })
            }
            _ => None,
        }
    }
}

/// The mask, drawn or learned, that covers a flagged frame's smoke tile, as the reason the
/// sighting is not an alarm.
pub fn view_mask(f: &FrameObservation, masks: &[ViewMask], cfg: &ConfirmConfig) -> Option<crate::domain::Suppression> {
    let m = masks.iter().find(|m| m.covers(f, cfg.pan_tolerance_deg, cfg.tilt_tolerance_deg))?;
    Some(crate::domain::Suppression::Masked { camera: m.camera_id.clone(), reason: m.reason.clone() })
}

/// Masks learned from unconfirmed flagged frames (oldest first): places of one preset's view
/// (overlapping tiles) that flagged on at least `mask_after_days` distinct days.
pub fn learn_masks(unconfirmed: &[FrameObservation], cfg: &ConfirmConfig) -> Vec<ViewMask> {
    // greedy groups: a frame joins the first group of its camera and preset whose first tile it overlaps
    let mut groups: Vec<(FrameObservation, std::collections::BTreeSet<chrono::NaiveDate>)> = Vec::new();
    for f in unconfirmed {
        let day = crate::time::reporting_day(f.captured_at);
        let same = |g: &FrameObservation| {
            g.camera_id == f.camera_id
                && (g.pan_deg - f.pan_deg).abs() <= cfg.pan_tolerance_deg
                && (g.tilt_deg - f.tilt_deg).abs() <= cfg.tilt_tolerance_deg
                && g.overlaps(f)
        };
        match groups.iter_mut().find(|(g, _)| same(g)) {
            Some((_, days)) => {
                days.insert(day);
            }
            None => groups.push((f.clone(), [day].into())),
        }
    }
    groups
        .into_iter()
        .filter(|(_, days)| days.len() >= cfg.mask_after_days)
        .map(|(g, days)| ViewMask {
            camera_id: g.camera_id.clone(),
            pan_deg: g.pan_deg,
            tilt_deg: g.tilt_deg,
            bbox: g.tile_box,
            reason: format!(
                "learned: flagged without confirmation on {} days ({} .. {})",
                days.len(),
                days.first().expect("a group has a day"),
                days.last().expect("a group has a day")
            ),
        })
        .collect()
}

/// Where a camera sighting confirmed by a second tower is placed: where the two bearings cross
/// when that is better known than the one ray over the DEM (lon, lat, radius), else `None`.
pub fn better_fix(d: &Detection, fix: &crate::locate::camera::Triangulated) -> Option<(f64, f64, f64)> {
    (fix.radius_m < d.radius_m).then_some((fix.lon, fix.lat, fix.radius_m))
}

/// Confirms a flagged frame `current` against `same_view` (earlier frames of its camera and
/// preset in the window, newest first) and `other_towers` (other cameras' flagged frames in the
/// window).
pub fn confirm(
    current: &FrameObservation,
    same_view: &[FrameObservation],
    other_towers: &[FrameObservation],
    cfg: &ConfirmConfig,
) -> Confirmation {
    let earlier = same_view.iter().take(cfg.of_last.saturating_sub(1));
    let flagged = 1 + earlier.filter(|f| f.flagged && f.overlaps(current)).count();
    if flagged >= cfg.frames {
        return Confirmation::Frames(flagged);
    }
    let bearing = |f: &FrameObservation| {
        f.azimuth_deg.map(|az| Bearing {
            lon: f.camera_lon,
            lat: f.camera_lat,
            azimuth_deg: az,
            sigma_deg: f.sigma_deg,
        })
    };
    if cfg.second_tower {
        let mine = bearing(current);
        let best = other_towers
            .iter()
            .filter(|o| o.flagged && o.camera_id != current.camera_id)
            .filter_map(|o| Some((o, triangulate(&[mine?, bearing(o)?])?)))
            .min_by(|a, b| a.1.radius_m.total_cmp(&b.1.radius_m));
        if let Some((o, fix)) = best {
            return Confirmation::SecondTower { camera: o.camera_id.clone(), fix };
        }
    }
    Confirmation::Pending { flagged, needed: cfg.frames }
}

/// The open tickets of the same fire: within reach of the box their sightings cover (so that a
/// fire of many pixels grows pixel by pixel) and within the merge window of the detection.
fn same_fire<'a>(anchors: &'a [Anchor], det: &Detection, cfg: &EventConfig) -> Vec<(&'a Anchor, f64)> {
    let window = Duration::minutes(cfg.merge_window_min);
    let reach = cfg.reach_m(det);
    let proj = Projector::new(det.lon, det.lat);
    anchors
        .iter()
        .filter(|a| !a.closed && det.observed_at >= a.first_seen - window && det.observed_at <= a.last_seen + window)
        .map(|a| {
            let [w, e, s, n] = a.bbox;
            let nearest = (det.lon.clamp(w.min(e), e.max(w)), det.lat.clamp(s.min(n), n.max(s)));
            (a, proj.distance_m((det.lon, det.lat), nearest))
        })
        .filter(|(_, d)| *d <= reach)
        .collect()
}

/// The open ticket of the same fire that the detection joins, if any. Tickets are per grid cell
/// (`cell`: the unit a team acts in), so a fire point joins only a ticket of its own cell; a
/// camera sighting, placed to within hundreds of metres to kilometres, joins the nearest ticket
/// of the same fire, its own cell's first (its cell is no more certain than its position).
pub fn merge_target<'a>(anchors: &'a [Anchor], det: &Detection, cell: &str, cfg: &EventConfig) -> Option<&'a Anchor> {
    target_among(&same_fire(anchors, det, cfg), det, cell)
}

/// [`merge_target`] among the same fire's tickets already found ([`same_fire`]).
fn target_among<'a>(fire: &[(&'a Anchor, f64)], det: &Detection, cell: &str) -> Option<&'a Anchor> {
    let camera = det.source.is_sighting();
    fire.iter()
        .filter(|(a, _)| camera || a.cell == cell)
        .min_by(|x, y| (x.0.cell != cell).cmp(&(y.0.cell != cell)).then(x.1.total_cmp(&y.1)))
        .map(|(a, _)| *a)
}

/// Ticket id: reporting day and a short hash of the input and detection that opened it (the
/// first of [`ticket_ids`]).
pub fn ticket_id(input_sha: &str, idx: usize, seen: DateTime<Utc>) -> String {
    ticket_ids(input_sha, idx, seen).next().expect("at least one id")
}

/// The ids a ticket may take, shortest first: `FP-<day>-` and 6 hex digits of the hash of its
/// input and detection, then 8, 10, … up to all 64. Six digits are 24 bits, so two tickets of one
/// day share them now and then (≈ 3 % of days at 1,000 tickets a day); the store gives a ticket
/// the first id not taken, so a collision costs two more digits, never a failed input, and a
/// store rebuilt from the same inputs in the same order gives the same ids.
pub fn ticket_ids(input_sha: &str, idx: usize, seen: DateTime<Utc>) -> impl Iterator<Item = String> {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let h = Sha256::digest(format!("{input_sha}/{idx}").as_bytes());
    let hex = h.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    });
    let day = crate::time::reporting_day(seen).format("%Y%m%d").to_string();
    (6..=64).step_by(2).map(move |n| format!("FP-{day}-{}", &hex[..n]))
}

/// Rounds to a step of 1/`per` (1e6 for coordinates: 0.1 m; the feed needs no more).
fn round_to(v: f64, per: f64) -> f64 {
    (v * per).round() / per
}

/// Joins detection `idx` of input `input_sha` to one of the candidate open tickets, or opens a
/// new ticket for it, dispatched to its township and grid cell.
pub fn decide(
    anchors: &[Anchor],
    loc: &Located,
    (input_sha, idx): (&str, usize),
    rules: &Rules,
    now: DateTime<Utc>,
) -> Decision {
    let d = &loc.detection;
    let p = &loc.place;
    let (town, village) = (p.township.as_ref(), p.village.as_ref());
    let field = |f: Option<&String>| f.cloned().unwrap_or_default();
    let grid_id = field(village.map(|v| &v.grid_id));
    let cell = format!("{}/{grid_id}", field(town.map(|t| &t.code)));
    let fire = same_fire(anchors, d, rules.events);
    let target = target_among(&fire, d, &cell);
    let mut related: Vec<String> = fire
        .iter()
        .filter(|(a, _)| target.is_none_or(|t| t.id != a.id && a.cell != t.cell))
        .map(|(a, _)| a.id.clone())
        .collect();
    related.sort();
    if let Some(a) = target {
        return Decision::Join { id: a.id.clone(), related };
    }
    // a closed ticket of the same fire is never reopened: the new ticket names the last one
    let follows = anchors
        .iter()
        .filter(|a| a.closed && d.observed_at <= a.last_seen + Duration::minutes(rules.events.merge_window_min))
        .filter(|a| {
            let [w, e, s, n] = a.bbox;
            let nearest = (d.lon.clamp(w.min(e), e.max(w)), d.lat.clamp(s.min(n), n.max(s)));
            Projector::new(d.lon, d.lat).distance_m((d.lon, d.lat), nearest) <= rules.events.reach_m(d)
        })
        .max_by(|a, b| a.last_seen.cmp(&b.last_seen).then(b.id.cmp(&a.id)))
        .map(|a| a.id.clone());
    let disp = dispatch(loc, &rules.dispatch_rules());
    let landuse = serde_json::to_value(p.landuse).expect("enum serialises").as_str().unwrap_or("").to_string();
    Decision::Open(Box::new(Ticket {
        id: ticket_id(input_sha, idx, d.observed_at),
        status: Status::Open,
        kind: disp.kind,
        priority: disp.priority,
        // where it was placed when that is not plain: snapped from a gap, or in no village
        reasons: disp.reasons.into_iter().chain(crate::dispatch::placement_note(p)).collect(),
        kind_why: disp.kind_why,
        windows: disp.windows.iter().map(|w| w.label()).collect(),
        lon: round_to(d.lon, 1e6),
        lat: round_to(d.lat, 1e6),
        radius_m: d.radius_m.round(),
        township_code: field(town.map(|t| &t.code)),
        township: field(town.map(|t| &t.name)),
        team: field(town.map(|t| &t.team)),
        team_phone: field(town.map(|t| &t.phone)),
        village_code: field(village.map(|v| &v.code)),
        village: field(village.map(|v| &v.name)),
        grid_id,
        grid_member: field(village.map(|v| &v.grid_member)),
        grid_phone: field(village.map(|v| &v.phone)),
        landuse,
        sources: vec![d.source.as_str().to_string()],
        cameras: d.cameras(),
        related,
        detections: 1,
        first_seen: d.observed_at,
        last_seen: d.observed_at,
        deadline: disp.deadline,
        ack_deadline: disp.ack_deadline,
        created_at: now,
        updated_at: now,
        acked_by: None,
        acked_at: None,
        on_site_by: None,
        on_site_at: None,
        closed_by: None,
        closed_at: None,
        close_note: None,
        false_alarm_cause: None,
        duplicate_of: None,
        follows,
        // a fire in no village (未归属) has no grid member or township: the county office's
        escalation: if p.unassigned { 2 } else { 0 },
        escalated: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;
    use chrono::TimeZone;

    fn det(lon: f64, lat: f64, minute: u32) -> Detection {
        Detection {
            source: SourceKind::Camera,
            sensor: "CAM01".into(),
            observed_at: Utc.with_ymd_and_hms(2026, 6, 10, 5, minute, 0).unwrap(),
            lon,
            lat,
            radius_m: 100.0,
            footprint: None,
            confidence: 0.9,
            evidence: serde_json::Value::Null,
        }
    }

    fn anchor(id: &str, lon: f64, lat: f64) -> Anchor {
        let t = Utc.with_ymd_and_hms(2026, 6, 10, 5, 0, 0).unwrap();
        Anchor {
            id: id.into(),
            cell: "/".into(),
            lon,
            lat,
            bbox: [lon, lon, lat, lat],
            first_seen: t,
            last_seen: t,
            closed: false,
        }
    }

    #[test]
    fn near_sighting_joins_nearest_ticket() {
        let anchors = [anchor("far", 115.70, 37.60), anchor("near", 115.6005, 37.60)];
        let cfg = EventConfig::default();
        // ~1.3 km from "far" is inside 1500 m too, but "near" (~44 m) wins
        assert_eq!(merge_target(&anchors, &det(115.6, 37.6, 10), "/", &cfg).map(|a| a.id.as_str()), Some("near"));
    }

    #[test]
    fn distant_or_late_sighting_starts_a_new_fire() {
        let anchors = [anchor("a", 115.60, 37.60)];
        let cfg = EventConfig::default();
        assert!(merge_target(&anchors, &det(115.63, 37.60, 10), "/", &cfg).is_none()); // ~2.6 km east
        let mut late = det(115.60, 37.60, 0);
        late.observed_at += Duration::minutes(cfg.merge_window_min + 1);
        assert!(merge_target(&anchors, &late, "/", &cfg).is_none());
    }

    #[test]
    fn a_far_sighting_opens_a_dispatched_ticket_with_a_stable_id_and_a_near_one_joins() {
        let (ev, sla) = (EventConfig::default(), Sla::default());
        let confirm = ConfirmConfig::default();
        let (burn, windows) = (crate::burn::BurnConfig::default(), crate::burn::WindowsConfig::default());
        let rules = Rules { events: &ev, sla: &sla, confirm: &confirm, burn: &burn, windows: &windows, forecasts: &[] };
        let now = Utc.with_ymd_and_hms(2026, 6, 10, 5, 12, 0).unwrap();
        let anchors = [anchor("FP-A", 115.60, 37.60)];
        let near = Located::on_farmland(det(115.601, 37.60, 10));
        assert_eq!(
            decide(&anchors, &near, ("sha", 0), &rules, now),
            Decision::Join { id: "FP-A".into(), related: vec![] }
        );
        let far = Located::on_farmland(det(115.70, 37.60, 10));
        let Decision::Open(t) = decide(&anchors, &far, ("sha", 3), &rules, now) else { panic!("opens") };
        assert_eq!(t.id, ticket_id("sha", 3, far.detection.observed_at));
        assert!(t.id.starts_with("FP-20260610-"));
        assert_eq!((t.status, t.kind, t.detections), (Status::Open, crate::domain::BurnKind::Straw, 1));
        assert_eq!(t.deadline, far.detection.observed_at + Duration::minutes(sla.on_site_min), "camera: minutes");
        assert_eq!(t.sources, vec!["camera".to_string()]);
        assert_eq!(t.cameras, vec!["CAM01".to_string()]);
    }

    #[test]
    fn r8_fire_points_join_their_own_cell_by_the_ticket_box_and_cameras_join_across_cells() {
        let cfg = EventConfig::default();
        // a ticket of one 2.6 km × 3.3 km geostationary pixel (AHI over Hebei) in cell A
        let mut a = anchor("A", 115.60, 37.60);
        let p = Projector::new(115.60, 37.60);
        let (w, s) = p.to_deg(-1300.0, -1650.0);
        let (e, n) = p.to_deg(1300.0, 1650.0);
        (a.cell, a.bbox) = ("T1/G1".into(), [w, e, s, n]);
        // its east neighbour, 2.6 km away (radius 2.1 km): 1.3 km from the box, so it joins
        let (lon, _) = p.to_deg(2600.0, 0.0);
        let mut east = det(lon, 37.60, 0);
        east.source = crate::domain::SourceKind::Satellite;
        east.radius_m = 2100.0;
        assert_eq!(merge_target(std::slice::from_ref(&a), &east, "T1/G1", &cfg).map(|x| x.id.as_str()), Some("A"));
        // the same pixel in the next cell opens its own ticket (related, not joined)
        assert!(merge_target(std::slice::from_ref(&a), &east, "T1/G2", &cfg).is_none());
        assert_eq!(same_fire(std::slice::from_ref(&a), &east, &cfg).len(), 1);
        // a camera sighting of the fire joins whatever cell its rough position falls in
        let cam = det(lon, 37.60, 0);
        assert_eq!(merge_target(std::slice::from_ref(&a), &cam, "T1/G2", &cfg).map(|x| x.id.as_str()), Some("A"));
        // ... preferring its own cell's ticket
        let mut b = anchor("B", lon, 37.60);
        b.cell = "T1/G2".into();
        assert_eq!(merge_target(&[a, b], &cam, "T1/G2", &cfg).map(|x| x.id.as_str()), Some("B"));
    }

    #[test]
    fn r8_a_point_joining_its_cell_links_the_same_fire_in_the_next_cell() {
        let (ev, sla, confirm) = (EventConfig::default(), Sla::default(), ConfirmConfig::default());
        let (burn, windows) = (crate::burn::BurnConfig::default(), crate::burn::WindowsConfig::default());
        let rules = Rules { events: &ev, sla: &sla, confirm: &confirm, burn: &burn, windows: &windows, forecasts: &[] };
        let now = Utc.with_ymd_and_hms(2026, 6, 10, 5, 12, 0).unwrap();
        let p = Projector::new(115.60, 37.60);
        let at = |x: f64| p.to_deg(x, 0.0).0;
        // T1 in another cell at x = 0; T2 in the point's own cell ("/": no village) at x = 2.4 km
        let mut t1 = anchor("T1", at(0.0), 37.60);
        t1.cell = "T9/A".into();
        let t2 = anchor("T2", at(2400.0), 37.60);
        // a point at x = 1.2 km is within reach of both: it joins T2 and links T1
        let mut d = det(at(1200.0), 37.60, 5);
        d.source = crate::domain::SourceKind::Satellite;
        let loc = Located::on_farmland(d);
        assert_eq!(
            decide(&[t1, t2], &loc, ("sha", 0), &rules, now),
            Decision::Join { id: "T2".into(), related: vec!["T1".into()] }
        );
    }

    #[test]
    fn r22_a_fire_in_no_village_opens_for_the_county_office_and_says_so() {
        let (ev, sla, confirm) = (EventConfig::default(), Sla::default(), ConfirmConfig::default());
        let (burn, windows) = (crate::burn::BurnConfig::default(), crate::burn::WindowsConfig::default());
        let rules = Rules { events: &ev, sla: &sla, confirm: &confirm, burn: &burn, windows: &windows, forecasts: &[] };
        let now = Utc.with_ymd_and_hms(2026, 6, 10, 5, 12, 0).unwrap();
        let mut loc = Located::on_farmland(det(115.6, 37.6, 5));
        let Decision::Open(plain) = decide(&[], &loc, ("sha", 0), &rules, now) else { panic!("opens") };
        assert_eq!((plain.escalation, plain.reasons.len()), (0, 0), "{:?}", plain.reasons);
        loc.place.unassigned = true;
        let Decision::Open(t) = decide(&[], &loc, ("sha", 0), &rules, now) else { panic!("opens") };
        assert_eq!((t.escalation, t.township_code.as_str()), (2, ""), "the county office's, no blank township team");
        assert_eq!(t.reasons, [crate::dispatch::UNASSIGNED]);
    }

    #[test]
    fn r7_a_ticket_names_its_camera_and_the_tower_that_confirmed_it() {
        let mut d = det(115.6, 37.6, 10);
        assert_eq!(d.cameras(), ["CAM01"]);
        d.evidence = serde_json::json!({ "confirmed_by_camera": "CAM07" });
        assert_eq!(d.cameras(), ["CAM01", "CAM07"]);
        d.source = SourceKind::Satellite;
        assert!(d.cameras().is_empty(), "a satellite pixel names no camera");
    }

    fn frame(camera: &str, minute: u32, x: f64, azimuth: Option<f64>, at: (f64, f64)) -> FrameObservation {
        FrameObservation {
            camera_id: camera.into(),
            camera_lon: at.0,
            camera_lat: at.1,
            captured_at: Utc.with_ymd_and_hms(2026, 6, 10, 5, minute, 0).unwrap(),
            pan_deg: 60.0,
            tilt_deg: -1.5,
            hfov_deg: 40.0,
            score: 0.9,
            flagged: true,
            tile_box: [x, 0.4, x + 0.1, 0.5],
            azimuth_deg: azimuth,
            sigma_deg: 0.2,
            picture: None,
            view_off: None,
        }
    }

    #[test]
    fn r7_a_sighting_is_an_alarm_when_frames_of_its_view_or_a_second_tower_agree() {
        let cfg = ConfirmConfig::default();
        let here = (115.70, 37.575);
        let now = frame("CAM03", 12, 0.40, Some(60.0), here);
        // alone: waits
        let pending = confirm(&now, &[], &[], &cfg);
        assert_eq!(pending, Confirmation::Pending { flagged: 1, needed: 2 });
        assert!(pending.pending_reason().unwrap().to_string().contains("1 of 2"));
        // an earlier frame of the view flagging the same place confirms; one elsewhere does not
        assert_eq!(confirm(&now, &[frame("CAM03", 11, 0.45, Some(61.0), here)], &[], &cfg), Confirmation::Frames(2));
        let elsewhere = frame("CAM03", 11, 0.90, Some(70.0), here);
        assert!(matches!(confirm(&now, &[elsewhere], &[], &cfg), Confirmation::Pending { .. }));
        // only the last `of_last - 1` earlier frames count
        let mut unflagged = frame("CAM03", 11, 0.40, None, here);
        unflagged.flagged = false;
        let history = [unflagged.clone(), unflagged, frame("CAM03", 9, 0.40, Some(60.0), here)];
        assert!(matches!(confirm(&now, &history, &[], &cfg), Confirmation::Pending { .. }));
        // a second tower whose bearing crosses this one's confirms at once, where they cross
        let p = Projector::new(here.0, here.1);
        let target = p.to_deg(2078.0, 1200.0); // 2.4 km at 60° from CAM03
        let other = p.to_deg(5000.0, 0.0);
        let (tx, ty) = p.to_m(target.0, target.1);
        let (ox, oy) = p.to_m(other.0, other.1);
        let az = (tx - ox).atan2(ty - oy).to_degrees();
        let seen = frame("CAM04", 13, 0.2, Some(az), other);
        let Confirmation::SecondTower { camera, fix } = confirm(&now, &[], std::slice::from_ref(&seen), &cfg) else {
            panic!("a second tower confirms")
        };
        assert_eq!(camera, "CAM04");
        assert!(p.distance_m((fix.lon, fix.lat), target) < 30.0, "{fix:?}");
        // the same camera never confirms itself as a second tower; the switch turns it off
        let mut same = seen.clone();
        same.camera_id = "CAM03".into();
        assert!(matches!(confirm(&now, &[], &[same], &cfg), Confirmation::Pending { .. }));
        let off = ConfirmConfig { second_tower: false, ..ConfirmConfig::default() };
        assert!(matches!(confirm(&now, &[], &[seen], &off), Confirmation::Pending { .. }));
    }

    /// Issue 18: the better fix is decided here, without a store: two towers' crossing replaces
    /// the one ray over the DEM only when it is better known.
    #[test]
    fn r18_a_crossing_replaces_the_ray_only_when_it_is_better_known() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let d = Detection::point(crate::domain::SourceKind::Camera, 115.6, 37.6, at, 400.0);
        let fix = |r| crate::locate::camera::Triangulated {
            lon: 115.61,
            lat: 37.61,
            ellipse_m: (r, r / 2.0),
            ellipse_azimuth_deg: 0.0,
            radius_m: r,
        };
        assert_eq!(better_fix(&d, &fix(120.0)), Some((115.61, 37.61, 120.0)));
        assert_eq!(better_fix(&d, &fix(900.0)), None);
    }

    #[test]
    fn r7_a_place_that_flags_unconfirmed_on_three_days_becomes_a_mask_that_covers_it() {
        let cfg = ConfirmConfig::default();
        let here = (115.70, 37.575);
        let on_day = |day: u32, x: f64| {
            let mut f = frame("CAM03", 10, x, Some(60.0), here);
            f.captured_at = Utc.with_ymd_and_hms(2026, 6, day, 5, 10, 0).unwrap();
            f
        };
        // the chimney at x 0.40 flags on days 1, 2, 4 (twice on day 2); a field at 0.80 once
        let seen = [on_day(1, 0.40), on_day(2, 0.42), on_day(2, 0.41), on_day(4, 0.40), on_day(3, 0.80)];
        let masks = learn_masks(&seen, &cfg);
        assert_eq!(masks.len(), 1, "{masks:?}");
        assert!(masks[0].reason.contains("3 days (2026-06-01 .. 2026-06-04)"), "{}", masks[0].reason);
        let why = view_mask(&on_day(5, 0.41), &masks, &cfg).expect("the chimney is masked").to_string();
        assert!(why.starts_with("masked view of CAM03: learned"), "{why}");
        assert!(view_mask(&on_day(5, 0.80), &masks, &cfg).is_none(), "the field is not");
        let mut panned = on_day(5, 0.41);
        panned.pan_deg += 5.0;
        assert!(view_mask(&panned, &masks, &cfg).is_none(), "another preset of the camera is not");
        assert!(learn_masks(&seen[..3], &cfg).is_empty(), "two days are not enough");
    }
}
