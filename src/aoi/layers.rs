//! Reading the AOI layers through GDAL/OGR: one function per layer, each naming the file and the
//! field when something is missing. Geometry is transformed by OGR/PROJ from the layer's own CRS
//! (CGCS2000, its Gauss–Krüger zones, Web Mercator, …) to lon/lat (EPSG:4326, lon first) and
//! converted to `geo` types; a layer without a CRS is refused.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{Feature, Layer, LayerAccess};
use gdal::Dataset;
use geo::{Geometry, MultiLineString, MultiPolygon};

use super::*;

const EXTENSIONS: [&str; 4] = ["geojson", "json", "gpkg", "shp"];

/// The layers an AOI folder may hold.
pub(super) const LAYERS: [&str; 10] = [
    "county",
    "townships",
    "villages",
    "no_burn_zones",
    "stations",
    "heat_sources",
    "landuse",
    "cameras",
    "roads",
    "dump_sites",
];

/// Where layer `layer` is: a file named after it (any case, any of [`EXTENSIONS`]), else a layer
/// of that name inside one of the folder's GeoPackages (a district in one .gpkg).
fn find(dir: &Path, layer: &str) -> Result<(PathBuf, Option<String>), AoiError> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    let ext_of = |p: &Path| p.extension().and_then(|x| x.to_str()).map(str::to_ascii_lowercase);
    let stem_of = |p: &Path| p.file_stem().and_then(|x| x.to_str()).map(str::to_lowercase);
    for ext in EXTENSIONS {
        if let Some(p) =
            files.iter().find(|p| ext_of(p).as_deref() == Some(ext) && stem_of(p).as_deref() == Some(layer))
        {
            return Ok((p.clone(), None));
        }
    }
    let mut packages: Vec<&PathBuf> = files.iter().filter(|p| ext_of(p).as_deref() == Some("gpkg")).collect();
    packages.sort();
    for p in packages {
        if let Ok(ds) = Dataset::open(p) {
            if let Some(name) = ds.layers().map(|l| l.name()).find(|n| n.eq_ignore_ascii_case(layer)) {
                return Ok((p.clone(), Some(name)));
            }
        }
    }
    Err(AoiError::MissingLayer { dir: dir.into(), layer: layer.into() })
}

/// Reads the layers of one AOI folder, collecting every problem instead of stopping at the first
/// (`aoi check` names them all in one run) and a warning for each optional layer that is absent.
pub(super) struct Reader<'a> {
    dir: &'a Path,
    /// Set by [`Reader::file`]: every layer asked for is read from this one file.
    file: Option<&'a Path>,
    fields: &'a std::collections::BTreeMap<String, String>,
    /// `aoi.datums`: the layers whose lon/lat carry a GCJ-02 or BD-09 offset.
    datums: &'a std::collections::BTreeMap<String, super::china_crs::Datum>,
    /// `aoi.fields` keys whose column some layer read has.
    used: std::collections::BTreeSet<String>,
    /// The layers found and opened (an absent optional layer is not).
    opened: std::collections::BTreeSet<String>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// Phone numbers that are not numbers of their kind ([`super::phone`]), one message each.
    pub bad_phones: Vec<String>,
}

/// Every field firepoint reads from any layer.
const FIELDS: [&str; 17] = [
    "code",
    "name",
    "team",
    "leader",
    "phone",
    "township",
    "grid_id",
    "grid_member",
    "id",
    "kind",
    "buffer_m",
    "class",
    "height_m",
    "pan_zero_deg",
    "hfov_min_deg",
    "hfov_max_deg",
    "range_m",
];

/// Problems named per layer before the rest are only counted.
const PROBLEMS_PER_LAYER: usize = 20;

