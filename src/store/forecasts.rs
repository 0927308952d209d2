//! Rain forecasts as the store keeps them: each forecast input's rows, so that the 下雨前 risk
//! window holds in every later batch (and every worker) until the rain has come.

use chrono::{DateTime, Utc};

use super::db::{vals, DbError, Row};
use super::{ts, InputTx, StoreError};
use crate::burn::Forecast;

fn from_row(r: &Row) -> Result<Forecast, DbError> {
    let circle = match (r.opt_real(4)?, r.opt_real(5)?, r.opt_real(6)?) {
        (Some(lon), Some(lat), Some(m)) => Some((lon, lat, m)),
        _ => None,
    };
    Ok(Forecast {
        valid_from: r.time(0)?,
        valid_to: r.time(1)?,
        probability: r.real(2)?,
        amount_mm: r.real(3)?,
        circle,
        township: r.opt_text(7)?,
    })
}

impl super::Store {
    /// Forecasts whose rain has not ended by `since`, earliest first.
    pub fn forecasts(&self, since: DateTime<Utc>) -> Result<Vec<Forecast>, StoreError> {
        self.conn
            .rows(
                "SELECT valid_from, valid_to, probability, amount_mm, lon, lat, radius_m, township FROM forecasts
                 WHERE valid_to >= ?1 ORDER BY valid_from, input_sha, idx",
                vals![ts(since)],
            )
            .and_then(|rows| rows.iter().map(from_row).collect())
            .map_err(self.sql())
    }
}

impl InputTx<'_> {
    /// Keeps this forecast input's rows.
    pub fn forecasts(&mut self, rows: &[Forecast]) -> Result<(), StoreError> {
        for (idx, f) in rows.iter().enumerate() {
            let (lon, lat, m) = match f.circle {
                Some((lon, lat, m)) => (Some(lon), Some(lat), Some(m)),
                None => (None, None, None),
            };
            self.conn
                .exec(
                    "INSERT INTO forecasts (input_sha, idx, valid_from, valid_to, probability, amount_mm, lon, lat,
                         radius_m, township) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    vals![
                        &self.sha256,
                        idx as i64,
                        ts(f.valid_from),
                        ts(f.valid_to),
                        f.probability,
                        f.amount_mm,
                        lon,
                        lat,
                        m,
                        &f.township
                    ],
                )
                .map_err(self.sql())?;
        }
        Ok(())
    }
}
