//! What burns, and when to watch: the four burnings (四烧) and the risk windows.
//!
//! **Kinds.** A new ticket's kind — straw (秸秆), weeds (荒草), dead branches and leaves (枯枝落叶),
//! garbage (垃圾) or unknown — is decided by the county's rules ([`BurnConfig::rules`]), tried in
//! order, the first whose every condition holds wins. A condition reads the land use at the fire,
//! the crop calendar's stages on its local (Beijing) date ([`BurnConfig::calendar_of`]: a named
//! regional calendar, [`region_calendar`], chosen for the county by `burn.calendar_region` and
//! per township by `burn.township_calendar`, or the county's own), the distance
//! to the village settlement (built-up land), to a road and to a dump site, the source, and the
//! fire radiative power where the source gives one. The ticket keeps the rule's name and every
//! input it was judged on ([`KindWhy`]), so that a grid member can see why. Known heat sources
//! (industrial) never reach this point: they are suppressed when located.
//!
//! **Risk windows.** The daily windows (收工时, the end of the working day; 上半夜, the first
//! half of the night), 播种前 (the days before a sowing stage of the calendar, and the sowing
//! itself) and 下雨前 (a rain forecast dropped into the inbox, `weather/`, starting within the
//! next hours at the fire's place) are found by [`active_windows`]. In a window a camera sighting
//! needs fewer frames to be confirmed and a new ticket is high priority; the ticket names the
//! windows. It owns no I/O: forecasts are read by `ingest::weather` and kept by the store.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{BurnKind, Detection, KindWhy};

/// (month, day).
type MonthDay = (u32, u32);

/// One stage of the crop calendar: a span of the year, `from` to `to` inclusive (MM-DD, local
/// dates; `from` after `to` wraps over the new year).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CropStage {
    /// How tickets and the plan name it, e.g. 小麦收获.
    pub name: String,
    /// The crop (`wheat`, `maize`, `trees`, …): for people, the rules read only `stage`.
    pub crop: String,
    /// What the rules and windows match: `harvest`, `sowing`, `leaf_fall`, `pruning`, or any word.
    pub stage: String,
    /// First day, MM-DD.
    pub from: String,
    /// Last day, MM-DD.
    pub to: String,
}

impl CropStage {
    fn stage(name: &str, crop: &str, stage: &str, from: &str, to: &str) -> CropStage {
        CropStage { name: name.into(), crop: crop.into(), stage: stage.into(), from: from.into(), to: to.into() }
    }

    /// (month, day) of `from` and `to`; checked when the configuration loads.
    fn span(&self) -> Result<[MonthDay; 2], String> {
        let md = |s: &str| -> Result<(u32, u32), String> {
            let bad = || format!("burn.calendar `{}`: `{s}` is not a date like 06-01 (MM-DD)", self.name);
            let (m, d) = s.split_once('-').ok_or_else(bad)?;
            let (m, d): (u32, u32) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
            // 2024 is a leap year: 02-29 is a valid day of the calendar
            NaiveDate::from_ymd_opt(2024, m, d).ok_or_else(bad)?;
            Ok((m, d))
        };
        Ok([md(&self.from)?, md(&self.to)?])
    }

    /// Whether `day` lies in this stage.
    pub fn holds(&self, day: NaiveDate) -> bool {
        let Ok([from, to]) = self.span() else { return false };
        let md = (day.month(), day.day());
        if from <= to {
            from <= md && md <= to
        } else {
            md >= from || md <= to
        }
    }

    /// The stage's first day in `year`.
    pub fn start_in(&self, year: i32) -> Option<NaiveDate> {
        let [(m, d), _] = self.span().ok()?;
        NaiveDate::from_ymd_opt(year, m, d).or_else(|| NaiveDate::from_ymd_opt(year, m, d - 1))
    }
}

/// One kind rule: every condition given must hold (an empty rule holds everywhere). Distances
/// are metres; a distance condition does not hold where the district has no such layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KindRule {
    /// Its name on the ticket (`farmland_in_season`, …).
    pub name: String,
    /// The kind it gives: straw, weeds, leaves, garbage or unknown.
    pub kind: BurnKindName,
    /// Land use at the fire is one of these (farmland, grassland, tree_belt, built_up, water).
    pub landuse: Vec<String>,
    /// A calendar stage of one of these names (`harvest`, `sowing`, `leaf_fall`, …) holds that day.
    pub season: Vec<String>,
    /// No calendar stage of these names holds that day.
    pub outside_season: Vec<String>,
    /// Within this many metres of the village settlement (built-up land).
    pub near_village_m: Option<f64>,
    /// Within this many metres of a road (of `road_class`, when given).
    pub near_road_m: Option<f64>,
    /// The road classes `near_road_m` counts (highway, main, other; empty: any).
    pub road_class: Vec<String>,
    /// Within this many metres of a dump site (垃圾堆放点).
    pub near_dump_m: Option<f64>,
    /// The source is one of these (satellite, camera, drone).
    pub sources: Vec<String>,
    /// The source measured a fire radiative power of at least this many MW (satellite pixels).
    pub min_frp_mw: Option<f64>,
    /// ... of at most this many MW: a condition on FRP never holds where none was measured.
    pub max_frp_mw: Option<f64>,
}

