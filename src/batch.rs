//! One batch: the inputs of a cron run (an inbox) or of a satellite pass given by hand, through
//! every stage, with bad inputs reported, quarantined and skipped while the rest go on.
//!
//! Order of work: checksum each input and skip those the store has seen; detect fires in
//! satellite scenes (each scene in parallel inside) and score frames in parallel (one ONNX
//! session per rayon worker), a chunk at a time; then, per input and in path order, locate and
//! record in one store transaction. The feed is rewritten at the end.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::aoi::Aoi;
use crate::config::Config;
use crate::detect::fdc_detections;
use crate::detect::smoke::{SmokeModel, SmokeWorker};
use crate::detect::{hotspot, scene_detections, Detection, SourceKind};
use crate::ingest::{frame, goes, raster, tables, InputKind};
use crate::locate::{camera, locate};
use crate::store::Store;

/// What to do with a bad input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quarantine {
    /// Move it (and its pose sidecar) into the quarantine folder: the inbox case.
    Move,
    /// Copy it there and leave the original: files named by hand.
    Copy,
}

#[derive(Debug, Default)]
pub struct BatchReport {
    pub inputs: usize,
    pub skipped: usize,
    pub processed: usize,
    pub failed: Vec<(PathBuf, String)>,
    /// Inputs processed with some parts unreadable (table rows), with what was skipped.
    pub warned: Vec<(PathBuf, Vec<String>)>,
    pub frames_scored: usize,
    pub frames_with_smoke: usize,
    pub detections: usize,
    pub suppressed: usize,
    pub outside_aoi: usize,
    pub opened: Vec<String>,
    pub joined: usize,
    /// New camera tickets pushed later than `sla.alarm_min` after their sighting.
    pub late_alarms: usize,
    pub feed: Vec<PathBuf>,
}

impl fmt::Display for BatchReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(
            f,
            "inputs: {} found, {} already done, {} processed, {} bad, {} with unreadable rows",
            self.inputs,
            self.skipped,
            self.processed,
            self.failed.len(),
            self.warned.len()
        )?;
        writeln!(f, "frames: {} scored, {} with smoke", self.frames_scored, self.frames_with_smoke)?;
        writeln!(
            f,
            "detections: {} in the county, {} suppressed on known heat sources, {} outside the county (dropped)",
            self.detections, self.suppressed, self.outside_aoi
        )?;
        write!(f, "tickets: {} new, {} sightings joined existing tickets", self.opened.len(), self.joined)?;
        if self.late_alarms > 0 {
            write!(
                f,
                "\nalarms: {} new camera ticket(s) pushed later than sla.alarm_min after the sighting",
                self.late_alarms
            )?;
        }
        Ok(())
    }
}

/// The outcome of the detect stage for one input: its detections and warnings (rows of a table
/// that could not be read), or why the whole input is bad.
type Detected = Result<(Vec<Detection>, Vec<String>), String>;

/// The content checksum that identifies an input, read in 1 MiB pieces (scenes can be large).
fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn chain(e: impl Into<anyhow::Error>) -> String {
    format!("{:#}", e.into())
}

fn detect_scene(path: &Path, cfg: &Config) -> Detected {
    let abi = goes::AbiName::parse(path);
    if abi.as_ref().is_some_and(|n| n.is_fdc()) {
        let fdc = goes::read_fdc(path, &cfg.limits).map_err(chain)?;
        return Ok((fdc_detections(&fdc), Vec::new()));
    }
    let scene = match abi {
        Some(_) => goes::read_abi_scene(path, &cfg.limits).map_err(chain)?,
        None if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("nc")) => {
            return Err(format!(
                "{}: not a GOES ABI product name (OR_ABI-L1b-Rad…C07… or OR_ABI-L2-FDC…)",
                path.display()
            ))
        }
        None => match raster::read_geotiff(path, &cfg.limits).map_err(chain)? {
            raster::GeoTiff::FireMask(grid) => return Ok((crate::detect::fire_grid_detections(&grid), Vec::new())),
            raster::GeoTiff::Scene(scene) => scene,
        },
    };
    let bands = scene.bands();
    let daylight = scene.daylight();
    let mut fires = hotspot::detect_with(&bands, &|r, c| daylight.is_day(r, c), cfg.hotspot.for_sensor(&scene.sensor));
    let glint = crate::detect::glint::reject(&scene, &mut fires);
    tracing::info!(file = %path.display(), fire_pixels = fires.len(), sun_glint_rejected = glint, "satellite scene tested");
    Ok((scene_detections(&scene, &fires), Vec::new()))
}

