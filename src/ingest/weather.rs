//! Rain forecasts the county drops into `inbox/weather/`: a county weather bureau's export, or any
//! forecast service's, converted to one small format, as CSV or JSON. They feed the 下雨前 risk
//! window (`burn::active_windows`).
//!
//! One forecast a row (CSV, UTF-8, a BOM allowed, a header line) or an object (JSON: an array, or
//! `{"forecasts": [...]}`), with these fields:
//!
//! | field | required | what |
//! |---|---|---|
//! | `valid_from`, `valid_to` | yes | when the rain is expected: RFC 3339 (`2026-06-10T14:00:00+08:00`), or `YYYY-MM-DD HH:MM[:SS]` in Beijing time |
//! | `probability` | yes | 0–1, or a percentage written with `%` (`60%`) |
//! | `amount_mm` | yes | expected precipitation, mm (≥ 0) |
//! | `township` | no | the township's code: the forecast is for that township |
//! | `lon`, `lat`, `radius_km` | no | or for a circle (all three) |
//!
//! With neither township nor circle a forecast is for the whole district; with both, the file
//! is refused (which one was meant?). Any bad row makes the whole file bad (a forecast is small
//! and written by a program: a broken one is reported and quarantined, never half read); every
//! error names the file and the row.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::burn::Forecast;

#[derive(Debug, thiserror::Error)]
pub enum WeatherError {
    #[error("cannot read forecast {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("forecast {path}: {why}")]
    Format { path: PathBuf, why: String },
    #[error("forecast {path} row {row}: {why}")]
    Row { path: PathBuf, row: usize, why: String },
}

/// One forecast as written: every field text or number, checked by [`Raw::forecast`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    valid_from: Option<Value>,
    valid_to: Option<Value>,
    probability: Option<Value>,
    amount_mm: Option<Value>,
    township: Option<Value>,
    lon: Option<Value>,
    lat: Option<Value>,
    radius_km: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Value {
    Number(f64),
    Text(String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Number(v) => v.to_string(),
            Value::Text(s) => s.trim().to_string(),
        }
    }
}

/// The field's text, `None` when absent or blank.
fn field(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::text).filter(|s| !s.is_empty())
}

fn time(name: &str, v: &Option<Value>) -> Result<DateTime<Utc>, String> {
    let s = field(v).ok_or_else(|| format!("{name} is missing"))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Ok(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
        .and_then(|t| crate::time::beijing().from_local_datetime(&t).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            format!("{name} `{s}` is not a time (2026-06-10T14:00:00+08:00, or 2026-06-10 14:00 Beijing time)")
        })
}

fn number(name: &str, s: &str) -> Result<f64, String> {
    s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("{name} `{s}` is not a number"))
}

/// Longest forecast accepted, valid_from to valid_to (a forecast valid to year 9999 would hold
/// every window open for good).
const MAX_SPAN_DAYS: i64 = 16;
/// Largest forecast circle accepted, km.
const MAX_RADIUS_KM: f64 = 500.0;

impl Raw {
    fn forecast(&self) -> Result<Forecast, String> {
        let valid_from = time("valid_from", &self.valid_from)?;
        let valid_to = time("valid_to", &self.valid_to)?;
        if valid_to <= valid_from {
            return Err(format!("valid_to {valid_to} is not after valid_from {valid_from}"));
        }
        if valid_to - valid_from > chrono::Duration::days(MAX_SPAN_DAYS) {
            return Err(format!(
                "valid_to {valid_to} is more than {MAX_SPAN_DAYS} days after valid_from {valid_from}: no forecast reaches that far"
            ));
        }
        let p = field(&self.probability).ok_or("probability is missing")?;
        let probability = match p.strip_suffix('%') {
            Some(pct) => number("probability", pct.trim())? / 100.0,
            None => number("probability", &p)?,
        };
        if !(0.0..=1.0).contains(&probability) {
            return Err(format!("probability `{p}` is not between 0 and 1 (or 0% and 100%)"));
        }
        let amount = field(&self.amount_mm).ok_or("amount_mm is missing")?;
        let amount_mm = number("amount_mm", &amount)?;
        if amount_mm < 0.0 {
            return Err(format!("amount_mm `{amount}` is negative"));
        }
        let circle = match (field(&self.lon), field(&self.lat), field(&self.radius_km)) {
            (None, None, None) => None,
            (Some(lon), Some(lat), Some(r)) => {
                let (lon, lat, r) = (number("lon", &lon)?, number("lat", &lat)?, number("radius_km", &r)?);
                if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) || !(r > 0.0) {
                    return Err(format!("the circle lon {lon}, lat {lat}, radius_km {r} is not a place"));
                }
                if r > MAX_RADIUS_KM {
                    return Err(format!(
                        "radius_km {r} is larger than {MAX_RADIUS_KM} km: a county's forecast covers a county"
                    ));
                }
                Some((lon, lat, r * 1000.0))
            }
            _ => return Err("a circle needs all of lon, lat and radius_km".into()),
        };
        let township = field(&self.township);
        if circle.is_some() && township.is_some() {
            return Err("both a township and a circle: give one".into());
        }
        Ok(Forecast { valid_from, valid_to, probability, amount_mm, circle, township })
    }
}