/// A kind as the configuration writes it (a [`BurnKind`] with a schema).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BurnKindName {
    Straw,
    Weeds,
    Leaves,
    Garbage,
    #[default]
    Unknown,
}

impl From<BurnKindName> for BurnKind {
    fn from(k: BurnKindName) -> BurnKind {
        match k {
            BurnKindName::Straw => BurnKind::Straw,
            BurnKindName::Weeds => BurnKind::Weeds,
            BurnKindName::Leaves => BurnKind::Leaves,
            BurnKindName::Garbage => BurnKind::Garbage,
            BurnKindName::Unknown => BurnKind::Unknown,
        }
    }
}

/// The four burnings: the crop calendar and the kind rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BurnConfig {
    /// The county's crop calendar by region (README "Regional crop calendars"): 华北
    /// (North China Plain wheat–maize, the default), 东北 (single cropping: maize, soybean, rice),
    /// 长江中下游 (rice–wheat / rice–rape), 西北 (spring wheat, maize, Xinjiang cotton), 华南
    /// (double rice, sugarcane). An unknown name is refused.
    pub calendar_region: String,
    /// The county's own crop calendar (`[[burn.calendar]]` stages): when given it replaces the
    /// region's (empty: the region's).
    pub calendar: Vec<CropStage>,
    /// Townships that farm by another region's calendar: township code → region name (e.g. a
    /// rice-growing township of a county on the edge of two regions).
    pub township_calendar: std::collections::BTreeMap<String, String>,
    /// The kind rules, tried in order; the first that holds decides. A fire no rule holds for is
    /// `unknown`.
    pub rules: Vec<KindRule>,
}

impl Default for BurnConfig {
    fn default() -> Self {
        let rule = |name: &str, kind: BurnKindName| KindRule { name: name.into(), kind, ..Default::default() };
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let in_season = list(&["harvest", "sowing"]);
        BurnConfig {
            calendar_region: "华北".into(),
            calendar: Vec::new(),
            township_calendar: Default::default(),
            rules: vec![
                KindRule { near_dump_m: Some(300.0), ..rule("dump_site", BurnKindName::Garbage) },
                KindRule { landuse: list(&["built_up"]), ..rule("built_up_land", BurnKindName::Garbage) },
                KindRule { landuse: list(&["water"]), ..rule("water", BurnKindName::Unknown) },
                KindRule { landuse: list(&["tree_belt"]), ..rule("tree_belt", BurnKindName::Leaves) },
                KindRule {
                    landuse: list(&["farmland", "grassland"]),
                    near_village_m: Some(150.0),
                    season: list(&["leaf_fall"]),
                    ..rule("village_edge_in_leaf_fall", BurnKindName::Leaves)
                },
                KindRule {
                    landuse: list(&["farmland", "grassland"]),
                    near_village_m: Some(150.0),
                    outside_season: in_season.clone(),
                    max_frp_mw: Some(5.0),
                    ..rule("small_fire_at_village_edge_off_season", BurnKindName::Garbage)
                },
                KindRule { landuse: list(&["grassland"]), ..rule("grass_or_waste_land", BurnKindName::Weeds) },
                KindRule {
                    landuse: list(&["farmland"]),
                    season: in_season.clone(),
                    ..rule("farmland_in_harvest_or_sowing", BurnKindName::Straw)
                },
                KindRule {
                    landuse: list(&["farmland"]),
                    near_road_m: Some(30.0),
                    outside_season: in_season,
                    ..rule("road_verge_off_season", BurnKindName::Weeds)
                },
                KindRule { landuse: list(&["farmland"]), ..rule("farmland_off_season", BurnKindName::Straw) },
            ],
        }
    }
}

/// The named regional crop calendars `burn.calendar_region` chooses from.
pub const REGIONS: [&str; 5] = ["华北", "东北", "长江中下游", "西北", "华南"];

