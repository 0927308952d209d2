//! The report's map (通报图): one PNG with the county outline, its township and village boundaries,
//! the period's fires as markers coloured by kind, the township ranking beside the map and a title.
//!
//! Owns the layout, the projection from lon/lat to pixels ([`Frame`]) and finding a font that
//! writes Chinese. It computes nothing about the report: the rows come from [`crate::report`], and
//! the caller chooses which tickets belong to the period. Township outlines are the union of their
//! villages (the AOI keeps no township geometry).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use geo::{BoundingRect, Centroid, LineString, MultiPolygon};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::aoi::Aoi;
use crate::domain::{BurnKind, Ticket};
use crate::grid::Projector;
use crate::report::ReportRow;

pub const WIDTH: u32 = 1640;
pub const HEIGHT: u32 = 1000;
/// The map panel in pixels: left, top, right, bottom.
pub const MAP_PANEL: (i32, i32, i32, i32) = (20, 80, 1000, 980);
/// Left edge of the ranking table and the legend.
const TABLE_X: i32 = 1015;
const ROW_H: i32 = 30;

pub const BACKGROUND: RGBColor = WHITE;
const INK: RGBColor = RGBColor(30, 30, 30);
const COUNTY_LINE: RGBColor = RGBColor(0, 0, 0);
const TOWNSHIP_LINE: RGBColor = RGBColor(70, 70, 70);
const VILLAGE_LINE: RGBColor = RGBColor(185, 185, 185);
/// Light fills, one per township in turn, so neighbours can be told apart.
const TOWNSHIP_FILLS: [RGBColor; 6] = [
    RGBColor(238, 243, 225),
    RGBColor(225, 236, 245),
    RGBColor(246, 236, 222),
    RGBColor(236, 228, 243),
    RGBColor(226, 242, 236),
    RGBColor(245, 240, 214),
];

/// Fonts with Chinese glyphs, in order of preference, and the Debian package that installs each.
pub const KNOWN_FONTS: [(&str, &str); 4] = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", "fonts-arphic-uming"),
];
const FAMILY: &str = "firepoint-cjk";

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error(
        "no font with Chinese glyphs for the report map; looked for {looked}: install one, \
         e.g. `apt-get install fonts-wqy-microhei` (scripts/setup.sh does)"
    )]
    NoFont { looked: String },
    #[error("cannot read font {path}")]
    ReadFont {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("font {path} is not a TrueType/OpenType font or collection")]
    BadFont { path: PathBuf },
    #[error("AOI {dir}: the county outline is empty, there is no map to draw")]
    EmptyCounty { dir: PathBuf },
    #[error("cannot draw map {path}: {what}")]
    Draw { path: PathBuf, what: String },
    #[error("cannot write map {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
}

/// The marker colour of a fire of `kind`.
pub fn marker_colour(kind: BurnKind) -> RGBColor {
    match kind {
        BurnKind::Straw => RGBColor(226, 52, 16),
        BurnKind::Weeds => RGBColor(46, 150, 60),
        BurnKind::Leaves => RGBColor(150, 90, 30),
        BurnKind::Garbage => RGBColor(37, 99, 205),
        BurnKind::Unknown => RGBColor(140, 140, 140),
    }
}

/// Lon/lat to image pixels, north up: the county's local metres ([`Projector`], equirectangular
/// with the cos(lat) correction), scaled to fit the map panel with the county centred in it.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    projector: Projector,
    /// Centre of the county's box, metres.
    mid: (f64, f64),
    px_per_m: f64,
}

impl Frame {
    pub fn new(aoi: &Aoi) -> Result<Frame, MapError> {
        let bbox = aoi.county.area.bounding_rect().ok_or_else(|| MapError::EmptyCounty { dir: aoi.dir.clone() })?;
        let p = aoi.projector;
        let (x0, y0) = p.to_m(bbox.min().x, bbox.min().y);
        let (x1, y1) = p.to_m(bbox.max().x, bbox.max().y);
        let (l, t, r, b) = MAP_PANEL;
        // 4 % of room on each side for the outline's width and the labels
        let px_per_m = (f64::from(r - l) / ((x1 - x0) * 1.08)).min(f64::from(b - t) / ((y1 - y0) * 1.08));
        Ok(Frame { projector: p, mid: ((x0 + x1) / 2.0, (y0 + y1) / 2.0), px_per_m })
    }

