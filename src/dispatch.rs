//! Dispatch: what a ticket says for a located fire — which of the four burnings and why
//! (`burn::classify_in`, by the township's calendar), priority and its reasons (no-burn zone, a national station's ring, a
//! highway, a risk window), and the deadlines from the county's service levels.
//!
//! Camera and drone sightings get acknowledge and on-site deadlines in minutes; satellite points
//! must be verified by the cutoff of the Beijing day.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::burn::{active_windows, classify_in, BurnConfig, Forecast, WindowHit, WindowsConfig};
use crate::domain::{BurnKind, KindWhy, Priority, SourceKind};
use crate::locate::Located;

/// What dispatching reads of the configuration (and the store's forecasts).
#[derive(Debug, Clone, Copy)]
pub struct DispatchRules<'a> {
    /// A fire this close to a national monitoring station is high priority (`events.station_alert_m`).
    pub station_alert_m: f64,
    /// ... and this close to a highway (`events.highway_alert_m`).
    pub highway_alert_m: f64,
    pub sla: &'a Sla,
    pub burn: &'a BurnConfig,
    pub windows: &'a WindowsConfig,
    pub forecasts: &'a [Forecast],
}

/// Service levels from the county's rules: each step of a ticket has a deadline, and a step
/// past its deadline is escalated one level (grid member → township lead → county office).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    /// Alarm pushed to the grid member (camera sightings), minutes from the sighting.
    pub alarm_min: i64,
    /// Camera sightings: acknowledged (签收) within this many minutes of the sighting.
    pub ack_min: i64,
    /// Camera sightings: grid member on site (到场) within this many minutes of the sighting.
    pub on_site_min: i64,
    /// On site for high-priority fires (no-burn zone, near a national station).
    pub on_site_high_min: i64,
    /// Satellite points: verified (查实 / 查否) the same Beijing day by this time (HH:MM, +08:00);
    /// a point seen after it is due at this time the next day.
    pub satellite_cutoff: String,
}

impl Default for Sla {
    fn default() -> Self {
        Sla { alarm_min: 2, ack_min: 5, on_site_min: 15, on_site_high_min: 10, satellite_cutoff: "17:00".into() }
    }
}

impl Sla {
    /// The satellite cutoff as a time of day; checked when the configuration loads.
    pub fn cutoff(&self) -> Result<chrono::NaiveTime, String> {
        chrono::NaiveTime::parse_from_str(&self.satellite_cutoff, "%H:%M")
            .map_err(|_| format!("sla.satellite_cutoff `{}` is not a time like 17:00", self.satellite_cutoff))
    }
}

/// The dispatch fields of a new ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub kind: BurnKind,
    /// The kind rule that held and its inputs.
    pub kind_why: KindWhy,
    /// The risk windows the fire was seen in.
    pub windows: Vec<WindowHit>,
    pub priority: Priority,
    pub deadline: DateTime<Utc>,
    /// Camera sightings: acknowledge by then.
    pub ack_deadline: Option<DateTime<Utc>>,
    /// Why the priority is high, for the grid member.
    pub reasons: Vec<String>,
}

/// Kind, priority, reasons and deadline of a new ticket for `loc`: high priority in a no-burn
/// zone, within `events.station_alert_m` of a national monitoring station, within
/// `events.highway_alert_m` of a highway, or (with `windows.high_priority`) in a risk window.
pub fn dispatch(loc: &Located, rules: &DispatchRules) -> Dispatch {
    let d = &loc.detection;
    let landuse = serde_json::to_value(loc.place.landuse).expect("enum serialises");
    let town_code = loc.place.township.as_ref().map_or("", |t| t.code.as_str());
    let (kind, kind_why) = classify_in(rules.burn, town_code, d, landuse.as_str().unwrap_or(""), &loc.near);
    let station_alert_m = rules.station_alert_m;
    let mut reasons = Vec::new();
    if let Some(zone) = &loc.place.no_burn_zone {
        reasons.push(format!("in no-burn zone {zone}"));
    }
    if let Some((name, m)) = &loc.place.station {
        if *m <= station_alert_m {
            // the bureau's rings around a national station (国控点): 1 km, then the alert radius
            let ring = if *m <= 1000.0 { 1.0 } else { station_alert_m / 1000.0 };
            reasons.push(format!("inside the {ring:.0} km ring of national station {name} ({:.1} km)", m / 1000.0));
        }
    }
    if let Some((name, m)) = loc.near.highway.as_ref().filter(|(_, m)| *m <= rules.highway_alert_m) {
        reasons.push(format!("{m:.0} m from highway {name}: smoke on the road is a traffic hazard"));
    }
    let township = loc.place.township.as_ref().map(|t| t.code.as_str()).unwrap_or("");
    let windows = active_windows(rules.windows, rules.burn, rules.forecasts, d.observed_at, (d.lon, d.lat), township);
    if rules.windows.high_priority {
        reasons.extend(windows.iter().map(|w| format!("risk window {}", w.label())));
    }
    let priority = if reasons.is_empty() { Priority::Normal } else { Priority::High };
    let sla = rules.sla;
    let seen = d.observed_at;
    let deadline = match d.source {
        SourceKind::Camera | SourceKind::Drone if priority == Priority::High => {
            seen + Duration::minutes(sla.on_site_high_min)
        }
        SourceKind::Camera | SourceKind::Drone => seen + Duration::minutes(sla.on_site_min),
        SourceKind::Satellite => {
            let cutoff = sla.cutoff().unwrap_or(chrono::NaiveTime::from_hms_opt(17, 0, 0).expect("valid"));
            crate::time::next_cutoff(seen, cutoff)
        }
    };
    let ack_deadline = d.source.is_sighting().then(|| seen + Duration::minutes(sla.ack_min));
    Dispatch { kind, kind_why, windows, priority, deadline, ack_deadline, reasons }
}

