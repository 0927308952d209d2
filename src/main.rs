//! The `firepoint` binary: parses the command line, installs logging, runs one command and maps
//! its outcome to the exit code (0 ok, 1 partial, 2 fatal). All the work is in the library.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use firepoint::batch::{self, BatchReport, Quarantine};
use firepoint::config::Config;
use firepoint::store::{Status, Store};

use cli::{AoiCommand, Cli, Command, HistoryCommand, TicketsCommand, ValidateCommand};

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    // GDAL prints its own errors on stderr; ours already name the file, so GDAL's go to the log
    gdal::config::set_error_handler(|class, code, msg| tracing::debug!(?class, code, "GDAL: {msg}"));
}

fn load_config(cli: &Cli) -> Result<Config> {
    let default = PathBuf::from("firepoint.toml");
    let file = cli.config.clone().or_else(|| default.exists().then_some(default));
    Ok(Config::load(file.as_deref(), &cli.set)?)
}

/// Prints a batch's summary and returns its exit status (0 ok, 1 partial).
fn finish_batch(report: &BatchReport) -> u8 {
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

fn tickets(cfg: &Config, command: Option<TicketsCommand>) -> Result<u8> {
    let mut store = Store::open(&cfg.paths.store)?;
    match command.unwrap_or(TicketsCommand::List { status: None, format: "table".into() }) {
        TicketsCommand::List { status, format } => {
            let status = status
                .map(|s| Status::parse(&s).with_context(|| format!("unknown status `{s}` (open, acked, closed)")))
                .transpose()?;
            let list = store.tickets(status)?;
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
            t.id, t.status.as_str(), t.kind.as_str(), t.priority.as_str(), t.lon, t.lat, t.township, t.village,
            t.grid_id, t.grid_member, t.grid_phone,
            t.first_seen.with_timezone(&bj).format("%m-%d %H:%M"), t.deadline.with_timezone(&bj).format("%m-%d %H:%M"),
            t.sources.join("+"),
        );
    }
    out
}

fn validate_goes(cfg: &Config, l1b: &std::path::Path, fdc: &std::path::Path, offset: (usize, usize), json: bool) -> Result<u8> {
    use firepoint::detect::hotspot;
    let scene = firepoint::ingest::goes::read_abi_scene(l1b)?;
    let fdc = firepoint::ingest::goes::read_fdc(fdc)?;
    let bands = scene.bands();
    let day = scene.is_daytime();
    let mut ours = hotspot::detect(&bands, day, cfg.hotspot.for_sensor(&scene.sensor));
    let glint = firepoint::detect::glint::reject(&scene, &mut ours);
    let cmp = firepoint::validate::compare(&scene, &ours, &fdc, offset.0, offset.1);
    if json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
        return Ok(0);
    }
    println!("scene {} ({}x{}, {}, {}) vs FDC {} at offset {:?}", scene.path.display(), scene.width, scene.height,
             scene.acquired_at, if day { "day" } else { "night" }, fdc.path.display(), offset);
    println!("official fire pixels: {}; ours: {} ({glint} more rejected as sun glint)", cmp.official, cmp.ours);
    println!("pixel-exact: {} hits, {} misses, {} false alarms", cmp.hits_exact, cmp.misses_exact, cmp.false_alarms_exact);
    println!("within 3x3: {:.1}% of official found ({}/{}), {:.1}% of ours extra ({}/{})",
             100.0 * cmp.found_fraction(), cmp.found_3x3, cmp.official, 100.0 * cmp.extra_fraction(), cmp.extra_3x3, cmp.ours);
    match cmp.frp_ratio() {
        Some(r) => println!("FRP on {} exact hits: ours / FDC = {r:.2}", cmp.frp_pairs.len()),
        None => println!("FRP: no exact hit with FDC Power"),
    }
    Ok(0)
}

fn history_detections(cfg: &Config, file: &std::path::Path) -> Result<Vec<firepoint::detect::Detection>> {
    let kind = firepoint::ingest::InputKind::of(file).with_context(|| format!("{}: not a satellite scene or table", file.display()))?;
    let (dets, warnings) = batch::detect_file(kind, file, cfg).map_err(anyhow::Error::msg)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(dets)
}

