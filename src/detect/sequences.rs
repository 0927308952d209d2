//! Confirmation measured on labelled sequences (`firepoint smoke eval`): frames named like the
//! FIgLib sequences, `<sequence>__<epoch seconds>_<±seconds from ignition>.<ext>`, are grouped
//! per sequence (one camera, one preset, one frame a minute), and the production confirmation
//! rule ([`events::confirm`]) is replayed over them frame by frame, as the batches would have
//! met them. What comes out is what a county needs to choose `confirm.frames` / `of_last`:
//! alarms raised before ignition (false alarms) and minutes from ignition to the first alarm.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::eval::FrameResult;
use crate::domain::FrameObservation;
use crate::events::{confirm, ConfirmConfig, Confirmation};

/// Sequence name, capture time and seconds from ignition, read from a FIgLib-style file name.
pub fn parse_name(file: &std::path::Path) -> Option<(String, DateTime<Utc>, i64)> {
    let stem = file.file_stem()?.to_str()?;
    let (sequence, rest) = stem.split_once("__")?;
    let (epoch, offset) = rest.rsplit_once('_')?;
    let at = DateTime::from_timestamp(epoch.parse().ok()?, 0)?;
    let offset: i64 = offset.strip_prefix('+').unwrap_or(offset).parse().ok()?;
    (!sequence.is_empty()).then(|| (sequence.to_string(), at, offset))
}

/// How one sequence fared under one confirmation rule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SequenceOutcome {
    pub sequence: String,
    pub frames: usize,
    /// Frames before ignition (offset < 0) and how many of them would have raised an alarm.
    pub before_ignition: usize,
    pub false_alarm_frames: usize,
    /// Minutes from ignition to the first flagged frame / the first alarm after ignition.
    pub first_flag_min: Option<f64>,
    pub first_alarm_min: Option<f64>,
}

/// One rule over all sequences.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleSummary {
    pub frames: usize,
    pub of_last: usize,
    pub window_min: i64,
    pub sequences: usize,
    /// Sequences with an alarm after ignition, and the median minutes to it over those.
    pub detected: usize,
    pub median_time_to_alarm_min: Option<f64>,
    /// Pre-ignition frames that raised an alarm, over all sequences, and per hour of watching.
    pub false_alarm_frames: usize,
    pub false_alarms_per_hour: f64,
    pub sequences_with_false_alarm: usize,
}

/// One frame of a sequence: capture time, seconds from ignition, its score.
pub type SeqFrame<'a> = (DateTime<Utc>, i64, &'a FrameResult);

/// The scored frames grouped per sequence, in capture order (frames not named as a sequence
/// are left out).
pub fn group(results: &[FrameResult]) -> BTreeMap<String, Vec<SeqFrame<'_>>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in results {
        if let Some((seq, at, offset)) = parse_name(&r.file) {
            out.entry(seq).or_default().push((at, offset, r));
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|(at, ..)| *at);
    }
    out
}

/// Replays `rule` over one sequence: each flagged frame is confirmed against the earlier frames
/// of the sequence in the rule's window, newest first, exactly as a batch would.
pub fn replay(sequence: &str, frames: &[SeqFrame], rule: &ConfirmConfig) -> SequenceOutcome {
    let observe = |at: DateTime<Utc>, r: &FrameResult| FrameObservation {
        camera_id: sequence.to_string(),
        camera_lon: 0.0,
        camera_lat: 0.0,
        captured_at: at,
        pan_deg: 0.0,
        tilt_deg: 0.0,
        hfov_deg: 0.0,
        score: r.score,
        flagged: r.flagged,
        tile_box: r.tile_box.map(f64::from),
        azimuth_deg: None,
        sigma_deg: 0.0,
        picture: None,
        view_off: None,
    };
    let seen: Vec<FrameObservation> = frames.iter().map(|(at, _, r)| observe(*at, r)).collect();
    let window = chrono::Duration::minutes(rule.window_min);
    let mut out = SequenceOutcome {
        sequence: sequence.to_string(),
        frames: frames.len(),
        before_ignition: frames.iter().filter(|(_, off, _)| *off < 0).count(),
        false_alarm_frames: 0,
        first_flag_min: None,
        first_alarm_min: None,
    };
    for (i, (at, offset, r)) in frames.iter().enumerate() {
        if !r.flagged {
            continue;
        }
        let minutes = *offset as f64 / 60.0;
        if *offset >= 0 && out.first_flag_min.is_none() {
            out.first_flag_min = Some(minutes);
        }
        let earlier: Vec<FrameObservation> =
            seen[..i].iter().rev().take_while(|f| f.captured_at >= *at - window).cloned().collect();
        if !matches!(confirm(&seen[i], &earlier, &[], rule), Confirmation::Frames(_)) {
            continue;
        }
        if *offset < 0 {
            out.false_alarm_frames += 1;
        } else if out.first_alarm_min.is_none() {
            out.first_alarm_min = Some(minutes);
        }
    }
    out
}

