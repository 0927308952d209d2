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
    #[error("invalid configuration: {0}")]
    Invalid(#[source] toml::de::Error),
}

/// Everything a batch needs to know. Relative paths are relative to the working directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub paths: Paths,
    pub camera: crate::detect::smoke::CameraConfig,
    pub hotspot: crate::detect::hotspot::HotspotConfig,
    pub events: crate::events::EventConfig,
    pub persistence: crate::persistence::Persistence,
    pub sla: crate::dispatch::Sla,
    pub limits: crate::ingest::Limits,
    pub batch: crate::batch::BatchConfig,
}

/// Where inputs, outputs and the AOI live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    /// The district: a folder of GeoJSON / GeoPackage / Shapefile layers and a DEM GeoTIFF.
    pub aoi: PathBuf,
    /// Inbox with `satellite/` (GeoTIFF scenes) and `frames/<camera>/` (JPEG/PNG + JSON pose).
    pub inbox: PathBuf,
    /// Bad inputs are moved here, each with a `.error.txt` beside it.
    pub quarantine: PathBuf,
    /// The ticket database (SQLite, WAL mode).
    pub store: PathBuf,
    /// Feed files written after each batch: tickets.jsonl and tickets.geojson.
    pub feed: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            aoi: "aoi".into(),
            inbox: "work/inbox".into(),
            quarantine: "work/quarantine".into(),
            store: "work/firepoint.sqlite".into(),
            feed: "work/feed".into(),
        }
    }
}