impl<'a> Reader<'a> {
    pub fn new(dir: &'a Path, cfg: &'a AoiConfig) -> Reader<'a> {
        let mut problems = Vec::new();
        for key in cfg.fields.keys() {
            let (layer, field) = key.split_once('.').map_or((None, key.as_str()), |(l, f)| (Some(l), f));
            if !FIELDS.contains(&field) || layer.is_some_and(|l| !LAYERS.contains(&l)) {
                problems.push(format!(
                    "aoi.fields: `{key}` is not a field firepoint reads (fields: {}; or layer.field with a layer of {})",
                    FIELDS.join(", "),
                    LAYERS.join(", ")
                ));
            }
        }
        for layer in cfg.datums.keys().filter(|l| !LAYERS.contains(&l.as_str())) {
            problems.push(format!("aoi.datums: `{layer}` is not an AOI layer ({})", LAYERS.join(", ")));
        }
        Reader {
            dir,
            file: None,
            fields: &cfg.fields,
            datums: &cfg.datums,
            used: Default::default(),
            opened: Default::default(),
            problems,
            warnings: Vec::new(),
            bad_phones: Vec::new(),
        }
    }

    /// A reader that reads whichever layer it is asked for from `path` (anything GDAL opens, e.g.
    /// `/vsimem/…`) instead of finding it in a folder; the rest is as for a folder's layer.
    pub fn file(path: &'a Path, cfg: &'a AoiConfig) -> Reader<'a> {
        Reader { file: Some(path), ..Reader::new(path, cfg) }
    }

    /// After every layer: a mapping whose column no layer had is a problem (a typo would
    /// otherwise leave an optional field silently empty), unless it names a layer that is absent.
    pub fn finish(&mut self) {
        for (key, column) in self.fields {
            // a mapping for one layer that was not there (an optional layer) is not blamed
            if key.split_once('.').is_some_and(|(layer, _)| !self.opened.contains(layer)) {
                continue;
            }
            if !self.used.contains(key) && self.problems.iter().all(|p| !p.contains(&format!("`{key}`"))) {
                self.problems
                    .push(format!("aoi.fields maps `{key}` to `{column}`, but no layer read has a column `{column}`"));
            }
        }
    }

    /// Every feature of layer `name` through `f`. `optional`: what is lost without the layer
    /// (its absence is then a warning, not a problem). `required`: the fields `f` needs, checked
    /// against the layer's columns first so that every missing one is named at once.
    fn layer<T>(
        &mut self,
        name: &str,
        optional: Option<&str>,
        required: &[&str],
        f: impl FnMut(&Row) -> Result<T, AoiError>,
    ) -> Vec<T> {
        let Some((path, ds, chosen, shown)) = self.open(name, optional) else { return Vec::new() };
        self.opened.insert(name.to_string());
        let layer = match &chosen {
            Some(n) => ds.layer_by_name(n),
            None => ds.layer(0),
        };
        let mut layer = match layer {
            Ok(l) => l,
            Err(source) => return self.fail(AoiError::Open { path, source }),
        };
        if layer.feature_count() == 0 {
            match optional {
                None => self.problems.push(format!("AOI layer {shown} has no features")),
                Some(lost) => self.warnings.push(format!("optional layer {shown} has no features: {lost}")),
            }
            return Vec::new();
        }
        let to_lonlat = match lonlat_transform(&layer, &path) {
            Ok(t) => t,
            Err(e) => return self.fail(e),
        };
        let columns: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let fields = Fields { map: self.fields, layer: name, columns: &columns };
        if !self.columns_usable(&fields, required, &shown) {
            return Vec::new();
        }
        let datum = self.datums.get(name).copied().unwrap_or_default();
        let src = Source { path: &path, fields, to_lonlat, datum, garbled: Default::default() };
        let rows = layer.features().enumerate().map(|(i, feature)| {
            let fid = feature.fid().unwrap_or(i as u64);
            (fid, feature)
        });
        let out = self.read_rows(rows, &src, &shown, f);
        if let Some((fid, text)) = src.garbled.into_inner() {
            self.problems.push(format!(
                "AOI layer {shown}: text that is not valid in its encoding (feature {fid}: `{text}`); a Shapefile in GBK \
                 needs {} containing `GBK` (or convert it: ogr2ogr -lco ENCODING=UTF-8)",
                path.with_extension("cpg").display()
            ));
        }
        out
    }

    /// Records `e` as a problem; nothing was read.
    fn fail<T>(&mut self, e: AoiError) -> Vec<T> {
        self.problems.push(crate::text::error_chain(&e));
        Vec::new()
    }

    /// Finds and opens layer `name`: its file, the dataset, the layer's name inside it when it
    /// must be picked by name, and how to name it in messages. `None` when absent or unreadable
    /// (said already).
    fn open(&mut self, name: &str, optional: Option<&str>) -> Option<(PathBuf, Dataset, Option<String>, String)> {
        let found = match self.file {
            Some(path) => Ok((path.to_path_buf(), None)),
            None => find(self.dir, name),
        };
        let (path, inner) = match found {
            Ok(p) => p,
            Err(e) => {
                match optional {
                    None => self.problems.push(e.to_string()),
                    Some(lost) => self.warnings.push(format!("optional layer `{name}` not found: {lost}")),
                }
                return None;
            }
        };
        let ds = match Dataset::open(&path) {
            Ok(ds) => ds,
            Err(source) => {
                self.fail::<()>(AoiError::Open { path, source });
                return None;
            }
        };
        let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
        let chosen = inner.or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(name)).cloned());
        if chosen.is_none() && names.len() != 1 {
            self.problems.push(format!(
                "AOI layer {} holds layers {} and none is named `{name}`",
                path.display(),
                names.join(", ")
            ));
            return None;
        }
        let shown = match &chosen {
            Some(n) if names.len() > 1 => format!("{} (layer {n})", path.display()),
            _ => path.display().to_string(),
        };
        Some((path, ds, chosen, shown))
    }

    /// Whether the layer has a column for every `required` field (and for no field only under
    /// its Shapefile-cut name); records which `aoi.fields` mappings it uses.
    fn columns_usable(&mut self, fields: &Fields, required: &[&str], shown: &str) -> bool {
        let columns = fields.columns;
        for f in FIELDS {
            for key in [format!("{}.{f}", fields.layer), f.to_string()] {
                if self.fields.get(&key).is_some_and(|c| has(columns, c)) {
                    self.used.insert(key);
                }
            }
        }
        // Shapefile cuts names to 10 characters: an optional field read as absent would silently
        // take its default (a camera's pan offset, 0°)
        let cut: Vec<&str> = FIELDS
            .iter()
            .copied()
            .filter(|f| f.len() > 10 && !has(columns, fields.column(f)) && has(columns, &f[..10]))
            .collect();
        if let Some(first) = cut.first() {
            let said: Vec<String> =
                cut.iter().map(|f| format!("`{}` looks like `{f}` cut to 10 characters", &f[..10])).collect();
            self.problems.push(format!(
                "AOI layer {shown}: {} (map each with [aoi.fields], e.g. {first} = \"{}\")",
                said.join(", "),
                &first[..10]
            ));
            return false;
        }
        let missing: Vec<String> = required
            .iter()
            .map(|field| (*field, fields.column(field)))
            .filter(|(_, column)| !has(columns, column))
            .map(|(field, column)| {
                if field == column {
                    format!("`{field}`")
                } else {
                    format!("`{column}` (`{field}` mapped by aoi.fields)")
                }
            })
            .collect();
        if !missing.is_empty() {
            self.problems.push(format!(
                "AOI layer {shown} lacks field(s) {}; its fields: {} (map the county's names with [aoi.fields])",
                missing.join(", "),
                columns.join(", ")
            ));
            return false;
        }
        true
    }

    /// Each row through `f`: the values, and each distinct problem once (at most
    /// [`PROBLEMS_PER_LAYER`], the rest counted).
    fn read_rows<'f, T>(
        &mut self,
        rows: impl Iterator<Item = (u64, Feature<'f>)>,
        src: &Source,
        shown: &str,
        mut f: impl FnMut(&Row) -> Result<T, AoiError>,
    ) -> Vec<T> {
        let (mut out, mut seen, mut more) = (Vec::new(), Vec::<String>::new(), 0usize);
        for (fid, feature) in rows {
            let row = Row { src, fid, feature };
            match f(&row) {
                Ok(t) => out.push(t),
                Err(e) => {
                    let msg = e.to_string();
                    if seen.contains(&msg) {
                        continue;
                    }
                    if seen.len() < PROBLEMS_PER_LAYER {
                        seen.push(msg);
                    } else {
                        more += 1;
                    }
                }
            }
        }
        self.problems.extend(seen);
        if more > 0 {
            self.problems.push(format!("AOI layer {shown}: {more} more problem(s) not listed"));
        }
        out
    }
}