/// The crop calendar of region `name` (one of [`REGIONS`]), or `None`.
///
/// Dates are typical spans of the region's main crops, widened by a week or two at each end to
/// cover the field work (straw clearing) around them: **approximate**, a county whose dates
/// differ writes its own `burn.calendar`. Sources: the CropWatch bulletins of the Chinese Academy
/// of Sciences (cropwatch.com.cn: e.g. October 2022 "maize harvest completed in most of North and
/// Northeast China, rice in Northeast China at the late harvest stage, single rice in Jiangsu and
/// Anhui harvesting, winter wheat sowing"; April 2015 "spring wheat sown in late April to early
/// May in Northeast China; soybean sown in May in the Northeast, June–July elsewhere"), FAO GIEWS
/// country briefs for China (fao.org/giews: spring wheat of the northeast and northwest harvested
/// July–August, winter wheat May–June, maize harvest in the north completed in October, early
/// rice harvested in July, single and late rice in October), and the USDA FAS IPAD crop
/// calendar for China (ipad.fas.usda.gov, Crop Explorer). The trees' leaf fall and pruning are
/// the latitude's, not from those sources.
pub fn region_calendar(name: &str) -> Option<Vec<CropStage>> {
    let st = CropStage::stage;
    Some(match name {
        // North China Plain (Hebei, Shandong, Henan): winter wheat – summer maize, two crops a year
        "华北" => vec![
            st("小麦收获", "wheat", "harvest", "05-28", "06-20"),
            st("玉米播种", "maize", "sowing", "06-05", "06-25"),
            st("玉米收获", "maize", "harvest", "09-25", "10-20"),
            st("小麦播种", "wheat", "sowing", "10-05", "10-31"),
            st("落叶", "trees", "leaf_fall", "10-20", "12-15"),
            st("冬季修剪", "trees", "pruning", "12-16", "03-15"),
        ],
        // Northeast (Heilongjiang, Jilin, Liaoning, eastern Inner Mongolia): one crop a year of
        // spring maize, soybean or rice. The autumn span runs to mid-November: maize is picked
        // from late September and the straw left in the fields is cleared until the ground
        // freezes (approximate); the spring span covers the field clearing before sowing.
        "东北" => vec![
            st("春播", "maize/soybean/rice", "sowing", "04-15", "05-25"),
            st("大豆收获", "soybean", "harvest", "09-15", "10-15"),
            st("水稻收获", "rice", "harvest", "09-20", "10-25"),
            st("玉米收获及秸秆离田", "maize", "harvest", "09-25", "11-15"),
            st("落叶", "trees", "leaf_fall", "09-25", "11-05"),
            st("冬季修剪", "trees", "pruning", "11-16", "04-05"),
        ],
        // Middle and lower Yangtze (Jiangsu, Anhui, Hubei, Zhejiang …): rice after wheat or rape
        "长江中下游" => vec![
            st("小麦油菜收获", "wheat/rape", "harvest", "05-10", "06-10"),
            st("水稻栽插", "rice", "sowing", "05-25", "06-30"),
            st("水稻收获", "rice", "harvest", "09-25", "11-10"),
            st("小麦油菜播种", "wheat/rape", "sowing", "10-15", "11-25"),
            st("落叶", "trees", "leaf_fall", "11-01", "12-31"),
            st("冬季修剪", "trees", "pruning", "01-01", "03-10"),
        ],
        // Northwest (Gansu, Ningxia, Xinjiang, Inner Mongolia's west): spring wheat, spring maize,
        // Xinjiang's cotton (stalks pulled and burned after picking)
        "西北" => vec![
            st("春小麦播种", "wheat", "sowing", "03-10", "04-20"),
            st("玉米播种", "maize", "sowing", "04-10", "05-10"),
            st("春小麦收获", "wheat", "harvest", "07-10", "08-20"),
            st("棉花采收", "cotton", "harvest", "09-10", "11-10"),
            st("玉米收获", "maize", "harvest", "09-15", "10-25"),
            st("落叶", "trees", "leaf_fall", "10-01", "11-20"),
            st("冬季修剪", "trees", "pruning", "11-21", "03-09"),
        ],
        // South China (Guangdong, Guangxi, Fujian, Hainan): early and late rice; sugarcane cut
        // (and its leaves burned) in the dry season
        "华南" => vec![
            st("早稻插秧", "rice", "sowing", "03-01", "04-20"),
            st("早稻收获", "rice", "harvest", "06-25", "07-31"),
            st("晚稻插秧", "rice", "sowing", "07-15", "08-10"),
            st("晚稻收获", "rice", "harvest", "10-15", "11-30"),
            st("甘蔗收获", "sugarcane", "harvest", "12-01", "03-31"),
        ],
        _ => return None,
    })
}

/// The regional calendars, built once.
static CALENDARS: std::sync::LazyLock<Vec<(&'static str, Vec<CropStage>)>> = std::sync::LazyLock::new(|| {
    REGIONS.iter().map(|r| (*r, region_calendar(r).expect("every listed region has a calendar"))).collect()
});

fn region(name: &str) -> Option<&'static [CropStage]> {
    CALENDARS.iter().find(|(r, _)| *r == name).map(|(_, c)| c.as_slice())
}

fn unknown_region(key: &str, name: &str) -> String {
    format!("{key}: unknown calendar region `{name}` (one of {})", REGIONS.join(", "))
}

/// Land-use words a rule may name.
const LANDUSE_WORDS: [&str; 5] = ["farmland", "grassland", "tree_belt", "built_up", "water"];

