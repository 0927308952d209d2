//! Each subcommand's work, one function a command: reading inputs, calling the library,
//! printing summaries and tables. `main` only parses, dispatches here and maps the exit code.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use firepoint::batch::BatchReport;
use firepoint::config::Config;
use firepoint::store::{Store, TicketFilter};

use crate::cli::{HistoryCommand, ListFormat, ReportFormat, TicketsCommand, TokenCommand};
use crate::{say, Exit, Said};
use firepoint::lifecycle::Step;

/// Prints a batch's summary and returns its exit status (ok, or partial when inputs were bad).
pub fn finish_batch(report: &BatchReport) -> Exit {
    for (path, msg) in &report.failed {
        say(Said::Error, &format!("bad input {} (quarantined): {msg}", path.display()));
    }
    for (path, warnings) in &report.warned {
        let first: Vec<String> = warnings.iter().take(5).map(|w| format!("\n  {w}")).collect();
        let n = warnings.len();
        say(
            Said::Warning,
            &format!("{} had {n} unreadable row(s); the rest was processed:{}", path.display(), first.concat()),
        );
    }
    for (path, why) in &report.not_archived {
        eprintln!(
            "error: {} was processed but {why}: it stays in the inbox, is skipped unread, and is moved by the next \
             batch that can (retention.inputs, paths.archive)",
            path.display()
        );
    }
    println!("{report}");
    for id in &report.opened {
        println!("  new ticket {id}");
    }
    for f in &report.feed {
        println!("feed: {}", f.display());
    }
    if let Some(e) = &report.feed_error {
        say(
            Said::Error,
            &format!(
                "{e}; every input above was recorded in the ticket store (tickets and notifications are kept), \
                 and the feed files will be rewritten by the next batch once the folder can be written"
            ),
        );
    }
    match report.outcome() {
        "ok" => Exit::Ok,
        _ => Exit::Partial,
    }
}

/// `firepoint run`: one cron batch over the inbox.
pub fn run_inbox(cfg: &Config) -> Result<Exit> {
    // a misspelt inbox would otherwise make every cron run a quiet no-op
    if !cfg.paths.inbox.is_dir() {
        bail!("inbox {} does not exist or is not a folder (paths.inbox)", cfg.paths.inbox.display());
    }
    let inputs = firepoint::ingest::discover(&cfg.paths.inbox, cfg.batch.follow_linked_inbox)
        .with_context(|| format!("cannot list inbox {}", cfg.paths.inbox.display()))?;
    Ok(finish_batch(&firepoint::batch::run(cfg, inputs, firepoint::batch::Quarantine::Move)?))
}

/// `firepoint pass FILE…`: a satellite pass (or any inputs) named by hand, copied to quarantine
/// when bad, never moved.
pub fn pass(cfg: &Config, files: Vec<PathBuf>) -> Result<Exit> {
    let mut inputs = Vec::new();
    for f in files {
        if std::fs::symlink_metadata(&f).is_err() {
            bail!("cannot read {}: no such file", f.display());
        }
        let product = firepoint::ingest::Product::of(&f);
        match product.as_ref().map(|p| (p, p.kind())) {
            Some((_, Some(kind))) => inputs.push((kind, f)),
            // channels other than 7 are read with their scene's channel-7 file
            Some((firepoint::ingest::Product::AbiCompanion(_), None)) => {
                tracing::info!(file = %f.display(), "read with its scene's channel-7 file")
            }
            _ => bail!(
                "{}: not a satellite scene (.tif, .nc), fire-point table (.csv) or camera frame (.jpg, .png)",
                f.display()
            ),
        }
    }
    // a pass named by hand that finds a batch running did nothing: say so, not 0
    match firepoint::batch::run(cfg, inputs, firepoint::batch::Quarantine::Copy) {
        Err(e) if e.is::<firepoint::batch::Busy>() => bail!("{e}; run the pass again when it is done"),
        other => Ok(finish_batch(&other?)),
    }
}

/// `firepoint serve`: the ticket feed until SIGINT / SIGTERM.
pub fn serve(cfg: &Config, listen: Option<String>) -> Result<Exit> {
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let listen = listen.unwrap_or(cfg.serve.listen.clone());
    let villages = firepoint::serve::villages_geojson(&aoi);
    firepoint::serve::serve(&listen, &cfg.paths.store, &cfg.serve, &cfg.notify, cfg.batch.stale_after_min, villages)?;
    Ok(Exit::Ok)
}

