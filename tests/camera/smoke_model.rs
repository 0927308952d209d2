//! The ONNX smoke model through `ort`: checksum, output shape, and agreement with the training
//! script's own numbers on a real frame (when the shared data is present).

use firepoint::detect::smoke::{SmokeError, SmokeModel, SmokeScore};

use crate::common;

const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-patch-v1.onnx");

#[test]
fn model_scores_a_frame_into_a_patch_grid() {
    let model = SmokeModel::load(MODEL.as_ref(), None).unwrap();
    assert!(model.threshold > 0.0 && model.threshold < 1.0);
    let mut w = model.worker().unwrap();
    let img = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let a = w.score(&img).unwrap();
    assert_eq!(a.tiles.len(), 300, "a 15 × 20 patch grid");
    assert!(a.tiles.iter().all(|t| (0.0..=1.0).contains(&t.prob)));
    assert_eq!(a.score, a.tiles.iter().map(|t| t.prob).fold(0.0, f32::max));
    assert_eq!(a.tiles[21].bbox, [0.05, 1.0 / 15.0, 0.1, 2.0 / 15.0], "row 1, column 1");
    assert_eq!(w.score(&img).unwrap(), a, "same frame, same score");
}

#[test]
fn tampered_model_is_refused_by_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (onnx, json) = (dir.path().join("m.onnx"), dir.path().join("m.json"));
    let mut bytes = std::fs::read(MODEL).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&onnx, bytes).unwrap();
    std::fs::copy(std::path::Path::new(MODEL).with_extension("json"), &json).unwrap();
    match SmokeModel::load(&onnx, None) {
        Err(SmokeError::Checksum { path, .. }) => assert_eq!(path, onnx),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn rust_preprocessing_matches_the_training_script_on_a_real_frame() {
    let smoke = common::shared_data("smoke");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(std::path::Path::new(MODEL).with_extension("json")).unwrap())
            .unwrap();
    let name = metrics["onnx_check"]["frame"].as_str().unwrap();
    let want = metrics["onnx_check"]["score"].as_f64().unwrap() as f32;
    let path = smoke.join("alerttahoe_boxoverlay/smoke_box_removed").join(name);
    assert!(path.exists(), "{} is part of the shared data", path.display());
    let model = SmokeModel::load(MODEL.as_ref(), None).unwrap();
    let img = firepoint::ingest::frame::decode(&path, u64::MAX).unwrap();
    let got = model.worker().unwrap().score(&img).unwrap().score;
    // PIL's and image's bilinear resampling differ slightly; the score must not
    assert!((got - want).abs() < 0.02, "Rust {got} vs training script {want}");
}

const TILE_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-tile-v2.onnx");

#[test]
fn r7_tile_model_scores_a_frame_as_overlapping_tiles_and_a_whole_view() {
    let model = SmokeModel::load(TILE_MODEL.as_ref(), None).unwrap();
    let mut w = model.worker().unwrap();
    let img = image::RgbImage::from_fn(1920, 1080, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let s = w.score(&img).unwrap();
    // 1120 × 630: 5 × 3 tiles of 224 at stride 224, plus the whole frame
    assert_eq!(s.tiles.len(), 16);
    assert!(s.tiles.last().unwrap().whole && s.tiles.iter().filter(|t| t.whole).count() == 1);
    assert!(s.tiles.iter().all(|t| (0.0..=1.0).contains(&t.prob)));
    assert_eq!(s.score, s.tiles.iter().map(|t| t.prob).fold(0.0, f32::max));
    assert_eq!(w.score(&img).unwrap(), s, "same frame, same score");
}

#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn r7_rust_tiling_matches_the_training_script_tile_by_tile_on_real_frames() {
    let (_, checks) = card_checks(TILE_MODEL);
    assert!(checks.len() >= 3);
    for (path, got, c) in &checks {
        tiles_match(path, got, c);
        let score = c["frame_score"].as_f64().unwrap();
        assert!(
            (got.score as f64 - score).abs() < 0.2,
            "{}: Rust {} vs training script {score}",
            path.display(),
            got.score
        );
    }
}

