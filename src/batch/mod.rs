//! One batch: the inputs of a cron run (an inbox) or of a satellite pass given by hand, through
//! every stage, with bad inputs reported, quarantined and skipped while the rest go on.
//!
//! `batch` orders the stages, records and quarantines; it decides nothing itself. Order of work:
//! checksum each input and skip those the store has seen; detect fires in satellite scenes and
//! tables (`detect::detect_file`) and score frames in parallel (`detect::frames`), a chunk at a
//! time; then, per input and in path order, locate (`locate`), apply the persistence mask, and
//! record in one store transaction ([`record_input`]). The feed is rewritten at the end.
//! [`lock`] keeps batches one at a time per store; [`quarantine`] keeps bad inputs.

mod inbox;
mod lock;
mod quarantine;
mod record;
mod worker;

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::aoi::Aoi;
use crate::config::Config;
use crate::detect::frames::FrameDetector;
use crate::detect::smoke::SmokeModel;
use crate::detect::{Detected, InputError, Settings};
use crate::domain::SourceKind;
use crate::ingest::InputKind;
use crate::locate::locate;
use crate::store::Store;

pub use inbox::prune_archive;
pub use lock::{Busy, Stuck};
pub use record::{record_input, InputRef, Recorded};

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
    /// Inputs that changed while they were read (still being written): left for the next batch.
    pub retried: Vec<PathBuf>,
    /// Inputs processed with some parts unreadable (table rows), with what was skipped.
    pub warned: Vec<(PathBuf, Vec<String>)>,
    pub frames_scored: usize,
    pub frames_with_smoke: usize,
    /// Camera sightings held back until more frames or a second tower confirm them.
    pub awaiting_confirmation: usize,
    /// Sightings another input already delivered (overlapping downloads): stored, not counted.
    pub duplicates: usize,
    pub detections: usize,
    pub suppressed: usize,
    /// Points seen before the live window (`events.live_window_h`): recorded as history, no ticket.
    pub history: usize,
    pub outside_aoi: usize,
    pub opened: Vec<String>,
    pub joined: usize,
    /// New camera and drone tickets pushed later than `sla.alarm_min` after their sighting.
    pub late_alarms: usize,
    /// Alarm latency of each new camera or drone ticket (frame captured → ticket written), seconds.
    pub alarm_latency_s: Vec<i64>,
    /// Frames not scored, with the reason (night infrared frames the model was not trained on).
    pub frames_skipped: usize,
    /// Drone photos scored (each flagged one is a sighting at once), flagged, and not scored.
    pub drones_scored: usize,
    /// Towers found offline or frozen by this batch (a notice each for the county office).
    pub tower_notices: Vec<String>,
    pub drones_with_smoke: usize,
    pub drones_skipped: usize,
    /// Rain forecasts read (rows of `weather/` inputs).
    pub forecasts: usize,
    pub feed: Vec<PathBuf>,
    /// The feed files could not be written (every input was recorded before): why.
    pub feed_error: Option<String>,
    /// Input kind → outcome (`done`, `quarantined`, `retried`, `skipped`) → count (the store's
    /// record of the batch, `/metrics`).
    pub by_kind: std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
    /// Processed inputs moved to the archive or deleted (`retention.inputs`).
    pub archived: usize,
    /// Processed inputs that could not leave the inbox, with why (they are skipped unread by the
    /// next batch and moved again then).
    pub not_archived: Vec<(PathBuf, String)>,
}

