//! The ticket feed: after a batch that changed tickets, the tickets of the last
//! `feed.window_days` (every active one, and the rest changed within the window) are written as
//! JSON Lines (`tickets.jsonl`, one ticket per line) and GeoJSON (`tickets.geojson`, for GIS and
//! map screens). Each file is written beside its final name and renamed over it, so a reader never
//! sees half a file. A batch that changed nothing (the store's ticket counter and the window's
//! first day are those of the last write, `.feed-state`) writes nothing. Workers finishing at once
//! take turns (an OS file lock, `.feed-lock`, from the check to the last rename), so the files and
//! their state are one writer's and the last writer read the newest tickets. The store stays the
//! source of truth and keeps the whole history (`firepoint tickets list`, the ledger); the feed
//! can always be rebuilt.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::Ticket;

#[derive(Debug, thiserror::Error)]
#[error("cannot write feed file {path}")]
pub struct FeedError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FeedError> {
    crate::files::write_atomic(path, bytes).map_err(|source| FeedError { path: path.into(), source })
}

/// Text a person typed (a note, a name) as a spreadsheet cell: one starting with `=`, `+`, `-` or
/// `@` would run as a formula in Excel, so it gets a leading apostrophe (shown as text).
pub(crate) fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// The ledger (台账) as the county keeps it: one row per ticket, Chinese headers, times in Beijing,
/// UTF-8 with a byte-order mark so that Excel on Chinese Windows reads it as it is. 超时环节 lists
/// the steps done after their deadline or still pending past it at `now`.
pub fn ledger_csv(tickets: &[Ticket], now: chrono::DateTime<chrono::Utc>) -> String {
    use crate::domain::{BurnKind, Priority, Status};
    let bj = crate::time::beijing();
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.with_timezone(&bj).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
    };
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    w.write_record([
        "编号",
        "乡镇",
        "乡镇代码",
        "村",
        "村代码",
        "网格",
        "网格员",
        "网格员电话",
        "中心经度",
        "中心纬度",
        "发现时间",
        "最后发现",
        "来源",
        "摄像头",
        "火点数",
        "类型",
        "类型依据",
        "优先级",
        "风险时段",
        "处置时限",
        "状态",
        "签收人",
        "签收时间",
        "到场人",
        "到场时间",
        "核查结果",
        "办结人",
        "办结时间",
        "处置措施",
        "超时环节",
        "同一火情",
        "前序工单",
    ])
    .expect("in-memory writer");
    for t in tickets {
        let source = t.sources.iter().map(|s| crate::domain::source_chinese(s)).collect::<Vec<_>>().join("+");
        let kind = match t.kind {
            BurnKind::Unknown => "未知",
            k => k.event_chinese(),
        };
        let priority = match t.priority {
            Priority::High => "高",
            Priority::Normal => "一般",
        };
        let outcome = match (t.status, t.false_alarm_cause) {
            (Status::Resolved, _) => "查实".to_string(),
            (Status::FalseAlarm, Some(c)) => format!("查否（{}）", c.chinese()),
            (Status::FalseAlarm, None) => "查否".to_string(),
            (Status::Duplicate, _) => format!("重复（{}）", t.duplicate_of.as_deref().unwrap_or("")),
            _ => String::new(),
        };
        let late: Vec<&str> =
            crate::lifecycle::late_steps(t, now).iter().map(|o| crate::lifecycle::step_chinese(o.step)).collect();
        w.write_record([
            t.id.as_str(),
            &t.township,
            &t.township_code,
            &t.village,
            &t.village_code,
            &t.grid_id,
            &t.grid_member,
            &t.grid_phone,
            &format!("{:.6}", t.lon),
            &format!("{:.6}", t.lat),
            &when(Some(t.first_seen)),
            &when(Some(t.last_seen)),
            &source,
            &t.cameras.join(" "),
            &t.detections.to_string(),
            kind,
            &t.kind_why.rule,
            priority,
            &t.windows.join("; "),
            &when(Some(t.deadline)),
            t.status.chinese(),
            &cell(t.acked_by.as_deref().unwrap_or("")),
            &when(t.acked_at),
            &cell(t.on_site_by.as_deref().unwrap_or("")),
            &when(t.on_site_at),
            &outcome,
            &cell(t.closed_by.as_deref().unwrap_or("")),
            &when(t.closed_at),
            &cell(t.close_note.as_deref().unwrap_or("")),
            &late.join(" "),
            &t.related.join(" "),
            t.follows.as_deref().unwrap_or(""),
        ])
        .expect("in-memory writer");
    }
    String::from_utf8(w.into_inner().expect("in-memory writer")).expect("CSV is UTF-8")
}