/// The model's check frames from its card (`onnx_check` in its JSON: a real frame of ../shared
/// and the training script's numbers for it), each decoded and scored by firepoint.
fn card_checks(model: &str) -> (SmokeModel, Vec<(std::path::PathBuf, SmokeScore, serde_json::Value)>) {
    let smoke = common::shared_data("smoke");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(std::path::Path::new(model).with_extension("json")).unwrap())
            .unwrap();
    let loaded = SmokeModel::load(model.as_ref(), None).unwrap();
    let mut w = loaded.worker().unwrap();
    let checks = metrics["onnx_check"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let path = smoke.join(c["path"].as_str().unwrap());
            let img = firepoint::ingest::frame::decode(&path, u64::MAX).unwrap();
            (path, w.score(&img).unwrap(), c.clone())
        })
        .collect();
    (loaded, checks)
}

/// firepoint's tile probabilities against the training script's for frame `path`. PIL's and
/// fast_image_resize's bilinear filters and libjpeg's and zune-jpeg's decoders differ by a level
/// or two (measured: mean 0.08 levels on the 640×480 frame); through the fp32 model that is at
/// most 0.047 on one tile, mean ≤ 0.007 (an int8 model with dynamic quantisation moved tiles by
/// 0.25: its scale depends on the batch, so it is not shipped).
fn tiles_match(path: &std::path::Path, got: &SmokeScore, c: &serde_json::Value) {
    let want: Vec<f64> = c["tile_probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.tiles.len(), want.len(), "{}: tile count", path.display());
    let diffs: Vec<f64> = got.tiles.iter().zip(&want).map(|(t, w)| (t.prob as f64 - w).abs()).collect();
    let (worst, mean) = (diffs.iter().fold(0.0f64, |a, b| a.max(*b)), diffs.iter().sum::<f64>() / diffs.len() as f64);
    eprintln!("{}: largest tile difference {worst:.4}, mean {mean:.4}", path.display());
    assert!(mean < 0.02 && worst < 0.08, "{}: tile differences mean {mean:.4}, largest {worst:.4}", path.display());
}

const VIEW_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/smoke-view-v3.onnx");

/// Issue 19: the shipped view model through firepoint's own tiling and ONNX Runtime gives the
/// training script's tile probabilities and keys on its check frames (three consecutive syp-w
/// frames), and the logits the view rule judges follow from them.
#[test]
#[ignore = "needs the real data in ../shared/data (or FIREPOINT_DATA); scripts/test.sh runs it with --include-ignored when the data is there"]
fn r19_the_view_model_matches_the_training_script_on_real_frames() {
    let (model, checks) = card_checks(VIEW_MODEL);
    let view = model.view.clone().expect("a view model");
    assert_eq!(checks.len(), 3);
    for (path, got, c) in &checks {
        tiles_match(path, got, c);
        let out = got.view.as_ref().expect("keys");
        assert_eq!(out.key.len(), got.tiles.len() * view.key_width);
        // keys are a linear map of the 1280-d embedding: they carry the decoders' and resamplers'
        // small differences further than the probabilities do; what must hold is their overall
        // agreement (the shipped rule does not use them: `change_threshold` is unset)
        let pairs: Vec<(f64, f64)> = c["key_first8"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .flat_map(|(t, k)| {
                let got = &out.key[t * view.key_width..];
                k.as_array().unwrap().iter().enumerate().map(move |(j, v)| (got[j] as f64, v.as_f64().unwrap()))
            })
            .collect();
        let diff = pairs.iter().map(|(g, w)| (g - w).abs()).sum::<f64>() / pairs.len() as f64;
        let size = pairs.iter().map(|(_, w)| w.abs()).sum::<f64>() / pairs.len() as f64;
        eprintln!("{}: keys differ by {diff:.4} on average, their size {size:.4}", path.display());
        assert!(diff < 0.15 * size, "{}: keys differ by {diff:.4} against a size of {size:.4}", path.display());
    }
}