/// One feature's fields and geometry, read out of GDAL so callers handle plain values.
struct Row<'a> {
    src: &'a Source<'a>,
    fid: u64,
    feature: Feature<'a>,
}

/// What every row of one layer shares: its file, its columns, its transform to lon/lat, and the
/// first feature whose text came out garbled (wrong encoding), said once per layer.
struct Source<'a> {
    path: &'a Path,
    fields: Fields<'a>,
    to_lonlat: CoordTransform,
    /// The offset its lon/lat carry (`aoi.datums`), undone after `to_lonlat`.
    datum: super::china_crs::Datum,
    garbled: std::cell::RefCell<Option<(u64, String)>>,
}

/// Whether text read from a layer was decoded in the wrong encoding: U+FFFD or C1 controls, or
/// Latin-1 letters whose bytes are valid GBK Chinese (a GBK .dbf read as ISO-8859-1).
fn garbled(s: &str) -> bool {
    if s.chars().any(|c| c == '\u{FFFD}' || ('\u{80}'..='\u{9F}').contains(&c)) {
        return true;
    }
    if !s.chars().all(|c| (c as u32) <= 0xFF) || !s.chars().any(|c| (c as u32) >= 0xA1) {
        return false;
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&bytes);
    !had_errors && text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

/// Whether the layer has `column`, in any case (GDAL looks fields up case-insensitively, and DBF
/// tools often write `CODE`, `NAME`).
fn has(columns: &[String], column: &str) -> bool {
    columns.iter().any(|c| c.eq_ignore_ascii_case(column))
}

/// Which column of one layer holds each of firepoint's fields.
struct Fields<'a> {
    map: &'a std::collections::BTreeMap<String, String>,
    layer: &'a str,
    columns: &'a [String],
}

impl Fields<'_> {
    /// The column for `field`: `aoi.fields` "layer.field"; else its bare "field" mapping when this
    /// layer has that column (a global `phone = "联系电话"` leaves other layers' `phone` alone);
    /// else the field's own name.
    fn column<'f>(&'f self, field: &'f str) -> &'f str {
        if let Some(c) = self.map.get(&format!("{}.{field}", self.layer)) {
            return c;
        }
        match self.map.get(field) {
            Some(c) if has(self.columns, c) => c,
            _ => field,
        }
    }
}