pub fn jsonl(tickets: &[Ticket]) -> String {
    tickets.iter().map(|t| serde_json::to_string(t).expect("tickets serialise") + "\n").collect()
}

pub fn geojson(tickets: &[Ticket]) -> serde_json::Value {
    let features: Vec<_> = tickets
        .iter()
        .map(|t| {
            serde_json::json!({
                "type": "Feature",
                "id": t.id,
                "geometry": {"type": "Point", "coordinates": [t.lon, t.lat]},
                "properties": t,
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

/// The feed's window, from the `[feed]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed files hold every active ticket and the others changed within this many days
    /// (older ones are in the store: `firepoint tickets list`, `firepoint report`, the ledger).
    pub window_days: i64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig { window_days: 7 }
    }
}

/// What the feed files were last written from: the store's ticket counter and ticket count (a
/// store made anew counts from zero again) and the window's first day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    pub version: i64,
    pub tickets: i64,
    pub from_day: String,
}

const STATE: &str = ".feed-state";

/// The feed files of `dir`.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    vec![dir.join("tickets.jsonl"), dir.join("tickets.geojson")]
}

/// Whether the feed files in `dir` were written from `state` and are all there.
pub fn is_current(dir: &Path, state: &FeedState) -> bool {
    let written = std::fs::read(dir.join(STATE)).ok().and_then(|b| serde_json::from_slice::<FeedState>(&b).ok());
    written.as_ref() == Some(state) && files(dir).iter().all(|f| f.is_file())
}

/// The feed's lock file in `dir`: one writer at a time, from its check to its last rename.
const LOCK: &str = ".feed-lock";

/// Holds the feed lock of `dir` (an OS file lock on `.feed-lock`, released when the file is
/// dropped or its process dies; opened without following a link planted there).
fn lock(dir: &Path) -> Result<std::fs::File, FeedError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK);
    let locked = std::fs::create_dir_all(dir).and_then(|_| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        file.lock()?;
        Ok(file)
    });
    locked.map_err(|source| FeedError { path, source })
}

/// Runs `f` holding the feed lock of `dir`: the feed folder's other files (the fire-point
/// ledger) are one writer's too, as the ticket files are.
pub fn locked<T>(dir: &Path, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let _held = lock(dir)?;
    f()
}

/// Writes both feed files into `dir`, then the state they were written from (last: killed
/// before it, the next batch writes them again); returns their paths. Writers take turns (the
/// feed lock), so the two files and the state are always those of one writer.
pub fn write(dir: &Path, tickets: &[Ticket], state: Option<&FeedState>) -> Result<Vec<PathBuf>, FeedError> {
    let _held = lock(dir)?;
    write_locked(dir, tickets, state)
}

/// Writes the feed of `dir` unless it was written from `state` already: the check, the reading
/// of the tickets (`tickets`) and the writing under one hold of the feed lock, so that of
/// several workers finishing at once the last to write read the newest tickets, and a feed never
/// goes back to what an earlier reader saw. Returns the feed's paths.
pub fn refresh(
    dir: &Path,
    state: &FeedState,
    tickets: impl FnOnce() -> anyhow::Result<Vec<Ticket>>,
) -> anyhow::Result<Vec<PathBuf>> {
    let _held = lock(dir)?;
    if is_current(dir, state) {
        tracing::debug!("no ticket changed since the feed was written: not written again");
        return Ok(files(dir));
    }
    Ok(write_locked(dir, &tickets()?, Some(state))?)
}

fn write_locked(dir: &Path, tickets: &[Ticket], state: Option<&FeedState>) -> Result<Vec<PathBuf>, FeedError> {
    let [jl, gj]: [PathBuf; 2] = files(dir).try_into().expect("two files");
    write_atomic(&jl, jsonl(tickets).as_bytes())?;
    write_atomic(&gj, (serde_json::to_string_pretty(&geojson(tickets)).expect("json serialises") + "\n").as_bytes())?;
    if let Some(state) = state {
        write_atomic(&dir.join(STATE), &serde_json::to_vec(state).expect("state serialises"))?;
    }
    Ok(vec![jl, gj])
}