/// Detections of one satellite scene, product or table (not frames), as the batch sees them.
pub fn detect_file(kind: InputKind, path: &Path, cfg: &Config) -> Result<(Vec<Detection>, Vec<String>), String> {
    match kind {
        InputKind::Table => detect_table(path),
        InputKind::Satellite => detect_scene(path, cfg),
        InputKind::Frame => Err(format!("{}: camera frames carry no satellite history", path.display())),
    }
}

fn detect_table(path: &Path) -> Detected {
    let table = tables::read_table(path).map_err(chain)?;
    let warnings = table
        .bad_rows
        .iter()
        .map(|(line, why)| format!("{} line {line}: {why} (row skipped)", path.display()))
        .collect();
    Ok((table.detections, warnings))
}

fn detect_frame(worker: &mut SmokeWorker, model: &SmokeModel, aoi: &Aoi, path: &Path) -> Detected {
    let e = |err: frame::FrameError| format!("{:#}", anyhow::Error::from(err));
    let pose = frame::read_pose(path).map_err(e)?;
    let none = Vec::new;
    let img = frame::decode(path).map_err(e)?;
    let cam = aoi.camera(&pose.camera_id).ok_or_else(|| {
        format!("camera frame {}: camera `{}` is not in the AOI's cameras layer", path.display(), pose.camera_id)
    })?;
    let score = worker.score(&img).map_err(|err| format!("{:#}", anyhow::Error::from(err)))?;
    if score.score < model.threshold {
        return Ok((Vec::new(), none()));
    }
    let (fx, fy) = score.plume_base(model.threshold);
    let fix = camera::ground_fix(aoi, cam, &pose, img.height() as f64 / img.width() as f64, fx, fy);
    Ok((
        vec![Detection {
            source: SourceKind::Camera,
            sensor: cam.id.clone(),
            observed_at: pose.captured_at,
            lon: fix.lon,
            lat: fix.lat,
            radius_m: fix.radius_m,
            footprint: None,
            confidence: score.score,
            evidence: serde_json::json!({
                "frame": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "model": model.version, "score": score.score, "threshold": model.threshold,
                "azimuth_deg": (fix.azimuth_deg * 10.0).round() / 10.0, "distance_m": fix.distance_m.round(),
                "hit_ground": fix.hit_ground,
            }),
        }],
        none(),
    ))
}

/// Where a bad input goes: `quarantine/<Beijing day>/<its path under the inbox>` (inputs named by
/// hand: their path without the root), so `a/t.csv` and `b/t.csv` are both kept; a name already
/// taken that day gets `~2`, `~3` … before its extension.
fn quarantine_target(cfg: &Config, path: &Path) -> PathBuf {
    let day = chrono::Utc::now().with_timezone(&crate::time::beijing()).format("%Y%m%d").to_string();
    let rel: PathBuf = match path.strip_prefix(&cfg.paths.inbox) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect(),
    };
    let first = cfg.paths.quarantine.join(day).join(rel);
    let (stem, ext) = (
        first.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
        first.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default(),
    );
    (1..)
        .map(|n| if n == 1 { first.clone() } else { first.with_file_name(format!("{stem}~{n}{ext}")) })
        .find(|t| !t.exists() && !note_of(t).exists())
        .expect("some suffix is free")
}

fn note_of(target: &Path) -> PathBuf {
    target.with_file_name(format!("{}.error.txt", target.file_name().unwrap_or_default().to_string_lossy()))
}

/// Moves (or copies) a bad input, and its pose sidecar, into the quarantine with a note. A file
/// that is not a regular file (a FIFO, a device) is never opened: only the note is written.
fn quarantine(cfg: &Config, path: &Path, kind: InputKind, error: &str, mode: Quarantine) -> anyhow::Result<PathBuf> {
    let target = quarantine_target(cfg, path);
    let dir = target.parent().context("quarantine target has a folder")?.to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create quarantine folder {}", dir.display()))?;
    let mut files = vec![(path.to_path_buf(), target.clone())];
    let sidecar = frame::sidecar_of(path);
    if kind == InputKind::Frame && sidecar.exists() {
        files.push((sidecar, frame::sidecar_of(&target)));
    }
    for (from, to) in &files {
        let regular = crate::ingest::regular_file(from).is_ok();
        match mode {
            Quarantine::Move => std::fs::rename(from, to).or_else(|e| {
                if !regular {
                    return Err(e);
                }
                std::fs::copy(from, to).and_then(|_| std::fs::remove_file(from))
            }),
            Quarantine::Copy if regular => std::fs::copy(from, to).map(|_| ()),
            Quarantine::Copy => Ok(()),
        }
        .with_context(|| format!("cannot quarantine {} into {}", from.display(), dir.display()))?;
    }
    let note = note_of(&target);
    std::fs::write(&note, format!("{error}\n")).with_context(|| format!("cannot write {}", note.display()))?;
    Ok(target)
}