impl BurnConfig {
    /// Checks dates, rule names and values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if region(&self.calendar_region).is_none() {
            return Err(unknown_region("burn.calendar_region", &self.calendar_region));
        }
        for (town, name) in &self.township_calendar {
            if region(name).is_none() {
                return Err(unknown_region(&format!("burn.township_calendar `{town}`"), name));
            }
        }
        for s in &self.calendar {
            s.span()?;
            if s.stage.trim().is_empty() {
                return Err(format!("burn.calendar `{}`: stage must not be empty", s.name));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &self.rules {
            if r.name.trim().is_empty() {
                return Err("burn.rules: every rule needs a name".into());
            }
            if !names.insert(&r.name) {
                return Err(format!("burn.rules: two rules are named `{}`", r.name));
            }
            if let Some(w) = r.landuse.iter().find(|w| !LANDUSE_WORDS.contains(&w.as_str())) {
                return Err(format!("burn.rules `{}`: unknown land use `{w}` ({})", r.name, LANDUSE_WORDS.join(", ")));
            }
            if let Some(w) = r.road_class.iter().find(|w| !["highway", "main", "other"].contains(&w.as_str())) {
                return Err(format!("burn.rules `{}`: unknown road class `{w}` (highway, main, other)", r.name));
            }
            if let Some(w) = r.sources.iter().find(|w| !["satellite", "camera", "drone"].contains(&w.as_str())) {
                return Err(format!("burn.rules `{}`: unknown source `{w}` (satellite, camera, drone)", r.name));
            }
            for (key, v) in [
                ("near_village_m", r.near_village_m),
                ("near_road_m", r.near_road_m),
                ("near_dump_m", r.near_dump_m),
                ("min_frp_mw", r.min_frp_mw),
                ("max_frp_mw", r.max_frp_mw),
            ] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                    return Err(format!("burn.rules `{}`: {key} must be a number ≥ 0, not {v}", r.name));
                }
            }
        }
        Ok(())
    }

    /// The crop calendar of township `township` (code): its region's when
    /// `burn.township_calendar` names one, else the county's own `burn.calendar` when given,
    /// else `burn.calendar_region`'s. An empty code is the county's.
    pub fn calendar_of(&self, township: &str) -> &[CropStage] {
        if let Some(c) = self.township_calendar.get(township).and_then(|r| region(r)) {
            return c;
        }
        if !self.calendar.is_empty() {
            return &self.calendar;
        }
        // checked on load; an unchecked unknown name (a test's literal) reads as the default
        region(&self.calendar_region).or_else(|| region("华北")).expect("华北 is a region")
    }

    /// The county's calendar stages that hold on `day`.
    pub fn stages_on(&self, day: NaiveDate) -> Vec<&CropStage> {
        self.stages_in("", day)
    }

    /// The calendar stages of township `township` (code) that hold on `day`.
    pub fn stages_in(&self, township: &str, day: NaiveDate) -> Vec<&CropStage> {
        self.calendar_of(township).iter().filter(|s| s.holds(day)).collect()
    }
}

/// What a fire's surroundings are, as the kind rules and the dispatch read them (filled by
/// `locate`; `None` where the district has no such layer or nothing of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Near {
    /// Metres to the village settlement (built-up land; 0 inside).
    pub village_m: Option<f64>,
    /// The nearest road: class (highway, main, other), name, metres.
    pub road: Option<(String, String, f64)>,
    /// The nearest highway (高速公路): name, metres.
    pub highway: Option<(String, f64)>,
    /// The nearest dump site: name, metres (0 inside).
    pub dump: Option<(String, f64)>,
}

/// The detection's fire radiative power, MW, where its source measured one.
fn frp_mw(d: &Detection) -> Option<f64> {
    d.evidence.get("frp_mw").and_then(|v| v.as_f64()).filter(|v| v.is_finite())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The kind of a fire at `landuse` seen by `d`, with the rule that decided it and its inputs,
/// by the county's calendar.
pub fn classify(cfg: &BurnConfig, d: &Detection, landuse: &str, near: &Near) -> (BurnKind, KindWhy) {
    classify_in(cfg, "", d, landuse, near)
}

/// [`classify`] by the calendar of township `township` (code).
pub fn classify_in(cfg: &BurnConfig, township: &str, d: &Detection, landuse: &str, near: &Near) -> (BurnKind, KindWhy) {
    let day = crate::time::reporting_day(d.observed_at);
    let stages = cfg.stages_in(township, day);
    let frp = frp_mw(d);
    let within = |limit: Option<f64>, got: Option<f64>| limit.is_none_or(|l| got.is_some_and(|g| g <= l));
    let holds = |r: &KindRule| {
        (r.landuse.is_empty() || r.landuse.iter().any(|l| l == landuse))
            && (r.season.is_empty() || stages.iter().any(|s| r.season.contains(&s.stage)))
            && !stages.iter().any(|s| r.outside_season.contains(&s.stage))
            && within(r.near_village_m, near.village_m)
            && within(r.near_dump_m, near.dump.as_ref().map(|x| x.1))
            && within(
                r.near_road_m,
                match (&near.road, r.road_class.as_slice()) {
                    (Some((_, _, m)), []) => Some(*m),
                    (_, classes) if classes == ["highway"] => near.highway.as_ref().map(|h| h.1),
                    (Some((class, _, m)), classes) if classes.contains(class) => Some(*m),
                    _ => None,
                },
            )
            && (r.sources.is_empty() || r.sources.iter().any(|s| s == d.source.as_str()))
            && r.min_frp_mw.is_none_or(|l| frp.is_some_and(|f| f >= l))
            && r.max_frp_mw.is_none_or(|l| frp.is_some_and(|f| f <= l))
    };
    let rule = cfg.rules.iter().find(|r| holds(r));
    let mut inputs = serde_json::Map::new();
    inputs.insert("landuse".into(), landuse.into());
    inputs.insert("date".into(), day.to_string().into());
    inputs.insert("season".into(), stages.iter().map(|s| serde_json::Value::from(s.name.clone())).collect());
    if let Some(m) = near.village_m {
        inputs.insert("village_m".into(), round1(m).into());
    }
    if let Some((class, name, m)) = &near.road {
        inputs.insert("road".into(), serde_json::json!({"class": class, "name": name, "m": round1(*m)}));
    }
    if let Some((name, m)) = &near.dump {
        inputs.insert("dump_site".into(), serde_json::json!({"name": name, "m": round1(*m)}));
    }
    inputs.insert("source".into(), d.source.as_str().into());
    if let Some(f) = frp {
        inputs.insert("frp_mw".into(), f.into());
    }
    match rule {
        Some(r) => (r.kind.into(), KindWhy { rule: r.name.clone(), inputs }),
        None => (BurnKind::Unknown, KindWhy { rule: "no_rule_held".into(), inputs }),
    }
}

/// A daily risk window, local (Beijing) time `from` to `to` (`to` before `from`, or 24:00, runs
/// over midnight).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DailyWindow {
    /// How tickets and the plan name it, e.g. 收工时.
    pub name: String,
    /// HH:MM.
    pub from: String,
    /// HH:MM (24:00: midnight).
    pub to: String,
}