impl Row<'_> {
    fn column<'f>(&'f self, field: &'f str) -> &'f str {
        self.src.fields.column(field)
    }
    fn opt_str(&self, field: &str) -> Option<String> {
        let idx = self.feature.field_index(self.column(field)).ok()?;
        let s = self.feature.field_as_string(idx).ok().flatten().filter(|s| !s.is_empty())?;
        // U+FFFD or C1 controls: bytes decoded in the wrong encoding (a GBK .dbf read as Latin-1)
        if garbled(&s) && self.src.garbled.borrow().is_none() {
            let shown: String = s.chars().filter(|c| !c.is_control()).take(20).collect();
            *self.src.garbled.borrow_mut() = Some((self.fid, shown));
        }
        // a code kept in a numeric column comes back as "999901001.000000000000000"
        Some(match s.split_once('.') {
            Some((int, frac))
                if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b == b'0') =>
            {
                int.to_string()
            }
            _ => s,
        })
    }
    fn str(&self, field: &str) -> Result<String, AoiError> {
        self.opt_str(field).ok_or_else(|| self.missing(field))
    }
    fn opt_f64(&self, field: &str) -> Option<f64> {
        let idx = self.feature.field_index(self.column(field)).ok()?;
        self.feature.field_as_double(idx).ok().flatten()
    }
    /// The `phone` field written one way by `rule`; empty when absent. A wrong number leaves the
    /// feature without a phone and is said in `bad` (file, feature, field, and `lost`): one
    /// mistyped number must not keep a county's other alarms from going out.
    fn phone(&self, rule: fn(&str) -> Result<String, String>, lost: &str, bad: &mut Vec<String>) -> String {
        let Some(raw) = self.opt_str("phone") else { return String::new() };
        rule(&raw).unwrap_or_else(|why| {
            bad.push(format!("{}; kept without it: {lost}", self.bad_value("phone", why)));
            String::new()
        })
    }
    fn f64(&self, field: &str) -> Result<f64, AoiError> {
        self.opt_f64(field).ok_or_else(|| self.missing(field))
    }
    fn missing(&self, field: &str) -> AoiError {
        let column = self.column(field);
        let mapped = if column == field { String::new() } else { format!(" (`{field}` mapped by aoi.fields)") };
        if has(self.src.fields.columns, column) {
            AoiError::MissingField { path: self.src.path.into(), feature: self.label(), field: format!("{column}`{mapped}") }
        } else {
            AoiError::MissingColumn {
                path: self.src.path.into(),
                field: format!("{column}`{mapped}"),
                present: self.src.fields.columns.join(", "),
            }
        }
    }
    /// How messages name this feature: its code (or id) and name, as the county knows it
    /// (`130123101 东关村`); its index in the file only where it has neither (an index differs
    /// between formats: GeoJSON counts from 0, Shapefile and GeoPackage from 1).
    fn label(&self) -> String {
        let value = |field: &str| self.opt_str(field).map(|s| crate::text::clip(s.trim(), 40)).filter(|s| !s.is_empty());
        let named: Vec<String> = [value("code").or_else(|| value("id")), value("name")].into_iter().flatten().collect();
        if named.is_empty() {
            self.fid.to_string()
        } else {
            named.join(" ")
        }
    }
    fn bad(&self, what: impl Into<String>) -> AoiError {
        AoiError::BadGeometry { path: self.src.path.into(), feature: self.label(), what: what.into() }
    }
    /// A value of `field` that firepoint cannot use (named by its column, as the layer has it).
    fn bad_value(&self, field: &str, what: impl Into<String>) -> AoiError {
        AoiError::BadValue {
            path: self.src.path.into(),
            feature: self.label(),
            field: self.column(field).into(),
            what: what.into(),
        }
    }
    fn geometry(&self) -> Result<Geometry<f64>, AoiError> {
        let g = self.feature.geometry().filter(|g| !g.is_empty()).ok_or_else(|| self.bad("no geometry"))?;
        let g = g.transform(&self.src.to_lonlat).map_err(|e| self.bad(format!("cannot transform to lon/lat: {e}")))?;
        let g = g.to_geo().map_err(|e| self.bad(format!("unreadable geometry: {e}")))?;
        Ok(match self.src.datum {
            super::china_crs::Datum::Wgs84 => g,
            datum => geo::MapCoords::map_coords(&g, |c| {
                let (x, y) = datum.to_wgs84(c.x, c.y);
                geo::Coord { x, y }
            }),
        })
    }
    fn area(&self) -> Result<MultiPolygon<f64>, AoiError> {
        let m = match self.geometry()? {
            Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
            Geometry::MultiPolygon(m) => m,
            other => {
                return Err(
                    self.bad(format!("expected a polygon, found {other:?}").chars().take(120).collect::<String>())
                )
            }
        };
        plausible_lonlat(m.0.iter().flat_map(|p| p.exterior().0.iter().map(|c| (c.x, c.y))))
            .map_err(|w| self.bad(w))?;
        if let Some(e) = super::valid::first_problem(&m) {
            return Err(self.bad(format!("invalid polygon: {e}").chars().take(200).collect::<String>()));
        }
        if geo::Area::unsigned_area(&m) <= 0.0 {
            return Err(self.bad("the polygon has zero area"));
        }
        Ok(m)
    }
    /// A line or multiline, each part at least two distinct points.
    fn lines(&self) -> Result<MultiLineString<f64>, AoiError> {
        let m = match self.geometry()? {
            Geometry::LineString(l) => MultiLineString::new(vec![l]),
            Geometry::MultiLineString(m) => m,
            other => return Err(self.bad(format!("expected a line, found {}", shape_of(&other)))),
        };
        plausible_lonlat(m.0.iter().flat_map(|l| l.0.iter().map(|c| (c.x, c.y)))).map_err(|w| self.bad(w))?;
        if m.0.is_empty() || m.0.iter().any(|l| l.0.windows(2).all(|w| w[0] == w[1])) {
            return Err(self.bad("a line of zero length (fewer than two distinct points)"));
        }
        Ok(m)
    }
    /// A point or a polygon (a dump site drawn either way).
    fn point_or_area(&self) -> Result<Site, AoiError> {
        match self.geometry()? {
            Geometry::Point(p) => {
                plausible_lonlat([(p.x(), p.y())]).map_err(|w| self.bad(w))?;
                Ok(Site::Point(p.x(), p.y()))
            }
            Geometry::Polygon(_) | Geometry::MultiPolygon(_) => self.area().map(Site::Area),
            other => Err(self.bad(format!("expected a point or a polygon, found {}", shape_of(&other)))),
        }
    }
    fn point(&self) -> Result<(f64, f64), AoiError> {
        match self.geometry()? {
            Geometry::Point(p) => {
                plausible_lonlat([(p.x(), p.y())]).map_err(|w| self.bad(w))?;
                Ok((p.x(), p.y()))
            }
            _ => Err(self.bad("expected a point")),
        }
    }
}