/// Everything a batch holds for its whole run.
struct Ctx<'a> {
    cfg: &'a Config,
    aoi: Aoi,
    store: Store,
    mode: Quarantine,
    report: BatchReport,
}

impl Ctx<'_> {
    /// Locates and records one input's detections, or quarantines it.
    fn finish(&mut self, path: &Path, kind: InputKind, sha: &str, detected: Detected) -> anyhow::Result<()> {
        let kind_name = kind.as_str();
        match detected {
            Ok((dets, _)) if dets.iter().any(|d| crate::time::plausible(d.observed_at).is_err()) => {
                // a reader let an impossible time through: the input is bad, nothing is stored
                let bad = dets.iter().find_map(|d| crate::time::plausible(d.observed_at).err()).unwrap_or_default();
                self.finish(path, kind, sha, Err(format!("{}: a detection's {bad}", path.display())))?;
            }
            Ok((dets, warnings)) => {
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                if !warnings.is_empty() {
                    self.report.warned.push((path.to_path_buf(), warnings));
                }
                let mut placed = locate(&self.aoi, dets, self.cfg.events.heat_source_buffer_m);
                for loc in placed
                    .inside
                    .iter_mut()
                    .filter(|l| l.suppressed_by.is_none() && l.detection.source == SourceKind::Satellite)
                {
                    let history = self.store.footprint_history(&loc.detection, &self.cfg.persistence)?;
                    loc.suppressed_by = crate::persistence::verdict(&history, &self.cfg.persistence);
                }
                let rec = self.store.record_input(path, sha, kind_name, &placed.inside, &self.cfg.into())?;
                self.report.processed += 1;
                self.report.detections += placed.inside.len();
                self.report.outside_aoi += placed.outside;
                self.report.suppressed += rec.suppressed;
                self.report.joined += rec.joined.len();
                // the county's rule: a camera alarm reaches the grid member within sla.alarm_min
                // of the sighting; a backlog (or a slow camera upload) breaks it, so say so
                if kind == InputKind::Frame && !rec.opened.is_empty() {
                    let seen = placed.inside.iter().map(|l| l.detection.observed_at).min();
                    let limit = chrono::Duration::minutes(self.cfg.sla.alarm_min);
                    if seen.is_some_and(|s| chrono::Utc::now() - s > limit) {
                        self.report.late_alarms += rec.opened.len();
                    }
                }
                self.report.opened.extend(rec.opened);
            }
            Err(msg) => {
                let msg = crate::text::clip(&msg, crate::text::MESSAGE_MAX);
                let to = quarantine(self.cfg, path, kind, &msg, self.mode)?;
                tracing::info!(file = %path.display(), quarantined = %to.display(), "bad input quarantined: {msg}");
                self.store.record_quarantine(path, sha, kind_name, &msg)?;
                self.report.failed.push((path.to_path_buf(), msg));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("another firepoint batch is running on {store} (lock {lock} is held{holder}); this one did nothing")]
pub struct Busy {
    pub store: PathBuf,
    pub lock: PathBuf,
    /// Who holds it, as the lock file says (`, by pid 123 since …`), if readable.
    pub holder: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "a firepoint batch has held the lock {lock} for {minutes} minutes (pid {pid}, since {since}), more than \
     batch.stuck_after_min = {limit}: it is stuck (an input that never ends?) and nothing new is processed \
     until it is stopped"
)]
pub struct Stuck {
    pub lock: PathBuf,
    pub pid: String,
    pub since: String,
    pub minutes: i64,
    pub limit: i64,
}

/// What the lock file holds while a batch runs: `pid <N> since <RFC 3339 time>`.
fn holder_of(text: &str) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
    let mut words = text.trim_matches('\0').split_whitespace();
    let (Some("pid"), Some(pid), Some("since"), Some(t)) = (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    let since = chrono::DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&chrono::Utc);
    Some((pid.to_string(), since))
}