impl DailyWindow {
    fn window(name: &str, from: &str, to: &str) -> DailyWindow {
        DailyWindow { name: name.into(), from: from.into(), to: to.into() }
    }

    /// Minutes of the day of `from` and `to` (to may be 1440); checked when the configuration loads.
    pub fn minutes(&self) -> Result<(u32, u32), String> {
        let hm = |s: &str| -> Result<u32, String> {
            if s == "24:00" {
                return Ok(24 * 60);
            }
            let t = NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| format!("windows.daily `{}`: `{s}` is not a time like 16:30", self.name))?;
            Ok(t.hour() * 60 + t.minute())
        };
        Ok((hm(&self.from)?, hm(&self.to)?))
    }

    fn holds(&self, minute_of_day: u32) -> bool {
        let Ok((from, to)) = self.minutes() else { return false };
        if from < to {
            (from..to).contains(&minute_of_day)
        } else {
            minute_of_day >= from || minute_of_day < to
        }
    }
}

/// The risk windows (local time, Asia/Shanghai) and what they change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WindowsConfig {
    /// Daily windows (default 收工时 16:30–19:00 and 上半夜 19:00–24:00).
    pub daily: Vec<DailyWindow>,
    /// 播种前: this many days before each `sowing` stage of the crop calendar starts (0: off).
    pub before_sowing_days: i64,
    /// 下雨前: a rain forecast for the fire's place that starts within this many hours (0: off).
    pub before_rain_hours: f64,
    /// ... with at least this probability (0–1) ...
    pub rain_min_probability: f64,
    /// ... and at least this many millimetres.
    pub rain_min_mm: f64,
    /// In a window a camera sighting is confirmed by this many flagged frames of its view
    /// (`confirm.frames` elsewhere; the lower of the two applies).
    pub confirm_frames: usize,
    /// In a window a new ticket is high priority, naming the window.
    pub high_priority: bool,
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig {
            daily: vec![
                DailyWindow::window("收工时", "16:30", "19:00"),
                DailyWindow::window("上半夜", "19:00", "24:00"),
            ],
            before_sowing_days: 7,
            before_rain_hours: 12.0,
            rain_min_probability: 0.5,
            rain_min_mm: 1.0,
            confirm_frames: 1,
            high_priority: true,
        }
    }
}

impl WindowsConfig {
    pub fn check(&self) -> Result<(), String> {
        for w in &self.daily {
            let (from, to) = w.minutes()?;
            if from == to || from >= 24 * 60 {
                return Err(format!("windows.daily `{}`: from {} to {} is no window", w.name, w.from, w.to));
            }
        }
        if self.before_sowing_days < 0 || self.before_sowing_days > 366 {
            return Err(format!("windows.before_sowing_days must be 0–366, not {}", self.before_sowing_days));
        }
        if !(self.before_rain_hours.is_finite() && (0.0..=240.0).contains(&self.before_rain_hours)) {
            return Err(format!("windows.before_rain_hours must be 0–240, not {}", self.before_rain_hours));
        }
        if !(0.0..=1.0).contains(&self.rain_min_probability) {
            return Err(format!("windows.rain_min_probability must be 0–1, not {}", self.rain_min_probability));
        }
        if !(self.rain_min_mm.is_finite() && self.rain_min_mm >= 0.0) {
            return Err(format!("windows.rain_min_mm must be a number ≥ 0, not {}", self.rain_min_mm));
        }
        if self.confirm_frames == 0 {
            return Err("windows.confirm_frames must be ≥ 1".into());
        }
        Ok(())
    }
}

/// A precipitation forecast for an area: a township (code), a circle, or the whole district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    /// 0–1.
    pub probability: f64,
    pub amount_mm: f64,
    /// A circle: centre lon, lat and radius, metres.
    pub circle: Option<(f64, f64, f64)>,
    /// A township's code.
    pub township: Option<String>,
}

impl Forecast {
    /// Whether the forecast's area holds a fire at (lon, lat) in `township` (code).
    pub fn covers(&self, lon: f64, lat: f64, township: &str) -> bool {
        if let Some((clon, clat, r)) = self.circle {
            return crate::grid::Projector::new(clon, clat).distance_m((clon, clat), (lon, lat)) <= r;
        }
        match &self.township {
            Some(code) => code == township,
            None => true,
        }
    }
}

