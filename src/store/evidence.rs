//! A ticket's evidence as the store keeps it (issue 20): the pictures of a camera or drone
//! sighting (`crate::evidence`), or why there are none, one row per picture, pruned after
//! `retention.evidence_days`; and the satellite footprints, read from the ticket's detections.

use chrono::{DateTime, Utc};

use super::db::vals;
use super::{ts, Store, StoreError};

/// One piece of a ticket's evidence as listed (its bytes are read one at a time).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvidenceItem {
    pub name: String,
    pub content_type: String,
    pub bytes: i64,
    /// What was left out, or why there is no picture.
    pub note: Option<String>,
}

/// The name of the row that says why a ticket has no pictures.
pub const MISSING: &str = "missing.txt";

impl Store {
    /// Keeps `pictures` (name, JPEG) for `ticket` from input `sha256`, with `note`; a ticket's
    /// first evidence stays (a rerun or a later sighting adds nothing).
    pub fn put_evidence(
        &mut self,
        ticket: &str,
        sha256: &str,
        pictures: &[(&str, Vec<u8>)],
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = super::sql_at(&self.path);
        self.conn.in_tx_or(true, sql, |tx| {
            for (name, jpeg) in pictures {
                tx.exec(
                    "INSERT INTO evidence (ticket_id, name, content_type, body, input_sha256, note, created_at)
                     VALUES (?1, ?2, 'image/jpeg', ?3, ?4, ?5, ?6) ON CONFLICT (ticket_id, name) DO NOTHING",
                    vals![ticket, *name, jpeg.clone(), sha256, note, ts(now)],
                )
                .map_err(sql)?;
            }
            if pictures.is_empty() {
                let why = note.unwrap_or("no picture");
                tx.exec(
                    "INSERT INTO evidence (ticket_id, name, content_type, body, input_sha256, note, created_at)
                     VALUES (?1, ?2, 'text/plain; charset=utf-8', ?3, ?4, ?5, ?6) ON CONFLICT (ticket_id, name) DO NOTHING",
                    vals![ticket, MISSING, why.as_bytes().to_vec(), sha256, why, ts(now)],
                )
                .map_err(sql)?;
            }
            Ok(())
        })
    }

    /// What evidence `ticket` has, by name.
    pub fn evidence_list(&self, ticket: &str) -> Result<Vec<EvidenceItem>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT name, content_type, length(body), note FROM evidence WHERE ticket_id = ?1 ORDER BY name",
                vals![ticket],
            )
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                Ok(EvidenceItem { name: r.text(0)?, content_type: r.text(1)?, bytes: r.int(2)?, note: r.opt_text(3)? })
            })
            .collect::<Result<_, super::DbError>>()
            .map_err(self.sql())
    }

    /// Piece `name` of `ticket`'s evidence: its content type and bytes.
    pub fn evidence(&self, ticket: &str, name: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = self
            .conn
            .row("SELECT content_type, body FROM evidence WHERE ticket_id = ?1 AND name = ?2", vals![ticket, name])
            .map_err(self.sql())?;
        row.map(|r| Ok((r.text(0)?, r.bytes(1)?))).transpose().map_err(self.sql())
    }

    /// Deletes evidence kept since before `before`; returns how many pieces.
    pub fn prune_evidence(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn.exec("DELETE FROM evidence WHERE created_at < ?1", vals![ts(before)]).map_err(self.sql())
    }

    /// Where the file of the newest frame of `camera`'s view at (pan, tilt, hfov) taken before
    /// `at` (within the view tolerances, the same field of view within 5 %) may be: its archive
    /// path first, then its inbox path (an input deleted after processing has neither).
    pub fn earlier_frame(
        &self,
        camera: &str,
        (pan, tilt, hfov): (f64, f64, f64),
        (pan_tol, tilt_tol): (f64, f64),
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<std::path::PathBuf>>, StoreError> {
        let row = self
            .conn
            .row(
                "SELECT i.path, i.archived_to FROM frames f JOIN inputs i ON i.sha256 = f.input_sha256
                 WHERE f.camera_id = ?1 AND f.captured_at < ?2 AND abs(f.pan - ?3) <= ?4 AND abs(f.tilt - ?5) <= ?6
                   AND abs(f.hfov - ?7) <= ?7 * 0.05
                 ORDER BY f.captured_at DESC LIMIT 1",
                vals![camera, ts(at), pan, pan_tol, tilt, tilt_tol, hfov],
            )
            .map_err(self.sql())?;
        let Some(r) = row else { return Ok(None) };
        let (path, archived) = (r.text(0).map_err(self.sql())?, r.opt_text(1).map_err(self.sql())?);
        Ok(Some(match archived.as_deref() {
            Some(super::DELETED) => Vec::new(),
            Some(to) => vec![to.into(), path.into()],
            None => vec![path.into()],
        }))
    }

    /// The satellite sightings of `ticket`, oldest first.
    pub fn footprints(&self, ticket: &str) -> Result<Vec<Footprint>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT sensor, observed_at, confidence, footprint, evidence, lon, lat FROM detections
                 WHERE ticket_id = ?1 AND source = 'satellite' ORDER BY observed_at, input_sha256, idx",
                vals![ticket],
            )
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                Ok(Footprint {
                    sensor: r.text(0)?,
                    observed_at: r.time(1)?,
                    confidence: r.real(2)?,
                    geometry: r.opt_text(3)?.and_then(|s| serde_json::from_str(&s).ok()),
                    evidence: serde_json::from_str(&r.text(4)?).unwrap_or_default(),
                    point: [r.real(5)?, r.real(6)?],
                })
            })
            .collect::<Result<_, super::DbError>>()
            .map_err(self.sql())
    }
}

/// A satellite sighting of a ticket, as its evidence shows it on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    pub sensor: String,
    pub observed_at: DateTime<Utc>,
    pub confidence: f64,
    /// The pixel's footprint as a GeoJSON Polygon, where the source has one.
    pub geometry: Option<serde_json::Value>,
    /// The detection's own evidence (FRP, brightness temperatures, …).
    pub evidence: serde_json::Value,
    pub point: [f64; 2],
}
