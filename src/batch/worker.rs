//! A batch on a shared PostgreSQL store: one of any number of workers, on any number of
//! machines, over one inbox (a shared folder). Each worker registers what it finds in the
//! store's queue, then claims a few inputs at a time and analyses them (decoding, the smoke
//! model, hotspot tests: the costly part, done in parallel across workers) and stores the
//! analysis; whichever worker holds the recorder lock records analysed inputs in queue order
//! (locate, masks, persistence, the event rule, tickets: milliseconds an input). Recording in
//! one order is what keeps ticket ids and merges those of one batch over the same inputs, whatever
//! the number of workers and whoever finished first.
//!
//! A killed worker loses nothing: its claims run out after `batch.claim_s` and are taken over,
//! its recorder lock goes with its connection, and an input is recorded (and leaves the queue)
//! in one transaction. Workers leave when the queue is empty.

use std::path::PathBuf;

use chrono::Utc;

use super::*;
use crate::store::Queued;

/// A worker's name in the queue: host and process.
pub(super) fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// An input's place in the recording order: rain forecasts first, then the other inputs but
/// frames and drone photos, then frames, then drone photos, each by path (the order one batch
/// records them in).
fn order_key(kind: InputKind, path: &Path) -> String {
    let rank = match kind {
        InputKind::Weather => 0,
        InputKind::Frame => 2,
        InputKind::Drone => 3,
        _ => 1,
    };
    format!("{rank}/{}", path.display())
}

/// What a worker registers for an input it found: its checksum, or, for a file that cannot be
/// hashed, a name the claiming worker will quarantine it under; nothing for a file that is gone
/// (another worker quarantined it since this one listed the inbox).
fn registered(kind: InputKind, path: &Path) -> Option<Found> {
    if !path.exists() && path.symlink_metadata().is_err() {
        return None;
    }
    Some(examine(kind, path).unwrap_or_else(|bad| bad.0))
}

/// What the claiming worker finds when it opens an input again: the checks of a batch
/// (regular, not empty, readable) and whether it is still what was registered. `None`: the file
/// is gone (quarantined by a worker killed before it could say so in the queue, or removed).
fn reopened(q: &Queued, kind: InputKind) -> Option<Result<Found, InputError>> {
    let path = q.path.clone();
    if !path.exists() && path.symlink_metadata().is_err() {
        return None;
    }
    Some(reopened_file(q, kind, path))
}

fn reopened_file(q: &Queued, kind: InputKind, path: PathBuf) -> Result<Found, InputError> {
    let found = examine(kind, &path).map_err(|bad| bad.1)?;
    if found.sha != q.sha256 {
        return Err(InputError::StillWriting { path });
    }
    Ok(found)
}

/// Runs one worker over `inputs` (the inbox as this worker found it).
pub(super) fn run(
    cfg: &Config,
    aoi: &Aoi,
    inputs: Vec<(InputKind, PathBuf)>,
    mode: Quarantine,
) -> anyhow::Result<BatchReport> {
    let mut ctx = Ctx::new(cfg, aoi, mode, inputs.len())?;
    let worker = worker_name();
    let mut queue = Vec::new();
    let (seen, inputs) = inbox::unchanged(&ctx.store, inputs)?;
    ctx.skip_seen(seen)?;
    for (kind, path) in inputs {
        let Some(f) = registered(kind, &path) else {
            continue;
        };
        if ctx.store.input_status(&f.sha)?.as_deref() == Some("done") {
            ctx.skip_done(&f)?;
            continue;
        }
        queue.push(Queued { key: order_key(kind, &path), sha256: f.sha, path, kind: kind.as_str().into() });
    }
    let added = ctx.store.enqueue(&queue, Utc::now())?;
    tracing::info!(worker, found = queue.len(), added, "inputs queued");
    let mut detector = None;
    let poll = std::time::Duration::from_millis(cfg.batch.poll_ms);
    loop {
        record_ready(&mut ctx)?;
        let claimed = ctx.store.claim(&worker, cfg.camera.chunk.max(1), Utc::now(), cfg.batch.claim_s)?;
        if claimed.is_empty() {
            // the rest is being analysed by others (or held by a dead worker until its claim
            // runs out): wait, record what they finish, take over what they leave
            if ctx.store.queue_len()? == 0 {
                break;
            }
            std::thread::sleep(poll);
            continue;
        }
        analyse(&mut ctx, &worker, &claimed, &mut detector)?;
    }
    ctx.write_feed()
}