/// `firepoint aoi check [DIR]`: loads the district as a batch would and says what it holds.
pub fn aoi_check(cfg: &Config, dir: Option<PathBuf>) -> Result<Exit> {
    let dir = dir.unwrap_or(cfg.paths.aoi.clone());
    // every layer read and checked, never the cache (which this refreshes)
    let aoi = firepoint::aoi::Aoi::reload(&dir, &cfg.limits, &cfg.aoi)?;
    println!(
        "AOI {}: county {} ({}), {} townships, {} villages/grid cells, {} no-burn zones, {} stations, {} heat sources, {} land-use polygons, {} cameras, DEM {}",
        dir.display(), aoi.county.name, aoi.county.code, aoi.townships.len(), aoi.villages.len(), aoi.no_burn.len(),
        aoi.stations.len(), aoi.heat_sources.len(), aoi.landuse.len(), aoi.cameras.len(),
        if aoi.dem.is_some() { "present" } else { "absent (flat ground assumed)" },
    );
    if let Some(r) = geo::BoundingRect::bounding_rect(&aoi.county.area) {
        println!("county extent: lon {:.4} .. {:.4}, lat {:.4} .. {:.4}", r.min().x, r.max().x, r.min().y, r.max().y);
    }
    for w in aoi.warnings.iter().chain(&aoi.topology_warnings()) {
        eprintln!("warning: {w}");
    }
    // a wrong phone is an error here (exit 1); a batch logs it and goes on without that phone
    for p in &aoi.bad_phones {
        eprintln!("error: {p}");
    }
    Ok(if aoi.bad_phones.is_empty() { Exit::Ok } else { Exit::Partial })
}

/// `firepoint aoi generate`: writes the sample district.
pub fn aoi_generate(out: &Path, seed: u64) -> Result<Exit> {
    firepoint::aoi::generate::generate(out, seed)?;
    println!("wrote the sample district into {}", out.display());
    Ok(Exit::Ok)
}

/// `firepoint simulate`: the sample inputs (a satellite pass, tower sequences, a forecast).
pub fn simulate(cfg: &Config, seed: u64) -> Result<Exit> {
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let truth = firepoint::simulate::simulate(&aoi, &cfg.paths.inbox, seed)?;
    println!("wrote {} sample inputs into {}", truth.files.len(), cfg.paths.inbox.display());
    if cfg.events.live_window_h > 0 {
        // the sample is a past day: as it is, `run` would record it all as history
        println!(
            "they replay the sample day 2026-06-10: `firepoint --set events.live_window_h=0 run` \
             takes them as live (as scripts/demo.sh does); a plain `run` records them as history, without tickets"
        );
    }
    Ok(Exit::Ok)
}

/// `firepoint simulate --slice`: one cron slice of a simulated county day.
pub fn simulate_slice(cfg: &Config, seed: u64, s: &firepoint::simulate::Slice) -> Result<Exit> {
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let w = firepoint::simulate::slice(&aoi, &cfg.paths.inbox, seed, s)?;
    println!(
        "wrote {} frames ({} with smoke) and {} scene(s) into {}",
        w.frames,
        w.frames_with_smoke,
        w.scenes,
        cfg.paths.inbox.display()
    );
    Ok(Exit::Ok)
}

