//! Fire-point tables: NASA FIRMS CSV (MODIS and VIIRS layouts), JAXA Himawari L2 WLF CSV, and the
//! MEE satellite centre's straw-burning table (时间, 中心经度, 中心纬度, 省, 市, 县).
//!
//! The layout is recognised from the header. Every row becomes a detection or a counted row
//! error (line number and reason); nothing is dropped silently. A detection's evidence keeps its
//! line (`row`, the header being line 1) for the fire-point ledger. Times: FIRMS and Himawari give UTC;
//! the MEE table gives a Beijing date (taken as 12:00 Beijing time) or a Beijing date and time,
//! written `2016-11-17`, `2016/11/17` or `2016年11月17日` (`… 14:30`, `… 14时30分`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::domain::{Detection, SourceKind};

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read fire-point table {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fire-point table {path} is neither UTF-8 nor GBK/GB18030 text")]
    Encoding { path: PathBuf },
    #[error("fire-point table {path}: header `{header}` is not FIRMS (MODIS/VIIRS), Himawari WLF or MEE (时间,中心经度,中心纬度,…)")]
    Layout { path: PathBuf, header: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    FirmsModis,
    FirmsViirs,
    HimawariWlf,
    Mee,
}

/// A parsed table: its detections and the rows that could not be read.
#[derive(Debug)]
pub struct Table {
    pub layout: Layout,
    pub detections: Vec<Detection>,
    /// (line number, reason)
    pub bad_rows: Vec<(u64, String)>,
}

fn detect_layout(header: &[String]) -> Option<Layout> {
    let has = |c: &str| header.iter().any(|h| h == c);
    if has("时间") && has("中心经度") && has("中心纬度") {
        Some(Layout::Mee)
    } else if has("latitude") && has("longitude") && has("bright_ti4") {
        Some(Layout::FirmsViirs)
    } else if has("latitude") && has("longitude") && has("brightness") {
        Some(Layout::FirmsModis)
    } else if has("Lat") && has("Lon") && has("Reliability") {
        Some(Layout::HimawariWlf)
    } else {
        None
    }
}

/// One CSV record with named access.
struct Rec<'a> {
    header: &'a [String],
    rec: &'a csv::StringRecord,
}

impl Rec<'_> {
    fn get(&self, col: &str) -> Result<&str, String> {
        let i = self.header.iter().position(|h| h == col).ok_or_else(|| format!("no column {col}"))?;
        self.rec.get(i).map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| format!("empty {col}"))
    }
    fn opt(&self, col: &str) -> Option<&str> {
        self.get(col).ok()
    }
    fn f64(&self, col: &str) -> Result<f64, String> {
        let s = self.get(col)?;
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{col} `{}` is not a number", crate::text::quote(s)))
    }
}

fn lonlat(r: &Rec, lon: &str, lat: &str) -> Result<(f64, f64), String> {
    let (x, y) = (r.f64(lon)?, r.f64(lat)?);
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(format!("coordinates ({x}, {y}) out of range"));
    }
    Ok((x, y))
}

/// `2023-08-01` + `0035` (HHMM, UTC).
fn firms_time(r: &Rec) -> Result<DateTime<Utc>, String> {
    let d = NaiveDate::parse_from_str(r.get("acq_date")?, "%Y-%m-%d").map_err(|e| format!("acq_date: {e}"))?;
    let hhmm: u32 = r.get("acq_time")?.parse().map_err(|_| "acq_time is not HHMM".to_string())?;
    let t = NaiveTime::from_hms_opt(hhmm / 100, hhmm % 100, 0).ok_or("acq_time is not HHMM")?;
    crate::time::plausible(Utc.from_utc_datetime(&d.and_time(t))).map_err(|e| format!("acq_date/acq_time: {e}"))
}

