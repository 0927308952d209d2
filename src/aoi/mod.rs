//! The district (AOI): county → township → village grid cells, no-burn zones, national monitoring
//! stations, known heat sources, land use, roads, dump sites, camera towers and a DEM, read
//! through GDAL/OGR.
//!
//! Owns loading and checking the layers and answering point questions about them (which village,
//! which land use, how far to a station, a road, a dump site or a village settlement). It never reads satellite or camera inputs and never
//! touches the ticket store. Distances are in metres on a local projection ([`Projector`]).
//! [`generate`] writes the synthetic sample district kept in `aoi/`.
//!
//! A load reads and checks the layers (`Layers`: polygon validity in O(n log n), `valid`; phone
//! numbers, [`phone`]) and then indexes them (`Aoi::prepare`); what was read is kept between
//! batches by `cache` and used while the layers and the configuration are unchanged.

mod cache;
pub mod china_crs;
mod checks;
pub mod generate;
mod layers;
mod near;
pub mod phone;
mod place;
mod valid;

use std::path::{Path, PathBuf};

use geo::{Contains, Distance, Euclidean, MultiLineString, MultiPolygon, Point};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree};
use serde::{Deserialize, Serialize};

use crate::grid::Projector;

pub use layers::Dem;
pub use place::PlaceIds;

/// How the district's layers are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AoiConfig {
    /// The county's own column names for firepoint's fields, so that its data is used as it is:
    /// `grid_member = "网格员"` (in every layer) or `"villages.code" = "村代码"` (one layer).
    /// Shapefile cuts names to 10 characters: `grid_member = "grid_membe"`,
    /// `pan_zero_deg = "pan_zero_d"`, `hfov_min_deg = "hfov_min_d"`, `hfov_max_deg = "hfov_max_d"`.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Keep the district read from the layers between batches (in `cache_dir`) and use it while
    /// the layer files (names, sizes, times, contents), `[aoi]`, `[limits]` and the firepoint
    /// binary are unchanged: a batch then skips reading and checking the layers. `false`: read
    /// them every time. `firepoint aoi check` always reads them and refreshes the cache.
    pub cache: bool,
    /// Folder of that cache, one file per AOI folder. Empty: `$XDG_CACHE_HOME/firepoint`, else
    /// `~/.cache/firepoint` (no cache when neither is set). A relative path is taken from the AOI
    /// folder (`paths.aoi`).
    pub cache_dir: PathBuf,
    /// Layers whose lon/lat carry a Chinese web map's offset although their file declares WGS-84
    /// or CGCS2000 (boundaries from Amap/高德 or DataV.GeoAtlas, positions picked on Baidu):
    /// `villages = "GCJ-02"`, `cameras = "BD-09"`. Each layer's coordinates are converted exactly
    /// to WGS-84 after its CRS's transform to lon/lat. Values: `WGS-84` (the default, no offset),
    /// `GCJ-02`, `BD-09`; keys: the layer names (county, townships, villages, …).
    pub datums: std::collections::BTreeMap<String, china_crs::Datum>,
    /// A point inside the county but in no village's polygon (a sliver between two drawn
    /// villages) goes to the nearest village within this many metres, and its ticket says so;
    /// farther, it is an unassigned ticket (未归属) for the county office, counted apart in the
    /// report.
    pub snap_m: f64,
    /// Largest share of the county's area that the suppression layers may cover: heat sources with
    /// their own `buffer_m` (a source without one counts with its polygon alone). More is an
    /// error of the load (such a layer would silence every fire there); 0.2 = a fifth of the
    /// county.
    pub max_suppressed_share: f64,
}

impl Default for AoiConfig {
    fn default() -> Self {
        AoiConfig {
            fields: Default::default(),
            cache: true,
            cache_dir: PathBuf::new(),
            datums: Default::default(),
            snap_m: 100.0,
            max_suppressed_share: 0.2,
        }
    }
}