/// `week`: the Monday of an ISO week (`--week`), else the one `day`.
pub fn report(
    cfg: &Config,
    day: Option<chrono::NaiveDate>,
    week: Option<chrono::NaiveDate>,
    format: ReportFormat,
    map: Option<&Path>,
) -> Result<Exit> {
    let store = Store::open_for_reading(&cfg.paths.store)?;
    let (first, last, what) = match week {
        Some(monday) => {
            let sunday = monday + chrono::Duration::days(6);
            (monday, sunday, format!("weekly report {} .. {sunday} (Beijing), ranked by fire points", monday))
        }
        None => {
            let day = day.unwrap_or_else(|| firepoint::time::reporting_day(chrono::Utc::now()));
            (day, day, format!("daily report for {day} (Beijing)"))
        }
    };
    let tickets = store.tickets(&TicketFilter::all())?;
    let rows = firepoint::report::period(&tickets, &store.fire_points()?, first..=last, chrono::Utc::now());
    if let Some(png) = map.filter(|p| !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"))) {
        anyhow::bail!("--map {}: the map is a PNG; name it FILE.png", png.display());
    }
    // back-filled points (history, no ticket) count in the period they were seen (issue 22)
    let (from, to) =
        (firepoint::time::beijing_midnight(first), firepoint::time::beijing_midnight(last + chrono::Duration::days(1)));
    let history = store.history_points(from, to)?;
    let rows = if history.is_empty() {
        rows
    } else {
        let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
        let towns: Vec<(String, String)> =
            history.iter().filter_map(|&(lon, lat)| aoi.place(lon, lat).township.map(|t| (t.code, t.name))).collect();
        firepoint::report::with_history(rows, &towns)
    };
    if let Some(png) = map {
        let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
        let in_period: Vec<_> = tickets
            .iter()
            .filter(|t| (first..=last).contains(&firepoint::time::reporting_day(t.first_seen)))
            .cloned()
            .collect();
        let title = format!("{} {what}", aoi.county.name);
        firepoint::report_map::render(&aoi, &in_period, &rows, &title, png)?;
        eprintln!("map: {}", png.display());
    }
    if format == ReportFormat::Csv {
        print!("{}", firepoint::report::to_csv(&rows));
        return Ok(Exit::Ok);
    }
    println!("{what}: fires first seen in it");
    let head = [
        "rank",
        "township",
        "",
        "tickets",
        "fire_points",
        "satellite",
        "camera",
        "drone",
        "straw",
        "weeds",
        "leaves",
        "garbage",
        "unknown",
        "high",
        "window",
        "open",
        "working",
        "查实",
        "查否",
        "dup",
        "on_time",
        "overdue",
    ];
    const N: usize = 22;
    let line = |cells: [String; N]| {
        let widths: [usize; N] = [4, 11, 14, 7, 11, 9, 6, 5, 5, 5, 6, 7, 7, 4, 6, 4, 7, 4, 4, 3, 7, 7];
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(c.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum::<usize>());
            if i == 1 || i == 2 {
                out += &format!("{c}{} ", " ".repeat(pad));
            } else {
                out += &format!("{}{c} ", " ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    println!("{}", line(head.map(String::from)));
    for r in &rows {
        let n = |v: usize| v.to_string();
        println!(
            "{}",
            line([
                if r.rank == 0 { String::new() } else { r.rank.to_string() },
                r.township_code.clone(),
                r.township.clone(),
                n(r.tickets),
                n(r.fire_points),
                n(r.satellite),
                n(r.camera),
                n(r.drone),
                n(r.straw),
                n(r.weeds),
                n(r.leaves),
                n(r.garbage),
                n(r.unknown),
                n(r.high_priority),
                n(r.in_window),
                n(r.open),
                n(r.in_progress),
                n(r.resolved),
                n(r.false_alarm),
                n(r.duplicate),
                n(r.verified_in_time),
                n(r.overdue),
            ])
        );
    }
    towers_section(cfg, &store, first, last)?;
    Ok(Exit::Ok)
}

/// The report's towers: each tower's online rate (在线率) and blind hours over the period (in
/// 10-minute slots, while the network was heard from), per township too, and the health notices
/// open in it. Nothing when no tower sent a frame in the period.
fn towers_section(cfg: &Config, store: &Store, first: chrono::NaiveDate, last: chrono::NaiveDate) -> Result<()> {
    let (from, to) =
        (firepoint::time::beijing_midnight(first), firepoint::time::beijing_midnight(last + chrono::Duration::days(1)));
    let frames = store.tower_frames(from - chrono::Duration::hours(1))?;
    if !frames.values().flatten().any(|f| f.at >= from && f.at < to) {
        return Ok(());
    }
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let towers: Vec<(String, f64, f64)> = aoi.cameras.iter().map(|c| (c.id.clone(), c.lon, c.lat)).collect();
    let rates = firepoint::health::rates(&frames, &towers, (from, to), chrono::Duration::minutes(10));
    let notices = store.notices_between(from, to)?;
    println!("\ntowers (在线率: 10-minute slots with a live frame, while the network was heard from)");
    println!(
        "{:<8} {:<12} {:>8} {:>10} {:>8} {:>8}  notices",
        "tower", "township", "online", "blind_h", "day", "night"
    );
    let mut by_town: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for r in &rates {
        let cam = aoi.camera(&r.camera_id).expect("a district camera");
        let town = aoi.place(cam.lon, cam.lat).township.map_or("—".to_string(), |t| t.name);
        let e = by_town.entry(town.clone()).or_default();
        (e.0, e.1) = (e.0 + r.online_slots, e.1 + r.slots);
        let mut said: Vec<String> = notices
            .iter()
            .filter(|n| n.camera_id == r.camera_id)
            .map(|n| {
                format!(
                    "{} since {}",
                    n.kind.chinese(),
                    n.since.with_timezone(&firepoint::time::beijing()).format("%m-%d %H:%M")
                )
            })
            .collect();
        if r.night_only() {
            said.push("夜间掉线 (fails at night only)".into());
        }
        let (day, night) = r.day_night();
        let night = if r.night.1 == 0 { "—".to_string() } else { format!("{:.1}%", night * 100.0) };
        println!(
            "{:<8} {:<12} {:>7.1}% {:>10.1} {:>7.1}% {:>8}  {}",
            r.camera_id,
            town,
            r.rate() * 100.0,
            r.blind_hours,
            day * 100.0,
            night,
            said.join("; ")
        );
    }
    for (town, (on, all)) in by_town {
        let rate = if all == 0 { 100.0 } else { on as f64 * 100.0 / all as f64 };
        println!("township {town}: online {rate:.1}%");
    }
    Ok(())
}

/// `firepoint cameras`: every tower of the district with its last frame and its state
/// (ok, offline or frozen since when, or never heard from).
/// `firepoint gc`: prunes the store and the archive by `[retention]`, says what went.
pub fn gc(cfg: &Config, vacuum: bool) -> Result<Exit> {
    let mut store = Store::open_existing(&cfg.paths.store)?;
    let now = chrono::Utc::now();
    let pruned = store.prune(&cfg.retention, now)?;
    println!("store: deleted {pruned}");
    let folders = firepoint::batch::prune_archive(cfg, now)
        .with_context(|| format!("cannot prune the archive {}", cfg.paths.archive.display()))?;
    println!("archive: deleted {folders} day folder(s) older than {} days", cfg.retention.archive_days);
    if vacuum {
        store.vacuum()?;
        println!("store: vacuumed");
    }
    Ok(Exit::Ok)
}

pub fn cameras(cfg: &Config) -> Result<Exit> {
    let store = Store::open_for_reading(&cfg.paths.store)?;
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let status = store.tower_status(chrono::Utc::now())?;
    let bj = firepoint::time::beijing();
    println!("{:<8} {:<10} {:<12} {:<12} state", "tower", "name", "township", "last frame");
    for cam in &aoi.cameras {
        let tower = status.get(&cam.id).cloned().unwrap_or_default();
        let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&bj).format("%m-%d %H:%M").to_string();
        let last = tower.last_frame.map_or("—".into(), when);
        let state = match &tower.notice {
            Some(n) => format!("{} ({}) since {}", n.kind.as_str(), n.kind.chinese(), when(n.since)),
            None if tower.last_frame.is_none() => {
                format!("never heard from (in the last {} days)", firepoint::store::HEALTH_DAYS)
            }
            None => "ok".into(),
        };
        let town = aoi.place(cam.lon, cam.lat).township.map_or("—".to_string(), |t| t.name);
        println!("{:<8} {:<10} {:<12} {:<12} {state}", cam.id, cam.name, town, last);
    }
    Ok(Exit::Ok)
}

/// `firepoint fire-points [--since DAY] [--out FILE]`: the fire-point ledger (火点台账).
pub fn fire_points(cfg: &Config, since: Option<chrono::NaiveDate>, out: Option<&Path>) -> Result<Exit> {
    let store = Store::open_existing(&cfg.paths.store)?;
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let filter = firepoint::store::FirePointFilter {
        seen_since: since.map(firepoint::time::beijing_midnight),
        ..Default::default()
    };
    let points = store.fire_point_ledger(&filter)?;
    let csv = firepoint::ledger::to_csv(&aoi, &points);
    match out {
        Some(path) => {
            std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{} fire points: {}", points.len(), path.display());
        }
        None => print!("{csv}"),
    }
    Ok(Exit::Ok)
}

/// `firepoint plan --day DAY`: the patrol plan's CSV and map.
pub fn plan(cfg: &Config, day: chrono::NaiveDate, csv: Option<PathBuf>, map: Option<PathBuf>) -> Result<Exit> {
    let csv = csv.unwrap_or_else(|| PathBuf::from(format!("plan-{day}.csv")));
    let map = map.unwrap_or_else(|| PathBuf::from(format!("plan-{day}.png")));
    if !map.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        anyhow::bail!("--map {}: the map is a PNG; name it FILE.png", map.display());
    }
    let store = Store::open_for_reading(&cfg.paths.store)?;
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    // every forecast that can start that day (a day before it, to be safe with time zones)
    let forecasts = store.forecasts(firepoint::time::beijing_midnight(day) - chrono::Duration::days(1))?;
    let [week, year] = firepoint::plan::History::spans(day);
    // ticketed points by their ticket's village, back-filled ones (history) by where they lie
    let by_village = |(from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)| -> Result<_> {
        let mut n = store.fire_points_by_village(from, to)?;
        for (lon, lat) in store.history_points(from, to)? {
            if let Some(v) = aoi.place(lon, lat).village {
                *n.entry(v.code).or_insert(0) += 1;
            }
        }
        Ok(n)
    };
    let history = firepoint::plan::History { week: by_village(week)?, year: by_village(year)? };
    let plan = firepoint::plan::plan(&aoi, &cfg.burn, &cfg.windows, &forecasts, day, &history);
    std::fs::write(&csv, firepoint::plan::to_csv(&plan))
        .with_context(|| format!("cannot write plan {}", csv.display()))?;
    let title = format!("{} 巡查计划 {day}", aoi.county.name);
    firepoint::report_map::render_plan(&aoi, &plan, &title, &map)?;
    println!("patrol plan for {day} (Beijing): {} villages in {} townships", plan.rows.len(), aoi.townships.len());
    println!("risk windows: {}", plan.windows.join("; "));
    for r in plan.rows.iter().filter(|r| r.rank == 1) {
        println!(
            "  {} {}: riskiest village {} {} ({:.1})",
            r.township_code, r.township, r.village_code, r.village, r.risk
        );
    }
    println!("csv: {}\nmap: {}", csv.display(), map.display());
    Ok(Exit::Ok)
}

pub fn tickets(cfg: &Config, command: Option<TicketsCommand>) -> Result<Exit> {
    let command = command.unwrap_or(TicketsCommand::List { status: None, township: None, format: ListFormat::Table });
    // the reading subcommands open the store read-only: they work on a store this user may not
    // write, and never migrate it
    let reads =
        matches!(command, TicketsCommand::List { .. } | TicketsCommand::Log { .. } | TicketsCommand::Cap { .. });
    let mut store =
        if reads { Store::open_for_reading(&cfg.paths.store)? } else { Store::open_existing(&cfg.paths.store)? };
    let now = chrono::Utc::now();
    let (id, by, step) = match command {
        TicketsCommand::List { status, township, format } => {
            let list = store.tickets(&TicketFilter { status, township, ..Default::default() })?;
            match format {
                ListFormat::Jsonl => print!("{}", firepoint::feed::jsonl(&list)),
                ListFormat::Geojson => println!("{}", serde_json::to_string_pretty(&firepoint::feed::geojson(&list))?),
                ListFormat::Table => print!("{}", table(&list)),
                ListFormat::Csv => print!("{}", firepoint::feed::ledger_csv(&list, now)),
            }
            return Ok(Exit::Ok);
        }
        TicketsCommand::Log { id } => {
            store.ticket(&id)?;
            for e in store.log(&id)? {
                println!(
                    "{:>5}  {}  {:<11} {:>12} → {:<12} {}  {}",
                    e.seq,
                    e.at.with_timezone(&firepoint::time::beijing()).format("%Y-%m-%d %H:%M:%S"),
                    e.action,
                    e.from_status.as_deref().unwrap_or("-"),
                    e.to_status,
                    e.by,
                    if e.detail.as_object().is_some_and(|o| o.is_empty()) {
                        String::new()
                    } else {
                        e.detail.to_string()
                    }
                );
            }
            return Ok(Exit::Ok);
        }
        TicketsCommand::Cap { id } => {
            print!("{}", firepoint::cap::alert_xml(&store.ticket(&id)?, &cfg.serve.cap_sender));
            return Ok(Exit::Ok);
        }
        TicketsCommand::Ack { id, by } => (id, by, Step::Ack),
        TicketsCommand::OnSite { id, by, note } => (id, by, Step::OnSite { note }),
        TicketsCommand::Resolve { id, by, action } => (id, by, Step::Resolve { action }),
        TicketsCommand::FalseAlarm { id, by, cause, note } => (id, by, Step::FalseAlarm { cause, note }),
        TicketsCommand::Duplicate { id, by, of } => (id, by, Step::Duplicate { of }),
        TicketsCommand::Escalate { id, by, note } => (id, by, Step::Escalate { note }),
    };
    let t = store.step(&id, &step, &by, now, &cfg.notify)?;
    println!("{} {} by {by}", t.id, t.status.as_str());
    Ok(Exit::Ok)
}

/// `firepoint notify`: escalate, then deliver the outbox; partial when messages failed for good.
pub fn notify(cfg: &Config, max: usize, retry_failed: bool) -> Result<Exit> {
    let mut store = Store::open_existing(&cfg.paths.store)?;
    if retry_failed {
        eprintln!("notify: {} failed message(s) queued again", store.requeue_failed(chrono::Utc::now())?);
    }
    let r = firepoint::sender::send_due(&mut store, &cfg.notify, max)?;
    let (pending, sent, failed, skipped) = store.outbox_counts()?;
    for f in &r.failed {
        say(Said::Error, &format!("message failed for good: {f}"));
    }
    for e in &r.retry_errors {
        say(Said::Warning, &format!("will retry: {e}"));
    }
    println!(
        "notify: {} step(s) escalated, {} delivered, {} to retry, {} failed, {} skipped (channel not configured); \
         outbox: {pending} pending, {sent} sent, {failed} failed, {skipped} skipped",
        r.escalated,
        r.delivered,
        r.retrying,
        r.failed.len(),
        r.skipped
    );
    Ok(if r.failed.is_empty() { Exit::Ok } else { Exit::Partial })
}

/// `firepoint token add | list | revoke`.
pub fn token(cfg: &Config, command: TokenCommand) -> Result<Exit> {
    // a mistyped store path must not quietly make a new, empty store the server never reads
    let mut store = Store::open_existing(&cfg.paths.store)?;
    match command {
        TokenCommand::Add { township, county: _, name } => {
            if let Some(code) = &township {
                let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
                let town = aoi.township(code).with_context(|| {
                    let known: Vec<&str> = aoi.townships.iter().map(|t| t.code.as_str()).collect();
                    format!("no township {code} in the AOI {} (known: {})", cfg.paths.aoi.display(), known.join(", "))
                })?;
                let name = name.unwrap_or(town.name.clone());
                let (id, token) = store.add_token(&name, Some(code))?;
                eprintln!("token {id} for township {code} ({name}); shown once, keep it:");
                println!("{token}");
            } else {
                let name = name.unwrap_or("县".into());
                let (id, token) = store.add_token(&name, None)?;
                eprintln!("county token {id} ({name}): sees every ticket; shown once, keep it:");
                println!("{token}");
            }
        }
        TokenCommand::List => {
            for t in store.tokens()? {
                println!(
                    "{:>4}  {:<10} {}  created {}{}",
                    t.id,
                    t.township_code.as_deref().unwrap_or("county"),
                    t.name,
                    t.created_at,
                    t.revoked_at.map(|r| format!("  REVOKED {r}")).unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(id)? {
                anyhow::bail!("no active token {id} (firepoint token list)");
            }
            println!("token {id} revoked");
        }
    }
    Ok(Exit::Ok)
}

fn table(list: &[firepoint::domain::Ticket]) -> String {
    let bj = firepoint::time::beijing();
    let mut out = format!("{} ticket(s)\n", list.len());
    for t in list {
        out += &format!(
            "{}  {:<12} {:<7} {:<6} {:>9.5},{:<8.5} {}/{} grid {} ({} {})  seen {}  due {}  {}\n",
            t.id,
            t.status.as_str(),
            t.kind.as_str(),
            t.priority.as_str(),
            t.lon,
            t.lat,
            t.township,
            t.village,
            t.grid_id,
            t.grid_member,
            t.grid_phone,
            t.first_seen.with_timezone(&bj).format("%m-%d %H:%M"),
            t.deadline.with_timezone(&bj).format("%m-%d %H:%M"),
            if t.cameras.is_empty() {
                t.sources.join("+")
            } else {
                format!("{} ({})", t.sources.join("+"), t.cameras.join(", "))
            },
        );
        if !t.related.is_empty() {
            out.pop();
            out += &format!("  same fire: {}\n", t.related.join(", "));
        }
    }
    out
}

pub fn validate_goes(cfg: &Config, l1b: &Path, fdc: &Path, offset: (usize, usize), json: bool) -> Result<Exit> {
    use firepoint::ingest::Product;
    if !matches!(Product::of(l1b), Some(Product::AbiScene(_))) {
        bail!("{}: --l1b takes a GOES ABI L1b channel-7 file (OR_ABI-L1b-Rad…C07…nc)", l1b.display());
    }
    if !matches!(Product::of(fdc), Some(Product::AbiFireProduct(_))) {
        bail!("{}: --fdc takes a GOES ABI fire product (OR_ABI-L2-FDC…nc)", fdc.display());
    }
    let scene = firepoint::ingest::goes::read_abi_scene(l1b, &cfg.limits)?;
    let fdc = firepoint::ingest::goes::read_fdc(fdc, &cfg.limits)?;
    let day = scene.is_daytime();
    // exactly the batch's fire test: per-pixel day/night, the sensor's preset, sun glint
    let (ours, glint) = firepoint::detect::fire_pixels(&scene, &cfg.hotspot);
    let cmp = firepoint::validate::compare(&scene, &ours, &fdc, offset.0, offset.1);
    if json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
        return Ok(Exit::Ok);
    }
    println!(
        "scene {} ({}x{}, {}, {}) vs FDC {} at offset {:?}",
        scene.path.display(),
        scene.width,
        scene.height,
        scene.acquired_at,
        if day { "day" } else { "night" },
        fdc.path.display(),
        offset
    );
    println!("official fire pixels: {}; ours: {} ({glint} more rejected as sun glint)", cmp.official, cmp.ours);
    println!(
        "pixel-exact: {} hits, {} misses, {} false alarms",
        cmp.hits_exact, cmp.misses_exact, cmp.false_alarms_exact
    );
    println!(
        "within 3x3: {:.1}% of official found ({}/{}), {:.1}% of ours extra ({}/{})",
        100.0 * cmp.found_fraction(),
        cmp.found_3x3,
        cmp.official,
        100.0 * cmp.extra_fraction(),
        cmp.extra_3x3,
        cmp.ours
    );
    match cmp.frp_ratio() {
        Some(r) => println!("FRP on {} exact hits: ours / FDC = {r:.2}", cmp.frp_pairs.len()),
        None => println!("FRP: no exact hit with FDC Power"),
    }
    Ok(Exit::Ok)
}

fn history_detections(cfg: &Config, file: &Path) -> Result<Vec<firepoint::domain::Detection>> {
    let kind = firepoint::ingest::InputKind::of(file)
        .with_context(|| format!("{}: not a satellite scene or table", file.display()))?;
    let companion_wait = std::time::Duration::ZERO;
    let settings = firepoint::detect::Settings { hotspot: &cfg.hotspot, limits: &cfg.limits, companion_wait };
    let found = firepoint::detect::detect_file(kind, file, settings)?;
    for w in &found.warnings {
        eprintln!("warning: {w}");
    }
    Ok(found.detections)
}

pub fn history(cfg: &Config, command: HistoryCommand) -> Result<Exit> {
    let mut store = Store::open(&cfg.paths.store)?;
    match command {
        HistoryCommand::Import { files } => {
            for f in files {
                let dets = history_detections(cfg, &f)?;
                let n = store.record_history(&dets, cfg.persistence.cell_deg)?;
                println!("{}: {n} detections added to the history", f.display());
            }
        }
        HistoryCommand::Mask { file } => {
            let dets = history_detections(cfg, &file)?;
            let mut suppressed = 0;
            for d in &dets {
                let h = store.footprint_history(d, &cfg.persistence)?;
                if let Some(why) = firepoint::persistence::verdict(&h, &cfg.persistence) {
                    suppressed += 1;
                    println!(
                        "suppressed {:>9.4} {:>8.4} {} — {why}",
                        d.lon,
                        d.lat,
                        d.observed_at.format("%Y-%m-%d %H:%MZ")
                    );
                }
            }
            println!("{}: {} detections, {suppressed} on persistent heat-source cells (min_days {}, lookback {} days, night fraction ≥ {})",
                     file.display(), dets.len(), cfg.persistence.min_days, cfg.persistence.lookback_days, cfg.persistence.min_night_fraction);
        }
    }
    Ok(Exit::Ok)
}

/// `firepoint smoke eval DIR`: per-frame JSON lines, then the metrics line; exit 1 when some
/// frames could not be scored (each named on stderr).
pub fn smoke_eval(cfg: &Config, dir: &Path) -> Result<Exit> {
    use firepoint::detect::{eval, frames::FrameDetector, sequences, smoke::SmokeModel};
    let frames =
        eval::labelled_frames(dir).with_context(|| format!("cannot list labelled frames in {}", dir.display()))?;
    let model = SmokeModel::load(&cfg.camera.model, cfg.camera.threshold)?;
    let detector = FrameDetector::scorer(model)?.with_max_pixels(cfg.limits.max_frame_pixels).with_bands(&cfg.camera);
    let (results, unscored) = eval::score_all(&detector, &frames);
    for r in &results {
        println!("{}", serde_json::to_string(r)?);
    }
    for u in &unscored {
        eprintln!("error: cannot score {}: {}", u.file.display(), u.error);
    }
    let m = eval::metrics(&results, detector.threshold());
    println!("{}", serde_json::json!({ "metrics": m }));
    eprintln!(
        "{} frames ({} smoke, {} no smoke) at threshold {}: precision {:.3}, recall {:.3}, F1 {:.3}, FPR {:.3}, ROC-AUC {:.3}",
        m.frames, m.smoke, m.no_smoke, m.threshold, m.precision, m.recall, m.f1, m.false_positive_rate, m.roc_auc
    );
    if let Some(v) = detector.view_model() {
        eprintln!(
            "view model: sequences judged frame by frame against their view's memory (a tile's logit {} above its \
             {}th percentile and at least {}; {} warm-up frame(s) at threshold {}); recall on {} smoke frames \
             ≥ 5 min after ignition: {:.3}",
            v.rise,
            v.baseline_percentile,
            v.min_logit,
            v.warm_frames,
            m.threshold,
            m.smoke_after_5min,
            m.recall_after_5min
        );
    }
    // frames named as sequences (FIgLib: <sequence>__<epoch>_<±s from ignition>): the
    // confirmation rule replayed over them, the configured one first, then the alternatives
    for (i, rule) in sequences::alternatives(&cfg.confirm).iter().enumerate() {
        let (outcomes, summary) = sequences::study(&results, rule);
        if summary.sequences == 0 {
            break;
        }
        if i == 0 {
            for o in &outcomes {
                println!("{}", serde_json::json!({ "sequence": o }));
            }
        }
        println!("{}", serde_json::json!({ "confirmation": summary, "configured": i == 0 }));
        let median = summary.median_time_to_alarm_min.map_or("-".to_string(), |m| format!("{m:.1} min"));
        eprintln!(
            "confirm {} of last {}{}: alarms in {}/{} sequences, median time to alarm {median}, {} false-alarm frames ({:.2}/h) in {} sequences",
            rule.frames, rule.of_last, if i == 0 { " (configured)" } else { "" }, summary.detected, summary.sequences,
            summary.false_alarm_frames, summary.false_alarms_per_hour, summary.sequences_with_false_alarm
        );
    }
    Ok(if unscored.is_empty() { Exit::Ok } else { Exit::Partial })
}

/// `firepoint smoke masks`: every view mask in force, drawn or learned, one JSON line each.
pub fn smoke_masks(cfg: &Config) -> Result<Exit> {
    let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
    let store = Store::open_for_reading(&cfg.paths.store)?;
    let learned = firepoint::batch::learned_masks(&store, cfg)?;
    for (origin, m) in aoi.view_masks.iter().map(|m| ("drawn", m)).chain(learned.iter().map(|m| ("learned", m))) {
        println!("{}", serde_json::json!({ "origin": origin, "mask": m }));
    }
    eprintln!("{} drawn, {} learned view mask(s)", aoi.view_masks.len(), learned.len());
    Ok(Exit::Ok)
}