fn firms(r: &Rec, viirs: bool) -> Result<Detection, String> {
    let (lon, lat) = lonlat(r, "longitude", "latitude")?;
    let (scan, track) = (r.f64("scan")?, r.f64("track")?);
    // MODIS pixels grow to 4.8 × 2 km at the swath edge, VIIRS I-band ones to 0.8 km
    if !(0.1..=10.0).contains(&scan) || !(0.1..=10.0).contains(&track) {
        return Err(format!("scan {scan} km × track {track} km is not a satellite pixel (0.1–10 km)"));
    }
    let raw_conf = r.get("confidence")?;
    let confidence = match raw_conf {
        "l" | "low" => 0.3,
        "n" | "nominal" => 0.6,
        "h" | "high" => 0.9,
        s => s
            .parse::<f32>()
            .ok()
            .filter(|c| c.is_finite())
            .map(|c| (c / 100.0).clamp(0.0, 1.0))
            .ok_or(())
            .map_err(|_| format!("confidence `{}`", crate::text::quote(s)))?,
    };
    let sat = r.opt("satellite").unwrap_or("?");
    let sensor = match (viirs, r.opt("instrument")) {
        (_, Some(i)) => format!("{i}-{sat}"),
        (true, None) => format!("VIIRS-{sat}"),
        (false, None) => format!(
            "MODIS-{}",
            if sat == "T" {
                "Terra"
            } else if sat == "A" {
                "Aqua"
            } else {
                sat
            }
        ),
    };
    let bright = if viirs { r.f64("bright_ti4")? } else { r.f64("brightness")? };
    Ok(Detection {
        source: SourceKind::Satellite,
        sensor,
        observed_at: firms_time(r)?,
        lon,
        lat,
        radius_m: 500.0 * scan.hypot(track),
        footprint: Some(crate::grid::rect_ring(lon, lat, scan * 1000.0, track * 1000.0)),
        confidence,
        evidence: serde_json::json!({
            "table": "firms", "bright_k": bright, "frp_mw": r.opt("frp").and_then(|v| v.parse::<f64>().ok()),
            "scan_km": scan, "track_km": track, "daynight": r.opt("daynight"), "type": r.opt("type"), "confidence_raw": raw_conf,
        }),
    })
}

fn himawari(r: &Rec) -> Result<Detection, String> {
    let (lon, lat) = lonlat(r, "Lon", "Lat")?;
    let num = |c: &str| -> Result<u32, String> { r.get(c)?.parse().map_err(|_| format!("{c} is not an integer")) };
    let d = NaiveDate::from_ymd_opt(num("Year")? as i32, num("Month")?, num("Day")?).ok_or("bad date")?;
    let hhmm = num("Time(UTC)")?;
    let t = NaiveTime::from_hms_opt(hhmm / 100, hhmm % 100, 0).ok_or("Time(UTC) is not HHMM")?;
    let area_km2 = r.f64("Area(km^2)")?;
    if !(0.0..=100.0).contains(&area_km2) {
        return Err(format!("Area(km^2) {area_km2} is not a Himawari pixel (0–100 km²)"));
    }
    let reliability = num("Reliability")?;
    Ok(Detection {
        source: SourceKind::Satellite,
        sensor: "AHI-Himawari".into(),
        observed_at: crate::time::plausible(Utc.from_utc_datetime(&d.and_time(t)))?,
        lon,
        lat,
        radius_m: 1000.0 * (area_km2.max(0.0) / 2.0).sqrt(),
        footprint: Some(crate::grid::rect_ring(
            lon,
            lat,
            1000.0 * area_km2.max(0.0).sqrt(),
            1000.0 * area_km2.max(0.0).sqrt(),
        )),
        confidence: match reliability {
            5 => 0.9,
            3 => 0.6,
            _ => 0.3,
        },
        evidence: serde_json::json!({
            "table": "himawari_wlf", "level": r.opt("Level"), "reliability": reliability, "frp": r.opt("FRP(Wm^-2)"),
            "qf": r.opt("QF"), "volcano": r.opt("Volcano"), "area_km2": area_km2,
        }),
    })
}

/// A date written the Chinese way — `2016年11月17日`, `2016年11月17日 14时30分`,
/// `2016年11月17日14:30` — as `2016-11-17` / `2016-11-17 14:30`; any other text unchanged.
fn chinese_date(raw: &str) -> String {
    if !raw.contains('年') {
        return raw.to_string();
    }
    let mut s = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '年' | '月' => s.push('-'),
            '日' | '号' => s.push(' '),
            '时' | '点' => s.push(':'),
            '分' => s.push(':'),
            '秒' => {}
            c => s.push(c),
        }
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = s.trim_end_matches(':');
    // `14时` alone is 14:00
    match s.split_once(' ') {
        Some((day, hm)) if !hm.contains(':') => format!("{day} {hm}:00"),
        _ => s.to_string(),
    }
}