impl AoiConfig {
    /// Values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if !(self.snap_m.is_finite() && (0.0..=1000.0).contains(&self.snap_m)) {
            return Err(format!("aoi.snap_m must be 0 to 1000 m, not {}", self.snap_m));
        }
        if !(self.max_suppressed_share > 0.0 && self.max_suppressed_share <= 1.0) {
            return Err(format!("aoi.max_suppressed_share must be more than 0 and at most 1, not {}", self.max_suppressed_share));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AoiError {
    #[error("AOI layer `{layer}` not found in {dir} (looked for {layer}.geojson, .gpkg, .shp)")]
    MissingLayer { dir: PathBuf, layer: String },
    #[error("cannot open AOI layer {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error(
        "AOI layer {path} has no coordinate reference system: set the one its coordinates are in, \
         e.g. `ogr2ogr -a_srs EPSG:4490 fixed.gpkg <layer>` (CGCS2000 lon/lat; EPSG:4513–4554 for \
         its Gauss–Krüger zones), or write a .prj beside a Shapefile"
    )]
    NoCrs { path: PathBuf },
    #[error("AOI layer {path}: its coordinate reference system cannot be transformed to lon/lat")]
    Crs {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    /// `feature`: the feature's code (or id) and name where it has them, else its index in the file.
    #[error("AOI layer {path}: feature {feature} has no value in field `{field} (or it is empty)")]
    MissingField { path: PathBuf, feature: String, field: String },
    #[error("AOI layer {path} has no field `{field}; its fields: {present} (map names with [aoi.fields])")]
    MissingColumn { path: PathBuf, field: String, present: String },
    #[error("AOI {dir} has {} problem(s):\n  {}", problems.len(), problems.join("\n  "))]
    Problems { dir: PathBuf, problems: Vec<String> },
    #[error("AOI layer {path}: feature {feature}: {what}")]
    BadGeometry { path: PathBuf, feature: String, what: String },
    #[error("AOI layer {path}: feature {feature}, field `{field}`: {what}")]
    BadValue { path: PathBuf, feature: String, field: String, what: String },
    #[error("AOI DEM {path}: {what}")]
    Dem { path: PathBuf, what: String },
    #[error("AOI {dir}: {what}")]
    Invalid { dir: PathBuf, what: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct County {
    pub code: String,
    pub name: String,
    #[serde(skip)]
    pub area: MultiPolygon<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Township {
    pub code: String,
    pub name: String,
    pub team: String,
    pub leader: String,
    pub phone: String,
}

/// A village and its grid cell (网格), the unit a grid member is responsible for.
#[derive(Debug, Clone, Serialize)]
pub struct Village {
    pub code: String,
    pub name: String,
    pub township: String,
    pub grid_id: String,
    pub grid_member: String,
    pub phone: String,
    #[serde(skip)]
    pub area: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub area: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
pub struct Station {
    pub code: String,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
}

/// A known static heat source (steel mill, cement kiln, brick kiln, power plant).
#[derive(Debug, Clone)]
pub struct HeatSource {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub buffer_m: Option<f64>,
    pub area: MultiPolygon<f64>,
}

/// A land-use class of the `landuse` layer. Where polygons overlap, the higher class in
/// [`LandClass::rank`] wins: water > built-up > tree belt > grassland > farmland, farmland being
/// the default outside every polygon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LandClass {
    /// 耕地: cropland (layer value `farmland`, 耕地).
    #[default]
    Farmland,
    /// 荒草地/荒地: grass or waste land, river banks (`grassland`, also `waste`, 荒草地, 荒地, 草地).
    Grassland,
    /// 林带/行道树: tree belts along roads and fields (`tree_belt`, 林带, 行道树).
    TreeBelt,
    /// The village settlement, the county town (`built_up`, 建设用地, 居民点).
    BuiltUp,
    /// Rivers, ponds (`water`, 水域).
    Water,
}

impl LandClass {
    /// Every class, lowest precedence first.
    pub const ALL: [LandClass; 5] =
        [LandClass::Farmland, LandClass::Grassland, LandClass::TreeBelt, LandClass::BuiltUp, LandClass::Water];

    /// Precedence where polygons overlap: the class of the highest rank among the polygons that
    /// hold a point is the point's.
    pub fn rank(self) -> u8 {
        match self {
            LandClass::Farmland => 0,
            LandClass::Grassland => 1,
            LandClass::TreeBelt => 2,
            LandClass::BuiltUp => 3,
            LandClass::Water => 4,
        }
    }

    /// The class a layer's `class` value names (case and surrounding blanks ignored): the snake_case
    /// name, or one of the Chinese terms in the variants' docs; `waste` is grassland.
    pub fn parse(value: &str) -> Option<LandClass> {
        Some(match value.trim().to_lowercase().as_str() {
            "farmland" | "耕地" => LandClass::Farmland,
            "grassland" | "waste" | "荒草地" | "荒地" | "草地" => LandClass::Grassland,
            "tree_belt" | "林带" | "行道树" => LandClass::TreeBelt,
            "built_up" | "建设用地" | "居民点" => LandClass::BuiltUp,
            "water" | "水域" => LandClass::Water,
            _ => return None,
        })
    }
}

/// A road's class in the `roads` layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoadClass {
    /// 高速公路: an expressway (layer value `highway`, 高速, 高速公路).
    Highway,
    /// 国道, 省道: a national or provincial road (`main`, 国道, 省道, 国道省道, 干线).
    Main,
    /// County, township and village roads (`other`, 县道, 乡道, 村道, 其他).
    Other,
}

impl RoadClass {
    pub const ALL: [RoadClass; 3] = [RoadClass::Highway, RoadClass::Main, RoadClass::Other];

    /// The class a layer's `class` value names (case and surrounding blanks ignored).
    pub fn parse(value: &str) -> Option<RoadClass> {
        Some(match value.trim().to_lowercase().as_str() {
            "highway" | "高速" | "高速公路" => RoadClass::Highway,
            "main" | "国道" | "省道" | "国道省道" | "干线" => RoadClass::Main,
            "other" | "县道" | "乡道" | "村道" | "其他" => RoadClass::Other,
            _ => return None,
        })
    }
}

/// A road of the `roads` layer.
#[derive(Debug, Clone)]
pub struct Road {
    pub class: RoadClass,
    /// Empty when the layer gives none.
    pub name: String,
    pub line: MultiLineString<f64>,
}

/// The nearest road to a point ([`Aoi::nearest_road`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoadNear {
    pub class: RoadClass,
    pub name: String,
    /// To the nearest point of the road's line, metres on the district's projection.
    pub distance_m: f64,
}

/// Where a dump site is: a point, or an area (lon/lat).
#[derive(Debug, Clone)]
pub enum Site {
    Point(f64, f64),
    Area(MultiPolygon<f64>),
}

/// A garbage dump site (垃圾堆放点) or transfer station (垃圾中转站) of the `dump_sites` layer.
#[derive(Debug, Clone)]
pub struct DumpSite {
    pub name: String,
    /// The layer's `kind`, as written (e.g. 垃圾堆放点, 垃圾中转站), when it has one.
    pub kind: Option<String>,
    pub site: Site,
}

/// A Blue Sky Guard camera tower.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Camera {
    pub id: String,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    /// Lens height above the ground at the tower, metres.
    pub height_m: f64,
    /// Azimuth (degrees clockwise from north) of pan = 0.
    pub pan_zero_deg: f64,
    pub hfov_min_deg: f64,
    pub hfov_max_deg: f64,
    /// Farthest distance a sighting is placed at, metres.
    pub range_m: f64,
}

