//! The `firepoint` binary: parses the command line, installs logging, runs one command and maps
//! its outcome to the exit code (0 ok, 1 partial, 2 fatal). All the work is in the library.

mod cli;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use firepoint::batch::{self, Quarantine};
use firepoint::config::Config;

use cli::{AoiCommand, Cli, Command, SmokeCommand, ValidateCommand};
use commands::{finish_batch, history, tickets, validate_goes};

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // colour only on a terminal: cron's log file gets plain text
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
    // GDAL prints its own errors on stderr; ours already name the file, so GDAL's go to the log
    gdal::config::set_error_handler(|class, code, msg| tracing::debug!(?class, code, "GDAL: {msg}"));
}

fn load_config(cli: &Cli) -> Result<Config> {
    let default = PathBuf::from("firepoint.toml");
    let file = cli.config.clone().or_else(|| default.exists().then_some(default));
    Ok(Config::load(file.as_deref(), &cli.set)?)
}

/// The exit status: 0 every input fine; 1 partial (some inputs bad, named on stderr,
/// quarantined, the rest processed); 2 fatal (configuration, AOI, store or model: nothing done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Partial = 1,
    Fatal = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

fn run(cli: Cli) -> Result<Exit> {
    let cfg = load_config(&cli)?;
    match cli.command {
        Command::Run => {
            // a misspelt inbox would otherwise make every cron run a quiet no-op
            if !cfg.paths.inbox.is_dir() {
                bail!("inbox {} does not exist or is not a folder (paths.inbox)", cfg.paths.inbox.display());
            }
            let inputs = firepoint::ingest::discover(&cfg.paths.inbox)
                .with_context(|| format!("cannot list inbox {}", cfg.paths.inbox.display()))?;
            Ok(finish_batch(&batch::run(&cfg, inputs, Quarantine::Move)?))
        }
        Command::Pass { files } => {
            let mut inputs = Vec::new();
            for f in files {
                if std::fs::symlink_metadata(&f).is_err() {
                    bail!("cannot read {}: no such file", f.display());
                }
                let companion =
                    firepoint::ingest::goes::AbiName::parse(&f).is_some_and(|n| n.is_l1b() && n.channel != Some(7));
                match firepoint::ingest::InputKind::of(&f) {
                    Some(kind) => inputs.push((kind, f)),
                    // channels other than 7 are read with their scene's channel-7 file
                    None if companion => tracing::info!(file = %f.display(), "read with its scene's channel-7 file"),
                    None => bail!(
                        "{}: not a satellite scene (.tif, .nc), fire-point table (.csv) or camera frame (.jpg, .png)",
                        f.display()
                    ),
                }
            }
            // a pass named by hand that finds a batch running did nothing: say so, not 0
            match batch::run(&cfg, inputs, Quarantine::Copy) {
                Err(e) if e.is::<firepoint::batch::Busy>() => bail!("{e}; run the pass again when it is done"),
                other => Ok(finish_batch(&other?)),
            }
        }
        Command::Tickets(args) => tickets(&cfg, args.command),
        Command::Report { day, week, format, map } => commands::report(&cfg, day, week, format, map.as_deref()),
        Command::Plan { day, csv, map } => commands::plan(&cfg, day, csv, map),
        Command::Serve { listen } => {
            let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
            let listen = listen.unwrap_or(cfg.serve.listen.clone());
            let villages = firepoint::serve::villages_geojson(&aoi);
            firepoint::serve::serve(&listen, &cfg.paths.store, &cfg.serve, &cfg.notify, villages)?;
            Ok(Exit::Ok)
        }
        Command::Notify { max, retry_failed } => commands::notify(&cfg, max, retry_failed),
        Command::Token { command } => commands::token(&cfg, command),
        Command::Aoi { command: AoiCommand::Check { dir } } => {
            let dir = dir.unwrap_or(cfg.paths.aoi.clone());
            let aoi = firepoint::aoi::Aoi::load_with(&dir, &cfg.limits, &cfg.aoi)?;
            println!(
                "AOI {}: county {} ({}), {} townships, {} villages/grid cells, {} no-burn zones, {} stations, {} heat sources, {} land-use polygons, {} cameras, DEM {}",
                dir.display(), aoi.county.name, aoi.county.code, aoi.townships.len(), aoi.villages.len(), aoi.no_burn.len(),
                aoi.stations.len(), aoi.heat_sources.len(), aoi.landuse.len(), aoi.cameras.len(),
                if aoi.dem.is_some() { "present" } else { "absent (flat ground assumed)" },
            );
            if let Some(r) = geo::BoundingRect::bounding_rect(&aoi.county.area) {
                println!(
                    "county extent: lon {:.4} .. {:.4}, lat {:.4} .. {:.4}",
                    r.min().x,
                    r.max().x,
                    r.min().y,
                    r.max().y
                );
            }
            for w in aoi.warnings.iter().chain(&aoi.topology_warnings()) {
                eprintln!("warning: {w}");
            }
            Ok(Exit::Ok)
        }
        Command::Aoi { command: AoiCommand::Generate { out, seed } } => {
            firepoint::aoi::generate::generate(&out, seed)?;
            println!("wrote the sample district into {}", out.display());
            Ok(Exit::Ok)
        }
        Command::Simulate { seed, slice: Some(start), minutes, frame_size, cameras, fires, scene } => {
            let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
            let s =
                firepoint::simulate::Slice { start, minutes, size: frame_size, cameras, fires_per_day: fires, scene };
            let w = firepoint::simulate::slice(&aoi, &cfg.paths.inbox, seed, &s)?;
            println!(
                "wrote {} frames ({} with smoke) and {} scene(s) into {}",
                w.frames,
                w.frames_with_smoke,
                w.scenes,
                cfg.paths.inbox.display()
            );
            Ok(Exit::Ok)
        }
        Command::Simulate { seed, .. } => {
            let aoi = firepoint::aoi::Aoi::load_with(&cfg.paths.aoi, &cfg.limits, &cfg.aoi)?;
            let truth = firepoint::simulate::simulate(&aoi, &cfg.paths.inbox, seed)?;
            println!("wrote {} sample inputs into {}", truth.files.len(), cfg.paths.inbox.display());
            Ok(Exit::Ok)
        }
        Command::History { command } => history(&cfg, command),
        Command::Smoke { command: SmokeCommand::Eval { dir } } => commands::smoke_eval(&cfg, &dir),
        Command::Smoke { command: SmokeCommand::Masks } => commands::smoke_masks(&cfg),
        Command::Validate { command: ValidateCommand::Goes { l1b, fdc, offset, json } } => {
            validate_goes(&cfg, &l1b, &fdc, offset, json)
        }
        Command::Config => {
            print!("{}", cfg.to_documented_toml());
            Ok(Exit::Ok)
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
        Ok(code) => code.into(),
        // an overlapping cron run is not a failure: the running batch will do the work
        Err(err) if err.is::<firepoint::batch::Busy>() => {
            eprintln!("note: {err}");
            Exit::Ok.into()
        }
        Err(err) => {
            eprintln!("error: {}", firepoint::text::error_chain(err.as_ref()));
            if err.chain().any(|e| e.downcast_ref::<firepoint::store::StoreError>().is_some_and(|s| s.is_full())) {
                eprintln!(
                    "note: the ticket store's disk is full. The batch stopped cleanly: every input recorded so far is \
                     kept whole, the others are still in the inbox, and the next batch takes them once there is space."
                );
            }
            Exit::Fatal.into()
        }
    }
}
