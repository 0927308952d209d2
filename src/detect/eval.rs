//! `firepoint smoke eval DIR`: how a county checks the smoke model on its own cameras. DIR holds
//! `smoke/` and `no_smoke/` frames (any image size, no pose needed); every frame goes through
//! the production scoring path ([`FrameDetector::score`]: decode, the model's preprocessing,
//! the session pool, the operational threshold), and the result is one line per frame plus
//! precision, recall, F1, false-positive rate and ROC-AUC at that threshold.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::frames::FrameDetector;

/// One scored frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    pub file: PathBuf,
    /// True for frames under `smoke/`.
    pub smoke: bool,
    pub score: f32,
    pub flagged: bool,
    /// The most likely smoke tile, pixels of the frame: [x0, y0, x1, y1].
    pub tile_box: [u32; 4],
    /// A view model's verdict: what its rule saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
}

/// A frame that could not be scored (named, not counted).
#[derive(Debug, Clone, Serialize)]
pub struct Unscored {
    pub file: PathBuf,
    pub error: String,
}

/// The metrics at the operational threshold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub threshold: f32,
    pub frames: usize,
    pub smoke: usize,
    pub no_smoke: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_positive_rate: f64,
    /// Area under the ROC curve of the frame scores (ties count half).
    pub roc_auc: f64,
    /// Smoke frames named as sequences and 5 minutes or more after ignition, and the share of
    /// them flagged (an early plume is a few pixels: the recall target counts these).
    pub smoke_after_5min: usize,
    pub recall_after_5min: f64,
}

/// The frames of `dir/smoke` and `dir/no_smoke` (JPEG/PNG, recursively), sorted.
pub fn labelled_frames(dir: &Path) -> std::io::Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for (sub, smoke) in [("smoke", true), ("no_smoke", false)] {
        let root = dir.join(sub);
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} has no {sub}/ folder (expected smoke/ and no_smoke/)", dir.display()),
            ));
        }
        let mut found = Vec::new();
        collect(&root, &mut found)?;
        found.sort();
        out.extend(found.into_iter().map(|p| (p, smoke)));
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            collect(&p, out)?;
        } else if crate::ingest::InputKind::of(&p) == Some(crate::ingest::InputKind::Frame) {
            out.push(p);
        }
    }
    Ok(())
}