/// Replays `rule` over every sequence and sums it up.
pub fn study(results: &[FrameResult], rule: &ConfirmConfig) -> (Vec<SequenceOutcome>, RuleSummary) {
    let outcomes: Vec<SequenceOutcome> = group(results).iter().map(|(seq, frames)| replay(seq, frames, rule)).collect();
    let mut times: Vec<f64> = outcomes.iter().filter_map(|o| o.first_alarm_min).collect();
    times.sort_by(f64::total_cmp);
    let median = match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[n / 2]),
        n => Some((times[n / 2 - 1] + times[n / 2]) / 2.0),
    };
    let false_alarm_frames = outcomes.iter().map(|o| o.false_alarm_frames).sum();
    // one frame a minute: the pre-ignition frames are the minutes watched without a fire
    let hours = outcomes.iter().map(|o| o.before_ignition).sum::<usize>() as f64 / 60.0;
    let summary = RuleSummary {
        frames: rule.frames,
        of_last: rule.of_last,
        window_min: rule.window_min,
        sequences: outcomes.len(),
        detected: times.len(),
        median_time_to_alarm_min: median,
        false_alarm_frames,
        false_alarms_per_hour: if hours > 0.0 { false_alarm_frames as f64 / hours } else { 0.0 },
        sequences_with_false_alarm: outcomes.iter().filter(|o| o.false_alarm_frames > 0).count(),
    };
    (outcomes, summary)
}

/// The rules compared beside the configured one: every flag an alarm, and k of n for small k, n.
pub fn alternatives(configured: &ConfirmConfig) -> Vec<ConfirmConfig> {
    let mut rules = vec![configured.clone()];
    for (frames, of_last) in [(1, 1), (2, 2), (2, 3), (3, 3), (3, 5)] {
        if (frames, of_last) != (configured.frames, configured.of_last) {
            rules.push(ConfirmConfig { frames, of_last, second_tower: false, ..configured.clone() });
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: &str, minute: i64, flagged: bool, x: u32) -> FrameResult {
        let epoch = 1_500_000_000 + minute * 60;
        FrameResult {
            file: format!("d/smoke/{seq}__{epoch}_{:+06}.jpg", minute * 60).into(),
            smoke: minute > 0,
            score: if flagged { 0.9 } else { 0.1 },
            flagged,
            tile_box: [x, 100, x + 100, 200],
            view: None,
        }
    }

    #[test]
    fn parses_figlib_names_and_ignores_others() {
        let (seq, at, off) = parse_name("x/20180718_FIRE_syp-w-mobo-c__1531941229_+00660.jpg".as_ref()).unwrap();
        assert_eq!((seq.as_str(), at.timestamp(), off), ("20180718_FIRE_syp-w-mobo-c", 1531941229, 660));
        assert_eq!(parse_name("a__1531941229_-02400.jpg".as_ref()).unwrap().2, -2400);
        assert!(parse_name("CAM03_20260610T053100Z.jpg".as_ref()).is_none());
        assert!(parse_name("a__x_+1.jpg".as_ref()).is_none());
    }

    #[test]
    fn k_of_n_trades_false_alarms_for_delay() {
        // one lone flag before ignition; from minute 2 on every frame flags the same place,
        // except a lone flag elsewhere in the view at minute 1
        let mut fs = vec![frame("s", -5, false, 0), frame("s", -4, true, 0), frame("s", -3, false, 0)];
        fs.push(frame("s", 1, true, 900));
        for m in 2..6 {
            fs.push(frame("s", m, true, 0));
        }
        let every = ConfirmConfig { frames: 1, of_last: 1, ..ConfirmConfig::default() };
        let (o, s) = study(&fs, &every);
        assert_eq!((o[0].false_alarm_frames, o[0].first_alarm_min, o[0].first_flag_min), (1, Some(1.0), Some(1.0)));
        assert_eq!((s.detected, s.sequences_with_false_alarm), (1, 1));
        let two_of_three = ConfirmConfig { frames: 2, of_last: 3, ..ConfirmConfig::default() };
        let (o, s) = study(&fs, &two_of_three);
        // minute 1's tile is elsewhere: the alarm waits for minute 3 (minutes 2 and 3 agree)
        assert_eq!((o[0].false_alarm_frames, o[0].first_alarm_min), (0, Some(3.0)));
        assert_eq!((s.median_time_to_alarm_min, s.false_alarm_frames), (Some(3.0), 0));
        // 3 pre-ignition minutes watched
        assert_eq!(o[0].before_ignition, 3);
    }

    #[test]
    fn the_window_bounds_which_earlier_frames_count() {
        // two flags 20 minutes apart never confirm each other in a 10-minute window
        let fs = [frame("s", 1, true, 0), frame("s", 21, true, 0)];
        let rule = ConfirmConfig { frames: 2, of_last: 3, window_min: 10, ..ConfirmConfig::default() };
        let (o, s) = study(&fs, &rule);
        assert_eq!((o[0].first_alarm_min, s.detected, s.median_time_to_alarm_min), (None, 0, None));
    }
}