/// Everything known about the district, with indexes built once at load.
pub struct Aoi {
    pub dir: PathBuf,
    pub county: County,
    pub townships: Vec<Township>,
    pub villages: Vec<Village>,
    pub no_burn: Vec<Zone>,
    pub stations: Vec<Station>,
    pub heat_sources: Vec<HeatSource>,
    pub landuse: Vec<(LandClass, MultiPolygon<f64>)>,
    pub cameras: Vec<Camera>,
    pub roads: Vec<Road>,
    pub dump_sites: Vec<DumpSite>,
    /// Drawn masks of camera views (`camera_masks.json`, optional).
    pub view_masks: Vec<crate::domain::ViewMask>,
    pub dem: Option<Dem>,
    /// What was read but deserves a look: absent optional layers (and what is lost without
    /// them), gaps and overlaps between grid cells.
    pub warnings: Vec<String>,
    /// Phone numbers that are not numbers of their kind (a grid member's must be a mobile
    /// number, a township's a mobile or a landline; [`phone`]): each names the file, the feature
    /// and the field. The feature is kept without the phone; a batch logs them and goes on,
    /// `firepoint aoi check` reports them as errors.
    pub bad_phones: Vec<String>,
    pub projector: Projector,
    /// `aoi.snap_m`: how far a point in a gap between villages is given to the nearest one.
    pub snap_m: f64,
    village_index: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    heat_m: Vec<MultiPolygon<f64>>,
    placer: place::Placer,
    near: near::Indexes,
}

