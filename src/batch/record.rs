//! Recording one input: its located detections, each suppressed or decided by the event rule
//! (`events::decide`) and carried out by the store, all in one transaction.

use std::borrow::Cow;
use std::path::Path;

use chrono::Utc;

use crate::domain::{Decision, Detection, FrameObservation, SourceKind, Suppression};
use crate::events::{confirm, decide, ticket_ids, Confirmation, Rules};
use crate::locate::Located;
use crate::store::InputTx;
use crate::store::{Store, StoreError};

/// Which input is being recorded.
#[derive(Debug, Clone, Copy)]
pub struct InputRef<'a> {
    pub path: &'a Path,
    pub sha256: &'a str,
    /// `satellite`, `table`, `frame` or `weather`.
    pub kind: &'a str,
    /// What a camera frame showed (frames only).
    pub frame: Option<&'a FrameObservation>,
    /// Why the input gave nothing to look at, when it was processed but not scored.
    pub note: Option<&'a str>,
    /// A rain forecast's rows (weather inputs only).
    pub forecasts: &'a [crate::burn::Forecast],
    /// The memory of the frame's view after it (view models only), kept with the frame.
    pub view: Option<&'a crate::store::StoredView>,
}

/// What recording one input changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    pub opened: Vec<String>,
    pub joined: Vec<String>,
    pub suppressed: usize,
    /// Sightings already recorded from another input (overlapping downloads), not counted again.
    pub duplicates: usize,
    /// Camera sightings stored without a ticket until more frames or a second tower confirm them.
    pub awaiting: usize,
    /// Points seen before the live window (`events.live_window_h`): history, no ticket.
    pub history: usize,
}

/// Records `input` and its located detections in one transaction; satellite detections also
/// enter the persistence history (cells of `cell_deg`); the tickets it opens queue what
/// `announce` says of them (the notification settings).
pub fn record_input(
    store: &mut Store,
    input: InputRef,
    located: &[Located],
    rules: &Rules,
    cell_deg: f64,
    announce: &dyn crate::lifecycle::Announce,
) -> Result<Recorded, StoreError> {
    let mut tx = store.begin_input(input.path, input.sha256, input.kind, located.len(), input.note, announce)?;
    if let Some(f) = input.frame {
        tx.frame(f)?;
    }
    if let Some(v) = input.view {
        tx.save_view(v)?;
    }
    tx.forecasts(input.forecasts)?;
    let mut out = Recorded::default();
    let now = Utc::now();
    for (idx, loc) in located.iter().enumerate() {
        // borrowed unless confirmation or the duplicate check changes it (a table of 20k rows
        // is not copied row by row)
        let mut confirmed = confirmed(&mut tx, loc, input.frame, rules)?;
        if let Some(other) = tx.already_recorded(&confirmed.detection)? {
            let short = &other[..other.len().min(12)];
            confirmed.to_mut().suppressed_by = Some(Suppression::Duplicate { input: short.to_string() });
        }
        let loc = &confirmed;
        let d = &loc.detection;
        let ticket = match &loc.suppressed_by {
            Some(why) => {
                if why.is_awaiting() {
                    out.awaiting += 1;
                } else if why.is_history() {
                    out.history += 1;
                } else if why.is_duplicate() {
                    out.duplicates += 1;
                } else {
                    out.suppressed += 1;
                }
                None
            }
            None => {
                let anchors = tx.candidates(d, rules.events)?;
                match decide(&anchors, loc, (input.sha256, idx), rules, now) {
                    Decision::Join { id, related } => {
                        tx.join(&id, d)?;
                        tx.relate(&id, &related)?;
                        out.joined.push(id.clone());
                        Some(id)
                    }
                    Decision::Open(mut t) => {
                        t.id = tx.free_id(ticket_ids(input.sha256, idx, d.observed_at))?;
                        tx.open(&t, d)?;
                        out.opened.push(t.id.clone());
                        Some(t.id)
                    }
                }
            }
        };
        tx.detection(idx, d, loc.suppressed_by.as_ref().map(ToString::to_string).as_deref(), ticket.as_deref())?;
    }
    let satellite: Vec<Detection> =
        located.iter().filter(|l| l.detection.source == SourceKind::Satellite).map(|l| l.detection.clone()).collect();
    tx.history(&satellite, cell_deg)?;
    tx.commit()?;
    Ok(out)
}

/// A camera sighting as it stands after confirmation: unchanged when enough frames of its view
/// agree, placed where the bearings cross when a second tower confirms it, or held back
/// (`suppressed_by` "awaiting confirmation …") until one of those happens. Other detections pass
/// unchanged.
fn confirmed<'a>(
    tx: &mut InputTx,
    loc: &'a Located,
    frame: Option<&FrameObservation>,
    rules: &Rules,
) -> Result<Cow<'a, Located>, StoreError> {
    let Some(f) = frame.filter(|_| loc.detection.source == SourceKind::Camera && loc.suppressed_by.is_none()) else {
        return Ok(Cow::Borrowed(loc));
    };
    let mut loc = loc.clone();
    // in a risk window fewer frames confirm a sighting
    let township = loc.place.township.as_ref().map(|t| t.code.as_str()).unwrap_or("");
    let (cfg, windows) = rules.confirm_at(f.captured_at, (loc.detection.lon, loc.detection.lat), township);
    let same_view = tx.same_view(f, &cfg)?;
    let others = if cfg.second_tower { tx.other_towers(f, &cfg)? } else { Vec::new() };
    let verdict = confirm(f, &same_view, &others, &cfg);
    let evidence = &mut loc.detection.evidence;
    if !windows.is_empty() && !evidence.is_object() {
        *evidence = serde_json::json!({});
    }
    if cfg.frames < rules.confirm.frames {
        evidence["confirm_frames_in_window"] = serde_json::json!({ "frames": cfg.frames, "windows": windows });
    }
    match &verdict {
        Confirmation::Frames(n) => evidence["confirmed_by_frames"] = (*n).into(),
        Confirmation::SecondTower { camera, fix } => {
            evidence["confirmed_by_camera"] = camera.clone().into();
            evidence["triangulated"] = serde_json::json!({
                "ellipse_m": [fix.ellipse_m.0.round(), fix.ellipse_m.1.round()],
                "ellipse_azimuth_deg": fix.ellipse_azimuth_deg.round(),
                "single_tower_fix": [loc.detection.lon, loc.detection.lat],
            });
            if let Some(place) = crate::events::better_fix(&loc.detection, fix) {
                (loc.detection.lon, loc.detection.lat, loc.detection.radius_m) = place;
            }
        }
        Confirmation::Pending { .. } => loc.suppressed_by = verdict.pending_reason(),
    }
    Ok(Cow::Owned(loc))
}
