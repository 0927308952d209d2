//! Camera views as the store keeps them (issue 19): one row per camera preset with its memory
//! (`detect::view::ViewMemory`: the recent tile keys and probabilities), read before a frame of
//! the view is judged and written back in the frame's own transaction. One row a view, rewritten
//! each frame: bounded whatever the number of frames.

use chrono::Utc;

use super::db::vals;
use super::{ts, InputTx, StoreError};
use crate::detect::view::ViewMemory;

/// A view's row: its id (none for a view not yet stored) and memory.
pub type StoredView = (Option<i64>, ViewMemory);

/// A stored view as it is listed: camera, pose, frames remembered, the newest frame's time and
/// the memory's size in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    pub camera_id: String,
    pub pan_deg: f64,
    pub tilt_deg: f64,
    pub hfov_deg: f64,
    pub frames: i64,
    pub last_at: Option<String>,
    pub bytes: usize,
}

impl super::Store {
    /// The stored view of `camera` nearest to (pan, tilt) within the tolerances, at the same
    /// field of view (within 5 %, a zoom step is another view), or a new, empty one. A memory
    /// that does not read back (a store written by another version) starts afresh, and says so.
    pub fn view(
        &self,
        camera: &str,
        (pan, tilt, hfov): (f64, f64, f64),
        (pan_tol, tilt_tol): (f64, f64),
    ) -> Result<StoredView, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT id, pan, tilt, hfov, frames, last_at, memory FROM views WHERE camera_id = ?1 ORDER BY id",
                vals![camera],
            )
            .map_err(self.sql())?;
        let mut best: Option<(f64, StoredView)> = None;
        for r in &rows {
            let (p, t, h) =
                (r.real(1).map_err(self.sql())?, r.real(2).map_err(self.sql())?, r.real(3).map_err(self.sql())?);
            let pan_off = ((pan - p + 540.0).rem_euclid(360.0) - 180.0).abs(); // across north too
            if pan_off > pan_tol || (tilt - t).abs() > tilt_tol || (hfov - h).abs() > 0.05 * h.abs().max(1e-9) {
                continue;
            }
            let off = pan_off.hypot(tilt - t);
            if best.as_ref().is_some_and(|(d, _)| *d <= off) {
                continue;
            }
            let mut mem = ViewMemory::new(camera, p, t, h);
            mem.frames = r.int(4).map_err(self.sql())?.max(0) as u64;
            mem.last_at = r.opt_time(5).map_err(self.sql())?;
            if let Err(why) = mem.read_text(&r.text(6).map_err(self.sql())?) {
                tracing::warn!(camera, "view memory unreadable ({why}); the view starts afresh");
                mem = ViewMemory::new(camera, p, t, h);
            }
            best = Some((off, (Some(r.int(0).map_err(self.sql())?), mem)));
        }
        Ok(best.map(|(_, v)| v).unwrap_or_else(|| (None, ViewMemory::new(camera, pan, tilt, hfov))))
    }

    /// Every stored view (the card's size figure).
    pub fn views(&self) -> Result<Vec<ViewRow>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT camera_id, pan, tilt, hfov, frames, last_at, length(memory) FROM views ORDER BY camera_id, id",
                &[],
            )
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                Ok(ViewRow {
                    camera_id: r.text(0)?,
                    pan_deg: r.real(1)?,
                    tilt_deg: r.real(2)?,
                    hfov_deg: r.real(3)?,
                    frames: r.int(4)?,
                    last_at: r.opt_text(5)?,
                    bytes: r.int(6)?.max(0) as usize,
                })
            })
            .collect::<Result<_, super::DbError>>()
            .map_err(self.sql())
    }
}

impl InputTx<'_> {
    /// Writes a view's memory after this input's frame (a new view gets its row).
    pub fn save_view(&mut self, (id, mem): &StoredView) -> Result<(), StoreError> {
        let last = mem.last_at.map(ts);
        let now = ts(Utc::now());
        let text = mem.to_text();
        let result = match id {
            Some(id) => self.conn.exec(
                "UPDATE views SET frames = ?2, last_at = ?3, memory = ?4, updated_at = ?5 WHERE id = ?1",
                vals![*id, mem.frames as i64, last, text, now],
            ),
            None => self.conn.exec(
                "INSERT INTO views (camera_id, pan, tilt, hfov, frames, last_at, memory, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                vals![&mem.camera_id, mem.pan_deg, mem.tilt_deg, mem.hfov_deg, mem.frames as i64, last, text, now],
            ),
        };
        result.map(|_| ()).map_err(self.sql())
    }
}