/// The villages' bounding boxes; a point's candidates come out in this tree's order.
fn village_rtree(villages: &[Village]) -> RTree<GeomWithData<Rectangle<[f64; 2]>, usize>> {
    RTree::bulk_load(
        villages
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let r = geo::BoundingRect::bounding_rect(&v.area)?;
                Some(GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i))
            })
            .collect(),
    )
}

/// What [`check_layer`] made of one layer file.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct LayerCheck {
    /// Features read (each passed the layer's field and geometry checks).
    pub read: usize,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The layers [`Aoi::load`] reads, by the names [`check_layer`] takes.
#[doc(hidden)]
pub const LAYER_KINDS: [&str; 10] = layers::LAYERS;

/// Reads `path` as the district's layer `kind` (one of [`LAYER_KINDS`]) with the code
/// [`Aoi::load`] reads that layer with (OGR open, field mapping, geometry checks) and the checks
/// that need that layer alone (county extent, duplicate villages); the rest of the district is not
/// read. `path` may be anything GDAL opens, e.g. `/vsimem/…`. For the fuzzer (`examples/fuzz.rs`,
/// target `aoi-layer`) and tests, not for callers.
#[doc(hidden)]
pub fn check_layer(kind: &str, path: &Path, cfg: &AoiConfig) -> LayerCheck {
    let mut r = layers::Reader::file(path, cfg);
    let read = match kind {
        "county" => r.county().map_or(0, |c| {
            let extent = checks::county_extent(&c);
            r.problems.extend(extent);
            1
        }),
        "townships" => r.townships().len(),
        "villages" => {
            let villages = r.villages();
            r.warnings.extend(checks::duplicate_villages(&villages));
            villages.len()
        }
        "no_burn_zones" => r.no_burn_zones().len(),
        "stations" => r.stations().len(),
        "heat_sources" => r.heat_sources().len(),
        "landuse" => r.landuse().len(),
        "cameras" => r.cameras().len(),
        "roads" => r.roads().len(),
        "dump_sites" => r.dump_sites().len(),
        other => {
            r.problems.push(format!("`{other}` is not an AOI layer ({})", LAYER_KINDS.join(", ")));
            0
        }
    };
    r.warnings.append(&mut r.bad_phones);
    LayerCheck { read, problems: r.problems, warnings: r.warnings }
}

/// What [`Aoi::load_with`] reads from the layers and checks, before anything is indexed: what
/// [`cache`] keeps between batches.
struct Layers {
    county: County,
    townships: Vec<Township>,
    villages: Vec<Village>,
    no_burn: Vec<Zone>,
    stations: Vec<Station>,
    heat_sources: Vec<HeatSource>,
    landuse: Vec<(LandClass, MultiPolygon<f64>)>,
    cameras: Vec<Camera>,
    roads: Vec<Road>,
    dump_sites: Vec<DumpSite>,
    view_masks: Vec<crate::domain::ViewMask>,
    dem: Option<Dem>,
    warnings: Vec<String>,
    bad_phones: Vec<String>,
}