/// One batch at a time per store: a cron run that overlaps a slow one stops at once ([`Busy`]),
/// or loudly ([`Stuck`]) when the running one has held the lock longer than
/// `batch.stuck_after_min`. The lock is an OS file lock, released when the returned file is
/// dropped or its process dies, so a lock left by a killed batch is simply taken over.
fn lock(store: &Path, stuck_after_min: i64) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = store.with_extension("lock");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let stamp = format!("pid {} since {}\n", std::process::id(), crate::store::ts(chrono::Utc::now()));
            file.set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(stamp.as_bytes()))
                .with_context(|| format!("cannot write lock file {}", path.display()))?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&file).take(256).read_to_string(&mut text);
            let Some((pid, since)) = holder_of(&text) else {
                return Err(Busy { store: store.into(), lock: path, holder: String::new() }.into());
            };
            let minutes = (chrono::Utc::now() - since).num_minutes();
            if minutes > stuck_after_min {
                let since = crate::store::ts(since);
                return Err(Stuck { lock: path, pid, since, minutes, limit: stuck_after_min }.into());
            }
            let holder = format!(", by pid {pid} since {}", crate::store::ts(since));
            Err(Busy { store: store.into(), lock: path, holder }.into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

fn progress(len: usize, what: &'static str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// Runs a batch over `inputs`. Errors returned here are fatal (AOI, store, model); bad inputs are
/// in the report instead.
pub fn run(cfg: &Config, inputs: Vec<(InputKind, PathBuf)>, mode: Quarantine) -> anyhow::Result<BatchReport> {
    let _lock = lock(&cfg.paths.store, cfg.batch.stuck_after_min)?;
    let aoi = Aoi::load_with(&cfg.paths.aoi, &cfg.limits)?;
    let store = Store::open(&cfg.paths.store)?;
    let mut ctx = Ctx { cfg, aoi, store, mode, report: BatchReport { inputs: inputs.len(), ..Default::default() } };
    let mut todo = Vec::new();
    let mut batch_shas = std::collections::HashSet::new();
    for (kind, path) in inputs {
        // only regular files are read: a FIFO named by hand would hang the batch
        let readable = crate::ingest::regular_file(&path).and_then(|()| sha256_file(&path).map_err(|e| e.to_string()));
        match readable {
            Err(e) => {
                let key = format!("unread:{}", path.display());
                ctx.finish(&path, kind, &key, Err(format!("cannot read input {}: {e}", path.display())))?
            }
            // the same content under a second name (a delivery repeated) is done once
            Ok(sha) if ctx.store.input_status(&sha)?.is_some() || !batch_shas.insert(sha.clone()) => {
                tracing::info!(file = %path.display(), "already processed (same content seen before)");
                ctx.report.skipped += 1
            }
            Ok(sha) => todo.push((kind, path, sha)),
        }
    }
    let (frames, others): (Vec<_>, Vec<_>) = todo.into_iter().partition(|(k, _, _)| *k == InputKind::Frame);
    // the model is loaded before anything is recorded: a missing runtime or a model that cannot
    // start a session is fatal (exit 2, nothing processed), never the frames' fault
    let model = if frames.is_empty() {
        None
    } else {
        let model = SmokeModel::load(&cfg.camera.model, cfg.camera.threshold)?;
        model.worker()?;
        Some(model)
    };
    for (kind, path, sha) in others {
        let detected = if kind == InputKind::Table { detect_table(&path) } else { detect_scene(&path, cfg) };
        ctx.finish(&path, kind, &sha, detected)?;
    }
    if let Some(model) = model {
        let bar = progress(frames.len(), "frames");
        for chunk in frames.chunks(cfg.camera.chunk.max(1)) {
            let aoi = &ctx.aoi;
            let results: Vec<Detected> = chunk
                .par_iter()
                .map_init(
                    || model.worker(),
                    |worker, (_, path, _)| match worker {
                        Ok(w) => detect_frame(w, &model, aoi, path),
                        Err(e) => Err(format!("{:#}", anyhow::anyhow!("{e}"))),
                    },
                )
                .collect();
            for ((kind, path, sha), detected) in chunk.iter().zip(results) {
                if detected.is_ok() {
                    ctx.report.frames_scored += 1;
                    ctx.report.frames_with_smoke += detected.as_ref().map_or(0, |d| d.0.len());
                }
                ctx.finish(path, *kind, sha, detected)?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
    }
    let tickets = ctx.store.tickets(&crate::store::TicketFilter::all())?;
    ctx.report.feed = crate::feed::write(&cfg.paths.feed, &tickets)?;
    Ok(ctx.report)
}
