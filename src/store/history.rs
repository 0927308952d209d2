//! The persistence mask's history in the store: every satellite detection marks its cell on its
//! Beijing day (and whether at night); a footprint's pooled history is read back for the rule in
//! `persistence`.

use super::db::{vals, Conn, DbError};
use super::{InputTx, Store, StoreError};
use crate::domain::Detection;
use crate::persistence::{self, CellHistory, Persistence};

pub(super) fn insert_history(tx: &Conn, dets: &[Detection], cell_deg: f64) -> Result<usize, DbError> {
    for d in dets {
        let (cx, cy) = persistence::cell_of(d.lon, d.lat, cell_deg);
        let day = crate::time::reporting_day(d.observed_at).to_string();
        tx.exec(
            "INSERT INTO heat_cells (cx, cy, day, night) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (cx, cy, day) DO UPDATE SET
                 night = CASE WHEN heat_cells.night > excluded.night THEN heat_cells.night ELSE excluded.night END",
            vals![cx, cy, day, persistence::is_night(d)],
        )?;
    }
    Ok(dets.len())
}

impl Store {
    /// Adds satellite detections to the history (a history import), in one transaction.
    pub fn record_history(&mut self, dets: &[Detection], cell_deg: f64) -> Result<usize, StoreError> {
        let sql = super::sql_at(&self.path);
        self.conn.in_tx(false, |tx| insert_history(tx, dets, cell_deg)).map_err(sql)
    }

    /// How often the cells around detection `d` burned in the persistence window.
    pub fn footprint_history(&self, d: &Detection, p: &Persistence) -> Result<CellHistory, StoreError> {
        let (from, to) = persistence::window(d.observed_at, p);
        let ((x0, y0), (x1, y1)) = persistence::cells_near(d.lon, d.lat, d.radius_m, p.cell_deg);
        let r = self
            .conn
            .one(
                "SELECT count(DISTINCT day), count(DISTINCT CASE WHEN night = 1 THEN day END) FROM heat_cells
                 WHERE cx BETWEEN ?1 AND ?2 AND cy BETWEEN ?3 AND ?4 AND day >= ?5 AND day < ?6",
                vals![x0, x1, y0, y1, from.to_string(), to.to_string()],
            )
            .map_err(self.sql())?;
        (|| Ok(CellHistory { days: r.int(0)? as u32, night_days: r.int(1)? as u32 }))().map_err(self.sql())
    }
}

impl InputTx<'_> {
    pub fn history(&mut self, dets: &[Detection], cell_deg: f64) -> Result<usize, StoreError> {
        insert_history(self.conn, dets, cell_deg).map_err(self.sql())
    }
}