/// Scores every labelled frame through `detector` (in parallel, results in input order). A
/// single-frame model flags a frame at its threshold. A view model judges frames as the batch's
/// recorder does: the frames of one sequence (FIgLib-style names, one camera preset) in capture
/// order against that sequence's memory (`detect::view`), every other frame as a view of its own
/// that is warming up (the single-frame path at the strict threshold).
pub fn score_all(detector: &FrameDetector, frames: &[(PathBuf, bool)]) -> (Vec<FrameResult>, Vec<Unscored>) {
    use rayon::prelude::*;
    let threshold = detector.threshold();
    let scored: Vec<_> = frames.par_iter().map(|(p, _)| detector.score(p)).collect();
    let (mut ok, mut bad, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    for ((file, smoke), result) in frames.iter().zip(scored) {
        match result {
            Ok((s, (w, h))) => {
                ok.push(FrameResult {
                    file: file.clone(),
                    smoke: *smoke,
                    score: s.score,
                    flagged: s.score >= threshold,
                    tile_box: s.best_tile_box(w, h),
                    view: None,
                });
                scores.push((s, (w, h)));
            }
            Err(e) => bad.push(Unscored { file: file.clone(), error: crate::text::error_chain(&e) }),
        }
    }
    if let Some(model) = detector.view_model() {
        judge_views(&mut ok, &scores, model, threshold);
    }
    (ok, bad)
}

/// The view path over scored frames: each sequence folded through one view's memory in capture
/// order, the rest judged alone.
fn judge_views(
    results: &mut [FrameResult],
    scores: &[(super::smoke::SmokeScore, (u32, u32))],
    model: &super::view::ViewModel,
    warm_threshold: f32,
) {
    use super::view::{judge, ViewMemory};
    let mut order: Vec<(String, chrono::DateTime<chrono::Utc>, usize)> = results
        .iter()
        .enumerate()
        .map(|(i, r)| match super::sequences::parse_name(&r.file) {
            Some((seq, at, _)) => (seq, at, i),
            None => (format!("\u{0}{}", r.file.display()), chrono::DateTime::UNIX_EPOCH, i), // a view of its own
        })
        .collect();
    order.sort();
    let mut memory: Option<(String, ViewMemory)> = None;
    for (view, at, i) in order {
        let (score, (w, h)) = &scores[i];
        let Some(out) = score.view.as_ref() else { continue };
        if memory.as_ref().is_none_or(|(v, _)| *v != view) {
            memory = Some((view.clone(), ViewMemory::new(&view, 0.0, 0.0, 0.0)));
        }
        let mem = &mut memory.as_mut().expect("set above").1;
        let verdict = judge(mem, &score.tiles, out, model, warm_threshold);
        mem.remember(&score.tiles, out, None, at, model);
        let r = &mut results[i];
        r.score = verdict.score;
        r.flagged = verdict.tile.is_some();
        let tile = verdict.tile.map(|t| &score.tiles[t]).or(score.best());
        r.tile_box = score.tile_box(tile, *w, *h);
        r.view = Some(verdict.why);
    }
}

/// Precision, recall, F1, FPR at `threshold` and ROC-AUC over the scores.
pub fn metrics(results: &[FrameResult], threshold: f32) -> Metrics {
    let smoke = results.iter().filter(|r| r.smoke).count();
    let no_smoke = results.len() - smoke;
    let tp = results.iter().filter(|r| r.smoke && r.flagged).count();
    let fp = results.iter().filter(|r| !r.smoke && r.flagged).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let late: Vec<&FrameResult> = results
        .iter()
        .filter(|r| r.smoke && super::sequences::parse_name(&r.file).is_some_and(|(_, _, offset)| offset >= 300))
        .collect();
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, smoke));
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Metrics {
        threshold,
        frames: results.len(),
        smoke,
        no_smoke,
        true_positives: tp,
        false_positives: fp,
        precision,
        recall,
        f1,
        false_positive_rate: ratio(fp, no_smoke),
        roc_auc: roc_auc(results),
        smoke_after_5min: late.len(),
        recall_after_5min: ratio(late.iter().filter(|r| r.flagged).count(), late.len()),
    }
}

/// ROC-AUC as the probability that a smoke frame outscores a no-smoke frame (Mann–Whitney),
/// ties counting half; 0.5 when one class is missing.
pub fn roc_auc(results: &[FrameResult]) -> f64 {
    let pos: Vec<f32> = results.iter().filter(|r| r.smoke).map(|r| r.score).collect();
    let neg: Vec<f32> = results.iter().filter(|r| !r.smoke).map(|r| r.score).collect();
    if pos.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(smoke: bool, score: f32, threshold: f32) -> FrameResult {
        FrameResult { file: "x".into(), smoke, score, flagged: score >= threshold, tile_box: [0; 4], view: None }
    }

    #[test]
    fn metrics_count_what_the_threshold_flags_and_auc_ranks_the_scores() {
        let t = 0.5;
        let rs = [r(true, 0.9, t), r(true, 0.4, t), r(false, 0.6, t), r(false, 0.1, t), r(false, 0.4, t)];
        let m = metrics(&rs, t);
        assert_eq!((m.true_positives, m.false_positives, m.smoke, m.no_smoke), (1, 1, 2, 3));
        assert_eq!((m.precision, m.recall), (0.5, 0.5));
        assert!((m.false_positive_rate - 1.0 / 3.0).abs() < 1e-12);
        // pairs: 0.9 beats all three; 0.4 beats 0.1, ties 0.4, loses to 0.6 → (3 + 1.5) / 6
        assert!((m.roc_auc - 0.75).abs() < 1e-12, "{}", m.roc_auc);
        assert_eq!(roc_auc(&[r(true, 0.2, t)]), 0.5, "one class only");
    }
}
