//! What is new in a camera's view (issue 19). A tower watches the same views all day: a view is
//! one camera preset (camera, pan, tilt and field of view within the confirmation tolerances), and
//! its memory holds, for each tile of the frame, its single-frame smoke logits over the view's
//! last frames (and, for a rule that uses the change head, its keys). [`judge`] decides a frame
//! against that memory; [`ViewMemory::remember`] adds the frame to it.
//!
//! The rule (the training script's `Rule`, which chose its numbers on the validation events):
//! - the first `warm_frames` frames of a view (nothing earlier to compare with) take the
//!   single-frame path: the best placed tile at the strict threshold (a fire that starts then is
//!   still seen, never silence);
//! - after that a placed tile counts when its logit has risen at least `rise` above its baseline,
//!   the `baseline_percentile` of the same tile's logits over the view's last `baseline_frames`
//!   frames, and is itself at least `min_logit`. A place that always looks like smoke (a
//!   chimney, a bright slope, a burned-in caption) has a high baseline and never rises; a plume
//!   that appears rises where it appears. Confirmation (`events::confirm`) then wants the next
//!   frames to flag the same place (the same or a neighbouring tile): a cloud moves its place.
//! - with `change_threshold` set, the change head ([`Head`]: the tile now against the mean key
//!   of its last `ref_frames` frames) must reach it too. The shipped model's card says why it is
//!   not set.
//!
//! Pure: it reads no store and runs no model. The batch's recorder, which takes inputs in order
//! in a batch and among workers alike, loads a view's memory, judges the frame and saves the
//! memory in the frame's own transaction: a crash leaves the memory of the last recorded frame,
//! and a rerun judges the rest exactly as an uninterrupted batch would.

use std::collections::VecDeque;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::smoke::TileScore;

/// What a view model gives a frame beside its tile probabilities: per tile, in the tiles'
/// order, its key for the view's memory and its own side of the change head, `k` values each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewOutputs {
    pub k: usize,
    pub key: Vec<f32>,
    pub now: Vec<f32>,
}

impl ViewOutputs {
    fn now(&self, tile: usize) -> &[f32] {
        &self.now[tile * self.k..(tile + 1) * self.k]
    }
}

/// The change head: `sigmoid(w2 · relu(W1 · relu(now + ref) + b1) + b2)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Head {
    pub w1: Vec<Vec<f32>>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

impl Head {
    /// Whether the weights fit keys of width `k`.
    fn check(&self, k: usize) -> Result<(), String> {
        let hidden = self.b1.len();
        if hidden == 0 || self.w1.len() != hidden || self.w2.len() != hidden || self.b2.len() != 1 {
            return Err(format!(
                "view.head: w1 has {} rows, b1 {}, w2 {}, b2 {} values (expected equal, and b2 one)",
                self.w1.len(),
                hidden,
                self.w2.len(),
                self.b2.len()
            ));
        }
        if let Some(row) = self.w1.iter().find(|r| r.len() != k) {
            return Err(format!("view.head: a w1 row has {} values, not key_width = {k}", row.len()));
        }
        let finite = self.w1.iter().flatten().chain(&self.b1).chain(&self.w2).chain(&self.b2).all(|v| v.is_finite());
        finite.then_some(()).ok_or_else(|| "view.head: a weight is not a number".into())
    }

    /// The probability that a tile shows smoke its reference did not.
    pub fn prob(&self, now: &[f32], reference: &[f32]) -> f32 {
        let z: Vec<f32> = now.iter().zip(reference).map(|(a, b)| (a + b).max(0.0)).collect();
        let logit = self.w1.iter().zip(&self.b1).zip(&self.w2).fold(self.b2[0], |acc, ((row, b), w)| {
            let h = row.iter().zip(&z).map(|(w, z)| w * z).sum::<f32>() + b;
            acc + w * h.max(0.0)
        });
        1.0 / (1.0 + (-logit).exp())
    }
}

/// The rule, and the change head, as the model's metrics file (`view`) states them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ViewModel {
    pub key_width: usize,
    pub ref_frames: usize,
    pub warm_frames: usize,
    pub baseline_frames: usize,
    /// The percentile of a tile's logits over its history that is its baseline.
    pub baseline_percentile: f32,
    /// How far (logit units) a tile must rise above its baseline.
    pub rise: f32,
    /// The least logit a tile that counts may have.
    pub min_logit: f32,
    /// The change head's probability a tile must also reach; none: the head is not used.
    pub change_threshold: Option<f32>,
    /// The single-frame threshold of a view that is warming up (the model's `threshold`).
    pub warm_threshold: f32,
    pub head: Head,
}

