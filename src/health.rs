//! Tower health (issue 20), as pure rules over the frames a tower sent: a tower that stopped
//! sending while the others go on is offline; one that sends the same picture frame after frame
//! (a frozen encoder or recorder: the middle of the frame identical pixel for pixel, which a live
//! sensor never is) is frozen. Also each tower's online rate (在线率) over a window: the share of
//! its slots with a live frame. The batch applies the verdicts (`store::health` keeps the
//! notices, the sender tells the county office); nothing here touches the store.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// What is wrong with a tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trouble {
    /// No frame for `camera.stale_after_min` while other towers sent theirs.
    Offline,
    /// `camera.frozen_frames` frames in a row with the same picture.
    Frozen,
    /// `camera.frozen_frames` frames in a row whose view differs from its own history as a
    /// whole: turned off its preset, covered, or out of focus (`detect::view::view_off`).
    ViewChanged,
}

crate::domain::str_enum!(Trouble { Offline => "offline", Frozen => "frozen", ViewChanged => "view_changed" });

impl Trouble {
    /// As the county office reads it.
    pub fn chinese(self) -> &'static str {
        match self {
            Trouble::Offline => "离线",
            Trouble::Frozen => "画面冻结",
            Trouble::ViewChanged => "画面异常（移位、遮挡或失焦）",
        }
    }
}

/// One frame a tower sent: when, and its picture hash ([`picture_hash`]; none for a frame that
/// was not decoded).
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub at: DateTime<Utc>,
    pub picture: Option<String>,
    /// How its view differed from the view's history as a whole, if it did.
    pub view_off: Option<String>,
}

/// A hash of the middle half of the frame's rows, pixel for pixel. Captions and timestamps
/// burned into the top or bottom change every frame of a frozen feed; the middle does not. A
/// live sensor's noise changes it every frame.
pub fn picture_hash(img: &image::RgbImage) -> String {
    let (w, h) = img.dimensions();
    let (from, to) = ((h / 4) as usize, (h - h / 4) as usize);
    let row = w as usize * 3;
    let bytes = &img.as_raw()[from * row..to * row];
    Sha256::digest(bytes).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// What is wrong with a tower whose frames (oldest first) are `frames`, at `clock` (the newest
/// frame any tower sent): the trouble and since when; `None` for a healthy tower or one that
/// never sent a frame.
pub fn judge(
    frames: &[Seen],
    clock: DateTime<Utc>,
    stale_after: Duration,
    frozen_frames: usize,
) -> Option<(Trouble, DateTime<Utc>)> {
    let last = frames.last()?;
    if clock - last.at > stale_after {
        return Some((Trouble::Offline, last.at));
    }
    let need = frozen_frames.max(2);
    if let Some(picture) = &last.picture {
        let run: Vec<&Seen> = frames.iter().rev().take_while(|f| f.picture.as_ref() == Some(picture)).collect();
        let first = run.last().expect("the last frame is in its own run");
        if run.len() >= need && first.at < last.at {
            return Some((Trouble::Frozen, first.at));
        }
    }
    let off: Vec<&Seen> = frames.iter().rev().take_while(|f| f.view_off.is_some()).collect();
    (off.len() >= need).then(|| (Trouble::ViewChanged, off.last().expect("a run of at least two").at))
}

/// A tower's online slots and all slots of `slot` between `from` and `to`: a slot is online when
/// the tower sent a live frame in it (one whose picture differs from the frame before it).
pub fn online(frames: &[Seen], from: DateTime<Utc>, to: DateTime<Utc>, slot: Duration) -> (i64, i64) {
    let (live, slots) = live_slots(frames, from, to, slot);
    (live.len() as i64, slots)
}

/// The slots (numbered from `from`) with a live frame, and how many slots there are.
fn live_slots(
    frames: &[Seen],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slot: Duration,
) -> (std::collections::BTreeSet<i64>, i64) {
    let secs = slot.num_seconds().max(1);
    let slots = ((to - from).num_seconds() + secs - 1).max(0) / secs;
    let mut live = std::collections::BTreeSet::new();
    let mut before: Option<&Option<String>> = None;
    for f in frames {
        let repeat = before.is_some_and(|p| p.is_some() && *p == f.picture);
        before = Some(&f.picture);
        if !repeat && f.at >= from && f.at < to {
            live.insert((f.at - from).num_seconds() / secs);
        }
    }
    (live, slots)
}

/// One tower's online rate over a report's window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rate {
    pub camera_id: String,
    pub online_slots: i64,
    pub slots: i64,
    /// Hours of the window without a live frame (blind hours, 盲区时长).
    pub blind_hours: f64,
    /// The same by night (the sun below the horizon at the tower): online and all night slots.
    pub night: (i64, i64),
}

impl Rate {
    /// The online rate (在线率), 0..1 (1 for an empty window).
    pub fn rate(&self) -> f64 {
        share(self.online_slots, self.slots)
    }

    /// The online rates by day and by night.
    pub fn day_night(&self) -> (f64, f64) {
        (share(self.online_slots - self.night.0, self.slots - self.night.1), share(self.night.0, self.night.1))
    }

    /// Fails at night only: online by day (90 % or more) but 30 points less by night.
    pub fn night_only(&self) -> bool {
        let (day, night) = self.day_night();
        self.night.1 > 0 && self.slots > self.night.1 && day >= 0.9 && night <= day - 0.3
    }
}

fn share(a: i64, n: i64) -> f64 {
    if n <= 0 {
        1.0
    } else {
        a as f64 / n as f64
    }
}