/// Analyses the inputs `worker` claimed and stores each analysis in the queue; bad inputs are
/// quarantined at once, inputs still being written leave the queue for the next batch.
fn analyse<'a>(
    ctx: &mut Ctx<'a>,
    worker: &str,
    claimed: &[Queued],
    detector: &mut Option<FrameDetector<'a>>,
) -> anyhow::Result<()> {
    let mut frames = Vec::new();
    for q in claimed {
        let kind = InputKind::parse(&q.kind).unwrap_or(InputKind::Satellite);
        let found = match reopened(q, kind) {
            None => {
                tracing::warn!(file = %q.path.display(), "queued input is gone from the inbox; dropped from the queue");
                ctx.store.dequeue(&q.sha256)?;
                continue;
            }
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                let f = Found { kind, path: q.path.clone(), sha: q.sha256.clone(), stamp: None };
                settle(ctx, worker, &f, Err(e))?;
                continue;
            }
        };
        if matches!(kind, InputKind::Frame | InputKind::Drone) {
            frames.push(found);
            continue;
        }
        let companion_wait = std::time::Duration::from_secs(ctx.cfg.batch.companion_wait_min.max(0) as u64 * 60);
        let settings = Settings { hotspot: &ctx.cfg.hotspot, limits: &ctx.cfg.limits, companion_wait };
        let detected = super::analyse_file(kind, &found.path, settings);
        settle(ctx, worker, &found, detected)?;
    }
    if frames.is_empty() {
        return Ok(());
    }
    if detector.is_none() {
        *detector = Some(super::detector(ctx.cfg, ctx.aoi)?);
    }
    let detector = detector.as_ref().expect("loaded above");
    // tower frames and drone photos share the model's sessions
    let (drones, frames): (Vec<Found>, Vec<Found>) = frames.into_iter().partition(|f| f.kind == InputKind::Drone);
    let paths: Vec<&Path> = frames.iter().map(|f| f.path.as_path()).collect();
    for (input, detected) in frames.iter().zip(detector.detect_all(&paths)) {
        ctx.scored(input.kind, &detected)?;
        settle(ctx, worker, input, detected)?;
    }
    let paths: Vec<&Path> = drones.iter().map(|f| f.path.as_path()).collect();
    for (input, detected) in drones.iter().zip(detector.detect_drones(&paths, &ctx.cfg.drone)) {
        ctx.scored(input.kind, &detected)?;
        settle(ctx, worker, input, detected)?;
    }
    Ok(())
}

/// Stores one analysis for the recorder, or quarantines the input, or leaves it for later.
fn settle(ctx: &mut Ctx, worker: &str, input: &Found, detected: Result<Detected, InputError>) -> anyhow::Result<()> {
    match ctx.checked(input, detected) {
        Ok(found) => {
            let json = serde_json::to_string(&found)?;
            if !ctx.store.analysed(&input.sha, worker, &json)? {
                tracing::info!(file = %input.path.display(), "claim taken over by another worker; its analysis is kept");
            }
            Ok(())
        }
        Err(e) if e.is_retry() => {
            tracing::warn!("{}", anyhow::Error::from(e));
            ctx.report.retried.push(input.path.clone());
            ctx.report.count(input.kind, "retried");
            ctx.store.dequeue(&input.sha)?;
            Ok(())
        }
        Err(e) => ctx.reject(input, &crate::text::error_chain(&e)),
    }
}

/// Records the analysed inputs at the head of the queue, in order, if no other worker is
/// recording; stops at the first one still being analysed.
fn record_ready(ctx: &mut Ctx) -> anyhow::Result<()> {
    if !ctx.store.try_recording()? {
        return Ok(());
    }
    let done = (|| -> anyhow::Result<()> {
        while let Some(head) = ctx.store.queue_head()? {
            let Some(result) = head.result else {
                return Ok(());
            };
            let q = head.input;
            // recorded meanwhile under another name of the same content, or by an earlier run
            if ctx.store.input_status(&q.sha256)?.as_deref() == Some("done") {
                ctx.store.dequeue(&q.sha256)?;
                continue;
            }
            let found: Detected = serde_json::from_str(&result)
                .map_err(|e| anyhow::anyhow!("queued analysis of {} is unreadable: {e}", q.path.display()))?;
            let kind = InputKind::parse(&q.kind).unwrap_or(InputKind::Satellite);
            let input = Found { kind, path: q.path, sha: q.sha256, stamp: None };
            ctx.record(&input, found)?;
        }
        Ok(())
    })();
    ctx.store.stop_recording()?;
    done
}