impl ViewModel {
    /// Checks shapes and ranges (the metrics file is outside data).
    pub fn check(&self) -> Result<(), String> {
        if self.key_width == 0 || self.key_width > 4096 || self.ref_frames == 0 || self.ref_frames > 64 {
            return Err(format!("view: key_width {} / ref_frames {} out of range", self.key_width, self.ref_frames));
        }
        if self.baseline_frames == 0 || self.baseline_frames > 1000 || self.warm_frames > 1000 {
            return Err("view: baseline_frames must be 1..=1000 and warm_frames at most 1000".into());
        }
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        if !unit(self.warm_threshold) || !self.change_threshold.is_none_or(unit) {
            return Err("view: warm_threshold and change_threshold must be between 0 and 1".into());
        }
        let logit = |v: f32| v.is_finite() && v.abs() <= 40.0;
        if !logit(self.rise) || !logit(self.min_logit) || !(0.0..=100.0).contains(&self.baseline_percentile) {
            return Err("view: rise and min_logit must be logits (|x| <= 40), baseline_percentile 0..100".into());
        }
        self.head.check(self.key_width)
    }
}

/// A tile's logit as recovered from the model's float32 probability (clamped to 1e-7 ..
/// 1 - 1e-7: a saturated tile reads about ±16), as the training script recovers it.
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    p.ln() - (-p).ln_1p()
}

/// A small grey picture of a frame (luma, `THUMB_W` wide): what the view's background is kept
/// as and compared with, to find where a flagged tile's change begins (the plume's base).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thumb {
    pub width: u32,
    pub height: u32,
    /// Luma, row by row (base64 in JSON).
    #[serde(with = "b64")]
    pub luma: Vec<u8>,
}

/// Width of a [`Thumb`], pixels (a 1920-wide frame: 7.5 px each).
pub const THUMB_W: u32 = 256;

impl Thumb {
    /// The thumbnail of an RGB frame (box-filtered to `THUMB_W` wide).
    pub fn of(frame: &image::RgbImage) -> Thumb {
        let (w, h) = frame.dimensions();
        let th = ((h as f64 * THUMB_W as f64 / w.max(1) as f64).round() as u32).clamp(1, 4 * THUMB_W);
        let grey = image::imageops::grayscale(frame);
        let small = image::imageops::resize(&grey, THUMB_W, th, image::imageops::FilterType::Triangle);
        Thumb { width: THUMB_W, height: th, luma: small.into_raw() }
    }

    fn at(&self, x: u32, y: u32) -> u8 {
        self.luma[(y * self.width + x) as usize]
    }
}

mod b64 {
    use base64::Engine;
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Where the change in tile `bbox` (fractions of the frame) begins, as frame fractions (x, y):
/// the pixels of `now` that differ from the view's `background` by more than the frame's own
/// noise, followed from the tile down (a plume hangs from its base; the base may lie in the tile
/// below), and the lowest row they reach, at the mean column of their last rows. `None` when
/// nothing in the tile differs from the background, or the two do not match in size.
pub fn change_base(now: &Thumb, background: &Thumb, bbox: [f64; 4]) -> Option<(f64, f64)> {
    if (now.width, now.height) != (background.width, background.height) || now.luma.is_empty() {
        return None;
    }
    let (w, h) = (now.width, now.height);
    let mut diffs: Vec<u8> = now.luma.iter().zip(&background.luma).map(|(a, b)| a.abs_diff(*b)).collect();
    let noise = {
        let mid = diffs.len() / 2;
        *diffs.select_nth_unstable(mid).1
    };
    let limit = (3 * noise as i32).max(8);
    let changed = |x: u32, y: u32| (now.at(x, y) as i32 - background.at(x, y) as i32).abs() > limit;
    let px = |f: f64, n: u32| ((f * n as f64).round() as u32).min(n);
    let (x0, x1) = (px(bbox[0], w), px(bbox[2], w).max(px(bbox[0], w) + 1).min(w));
    let (y0, y1) = (px(bbox[1], h), px(bbox[3], h));
    let reach = (y1 + (y1 - y0)).min(h); // one tile below the tile
    let count = |y: u32, (a, b): (u32, u32)| (a..b).filter(|&x| changed(x, y)).count();
    let need = ((x1 - x0) as usize / 50).max(2);
    // the tile must hold a change at all
    let first = (y0..y1.min(h)).find(|&y| count(y, (x0, x1)) >= need)?;
    // the columns it spans (and a little either side): the plume's, not the whole tile's
    let in_tile: Vec<u32> = (first..y1.min(h)).flat_map(|y| (x0..x1).filter(move |&x| changed(x, y))).collect();
    let span = (
        in_tile.iter().min().map_or(x0, |&a| a.saturating_sub(3)),
        in_tile.iter().max().map_or(x1, |&b| (b + 4).min(w)),
    );
    // then the lowest change below it in those columns, down to a tile below the tile: a plume
    // narrows to its base (a pixel a row is enough there, in two rows running, so that lone noise
    // is not a base) and may vanish against bright haze above the horizon on its way down
    let last = (first + 1..reach).rev().find(|&y| count(y, span) >= 1 && count(y - 1, span) >= 1).unwrap_or(first);
    let cols: Vec<u32> =
        (last.saturating_sub(2)..=last).flat_map(|y| (span.0..span.1).filter(move |&x| changed(x, y))).collect();
    let cx = cols.iter().map(|&x| x as f64 + 0.5).sum::<f64>() / cols.len().max(1) as f64;
    Some((cx / w as f64, (last as f64 + 1.0) / h as f64))
}

/// How a frame's view differs from its own history as a whole (not a plume in a part of it):
/// the tower was turned off its preset, its lens was covered, or it lost its focus (or a dirty
/// lens or dense fog took the detail away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewOff {
    Moved,
    Blocked,
    Blurred,
}