impl Layers {
    /// Every layer of `dir` through GDAL, and the whole-district checks.
    fn read(dir: &Path, limits: &crate::ingest::Limits, cfg: &AoiConfig) -> Result<Layers, AoiError> {
        let mut r = layers::Reader::new(dir, cfg);
        let county = r.county();
        let townships = r.townships();
        let villages = r.villages();
        let no_burn = r.no_burn_zones();
        let stations = r.stations();
        let heat_sources = r.heat_sources();
        let landuse = r.landuse();
        let cameras = r.cameras();
        let roads = r.roads();
        let dump_sites = r.dump_sites();
        r.finish();
        let (mut problems, mut warnings, bad_phones) = (r.problems, r.warnings, r.bad_phones);
        let mut more = |res: Result<(), AoiError>| {
            if let Err(e) = res {
                problems.push(crate::text::error_chain(&e));
            }
        };
        let view_masks = layers::read_view_masks(dir).map_err(|e| more(Err(e))).unwrap_or_default();
        let dem = layers::read_dem(dir, limits).map_err(|e| more(Err(e))).unwrap_or_default();
        if dem.is_none() && !dir.join("dem.tif").exists() {
            warnings.push("optional DEM `dem.tif` not found: camera sightings are placed on flat ground at 0 m".into());
        }
        if !landuse.is_empty() && landuse.iter().all(|(c, _)| *c != LandClass::BuiltUp) {
            warnings.push(
                "land use has no built_up polygon: no kind rule can use the distance to a village settlement".into(),
            );
        }
        problems.extend(checks::references(&townships, &villages));
        warnings.extend(checks::duplicate_villages(&villages));
        if let Some(c) = &county {
            problems.extend(checks::county_extent(c));
            let outside = checks::outside_county(c, &villages);
            if !outside.is_empty() {
                // villages drawn on an Amap/Baidu map stick out of a WGS-84 county: say why
                problems.extend(checks::offset_hint(c, &villages));
            }
            problems.extend(outside);
            problems.extend(checks::suppressed_share(c, &heat_sources, cfg.max_suppressed_share));
            let points = stations.iter().map(|s| ("station", s.code.as_str(), s.lon, s.lat));
            let towers = cameras.iter().map(|c| ("camera", c.id.as_str(), c.lon, c.lat));
            let far = checks::far_from_county(c, points.chain(towers));
            if far.len() >= 2 && far.len() == stations.len() + cameras.len() {
                // every station and tower elsewhere: the county's own layers (or theirs) are in
                // another place than their CRS says
                problems.push(format!(
                    "every station and camera lies more than 20 km outside the county (county lon {:.3}, first {}): \
                     one side's declared CRS is wrong (a neighbouring Gauss–Krüger zone?)",
                    geo::Centroid::centroid(&c.area).map_or(f64::NAN, |p| p.x()),
                    far[0]
                ));
            } else {
                warnings.extend(far);
            }
        }
        let county = match county {
            Some(c) if problems.is_empty() => c,
            _ => return Err(AoiError::Problems { dir: dir.into(), problems }),
        };
        Ok(Layers {
            county,
            townships,
            villages,
            no_burn,
            stations,
            heat_sources,
            landuse,
            cameras,
            roads,
            dump_sites,
            view_masks,
            dem,
            warnings,
            bad_phones,
        })
    }
}

/// What the district says about one point.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceInfo {
    pub village: Option<Village>,
    pub township: Option<Township>,
    pub landuse: LandClass,
    pub no_burn_zone: Option<String>,
    /// Nearest national station and its distance, metres.
    pub station: Option<(String, f64)>,
    /// The point lies in no village's polygon (a gap between grid cells) and was given to the
    /// nearest village, this many metres away (within `aoi.snap_m`; [`Aoi::snap`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapped_m: Option<f64>,
    /// Inside the county, in no village and farther than `aoi.snap_m` from every one: a fire
    /// for the county office (未归属), set by [`Aoi::snap`].
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unassigned: bool,
}