fn mee(r: &Rec) -> Result<Detection, String> {
    let (lon, lat) = lonlat(r, "中心经度", "中心纬度")?;
    let written = r.get("时间")?.trim();
    let raw = &chinese_date(written);
    // a time of day when the table gives one (Beijing time), else the date at 12:00 Beijing
    let with_time = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok());
    let date_only = raw.split_whitespace().next().unwrap_or(raw);
    let local = match with_time {
        Some(t) => t,
        None => NaiveDate::parse_from_str(date_only, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(date_only, "%Y/%m/%d"))
            .map_err(|_| format!("时间 `{}` is not a date", crate::text::quote(written)))?
            .and_hms_opt(12, 0, 0)
            .expect("noon exists"),
    };
    let noon = crate::time::beijing().from_local_datetime(&local).single().ok_or("bad date")?;
    Ok(Detection {
        source: SourceKind::Satellite,
        sensor: "MEE-SEC".into(),
        observed_at: crate::time::plausible(noon.with_timezone(&Utc)).map_err(|e| format!("时间: {e}"))?,
        lon,
        lat,
        radius_m: 1000.0,
        footprint: None,
        confidence: 0.8,
        evidence: serde_json::json!({"table": "mee", "省": r.opt("省"), "市": r.opt("市"), "县": r.opt("县"), "date_only": with_time.is_none()}),
    })
}

/// The table's text: UTF-8 (with or without a BOM), else GBK/GB18030 as Windows offices in China
/// save CSV (Excel's "CSV"); `None` when it is neither.
fn decode(bytes: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.into());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    (!had_errors).then_some(text)
}

/// Reads a fire-point table of any supported layout.
pub fn read_table(path: &Path) -> Result<Table, TableError> {
    let bytes = std::fs::read(path).map_err(|source| TableError::Read { path: path.into(), source })?;
    parse_table(&bytes, path)
}