/// Largest `buffer_m` of a heat source, metres: a steel works' plume and a satellite pixel's
/// uncertainty fit well inside it; beyond, one source would silence a township.
pub(super) const MAX_HEAT_BUFFER_M: f64 = 5_000.0;
/// Farthest `range_m` of a camera, metres: a tower sees smoke at 10–30 km at best.
const MAX_CAMERA_RANGE_M: f64 = 50_000.0;
/// Highest `height_m` of a camera above the ground, metres (the tallest towers are ~100 m).
const MAX_CAMERA_HEIGHT_M: f64 = 1_000.0;

/// A camera whose numbers place sightings somewhere: the field that is not, and why.
fn camera_sane(c: &Camera) -> Result<(), (&'static str, String)> {
    let within = |v: f64, lo: f64, hi: f64| v.is_finite() && v > lo && v <= hi;
    for (field, v) in [("hfov_min_deg", c.hfov_min_deg), ("hfov_max_deg", c.hfov_max_deg)] {
        if !within(v, 0.0, 180.0) {
            return Err((field, format!("{v}°: a horizontal field of view is more than 0° and at most 180°")));
        }
    }
    if c.hfov_min_deg > c.hfov_max_deg {
        return Err((
            "hfov_min_deg",
            format!("{}° is wider than hfov_max_deg {}° (the zoomed-in view is the narrow one)", c.hfov_min_deg, c.hfov_max_deg),
        ));
    }
    if !within(c.range_m, 0.0, MAX_CAMERA_RANGE_M) {
        return Err(("range_m", format!("{} m: a tower's range is more than 0 and at most {MAX_CAMERA_RANGE_M} m", c.range_m)));
    }
    if !(c.height_m.is_finite() && (0.0..=MAX_CAMERA_HEIGHT_M).contains(&c.height_m)) {
        return Err(("height_m", format!("{} m: a lens is 0 to {MAX_CAMERA_HEIGHT_M} m above the ground", c.height_m)));
    }
    if !c.pan_zero_deg.is_finite() {
        return Err(("pan_zero_deg", format!("{}: not a bearing", c.pan_zero_deg)));
    }
    Ok(())
}

/// What a geometry is, in words (for messages: its coordinates say nothing to the reader).
fn shape_of(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "a point",
        Geometry::MultiPoint(_) => "a multipoint",
        Geometry::Line(_) | Geometry::LineString(_) => "a line",
        Geometry::MultiLineString(_) => "a multiline",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "a polygon",
        Geometry::MultiPolygon(_) => "a multipolygon",
        Geometry::GeometryCollection(_) => "a geometry collection",
    }
}

