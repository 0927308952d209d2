//! Command-line interface: clap types and their conversion into [`firepoint::config::Config`].
//! Nothing past this file sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// firepoint — finds straw and garbage burning in satellite passes and tower-camera frames,
/// places each fire in its village grid cell and keeps dispatch tickets for township teams.
///
/// Exit codes: 0 all inputs fine; 1 partial (some inputs were bad: named on stderr and moved to
/// the quarantine folder, the rest processed); 2 fatal (nothing was processed).
#[derive(Debug, Parser)]
#[command(name = "firepoint", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./firepoint.toml if it exists, else built-in defaults.
    #[arg(long, global = true, env = "FIREPOINT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override one configuration key, e.g. `--set sla.on_site_min=10` (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// More log output on stderr: -v firepoint's progress, -vv its details, -vvv the libraries'
    /// too (ONNX Runtime, GDAL, HTTP). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log lines on stderr as plain text, or as one JSON object a line (for a log shipper).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FIREPOINT_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One cron batch: every new file in the inbox (satellite/ scenes, frames/<camera>/ frames).
    /// Files already processed (same content) are skipped, so running it every few minutes is safe.
    Run,
    /// Process the satellite scenes (or frames) named here, e.g. right after a pass.
    /// Bad files are copied (not moved) into the quarantine folder. Points seen more than
    /// `events.live_window_h` hours ago (an old table, last year's scenes) go to the history
    /// (persistence mask, plan, rankings) and the fire-point ledger, never to a ticket; the
    /// summary says how many (`history: N point(s)`).
    Pass {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List and export tickets; take a township team's steps (签收, 到场, 查实, 查否) from the shell.
    Tickets(TicketsArgs),
    /// The daily report: fires first seen on a Beijing day (or an ISO week), per township, ranked;
    /// how the teams closed them (查实 / 查否), on time or overdue.
    Report {
        /// Beijing reporting day, YYYY-MM-DD (default: today in Beijing).
        #[arg(long, conflicts_with = "week")]
        day: Option<chrono::NaiveDate>,
        /// An ISO week instead of a day, e.g. 2026-W24 (Monday to Sunday, Beijing days): the
        /// weekly ranking (排名) of townships by fire points.
        #[arg(long, value_parser = firepoint::report::parse_week)]
        week: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Also draw the county map of the period's fires with the ranking table (PNG), for the 通报.
        #[arg(long, value_name = "FILE.png")]
        map: Option<PathBuf>,
    },
    /// The fire-point ledger (火点台账): one row per satellite fire point received (a table's row,
    /// a scene's pixel) with the source's own 省/市/县, ours, the ticket or why none, the verdict,
    /// and a flag with the distance to the county border where the source names another county.
    /// CSV, UTF-8 with BOM.
    FirePoints {
        /// Only points seen on or after this Beijing day, YYYY-MM-DD.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// Write the CSV here (default: standard output).
        #[arg(long, value_name = "FILE.csv")]
        out: Option<PathBuf>,
    },
    /// The day's patrol plan (巡查计划): per township, villages ranked by burning risk, with the
    /// risk windows and their times, as CSV (UTF-8 with BOM) and a PNG map.
    Plan {
        /// Beijing day, YYYY-MM-DD.
        #[arg(long)]
        day: chrono::NaiveDate,
        /// The CSV (default: plan-DAY.csv in the working directory).
        #[arg(long, value_name = "FILE.csv")]
        csv: Option<PathBuf>,
        /// The map (default: plan-DAY.png in the working directory).
        #[arg(long, value_name = "FILE.png")]
        map: Option<PathBuf>,
    },
    /// Serve the ticket feed and the township page over HTTP (tokens from `firepoint token add`;
    /// no TLS of its own: put it behind the county's reverse proxy for that).
    Serve {
        /// Address to listen on (default: serve.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Deliver the notification outbox (webhooks, SMS) and escalate overdue steps; for cron.
    /// `serve` runs the same sender every serve.notify_every_s seconds.
    Notify {
        /// Deliver at most this many messages in this run.
        #[arg(long, default_value_t = 10_000)]
        max: usize,
        /// First queue the messages that failed for good again (once their cause is fixed).
        #[arg(long)]
        retry_failed: bool,
    },
    /// The district's towers: last frame and health (ok, offline, frozen, never heard from).
    Cameras,
    /// Prune what `[retention]` no longer keeps: per-frame results, old evidence pictures, queue
    /// rows never recorded, old batch records (store) and old archive day folders. Every batch
    /// does the same; this is for a county that wants it at a quiet hour, or the space back.
    Gc {
        /// Then give the freed space back to the file system (SQLite VACUUM: rewrites the
        /// store, so run it when no batch runs; PostgreSQL: VACUUM of the pruned tables).
        #[arg(long)]
        vacuum: bool,
    },
    /// Access tokens of the ticket feed.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check or generate the district (AOI) layers.
    Aoi {
        #[command(subcommand)]
        command: AoiCommand,
    },
    /// Write sample inputs (a satellite pass and camera frames) into the inbox.
    Simulate {
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Instead of the sample inputs: one cron slice of a county day from this time (RFC 3339,
        /// e.g. 2026-11-22T00:05:00Z): one frame a minute from every camera of the district.
        #[arg(long)]
        slice: Option<chrono::DateTime<chrono::Utc>>,
        /// Minutes in the slice.
        #[arg(long, default_value_t = 5, requires = "slice")]
        minutes: u32,
        /// Frame size of the slice's frames, WIDTHxHEIGHT.
        #[arg(long, default_value = "1920x1080", requires = "slice", value_parser = parse_size)]
        frame_size: (u32, u32),
        /// Only the district's first N cameras.
        #[arg(long, requires = "slice")]
        cameras: Option<usize>,
        /// Smoke events over the slice's day (a camera watching a fire for 20–45 minutes).
        #[arg(long, default_value_t = 12, requires = "slice")]
        fires: usize,
        /// Also a satellite pass at the slice's start.
        #[arg(long, requires = "slice")]
        scene: bool,
    },
    /// Print the effective configuration as TOML (every key, with its value).
    Config,
    /// The persistence mask's history of satellite detections (static heat sources).
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// The camera smoke model.
    Smoke {
        #[command(subcommand)]
        command: SmokeCommand,
    },
    /// Measure our fire detection against an official product.
    Validate {
        #[command(subcommand)]
        command: ValidateCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it (once: only its hash is kept).
    Add {
        /// The township it is for (its code); sees and changes only that township's tickets.
        #[arg(long, conflicts_with = "county", required_unless_present = "county")]
        township: Option<String>,
        /// A county token: sees every ticket.
        #[arg(long)]
        county: bool,
        /// Who holds it, as the audit log names them (default: the township's name, or 县).
        #[arg(long, value_parser = not_blank)]
        name: Option<String>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke token ID.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Learn from archived fire points or scenes (e.g. a year of FIRMS tables): record every
    /// detection's cell and day, inside the county or not, without making tickets.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show what the persistence mask would do to the detections of FILE (no tickets).
    Mask { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum SmokeCommand {
    /// The masks of camera views: drawn ones (the AOI's camera_masks.json) and those learned
    /// from places that flagged day after day without confirmation (they suppress sightings).
    Masks,
    /// Score a folder of labelled frames (DIR/smoke/ and DIR/no_smoke/, any image size, no pose
    /// needed) through the production path: one JSON line per frame, then precision, recall, F1,
    /// false-positive rate and ROC-AUC at the operational threshold. How a county checks the
    /// model on its own cameras.
    Eval { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ValidateCommand {
    /// Our contextual test on a GOES ABI L1b scene (its channel-7 file; channel 14 beside it)
    /// against the L2 FDC fire mask on the same fixed grid: hits, misses, false alarms, FRP.
    Goes {
        /// The scene's channel-7 (3.9 µm) L1b file.
        #[arg(long)]
        l1b: PathBuf,
        /// The FDC product file.
        #[arg(long)]
        fdc: PathBuf,
        /// FDC row and column of the scene's top-left pixel (mesoscale inside CONUS), e.g. 230,1690.
        #[arg(long, value_name = "ROW,COL", value_parser = parse_offset, default_value = "0,0")]
        offset: (usize, usize),
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct TicketsArgs {
    #[command(subcommand)]
    pub command: Option<TicketsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets (default: all) as a table, JSON Lines, GeoJSON or the ledger (CSV).
    List {
        /// A status (open, acknowledged, on_site, resolved, false_alarm, duplicate) or `active`.
        #[arg(long, value_parser = firepoint::store::TicketFilter::parse_status)]
        status: Option<String>,
        /// Only this township's tickets (its code in the AOI's townships layer).
        #[arg(long)]
        township: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// 签收: the township team has the ticket.
    Ack {
        id: String,
        /// Who (name or grid member id).
        #[arg(long, value_parser = not_blank)]
        by: String,
    },
    /// 到场: the grid member is at the fire.
    OnSite {
        id: String,
        #[arg(long, value_parser = not_blank)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// 查实: it was a burning fire; say what was done.
    Resolve {
        id: String,
        #[arg(long, value_parser = not_blank)]
        by: String,
        /// What was done (扑灭, 清运秸秆 …).
        #[arg(long, value_parser = not_blank)]
        action: String,
    },
    /// 查否: not a burning fire; the cause from the county's list.
    FalseAlarm {
        id: String,
        #[arg(long, value_parser = not_blank)]
        by: String,
        #[arg(long, value_parser = parse_cause)]
        cause: firepoint::domain::FalseAlarmCause,
        #[arg(long)]
        note: Option<String>,
    },
    /// The same fire as ticket OF.
    Duplicate {
        id: String,
        #[arg(long, value_parser = not_blank)]
        by: String,
        #[arg(long, value_parser = not_blank)]
        of: String,
    },
    /// 督办: the county office raises a ticket one level at once (township lead, then county office).
    Escalate {
        id: String,
        #[arg(long, value_parser = not_blank)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// The audit log of a ticket: every step, who and when.
    Log { id: String },
    /// A ticket as an OASIS CAP 1.2 alert (XML), sent as serve.cap_sender.
    Cap { id: String },
}

fn parse_cause(s: &str) -> Result<firepoint::domain::FalseAlarmCause, String> {
    firepoint::domain::FalseAlarmCause::parse(s).ok_or_else(|| {
        let all: Vec<&str> = firepoint::domain::FalseAlarmCause::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown cause `{s}` ({})", all.join(", "))
    })
}

#[derive(Debug, Subcommand)]
pub enum AoiCommand {
    /// Load every layer and report what was found; exits 2 with the file and field on error.
    Check {
        /// AOI folder (default: paths.aoi from the configuration).
        dir: Option<PathBuf>,
    },
    /// Write the synthetic sample district (deterministic for a seed).
    Generate {
        #[arg(long, default_value = "aoi")]
        out: PathBuf,
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
    },
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `2026-06-10T05:30:00.000000Z  WARN message key=value` (colour on a terminal).
    Text,
    /// `{"timestamp":…,"level":"WARN","fields":{"message":…},"span":…}`, one object a line.
    Json,
}

/// `firepoint report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
}

/// `firepoint tickets list --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Jsonl,
    Geojson,
    /// The ledger (台账): UTF-8 with BOM (Excel opens it as is), Chinese headers.
    Csv,
}

/// A value that says something: not empty, not only spaces.
fn not_blank(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(t.to_string())
}

/// `ROW,COL`: exactly two whole numbers.
fn parse_offset(s: &str) -> Result<(usize, usize), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [r, c] => Ok((
            r.parse().map_err(|_| format!("row `{r}` is not a whole number"))?,
            c.parse().map_err(|_| format!("column `{c}` is not a whole number"))?,
        )),
        _ => Err(format!("`{s}` is not ROW,COL (two numbers, e.g. 230,1690)")),
    }
}

/// `WIDTHxHEIGHT`, e.g. `1920x1080`.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 1920x1080"))?;
    match (w.parse::<u32>(), h.parse::<u32>()) {
        (Ok(w), Ok(h)) if (16..=8192).contains(&w) && (16..=8192).contains(&h) => Ok((w, h)),
        _ => Err(format!("{s:?}: expected WIDTHxHEIGHT, each 16 to 8192")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r6_offset_takes_exactly_two_numbers() {
        assert_eq!(parse_offset("230,1690"), Ok((230, 1690)));
        assert!(parse_offset("5").unwrap_err().contains("ROW,COL"));
        assert!(parse_offset("1,2,3").is_err() && parse_offset("a,2").is_err());
    }
}
