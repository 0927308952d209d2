//! Dispatch: what a ticket says for a located fire — straw or garbage burning, priority, the
//! responsible township team and grid member, and the deadline from the county's service levels.
//!
//! Straw vs garbage is decided from land use at the fire for now: farmland → straw (秸秆), built-up
//! → garbage (垃圾), water → unknown (likely a false alarm). Camera sightings get acknowledge and
//! on-site deadlines in minutes; satellite points must be verified by the cutoff of the Beijing day.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aoi::LandClass;
use crate::domain::{BurnKind, Priority, SourceKind};
use crate::locate::Located;

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
    pub priority: Priority,
    pub deadline: DateTime<Utc>,
    /// Camera sightings: acknowledge by then.
    pub ack_deadline: Option<DateTime<Utc>>,
    /// Why the priority is high, for the grid member.
    pub reasons: Vec<String>,
}

/// Kind, priority, reasons and deadline of a new ticket for `loc`; a fire within
/// `station_alert_m` of a national monitoring station is high priority.
pub fn dispatch(loc: &Located, station_alert_m: f64, sla: &Sla) -> Dispatch {
    let kind = match loc.place.landuse {
        LandClass::Farmland => BurnKind::Straw,
        LandClass::BuiltUp => BurnKind::Garbage,
        LandClass::Water => BurnKind::Unknown,
    };
    let mut reasons = Vec::new();
    if let Some(zone) = &loc.place.no_burn_zone {
        reasons.push(format!("in no-burn zone {zone}"));
    }
    if let Some((name, d)) = &loc.place.station {
        if *d <= station_alert_m {
            // the bureau's rings around a national station (国控点): 1 km, then the alert radius
            let ring = if *d <= 1000.0 { 1.0 } else { station_alert_m / 1000.0 };
            reasons.push(format!("inside the {ring:.0} km ring of national station {name} ({:.1} km)", d / 1000.0));
        }
    }
    let priority = if reasons.is_empty() { Priority::Normal } else { Priority::High };
    let seen = loc.detection.observed_at;
    let deadline = match loc.detection.source {
        SourceKind::Camera | SourceKind::Drone if priority == Priority::High => {
            seen + Duration::minutes(sla.on_site_high_min)
        }
        SourceKind::Camera | SourceKind::Drone => seen + Duration::minutes(sla.on_site_min),
        SourceKind::Satellite => {
            let cutoff = sla.cutoff().unwrap_or(chrono::NaiveTime::from_hms_opt(17, 0, 0).expect("valid"));
            crate::time::next_cutoff(seen, cutoff)
        }
    };
    let ack_deadline = loc.detection.source.is_sighting().then(|| seen + Duration::minutes(sla.ack_min));
    Dispatch { kind, priority, deadline, ack_deadline, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aoi::PlaceInfo;
    use crate::domain::Detection;
    use chrono::TimeZone;

    fn at(source: SourceKind, station_m: f64, zone: Option<&str>, landuse: LandClass) -> Located {
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        let place = PlaceInfo {
            no_burn_zone: zone.map(Into::into),
            station: Some(("S".into(), station_m)),
            ..PlaceInfo::bare(landuse)
        };
        Located { detection: Detection::point(source, 115.6, 37.6, at, 100.0), place, suppressed_by: None }
    }

    #[test]
    fn rings_zones_and_land_use_decide_kind_priority_and_deadline() {
        let (ev, sla) = (3000.0, Sla::default());
        let d = dispatch(&at(SourceKind::Camera, 800.0, None, LandClass::Farmland), ev, &sla);
        assert_eq!((d.kind, d.priority), (BurnKind::Straw, Priority::High));
        assert!(d.reasons[0].starts_with("inside the 1 km ring"), "{:?}", d.reasons);
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 10, 5, 40, 0).unwrap());
        let d = dispatch(&at(SourceKind::Camera, 2500.0, None, LandClass::BuiltUp), ev, &sla);
        assert_eq!(d.kind, BurnKind::Garbage);
        assert!(d.reasons[0].starts_with("inside the 3 km ring"), "{:?}", d.reasons);
        let d = dispatch(&at(SourceKind::Camera, 9000.0, None, LandClass::Farmland), ev, &sla);
        assert_eq!(d.priority, Priority::Normal);
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 10, 5, 45, 0).unwrap());
        let d = dispatch(&at(SourceKind::Satellite, 9000.0, Some("县城禁烧区"), LandClass::Water), ev, &sla);
        assert_eq!((d.kind, d.priority), (BurnKind::Unknown, Priority::High));
        assert_eq!(
            d.deadline,
            Utc.with_ymd_and_hms(2026, 6, 10, 9, 0, 0).unwrap(),
            "satellite: 17:00 the same Beijing day"
        );
        assert_eq!(d.ack_deadline, None);
        let mut late = at(SourceKind::Satellite, 9000.0, None, LandClass::Farmland);
        late.detection.observed_at = Utc.with_ymd_and_hms(2026, 6, 10, 9, 30, 0).unwrap(); // 17:30 Beijing
        let d = dispatch(&late, ev, &sla);
        assert_eq!(d.deadline, Utc.with_ymd_and_hms(2026, 6, 11, 9, 0, 0).unwrap(), "after the cutoff: the next day's");
        let d = dispatch(&at(SourceKind::Camera, 9000.0, None, LandClass::Farmland), ev, &sla);
        assert_eq!(d.ack_deadline, Some(Utc.with_ymd_and_hms(2026, 6, 10, 5, 35, 0).unwrap()));
    }
}