/// A fire-point table from its bytes (`path` only names it in errors).
pub fn parse_table(bytes: &[u8], path: &Path) -> Result<Table, TableError> {
    let text = decode(bytes).ok_or_else(|| TableError::Encoding { path: path.into() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // Himawari WLF: two '#' lines, the second of which is the header
    let comment: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let (header_line, body_start) = match comment.as_slice() {
        [] => (None, 0),
        lines => (lines.last().map(|l| l.trim_start_matches('#').trim()), lines.iter().map(|l| l.len() + 1).sum()),
    };
    let body = &text[body_start.min(text.len())..];
    let mut reader =
        csv::ReaderBuilder::new().has_headers(header_line.is_none()).flexible(true).from_reader(body.as_bytes());
    let header: Vec<String> = match header_line {
        Some(h) => h.split(',').map(|s| s.trim().to_string()).collect(),
        None => reader
            .headers()
            .map_err(|e| TableError::Read { path: path.into(), source: std::io::Error::other(e) })?
            .iter()
            .map(|s| s.trim().to_string())
            .collect(),
    };
    let layout = detect_layout(&header)
        .ok_or_else(|| TableError::Layout { path: path.into(), header: crate::text::quote(&header.join(",")) })?;
    let mut table = Table { layout, detections: Vec::new(), bad_rows: Vec::new() };
    for (i, rec) in reader.records().enumerate() {
        let line =
            rec.as_ref().ok().and_then(|r| r.position()).map_or(i as u64 + 2, |p| p.line() + comment.len() as u64);
        let parsed = rec.map_err(|e| e.to_string()).and_then(|rec| {
            let r = Rec { header: &header, rec: &rec };
            match layout {
                Layout::FirmsModis => firms(&r, false),
                Layout::FirmsViirs => firms(&r, true),
                Layout::HimawariWlf => himawari(&r),
                Layout::Mee => mee(&r),
            }
        });
        match parsed {
            Ok(mut d) => {
                // the row's line, for the fire-point ledger (which row of the source is which point)
                if let Some(e) = d.evidence.as_object_mut() {
                    e.insert("row".into(), line.into());
                }
                table.detections.push(d)
            }
            Err(e) => table.bad_rows.push((line, e)),
        }
    }
    // a recognised header with no rows is a quiet day (FIRMS exports exactly that): no fires
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn viirs_layout_with_letter_confidence_and_type() {
        let (_d, p) = write("latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight,type\n\
            37.6,115.6,340.1,0.4,0.6,2026-06-10,1830,N,VIIRS,h,2.0NRT,290.0,5.5,N,0\n\
            37.7,115.7,330.1,0.39,0.36,2026-06-10,0530,N,VIIRS,l,2.0NRT,295.0,1.5,D,0\n");
        let t = read_table(&p).unwrap();
        assert_eq!(t.layout, Layout::FirmsViirs);
        assert_eq!(t.detections.iter().map(|d| d.confidence).collect::<Vec<_>>(), vec![0.9, 0.3]);
        assert_eq!(t.detections[0].sensor, "VIIRS-N");
        // the footprint is scan (E–W) × track (N–S): 400 m × 600 m
        let ring = t.detections[0].footprint.as_ref().unwrap();
        let p = crate::grid::Projector::new(115.6, 37.6);
        assert!((p.distance_m((ring[0][0], ring[0][1]), (ring[1][0], ring[1][1])) - 400.0).abs() < 1.0);
        assert!((p.distance_m((ring[1][0], ring[1][1]), (ring[2][0], ring[2][1])) - 600.0).abs() < 1.0);
    }

    #[test]
    fn bad_rows_are_counted_with_their_line_and_quoted_newlines_survive() {
        let (_d, p) = write(
            "时间,中心经度,中心纬度,省,市,县\n\
            2016-11-03,81.155,43.884,新疆,\"伊犁哈萨克自治\n州\",察布查尔锡伯自治县\n\
            2016-11-03,abc,43.8,新疆,伊犁,县\n\
            2016-13-03,81.1,43.8,新疆,伊犁,县\n",
        );
        let t = read_table(&p).unwrap();
        assert_eq!(t.layout, Layout::Mee);
        assert_eq!(t.detections.len(), 1);
        assert_eq!(t.detections[0].evidence["市"], "伊犁哈萨克自治\n州");
        assert_eq!(t.bad_rows.iter().map(|b| b.0).collect::<Vec<_>>(), vec![4, 5]);
        assert!(t.bad_rows[0].1.contains("中心经度"), "{:?}", t.bad_rows);
    }

    #[test]
    fn r8_an_mee_table_saved_as_gbk_is_read() {
        let utf8 = "时间,中心经度,中心纬度,省,市,县\n2026-06-10,115.6,37.6,河北省,衡水市,示范县\n";
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(utf8);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("mee.csv");
        std::fs::write(&p, &gbk).unwrap();
        let t = read_table(&p).unwrap();
        assert_eq!((t.layout, t.detections.len(), t.bad_rows.len()), (Layout::Mee, 1, 0));
        assert_eq!(t.detections[0].evidence["县"], "示范县");
        // a time of day is kept (Beijing), a bare date is taken at noon
        std::fs::write(&p, "时间,中心经度,中心纬度\n2026-06-10 13:40,115.6,37.6\n2026-06-10,115.6,37.6\n").unwrap();
        let t = read_table(&p).unwrap();
        let hm = |i: usize| t.detections[i].observed_at.format("%H:%M").to_string();
        assert_eq!((hm(0), hm(1)), ("05:40".to_string(), "04:00".to_string()));
        assert_eq!(t.detections[0].evidence["date_only"], false);
        // bytes that are neither are refused, naming the file
        std::fs::write(&p, [0x81u8, 0x20, 0xff, 0xff, 0x0a]).unwrap();
        let err = read_table(&p).unwrap_err().to_string();
        assert!(err.contains("mee.csv") && err.contains("GBK"), "{err}");
    }

    #[test]
    fn r22_mee_dates_written_the_chinese_way_are_read() {
        let (_d, p) = write(
            "时间,中心经度,中心纬度,省,市,县\n\
            2016年11月17日,126.6,45.7,黑龙江省,哈尔滨市,示范县\n\
            2016年11月7日 14时30分,126.6,45.7,黑龙江省,哈尔滨市,示范县\n\
            2016年11月17日14:30,126.6,45.7,黑龙江省,哈尔滨市,示范县\n\
            2016年11月17日 9时,126.6,45.7,黑龙江省,哈尔滨市,示范县\n\
            2016年13月17日,126.6,45.7,黑龙江省,哈尔滨市,示范县\n",
        );
        let t = read_table(&p).unwrap();
        let at = |i: usize| t.detections[i].observed_at.to_rfc3339();
        // Beijing times; a bare date is noon
        assert_eq!(at(0), "2016-11-17T04:00:00+00:00");
        assert_eq!(at(1), "2016-11-07T06:30:00+00:00");
        assert_eq!(at(2), "2016-11-17T06:30:00+00:00");
        assert_eq!(at(3), "2016-11-17T01:00:00+00:00");
        assert_eq!(t.bad_rows.iter().map(|b| b.0).collect::<Vec<_>>(), vec![6]);
        // each point keeps its line for the fire-point ledger
        assert_eq!(t.detections.iter().map(|d| d.evidence["row"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(t.bad_rows[0].1.contains("2016年13月17日"), "{:?}", t.bad_rows);
    }

    #[test]
    fn unknown_layout_names_the_file() {
        let (_d, p) = write("a,b,c\n1,2,3\n");
        let err = read_table(&p).unwrap_err().to_string();
        assert!(err.contains(p.to_str().unwrap()) && err.contains("a,b,c"), "{err}");
    }
}