/// Coordinates that are lon/lat on the Earth after the transform; a layer whose CRS was declared
/// wrong (metres read as degrees, longitudes + 360, …) fails here.
fn plausible_lonlat(coords: impl IntoIterator<Item = (f64, f64)>) -> Result<(), String> {
    for (x, y) in coords {
        if !(x.is_finite() && y.is_finite() && (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)) {
            let show = |v: f64| if v.abs() < 1e7 { format!("{v}") } else { format!("{v:e}") };
            return Err(format!(
                "coordinate ({}, {}) is not lon/lat after transforming from the layer's CRS: is the declared CRS the one its coordinates are in?",
                show(x),
                show(y)
            ));
        }
    }
    Ok(())
}

/// The transform from the layer's CRS to lon/lat (EPSG:4326, lon first; an identity for
/// GeoJSON's CRS84). CGCS2000 (EPSG:4490) and WGS 84 differ by well under a metre, which PROJ
/// treats as the same datum.
fn lonlat_transform(layer: &Layer, path: &Path) -> Result<CoordTransform, AoiError> {
    let mut src = layer.spatial_ref().ok_or_else(|| AoiError::NoCrs { path: path.into() })?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let crs = |source| AoiError::Crs { path: path.into(), source };
    let mut dst = SpatialRef::from_epsg(4326).map_err(crs)?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &dst).map_err(crs)
}

impl Reader<'_> {
    pub fn county(&mut self) -> Option<County> {
        let mut all = self.layer("county", None, &["code", "name"], |r| {
            Ok(County { code: r.str("code")?, name: r.str("name")?, area: r.area()? })
        });
        match all.len() {
            1 => Some(all.remove(0)),
            0 => None, // its problems are said already
            n => {
                self.problems
                    .push(format!("AOI {}: the county layer must hold one feature, found {n}", self.dir.display()));
                None
            }
        }
    }

    pub fn townships(&mut self) -> Vec<Township> {
        let mut bad = Vec::new();
        let out = self.layer("townships", None, &["code", "name", "team"], |r| {
            Ok(Township {
                code: r.str("code")?,
                name: r.str("name")?,
                team: r.str("team")?,
                leader: r.opt_str("leader").unwrap_or_default(),
                phone: r.phone(
                    super::phone::mobile_or_landline,
                    "the team is reached through the feed alone",
                    &mut bad,
                ),
            })
        });
        self.said_phones("townships", bad);
        out
    }

    pub fn villages(&mut self) -> Vec<Village> {
        let mut bad = Vec::new();
        let out = self.layer("villages", None, &["code", "name", "township", "grid_id", "grid_member"], |r| {
            Ok(Village {
                code: r.str("code")?,
                name: r.str("name")?,
                township: r.str("township")?,
                grid_id: r.str("grid_id")?,
                grid_member: r.str("grid_member")?,
                phone: r.phone(super::phone::mobile, "no SMS reaches the grid member", &mut bad),
                area: r.area()?,
            })
        });
        self.said_phones("villages", bad);
        out
    }

    /// The wrong phone numbers of one layer, each named (at most [`PROBLEMS_PER_LAYER`], the
    /// rest counted).
    fn said_phones(&mut self, layer: &str, bad: Vec<String>) {
        let more = bad.len().saturating_sub(PROBLEMS_PER_LAYER);
        self.bad_phones.extend(bad.into_iter().take(PROBLEMS_PER_LAYER));
        if more > 0 {
            self.bad_phones.push(format!("AOI layer `{layer}`: {more} more wrong phone number(s) not listed"));
        }
    }

    pub fn no_burn_zones(&mut self) -> Vec<Zone> {
        let lost = "fires inside a no-burn zone (禁烧区) are not raised to high priority";
        self.layer("no_burn_zones", Some(lost), &["name"], |r| Ok(Zone { name: r.str("name")?, area: r.area()? }))
    }

    pub fn stations(&mut self) -> Vec<Station> {
        let lost = "no fire is raised to high priority for being near a national monitoring station";
        self.layer("stations", Some(lost), &["code", "name"], |r| {
            let (lon, lat) = r.point()?;
            Ok(Station { code: r.str("code")?, name: r.str("name")?, lon, lat })
        })
    }

    pub fn heat_sources(&mut self) -> Vec<HeatSource> {
        let lost = "fires at steel mills, kilns and power plants are suppressed only once the persistence mask has learnt them";
        self.layer("heat_sources", Some(lost), &["id", "name", "kind"], |r| {
            let buffer_m = r.opt_f64("buffer_m");
            if let Some(b) = buffer_m.filter(|b| !(b.is_finite() && (0.0..=MAX_HEAT_BUFFER_M).contains(b))) {
                return Err(r.bad_value(
                    "buffer_m",
                    format!("{b} m: a buffer is 0 to {MAX_HEAT_BUFFER_M} m (a larger one silences every fire around it)"),
                ));
            }
            Ok(HeatSource { id: r.str("id")?, name: r.str("name")?, kind: r.str("kind")?, buffer_m, area: r.area()? })
        })
    }

    pub fn landuse(&mut self) -> Vec<(LandClass, MultiPolygon<f64>)> {
        let lost = "every fire is taken as on farmland (straw burning); garbage burning in villages is not told apart";
        self.layer("landuse", Some(lost), &["class"], |r| {
            let value = r.str("class")?;
            let class = LandClass::parse(&value).ok_or_else(|| {
                r.bad_value(
                    "class",
                    format!(
                        "unknown land-use class `{}` (farmland, grassland or waste, tree_belt, built_up, water; \
                         or 耕地, 荒草地, 荒地, 林带, 行道树, 建设用地, 水域)",
                        crate::text::clip(&value, 60)
                    ),
                )
            })?;
            Ok((class, r.area()?))
        })
    }

    pub fn cameras(&mut self) -> Vec<Camera> {
        let lost = "camera frames cannot be placed (every frame is an unknown camera)";
        self.layer("cameras", Some(lost), &["id", "name", "height_m", "hfov_min_deg", "hfov_max_deg", "range_m"], |r| {
            let (lon, lat) = r.point()?;
            let camera = Camera {
                id: r.str("id")?,
                name: r.str("name")?,
                lon,
                lat,
                height_m: r.f64("height_m")?,
                pan_zero_deg: r.opt_f64("pan_zero_deg").unwrap_or(0.0),
                hfov_min_deg: r.f64("hfov_min_deg")?,
                hfov_max_deg: r.f64("hfov_max_deg")?,
                range_m: r.f64("range_m")?,
            };
            camera_sane(&camera).map_err(|(field, what)| r.bad_value(field, what))?;
            Ok(camera)
        })
    }
}