impl BatchReport {
    /// `ok`, or `partial` when inputs were bad or partly unreadable, processed inputs could not
    /// leave the inbox, or the feed was not written (the exit status says the same).
    pub fn outcome(&self) -> &'static str {
        if self.failed.is_empty() && self.warned.is_empty() && self.feed_error.is_none() && self.not_archived.is_empty()
        {
            "ok"
        } else {
            "partial"
        }
    }

    /// An input skipped: processed before (or the same content as another of this batch).
    fn skip(&mut self, kind: InputKind) {
        self.skipped += 1;
        self.count(kind, "skipped");
    }

    fn count(&mut self, kind: InputKind, outcome: &str) {
        *self.by_kind.entry(kind.as_str().into()).or_default().entry(outcome.into()).or_default() += 1;
    }
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
        if !self.retried.is_empty() {
            writeln!(
                f,
                "inputs left for the next batch (upload in progress, sidecar not yet arrived): {}",
                self.retried.len()
            )?;
        }
        writeln!(
            f,
            "frames: {} scored, {} with smoke, {} sighting(s) awaiting confirmation, {} not scored (night infrared)",
            self.frames_scored - self.frames_skipped,
            self.frames_with_smoke,
            self.awaiting_confirmation,
            self.frames_skipped
        )?;
        if self.drones_scored > 0 {
            writeln!(
                f,
                "drone photos: {} scored, {} with smoke (each a sighting), {} not scored (night infrared)",
                self.drones_scored - self.drones_skipped,
                self.drones_with_smoke,
                self.drones_skipped
            )?;
        }
        for n in &self.tower_notices {
            writeln!(f, "tower notice for the county office: {n}")?;
        }
        writeln!(
            f,
            "detections: {} in the county, {} suppressed on known heat sources, {} outside the county (dropped)",
            self.detections, self.suppressed, self.outside_aoi
        )?;
        if self.history > 0 {
            writeln!(
                f,
                "history: {} point(s) seen before the live window (events.live_window_h): recorded for the mask, plan and ledger, no ticket",
                self.history
            )?;
        }
        if self.forecasts > 0 {
            writeln!(f, "weather: {} rain forecast(s) read (the 下雨前 risk window)", self.forecasts)?;
        }
        write!(f, "tickets: {} new, {} sightings joined existing tickets", self.opened.len(), self.joined)?;
        if self.duplicates > 0 {
            write!(f, "; {} sighting(s) already recorded from another input (not counted again)", self.duplicates)?;
        }
        if !self.alarm_latency_s.is_empty() {
            let mut l = self.alarm_latency_s.clone();
            l.sort_unstable();
            write!(
                f,
                "\nalarm latency (frame captured → ticket written): median {} s, max {} s over {} alarm(s)",
                l[l.len() / 2],
                l[l.len() - 1],
                l.len()
            )?;
        }
        if self.late_alarms > 0 {
            write!(
                f,
                "\nalarms: {} new camera/drone ticket(s) pushed later than sla.alarm_min after the sighting",
                self.late_alarms
            )?;
        }
        Ok(())
    }
}

/// An input as found: where it is, what kind, and (when it could be read) its checksum, size
/// and modification time at the moment it was hashed.
struct Found {
    kind: InputKind,
    path: PathBuf,
    sha: String,
    stamp: Option<(u64, std::time::SystemTime)>,
}

/// A file's size and modification time, when it can be read.
fn stamp_of(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)))
}

impl Found {
    /// Whether the file is no longer what was hashed (an upload still in progress).
    fn changed(&self) -> bool {
        self.stamp.is_some() && stamp_of(&self.path) != self.stamp
    }
}

/// The view masks learned from the store's unconfirmed flagged frames (see
/// `events::learn_masks`), as of now.
pub fn learned_masks(store: &Store, cfg: &Config) -> anyhow::Result<Vec<crate::domain::ViewMask>> {
    let unconfirmed = store.unconfirmed_flags(chrono::Utc::now(), cfg.confirm.mask_lookback_days)?;
    Ok(crate::events::learn_masks(&unconfirmed, &cfg.confirm))
}

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

/// Row warnings of one input written to the log; the rest are counted.
const WARNINGS_SHOWN: usize = 20;

/// Why a detection cannot be stored as it is, if so: an impossible time, or a value that is
/// not a number (SQLite would store NaN as NULL and refuse the row, failing the whole batch).
fn implausible(d: &crate::domain::Detection) -> Option<String> {
    if let Err(why) = crate::time::plausible(d.observed_at) {
        return Some(why);
    }
    let values = [("lon", d.lon), ("lat", d.lat), ("radius_m", d.radius_m), ("confidence", d.confidence as f64)];
    values.iter().find(|(_, v)| !v.is_finite()).map(|(name, v)| format!("{name} is {v}, not a number"))
}

/// How far above the horizon a change may begin and still be a plume's base (the base is found
/// on a thumbnail: a row is a fraction of a degree).
const SKY_MARGIN_DEG: f64 = 0.5;

/// Everything a batch holds for its whole run.
struct Ctx<'a> {
    cfg: &'a Config,
    aoi: &'a Aoi,
    /// The district's drawn view masks and those learned from the store, for the whole batch.
    masks: Vec<crate::domain::ViewMask>,
    store: Store,
    mode: Quarantine,
    report: BatchReport,
    /// Rain forecasts whose rain has not ended (the 下雨前 window), read again after each
    /// forecast input is recorded.
    forecasts: Vec<crate::burn::Forecast>,
    /// A view model's rule and warm-up threshold, loaded when its first frame is recorded (a
    /// worker may record frames another worker analysed).
    view_model: Option<(std::sync::Arc<crate::detect::view::ViewModel>, f32)>,
}

/// How far back forecasts are kept in memory: a late satellite table of yesterday still meets
/// the forecasts it was seen under.
const FORECASTS_BACK_DAYS: i64 = 2;

fn current_forecasts(store: &Store) -> Result<Vec<crate::burn::Forecast>, crate::store::StoreError> {
    store.forecasts(chrono::Utc::now() - chrono::Duration::days(FORECASTS_BACK_DAYS))
}