impl PlaceInfo {
    /// A place outside every village, zone and station ring, with the given land use.
    pub fn bare(landuse: LandClass) -> PlaceInfo {
        PlaceInfo { village: None, township: None, landuse, no_burn_zone: None, station: None, snapped_m: None, unassigned: false }
    }
}

impl Aoi {
    /// Loads every layer from `dir`. Layers may be GeoJSON, GeoPackage or Shapefile.
    pub fn load(dir: &Path) -> Result<Aoi, AoiError> {
        Aoi::load_with(dir, &crate::ingest::Limits::default(), &AoiConfig::default())
    }

    /// [`Aoi::load`] with the configured size limits (the DEM is checked before it is read) and
    /// field names. Every layer is read and every problem collected: the error names them all.
    /// The district read is kept in the cache folder (`aoi.cache_dir`) and used instead of the
    /// layers while they, the configuration and firepoint are unchanged (see `aoi.cache`).
    pub fn load_with(dir: &Path, limits: &crate::ingest::Limits, cfg: &AoiConfig) -> Result<Aoi, AoiError> {
        let cache = cache::Cache::of(dir, limits, cfg);
        let mut aoi = match cache.as_ref().and_then(cache::Cache::read) {
            Some(layers) => Aoi::prepare(dir, layers)?,
            None => Aoi::load_fresh(dir, limits, cfg, cache)?,
        };
        aoi.snap_m = cfg.snap_m;
        Ok(aoi)
    }

    /// Reads and checks every layer, never the cache, and keeps what was read in the cache for
    /// the next batch (`firepoint aoi check`: a forced reload).
    pub fn reload(dir: &Path, limits: &crate::ingest::Limits, cfg: &AoiConfig) -> Result<Aoi, AoiError> {
        let mut aoi = Aoi::load_fresh(dir, limits, cfg, cache::Cache::of(dir, limits, cfg))?;
        aoi.snap_m = cfg.snap_m;
        Ok(aoi)
    }

    fn load_fresh(
        dir: &Path,
        limits: &crate::ingest::Limits,
        cfg: &AoiConfig,
        cache: Option<cache::Cache>,
    ) -> Result<Aoi, AoiError> {
        let layers = Layers::read(dir, limits, cfg)?;
        for p in &layers.bad_phones {
            tracing::warn!("{p}");
        }
        if let Some(cache) = cache {
            cache.write(&layers);
        }
        Aoi::prepare(dir, layers)
    }

    /// The district from its checked layers: the projection and the indexes.
    fn prepare(dir: &Path, layers: Layers) -> Result<Aoi, AoiError> {
        let Layers {
            county,
            townships,
            villages,
            no_burn,
            stations,
            heat_sources,
            landuse,
            cameras,
            roads,
            dump_sites,
            view_masks,
            dem,
            warnings,
            bad_phones,
        } = layers;
        let c = geo::Centroid::centroid(&county.area)
            .ok_or_else(|| AoiError::Invalid { dir: dir.into(), what: "county polygon is empty".into() })?;
        let projector = Projector::new(c.x(), c.y());
        let heat_m = heat_sources.iter().map(|h| projector.project(&h.area)).collect();
        let village_index = village_rtree(&villages);
        let mut aoi = Aoi {
            dir: dir.into(),
            county,
            townships,
            villages,
            no_burn,
            stations,
            heat_sources,
            landuse,
            cameras,
            roads,
            dump_sites,
            view_masks,
            dem,
            warnings,
            bad_phones,
            projector,
            snap_m: AoiConfig::default().snap_m,
            village_index,
            heat_m,
            placer: place::Placer::empty(),
            near: near::Indexes::empty(),
        };
        aoi.placer = place::Placer::new(&aoi);
        aoi.near = near::Indexes::new(&aoi);
        Ok(aoi)
    }