/// A risk window that holds for a fire: its name and its span, as the ticket says it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowHit {
    pub name: String,
    /// e.g. `16:30–19:00`, `06-05 (玉米播种) − 7 days`, `rain 60 % 5 mm from 06-10 14:00`.
    pub span: String,
}

impl WindowHit {
    /// `name span`, as tickets list it.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.span)
    }
}

/// 播种前 spans on `day`: each sowing stage whose first day comes within the next `days` days
/// (the days before sowing, when fields are cleared; the sowing itself is not in the window).
pub fn before_sowing(cfg: &BurnConfig, days: i64, day: NaiveDate) -> Vec<WindowHit> {
    before_sowing_in(cfg, "", days, day)
}

/// [`before_sowing`] by the calendar of township `township` (code).
pub fn before_sowing_in(cfg: &BurnConfig, township: &str, days: i64, day: NaiveDate) -> Vec<WindowHit> {
    if days <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in cfg.calendar_of(township).iter().filter(|s| s.stage == "sowing") {
        let start = [day.year() - 1, day.year(), day.year() + 1]
            .into_iter()
            .filter_map(|y| s.start_in(y))
            .find(|start| *start > day && *start - Duration::days(days) <= day);
        if let Some(start) = start {
            out.push(WindowHit { name: "播种前".into(), span: format!("{days} d before {start} ({})", s.name) });
        }
    }
    out
}

