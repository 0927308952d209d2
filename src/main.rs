//! The `firepoint` binary: parses the command line, installs logging, runs one command and maps
//! its outcome to the exit code (0 ok, 1 partial, 2 fatal). All the work is in the library.

mod cli;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use firepoint::config::Config;

use cli::{AoiCommand, Cli, Command, LogFormat, SmokeCommand, ValidateCommand};

/// The log format chosen at start-up: process-wide, as the subscriber it installed.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// What a line on stderr is to whoever reads the log.
#[derive(Debug, Clone, Copy)]
pub enum Said {
    Error,
    Warning,
    Note,
}

/// One line on stderr for the operator: `error: …` as text, or with `--log-format json` a log
/// event (error, or warn for warnings and notes), so that every stderr line is one JSON object.
pub fn say(what: Said, line: &str) {
    if LOG_FORMAT.get() == Some(&LogFormat::Json) {
        match what {
            Said::Error => tracing::error!("{line}"),
            Said::Warning | Said::Note => tracing::warn!("{line}"),
        }
    } else {
        let prefix = match what {
            Said::Error => "error",
            Said::Warning => "warning",
            Said::Note => "note",
        };
        eprintln!("{prefix}: {line}");
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    LOG_FORMAT.get_or_init(|| format);
    // -v and -vv turn up firepoint's own lines; the libraries (ONNX Runtime, GDAL, the HTTP and
    // TLS stacks) stay at warnings until -vvv, or they flood the batch's progress
    let default = match verbose {
        0 => "warn",
        1 => "warn,firepoint=info",
        2 => "warn,firepoint=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let log = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        // colour only on a terminal: cron's log file gets plain text
        LogFormat::Text => log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        // one object a line, its event's fields under "fields", the span it ran in beside them
        LogFormat::Json => log.json().with_current_span(true).with_span_list(false).init(),
    }
    // GDAL prints its own errors on stderr; ours already name the file, so GDAL's go to the log
    // (a library's: shown from -vvv)
    gdal::config::set_error_handler(|class, code, msg| tracing::debug!(target: "gdal", ?class, code, "GDAL: {msg}"));
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
    // what `pg_stat_activity` says holds each connection (docs/DEPLOY.md, "Connection budget")
    firepoint::store::set_application_name(match cli.command {
        Command::Run | Command::Pass { .. } => "firepoint-worker",
        Command::Serve { .. } => "firepoint-serve",
        Command::Notify { .. } => "firepoint-sender",
        _ => "firepoint-cli",
    });
    match cli.command {
        Command::Run => commands::run_inbox(&cfg),
        Command::Pass { files } => commands::pass(&cfg, files),
        Command::Tickets(args) => commands::tickets(&cfg, args.command),
        Command::Report { day, week, format, map } => commands::report(&cfg, day, week, format, map.as_deref()),
        Command::Plan { day, csv, map } => commands::plan(&cfg, day, csv, map),
        Command::FirePoints { since, out } => commands::fire_points(&cfg, since, out.as_deref()),
        Command::Serve { listen } => commands::serve(&cfg, listen),
        Command::Notify { max, retry_failed } => commands::notify(&cfg, max, retry_failed),
        Command::Token { command } => commands::token(&cfg, command),
        Command::Cameras => commands::cameras(&cfg),
        Command::Gc { vacuum } => commands::gc(&cfg, vacuum),
        Command::Aoi { command: AoiCommand::Check { dir } } => commands::aoi_check(&cfg, dir),
        Command::Aoi { command: AoiCommand::Generate { out, seed } } => commands::aoi_generate(&out, seed),
        Command::Simulate { seed, slice: Some(start), minutes, frame_size, cameras, fires, scene } => {
            let s =
                firepoint::simulate::Slice { start, minutes, size: frame_size, cameras, fires_per_day: fires, scene };
            commands::simulate_slice(&cfg, seed, &s)
        }
        Command::Simulate { seed, .. } => commands::simulate(&cfg, seed),
        Command::History { command } => commands::history(&cfg, command),
        Command::Smoke { command: SmokeCommand::Eval { dir } } => commands::smoke_eval(&cfg, &dir),
        Command::Smoke { command: SmokeCommand::Masks } => commands::smoke_masks(&cfg),
        Command::Validate { command: ValidateCommand::Goes { l1b, fdc, offset, json } } => {
            commands::validate_goes(&cfg, &l1b, &fdc, offset, json)
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
    init_logging(cli.verbose, cli.log_format);
    match run(cli) {
        Ok(code) => code.into(),
        // an overlapping cron run is not a failure: the running batch will do the work
        Err(err) if err.is::<firepoint::batch::Busy>() => {
            say(Said::Note, &err.to_string());
            Exit::Ok.into()
        }
        Err(err) => {
            say(Said::Error, &firepoint::text::error_chain(err.as_ref()));
            if err.chain().any(|e| e.downcast_ref::<firepoint::store::StoreError>().is_some_and(|s| s.is_full())) {
                say(
                    Said::Note,
                    "the ticket store's disk is full. The batch stopped cleanly: every input recorded so far is \
                     kept whole, the others are still in the inbox, and the next batch takes them once there is space.",
                );
            }
            Exit::Fatal.into()
        }
    }
}
