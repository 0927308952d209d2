//! Configuration: one TOML file with documented defaults, every key overridable on the command
//! line as `--set section.key=value`. The rest of the crate sees only [`Config`], never clap.
//!
//! `firepoint config` prints the effective configuration, which doubles as the documentation of
//! every key (see `firepoint.example.toml`, generated from these defaults).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("override `{0}` is not of the form section.key=value")]
    BadOverride(String),
    #[error("override `{key}`: `{key}` is not a table in the configuration")]
    NotATable { key: String },
    #[error("invalid configuration")]
    Invalid(#[source] toml::de::Error),
    #[error("invalid configuration: {0}")]
    Range(String),
}

/// Everything a batch needs to know. Relative paths in a config file are relative to that
/// file's folder; defaults and `--set` values to the working directory.
/// Each stage owns its section's struct; this one only collects, loads and documents them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub paths: Paths,
    pub aoi: crate::aoi::AoiConfig,
    pub camera: crate::detect::smoke::CameraConfig,
    pub hotspot: crate::detect::hotspot::HotspotConfig,
    pub events: crate::events::EventConfig,
    pub confirm: crate::events::ConfirmConfig,
    pub persistence: crate::persistence::Persistence,
    pub sla: crate::dispatch::Sla,
    /// The four burnings (四烧): the crop calendar and the rules that decide a ticket's kind.
    pub burn: crate::burn::BurnConfig,
    /// The risk windows (收工时, 上半夜, 播种前, 下雨前) and what they change.
    pub windows: crate::burn::WindowsConfig,
    pub limits: crate::ingest::Limits,
    pub batch: BatchConfig,
    pub retention: crate::store::RetentionConfig,
    pub feed: crate::feed::FeedConfig,
    pub notify: crate::notify::NotifyConfig,
    pub serve: crate::serve::ServeConfig,
    pub drone: crate::ingest::drone::DroneConfig,
}

/// Where the district, inputs and outputs live (in a config file: relative to its folder; else
/// to the working directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    /// The district: GeoJSON / GeoPackage / Shapefile layers and dem.tif (see aoi/README.md).
    pub aoi: PathBuf,
    /// Inbox: `satellite/` (scenes, products, tables), `frames/<camera>/` (frames + `.json` poses)
    /// and `drone/<drone>/` (drone photos, optional `.json` sidecars).
    pub inbox: PathBuf,
    /// Bad inputs are moved here (under their path in the inbox), each with a `.error.txt` beside it.
    pub quarantine: PathBuf,
    /// The ticket database: a SQLite file (WAL mode; a `.lock` file beside it keeps batches one at
    /// a time), or `postgres://user@host:port/db` for a store shared by many workers (see
    /// docs/DEPLOY.md; no TLS of its own: keep it on a private network or tunnel it).
    pub store: PathBuf,
    /// Feed files written after each batch: tickets.jsonl and tickets.geojson.
    pub feed: PathBuf,
    /// Processed inbox inputs are moved here (`retention.inputs = "archive"`), under
    /// `<Beijing day>/<their path under the inbox>`.
    pub archive: PathBuf,
}

// The batch orchestrator's own settings live with the collector: `batch` reads the whole
// configuration, so a struct of its own there would make `config` and `batch` import each other.
/// How batches share a store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// A batch holding the store's lock longer than this many minutes is reported as stuck by the
    /// next run (stderr, exit 2) instead of the quiet "another batch is running".
    pub stuck_after_min: i64,
    /// A satellite scene whose companion file (GOES channel 14) has not arrived waits this many
    /// minutes after it was written before it is quarantined.
    pub companion_wait_min: i64,
    /// Workers on a PostgreSQL store: an input a worker claimed is taken over by another after
    /// this many seconds without its analysis (the worker died). Longer than the slowest input.
    pub claim_s: i64,
    /// Workers on a PostgreSQL store: how often a worker with nothing to claim looks again for
    /// analyses to record (milliseconds).
    pub poll_ms: u64,
    /// `serve`'s `GET /health/batch` answers 503 `stale` when no batch (or worker's batch) has
    /// finished within this many minutes: five missed runs of a 3-minute timer, or one batch
    /// running that long.
    pub stale_after_min: i64,
    /// `inbox/satellite`, `frames`, `drone` or `weather` may be a symbolic link to a share the
    /// upload server writes. `true`: such a link is walked and its files leave the share like any
    /// inbox file (archived, quarantined). `false`: it is named in a warning and nothing under it
    /// is read or moved (a link made by mistake never moves files the county did not put in the
    /// inbox). A share mounted at the folder itself is always walked.
    pub follow_linked_inbox: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            stuck_after_min: 30,
            companion_wait_min: 10,
            claim_s: 600,
            poll_ms: 200,
            stale_after_min: 15,
            follow_linked_inbox: false,
        }
    }
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            aoi: "aoi".into(),
            inbox: "work/inbox".into(),
            quarantine: "work/quarantine".into(),
            store: "work/firepoint.sqlite".into(),
            feed: "work/feed".into(),
            archive: "work/archive".into(),
        }
    }
}