impl ViewOff {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewOff::Moved => "moved",
            ViewOff::Blocked => "blocked",
            ViewOff::Blurred => "blurred",
        }
    }
}

/// Frames a view must have been seen in before its background is trusted for [`view_off`].
pub const VIEW_OFF_AFTER: u64 = 10;

/// Whether `now` shows another view than `background` (the view's running median): covered
/// (almost no structure where the background has plenty), out of focus (a quarter of the
/// background's edge strength or less), or moved (more than half of the picture differs by more
/// than 40 levels once the frame's overall brightness change is taken out: light changes through
/// the day move the whole picture together, a turned camera does not).
pub fn view_off(now: &Thumb, background: &Thumb) -> Option<ViewOff> {
    if (now.width, now.height) != (background.width, background.height) || now.luma.len() < 64 {
        return None;
    }
    let spread = |t: &Thumb| {
        let n = t.luma.len() as f64;
        let mean = t.luma.iter().map(|&v| v as f64).sum::<f64>() / n;
        (t.luma.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
    };
    let edges = |t: &Thumb| {
        let (w, h) = (t.width as usize, t.height as usize);
        let mut sum = 0u64;
        for y in 0..h - 1 {
            for x in 0..w - 1 {
                let v = t.luma[y * w + x] as i32;
                sum += (v - t.luma[y * w + x + 1] as i32).unsigned_abs() as u64;
                sum += (v - t.luma[(y + 1) * w + x] as i32).unsigned_abs() as u64;
            }
        }
        sum as f64 / ((w - 1) * (h - 1)) as f64
    };
    let (bg_spread, bg_edges) = (spread(background), edges(background));
    if spread(now) < 6.0 && bg_spread > 15.0 {
        return Some(ViewOff::Blocked);
    }
    if bg_edges > 4.0 && edges(now) < 0.25 * bg_edges {
        return Some(ViewOff::Blurred);
    }
    let mut diffs: Vec<i16> = now.luma.iter().zip(&background.luma).map(|(a, b)| *a as i16 - *b as i16).collect();
    let mid = diffs.len() / 2;
    let shift = *diffs.select_nth_unstable(mid).1;
    let off = diffs.iter().filter(|d| (**d - shift).abs() > 40).count();
    (off * 2 > diffs.len()).then_some(ViewOff::Moved)
}

/// One camera preset's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewMemory {
    pub camera_id: String,
    pub pan_deg: f64,
    pub tilt_deg: f64,
    pub hfov_deg: f64,
    /// Tiles per frame (a new frame size starts the memory afresh).
    pub tiles: usize,
    pub k: usize,
    /// Frames remembered since the view was first seen.
    pub frames: u64,
    /// The newest frame remembered.
    pub last_at: Option<DateTime<Utc>>,
    /// Keys of the last frames, oldest first, `tiles × k` each.
    keys: VecDeque<Vec<f32>>,
    /// Single-frame logits of the last frames, oldest first, `tiles` each.
    logits: VecDeque<Vec<f32>>,
    /// The view's background: a running median of its frames' thumbnails (each frame moves it
    /// at most `BACKGROUND_STEP` levels a pixel, so a plume stays "changed" for many frames).
    pub background: Option<Thumb>,
}