impl<'a> Ctx<'a> {
    /// A batch's or a worker's context over `store`: the district's drawn view masks and those
    /// learned from the store, the forecasts in force.
    fn new(cfg: &'a Config, aoi: &'a Aoi, mode: Quarantine, inputs: usize) -> anyhow::Result<Ctx<'a>> {
        let store = Store::open(&cfg.paths.store)?;
        let mut masks = aoi.view_masks.clone();
        masks.extend(learned_masks(&store, cfg)?);
        let report = BatchReport { inputs, ..Default::default() };
        let forecasts = current_forecasts(&store)?;
        Ok(Ctx { cfg, aoi, masks, store, mode, report, forecasts, view_model: None })
    }

    /// Reviews the towers, prunes what `[retention]` no longer keeps, writes the feed if tickets
    /// changed, and hands the report back. Every input is committed by now: a feed folder that
    /// cannot be written makes the batch partial (said, exit 1), not a failure that hides what
    /// was recorded.
    fn write_feed(mut self) -> anyhow::Result<BatchReport> {
        self.review_towers()?;
        let now = chrono::Utc::now();
        let pruned = self.store.prune(&self.cfg.retention, now)?;
        if pruned.total() > 0 {
            tracing::info!("pruned by [retention]: {pruned}");
        }
        if self.mode == Quarantine::Move {
            match prune_archive(self.cfg, now) {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} archive day folder(s) older than retention.archive_days deleted"),
                Err(e) => tracing::warn!("cannot prune the archive {}: {e}", self.cfg.paths.archive.display()),
            }
        }
        match self.feed(now).and_then(|mut files| {
            files.extend(self.fire_point_feed(now)?);
            Ok(files)
        }) {
            Ok(files) => self.report.feed = files,
            Err(e) => self.report.feed_error = Some(crate::text::error_chain(e.as_ref())),
        }
        Ok(self.report)
    }

    /// The fire-point ledger of the feed folder (`ledger::FEED_FILE`: points recorded within
    /// `feed.window_days`), written again when this batch recorded inputs, a ticket changed, the
    /// window moved on a day, or the file is missing (`.fire-points-state` says what it was
    /// written from).
    fn fire_point_feed(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Option<PathBuf>> {
        use anyhow::Context as _;
        let dir = &self.cfg.paths.feed;
        let (path, state_path) = (dir.join(crate::ledger::FEED_FILE), dir.join(".fire-points-state"));
        let since = now - chrono::Duration::days(self.cfg.feed.window_days);
        let state = format!(
            "{} {}",
            self.store.tickets_version()?,
            since.with_timezone(&crate::time::beijing()).format("%Y-%m-%d")
        );
        // under the feed's lock, as the ticket files: workers finishing at once take turns, and
        // the file and its state are one writer's
        crate::feed::locked(dir, || {
            let current = std::fs::read_to_string(&state_path).is_ok_and(|s| s == state) && path.is_file();
            if current && self.report.processed == 0 {
                return Ok(Some(path.clone()));
            }
            let filter = crate::store::FirePointFilter { recorded_since: Some(since), ..Default::default() };
            let csv = crate::ledger::to_csv(self.aoi, &self.store.fire_point_ledger(&filter)?);
            crate::files::write_atomic(&path, csv.as_bytes())
                .with_context(|| format!("cannot write feed file {}", path.display()))?;
            crate::files::write_atomic(&state_path, state.as_bytes())
                .with_context(|| format!("cannot write feed file {}", state_path.display()))?;
            Ok(Some(path.clone()))
        })
    }

    /// The feed files, written again only when tickets changed or the window moved on a day.
    fn feed(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Vec<PathBuf>> {
        let dir = &self.cfg.paths.feed;
        let since = now - chrono::Duration::days(self.cfg.feed.window_days);
        let (_, _, _, tickets) = self.store.counts()?;
        let state = crate::feed::FeedState {
            version: self.store.tickets_version()?,
            tickets,
            from_day: since.with_timezone(&crate::time::beijing()).format("%Y-%m-%d").to_string(),
        };
        // read and written under the feed's lock: a worker finishing at once writes after
        crate::feed::refresh(dir, &state, || Ok(self.store.tickets_for_feed(since)?))
    }

    /// Locates and records one input's detections, or quarantines it, or (a file still being
    /// written) leaves it for the next batch.
    fn finish(&mut self, input: &Found, detected: Result<Detected, InputError>) -> anyhow::Result<()> {
        match self.checked(input, detected) {
            Ok(found) => self.record(input, found),
            Err(e) if e.is_retry() => {
                tracing::warn!("{}", anyhow::Error::from(e));
                self.report.retried.push(input.path.clone());
                self.report.count(input.kind, "retried");
                Ok(())
            }
            Err(e) => self.reject(input, &crate::text::error_chain(&e)),
        }
    }

    /// Counts a scored frame or drone photo; a smoke session that cannot start mid-batch is the
    /// machine's fault, not the input's: fatal.
    fn scored(&mut self, kind: InputKind, detected: &Result<Detected, InputError>) -> anyhow::Result<()> {
        match detected {
            Ok(d) if kind == InputKind::Drone => {
                self.report.drones_scored += 1;
                self.report.drones_with_smoke += d.detections.len();
            }
            Ok(d) => {
                self.report.frames_scored += 1;
                self.report.frames_with_smoke += d.detections.len();
            }
            Err(InputError::Smoke(e)) if e.is_fatal() => anyhow::bail!("{}", crate::text::error_chain(e)),
            Err(_) => {}
        }
        Ok(())
    }

    /// An input's detections as they may be recorded, or why not: a reader's error, an upload
    /// still in progress, an impossible value.
    fn checked(&self, input: &Found, detected: Result<Detected, InputError>) -> Result<Detected, InputError> {
        let impossible = detected.as_ref().ok().and_then(|d| d.detections.iter().find_map(implausible));
        let detected = match (detected, impossible) {
            // an upload still in progress can fail to parse, or parse short: either way, later
            (Err(e), _) if !e.is_retry() && input.changed() => {
                tracing::debug!("{}: {e:#}", input.path.display());
                Err(InputError::StillWriting { path: input.path.clone() })
            }
            (Ok(_), _) if input.changed() => Err(InputError::StillWriting { path: input.path.clone() }),
            // a reader let an impossible value through: the input is bad, nothing is stored
            (Ok(_), Some(why)) => Err(InputError::ImpossibleValue { path: input.path.clone(), why }),
            (other, _) => other,
        };
        detected
    }

    /// The view model's rule and warm-up threshold (the configured `camera.threshold`, else the
    /// model's), loaded once.
    fn view_model(&mut self) -> anyhow::Result<(std::sync::Arc<crate::detect::view::ViewModel>, f32)> {
        if self.view_model.is_none() {
            let model = SmokeModel::load(&self.cfg.camera.model, self.cfg.camera.threshold)?;
            let view = model.view.clone().ok_or_else(|| {
                anyhow::anyhow!("a frame was scored by a view model but {} is not one", model.path.display())
            })?;
            self.view_model = Some((view, model.threshold));
        }
        Ok(self.view_model.clone().expect("loaded above"))
    }

    /// Judges a frame a view model scored against its view's memory (`detect::view`): its
    /// sighting, if it shows something new whose change begins on the ground, and the view's
    /// memory after it.
    fn judge_in_view(
        &mut self,
        scored: &crate::detect::frames::ScoredFrame,
        observed: &mut crate::domain::FrameObservation,
    ) -> anyhow::Result<(Vec<crate::domain::Detection>, crate::store::StoredView)> {
        use crate::detect::view;
        let (model, warm_threshold) = self.view_model()?;
        let out = scored.score.view.as_ref().ok_or_else(|| anyhow::anyhow!("a view model's frame without keys"))?;
        let tol = (self.cfg.confirm.pan_tolerance_deg, self.cfg.confirm.tilt_tolerance_deg);
        let pose = (observed.pan_deg, observed.tilt_deg, observed.hfov_deg);
        let (id, mut memory) = self.store.view(&observed.camera_id, pose, tol)?;
        let verdict = view::judge(&memory, &scored.score.tiles, out, &model, warm_threshold);
        let tile = verdict.tile.map(|i| scored.score.tiles[i]);
        // where the change begins, against the view's background (the plume's base); without
        // one, the bottom of the lowest hot tile under the chosen one
        let from_background = match (&tile, &memory.background, &scored.thumb) {
            (Some(t), Some(bg), Some(now)) => view::change_base(now, bg, t.bbox),
            _ => None,
        };
        // the view as a whole against its own history (tower health): judged before this frame
        // moves the background, once the background has seen enough frames
        if let (Some(bg), Some(now)) = (&memory.background, &scored.thumb) {
            if memory.frames >= view::VIEW_OFF_AFTER {
                observed.view_off = view::view_off(now, bg).map(|v| v.as_str().to_string());
            }
        }
        memory.remember(&scored.score.tiles, out, scored.thumb.as_ref(), observed.captured_at, &model);
        observed.score = verdict.score;
        observed.tile_box = scored.tile_fractions(tile.as_ref().or(scored.score.best()));
        let (Some(t), Some(cam)) = (tile, self.aoi.camera(&observed.camera_id)) else {
            return Ok((Vec::new(), (id, memory)));
        };
        let threshold = if verdict.warm_up { warm_threshold } else { t.prob };
        let base = from_background.unwrap_or_else(|| scored.score.plume_base_of(Some(&t), threshold));
        // a plume rises from the ground: a change that begins above the horizon (by more than
        // half a degree, a thumbnail row or two) is a cloud
        let aspect = scored.height as f64 / scored.width as f64;
        if crate::locate::camera::ray(cam, &scored.pose, aspect, base.0, base.1).1 > SKY_MARGIN_DEG {
            tracing::debug!(camera = %observed.camera_id, ?base, ?from_background, "{}; but its change begins above the horizon", verdict.why);
            observed.score = observed.score.min(0.49);
            return Ok((Vec::new(), (id, memory)));
        }
        let mut why = serde_json::json!({ "view": verdict.why, "warm_up": verdict.warm_up });
        if from_background.is_some() {
            why["base_from_background"] = true.into();
        }
        let detection = crate::detect::frames::sighting(self.aoi, cam, scored, Some(&t), base, observed, why);
        Ok((vec![detection], (id, memory)))
    }

    fn record(&mut self, input: &Found, mut found: Detected) -> anyhow::Result<()> {
        let mut view = None;
        if let (Some(scored), Some(frame)) = (found.scored.take(), found.frame.as_mut()) {
            let (detections, memory) = self.judge_in_view(&scored, frame)?;
            self.report.frames_with_smoke += detections.len();
            found.detections = detections;
            view = Some(memory);
        }
        // the summary names the first few bad rows; the log (-v) a few more, then counts
        for w in found.warnings.iter().take(WARNINGS_SHOWN) {
            tracing::info!("{w}");
        }
        if found.warnings.len() > WARNINGS_SHOWN {
            tracing::info!("{}: {} more unreadable rows", input.path.display(), found.warnings.len() - WARNINGS_SHOWN);
        }
        if !found.warnings.is_empty() {
            self.report.warned.push((input.path.clone(), found.warnings));
        }
        let mut placed = locate(self.aoi, found.detections, self.cfg.events.heat_source_buffer_m);
        // a flagged frame whose smoke lies in a masked part of its view is no alarm
        let masked = found.frame.as_ref().and_then(|f| crate::events::view_mask(f, &self.masks, &self.cfg.confirm));
        for loc in placed.inside.iter_mut().filter(|l| l.suppressed_by.is_none() && masked.is_some()) {
            loc.suppressed_by = masked.clone();
        }
        // a point seen before the live window is history: no ticket (a back-filled table)
        let now = chrono::Utc::now();
        for loc in placed.inside.iter_mut().filter(|l| l.suppressed_by.is_none()) {
            loc.suppressed_by = self.cfg.events.history(&loc.detection, now);
        }
        for loc in placed
            .inside
            .iter_mut()
            .filter(|l| l.suppressed_by.is_none() && l.detection.source == SourceKind::Satellite)
        {
            let history = self.store.footprint_history(&loc.detection, &self.cfg.persistence)?;
            loc.suppressed_by = crate::persistence::verdict(&history, &self.cfg.persistence);
        }
        if let Some(note) = &found.note {
            tracing::info!("{}: {note}", input.path.display());
            match input.kind {
                InputKind::Drone => self.report.drones_skipped += 1,
                _ => self.report.frames_skipped += 1,
            }
        }
        let at = InputRef {
            path: &input.path,
            sha256: &input.sha,
            kind: input.kind.as_str(),
            frame: found.frame.as_ref(),
            note: found.note.as_deref(),
            forecasts: &found.forecasts,
            view: view.as_ref(),
        };
        let rules = self.cfg.rules().with_forecasts(&self.forecasts);
        let rec =
            record_input(&mut self.store, at, &placed.inside, &rules, self.cfg.persistence.cell_deg, &self.cfg.notify)?;
        if !found.forecasts.is_empty() {
            self.report.forecasts += found.forecasts.len();
            self.forecasts = current_forecasts(&self.store)?;
        }
        self.report.processed += 1;
        self.report.count(input.kind, "done");
        self.report.detections += placed.inside.len();
        self.report.outside_aoi += placed.outside;
        self.report.suppressed += rec.suppressed;
        self.report.history += rec.history;
        self.report.joined += rec.joined.len();
        self.report.awaiting_confirmation += rec.awaiting;
        self.report.duplicates += rec.duplicates;
        // the county's rule: a camera alarm reaches the grid member within sla.alarm_min
        // of the sighting; a backlog (or a slow camera upload) breaks it, so say so
        if matches!(input.kind, InputKind::Frame | InputKind::Drone) && !rec.opened.is_empty() {
            let seen = placed.inside.iter().map(|l| l.detection.observed_at).min();
            let written = chrono::Utc::now(); // the input's transaction has just committed
            if let Some(s) = seen {
                self.report.alarm_latency_s.extend(rec.opened.iter().map(|_| (written - s).num_seconds()));
            }
            let limit = chrono::Duration::minutes(self.cfg.sla.alarm_min);
            if seen.is_some_and(|s| written - s > limit) {
                self.report.late_alarms += rec.opened.len();
            }
        }
        if matches!(input.kind, InputKind::Frame | InputKind::Drone) && !rec.opened.is_empty() {
            self.keep_evidence(input, found.frame.as_ref(), &placed.inside, &rec.opened)?;
        }
        self.report.opened.extend(rec.opened);
        // committed: the input may leave the inbox now
        self.leave_inbox(input.kind, &input.path, &input.sha, input.stamp.map(inbox::stamp), true)
    }

    /// An input whose content the store holds as processed: skipped, and sent on (a second file
    /// of content recorded under another name leaves too, without taking over the record).
    fn skip_done(&mut self, f: &Found) -> anyhow::Result<()> {
        tracing::info!(file = %f.path.display(), "already processed (same content seen before)");
        self.report.skip(f.kind);
        let recorded = self.store.input_file(&f.sha)?;
        let own = recorded.is_some_and(|p| Path::new(&p) == f.path);
        self.leave_inbox(f.kind, &f.path, &f.sha, f.stamp.map(inbox::stamp), own)
    }

    /// Tower health (`crate::health`): a tower in trouble gets a notice for the county office, a
    /// recovered one's notice is closed. The clock is the newest frame any tower sent (capped at
    /// now), so a replayed day is judged as it happened.
    fn review_towers(&mut self) -> anyhow::Result<()> {
        let (now, cam) = (chrono::Utc::now(), &self.cfg.camera);
        let Some(clock) = self.store.health_clock(now)? else { return Ok(()) };
        let frames = self.store.tower_frames(clock - chrono::Duration::days(crate::store::HEALTH_DAYS))?;
        let stale = chrono::Duration::minutes(cam.stale_after_min);
        let open = self.store.open_notices()?;
        for (camera, seen) in &frames {
            let verdict = crate::health::judge(seen, clock, stale, cam.frozen_frames);
            let mine: Vec<_> = open.iter().filter(|n| &n.camera_id == camera).collect();
            for n in mine.iter().filter(|n| verdict.is_none_or(|(kind, _)| kind != n.kind)) {
                tracing::info!(camera, "tower {}: recovered", n.kind.as_str());
                let back = seen.last().map_or(clock, |f| f.at);
                // another trouble is no recovery: closed quietly, the new notice says it
                self.store.close_notice(n.id, back, verdict.is_none())?;
            }
            if let Some((kind, since)) = verdict.filter(|(kind, _)| !mine.iter().any(|n| n.kind == *kind)) {
                tracing::warn!(camera, %since, "tower {} ({})", kind.as_str(), kind.chinese());
                self.store.open_notice(camera, kind, since, now)?;
                self.report.tower_notices.push(format!("{camera} {} since {since}", kind.as_str()));
            }
        }
        Ok(())
    }

    /// The pictures of the tickets a frame or drone photo just opened (`crate::evidence`),
    /// kept by the store after the tickets committed: a ticket whose pictures cannot be made is
    /// still a ticket, and its evidence says why. Only the store failing stops the batch.
    fn keep_evidence(
        &mut self,
        input: &Found,
        frame: Option<&crate::domain::FrameObservation>,
        placed: &[crate::locate::Located],
        opened: &[String],
    ) -> anyhow::Result<()> {
        let region = match frame {
            Some(f) => Some(f.tile_box),
            None => placed.iter().find_map(|l| {
                let t = l.detection.evidence.get("tile")?.as_array()?;
                let v: Vec<f64> = t.iter().filter_map(|x| x.as_f64()).collect();
                <[f64; 4]>::try_from(v).ok()
            }),
        };
        let earlier = match frame {
            Some(f) => {
                let tol = (self.cfg.confirm.pan_tolerance_deg, self.cfg.confirm.tilt_tolerance_deg);
                self.store.earlier_frame(&f.camera_id, (f.pan_deg, f.tilt_deg, f.hfov_deg), tol, f.captured_at)?
            }
            None => None,
        };
        // the earlier frame's file is looked for once (in the archive, then the inbox): gone, it
        // is said so
        let kept = earlier.as_ref().and_then(|c| c.iter().find(|p| p.exists())).map(PathBuf::as_path);
        let gone = earlier.is_some() && kept.is_none();
        let made = crate::evidence::pictures(
            &input.path,
            region.unwrap_or([0.0, 0.0, 1.0, 1.0]),
            kept,
            self.cfg.limits.max_frame_pixels,
        );
        let (pictures, note) = match made {
            Ok((pics, mut note)) => {
                if gone {
                    note = Some(
                        "the view's earlier frame is no longer kept (retention.inputs, retention.archive_days)".into(),
                    );
                }
                (pics.into_iter().map(|p| (p.name, p.jpeg)).collect::<Vec<_>>(), note)
            }
            Err(why) => {
                tracing::warn!("{}: no evidence pictures: {why}", input.path.display());
                (Vec::new(), Some(format!("no pictures could be made: {why}")))
            }
        };
        for id in opened {
            self.store.put_evidence(id, &input.sha, &pictures, note.as_deref(), chrono::Utc::now())?;
        }
        Ok(())
    }

    /// Quarantines a bad input with its reason (the message is bounded) and records it. The
    /// store hears first: killed between the two, the input is still in the inbox and known bad,
    /// and the next batch tries it again (a worker never finds an input gone unrecorded).
    fn reject(&mut self, input: &Found, msg: &str) -> anyhow::Result<()> {
        let msg = crate::text::clip(msg, crate::text::MESSAGE_MAX);
        self.store.record_quarantine(&input.path, &input.sha, input.kind.as_str(), &msg)?;
        let msg = match quarantine::quarantine(self.cfg, &input.path, input.kind, &msg, self.mode) {
            Ok(to) => {
                tracing::info!(file = %input.path.display(), quarantined = %to.display(), "bad input quarantined: {msg}");
                msg
            }
            // the input is still known bad (the store says so, so it is not retried every run)
            Err(e) => {
                let why = crate::text::error_chain(e.as_ref());
                tracing::error!("{}: could not be quarantined ({why}); it stays where it is", input.path.display());
                let msg = format!("{msg} (not quarantined: {why})");
                self.store.record_quarantine(&input.path, &input.sha, input.kind.as_str(), &msg)?;
                msg
            }
        };
        self.report.failed.push((input.path.clone(), msg));
        self.report.count(input.kind, "quarantined");
        Ok(())
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

/// Runs a batch over `inputs`, and keeps its record in the store (`batch_runs`). Errors
/// returned here are fatal (AOI, store, model); bad inputs are in the report instead.
pub fn run(cfg: &Config, inputs: Vec<(InputKind, PathBuf)>, mode: Quarantine) -> anyhow::Result<BatchReport> {
    let started = chrono::Utc::now();
    let done = run_batch(cfg, inputs, mode);
    keep_record(cfg, started, &done);
    done
}

/// The record of a batch that ran (not one that found another running, nor one whose store does
/// not exist): best effort, a store that cannot take it is said in the log only.
fn keep_record(cfg: &Config, started: chrono::DateTime<chrono::Utc>, done: &anyhow::Result<BatchReport>) {
    let n = |v: usize| v as i64;
    let run = match done {
        Err(e) if e.is::<Busy>() || e.is::<Stuck>() => return,
        Err(_) => crate::store::BatchRun {
            worker: worker::worker_name(),
            started_at: started,
            finished_at: chrono::Utc::now(),
            outcome: "failed".into(),
            inputs: 0,
            processed: 0,
            skipped: 0,
            failed: 0,
            retried: 0,
            opened: 0,
            by_kind: Default::default(),
        },
        Ok(r) => crate::store::BatchRun {
            worker: worker::worker_name(),
            started_at: started,
            finished_at: chrono::Utc::now(),
            outcome: r.outcome().into(),
            inputs: n(r.inputs),
            processed: n(r.processed),
            skipped: n(r.skipped),
            failed: n(r.failed.len()),
            retried: n(r.retried.len()),
            opened: n(r.opened.len()),
            by_kind: r.by_kind.clone(),
        },
    };
    let kept = crate::store::Store::open_existing(&cfg.paths.store).and_then(|mut s| s.record_batch_run(&run));
    match kept {
        Ok(()) | Err(crate::store::StoreError::Missing { .. }) => {}
        Err(e) => tracing::warn!("the batch's record was not kept: {}", crate::text::error_chain(&e)),
    }
}

fn run_batch(cfg: &Config, inputs: Vec<(InputKind, PathBuf)>, mode: Quarantine) -> anyhow::Result<BatchReport> {
    // the district first: a run that cannot start creates nothing (no store folder, no lock)
    let aoi = Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    // a shared PostgreSQL store: one of many workers, no lock of one batch at a time
    if crate::store::is_postgres_url(&cfg.paths.store) {
        return worker::run(cfg, &aoi, inputs, mode);
    }
    let _lock = lock::lock(&cfg.paths.store, cfg.batch.stuck_after_min)?;
    let mut ctx = Ctx::new(cfg, &aoi, mode, inputs.len())?;
    let mut todo = Vec::new();
    let mut batch_shas = std::collections::HashSet::new();
    let (seen, inputs) = inbox::unchanged(&ctx.store, inputs)?;
    ctx.skip_seen(seen)?;
    for (kind, path) in inputs {
        match examine(kind, &path) {
            Err(bad) => {
                let (unread, err) = *bad;
                ctx.finish(&unread, Err(err))?
            }
            // the same content under a second name (a delivery repeated) is done once; a
            // quarantined input delivered again (its sidecar fixed, say) is tried again
            Ok(f) if ctx.store.input_status(&f.sha)?.as_deref() == Some("done") => ctx.skip_done(&f)?,
            Ok(f) if !batch_shas.insert(f.sha.clone()) => {
                tracing::info!(file = %path.display(), "the same content as another input of this batch: left for the next");
                ctx.report.skip(kind);
            }
            Ok(f) => todo.push(f),
        }
    }
    let (photos, others): (Vec<Found>, Vec<Found>) =
        todo.into_iter().partition(|f| matches!(f.kind, InputKind::Frame | InputKind::Drone));
    // frames first, then drone photos: the order a worker records them in (worker::order_key)
    let (frames, drones): (Vec<Found>, Vec<Found>) = photos.into_iter().partition(|f| f.kind == InputKind::Frame);
    tracing::info!(
        "batch: {} new: {} satellite or weather file(s), {} frame(s), {} drone photo(s)",
        others.len() + frames.len() + drones.len(),
        others.len(),
        frames.len(),
        drones.len()
    );
    // the model is loaded and its first session started before anything is recorded: a
    // missing runtime or a model that cannot run is fatal (exit 2, nothing processed)
    let detector = if frames.is_empty() && drones.is_empty() { None } else { Some(detector(cfg, &aoi)?) };
    let companion_wait = std::time::Duration::from_secs(cfg.batch.companion_wait_min.max(0) as u64 * 60);
    let settings = Settings { hotspot: &cfg.hotspot, limits: &cfg.limits, companion_wait };
    for input in &others {
        ctx.finish(input, analyse_file(input.kind, &input.path, settings))?;
    }
    if let Some(detector) = detector {
        score_frames(&mut ctx, &detector, &frames)?;
        score_frames(&mut ctx, &detector, &drones)?;
    }
    ctx.write_feed()
}

/// The camera detector of a batch or a worker: the model loaded and its first session started
/// (a missing runtime or a model that cannot run is fatal before anything is recorded).
fn detector<'a>(cfg: &Config, aoi: &'a Aoi) -> anyhow::Result<FrameDetector<'a>> {
    let model = SmokeModel::load(&cfg.camera.model, cfg.camera.threshold)?;
    let wait = std::time::Duration::from_secs(cfg.camera.sidecar_wait_min.max(0) as u64 * 60);
    Ok(FrameDetector::new(model, aoi, wait)?.with_max_pixels(cfg.limits.max_frame_pixels).with_bands(&cfg.camera))
}

/// An input as a batch or a worker first meets it: a regular, non-empty, readable file and its
/// checksum; or why it cannot be used, with a stand-in checksum that names the file (so the bad
/// input is recorded once). Only regular files are read: a FIFO named by hand would hang the batch.
fn examine(kind: InputKind, path: &Path) -> Result<Found, Box<(Found, InputError)>> {
    let unread = |what: &str| Found { kind, path: path.into(), sha: format!("{what}:{}", path.display()), stamp: None };
    if let Err(what) = crate::ingest::regular_file(path) {
        return Err(Box::new((unread("unread"), InputError::NotRegular { path: path.into(), what })));
    }
    let stamp = stamp_of(path);
    if stamp.is_some_and(|(len, _)| len == 0) {
        return Err(Box::new((unread("empty"), InputError::EmptyFile { path: path.into() })));
    }
    match sha256_file(path) {
        Ok(sha) => Ok(Found { kind, path: path.into(), sha, stamp }),
        Err(source) => Err(Box::new((unread("unread"), InputError::Unreadable { path: path.into(), source }))),
    }
}

/// What an input other than a frame or photo gives: a forecast is read (it has no fires), the
/// rest go through the fire tests.
fn analyse_file(kind: InputKind, path: &Path, settings: Settings) -> Result<Detected, InputError> {
    match kind {
        InputKind::Weather => {
            Ok(Detected { forecasts: crate::ingest::weather::read_forecasts(path)?, ..Default::default() })
        }
        _ => crate::detect::detect_file(kind, path, settings),
    }
}

/// Scores frames (or drone photos: `frames` are all of one kind) a chunk at a time (memory stays
/// bounded whatever the inbox size), with one detector, and so one set of ONNX sessions, for
/// the whole batch.
fn score_frames(ctx: &mut Ctx, detector: &FrameDetector, frames: &[Found]) -> anyhow::Result<()> {
    let Some(kind) = frames.first().map(|f| f.kind) else { return Ok(()) };
    let bar = progress(frames.len(), if kind == InputKind::Drone { "drone photos" } else { "frames" });
    for chunk in frames.chunks(ctx.cfg.camera.chunk.max(1)) {
        let paths: Vec<&Path> = chunk.iter().map(|f| f.path.as_path()).collect();
        let results = match kind {
            InputKind::Drone => detector.detect_drones(&paths, &ctx.cfg.drone),
            _ => detector.detect_all(&paths),
        };
        for (input, detected) in chunk.iter().zip(results) {
            ctx.scored(input.kind, &detected)?;
            ctx.finish(input, detected)?;
            bar.inc(1);
        }
        // the bar is drawn on a terminal only: cron's log (and -v) gets a line a chunk
        if bar.is_hidden() {
            tracing::info!("{}: {} of {} scored", kind.as_str(), bar.position(), frames.len());
        }
    }
    bar.finish_and_clear();
    tracing::info!(inputs = frames.len(), kind = kind.as_str(), sessions = detector.sessions(), "frames scored");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r6_a_file_that_grows_after_it_was_hashed_counts_as_still_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scene.tif");
        std::fs::write(&path, b"first half").unwrap();
        let stamp = stamp_of(&path);
        let found = Found { kind: InputKind::Satellite, path: path.clone(), sha: "x".into(), stamp };
        assert!(!found.changed());
        std::fs::write(&path, b"first half, second half").unwrap();
        assert!(found.changed(), "the upload went on");
        assert!(InputError::StillWriting { path }.is_retry());
    }
}
