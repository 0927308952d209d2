//! Dispatch: what a ticket says for a located fire — straw or garbage burning, priority, the
//! responsible township team and grid member, and the deadline from the county's service levels.
//!
//! Straw vs garbage is decided from land use at the fire for now: farmland → straw (秸秆), built-up
//! → garbage (垃圾), water → unknown (likely a false alarm). Camera sightings get an on-site
//! deadline in minutes; satellite points must be verified the same Beijing day.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aoi::LandClass;
use crate::config::{EventConfig, Sla};
use crate::detect::SourceKind;
use crate::locate::Located;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnKind {
    Straw,
    Garbage,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Normal,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)+ _ => None } }
        }
    };
}
pub(crate) use str_enum;
str_enum!(BurnKind { Straw => "straw", Garbage => "garbage", Unknown => "unknown" });
str_enum!(Priority { High => "high", Normal => "normal" });

/// The dispatch fields of a new ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub kind: BurnKind,
    pub priority: Priority,
    pub deadline: DateTime<Utc>,
    /// Why the priority is high, for the grid member.
    pub reasons: Vec<String>,
}

pub fn dispatch(loc: &Located, events: &EventConfig, sla: &Sla) -> Dispatch {
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
        if *d <= events.station_alert_m {
            reasons.push(format!("{:.1} km from national station {name}", d / 1000.0));
        }
    }
    let priority = if reasons.is_empty() { Priority::Normal } else { Priority::High };
    let seen = loc.detection.observed_at;
    let deadline = match loc.detection.source {
        SourceKind::Camera if priority == Priority::High => seen + Duration::minutes(sla.on_site_high_min),
        SourceKind::Camera => seen + Duration::minutes(sla.on_site_min),
        SourceKind::Satellite => crate::time::end_of_reporting_day(seen),
    };
    Dispatch { kind, priority, deadline, reasons }
}
