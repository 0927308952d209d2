//! The persistence mask's history in the store: every satellite detection marks its cell on its
//! Beijing day (and whether at night); a footprint's pooled history is read back for the rule in
//! `persistence`.

use rusqlite::{params, Transaction};

use super::{InputTx, Store, StoreError};
use crate::domain::Detection;
use crate::persistence::{self, CellHistory, Persistence};

pub(super) fn insert_history(tx: &Transaction, dets: &[Detection], cell_deg: f64) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO heat_cells (cx, cy, day, night) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (cx, cy, day) DO UPDATE SET night = max(night, excluded.night)",
    )?;
    for d in dets {
        let (cx, cy) = persistence::cell_of(d.lon, d.lat, cell_deg);
        let day = crate::time::reporting_day(d.observed_at).to_string();
        stmt.execute(params![cx, cy, day, persistence::is_night(d) as i64])?;
    }
    Ok(dets.len())
}

impl Store {
    /// Adds satellite detections to the persistence history (their cell, Beijing day, night).
    pub fn record_history(&mut self, dets: &[Detection], cell_deg: f64) -> Result<usize, StoreError> {
        let sql = super::sql_at(&self.path);
        let tx = self.conn.transaction().map_err(sql)?;
        let n = insert_history(&tx, dets, cell_deg).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(n)
    }

    /// The history of the cells in a detection's footprint within its lookback window, pooled.
    pub fn footprint_history(&self, d: &Detection, p: &Persistence) -> Result<CellHistory, StoreError> {
        let (from, to) = persistence::window(d.observed_at, p);
        let ((x0, y0), (x1, y1)) = persistence::cells_near(d.lon, d.lat, d.radius_m, p.cell_deg);
        self.conn
            .prepare_cached(
                "SELECT count(DISTINCT day), count(DISTINCT CASE WHEN night = 1 THEN day END) FROM heat_cells
                 WHERE cx BETWEEN ?1 AND ?2 AND cy BETWEEN ?3 AND ?4 AND day >= ?5 AND day < ?6",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![x0, x1, y0, y1, from.to_string(), to.to_string()], |r| {
                    Ok(CellHistory { days: r.get(0)?, night_days: r.get(1)? })
                })
            })
            .map_err(self.sql())
    }
}

impl InputTx<'_> {
    /// Adds this input's satellite detections to the history, in its transaction.
    pub fn history(&mut self, dets: &[Detection], cell_deg: f64) -> Result<usize, StoreError> {
        insert_history(&self.tx, dets, cell_deg).map_err(self.sql())
    }
}
