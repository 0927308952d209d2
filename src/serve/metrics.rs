//! `GET /metrics`: what the county's monitoring scrapes, in Prometheus' text exposition format
//! 0.0.4 (`# HELP`, `# TYPE`, escaped label values), and `GET /health/batch`. The numbers are
//! read from the store when scraped — batches, workers and senders are other processes, and the
//! store is what they share. Counters of what the store keeps for good (tickets, the outbox) are
//! its rows; counters of batch work (inputs, runs, durations) are summed here from the batch
//! runs read so far ([`RunTotals`]: since this server started, which Prometheus reads as a counter
//! reset), because `gc` prunes old runs and input rows. The county's token only (a township token
//! is refused): the numbers are the whole county's.
//!
//! [`Exposition`] writes the format; [`metrics`] reads the store and names the families.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::auth::Who;
use super::error::{err, ApiError};
use super::state::Shared;
use super::tickets::typed;
use crate::store::{BatchRun, Counts};

/// The content type of format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A page of metric families in the text format: each family's `# HELP` and `# TYPE` once,
/// then its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// A label value as the format writes it between quotes: `\` `"` and newline escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', r#"\""#).replace('\n', r"\n")
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf` as the format spells them.
fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "+Inf".into(),
        v if v == f64::NEG_INFINITY => "-Inf".into(),
        v if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        v => format!("{v}"),
    }
}

impl Exposition {
    /// Starts family `name` of `kind` (`counter`, `gauge`, `summary`, `histogram`, `untyped`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample of the family just started.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(self.out, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.out, " {}", number(value));
        self
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

/// Every key of `values` over `all` (each missing one at 0), so a state that is empty now is
/// still a series (an alert on `firepoint_outbox{state="failed"} > 0` needs the 0 before).
fn with_zeros(all: &[&[&str]], values: &crate::store::Counted) -> BTreeMap<Vec<String>, i64> {
    let mut out: BTreeMap<Vec<String>, i64> = values.clone();
    let mut keys: Vec<Vec<String>> = vec![Vec::new()];
    for options in all {
        keys = keys
            .into_iter()
            .flat_map(|k| {
                options.iter().map(move |o| {
                    let mut k = k.clone();
                    k.push(o.to_string());
                    k
                })
            })
            .collect();
    }
    for k in keys {
        out.entry(k).or_insert(0);
    }
    out
}

/// The families read from the store's tables and the towers' state.
pub fn tables(page: &mut Exposition, counts: &Counts, towers: &BTreeMap<&'static str, i64>) {
    use crate::domain::{SourceKind, Status};
    let labelled = |page: &mut Exposition, name: &str, names: &[&str], rows: &BTreeMap<Vec<String>, i64>| {
        for (key, n) in rows {
            let labels: Vec<(&str, &str)> = names.iter().copied().zip(key.iter().map(String::as_str)).collect();
            page.sample(name, &labels, *n as f64);
        }
    };
    page.family(
        "firepoint_queue",
        "gauge",
        "Inputs in the workers' queue by state (waiting, claimed, analysed; a PostgreSQL store's workers).",
    );
    labelled(page, "firepoint_queue", &["state"], &with_zeros(&[&["waiting", "claimed", "analysed"]], &counts.queue));

    let channels = crate::notify::Channel::NAMES;
    let delivered: crate::store::Counted =
        counts.outbox.iter().filter(|(k, _)| k[1] != "pending").map(|(k, n)| (k.clone(), *n)).collect();
    page.family(
        "firepoint_deliveries_total",
        "counter",
        "Notifications settled, by channel and state: sent, failed (for good), skipped (channel not configured).",
    );
    labelled(
        page,
        "firepoint_deliveries_total",
        &["channel", "state"],
        &with_zeros(&[channels, &["sent", "failed", "skipped"]], &delivered),
    );
    let pending: crate::store::Counted =
        counts.outbox.iter().filter(|(k, _)| k[1] == "pending").map(|(k, n)| (vec![k[0].clone()], *n)).collect();
    page.family("firepoint_outbox_pending", "gauge", "Notifications waiting to be delivered (or retried), by channel.");
    labelled(page, "firepoint_outbox_pending", &["channel"], &with_zeros(&[channels], &pending));

    let mut opened = crate::store::Counted::new();
    let mut by_status = crate::store::Counted::new();
    for (k, n) in &counts.tickets {
        *opened.entry(vec![k[0].clone()]).or_default() += n;
        *by_status.entry(vec![k[1].clone()]).or_default() += n;
    }
    page.family(
        "firepoint_tickets_opened_total",
        "counter",
        "Tickets (alarms) opened, by the source that opened them (satellite, camera, drone).",
    );
    labelled(page, "firepoint_tickets_opened_total", &["source"], &with_zeros(&[SourceKind::NAMES], &opened));
    page.family(
        "firepoint_tickets",
        "gauge",
        "Tickets by status now (open, acknowledged and on_site are the active ones).",
    );
    labelled(page, "firepoint_tickets", &["status"], &with_zeros(&[Status::NAMES], &by_status));

    page.family(
        "firepoint_towers",
        "gauge",
        "The district's towers by health: ok, offline, frozen, view_changed (an open notice), unknown (no frame in 7 days).",
    );
    for (state, n) in towers {
        page.sample("firepoint_towers", &[("state", state)], *n as f64);
    }
}

/// The towers of the district by state (every state named, 0 included).
fn tower_states(
    cameras: &[serde_json::Value],
    status: &BTreeMap<String, crate::store::TowerStatus>,
) -> BTreeMap<&'static str, i64> {
    let mut out: BTreeMap<&'static str, i64> =
        ["ok", "unknown"].into_iter().chain(crate::health::Trouble::NAMES.iter().copied()).map(|s| (s, 0)).collect();
    for c in cameras {
        let id = c["id"].as_str().unwrap_or_default();
        *out.entry(status.get(id).map(|t| t.state()).unwrap_or("unknown")).or_default() += 1;
    }
    out
}

/// Upper bounds of the batch duration histogram, seconds (a 3-minute timer's batch is seconds;
/// a morning backlog, minutes).
const DURATION_BUCKETS: [f64; 10] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// How late a batch run may be written after another one that finished later (workers' clocks,
/// the time between a run's end and its row): runs are read again this far back, each counted once.
const LATE: Duration = Duration::minutes(10);

/// The batch runs summed so far: counters since this server started.
#[derive(Debug, Default)]
pub struct RunTotals {
    /// The runs of the last [`LATE`] already counted: (finished, worker, started).
    counted: BTreeSet<(DateTime<Utc>, String, DateTime<Utc>)>,
    newest: Option<DateTime<Utc>>,
    /// Runs by outcome.
    runs: BTreeMap<String, i64>,
    /// Inputs by (kind, outcome).
    inputs: BTreeMap<(String, String), i64>,
    /// Runs within each of [`DURATION_BUCKETS`] (not cumulative), and their sum and count.
    buckets: [i64; DURATION_BUCKETS.len()],
    seconds: f64,
    count: i64,
}

impl RunTotals {
    /// From when to read runs next.
    pub fn since(&self) -> DateTime<Utc> {
        self.newest.map(|n| n - LATE).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// Adds the runs not counted yet.
    pub fn add(&mut self, runs: &[BatchRun]) {
        for r in runs {
            if !self.counted.insert((r.finished_at, r.worker.clone(), r.started_at)) {
                continue;
            }
            self.newest = self.newest.max(Some(r.finished_at));
            *self.runs.entry(r.outcome.clone()).or_default() += 1;
            for (kind, outcomes) in &r.by_kind {
                for (outcome, n) in outcomes {
                    *self.inputs.entry((kind.clone(), outcome.clone())).or_default() += n;
                }
            }
            let s = (r.finished_at - r.started_at).num_milliseconds().max(0) as f64 / 1000.0;
            if let Some(i) = DURATION_BUCKETS.iter().position(|b| s <= *b) {
                self.buckets[i] += 1;
            }
            self.seconds += s;
            self.count += 1;
        }
        let keep = self.since();
        self.counted.retain(|(finished, ..)| *finished >= keep);
    }

    /// The batch families: inputs by kind and outcome, runs by outcome, the duration histogram.
    pub fn write(&self, page: &mut Exposition) {
        page.family(
            "firepoint_inputs_total",
            "counter",
            "Inputs the batches handled, by kind and outcome (done, quarantined, retried, skipped), since this server started.",
        );
        for ((kind, outcome), n) in &self.inputs {
            page.sample("firepoint_inputs_total", &[("kind", kind), ("outcome", outcome)], *n as f64);
        }
        page.family(
            "firepoint_batch_runs_total",
            "counter",
            "Batches (and workers' batches) that ended, by outcome (ok, partial, failed), since this server started.",
        );
        for outcome in ["ok", "partial", "failed"] {
            page.sample(
                "firepoint_batch_runs_total",
                &[("outcome", outcome)],
                *self.runs.get(outcome).unwrap_or(&0) as f64,
            );
        }
        page.family(
            "firepoint_batch_duration_seconds",
            "histogram",
            "How long batches took, start to end, since this server started.",
        );
        let mut below = 0;
        for (le, n) in DURATION_BUCKETS.iter().zip(self.buckets) {
            below += n;
            page.sample("firepoint_batch_duration_seconds_bucket", &[("le", &number(*le))], below as f64);
        }
        page.sample("firepoint_batch_duration_seconds_bucket", &[("le", "+Inf")], self.count as f64);
        page.sample("firepoint_batch_duration_seconds_sum", &[], self.seconds);
        page.sample("firepoint_batch_duration_seconds_count", &[], self.count as f64);
    }
}

/// The last batch's gauges: when it ended, how long it took, whether it is stale.
fn last_run(page: &mut Exposition, last: Option<&BatchRun>, stale: bool) {
    page.family(
        "firepoint_last_batch_finished_timestamp_seconds",
        "gauge",
        "When the last batch ended (Unix time; absent before the first).",
    );
    if let Some(r) = last {
        page.sample("firepoint_last_batch_finished_timestamp_seconds", &[], r.finished_at.timestamp() as f64);
        page.family("firepoint_last_batch_duration_seconds", "gauge", "How long the last batch took.");
        page.sample(
            "firepoint_last_batch_duration_seconds",
            &[],
            (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0,
        );
    }
    page.family(
        "firepoint_batch_stale",
        "gauge",
        "1 when no batch ended within batch.stale_after_min (what /health/batch answers 503 for).",
    );
    page.sample("firepoint_batch_stale", &[], if stale { 1.0 } else { 0.0 });
}

/// Whether `last` is too old at `now`.
fn is_stale(last: Option<&BatchRun>, now: DateTime<Utc>, stale_after: Duration) -> bool {
    last.is_none_or(|r| now - r.finished_at > stale_after)
}

/// `GET /health/batch` (no token): 200 `{"status": "ok", …}` with the last batch's end, or 503
/// `{"status": "stale", …}` when no batch ended within `batch.stale_after_min` (or none ever did).
pub(super) async fn batch_health(State(app): State<Shared>) -> Result<Response, ApiError> {
    let last = app.read(|s| Ok(s.last_batch_run()?)).await?;
    let stale = is_stale(last.as_ref(), Utc::now(), app.stale_after);
    let body = serde_json::json!({
        "status": if stale { "stale" } else { "ok" },
        "last_batch_finished": last.as_ref().map(|r| crate::store::ts(r.finished_at)),
        "last_batch_outcome": last.as_ref().map(|r| r.outcome.clone()),
        "stale_after_min": app.stale_after.num_minutes(),
    });
    let mut r = typed("application/json", body.to_string());
    if stale {
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    Ok(r)
}

/// `GET /metrics`: the county's token only.
pub(super) async fn metrics(State(app): State<Shared>, Who(who): Who) -> Result<Response, ApiError> {
    if who.township_code.is_some() {
        return Err(err(StatusCode::FORBIDDEN, "/metrics is the whole county's: use the county office's token"));
    }
    let cameras = app.villages["cameras"].as_array().cloned().unwrap_or_default();
    let shared = app.clone();
    let body = app
        .read(move |s| {
            let now = Utc::now();
            let counts = s.metric_counts()?;
            let towers = tower_states(&cameras, &s.tower_status(now)?);
            let last = s.last_batch_run()?;
            let mut page = Exposition::default();
            {
                let mut totals = shared.runs.lock().expect("run totals");
                let runs = s.batch_runs_since(totals.since())?;
                totals.add(&runs);
                totals.write(&mut page);
            }
            last_run(&mut page, last.as_ref(), is_stale(last.as_ref(), now, shared.stale_after));
            tables(&mut page, &counts, &towers);
            Ok(page.into_string())
        })
        .await?;
    Ok(typed(CONTENT_TYPE, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_numbers_are_written_as_the_format_says() {
        let mut page = Exposition::default();
        page.family("x_total", "counter", "a \\ b\nc").sample("x_total", &[("path", "a\"b\\c\nd")], 3.0);
        page.sample("x_total", &[], 0.25).sample("x_total", &[], f64::INFINITY).sample("x_total", &[], f64::NAN);
        let text = page.into_string();
        assert_eq!(
            text,
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{path=\"a\\\"b\\\\c\\nd\"} 3\n\
             x_total 0.25\nx_total +Inf\nx_total NaN\n"
        );
    }
}
