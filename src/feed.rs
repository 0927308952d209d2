//! The ticket feed: after every batch the store's tickets are written as JSON Lines
//! (`tickets.jsonl`, one ticket per line) and GeoJSON (`tickets.geojson`, for GIS and map
//! screens). Each file is written beside its final name and renamed over it, so a reader never
//! sees half a file. The store stays the source of truth; the feed can always be rebuilt.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::Ticket;

#[derive(Debug, thiserror::Error)]
#[error("cannot write feed file {path}")]
pub struct FeedError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FeedError> {
    let err = |source| FeedError { path: path.into(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
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

/// Writes both feed files into `dir`; returns their paths.
pub fn write(dir: &Path, tickets: &[Ticket]) -> Result<Vec<PathBuf>, FeedError> {
    let jl = dir.join("tickets.jsonl");
    let gj = dir.join("tickets.geojson");
    write_atomic(&jl, jsonl(tickets).as_bytes())?;
    write_atomic(&gj, (serde_json::to_string_pretty(&geojson(tickets)).expect("json serialises") + "\n").as_bytes())?;
    Ok(vec![jl, gj])
}