/// How far one frame moves the background, luma levels a pixel.
const BACKGROUND_STEP: i16 = 3;

/// How a frame was judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The frame's score as the rule sees it: the single-frame probability while the view warms
    /// up, else the best change probability of a tile that rose above its baseline.
    pub score: f32,
    /// The tile (index into the frame's tiles) that makes it a sighting, if any.
    pub tile: Option<usize>,
    pub warm_up: bool,
    /// What the rule saw, for the evidence and the store.
    pub why: String,
}

impl ViewMemory {
    pub fn new(camera_id: &str, pan_deg: f64, tilt_deg: f64, hfov_deg: f64) -> ViewMemory {
        ViewMemory {
            camera_id: camera_id.into(),
            pan_deg,
            tilt_deg,
            hfov_deg,
            tiles: 0,
            k: 0,
            frames: 0,
            last_at: None,
            keys: VecDeque::new(),
            logits: VecDeque::new(),
            background: None,
        }
    }

    /// Earlier frames of the same tiling remembered (at most `baseline_frames`).
    pub fn depth(&self) -> usize {
        self.logits.len()
    }

    fn fits(&self, tiles: usize) -> bool {
        self.tiles == tiles
    }

    /// Adds a judged frame: its tiles' logits, and their keys when the rule uses the change
    /// head. A frame older than the newest remembered (a late upload) is judged but not
    /// remembered, so the memory only moves forward in time.
    pub fn remember(
        &mut self,
        tiles: &[TileScore],
        out: &ViewOutputs,
        thumb: Option<&Thumb>,
        at: DateTime<Utc>,
        model: &ViewModel,
    ) {
        if self.last_at.is_some_and(|last| at < last) {
            return;
        }
        if let Some(t) = thumb {
            match &mut self.background {
                Some(bg) if (bg.width, bg.height) == (t.width, t.height) => {
                    for (b, n) in bg.luma.iter_mut().zip(&t.luma) {
                        let d = (*n as i16 - *b as i16).clamp(-BACKGROUND_STEP, BACKGROUND_STEP);
                        *b = (*b as i16 + d) as u8;
                    }
                }
                _ => self.background = Some(t.clone()),
            }
        }
        if !self.fits(tiles.len()) || (model.change_threshold.is_some() && self.k != out.k) {
            (self.tiles, self.k) = (tiles.len(), if model.change_threshold.is_some() { out.k } else { 0 });
            self.keys.clear();
            self.logits.clear();
        }
        self.logits.push_back(tiles.iter().map(|t| logit(t.prob)).collect());
        if model.change_threshold.is_some() {
            self.keys.push_back(out.key.clone());
        }
        while self.keys.len() > model.ref_frames {
            self.keys.pop_front();
        }
        while self.logits.len() > model.baseline_frames {
            self.logits.pop_front();
        }
        self.frames += 1;
        self.last_at = Some(at);
    }

    /// The mean key of `tile` over the remembered frames.
    fn reference(&self, tile: usize) -> Vec<f32> {
        let k = self.k;
        let mut sum = vec![0f32; k];
        for frame in &self.keys {
            sum.iter_mut().zip(&frame[tile * k..(tile + 1) * k]).for_each(|(s, v)| *s += v);
        }
        let n = self.keys.len().max(1) as f32;
        sum.iter_mut().for_each(|s| *s /= n);
        sum
    }