impl Config {
    /// Reads `file` (when given) and applies `overrides` (`section.key=value`, value in TOML
    /// syntax; a bare word is taken as a string).
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut value = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|source| ConfigError::Parse { path: path.into(), source })?
            }
            None => toml::Table::new(),
        };
        for item in overrides {
            apply_override(&mut value, item)?;
        }
        toml::Value::Table(value).try_into().map_err(ConfigError::Invalid)
    }

    /// The configuration as TOML, every key present, without comments.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("Config always serialises")
    }

    /// The configuration as TOML with a comment above every section and key ([`DOCS`]).
    pub fn to_documented_toml(&self) -> String {
        let mut out = String::from("# firepoint configuration: every key with its value. Override any key with\n# `--set section.key=value`; `firepoint config` prints this.\n\n");
        let mut doc_section = String::new();
        for line in self.to_toml().lines() {
            let trimmed = line.trim();
            if let Some(section) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                doc_section = doc_section_of(section);
                push_doc(&mut out, &doc_section);
                if doc_section == "camera" {
                    out.push_str(line);
                    out.push('\n');
                    push_doc(&mut out, "camera.threshold");
                    out.push_str("# threshold = 0.5\n");
                    continue;
                }
            } else if let Some((key, _)) = trimmed.split_once(" = ") {
                push_doc(&mut out, &format!("{doc_section}.{key}"));
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The documentation key of a TOML section: sensor presets share their docs.
fn doc_section_of(section: &str) -> String {
    let parts: Vec<&str> = section.split('.').collect();
    match parts.as_slice() {
        ["hotspot", _, "day" | "night"] => "thresholds".into(),
        ["hotspot", preset] => format!("hotspot.{preset}"),
        _ => section.to_string(),
    }
}

/// Writes the comment for `key`; keys of a sensor preset (`hotspot.abi.min_valid`) share the
/// presets' entry (`hotspot.*.min_valid`).
fn push_doc(out: &mut String, key: &str) {
    let find = |k: &str| DOCS.iter().find(|(d, _)| *d == k).map(|(_, doc)| *doc);
    let shared = match key.split('.').collect::<Vec<_>>().as_slice() {
        ["hotspot", _, leaf] => find(&format!("hotspot.*.{leaf}")),
        _ => None,
    };
    if let Some(doc) = find(key).or(shared) {
        out.push_str(&format!("# {doc}\n"));
    }
}

/// One line of documentation per section and key, printed by `firepoint config`.
pub const DOCS: &[(&str, &str)] = &[
    ("paths", "Where the district, inputs and outputs live (relative to the working directory)."),
    ("paths.aoi", "The district: GeoJSON / GeoPackage / Shapefile layers and dem.tif (see aoi/README.md)."),
    ("paths.inbox", "Inbox: satellite/ (scenes, products, tables) and frames/<camera>/ (frames + .json poses)."),
    ("paths.quarantine", "Bad inputs go here, each with a .error.txt."),
    ("paths.store", "The ticket database (SQLite, WAL). A .lock file beside it keeps batches one at a time."),
    ("paths.feed", "tickets.jsonl and tickets.geojson are rewritten here after each batch."),
    ("camera", "The camera smoke model (ONNX); its checksum and metrics sit beside it (.json)."),
    ("camera.model", "Model file."),
    ("camera.threshold", "Frame score that counts as smoke; unset: the model's own threshold from its metrics."),
    ("camera.chunk", "Frames scored in parallel before their results are stored."),
    ("hotspot.modis", "Fire-test thresholds for MODIS 1 km and GeoTIFFs of unknown sensor (MOD14 C6)."),
    ("hotspot.viirs_i", "Fire-test thresholds for VIIRS 375 m I-bands (VNP14IMG)."),
    ("hotspot.abi", "Fire-test thresholds for GOES-R ABI 2 km (validated on GOES-17 against the FDC)."),
    ("hotspot.*.dt_mad_k", "Contextual test: ΔT above the background mean by this many mean absolute deviations ..."),
    ("hotspot.*.dt_min_excess", "... and by at least this many kelvin."),
    ("hotspot.*.t4_mad_k", "Contextual test: T4 above the background mean by this many mean absolute deviations."),
    ("hotspot.*.max_half_window", "Background window grows from 3x3 to (2n+1)x(2n+1)."),
    ("hotspot.*.min_valid_fraction", "Background needs at least this fraction of the window valid ..."),
    ("hotspot.*.min_valid", "... and at least this many pixels."),
    ("hotspot.*.cloud_t12", "Cloud: 12 µm (else 11 µm) brightness temperature below this, kelvin."),
    ("thresholds", "Day or night thresholds, kelvin."),
    ("thresholds.potential_t4", "Prefilter: T4 above this ..."),
    ("thresholds.potential_dt", "... and ΔT = T4 - T11 above this."),
    ("thresholds.absolute_t4", "Absolute test: T4 above this is a fire whatever the background."),
    ("thresholds.bg_fire_t4", "Background pixels with T4 above this ..."),
    ("thresholds.bg_fire_dt", "... and ΔT above this are background fires, left out of the window."),
    ("events", "When sightings are one fire, and what makes a fire urgent."),
    ("events.merge_radius_m", "A sighting this close (or within its own uncertainty) to an open ticket joins it ..."),
    ("events.merge_window_min", "... if within this many minutes of the ticket's sightings."),
    ("events.heat_source_buffer_m", "Buffer around AOI heat sources that have none of their own, metres."),
    ("events.station_alert_m", "Fires this close to a national monitoring station are high priority, metres."),
    ("persistence", "The persistence mask: static heat sources learned from detection history."),
    ("persistence.cell_deg", "History cell size, degrees (0.004 ≈ 400 m)."),
    ("persistence.min_days", "A footprint seen on at least this many distinct days ..."),
    ("persistence.lookback_days", "... within this many days before the detection ..."),
    (
        "persistence.min_night_fraction",
        "... with a night sighting on at least this fraction of them, is a static source.",
    ),
    ("sla", "Service levels, minutes from the sighting (satellite points: the same Beijing day)."),
    ("sla.alarm_min", "Alarm pushed to the grid member."),
    ("sla.on_site_min", "Grid member on site (camera sightings)."),
    ("sla.on_site_high_min", "On site for high-priority fires."),
    ("limits", "Sizes checked before anything is read; a larger input is quarantined with the reason."),
    ("limits.max_pixels", "Largest raster band (satellite scene, fire mask, DEM) read, width × height pixels."),
    ("batch", "How cron batches share one store."),
    (
        "batch.stuck_after_min",
        "A batch holding the lock longer than this is reported by the next run as stuck (exit 2).",
    ),
];

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

    #[test]
    fn unknown_key_is_an_error_not_ignored() {
        let err = Config::load(None, &["sla.on_site_minutes=12".into()]).unwrap_err();
        assert!(err.to_string().contains("invalid configuration"), "{err}");
    }

    #[test]
    fn every_section_and_key_is_documented_and_the_documented_file_parses() {
        let text = Config::default().to_documented_toml();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate().skip(1) {
            let is_item = line.starts_with('[') || line.contains(" = ") && !line.starts_with('#');
            assert!(!is_item || lines[i - 1].starts_with('#'), "undocumented: {line}");
        }
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), Config::default());
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let cfg = Config::default();
        let back: Config = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
    }
}
