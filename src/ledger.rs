//! The fire-point ledger (火点台账): one row per satellite fire point the county received — the
//! MEE/provincial table's or FIRMS's row, a scene's pixel — so that the bureau can answer for each
//! point of the province's table: its input file and row, the source's own 省/市/县, ours (county,
//! township, village, grid), the ticket or why there is none (a known heat source, the persistence
//! mask, history before the live window, a duplicate), and the ticket's verdict (查实, 查否 …).
//!
//! A row whose source names another county than ours is flagged (县名不符) with the point's
//! distance to our county's border, metres: a point the province gives a neighbour but that lies
//! 200 m inside our border is ours to answer for. County names are compared tolerantly: each
//! name's first word (the district's `示范县 Sample County` is `示范县`) without a trailing
//! administrative word (自治县, 县, 自治旗, 旗, 市, 区, 特区, 林区), so 示范县 and 示范 agree; a
//! row whose source gives no county (FIRMS) is never flagged.
//!
//! The rows come from the store (`Store::fire_point_ledger`, written with the tickets in each input's
//! transaction); our attribution is the district's placing of the point now (`Aoi::place`), the
//! same as when it was recorded unless the layers changed. Points outside the county are not
//! recorded and not listed (the batch counts them). Written by `firepoint ledger` and, after each
//! batch, as `fire_points.csv` in the feed folder (points recorded within `feed.window_days`).
//! CSV with a byte-order mark for Excel; the source's text passes the feed's formula guard.

use geo::{Distance, Euclidean, MultiPolygon};

use crate::aoi::Aoi;
use crate::feed::cell;
use crate::store::FirePoint;

/// The feed folder's fire-point ledger file.
pub const FEED_FILE: &str = "fire_points.csv";

/// A county name's first word without its trailing administrative word: `示范县` → `示范`,
/// `示范县 Sample County` → `示范`.
pub fn county_key(name: &str) -> String {
    let name = name.split(|c: char| c.is_whitespace() || c == '(' || c == '（').find(|w| !w.is_empty()).unwrap_or("");
    for suffix in ["自治县", "自治旗", "特区", "林区", "县", "旗", "市", "区"] {
        if let Some(stem) = name.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            return stem.to_string();
        }
    }
    name.to_string()
}

/// Our county's border in metres (the district's projection), built once per ledger.
struct Border {
    area_m: MultiPolygon<f64>,
}

impl Border {
    fn new(aoi: &Aoi) -> Border {
        Border { area_m: aoi.projector.project(&aoi.county.area) }
    }

    /// Metres from (lon, lat) to the nearest point of the border (inside or out).
    fn distance_m(&self, aoi: &Aoi, lon: f64, lat: f64) -> f64 {
        let p = aoi.projector.point(lon, lat);
        self.area_m
            .iter()
            .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
            .map(|ring| Euclidean.distance(&p, ring))
            .fold(f64::INFINITY, f64::min)
    }
}

/// The ledger's header.
const HEADER: [&str; 23] = [
    "输入文件",
    "行号",
    "序号",
    "传感器",
    "发现时间",
    "中心经度",
    "中心纬度",
    "来源省",
    "来源市",
    "来源县",
    "本县",
    "乡镇代码",
    "乡镇",
    "村代码",
    "村",
    "网格",
    "工单",
    "无工单原因",
    "工单状态",
    "核查结论",
    "县名不符",
    "距县界米",
    "来源",
];

/// The ledger as CSV (UTF-8 with a byte-order mark), one row per point of `points`.
pub fn to_csv(aoi: &Aoi, points: &[FirePoint]) -> String {
    let border = Border::new(aoi);
    let ours = county_key(&aoi.county.name);
    let bj = crate::time::beijing();
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    w.write_record(HEADER).expect("in-memory writer");
    for p in points {
        let place = aoi.place(p.lon, p.lat);
        let field = |v: Option<&String>| v.cloned().unwrap_or_default();
        let (town, village) = (place.township.as_ref(), place.village.as_ref());
        let [prov, city, county] = &p.source_place;
        let differs = !county.trim().is_empty() && county_key(county) != ours;
        let verdict = match (p.status, p.false_alarm_cause) {
            (Some(crate::domain::Status::FalseAlarm), Some(c)) => format!("查否（{}）", c.chinese()),
            (Some(s), _) if !s.is_active() => s.chinese().to_string(),
            (Some(_), _) => "未结".to_string(),
            (None, _) => String::new(),
        };
        let no_ticket = match (&p.ticket, &p.suppressed_by) {
            (Some(_), _) => String::new(),
            (None, Some(why)) => why.clone(),
            (None, None) => "no ticket recorded".into(),
        };
        let (lon, lat) = (format!("{:.6}", p.lon), format!("{:.6}", p.lat));
        w.write_record([
            cell(&p.input).as_str(),
            &p.row.map(|r| r.to_string()).unwrap_or_default(),
            &p.idx.to_string(),
            &cell(&p.sensor),
            &p.observed_at.with_timezone(&bj).format("%Y-%m-%d %H:%M").to_string(),
            &lon,
            &lat,
            &cell(prov),
            &cell(city),
            &cell(county),
            &aoi.county.name,
            &field(town.map(|t| &t.code)),
            &field(town.map(|t| &t.name)),
            &field(village.map(|v| &v.code)),
            &field(village.map(|v| &v.name)),
            &field(village.map(|v| &v.grid_id)),
            p.ticket.as_deref().unwrap_or(""),
            &no_ticket,
            p.status.map(|s| s.chinese()).unwrap_or(""),
            &verdict,
            if differs { "是" } else { "" },
            &if differs { format!("{:.0}", border.distance_m(aoi, p.lon, p.lat)) } else { String::new() },
            if p.row.is_some() { "table" } else { "scene" },
        ])
        .expect("in-memory writer");
    }
    String::from_utf8(w.into_inner().expect("in-memory writer")).expect("CSV is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_county_names_are_compared_without_their_administrative_word() {
        assert_eq!(county_key("示范县"), county_key("示范"));
        assert_eq!(county_key(" 察布查尔锡伯自治县"), "察布查尔锡伯");
        assert_eq!(county_key("科尔沁左翼中旗"), "科尔沁左翼中");
        assert_ne!(county_key("示范县"), county_key("邻县"));
        // a name that is only the word stays itself
        assert_eq!(county_key("县"), "县");
        assert_eq!(county_key("示范县 Sample County (synthetic)"), "示范");
    }
}