impl Config {
    /// The rules a detection is judged by (merging, service levels).
    pub fn rules(&self) -> crate::events::Rules<'_> {
        crate::events::Rules {
            events: &self.events,
            sla: &self.sla,
            confirm: &self.confirm,
            burn: &self.burn,
            windows: &self.windows,
            forecasts: &[],
        }
    }

    /// Reads `file` (when given) and applies `overrides` (`section.key=value`, value in TOML
    /// syntax; a bare word is taken as a string).
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => {
                Some(std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?)
            }
            None => None,
        };
        Config::parse(text.as_deref().zip(file), overrides)
    }

    /// [`Config::load`] from a file's text (`Some((text, path))`; relative paths resolve against
    /// the path's folder) or defaults (`None`), then `overrides`.
    pub fn parse(file: Option<(&str, &Path)>, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut value = match file {
            Some((text, path)) => {
                let mut table = toml::from_str::<toml::Table>(text)
                    .map_err(|source| ConfigError::Parse { path: path.into(), source })?;
                resolve_paths(&mut table, path.parent().unwrap_or(Path::new("")));
                table
            }
            None => toml::Table::new(),
        };
        for item in overrides {
            apply_override(&mut value, item)?;
        }
        let cfg: Config = toml::Value::Table(value).try_into().map_err(ConfigError::Invalid)?;
        cfg.check().map_err(ConfigError::Range)?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        check_durations(&serde_json::to_value(self).expect("Config always serialises"), &mut Vec::new())?;
        self.sla.cutoff()?;
        if self.sla.ack_min < 0 || self.sla.on_site_min < 0 || self.sla.on_site_high_min < 0 {
            return Err("sla: minutes must not be negative".into());
        }
        if self.sla.ack_min > self.sla.on_site_high_min.min(self.sla.on_site_min) {
            return Err(
                "sla.ack_min must not be later than the on-site deadlines (on_site_min, on_site_high_min)".into()
            );
        }
        let finite_positive = |v: f64| v.is_finite() && v > 0.0;
        if !finite_positive(self.persistence.cell_deg) {
            return Err(format!("persistence.cell_deg must be a positive number, not {}", self.persistence.cell_deg));
        }
        if !finite_positive(self.events.merge_radius_m) {
            return Err(format!("events.merge_radius_m must be a positive number, not {}", self.events.merge_radius_m));
        }
        if !(self.events.station_alert_m.is_finite() && self.events.station_alert_m >= 0.0) {
            return Err(format!("events.station_alert_m must be a number ≥ 0, not {}", self.events.station_alert_m));
        }
        if !(self.events.highway_alert_m.is_finite() && self.events.highway_alert_m >= 0.0) {
            return Err(format!("events.highway_alert_m must be a number ≥ 0, not {}", self.events.highway_alert_m));
        }
        if !(self.events.heat_source_buffer_m.is_finite() && (0.0..=5000.0).contains(&self.events.heat_source_buffer_m)) {
            return Err(format!(
                "events.heat_source_buffer_m must be 0 to 5000 m, not {} (a larger one silences every fire around a source)",
                self.events.heat_source_buffer_m
            ));
        }
        self.aoi.check()?;
        self.burn.check()?;
        self.windows.check()?;
        if let Some(t) = self.camera.threshold.filter(|t| !(0.0..=1.0).contains(t)) {
            return Err(format!("camera.threshold must be between 0 and 1, not {t}"));
        }
        if self.camera.chunk == 0 {
            return Err("camera.chunk must be ≥ 1".into());
        }
        self.camera.check()?;
        if self.confirm.of_last == 0 || self.confirm.frames > self.confirm.of_last {
            return Err(format!(
                "confirm: frames ({}) must be at most of_last ({}), which must be ≥ 1",
                self.confirm.frames, self.confirm.of_last
            ));
        }
        if self.limits.max_pixels == 0 || self.limits.max_frame_pixels == 0 {
            return Err("limits.max_pixels and limits.max_frame_pixels must be ≥ 1".into());
        }
        if self.batch.claim_s < 1 || self.batch.poll_ms < 1 {
            return Err("batch.claim_s and batch.poll_ms must be ≥ 1".into());
        }
        let r = &self.retention;
        let frames_floor = crate::store::HEALTH_DAYS.max(self.confirm.mask_lookback_days);
        if r.frames_days < frames_floor {
            return Err(format!(
                "retention.frames_days ({}) must be at least {frames_floor}: tower health reads {} days of frames and \
                 the learned view masks confirm.mask_lookback_days ({})",
                r.frames_days,
                crate::store::HEALTH_DAYS,
                self.confirm.mask_lookback_days
            ));
        }
        if self.feed.window_days < 1 {
            return Err("feed.window_days must be ≥ 1".into());
        }
        self.notify.check()?;
        self.serve.check()?;
        self.drone.check()
    }

    /// The configuration as TOML, every key present, without comments.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("Config always serialises")
    }

    /// The configuration as TOML with a comment above every section and key: the doc comments
    /// of the configuration structs themselves (through their JSON schema), written once.
    pub fn to_documented_toml(&self) -> String {
        let schema = schemars::schema_for!(Config);
        let docs = Docs { root: schema.as_value() };
        let mut out = String::from("# firepoint configuration: every key with its value. Override any key with\n# `--set section.key=value`; `firepoint config` prints this.\n\n");
        let mut section: Vec<String> = Vec::new();
        let mut arrays_seen = std::collections::BTreeSet::new();
        // keys of an array's later entries: described at its first
        let mut repeat = false;
        for line in self.to_toml().lines() {
            let trimmed = line.trim();
            // an entry of an array of tables (`[[burn.rules]]`): described at its first entry
            if let Some(name) = trimmed.strip_prefix("[[").and_then(|s| s.strip_suffix("]]")) {
                section = name.split('.').map(String::from).collect();
                repeat = !arrays_seen.insert(name.to_string());
                if repeat {
                    out.push_str(&format!("# (the next entry of {name}: its keys as in the first)\n"));
                } else {
                    push_comment(&mut out, docs.describe(&section));
                }
                out.push_str(line);
                out.push('\n');
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                repeat = false;
                section = name.split('.').map(String::from).collect();
                push_comment(&mut out, docs.describe(&section));
                out.push_str(line);
                out.push('\n');
                // a key whose default is "unset" is not in the TOML: show it commented out
                if name == "camera" {
                    push_comment(&mut out, docs.describe(&["camera".into(), "threshold".into()]));
                    out.push_str("# threshold = 0.5\n");
                }
                continue;
            }
            if let Some((key, _)) = trimmed.split_once(" = ").filter(|_| !repeat) {
                let mut path = section.clone();
                path.push(key.to_string());
                push_comment(&mut out, docs.describe(&path));
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Doc comments of the configuration, read from its JSON schema (`schemars` keeps every `///`
/// as a `description`).
struct Docs<'a> {
    root: &'a serde_json::Value,
}

impl Docs<'_> {
    /// A `$ref` resolved within the schema; other nodes as they are.
    fn resolve<'v>(&'v self, node: &'v serde_json::Value) -> &'v serde_json::Value {
        match node.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.root.pointer(pointer).unwrap_or(node),
            None => node,
        }
    }

    /// The description of a section or key (`["hotspot", "abi", "dt_mad_k"]`): the field's own
    /// doc comment, else its type's.
    fn describe(&self, path: &[String]) -> Option<&str> {
        let mut node = self.root;
        for part in path {
            let mut parent = self.resolve(node);
            // the entries of an array (of tables): their type's properties
            if let Some(items) = parent.get("items") {
                parent = self.resolve(items);
            }
            node = parent.get("properties")?.get(part)?;
        }
        let own = node.get("description").and_then(|d| d.as_str());
        own.or_else(|| self.resolve(node).get("description").and_then(|d| d.as_str()))
    }
}

/// Writes `doc` as `# ` comment lines of at most ~100 characters.
fn push_comment(out: &mut String, doc: Option<&str>) {
    let Some(doc) = doc else { return };
    for paragraph in doc.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + word.chars().count() > 96 {
                out.push_str(&format!("# {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&format!("# {line}\n"));
    }
}

/// The unit a key's name ends in, and the most of it a duration may be: a century (a history
/// lookback of ten years is real; `notify.claim_s = 1e14` once passed and then panicked the
/// sender when added to a time). None may be negative.
const DURATION_UNITS: [(&str, f64); 6] = [
    ("_ms", CENTURY_DAYS * 86_400_000.0),
    ("_s", CENTURY_DAYS * 86_400.0),
    ("_min", CENTURY_DAYS * 1440.0),
    ("_h", CENTURY_DAYS * 24.0),
    ("_hours", CENTURY_DAYS * 24.0),
    ("_days", CENTURY_DAYS),
];
const CENTURY_DAYS: f64 = 36_525.0;

/// Every number whose key names a time unit (`claim_s`, `stuck_after_min`, `lookback_days`, …),
/// anywhere in the configuration: finite, ≥ 0 and at most a century.
fn check_durations(node: &serde_json::Value, path: &mut Vec<String>) -> Result<(), String> {
    match node {
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            path.push(k.clone());
            let r = check_durations(v, path);
            path.pop();
            r
        }),
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| check_durations(v, path)),
        serde_json::Value::Number(n) => {
            let key = path.last().map(String::as_str).unwrap_or("");
            let Some((unit, max)) = DURATION_UNITS.iter().find(|(u, _)| key.ends_with(u)) else {
                return Ok(());
            };
            let v = n.as_f64().unwrap_or(f64::NAN);
            if v.is_finite() && (0.0..=*max).contains(&v) {
                return Ok(());
            }
            let unit = unit.trim_start_matches('_');
            Err(format!("{} must be between 0 and {max} {unit} (a century), not {v}", path.join(".")))
        }
        _ => Ok(()),
    }
}