/// The forecasts of `path` (`.csv` or `.json`).
pub fn read_forecasts(path: &Path) -> Result<Vec<Forecast>, WeatherError> {
    let bytes = std::fs::read(path).map_err(|source| WeatherError::Io { path: path.into(), source })?;
    parse_forecasts(&bytes, path)
}

/// The forecasts in `bytes`, read as `path`'s extension says (`.json`: JSON, else CSV).
pub fn parse_forecasts(bytes: &[u8], path: &Path) -> Result<Vec<Forecast>, WeatherError> {
    let format = |why: String| WeatherError::Format { path: path.into(), why };
    let text = std::str::from_utf8(bytes).map_err(|_| format("not UTF-8 text".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let raws: Vec<(usize, Raw)> = if json {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Doc {
            List(Vec<serde_json::Value>),
            Wrapped { forecasts: Vec<serde_json::Value> },
        }
        let doc: Doc = serde_json::from_str(text)
            .map_err(|e| format(format!("not a JSON list of forecasts, nor {{\"forecasts\": [...]}} ({e})")))?;
        let (Doc::List(items) | Doc::Wrapped { forecasts: items }) = doc;
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value::<Raw>(v).map(|r| (i + 1, r)).map_err(|e| WeatherError::Row {
                    path: path.into(),
                    row: i + 1,
                    why: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| format(format!("no header line ({e})")))?.clone();
        let known = ["valid_from", "valid_to", "probability", "amount_mm", "township", "lon", "lat", "radius_km"];
        if let Some(h) = headers.iter().find(|h| !known.contains(h)) {
            return Err(format(format!("unknown column `{h}` (known: {})", known.join(", "))));
        }
        reader
            .records()
            .enumerate()
            .map(|(i, rec)| {
                // the header is line 1: row n is line n + 1
                let row = i + 1;
                let rec = rec.map_err(|e| WeatherError::Row { path: path.into(), row, why: e.to_string() })?;
                let mut raw = Raw::default();
                for (h, v) in headers.iter().zip(rec.iter()) {
                    let v = Some(Value::Text(v.to_string()));
                    match h {
                        "valid_from" => raw.valid_from = v,
                        "valid_to" => raw.valid_to = v,
                        "probability" => raw.probability = v,
                        "amount_mm" => raw.amount_mm = v,
                        "township" => raw.township = v,
                        "lon" => raw.lon = v,
                        "lat" => raw.lat = v,
                        _ => raw.radius_km = v,
                    }
                }
                Ok((row, raw))
            })
            .collect::<Result<_, _>>()?
    };
    if raws.is_empty() {
        return Err(format("no forecast in it".into()));
    }
    raws.iter()
        .map(|(row, raw)| raw.forecast().map_err(|why| WeatherError::Row { path: path.into(), row: *row, why }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn r11_a_csv_and_a_json_forecast_read_the_same() {
        let (_d, csv) = write(
            "f.csv",
            "\u{feff}valid_from,valid_to,probability,amount_mm,township,lon,lat,radius_km\n\
             2026-06-10 18:00,2026-06-11 02:00,70%,6.5,999901001,,,\n\
             2026-06-10T10:00:00Z,2026-06-10T12:00:00Z,0.4,1,,115.6,37.6,5\n\
             2026-06-10 20:00,2026-06-10 23:00,0.9,20,,,,\n",
        );
        let (_e, json) = write(
            "f.json",
            r#"{"forecasts": [
                {"valid_from": "2026-06-10T18:00:00+08:00", "valid_to": "2026-06-11 02:00", "probability": 0.7, "amount_mm": 6.5, "township": "999901001"},
                {"valid_from": "2026-06-10T10:00:00Z", "valid_to": "2026-06-10T12:00:00Z", "probability": "40%", "amount_mm": 1, "lon": 115.6, "lat": 37.6, "radius_km": 5},
                {"valid_from": "2026-06-10 20:00", "valid_to": "2026-06-10 23:00", "probability": 0.9, "amount_mm": 20}
            ]}"#,
        );
        let a = read_forecasts(&csv).unwrap();
        assert_eq!(a, read_forecasts(&json).unwrap());
        assert_eq!(a[0].valid_from, Utc.with_ymd_and_hms(2026, 6, 10, 10, 0, 0).unwrap(), "Beijing time");
        assert!((a[0].probability - 0.7).abs() < 1e-12);
        assert_eq!(a[0].township.as_deref(), Some("999901001"));
        assert_eq!(a[1].circle, Some((115.6, 37.6, 5000.0)));
        assert_eq!((a[2].circle, a[2].township.clone()), (None, None), "the whole district");
    }

    #[test]
    fn r22_a_forecast_valid_for_ever_or_over_the_world_is_refused() {
        // valid to year 9999, or a circle of 1e308 km, would hold a risk window open everywhere
        let cases = [
            ("valid_from,valid_to,probability,amount_mm\n2026-06-10 18:00,9999-12-31 23:00,0.5,1\n", "more than 16 days"),
            ("valid_from,valid_to,probability,amount_mm,lon,lat,radius_km\n2026-06-10 18:00,2026-06-10 19:00,0.5,1,115,37,1e308\n", "larger than 500 km"),
        ];
        for (text, want) in cases {
            let (_d, path) = write("rain.csv", text);
            let e = read_forecasts(&path).unwrap_err().to_string();
            assert!(e.contains("rain.csv row 1") && e.contains(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn r11_a_bad_forecast_names_the_file_and_the_row() {
        let cases = [
            ("valid_from,valid_to,probability,amount_mm\n2026-06-10 18:00,2026-06-10 17:00,0.5,1\n", "row 1: valid_to"),
            ("valid_from,valid_to,probability,amount_mm\n2026-06-10 18:00,2026-06-10 19:00,0.5,1\nx,2026-06-10 19:00,0.5,1\n", "row 2: valid_from `x`"),
            ("valid_from,valid_to,probability,amount_mm\n2026-06-10 18:00,2026-06-10 19:00,150%,1\n", "row 1: probability `150%`"),
            ("valid_from,valid_to,probability,amount_mm\n2026-06-10 18:00,2026-06-10 19:00,0.5,-3\n", "negative"),
            ("valid_from,valid_to,probability,amount_mm,lon\n2026-06-10 18:00,2026-06-10 19:00,0.5,1,115\n", "all of lon, lat and radius_km"),
            ("valid_from,valid_to,probability,amount_mm,township,lon,lat,radius_km\n2026-06-10 18:00,2026-06-10 19:00,0.5,1,T1,115,37,3\n", "give one"),
            ("valid_from,valid_to,chance,amount_mm\n", "unknown column `chance`"),
            ("valid_from,valid_to,probability,amount_mm\n", "no forecast"),
        ];
        for (text, want) in cases {
            let (_d, path) = write("rain.csv", text);
            let e = read_forecasts(&path).unwrap_err().to_string();
            assert!(e.contains("rain.csv") && e.contains(want), "{e} (wanted {want})");
        }
        let (_d, path) = write(
            "rain.json",
            r#"[{"valid_from": "2026-06-10 18:00", "valid_to": "2026-06-10 19:00", "probability": 0.5, "amount": 1}]"#,
        );
        let e = read_forecasts(&path).unwrap_err().to_string();
        assert!(e.contains("rain.json row 1") && e.contains("amount"), "{e}");
        let (_d, path) = write("rain.json", "{\"rain\": true}");
        assert!(read_forecasts(&path).unwrap_err().to_string().contains("not a JSON list"));
    }
}