    /// The pixel (column, row) of the point `lon`, `lat`.
    pub fn pixel(&self, lon: f64, lat: f64) -> (i32, i32) {
        let (x, y) = self.projector.to_m(lon, lat);
        let (l, t, r, b) = MAP_PANEL;
        let cx = f64::from(l + r) / 2.0 + (x - self.mid.0) * self.px_per_m;
        let cy = f64::from(t + b) / 2.0 - (y - self.mid.1) * self.px_per_m;
        (cx.round() as i32, cy.round() as i32)
    }

    fn ring(&self, ring: &LineString<f64>) -> Vec<(i32, i32)> {
        ring.coords().map(|c| self.pixel(c.x, c.y)).collect()
    }
}

fn in_panel((x, y): (i32, i32)) -> bool {
    let (l, t, r, b) = MAP_PANEL;
    (l..r).contains(&x) && (t..b).contains(&y)
}

/// Writes the map of `tickets` with the ranking `rows` beside it and `title` above to the PNG
/// `out` ([`WIDTH`] × [`HEIGHT`]). Tickets outside the map panel are counted in the legend.
pub fn render(aoi: &Aoi, tickets: &[Ticket], rows: &[ReportRow], title: &str, out: &Path) -> Result<(), MapError> {
    font()?;
    let frame = Frame::new(aoi)?;
    let mut buf = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    draw(&mut buf, aoi, &frame, tickets, rows, title)
        .map_err(|e| MapError::Draw { path: out.into(), what: e.to_string() })?;
    let img = image::RgbImage::from_raw(WIDTH, HEIGHT, buf).expect("buffer is WIDTH × HEIGHT × 3");
    img.save_with_format(out, image::ImageFormat::Png).map_err(|source| MapError::Write { path: out.into(), source })
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

fn draw(buf: &mut [u8], aoi: &Aoi, frame: &Frame, tickets: &[Ticket], rows: &[ReportRow], title: &str) -> Drawn {
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&BACKGROUND)?;
    root.draw(&Text::new(title, (MAP_PANEL.0, 24), text(34.0, INK)))?;
    draw_villages(&root, aoi, frame)?;
    draw_townships(&root, aoi, frame)?;
    for poly in &aoi.county.area {
        root.draw(&PathElement::new(frame.ring(poly.exterior()), COUNTY_LINE.stroke_width(3)))?;
    }
    draw_scale_bar(&root, frame)?;
    let outside = draw_markers(&root, frame, tickets)?;
    let below_table = draw_table(&root, rows)?;
    draw_legend(&root, below_table + ROW_H, tickets, outside)?;
    root.present()?;
    Ok(())
}

fn text(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&colour)
}

fn fill_of(aoi: &Aoi, township_code: &str) -> RGBColor {
    let i = aoi.townships.iter().position(|t| t.code == township_code).unwrap_or(0);
    TOWNSHIP_FILLS[i % TOWNSHIP_FILLS.len()]
}

/// Village cells filled in their township's colour, with thin outlines.
fn draw_villages(root: &Area, aoi: &Aoi, frame: &Frame) -> Drawn {
    for v in &aoi.villages {
        let fill = fill_of(aoi, &v.township);
        for poly in &v.area {
            root.draw(&Polygon::new(frame.ring(poly.exterior()), fill.filled()))?;
        }
        for poly in &v.area {
            root.draw(&PathElement::new(frame.ring(poly.exterior()), VILLAGE_LINE.stroke_width(1)))?;
        }
    }
    Ok(())
}

