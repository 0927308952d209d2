//! The subcommands' work beyond a plain library call: printing batch summaries and ticket
//! tables, the history and validation commands. `main` only dispatches to these.

use std::path::Path;

use anyhow::{Context, Result};
use firepoint::batch::{self, BatchReport};
use firepoint::config::Config;
use firepoint::store::{Status, Store, TicketFilter};

use crate::cli::{HistoryCommand, TicketsCommand};

/// Prints a batch's summary and returns its exit status (0 ok, 1 partial).
pub fn finish_batch(report: &BatchReport) -> u8 {
    for (path, msg) in &report.failed {
        eprintln!("error: bad input {} (quarantined): {msg}", path.display());
    }
    for (path, warnings) in &report.warned {
        eprintln!("warning: {} had {} unreadable row(s); the rest was processed:", path.display(), warnings.len());
        for w in warnings.iter().take(5) {
            eprintln!("  {w}");
        }
    }
    println!("{report}");
    for id in &report.opened {
        println!("  new ticket {id}");
    }
    for f in &report.feed {
        println!("feed: {}", f.display());
    }
    u8::from(!report.failed.is_empty() || !report.warned.is_empty())
}

pub fn report(cfg: &Config, day: Option<chrono::NaiveDate>, format: &str) -> Result<u8> {
    let store = Store::open(&cfg.paths.store)?;
    let day = day.unwrap_or_else(|| firepoint::time::reporting_day(chrono::Utc::now()));
    let rows = firepoint::report::daily(&store.tickets(&TicketFilter::all())?, day);
    if format == "csv" {
        print!("{}", firepoint::report::to_csv(&rows));
        return Ok(0);
    }
    println!("daily report for {day} (Beijing): fires first seen that day");
    println!(
        "{:<11} {:<14} {:>7} {:>9} {:>6} {:>5} {:>7} {:>4} {:>4} {:>5} {:>6} {:>9}",
        "township",
        "",
        "tickets",
        "satellite",
        "camera",
        "straw",
        "garbage",
        "high",
        "open",
        "acked",
        "closed",
        "verified"
    );
    for r in &rows {
        println!(
            "{:<11} {:<14} {:>7} {:>9} {:>6} {:>5} {:>7} {:>4} {:>4} {:>5} {:>6} {:>9}",
            r.township_code,
            r.township,
            r.tickets,
            r.satellite,
            r.camera,
            r.straw,
            r.garbage,
            r.high_priority,
            r.open,
            r.acked,
            r.closed,
            r.verified_in_time
        );
    }
    Ok(0)
}

pub fn tickets(cfg: &Config, command: Option<TicketsCommand>) -> Result<u8> {
    let mut store = Store::open(&cfg.paths.store)?;
    match command.unwrap_or(TicketsCommand::List { status: None, township: None, format: "table".into() }) {
        TicketsCommand::List { status, township, format } => {
            let status = status
                .map(|s| Status::parse(&s).with_context(|| format!("unknown status `{s}` (open, acked, closed)")))
                .transpose()?;
            let list = store.tickets(&TicketFilter { status, township })?;
            match format.as_str() {
                "jsonl" => print!("{}", firepoint::feed::jsonl(&list)),
                "geojson" => println!("{}", serde_json::to_string_pretty(&firepoint::feed::geojson(&list))?),
                _ => print!("{}", table(&list)),
            }
        }
        TicketsCommand::Ack { id, by } => {
            let t = store.ack(&id, &by, chrono::Utc::now())?;
            println!("{} acknowledged by {}", t.id, by);
        }
        TicketsCommand::Close { id, note } => {
            let t = store.close(&id, &note, chrono::Utc::now())?;
            println!("{} closed", t.id);
        }
    }
    Ok(0)
}

fn table(list: &[firepoint::store::Ticket]) -> String {
    let bj = firepoint::time::beijing();
    let mut out = format!("{} ticket(s)\n", list.len());
    for t in list {
        out += &format!(
            "{}  {:<6} {:<7} {:<6} {:>9.5},{:<8.5} {}/{} grid {} ({} {})  seen {}  due {}  {}\n",
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
            t.sources.join("+"),
        );
    }
    out
}

pub fn validate_goes(cfg: &Config, l1b: &Path, fdc: &Path, offset: (usize, usize), json: bool) -> Result<u8> {
    use firepoint::detect::hotspot;
    let scene = firepoint::ingest::goes::read_abi_scene(l1b, &cfg.limits)?;
    let fdc = firepoint::ingest::goes::read_fdc(fdc, &cfg.limits)?;
    let bands = scene.bands();
    let day = scene.is_daytime();
    let daylight = scene.daylight();
    let mut ours = hotspot::detect_with(&bands, &|r, c| daylight.is_day(r, c), cfg.hotspot.for_sensor(&scene.sensor));
    let glint = firepoint::detect::glint::reject(&scene, &mut ours);
    let cmp = firepoint::validate::compare(&scene, &ours, &fdc, offset.0, offset.1);
    if json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
        return Ok(0);
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
    Ok(0)
}

fn history_detections(cfg: &Config, file: &Path) -> Result<Vec<firepoint::detect::Detection>> {
    let kind = firepoint::ingest::InputKind::of(file)
        .with_context(|| format!("{}: not a satellite scene or table", file.display()))?;
    let (dets, warnings) = batch::detect_file(kind, file, cfg).map_err(anyhow::Error::msg)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(dets)
}

pub fn history(cfg: &Config, command: HistoryCommand) -> Result<u8> {
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
    Ok(0)
}