/// The online rate of every tower in `towers` over [from, to), clipped to when the network was
/// heard from at all in it (the first to the last frame of any tower: a report of a day still
/// going, or of a replayed day, does not count hours nobody could have sent a frame in).
pub fn rates(
    frames: &std::collections::BTreeMap<String, Vec<Seen>>,
    towers: &[(String, f64, f64)],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    slot: Duration,
) -> Vec<Rate> {
    let heard = frames.values().flatten().map(|f| f.at).filter(|t| *t >= from && *t < to);
    let (first, last) = heard.fold((None, None), |(a, b): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), t| {
        (Some(a.map_or(t, |a| a.min(t))), Some(b.map_or(t, |b| b.max(t))))
    });
    let window = match (first, last) {
        (Some(a), Some(b)) => (a, b + slot),
        _ => (from, from),
    };
    towers
        .iter()
        .map(|(camera, lon, lat)| {
            let seen = frames.get(camera).map_or(&[][..], Vec::as_slice);
            let (live, slots) = live_slots(seen, window.0, window.1, slot);
            let online_slots = live.len() as i64;
            let blind_hours = ((slots - online_slots) * slot.num_minutes()) as f64 / 60.0;
            // a slot is night when the sun is below the horizon at its middle, at the tower
            let night_slot =
                |i: i64| crate::time::solar_zenith_deg(window.0 + slot * i as i32 + slot / 2, *lon, *lat) > 90.0;
            let nights: Vec<i64> = (0..slots).filter(|&i| night_slot(i)).collect();
            let night = (nights.iter().filter(|i| live.contains(i)).count() as i64, nights.len() as i64);
            Rate { camera_id: camera.clone(), online_slots, slots, blind_hours, night }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 10, 0, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn seen(min: i64, p: &str) -> Seen {
        Seen { at: at(min), picture: Some(p.into()), view_off: None }
    }

    #[test]
    fn r20_a_silent_tower_is_offline_since_its_last_frame_and_a_repeating_one_frozen() {
        let stale = Duration::minutes(15);
        let live: Vec<Seen> = (0..10).map(|m| seen(m * 10, &format!("p{m}"))).collect();
        assert_eq!(judge(&live, at(90), stale, 3), None);
        assert_eq!(judge(&live, at(105), stale, 3), None, "not late at the limit itself");
        assert_eq!(judge(&live, at(106), stale, 3), Some((Trouble::Offline, at(90))));
        let mut frozen = live[..5].to_vec();
        frozen.extend((5..8).map(|m| seen(m * 10, "same")));
        assert_eq!(judge(&frozen, at(70), stale, 3), Some((Trouble::Frozen, at(50))));
        assert_eq!(judge(&frozen[..7], at(60), stale, 3), None, "two repeats are not yet frozen");
        assert_eq!(judge(&[], at(0), stale, 3), None, "a tower never heard from has no verdict");
        let mut moved = live.clone();
        for f in &mut moved[7..] {
            f.view_off = Some("moved".into());
        }
        assert_eq!(judge(&moved, at(90), stale, 3), Some((Trouble::ViewChanged, at(70))));
        assert_eq!(judge(&moved[..9], at(80), stale, 3), None, "two frames off are not yet a changed view");
    }

    #[test]
    fn r20_the_online_rate_counts_slots_with_a_live_frame() {
        let mut frames: Vec<Seen> = (0..6).map(|m| seen(m * 10, &format!("p{m}"))).collect(); // 0..50
        frames.extend((6..12).map(|m| seen(m * 10, "stuck"))); // 60 live, 70..110 repeats
        assert_eq!(online(&frames, at(0), at(120), Duration::minutes(10)), (7, 12));
        assert_eq!(online(&frames, at(0), at(240), Duration::minutes(10)), (7, 24));
        assert_eq!(online(&[], at(0), at(60), Duration::minutes(10)), (0, 6));
    }

    #[test]
    fn r20_a_tower_that_fails_only_at_night_is_told_apart() {
        // a day at a tower near Beijing (UTC 00:00 is 08:00 there): frames every 10 minutes,
        // none while the sun is down
        let (lon, lat) = (116.4, 39.9);
        let frames: Vec<Seen> = (0..144)
            .map(|i| at(i * 10))
            .filter(|t| crate::time::solar_zenith_deg(*t + Duration::minutes(5), lon, lat) <= 90.0)
            .enumerate()
            .map(|(i, t)| Seen { at: t, picture: Some(format!("p{i}")), view_off: None })
            .collect();
        let mut all = std::collections::BTreeMap::new();
        all.insert("T".to_string(), frames);
        // the network was heard all day (another tower sent the first and last slots)
        all.insert("U".to_string(), vec![seen(0, "a"), seen(1430, "b")]);
        let towers = [("T".to_string(), lon, lat)];
        let r = &rates(&all, &towers, (at(0), at(1440)), Duration::minutes(10))[0];
        let (day, night) = r.day_night();
        assert!(day > 0.99 && night == 0.0, "{r:?}");
        assert!(r.night.1 > 40 && r.night_only(), "{r:?}");
    }

    #[test]
    fn r20_a_caption_does_not_change_the_picture_hash_but_sensor_noise_does() {
        let mut a = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
        let base = picture_hash(&a);
        for x in 0..64 {
            a.put_pixel(x, 2, image::Rgb([255, 255, 255])); // a timestamp in the top band
        }
        assert_eq!(picture_hash(&a), base);
        a.put_pixel(30, 24, image::Rgb([1, 2, 3])); // one pixel of the middle
        assert_ne!(picture_hash(&a), base);
    }
}