    /// The `pct` percentile of `tile`'s remembered logits (linear between ranks, as numpy).
    fn baseline(&self, tile: usize, pct: f32) -> f32 {
        let mut v: Vec<f32> = self.logits.iter().map(|p| p[tile]).collect();
        if v.is_empty() {
            return f32::INFINITY;
        }
        v.sort_by(f32::total_cmp);
        let pos = pct / 100.0 * (v.len() - 1) as f32;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f32)
    }

    /// The memory as text for the store: base64 of a small binary (version 4: tiles, k, the
    /// frames of keys and of logits as f16, oldest first, then the background thumbnail's width,
    /// height and luma; 0 × 0 for none).
    pub fn to_text(&self) -> String {
        let mut b =
            Vec::with_capacity(9 + 2 * (self.keys.len() * self.tiles * self.k + self.logits.len() * self.tiles));
        b.push(4u8);
        b.extend((self.tiles as u16).to_le_bytes());
        b.extend((self.k as u16).to_le_bytes());
        b.extend((self.keys.len() as u16).to_le_bytes());
        b.extend((self.logits.len() as u16).to_le_bytes());
        for v in self.keys.iter().flatten().chain(self.logits.iter().flatten()) {
            b.extend(half::f16::from_f32(*v).to_le_bytes());
        }
        let (bw, bh, luma) = self.background.as_ref().map_or((0, 0, &[][..]), |t| (t.width, t.height, &t.luma[..]));
        b.extend((bw as u16).to_le_bytes());
        b.extend((bh as u16).to_le_bytes());
        b.extend(luma);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// Reads [`ViewMemory::to_text`] back into this view's memory; anything that does not
    /// parse is an error (the caller starts the view afresh and says so).
    pub fn read_text(&mut self, text: &str) -> Result<(), String> {
        let b =
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| format!("not base64: {e}"))?;
        if b.len() < 13 || b[0] != 4 {
            return Err("not a view memory of version 4".into());
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]) as usize;
        let (tiles, k, nk, np) = (u16_at(1), u16_at(3), u16_at(5), u16_at(7));
        let floats = 9 + 2 * (nk * tiles * k + np * tiles);
        if b.len() < floats + 4 {
            return Err(format!(
                "{} bytes where {tiles} tiles, key width {k}, {nk} + {np} frames take {floats}",
                b.len()
            ));
        }
        let (bw, bh) = (u16_at(floats), u16_at(floats + 2));
        if b.len() != floats + 4 + bw * bh {
            return Err(format!("{} bytes where a {bw} × {bh} background needs {}", b.len(), floats + 4 + bw * bh));
        }
        self.background =
            (bw * bh > 0).then(|| Thumb { width: bw as u32, height: bh as u32, luma: b[floats + 4..].to_vec() });
        let mut values = b[9..floats].chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32());
        let mut take = |n: usize| -> Vec<f32> { values.by_ref().take(n).collect() };
        self.keys = (0..nk).map(|_| take(tiles * k)).collect();
        self.logits = (0..np).map(|_| take(tiles)).collect();
        (self.tiles, self.k) = (tiles, k);
        Ok(())
    }
}

/// Judges one frame (its tiles, in the model's order, and the view model's outputs) against its
/// view's memory as it stood before the frame.
pub fn judge(
    mem: &ViewMemory,
    tiles: &[TileScore],
    out: &ViewOutputs,
    model: &ViewModel,
    warm_threshold: f32,
) -> Verdict {
    let history = if mem.fits(tiles.len()) { mem.depth() } else { 0 };
    if history < model.warm_frames.max(1) {
        return warm_up(tiles, history, model.warm_frames.max(1), warm_threshold);
    }
    // per placed tile: how far it clears both bars (≥ 0: it counts), its logit and baseline
    let mut best: Option<(usize, f32, f32, f32)> = None;
    for (i, t) in tiles.iter().enumerate().filter(|(_, t)| !t.whole) {
        let (lg, base) = (logit(t.prob), mem.baseline(i, model.baseline_percentile));
        let mut margin = (lg - base - model.rise).min(lg - model.min_logit);
        if let (Some(thr), true) = (model.change_threshold, mem.k == out.k && !mem.keys.is_empty()) {
            if model.head.prob(out.now(i), &mem.reference(i)) < thr {
                margin = margin.min(-1.0);
            }
        }
        if best.is_none_or(|b| margin > b.1) {
            best = Some((i, margin, lg, base));
        }
    }
    let Some((i, margin, lg, base)) = best else {
        return Verdict { score: 0.0, tile: None, warm_up: false, why: "no placed tile".into() };
    };
    Verdict {
        score: 1.0 / (1.0 + (-margin).exp()),
        tile: (margin >= 0.0).then_some(i),
        warm_up: false,
        why: format!(
            "{} in view: tile {i} logit {lg:.2}, {:.2} above its baseline {base:.2} over {history} frames (needs \
             {:.2} above and at least {:.2})",
            if margin >= 0.0 { "new" } else { "nothing new" },
            lg - base,
            model.rise,
            model.min_logit
        ),
    }
}