/// Each township's outline (the union of its villages) and its name at the centre.
fn draw_townships(root: &Area, aoi: &Aoi, frame: &Frame) -> Drawn {
    let mut labels = Vec::new();
    for t in &aoi.townships {
        let cells = aoi.villages.iter().filter(|v| v.township == t.code).map(|v| &v.area);
        let area: MultiPolygon<f64> = geo::unary_union(cells);
        for poly in &area {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                root.draw(&PathElement::new(frame.ring(ring), TOWNSHIP_LINE.stroke_width(2)))?;
            }
        }
        if let Some(c) = area.centroid() {
            labels.push((t.name.as_str(), frame.pixel(c.x(), c.y())));
        }
    }
    // after every outline, so no outline crosses a name
    let centred = Pos::new(HPos::Center, VPos::Center);
    for (name, (x, y)) in labels {
        for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
            root.draw(&Text::new(name, (x + dx, y + dy), text(22.0, BACKGROUND).pos(centred)))?;
        }
        root.draw(&Text::new(name, (x, y), text(22.0, INK).pos(centred)))?;
    }
    Ok(())
}

/// A bar of a round number of kilometres, about a fifth of the panel wide, at its bottom right.
fn draw_scale_bar(root: &Area, frame: &Frame) -> Drawn {
    let (_, _, r, b) = MAP_PANEL;
    let want_m = f64::from(r - MAP_PANEL.0) / 5.0 / frame.px_per_m;
    let km = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0].into_iter().rfind(|&k| k * 1000.0 <= want_m).unwrap_or(1.0);
    let len = (km * 1000.0 * frame.px_per_m).round() as i32;
    let (x1, y) = (r - 20, b - 20);
    root.draw(&PathElement::new(vec![(x1 - len, y), (x1, y)], INK.stroke_width(3)))?;
    for x in [x1 - len, x1] {
        root.draw(&PathElement::new(vec![(x, y - 6), (x, y)], INK.stroke_width(2)))?;
    }
    let label = Pos::new(HPos::Center, VPos::Bottom);
    root.draw(&Text::new(format!("{km} km"), (x1 - len / 2, y - 8), text(18.0, INK).pos(label)))?;
    Ok(())
}

/// One filled, outlined dot per ticket; returns how many fell outside the panel (not drawn).
fn draw_markers(root: &Area, frame: &Frame, tickets: &[Ticket]) -> Result<usize, Box<dyn std::error::Error>> {
    let mut outside = 0;
    for t in tickets {
        let at = frame.pixel(t.lon, t.lat);
        if !in_panel(at) {
            outside += 1;
            continue;
        }
        root.draw(&Circle::new(at, 7, marker_colour(t.kind).filled()))?;
        root.draw(&Circle::new(at, 7, BACKGROUND.stroke_width(1)))?;
    }
    Ok(outside)
}

/// 排名 乡镇 火点数 火情数 查实 查否 按时核查 超时, and each column's right edge.
const COLUMNS: [(&str, i32); 8] = [
    ("排名", 45),
    ("乡镇", 190),
    ("火点数", 265),
    ("火情数", 340),
    ("查实", 395),
    ("查否", 450),
    ("按时核查", 535),
    ("超时", 590),
];
/// Right edge of the table's header band and rules.
const TABLE_RIGHT: i32 = TABLE_X + 600;

/// One row's cells, in [`COLUMNS`] order.
fn cells(r: &ReportRow) -> [String; 8] {
    let rank = match r.rank {
        0 if r.township_code == crate::report::UNASSIGNED_CODE => "—".to_string(),
        0 => "合计".to_string(),
        n => n.to_string(),
    };
    // the name column holds about 16 Latin letters or 8 Chinese characters
    let mut width = 0;
    let township = r.township.chars().take_while(|c| {
        width += if c.is_ascii() { 1 } else { 2 };
        width <= 16
    });
    [
        rank,
        township.collect(),
        r.fire_points.to_string(),
        r.tickets.to_string(),
        r.resolved.to_string(),
        r.false_alarm.to_string(),
        r.verified_in_time.to_string(),
        r.overdue.to_string(),
    ]
}