impl Reader<'_> {
    pub fn roads(&mut self) -> Vec<Road> {
        let lost =
            "no fire is raised to high priority for being near a highway, and no kind rule can use road distance";
        self.layer("roads", Some(lost), &["class"], |r| {
            let value = r.str("class")?;
            let class = RoadClass::parse(&value).ok_or_else(|| {
                r.bad_value(
                    "class",
                    format!(
                        "unknown road class `{}` (highway, main, other; or 高速公路, 国道, 省道, 县道, 乡道, 村道, 其他)",
                        crate::text::clip(&value, 60)
                    ),
                )
            })?;
            Ok(Road { class, name: r.opt_str("name").unwrap_or_default(), line: r.lines()? })
        })
    }

    pub fn dump_sites(&mut self) -> Vec<DumpSite> {
        let lost = "no kind rule can use the distance to a dump site (垃圾堆放点): garbage burning is told from land use alone";
        self.layer("dump_sites", Some(lost), &["name"], |r| {
            Ok(DumpSite { name: r.str("name")?, kind: r.opt_str("kind"), site: r.point_or_area()? })
        })
    }
}

/// `camera_masks.json` (optional): a list of `{"camera_id", "pan_deg", "tilt_deg", "bbox":
/// [x0, y0, x1, y1] in fractions of the frame, "reason"}` — parts of a preset's view where
/// smoke-like things are not fires (chimneys, roads, quarries).
pub(super) fn read_view_masks(dir: &Path) -> Result<Vec<crate::domain::ViewMask>, AoiError> {
    let path = dir.join("camera_masks.json");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bad = |what: String| AoiError::Invalid { dir: path.clone(), what };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("unreadable ({e})")))?;
    let masks: Vec<crate::domain::ViewMask> =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a list of camera masks ({e})")))?;
    for m in &masks {
        let b = m.bbox;
        if !(0.0..=1.0).contains(&b[0]) || !(0.0..=1.0).contains(&b[3]) || b[0] >= b[2] || b[1] >= b[3] || b[2] > 1.0 {
            return Err(bad(format!(
                "mask of {} has bbox {b:?}: fractions of the frame, x0 < x1, y0 < y1",
                m.camera_id
            )));
        }
    }
    Ok(masks)
}

/// A north-up elevation grid, read whole (a county DEM is small).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Dem {
    gt: [f64; 6],
    width: usize,
    height: usize,
    data: Vec<f32>,
    nodata: Option<f64>,
}

impl Dem {
    /// Elevation interpolated bilinearly between the four nearest cell centres (nearest cell at
    /// the grid's edge); `None` outside the grid or where a needed cell is nodata.
    pub fn sample(&self, lon: f64, lat: f64) -> Option<f64> {
        let col = (lon - self.gt[0]) / self.gt[1];
        let row = (lat - self.gt[3]) / self.gt[5];
        if col < 0.0 || row < 0.0 || col >= self.width as f64 || row >= self.height as f64 {
            return None;
        }
        // position relative to cell centres
        let (x, y) = ((col - 0.5).max(0.0), (row - 0.5).max(0.0));
        let (c0, r0) = ((x.floor() as usize).min(self.width - 1), (y.floor() as usize).min(self.height - 1));
        let (c1, r1) = ((c0 + 1).min(self.width - 1), (r0 + 1).min(self.height - 1));
        let (fx, fy) = (x - c0 as f64, y - r0 as f64);
        let v = |r: usize, c: usize| {
            let v = self.data[r * self.width + c] as f64;
            (Some(v) != self.nodata && v.is_finite()).then_some(v)
        };
        let top = v(r0, c0)? * (1.0 - fx) + v(r0, c1)? * fx;
        let bottom = v(r1, c0)? * (1.0 - fx) + v(r1, c1)? * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }
}