/// What the team must know of a fire's place that its fields do not say: given to the nearest
/// village from a gap between villages (`aoi.snap_m`), or in no village at all (未归属, the
/// county office's: the ticket opens at escalation level 2 with no township). `events::decide`
/// adds it to a new ticket's reasons, after the priority was decided (it raises none).
pub fn placement_note(place: &crate::aoi::PlaceInfo) -> Option<String> {
    match (&place.village, place.snapped_m) {
        (Some(v), Some(m)) => Some(format!(
            "snapped {m:.0} m to {} {}: the point lies in a gap between village polygons (aoi.snap_m)",
            v.code, v.name
        )),
        _ if place.unassigned => Some(UNASSIGNED.to_string()),
        _ => None,
    }
}

/// The note of a fire in no village and near none ([`placement_note`]).
pub const UNASSIGNED: &str =
    "未归属 (unassigned): in no village and farther than aoi.snap_m from every one: for the county office";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aoi::{LandClass, PlaceInfo, Township};
    use crate::burn::Near;
    use crate::domain::Detection;
    use chrono::TimeZone;

    fn at(source: SourceKind, station_m: f64, zone: Option<&str>, landuse: LandClass) -> Located {
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let place = PlaceInfo {
            no_burn_zone: zone.map(Into::into),
            station: Some(("S".into(), station_m)),
            ..PlaceInfo::bare(landuse)
        };
        Located {
            detection: Detection::point(source, 115.6, 37.6, at, 100.0),
            place,
            near: Near::default(),
            suppressed_by: None,
        }
    }

    struct Cfg(Sla, BurnConfig, WindowsConfig);

    impl Cfg {
        fn new() -> Cfg {
            Cfg(Sla::default(), BurnConfig::default(), WindowsConfig::default())
        }
        fn rules(&self) -> DispatchRules<'_> {
            DispatchRules {
                station_alert_m: 3000.0,
                highway_alert_m: 500.0,
                sla: &self.0,
                burn: &self.1,
                windows: &self.2,
                forecasts: &[],
            }
        }
    }

    #[test]
    fn r22_a_snapped_or_unassigned_place_is_said_and_a_plain_one_is_not() {
        let mut loc = at(SourceKind::Satellite, 9000.0, None, LandClass::Farmland);
        assert_eq!(placement_note(&loc.place), None, "not placed by Aoi::snap: nothing said");
        loc.place.unassigned = true;
        assert!(placement_note(&loc.place).unwrap().starts_with("未归属 (unassigned)"));
        loc.place.unassigned = false;
        loc.place.village = Some(crate::aoi::Village {
            code: "130123101".into(),
            name: "东关村".into(),
            township: "T1".into(),
            grid_id: "G1".into(),
            grid_member: "m".into(),
            phone: String::new(),
            area: geo::MultiPolygon::new(vec![]),
        });
        assert_eq!(placement_note(&loc.place), None);
        loc.place.snapped_m = Some(4.4);
        assert_eq!(
            placement_note(&loc.place).unwrap(),
            "snapped 4 m to 130123101 东关村: the point lies in a gap between village polygons (aoi.snap_m)"
        );
        assert_eq!(dispatch(&loc, &Cfg::new().rules()).priority, Priority::Normal, "a note raises no priority");
    }

    #[test]
    fn rings_zones_and_land_use_decide_kind_priority_and_deadline() {
        let cfg = Cfg::new();
        let rules = cfg.rules();
        let d = dispatch(&at(SourceKind::Camera, 800.0, None, LandClass::Farmland), &rules);
        assert_eq!((d.kind, d.priority), (BurnKind::Straw, Priority::High));
        assert!(d.reasons[0].starts_with("inside the 1 km ring"), "{:?}", d.reasons);
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 10, 5, 40, 0).unwrap());
        let d = dispatch(&at(SourceKind::Camera, 2500.0, None, LandClass::BuiltUp), &rules);
        assert_eq!(d.kind, BurnKind::Garbage);
        assert!(d.reasons[0].starts_with("inside the 3 km ring"), "{:?}", d.reasons);
        let d = dispatch(&at(SourceKind::Camera, 9000.0, None, LandClass::Farmland), &rules);
        assert_eq!(d.priority, Priority::Normal);
        assert!(d.windows.is_empty(), "13:30 Beijing on 10 June is in no risk window");
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 10, 5, 45, 0).unwrap());
        let d = dispatch(&at(SourceKind::Satellite, 9000.0, Some("县城禁烧区"), LandClass::Water), &rules);
        assert_eq!((d.kind, d.priority), (BurnKind::Unknown, Priority::High));
        assert_eq!(
            d.deadline,
            Utc.with_ymd_and_hms(2026, 6, 10, 9, 0, 0).unwrap(),
            "satellite: 17:00 the same Beijing day"
        );
        assert_eq!(d.ack_deadline, None);
        let mut late = at(SourceKind::Satellite, 9000.0, None, LandClass::Farmland);
        late.detection.observed_at = Utc.with_ymd_and_hms(2026, 6, 10, 9, 30, 0).unwrap(); // 17:30 Beijing
        let d = dispatch(&late, &rules);
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 11, 9, 0, 0).unwrap(), "after the cutoff: the next day's");
        let d = dispatch(&at(SourceKind::Camera, 9000.0, None, LandClass::Farmland), &rules);
        assert_eq!(d.ack_deadline, Some(Utc.with_ymd_and_hms(2026, 6, 10, 5, 35, 0).unwrap()));
        let d = dispatch(&at(SourceKind::Drone, 9000.0, None, LandClass::Farmland), &rules);
        assert_eq!(
            d.ack_deadline,
            Some(Utc.with_ymd_and_hms(2026, 6, 10, 5, 35, 0).unwrap()),
            "a drone sighting is acted on at once"
        );
    }

    #[test]
    fn r11_a_highway_and_a_risk_window_raise_the_priority_with_their_reason() {
        let mut cfg = Cfg::new();
        let mut loc = at(SourceKind::Satellite, 9000.0, None, LandClass::Farmland);
        loc.near.highway = Some(("G4 京港澳高速".into(), 320.0));
        let d = dispatch(&loc, &cfg.rules());
        assert_eq!(d.priority, Priority::High);
        assert_eq!(d.reasons, ["320 m from highway G4 京港澳高速: smoke on the road is a traffic hazard"]);
        loc.near.highway = Some(("G4 京港澳高速".into(), 620.0));
        assert_eq!(dispatch(&loc, &cfg.rules()).priority, Priority::Normal);
        // 17:30 Beijing: 收工时
        loc.detection.observed_at = Utc.with_ymd_and_hms(2026, 6, 10, 9, 30, 0).unwrap();
        let d = dispatch(&loc, &cfg.rules());
        assert_eq!(
            (d.priority, d.reasons.as_slice()),
            (Priority::High, ["risk window 收工时 16:30–19:00".to_string()].as_slice())
        );
        assert_eq!(d.windows.len(), 1);
        cfg.2.high_priority = false;
        let d = dispatch(&loc, &cfg.rules());
        assert_eq!((d.priority, d.windows.len()), (Priority::Normal, 1), "the window is still named");
        // a rain forecast for the township
        let mut loc = at(SourceKind::Camera, 9000.0, None, LandClass::Grassland);
        loc.place.township = Some(Township {
            code: "T1".into(),
            name: "一镇".into(),
            team: String::new(),
            leader: String::new(),
            phone: String::new(),
        });
        let rain = crate::burn::Forecast {
            valid_from: Utc.with_ymd_and_hms(2026, 6, 10, 10, 0, 0).unwrap(),
            valid_to: Utc.with_ymd_and_hms(2026, 6, 10, 14, 0, 0).unwrap(),
            probability: 0.8,
            amount_mm: 12.0,
            circle: None,
            township: Some("T1".into()),
        };
        let cfg = Cfg::new();
        let d = dispatch(&loc, &DispatchRules { forecasts: std::slice::from_ref(&rain), ..cfg.rules() });
        assert_eq!(d.kind, BurnKind::Weeds);
        assert_eq!(d.reasons, ["risk window 下雨前 rain 80 % 12.0 mm from 06-10 18:00"]);
        assert_eq!(
            d.deadline,
            Utc.with_ymd_and_hms(2026, 6, 10, 5, 40, 0).unwrap(),
            "high: the 10-minute on-site deadline"
        );
    }
}