/// The ranking; when the rows do not fit above the legend, the last rows before the total row
/// (the last one, always shown) give way to a "… n more" line. Returns the y below the table.
fn draw_table(root: &Area, rows: &[ReportRow]) -> Result<i32, Box<dyn std::error::Error>> {
    let top = MAP_PANEL.1;
    let fits = ((HEIGHT as i32 - 260 - top) / ROW_H - 1) as usize;
    root.draw(&Rectangle::new([(TABLE_X - 6, top), (TABLE_RIGHT, top + ROW_H)], RGBColor(225, 225, 225).filled()))?;
    draw_cells(root, top, &COLUMNS.map(|(name, _)| name.to_string()))?;
    let mut y = top + ROW_H;
    let (head, hidden) = if rows.len() <= fits { (rows, 0) } else { (&rows[..fits - 2], rows.len() + 1 - fits) };
    for r in head {
        draw_row(root, y, r)?;
        y += ROW_H;
    }
    if let Some(last) = rows.last().filter(|_| hidden > 0) {
        let more = format!("… 另有 {hidden} 个乡镇");
        root.draw(&Text::new(
            more,
            (TABLE_X + 70, y + ROW_H / 2),
            text(18.0, INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        draw_row(root, y + ROW_H, last)?;
        y += 2 * ROW_H;
    }
    Ok(y)
}

/// A row's cells, below a rule when it is the total row.
fn draw_row(root: &Area, y: i32, r: &ReportRow) -> Drawn {
    if r.rank == 0 {
        root.draw(&PathElement::new(vec![(TABLE_X - 6, y), (TABLE_RIGHT, y)], INK.stroke_width(1)))?;
    }
    draw_cells(root, y, &cells(r))
}

/// The township name left-aligned, every other cell right-aligned to its column's edge.
fn draw_cells(root: &Area, y: i32, cells: &[String; 8]) -> Drawn {
    for (i, (cell, (_, right))) in cells.iter().zip(COLUMNS).enumerate() {
        let (x, h) = if i == 1 { (TABLE_X + 70, HPos::Left) } else { (TABLE_X + right, HPos::Right) };
        root.draw(&Text::new(cell.as_str(), (x, y + ROW_H / 2), text(18.0, INK).pos(Pos::new(h, VPos::Center))))?;
    }
    Ok(())
}

fn draw_legend(root: &Area, top: i32, tickets: &[Ticket], outside: usize) -> Drawn {
    let count = |k: BurnKind| tickets.iter().filter(|t| t.kind == k).count();
    let kinds = BurnKind::ALL.map(|k| (k, if k == BurnKind::Unknown { "类型未明" } else { k.event_chinese() }));
    let left = Pos::new(HPos::Left, VPos::Center);
    let mut y = top;
    for (kind, name) in kinds {
        root.draw(&Circle::new((TABLE_X + 10, y), 7, marker_colour(kind).filled()))?;
        root.draw(&Text::new(format!("{name}  {} 起", count(kind)), (TABLE_X + 28, y), text(18.0, INK).pos(left)))?;
        y += 28;
    }
    for (colour, width, name) in
        [(COUNTY_LINE, 3, "县界"), (TOWNSHIP_LINE, 2, "乡镇界"), (VILLAGE_LINE, 1, "村界 (网格)")]
    {
        root.draw(&PathElement::new(vec![(TABLE_X, y), (TABLE_X + 20, y)], colour.stroke_width(width)))?;
        root.draw(&Text::new(name, (TABLE_X + 28, y), text(18.0, INK).pos(left)))?;
        y += 28;
    }
    if outside > 0 {
        root.draw(&Text::new(format!("另有 {outside} 起在图幅外"), (TABLE_X, y), text(18.0, INK).pos(left)))?;
    }
    Ok(())
}

/// Reads the first of [`KNOWN_FONTS`] present and registers it with plotters, once per process
/// (plotters keeps its fonts in a process-wide table, as `&'static` bytes); returns its path.
pub fn font() -> Result<PathBuf, MapError> {
    static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = &*loaded {
        return Ok(path.clone());
    }
    let path = find_font(&KNOWN_FONTS)?;
    let bytes = std::fs::read(&path).map_err(|source| MapError::ReadFont { path: path.clone(), source })?;
    plotters::style::register_font(FAMILY, FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
        .map_err(|_| MapError::BadFont { path: path.clone() })?;
    *loaded = Some(path.clone());
    Ok(path)
}

/// The first of `known` (path, Debian package) that exists.
pub fn find_font(known: &[(&str, &str)]) -> Result<PathBuf, MapError> {
    let found = known.iter().map(|(path, _)| Path::new(path)).find(|p| p.is_file());
    found.map(Path::to_path_buf).ok_or_else(|| MapError::NoFont {
        looked: known
            .iter()
            .map(|(path, package)| format!("{path} (Debian package {package})"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The fill of a village of `risk` (0–100): from the palest yellow to deep red.
pub fn risk_colour(risk: f64) -> RGBColor {
    let t = (risk / 100.0).clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(255.0, 180.0), mix(247.0, 20.0), mix(214.0, 20.0))
}

/// Writes the patrol plan's map: villages filled by risk, township outlines and names, each
/// township's three riskiest villages listed beside the map, the day's risk windows below them.
pub fn render_plan(aoi: &Aoi, plan: &crate::plan::Plan, title: &str, out: &Path) -> Result<(), MapError> {
    font()?;
    let frame = Frame::new(aoi)?;
    let mut buf = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    draw_plan(&mut buf, aoi, &frame, plan, title)
        .map_err(|e| MapError::Draw { path: out.into(), what: e.to_string() })?;
    let img = image::RgbImage::from_raw(WIDTH, HEIGHT, buf).expect("buffer is WIDTH × HEIGHT × 3");
    img.save_with_format(out, image::ImageFormat::Png).map_err(|source| MapError::Write { path: out.into(), source })
}

fn draw_plan(buf: &mut [u8], aoi: &Aoi, frame: &Frame, plan: &crate::plan::Plan, title: &str) -> Drawn {
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&BACKGROUND)?;
    root.draw(&Text::new(title, (MAP_PANEL.0, 24), text(34.0, INK)))?;
    let risk: std::collections::HashMap<&str, f64> =
        plan.rows.iter().map(|r| (r.village_code.as_str(), r.risk)).collect();
    for v in &aoi.villages {
        let fill = risk_colour(risk.get(v.code.as_str()).copied().unwrap_or(0.0));
        for poly in &v.area {
            root.draw(&Polygon::new(frame.ring(poly.exterior()), fill.filled()))?;
            root.draw(&PathElement::new(frame.ring(poly.exterior()), VILLAGE_LINE.stroke_width(1)))?;
        }
    }
    draw_townships(&root, aoi, frame)?;
    for poly in &aoi.county.area {
        root.draw(&PathElement::new(frame.ring(poly.exterior()), COUNTY_LINE.stroke_width(3)))?;
    }
    draw_scale_bar(&root, frame)?;
    let left = Pos::new(HPos::Left, VPos::Center);
    let mut y = MAP_PANEL.1 + 10;
    root.draw(&Text::new("各乡镇风险最高的村 (风险分)", (TABLE_X, y), text(20.0, INK).pos(left)))?;
    y += ROW_H;
    let mut shown = 0;
    for r in plan.rows.iter().filter(|r| r.rank <= 3) {
        if y > HEIGHT as i32 - 8 * ROW_H {
            break;
        }
        let line = format!("{} {}. {} {:.0}", r.township, r.rank, r.village, r.risk);
        root.draw(&Circle::new((TABLE_X + 8, y), 6, risk_colour(r.risk).filled()))?;
        root.draw(&Text::new(line, (TABLE_X + 22, y), text(17.0, INK).pos(left)))?;
        y += 24;
        shown += 1;
    }
    if shown == 0 {
        root.draw(&Text::new("(无村)", (TABLE_X + 22, y), text(17.0, INK).pos(left)))?;
        y += 24;
    }
    y += 12;
    root.draw(&Text::new("风险时段", (TABLE_X, y), text(20.0, INK).pos(left)))?;
    y += ROW_H;
    for w in &plan.windows {
        root.draw(&Text::new(w.as_str(), (TABLE_X + 8, y), text(17.0, INK).pos(left)))?;
        y += 24;
    }
    // the ramp: 0 to 100
    y += 16;
    for k in 0..=10 {
        let x = TABLE_X + 8 + k * 36;
        root.draw(&Rectangle::new([(x, y - 8), (x + 36, y + 8)], risk_colour(f64::from(k) * 10.0).filled()))?;
    }
    root.draw(&Text::new("0", (TABLE_X + 8, y + 22), text(15.0, INK).pos(left)))?;
    root.draw(&Text::new("风险分 100", (TABLE_X + 8 + 10 * 36 - 40, y + 22), text(15.0, INK).pos(left)))?;
    root.present()?;
    Ok(())
}