    /// A county or villages layer that looks offset by GCJ-02 / BD-09, then gaps and overlaps
    /// between grid cells (warnings; `aoi check` runs it, a batch does not: it intersects every
    /// cell with its neighbours and the county polygon).
    pub fn topology_warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = checks::offset_hint(&self.county, &self.villages).into_iter().collect();
        out.extend(checks::gaps_and_overlaps(&self.county, &self.villages));
        out
    }

    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        self.county.area.contains(&Point::new(lon, lat))
    }

    pub fn village_at(&self, lon: f64, lat: f64) -> Option<&Village> {
        self.village_id(lon, lat).map(|i| &self.villages[i])
    }

    pub fn township(&self, code: &str) -> Option<&Township> {
        self.townships.iter().find(|t| t.code == code)
    }

    pub fn camera(&self, id: &str) -> Option<&Camera> {
        self.cameras.iter().find(|c| c.id == id)
    }

    /// The land use at a point: where polygons overlap, water wins over built-up, built-up over
    /// tree belt, tree belt over grassland, grassland over farmland (the default outside every
    /// polygon).
    pub fn landuse_at(&self, lon: f64, lat: f64) -> LandClass {
        self.landuse_of(geo::Coord { x: lon, y: lat })
    }

    /// The heat source within its buffer (or `default_buffer_m`) plus `slack_m` of the point.
    /// `slack_m` is the detection's own location uncertainty (half a satellite pixel).
    pub fn heat_source_near(&self, lon: f64, lat: f64, default_buffer_m: f64, slack_m: f64) -> Option<&HeatSource> {
        let p = self.projector.point(lon, lat);
        self.heat_sources.iter().zip(&self.heat_m).find_map(|(h, area)| {
            let d = Euclidean.distance(&p, area);
            (d <= h.buffer_m.unwrap_or(default_buffer_m) + slack_m).then_some(h)
        })
    }

    /// What the district says about one point, with copies of the village's and township's
    /// records ([`Aoi::place_ids`] and [`Aoi::place_many`] answer the same without copying).
    pub fn place(&self, lon: f64, lat: f64) -> PlaceInfo {
        self.place_info(&self.place_ids(lon, lat))
    }

    /// [`Aoi::place`], and a point in no village given to the nearest village within
    /// [`Aoi::snap_m`] (said in [`PlaceInfo::snapped_m`]): county GIS data often leaves slivers
    /// between villages drawn one by one, and a fire in one must still reach a grid member.
    /// Farther from every village the place keeps no village: an unassigned fire (未归属).
    pub fn snap(&self, lon: f64, lat: f64) -> PlaceInfo {
        let mut place = self.place(lon, lat);
        if place.village.is_none() {
            if let Some((i, m)) = self.nearest_village(lon, lat, self.snap_m) {
                let v = &self.villages[i];
                place.township = self.township(&v.township).cloned();
                place.village = Some(v.clone());
                place.snapped_m = Some(m);
            } else {
                place.unassigned = self.contains(lon, lat);
            }
        }
        place
    }

    /// The village nearest `(lon, lat)` within `within_m` metres and its distance (the first of
    /// equals in the layer's order), an index into [`Aoi::villages`].
    pub fn nearest_village(&self, lon: f64, lat: f64, within_m: f64) -> Option<(usize, f64)> {
        if !(lon.is_finite() && lat.is_finite() && within_m >= 0.0) {
            return None;
        }
        // a box a little wider than within_m each way, in degrees
        let dlat = 1.1 * within_m / 110_540.0 + 1e-9;
        let dlon = 1.1 * within_m / (111_320.0 * lat.to_radians().cos().max(0.01)) + 1e-9;
        let env = rstar::AABB::from_corners([lon - dlon, lat - dlat], [lon + dlon, lat + dlat]);
        let p = self.projector.point(lon, lat);
        let mut near: Vec<(usize, f64)> = self
            .village_index
            .locate_in_envelope_intersecting(&env)
            .map(|g| (g.data, Euclidean.distance(&p, &self.projector.project(&self.villages[g.data].area))))
            .filter(|(_, d)| *d <= within_m)
            .collect();
        near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        near.first().copied()
    }

    /// Ground elevation in metres (0 where the DEM is absent or does not cover the point).
    pub fn elevation(&self, lon: f64, lat: f64) -> f64 {
        self.dem.as_ref().and_then(|d| d.sample(lon, lat)).unwrap_or(0.0)
    }
}