fn history(cfg: &Config, command: HistoryCommand) -> Result<u8> {
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
                let h = store.cell_histories(d, &cfg.persistence)?;
                if let Some(why) = firepoint::persistence::verdict(&h, &cfg.persistence) {
                    suppressed += 1;
                    println!("suppressed {:>9.4} {:>8.4} {} — {why}", d.lon, d.lat, d.observed_at.format("%Y-%m-%d %H:%MZ"));
                }
            }
            println!("{}: {} detections, {suppressed} on persistent heat-source cells (min_days {}, lookback {} days, night fraction ≥ {})",
                     file.display(), dets.len(), cfg.persistence.min_days, cfg.persistence.lookback_days, cfg.persistence.min_night_fraction);
        }
    }
    Ok(0)
}

fn run(cli: Cli) -> Result<u8> {
    let cfg = load_config(&cli)?;
    match cli.command {
        Command::Run => {
            let inputs = firepoint::ingest::discover(&cfg.paths.inbox)
                .with_context(|| format!("cannot list inbox {}", cfg.paths.inbox.display()))?;
            Ok(finish_batch(&batch::run(&cfg, inputs, Quarantine::Move)?))
        }
        Command::Pass { files } => {
            let mut inputs = Vec::new();
            for f in files {
                let companion = firepoint::ingest::goes::AbiName::parse(&f).is_some_and(|n| n.is_l1b() && n.channel != Some(7));
                match firepoint::ingest::InputKind::of(&f) {
                    Some(kind) => inputs.push((kind, f)),
                    // channels other than 7 are read with their scene's channel-7 file
                    None if companion => tracing::info!(file = %f.display(), "read with its scene's channel-7 file"),
                    None => bail!("{}: not a satellite scene (.tif, .nc), fire-point table (.csv) or camera frame (.jpg, .png)", f.display()),
                }
            }
            Ok(finish_batch(&batch::run(&cfg, inputs, Quarantine::Copy)?))
        }
        Command::Tickets(args) => tickets(&cfg, args.command),
        Command::Aoi { command: AoiCommand::Check { dir } } => {
            let dir = dir.unwrap_or(cfg.paths.aoi.clone());
            let aoi = firepoint::aoi::Aoi::load(&dir)?;
            println!(
                "AOI {}: county {} ({}), {} townships, {} villages/grid cells, {} no-burn zones, {} stations, {} heat sources, {} land-use polygons, {} cameras, DEM {}",
                dir.display(), aoi.county.name, aoi.county.code, aoi.townships.len(), aoi.villages.len(), aoi.no_burn.len(),
                aoi.stations.len(), aoi.heat_sources.len(), aoi.landuse.len(), aoi.cameras.len(),
                if aoi.dem.is_some() { "present" } else { "absent (flat ground assumed)" },
            );
            Ok(0)
        }
        Command::Aoi { command: AoiCommand::Generate { out, seed } } => {
            firepoint::aoi::generate::generate(&out, seed)?;
            println!("wrote the sample district into {}", out.display());
            Ok(0)
        }
        Command::Simulate { seed } => {
            let aoi = firepoint::aoi::Aoi::load(&cfg.paths.aoi)?;
            let truth = firepoint::simulate::simulate(&aoi, &cfg.paths.inbox, seed)?;
            println!("wrote {} sample inputs into {}", truth.files.len(), cfg.paths.inbox.display());
            Ok(0)
        }
        Command::History { command } => history(&cfg, command),
        Command::Validate { command: ValidateCommand::Goes { l1b, fdc, offset, json } } => {
            validate_goes(&cfg, &l1b, &fdc, (offset[0], offset[1]), json)
        }
        Command::Config => {
            print!("{}", cfg.to_documented_toml());
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    // `firepoint tickets list | head` should end quietly when head closes the pipe, as other
    // Unix tools do, not panic on the next write
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        // an overlapping cron run is not a failure: the running batch will do the work
        Err(err) if err.is::<firepoint::batch::Busy>() => {
            eprintln!("note: {err}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
