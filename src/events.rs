//! Events: when two sightings are the same fire. A detection joins an open (not closed) ticket
//! when it lies within the merge radius (or its own location uncertainty, if larger) of the
//! ticket's fire and falls inside the ticket's seen-interval widened by the merge window.
//!
//! Pure rules over plain values; the store applies them inside its transaction so that merging
//! also holds across batches and across reruns.

use chrono::{DateTime, Duration, Utc};

use crate::aoi::Projector;
use crate::config::EventConfig;
use crate::detect::Detection;

/// What the merge rule needs to know of an open ticket.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The store's spatial-index entry for the ticket.
    pub extent: i64,
}

/// The nearest anchor the detection belongs to, if any.
pub fn merge_target<'a>(anchors: &'a [Anchor], det: &Detection, cfg: &EventConfig) -> Option<&'a Anchor> {
    let window = Duration::minutes(cfg.merge_window_min);
    let reach = cfg.merge_radius_m.max(det.radius_m);
    let proj = Projector::new(det.lon, det.lat);
    anchors
        .iter()
        .filter(|a| det.observed_at >= a.first_seen - window && det.observed_at <= a.last_seen + window)
        .map(|a| (a, proj.distance_m((det.lon, det.lat), (a.lon, a.lat))))
        .filter(|(_, d)| *d <= reach)
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::SourceKind;
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
        Anchor { id: id.into(), lon, lat, first_seen: t, last_seen: t, extent: 0 }
    }

    #[test]
    fn near_sighting_joins_nearest_ticket() {
        let anchors = [anchor("far", 115.70, 37.60), anchor("near", 115.6005, 37.60)];
        let cfg = EventConfig::default();
        // ~1.3 km from "far" is inside 1500 m too, but "near" (~44 m) wins
        assert_eq!(merge_target(&anchors, &det(115.6, 37.6, 10), &cfg).map(|a| a.id.as_str()), Some("near"));
    }

    #[test]
    fn distant_or_late_sighting_starts_a_new_fire() {
        let anchors = [anchor("a", 115.60, 37.60)];
        let cfg = EventConfig::default();
        assert!(merge_target(&anchors, &det(115.63, 37.60, 10), &cfg).is_none()); // ~2.6 km east
        let mut late = det(115.60, 37.60, 0);
        late.observed_at += Duration::minutes(cfg.merge_window_min + 1);
        assert!(merge_target(&anchors, &late, &cfg).is_none());
    }
}