/// The risk windows holding at `at` for a fire at (lon, lat) in `township` (code).
pub fn active_windows(
    cfg: &WindowsConfig,
    burn: &BurnConfig,
    forecasts: &[Forecast],
    at: DateTime<Utc>,
    (lon, lat): (f64, f64),
    township: &str,
) -> Vec<WindowHit> {
    let local = at.with_timezone(&crate::time::beijing());
    let minute = local.hour() * 60 + local.minute();
    let mut out: Vec<WindowHit> = cfg
        .daily
        .iter()
        .filter(|w| w.holds(minute))
        .map(|w| WindowHit { name: w.name.clone(), span: format!("{}–{}", w.from, w.to) })
        .collect();
    out.extend(before_sowing_in(burn, township, cfg.before_sowing_days, local.date_naive()));
    if cfg.before_rain_hours > 0.0 {
        let until = at + Duration::seconds((cfg.before_rain_hours * 3600.0) as i64);
        let rain = forecasts
            .iter()
            .filter(|f| f.valid_from > at && f.valid_from <= until)
            .filter(|f| f.probability >= cfg.rain_min_probability && f.amount_mm >= cfg.rain_min_mm)
            .filter(|f| f.covers(lon, lat, township))
            .min_by_key(|f| f.valid_from);
        if let Some(f) = rain {
            let from = f.valid_from.with_timezone(&crate::time::beijing());
            out.push(WindowHit {
                name: "下雨前".into(),
                span: format!(
                    "rain {:.0} % {:.1} mm from {}",
                    f.probability * 100.0,
                    f.amount_mm,
                    from.format("%m-%d %H:%M")
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceKind;
    use chrono::TimeZone;

    fn det(y: i32, m: u32, d: u32, h: u32, frp: Option<f64>) -> Detection {
        let mut det = Detection::point(
            SourceKind::Satellite,
            115.6,
            37.6,
            Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap(),
            500.0,
        );
        if let Some(f) = frp {
            det.evidence = serde_json::json!({ "frp_mw": f });
        }
        det
    }

    fn kind(d: &Detection, landuse: &str, near: &Near) -> (BurnKind, String) {
        let (k, why) = classify(&BurnConfig::default(), d, landuse, near);
        (k, why.rule)
    }

    #[test]
    fn r11_default_rules_tell_the_four_burnings_apart_by_land_use_season_and_distance() {
        let june = det(2026, 6, 10, 3, Some(12.0));
        let march = det(2026, 3, 20, 3, Some(2.0));
        let november = det(2026, 11, 10, 3, None);
        let none = Near::default();
        assert_eq!(kind(&june, "farmland", &none), (BurnKind::Straw, "farmland_in_harvest_or_sowing".into()));
        assert_eq!(kind(&march, "farmland", &none), (BurnKind::Straw, "farmland_off_season".into()));
        assert_eq!(kind(&june, "grassland", &none), (BurnKind::Weeds, "grass_or_waste_land".into()));
        assert_eq!(kind(&june, "tree_belt", &none), (BurnKind::Leaves, "tree_belt".into()));
        assert_eq!(kind(&june, "built_up", &none), (BurnKind::Garbage, "built_up_land".into()));
        assert_eq!(kind(&june, "water", &none), (BurnKind::Unknown, "water".into()));
        let dump = Near { dump: Some(("东村垃圾点".into(), 120.0)), ..Near::default() };
        assert_eq!(kind(&june, "farmland", &dump), (BurnKind::Garbage, "dump_site".into()));
        let far_dump = Near { dump: Some(("东村垃圾点".into(), 900.0)), ..Near::default() };
        assert_eq!(kind(&june, "farmland", &far_dump).0, BurnKind::Straw);
        // at the village edge: leaves in leaf fall; a small fire off season is rubbish; FRP unknown is not small
        let edge = Near { village_m: Some(80.0), ..Near::default() };
        assert_eq!(kind(&november, "farmland", &edge), (BurnKind::Leaves, "village_edge_in_leaf_fall".into()));
        assert_eq!(
            kind(&march, "farmland", &edge),
            (BurnKind::Garbage, "small_fire_at_village_edge_off_season".into())
        );
        assert_eq!(kind(&det(2026, 3, 20, 3, None), "farmland", &edge).0, BurnKind::Straw);
        assert_eq!(kind(&june, "farmland", &edge).0, BurnKind::Straw, "in harvest the village edge burns straw");
        let verge = Near { road: Some(("main".into(), "S234".into(), 12.0)), ..Near::default() };
        assert_eq!(kind(&march, "farmland", &verge), (BurnKind::Weeds, "road_verge_off_season".into()));
        assert_eq!(kind(&june, "farmland", &verge).0, BurnKind::Straw);
    }

    #[test]
    fn r11_a_ticket_keeps_the_rule_and_its_inputs() {
        let near = Near {
            village_m: Some(412.345),
            road: Some(("highway".into(), "G4 京港澳高速".into(), 230.0)),
            highway: Some(("G4 京港澳高速".into(), 230.0)),
            dump: None,
        };
        let (_, why) = classify(&BurnConfig::default(), &det(2026, 6, 10, 3, Some(12.5)), "farmland", &near);
        let i = serde_json::Value::Object(why.inputs);
        assert_eq!(i["landuse"], "farmland");
        assert_eq!(i["date"], "2026-06-10");
        assert_eq!(i["season"], serde_json::json!(["小麦收获", "玉米播种"]));
        assert_eq!(i["village_m"], 412.3);
        assert_eq!(i["road"]["class"], "highway");
        assert_eq!(i["frp_mw"], 12.5);
        assert_eq!(i["source"], "satellite");
    }

    #[test]
    fn r11_rules_are_tried_in_order_and_no_rule_means_unknown() {
        let mut cfg = BurnConfig::default();
        cfg.rules.insert(
            0,
            KindRule {
                name: "big_fires_are_straw".into(),
                kind: BurnKindName::Straw,
                min_frp_mw: Some(50.0),
                ..Default::default()
            },
        );
        let (k, why) = classify(&cfg, &det(2026, 6, 10, 3, Some(80.0)), "built_up", &Near::default());
        assert_eq!((k, why.rule.as_str()), (BurnKind::Straw, "big_fires_are_straw"));
        let (k, _) = classify(&cfg, &det(2026, 6, 10, 3, Some(8.0)), "built_up", &Near::default());
        assert_eq!(k, BurnKind::Garbage);
        cfg.rules.clear();
        let (k, why) = classify(&cfg, &det(2026, 6, 10, 3, None), "farmland", &Near::default());
        assert_eq!((k, why.rule.as_str()), (BurnKind::Unknown, "no_rule_held"));
    }

    #[test]
    fn r11_calendar_spans_wrap_over_the_new_year_and_bad_dates_are_refused() {
        let cfg = BurnConfig::default();
        let pruning = cfg.calendar_of("").iter().find(|s| s.stage == "pruning").unwrap();
        assert!(pruning.holds(NaiveDate::from_ymd_opt(2026, 1, 10).unwrap()));
        assert!(pruning.holds(NaiveDate::from_ymd_opt(2026, 12, 20).unwrap()));
        assert!(!pruning.holds(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()));
        let mut bad = cfg.clone();
        bad.calendar = region_calendar("华北").unwrap();
        bad.calendar[0].from = "13-01".into();
        assert!(bad.check().unwrap_err().contains("13-01"));
        let mut bad = cfg.clone();
        bad.rules[0].landuse = vec!["forest".into()];
        assert!(bad.check().unwrap_err().contains("forest"));
        let mut bad = cfg;
        bad.rules[1].name = bad.rules[0].name.clone();
        assert!(bad.check().unwrap_err().contains("two rules"));
    }

    #[test]
    fn r22_a_northeastern_november_straw_fire_is_in_season_under_the_northeast_calendar() {
        // 2016-11-05 in Heilongjiang: maize straw cleared after the single harvest; on the North
        // China Plain the harvest and the wheat sowing are over by then
        let mut d = det(2016, 11, 5, 3, Some(8.0));
        (d.lon, d.lat) = (126.6, 45.7);
        let ne = BurnConfig { calendar_region: "东北".into(), ..BurnConfig::default() };
        ne.check().unwrap();
        let (k, why) = classify(&ne, &d, "farmland", &Near::default());
        assert_eq!((k, why.rule.as_str()), (BurnKind::Straw, "farmland_in_harvest_or_sowing"));
        let (k, why) = classify(&BurnConfig::default(), &d, "farmland", &Near::default());
        assert_eq!((k, why.rule.as_str()), (BurnKind::Straw, "farmland_off_season"));
        // a township on another region's calendar: by code
        let mut mixed = BurnConfig::default();
        mixed.township_calendar.insert("230101001".into(), "东北".into());
        mixed.check().unwrap();
        assert_eq!(
            classify_in(&mixed, "230101001", &d, "farmland", &Near::default()).1.rule,
            "farmland_in_harvest_or_sowing"
        );
        assert_eq!(classify_in(&mixed, "230101002", &d, "farmland", &Near::default()).1.rule, "farmland_off_season");
        // the spring window before sowing is the region's too: 7 days before 04-15
        let april = NaiveDate::from_ymd_opt(2017, 4, 10).unwrap();
        assert!(before_sowing(&BurnConfig::default(), 7, april).is_empty());
        assert_eq!(before_sowing_in(&mixed, "230101001", 7, april).len(), 1);
        // the county's own calendar still replaces the region's
        let own = BurnConfig { calendar: vec![CropStage::stage("x", "x", "harvest", "11-01", "11-10")], ..ne };
        assert_eq!(own.stages_on(NaiveDate::from_ymd_opt(2016, 11, 5).unwrap()).len(), 1);
        assert_eq!(own.stages_on(NaiveDate::from_ymd_opt(2016, 10, 5).unwrap()).len(), 0);
    }

    #[test]
    fn r22_an_unknown_calendar_region_is_refused_listing_the_names() {
        let bad = BurnConfig { calendar_region: "东北地区".into(), ..BurnConfig::default() };
        let err = bad.check().unwrap_err();
        assert!(err.contains("东北地区") && REGIONS.iter().all(|r| err.contains(r)), "{err}");
        let mut bad = BurnConfig::default();
        bad.township_calendar.insert("T1".into(), "northeast".into());
        assert!(bad.check().unwrap_err().contains("T1"));
        for r in REGIONS {
            let cfg = BurnConfig { calendar_region: r.into(), ..BurnConfig::default() };
            cfg.check().unwrap();
            let c = cfg.calendar_of("");
            assert!(c.iter().any(|s| s.stage == "harvest") && c.iter().any(|s| s.stage == "sowing"), "{r}");
            assert!(c.iter().all(|s| s.span().is_ok()), "{r}");
        }
    }

    fn at_local(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::time::beijing().with_ymd_and_hms(2026, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    fn names(w: &[WindowHit]) -> Vec<&str> {
        w.iter().map(|w| w.name.as_str()).collect()
    }

    #[test]
    fn r11_windows_daily_in_local_time_before_sowing_and_before_rain() {
        let (cfg, burn) = (WindowsConfig::default(), BurnConfig::default());
        let at = |m, d, h, min| active_windows(&cfg, &burn, &[], at_local(m, d, h, min), (115.6, 37.6), "T1");
        assert_eq!(names(&at(3, 2, 17, 0)), ["收工时"]);
        assert_eq!(names(&at(3, 2, 19, 0)), ["上半夜"]);
        assert_eq!(names(&at(3, 2, 23, 59)), ["上半夜"]);
        assert!(at(3, 2, 0, 30).is_empty());
        assert!(at(3, 2, 10, 0).is_empty());
        // maize sowing starts 06-05: 05-29 .. 06-04; wheat sowing 10-05: 09-28 .. 10-04
        assert_eq!(names(&at(5, 29, 10, 0)), ["播种前"]);
        assert_eq!(names(&at(6, 4, 10, 0)), ["播种前"]);
        assert!(at(5, 28, 10, 0).is_empty());
        assert!(at(6, 5, 10, 0).is_empty(), "sowing has begun");
        assert_eq!(
            at(9, 28, 17, 0).iter().map(WindowHit::label).collect::<Vec<_>>(),
            ["收工时 16:30–19:00", "播种前 7 d before 2026-10-05 (小麦播种)"]
        );
        assert!(at(10, 5, 10, 0).is_empty());
        let rain = Forecast {
            valid_from: at_local(3, 2, 20, 0),
            valid_to: at_local(3, 3, 2, 0),
            probability: 0.7,
            amount_mm: 6.0,
            circle: None,
            township: Some("T1".into()),
        };
        let with = |at: DateTime<Utc>, f: &Forecast, town: &str| {
            names(&active_windows(&cfg, &burn, std::slice::from_ref(f), at, (115.6, 37.6), town))
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(with(at_local(3, 2, 10, 0), &rain, "T1"), ["下雨前"]);
        assert!(with(at_local(3, 2, 7, 0), &rain, "T1").is_empty(), "13 h before the rain");
        assert!(with(at_local(3, 2, 10, 0), &rain, "T2").is_empty(), "another township");
        assert!(!with(at_local(3, 2, 20, 30), &rain, "T1").contains(&"下雨前".to_string()), "it is raining");
        let unlikely = Forecast { probability: 0.3, ..rain.clone() };
        assert!(with(at_local(3, 2, 10, 0), &unlikely, "T1").is_empty());
        let circle = Forecast { township: None, circle: Some((115.6, 37.7, 5000.0)), ..rain };
        assert!(with(at_local(3, 2, 10, 0), &circle, "T9").is_empty(), "11 km from the centre");
        assert_eq!(
            names(&active_windows(&cfg, &burn, &[circle], at_local(3, 2, 10, 0), (115.6, 37.66), "T9")),
            ["下雨前"]
        );
    }
}