pub(super) fn read_dem(dir: &Path, limits: &crate::ingest::Limits) -> Result<Option<Dem>, AoiError> {
    let path = dir.join("dem.tif");
    if !path.exists() {
        return Ok(None);
    }
    let err = |what: String| AoiError::Dem { path: path.clone(), what };
    let ds = Dataset::open(&path).map_err(|source| AoiError::Open { path: path.clone(), source })?;
    let gt = ds.geo_transform().map_err(|e| err(format!("no geotransform ({e})")))?;
    if gt[2] != 0.0 || gt[4] != 0.0 {
        return Err(err("rotated grids are not supported; warp it north-up first".into()));
    }
    let band = ds.rasterband(1).map_err(|e| err(e.to_string()))?;
    let (w, h) = ds.raster_size();
    limits.check(w, h).map_err(|why| err(format!("too large to read: {why}")))?;
    let data = crate::ingest::read_band::<f32>(&band, (w, h)).map_err(|e| err(e.to_string()))?;
    Ok(Some(Dem { gt, width: w, height: h, data, nodata: band.no_data_value() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r8_text_in_the_wrong_encoding_is_recognised() {
        // "王庄" in GBK, read as ISO-8859-1
        let (gbk, _, _) = encoding_rs::GBK.encode("王庄");
        let latin1: String = gbk.iter().map(|&b| b as char).collect();
        assert!(garbled(&latin1), "{latin1}");
        assert!(garbled("\u{FFFD}\u{FFFD}庄"));
        for fine in ["王庄", "Wangzhuang", "Café", "999901002089", ""] {
            assert!(!garbled(fine), "{fine}");
        }
    }

    fn sample(layer: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi").join(format!("{layer}.geojson"))
    }

    #[test]
    fn r10_one_layer_file_reads_as_in_its_district() {
        // the fuzzer's `aoi-layer` target reads one file as any layer: each sample layer on its
        // own gives every feature and no problem, as in `Aoi::load`
        for kind in LAYERS {
            let text = std::fs::read_to_string(sample(kind)).unwrap();
            let features =
                serde_json::from_str::<serde_json::Value>(&text).unwrap()["features"].as_array().unwrap().len();
            let check = super::super::check_layer(kind, &sample(kind), &AoiConfig::default());
            assert_eq!((check.read, check.problems.len()), (features, 0), "{kind}: {:?}", check.problems);
        }
    }

    #[test]
    fn r10_one_layer_reads_from_gdal_memory_files() {
        let mut bytes = std::fs::read(sample("stations")).unwrap();
        let path = Path::new("/vsimem/r10/stations.geojson");
        let _file = gdal::vsi::create_mem_file_from_ref(path, &mut bytes).unwrap();
        let check = super::super::check_layer("stations", path, &AoiConfig::default());
        assert_eq!((check.read, check.problems.len()), (3, 0), "{:?}", check.problems);
    }

    #[test]
    fn r10_an_empty_or_wrong_layer_file_is_a_problem() {
        let cfg = AoiConfig::default();
        let empty = super::super::check_layer("villages", Path::new("/vsimem/r10/none.geojson"), &cfg);
        assert_eq!(empty.read, 0);
        assert!(
            empty.problems[0].starts_with("cannot open AOI layer /vsimem/r10/none.geojson"),
            "{:?}",
            empty.problems
        );
        // an empty file in GDAL's memory (the harness's one crash: gdal 0.19's `create_mem_file`
        // hands GDAL an empty Vec's dangling pointer to free; a borrowed buffer is safe)
        let path = Path::new("/vsimem/r10/empty.geojson");
        let _file = gdal::vsi::create_mem_file_from_ref(path, &mut []).unwrap();
        let empty = super::super::check_layer("stations", path, &cfg);
        assert_eq!(empty.read, 0);
        assert!(
            empty.problems[0].starts_with("cannot open AOI layer /vsimem/r10/empty.geojson"),
            "{:?}",
            empty.problems
        );
        let stations_as_villages = super::super::check_layer("villages", &sample("stations"), &cfg);
        assert_eq!(stations_as_villages.read, 0);
        assert!(
            stations_as_villages.problems[0].contains("lacks field(s) `township`"),
            "{:?}",
            stations_as_villages.problems
        );
        let unknown = super::super::check_layer("rivers", &sample("stations"), &cfg);
        assert!(unknown.problems[0].starts_with("`rivers` is not an AOI layer"), "{:?}", unknown.problems);
    }

    #[test]
    fn r8_columns_match_in_any_case() {
        let columns = vec!["CODE".to_string(), "Name".to_string()];
        assert!(has(&columns, "code") && has(&columns, "name") && !has(&columns, "team"));
    }
}