/// The single-frame path of a view that is warming up: its best placed tile at the strict
/// threshold (the whole-frame tile places nothing, so it does not count here either).
fn warm_up(tiles: &[TileScore], history: usize, warm: usize, threshold: f32) -> Verdict {
    let placed = tiles.iter().enumerate().filter(|(_, t)| !t.whole).max_by(|a, b| a.1.prob.total_cmp(&b.1.prob));
    let best = placed.or(tiles.iter().enumerate().next());
    let score = best.map_or(0.0, |(_, t)| t.prob);
    Verdict {
        score,
        tile: best.map(|(i, _)| i).filter(|_| score >= threshold),
        warm_up: true,
        why: format!(
            "view warming up ({history} of {warm} frames seen): single-frame smoke {score:.3} (strict threshold {threshold:.3})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scene of fields (laid out by `fields`) and a horizon, structured as a tower's view is,
    /// with sensor noise of `noise` levels drawn from `seed`.
    fn scene(fields: u32, seed: u32, noise: u32) -> Thumb {
        let (w, h) = (THUMB_W, 144);
        let mut luma = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let field = (x / 23 * 7 + y / 17 * 13 + fields * 3) % 5;
                let base = if y < 60 { 190 - y } else { 60 + field * 30 };
                let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(97)) % (noise + 1);
                luma.push((base + n).min(255) as u8);
            }
        }
        Thumb { width: w, height: h, luma }
    }

    #[test]
    fn r20_a_view_turned_covered_or_blurred_differs_from_its_history_but_light_and_noise_do_not() {
        let bg = scene(1, 0, 0);
        assert_eq!(view_off(&scene(1, 2, 4), &bg), None, "sensor noise");
        let mut brighter = scene(1, 3, 4);
        brighter.luma.iter_mut().for_each(|v| *v = v.saturating_add(45));
        assert_eq!(view_off(&brighter, &bg), None, "the day's light moves the whole picture together");
        let mut plume = scene(1, 4, 4);
        for y in 40..90 {
            for x in 100..140 {
                plume.luma[(y * THUMB_W + x) as usize] = 230;
            }
        }
        assert_eq!(view_off(&plume, &bg), None, "a plume is a part of the view");
        assert_eq!(view_off(&scene(2, 5, 4), &bg), Some(ViewOff::Moved), "other fields: turned off its preset");
        let covered = Thumb { luma: vec![30; bg.luma.len()], ..bg.clone() };
        assert_eq!(view_off(&covered, &bg), Some(ViewOff::Blocked));
        let blurred = {
            let img = image::GrayImage::from_raw(bg.width, bg.height, bg.luma.clone()).unwrap();
            let b = image::imageops::blur(&img, 12.0);
            Thumb { luma: b.into_raw(), ..bg.clone() }
        };
        assert_eq!(view_off(&blurred, &bg), Some(ViewOff::Blurred));
    }

    fn model(k: usize) -> ViewModel {
        ViewModel {
            key_width: k,
            ref_frames: 3,
            warm_frames: 1,
            baseline_frames: 4,
            baseline_percentile: 75.0,
            rise: 1.0,
            min_logit: 0.0,
            change_threshold: None,
            warm_threshold: 0.95,
            // a head that answers "new" when a tile's value rose since the earlier frames:
            // `now` carries the value x, its key -x, so the head sees x - mean(earlier x)
            head: Head { w1: vec![vec![10.0; k]], b1: vec![-1.0], w2: vec![1.0], b2: vec![0.0] },
        }
    }

    fn sig(l: f32) -> f32 {
        1.0 / (1.0 + (-l).exp())
    }

    /// Tiles with these logits, the last one the whole frame.
    fn tiles(logits: &[f32]) -> Vec<TileScore> {
        let n = logits.len();
        logits
            .iter()
            .enumerate()
            .map(|(i, &l)| TileScore {
                bbox: [i as f64 / n as f64, 0.0, (i + 1) as f64 / n as f64, 1.0],
                prob: sig(l),
                whole: i + 1 == n,
            })
            .collect()
    }

    fn outputs(x: &[f32]) -> ViewOutputs {
        ViewOutputs { k: 1, key: x.iter().map(|x| -x).collect(), now: x.to_vec() }
    }

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + 60 * min, 0).unwrap()
    }

    /// Judges and remembers one frame.
    fn step(mem: &mut ViewMemory, m: &ViewModel, logits: &[f32], x: &[f32], minute: i64) -> Verdict {
        let t = tiles(logits);
        let v = judge(mem, &t, &outputs(x), m, m.warm_threshold);
        mem.remember(&t, &outputs(x), None, at(minute), m);
        v
    }

    #[test]
    fn a_new_view_takes_the_single_frame_path_at_the_strict_threshold_for_its_first_frame() {
        let m = model(1);
        let mut mem = ViewMemory::new("c", 0.0, 0.0, 60.0);
        let v = judge(&mem, &tiles(&[4.0, -3.0, 9.0]), &outputs(&[0.0; 3]), &m, m.warm_threshold);
        assert!(v.warm_up && v.tile == Some(0), "the best placed tile (the whole frame places nothing): {v:?}");
        let v = judge(&mem, &tiles(&[2.0, -3.0, 9.0]), &outputs(&[0.0; 3]), &m, m.warm_threshold);
        assert_eq!(v.tile, None, "below the strict threshold, whatever the whole frame says: {v:?}");
        step(&mut mem, &m, &[-3.0; 3], &[0.0; 3], 0);
        let v = judge(&mem, &tiles(&[-3.0, -3.0, -3.0]), &outputs(&[0.0; 3]), &m, m.warm_threshold);
        assert!(!v.warm_up && v.tile.is_none() && v.score < 0.5, "from the second frame the view judges: {v:?}");
    }

    #[test]
    fn a_place_that_always_looks_like_smoke_never_rises_and_a_new_plume_does() {
        let m = model(1);
        let mut mem = ViewMemory::new("c", 0.0, 0.0, 60.0);
        // tile 0 looks like smoke in every frame (a chimney, logit ≈ 6); tile 1 flickers between
        // -4 and 2 (haze); tile 2 is quiet; tile 3 is the whole frame
        for t in 0..6 {
            let flicker = if t % 2 == 0 { 2.0 } else { -4.0 };
            step(&mut mem, &m, &[6.0, flicker, -5.0, 3.0], &[0.0; 4], t);
        }
        let same = judge(&mem, &tiles(&[6.2, 2.0, -5.0, 3.0]), &outputs(&[0.0; 4]), &m, 0.95);
        assert_eq!(same.tile, None, "{same:?}");
        // smoke appears in tile 2: from -5 to 1.5, far above its baseline and above min_logit
        let new = judge(&mem, &tiles(&[6.0, -4.0, 1.5, 3.0]), &outputs(&[0.0; 4]), &m, 0.95);
        assert_eq!(new.tile, Some(2), "{new:?}");
        assert!(new.score >= 0.5 && new.why.starts_with("new in view"), "{new:?}");
        // a rise that stays below min_logit (a faint change) is not smoke
        let faint = judge(&mem, &tiles(&[6.0, -4.0, -1.0, 3.0]), &outputs(&[0.0; 4]), &m, 0.95);
        assert_eq!(faint.tile, None, "{faint:?}");
        // the whole frame rising places nothing
        let whole = judge(&mem, &tiles(&[6.0, -4.0, -5.0, 9.0]), &outputs(&[0.0; 4]), &m, 0.95);
        assert_eq!(whole.tile, None, "{whole:?}");
    }

    #[test]
    fn with_a_change_threshold_the_head_must_see_a_change_too() {
        let mut m = model(1);
        m.change_threshold = Some(0.9);
        let mut mem = ViewMemory::new("c", 0.0, 0.0, 60.0);
        for t in 0..4 {
            step(&mut mem, &m, &[-5.0, -5.0, 0.0], &[0.0, 0.0, 0.0], t);
        }
        // both tiles rise; only tile 1's embedding changed
        let v = judge(&mem, &tiles(&[2.0, 1.5, 0.0]), &outputs(&[0.0, 1.0, 0.0]), &m, 0.95);
        assert_eq!(v.tile, Some(1), "{v:?}");
    }

    #[test]
    fn memory_keeps_its_last_frames_moves_forward_only_and_reads_back() {
        let mut m = model(1);
        m.change_threshold = Some(0.5);
        let mut mem = ViewMemory::new("c", 10.0, -2.0, 60.0);
        for t in 0..7 {
            step(&mut mem, &m, &[t as f32, 0.0], &[t as f32, 0.0], t);
        }
        assert_eq!((mem.keys.len(), mem.logits.len(), mem.frames), (3, 4, 7));
        assert_eq!(mem.reference(0), vec![-5.0], "mean of the last three keys (-4, -5, -6)");
        assert!((mem.baseline(0, 75.0) - 5.25).abs() < 1e-3, "75th percentile of 3..6: {}", mem.baseline(0, 75.0));
        step(&mut mem, &m, &[9.0, 9.0], &[9.0, 9.0], 2);
        assert_eq!(mem.frames, 7, "a late frame is not remembered");
        let mut back = ViewMemory::new("c", 10.0, -2.0, 60.0);
        back.read_text(&mem.to_text()).unwrap();
        assert_eq!((back.tiles, back.k, back.depth(), back.keys.len()), (2, 1, 4, 3));
        assert_eq!(back.reference(0), mem.reference(0));
        assert!((back.baseline(0, 75.0) - mem.baseline(0, 75.0)).abs() < 1e-2);
        for bad in ["", "!!", "BA==", &mem.to_text()[..20]] {
            assert!(ViewMemory::new("c", 0.0, 0.0, 1.0).read_text(bad).is_err(), "{bad}");
        }
        // a frame of another size starts afresh
        step(&mut mem, &m, &[0.5, 0.5, 0.5], &[1.0, 1.0, 1.0], 9);
        assert_eq!((mem.tiles, mem.depth(), mem.keys.len()), (3, 1, 1));
        // without the change head, no keys are kept
        let plain = model(1);
        let mut lean = ViewMemory::new("c", 0.0, 0.0, 1.0);
        step(&mut lean, &plain, &[0.0, 0.0], &[1.0, 1.0], 0);
        assert_eq!((lean.keys.len(), lean.depth()), (0, 1));
    }

    fn thumb(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Thumb {
        Thumb {
            width: w,
            height: h,
            luma: (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect(),
        }
    }

    #[test]
    fn the_change_base_follows_a_plume_down_from_its_tile_and_a_cloud_has_none_below() {
        // a 100 × 60 view, noise-free; a plume column at x 40..44 from row 10 down to row 38
        let bg = thumb(100, 60, |x, y| ((x * 3 + y * 7) % 40) as u8 + 60);
        let plume =
            thumb(100, 60, |x, y| if (40..44).contains(&x) && (10..39).contains(&y) { 230 } else { bg.at(x, y) });
        // the flagged tile holds the plume's top (rows 0..30, columns 20..60); the base lies below it
        let (fx, fy) = change_base(&plume, &bg, [0.2, 0.0, 0.6, 0.5]).unwrap();
        assert!((fx - 0.425).abs() < 0.02 && (fy - 39.0 / 60.0).abs() < 0.01, "({fx}, {fy})");
        // nothing changed in the tile: no base
        assert!(change_base(&bg, &bg, [0.2, 0.0, 0.6, 0.5]).is_none());
        // a sizes mismatch (the camera's resolution changed): no base
        assert!(change_base(&thumb(10, 6, |_, _| 0), &bg, [0.0, 0.0, 1.0, 1.0]).is_none());
        // the memory's background moves a few levels a frame toward what it sees
        let m = model(1);
        let mut mem = ViewMemory::new("c", 0.0, 0.0, 60.0);
        let t = tiles(&[0.0, 0.0]);
        mem.remember(&t, &outputs(&[0.0, 0.0]), Some(&bg), at(0), &m);
        mem.remember(&t, &outputs(&[0.0, 0.0]), Some(&plume), at(1), &m);
        let b = mem.background.as_ref().unwrap();
        assert_eq!((b.at(41, 20), b.at(0, 0)), (bg.at(41, 20) + 3, bg.at(0, 0)));
        let mut back = ViewMemory::new("c", 0.0, 0.0, 60.0);
        back.read_text(&mem.to_text()).unwrap();
        assert_eq!(back.background, mem.background);
    }

    #[test]
    fn logits_come_back_from_probabilities_and_saturate_at_about_16() {
        for l in [-8.0f32, -1.0, 0.0, 2.5, 9.0] {
            assert!((logit(sig(l)) - l).abs() < 1e-2, "{l}: {}", logit(sig(l)));
        }
        assert!((15.5..17.0).contains(&logit(1.0)) && (-17.0..-15.5).contains(&logit(0.0)));
    }

    #[test]
    fn the_head_is_the_documented_formula_and_bad_weights_are_refused() {
        let h =
            Head { w1: vec![vec![1.0, -1.0], vec![0.5, 0.5]], b1: vec![0.0, -1.0], w2: vec![2.0, -1.0], b2: vec![0.1] };
        // z = relu([1, 3] + [0, -1]) = [1, 2]; h = relu([1 - 2, 0.5 + 1 - 1]) = [0, 0.5]; logit = 0.1 - 0.5
        let p = h.prob(&[1.0, 3.0], &[0.0, -1.0]);
        assert!((p - 1.0 / (1.0 + 0.4f32.exp())).abs() < 1e-6, "{p}");
        assert!(h.check(2).is_ok() && h.check(3).is_err());
        let mut bad = model(1);
        bad.head.b2 = vec![f32::NAN];
        assert!(bad.check().is_err());
        let mut bad = model(1);
        bad.rise = f32::INFINITY;
        assert!(bad.check().is_err());
    }
}