/// Relative paths written in a config file are relative to that file's folder (`paths.*`,
/// `camera.model`, `notify.ca_file`), so that a county's firepoint.toml works from any working directory. Defaults
/// and `--set` values stay relative to the working directory. A store named by a `postgres://`
/// URL is no path and stays as written.
fn resolve_paths(table: &mut toml::Table, base: &Path) {
    let fix = |v: &mut toml::Value| {
        let relative = |p: &&Path| p.is_relative() && !crate::store::is_postgres_url(p);
        if let Some(p) = v.as_str().map(Path::new).filter(relative) {
            *v = toml::Value::String(base.join(p).to_string_lossy().into_owned());
        }
    };
    if let Some(toml::Value::Table(paths)) = table.get_mut("paths") {
        paths.iter_mut().for_each(|(_, v)| fix(v));
    }
    if let Some(model) = table.get_mut("camera").and_then(|c| c.as_table_mut()).and_then(|c| c.get_mut("model")) {
        fix(model);
    }
    if let Some(ca) = table.get_mut("notify").and_then(|c| c.as_table_mut()).and_then(|c| c.get_mut("ca_file")) {
        fix(ca);
    }
}

fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let (key, raw) = item.split_once('=').ok_or_else(|| ConfigError::BadOverride(item.into()))?;
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::BadOverride(item.into()));
    }
    let raw = raw.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut at = table;
    for part in &parts[..parts.len() - 1] {
        let entry = at.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
        at = entry.as_table_mut().ok_or_else(|| ConfigError::NotATable { key: key.into() })?;
    }
    at.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_sets_nested_numbers_and_paths() {
        let cfg = Config::load(None, &["sla.on_site_min=12".into(), "paths.store=/tmp/x.sqlite".into()]).unwrap();
        assert_eq!(cfg.sla.on_site_min, 12);
        assert_eq!(cfg.paths.store, PathBuf::from("/tmp/x.sqlite"));
        assert_eq!(cfg.sla.alarm_min, crate::dispatch::Sla::default().alarm_min);
    }

    /// Issue 18: `notify.claim_s = 1e14` passed the checks and then panicked the sender (exit
    /// 101); a negative `batch.stuck_after_min` was accepted. Every key that names a time unit is
    /// held to 0 ..= a century, and the message names the key.
    #[test]
    fn r18_every_duration_key_is_refused_out_of_range_with_its_name() {
        let tree = serde_json::to_value(Config::default()).unwrap();
        let mut keys = Vec::new();
        fn walk(node: &serde_json::Value, path: &str, keys: &mut Vec<String>) {
            match node {
                serde_json::Value::Object(m) => m
                    .iter()
                    .for_each(|(k, v)| walk(v, &format!("{path}{}{k}", if path.is_empty() { "" } else { "." }), keys)),
                serde_json::Value::Number(_) if DURATION_UNITS.iter().any(|(u, _)| path.ends_with(u)) => {
                    keys.push(path.to_string())
                }
                _ => {}
            }
        }
        walk(&tree, "", &mut keys);
        for k in ["notify.claim_s", "batch.stuck_after_min", "batch.poll_ms", "persistence.lookback_days"] {
            assert!(keys.iter().any(|x| x == k), "{k} is among the duration keys: {keys:?}");
        }
        for key in &keys {
            for bad in ["100000000000000", "-1"] {
                match Config::load(None, &[format!("{key}={bad}")]) {
                    Ok(_) => panic!("{key} = {bad} was accepted"),
                    Err(e) => {
                        let said = crate::text::error_chain(&e);
                        assert!(
                            said.contains(key.as_str()) || said.contains(key.rsplit('.').next().unwrap()),
                            "{key} = {bad}: {said}"
                        );
                    }
                }
            }
        }
        // a year is still a duration, and so is ten years of history
        let ok = ["notify.claim_s=31536000", "batch.stuck_after_min=0", "persistence.lookback_days=4000"];
        Config::load(None, &ok.map(String::from)).unwrap();
    }

    /// Issue 18: a config file named by an absolute path (as a systemd unit names it) joined a
    /// `postgres://` store to its folder, so every worker ran on a local SQLite file of its own.
    #[test]
    fn r18_a_postgres_store_in_a_config_file_stays_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("firepoint.toml");
        std::fs::write(&file, "[paths]\nstore = \"postgres://fp@127.0.0.1:5432/fire\"\ninbox = \"in\"\n").unwrap();
        let cfg = Config::load(Some(&file), &[]).unwrap();
        assert_eq!(cfg.paths.store, PathBuf::from("postgres://fp@127.0.0.1:5432/fire"));
        assert!(crate::store::is_postgres_url(&cfg.paths.store));
        assert_eq!(cfg.paths.inbox, dir.path().join("in"), "a relative path is still the file's folder's");
    }

    #[test]
    fn unknown_key_is_an_error_not_ignored() {
        let err = Config::load(None, &["sla.on_site_minutes=12".into()]).unwrap_err();
        assert!(err.to_string().contains("invalid configuration"), "{err}");
    }

    #[test]
    fn every_section_and_key_is_documented_and_the_documented_file_parses() {
        let text = Config::default().to_documented_toml();
        let lines: Vec<&str> = text.lines().collect();
        let mut repeat = false;
        for (i, line) in lines.iter().enumerate().skip(1) {
            if line.starts_with('[') {
                repeat = lines[i - 1].starts_with("# (the next entry of");
            }
            let is_item = line.starts_with('[') || line.contains(" = ") && !line.starts_with('#') && !repeat;
            assert!(!is_item || lines[i - 1].starts_with('#'), "undocumented: {line}");
        }
        assert!(text.contains("[[burn.rules]]") && text.contains("[windows]"), "the arrays of tables are written");
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), Config::default());
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let cfg = Config::default();
        let back: Config = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
    }
}
