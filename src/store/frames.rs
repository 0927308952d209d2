//! Camera frames as the store keeps them: what each frame showed, flagged or not, so that a
//! sighting can be confirmed by later frames of the same view or by another tower, across
//! batches.

use super::db::{vals, DbError, Row, Val};
use super::{ts, InputTx, StoreError};
use crate::domain::FrameObservation;
use crate::events::ConfirmConfig;
use chrono::{DateTime, Duration, Utc};

const COLUMNS: &str = "camera_id, camera_lon, camera_lat, captured_at, pan, tilt, hfov, score, flagged, x0, y0, x1, y1, azimuth, sigma, picture, view_off";

fn from_row(r: &Row) -> Result<FrameObservation, DbError> {
    Ok(FrameObservation {
        camera_id: r.text(0)?,
        camera_lon: r.real(1)?,
        camera_lat: r.real(2)?,
        captured_at: r.time(3)?,
        pan_deg: r.real(4)?,
        tilt_deg: r.real(5)?,
        hfov_deg: r.real(6)?,
        score: r.real(7)? as f32,
        flagged: r.flag(8)?,
        tile_box: [r.real(9)?, r.real(10)?, r.real(11)?, r.real(12)?],
        azimuth_deg: r.opt_real(13)?,
        sigma_deg: r.real(14)?,
        picture: r.opt_text(15)?,
        view_off: r.opt_text(16)?,
    })
}

fn frames_from(rows: Vec<Row>) -> Result<Vec<FrameObservation>, DbError> {
    rows.iter().map(from_row).collect()
}

fn window(at: DateTime<Utc>, cfg: &ConfirmConfig) -> (String, String) {
    (ts(at - Duration::minutes(cfg.window_min)), ts(at + Duration::minutes(cfg.window_min)))
}

impl super::Store {
    /// Flagged frames whose sighting was never confirmed (still "awaiting confirmation"), in the
    /// last `days` days before `now`, oldest first: what view masks are learned from.
    pub fn unconfirmed_flags(&self, now: DateTime<Utc>, days: i64) -> Result<Vec<FrameObservation>, StoreError> {
        let cols = COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM frames f JOIN detections d ON d.input_sha256 = f.input_sha256
             WHERE f.flagged = 1 AND f.captured_at >= ?1 AND d.suppressed_by LIKE 'awaiting confirmation%'
             ORDER BY f.captured_at"
        );
        self.conn.rows(&sql, vals![ts(now - Duration::days(days))]).and_then(frames_from).map_err(self.sql())
    }
}

impl InputTx<'_> {
    /// Keeps what this input's frame showed.
    pub fn frame(&mut self, f: &FrameObservation) -> Result<(), StoreError> {
        let b = f.tile_box;
        self.conn
            .exec(
                &format!("INSERT INTO frames (input_sha256, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"),
                vals![&self.sha256, &f.camera_id, f.camera_lon, f.camera_lat, ts(f.captured_at), f.pan_deg, f.tilt_deg,
                        f.hfov_deg, f.score as f64, f.flagged, b[0], b[1], b[2], b[3], f.azimuth_deg, f.sigma_deg, &f.picture, &f.view_off],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Earlier frames of the same camera and preset within the confirmation window, newest
    /// first, at most `of_last - 1` (this input's own frame left out).
    pub fn same_view(
        &mut self,
        f: &FrameObservation,
        cfg: &ConfirmConfig,
    ) -> Result<Vec<FrameObservation>, StoreError> {
        let (from, _) = window(f.captured_at, cfg);
        let sql = format!(
            "SELECT {COLUMNS} FROM frames WHERE camera_id = ?1 AND captured_at >= ?2 AND captured_at <= ?3
               AND abs(pan - ?4) <= ?5 AND abs(tilt - ?6) <= ?7 AND input_sha256 != ?8
             ORDER BY captured_at DESC LIMIT ?9"
        );
        let limit = cfg.of_last.saturating_sub(1) as i64;
        let me = self.sha256.clone();
        let values = vals![
            &f.camera_id,
            from,
            ts(f.captured_at),
            f.pan_deg,
            cfg.pan_tolerance_deg,
            f.tilt_deg,
            cfg.tilt_tolerance_deg,
            me,
            limit
        ];
        self.query(&sql, values)
    }

    /// Other towers' flagged frames within the confirmation window either side.
    pub fn other_towers(
        &mut self,
        f: &FrameObservation,
        cfg: &ConfirmConfig,
    ) -> Result<Vec<FrameObservation>, StoreError> {
        let (from, to) = window(f.captured_at, cfg);
        let sql = format!(
            "SELECT {COLUMNS} FROM frames WHERE camera_id != ?1 AND flagged = 1 AND captured_at >= ?2 AND captured_at <= ?3
             ORDER BY captured_at DESC"
        );
        self.query(&sql, vals![&f.camera_id, from, to])
    }

    fn query(&self, sql: &str, values: &[Val]) -> Result<Vec<FrameObservation>, StoreError> {
        self.conn.rows(sql, values).and_then(frames_from).map_err(self.sql())
    }
}
