//! Generates the synthetic sample district in `aoi/` (`firepoint aoi generate`): a made-up county
//! in the North China Plain wheat–maize belt (around 115.7° E, 37.65° N, Hebei), clearly labelled
//! synthetic, deterministic for a seed: the lattice of villages is drawn from the seed, and
//! everything else (roads, land use, dump sites, towers) is laid out from it and fixed places.
//! Vector layers are GeoJSON (EPSG:4326); the DEM is a GeoTIFF written through GDAL. A real county
//! replaces these files with its own (aoi/README.md).

use std::path::Path;

use gdal::raster::Buffer;
use gdal::DriverManager;
use serde_json::{json, Value};

use crate::rng::SplitMix;

/// Village lattice: 20 columns × 10 rows of villages; a township is a block of 5 × 5.
const COLS: usize = 20;
const ROWS: usize = 10;
const BLOCK: usize = 5;
pub const WEST: f64 = 115.50;
pub const SOUTH: f64 = 37.50;
pub const DX: f64 = 0.020;
pub const DY: f64 = 0.030;
pub const COUNTY_CODE: &str = "999901";

const SURNAMES: [&str; 16] =
    ["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "孙", "马", "郭", "何", "高", "林"];
const SUFFIXES: [&str; 13] = ["庄", "村", "屯", "营", "寨", "集", "店", "堡", "家庄", "官庄", "辛庄", "河口", "桥"];
const TOWNSHIPS: [&str; 8] = ["城关镇", "东风乡", "北王镇", "南河乡", "西柳镇", "高庄乡", "新集镇", "双井乡"];

/// Known places the sample inputs refer to (lon, lat).
pub const COUNTY_TOWN: (f64, f64) = (115.59, 37.56);
pub const CEMENT_PLANT: (f64, f64) = (115.772, 37.612);
pub const BRICK_KILN: (f64, f64) = (115.652, 37.738);
pub const POWER_PLANT: (f64, f64) = (115.845, 37.532);

type Lattice = Vec<Vec<(f64, f64)>>;

fn lattice(rng: &mut SplitMix) -> Lattice {
    (0..=ROWS)
        .map(|j| {
            (0..=COLS)
                .map(|i| {
                    let corner = (i == 0 || i == COLS) && (j == 0 || j == ROWS);
                    let (jx, jy) = if corner { (0.0, 0.0) } else { (rng.normal(DX * 0.12), rng.normal(DY * 0.12)) };
                    (WEST + i as f64 * DX + jx, SOUTH + j as f64 * DY + jy)
                })
                .collect()
        })
        .collect()
}

/// The outline of lattice cells [i0, i1) × [j0, j1), counter-clockwise, closed.
fn outline(l: &Lattice, i0: usize, i1: usize, j0: usize, j1: usize) -> Vec<[f64; 2]> {
    let mut ring = Vec::new();
    ring.extend((i0..i1).map(|i| l[j0][i]));
    ring.extend((j0..j1).map(|j| l[j][i1]));
    ring.extend((i0 + 1..=i1).rev().map(|i| l[j1][i]));
    ring.extend((j0 + 1..=j1).rev().map(|j| l[j][i0]));
    ring.push(l[j0][i0]);
    ring.into_iter().map(|(x, y)| [round6(x), round6(y)]).collect()
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn square(c: (f64, f64), half_deg: f64) -> Vec<[f64; 2]> {
    let (x, y) = c;
    let h = half_deg;
    [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h], [x - h, y - h]]
        .into_iter()
        .map(|[a, b]| [round6(a), round6(b)])
        .collect()
}

fn polygon(props: Value, ring: Vec<[f64; 2]>) -> Value {
    json!({"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}})
}

fn point(props: Value, (x, y): (f64, f64)) -> Value {
    json!({"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [round6(x), round6(y)]}})
}

fn write_layer(dir: &Path, name: &str, features: Vec<Value>) -> std::io::Result<()> {
    let fc = json!({
        "type": "FeatureCollection",
        "name": name,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    });
    std::fs::write(dir.join(format!("{name}.geojson")), serde_json::to_string_pretty(&fc)? + "\n")
}

fn township_code(t: usize) -> String {
    format!("{COUNTY_CODE}{:03}", t + 1)
}

/// The name of village `k` (row by row).
fn village_name(k: usize) -> String {
    format!("{}{}", SURNAMES[k % SURNAMES.len()], SUFFIXES[(k / SURNAMES.len() + k) % SUFFIXES.len()])
}

/// The centre of village (column `i`, row `j`): where its settlement lies.
fn centre(l: &Lattice, i: usize, j: usize) -> (f64, f64) {
    ((l[j][i].0 + l[j + 1][i + 1].0) / 2.0, (l[j][i].1 + l[j + 1][i + 1].1) / 2.0)
}

fn line(props: Value, pts: &[(f64, f64)]) -> Value {
    let coords: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| [round6(x), round6(y)]).collect();
    json!({"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}})
}

/// A road of the sample district: its class, name and line (lon, lat).
struct Road {
    class: &'static str,
    name: String,
    pts: Vec<(f64, f64)>,
}

impl Road {
    fn feature(&self) -> Value {
        line(json!({"class": self.class, "name": self.name}), &self.pts)
    }
}

/// The expressway (高速公路) running north–south through the county inside its no-burn strip
/// (115.700–115.712° E), the national and provincial roads crossing at the county town, and
/// county and township roads joining village centres along a few rows and columns.
fn roads(l: &Lattice) -> Vec<Road> {
    let (north, east) = (SOUTH + ROWS as f64 * DY, WEST + COLS as f64 * DX);
    let steps = |n: usize, f: &dyn Fn(f64) -> (f64, f64)| (0..=n).map(|s| f(s as f64 / n as f64)).collect();
    let mut out = vec![
        Road {
            class: "highway",
            name: "示范高速 G95（示意）".into(),
            pts: steps(12, &|f| (115.706 + 0.003 * (f * 9.0).sin(), SOUTH - 0.02 + f * (north - SOUTH + 0.04))),
        },
        Road {
            class: "main",
            name: "国道 G999（示意）".into(),
            pts: steps(10, &|f| (WEST - 0.02 + f * (east - WEST + 0.04), COUNTY_TOWN.1 + 0.004 * (f * 5.0).sin())),
        },
        Road {
            class: "main",
            name: "省道 S901（示意）".into(),
            pts: steps(8, &|f| (COUNTY_TOWN.0 + 0.003 * (f * 4.0).cos(), SOUTH - 0.02 + f * (north - SOUTH + 0.04))),
        },
        Road {
            class: "main",
            name: "省道 S902（示意）".into(),
            pts: steps(8, &|f| (WEST - 0.02 + f * (east - WEST + 0.04), north - 0.03 - f * 0.12)),
        },
    ];
    for (n, j) in [1, 4, 8].into_iter().enumerate() {
        let pts = (0..COLS).map(|i| centre(l, i, j)).collect();
        out.push(Road { class: "other", name: format!("县道 X{:03}（示意）", n + 1), pts });
    }
    for (n, i) in [3, 11, 17].into_iter().enumerate() {
        let pts = (0..ROWS).map(|j| centre(l, i, j)).collect();
        out.push(Road { class: "other", name: format!("乡道 Y{:03}（示意）", n + 1), pts });
    }
    out
}

/// A strip between `near` and `far` (degrees) to one side of a road that runs mostly north–south
/// (`across_x`: the offset is in longitude) or east–west (in latitude).
fn strip(pts: &[(f64, f64)], near: f64, far: f64, across_x: bool) -> Vec<[f64; 2]> {
    let shift =
        |&(x, y): &(f64, f64), d: f64| if across_x { [round6(x + d), round6(y)] } else { [round6(x), round6(y + d)] };
    let mut ring: Vec<[f64; 2]> = pts.iter().map(|p| shift(p, near)).collect();
    ring.extend(pts.iter().rev().map(|p| shift(p, far)));
    ring.push(ring[0]);
    ring
}

/// Tree belts (林带, 行道树) on both sides of the expressway and the main roads, ~25–65 m from
/// the road's line.
fn tree_belts(roads: &[Road]) -> Vec<Value> {
    let mut out = Vec::new();
    for road in roads.iter().filter(|r| r.class != "other") {
        let (first, last) = (road.pts[0], road.pts[road.pts.len() - 1]);
        let across_x = (last.1 - first.1).abs() > (last.0 - first.0).abs();
        let (near, far) = if across_x { (0.0003, 0.00075) } else { (0.00023, 0.0006) };
        for side in [1.0, -1.0] {
            let name = format!("{}林带（示意）", road.name.trim_end_matches("（示意）"));
            out.push(polygon(
                json!({"class": "tree_belt", "name": name}),
                strip(&road.pts, side * near, side * far, across_x),
            ));
        }
    }
    out
}

/// Grass on both banks of the river (河滩), ~120–330 m from its middle.
fn river_banks(river: &[[f64; 2]]) -> Vec<Value> {
    let pts: Vec<(f64, f64)> = river.iter().map(|&[x, y]| (x, y)).collect();
    [1.0, -1.0]
        .into_iter()
        .map(|side| {
            polygon(
                json!({"class": "grassland", "name": "滏阳河河滩（示意）"}),
                strip(&pts, side * 0.0011, side * 0.003, false),
            )
        })
        .collect()
}

/// A few patches of waste land (荒地) beside villages, where weeds are burnt.
fn waste_land(l: &Lattice) -> Vec<Value> {
    [(2, 2), (8, 6), (13, 3), (18, 8), (6, 9)]
        .into_iter()
        .map(|(i, j)| {
            let (x, y) = centre(l, i, j);
            let (cx, cy) = (x + 0.0055, y - 0.006);
            let ring: Vec<[f64; 2]> = (0..=8)
                .map(|k| {
                    let a = std::f64::consts::TAU * (k % 8) as f64 / 8.0;
                    let r = if k % 2 == 0 { 0.0028 } else { 0.0021 };
                    [round6(cx + r * a.cos()), round6(cy + r * a.sin() * 0.8)]
                })
                .collect();
            polygon(json!({"class": "grassland", "name": format!("{}荒地（示意）", village_name(j * COLS + i))}), ring)
        })
        .collect()
}

/// Garbage dump sites (垃圾堆放点) a few hundred metres outside some villages' settlements, and
/// the county's transfer station (垃圾中转站) east of the county town: points only, so that the
/// layer converts to a Shapefile as it is (a county's layer may also hold polygons).
fn dump_sites(l: &Lattice) -> Vec<Value> {
    let mut out: Vec<Value> = [(4, 1), (10, 4), (15, 6), (1, 7), (12, 9)]
        .into_iter()
        .map(|(i, j)| {
            let (x, y) = centre(l, i, j);
            let name = format!("{}村外垃圾堆放点（示意）", village_name(j * COLS + i));
            point(json!({"name": name, "kind": "垃圾堆放点"}), (x - 0.0045, y + 0.0035))
        })
        .collect();
    let station = (COUNTY_TOWN.0 + 0.024, COUNTY_TOWN.1 - 0.008);
    out.push(point(json!({"name": "县城垃圾中转站（示意）", "kind": "垃圾中转站"}), station));
    out
}

/// Writes every layer and the DEM into `dir`.
pub fn generate(dir: &Path, seed: u64) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut rng = SplitMix::new(seed);
    let l = lattice(&mut rng);
    let synthetic = "SYNTHETIC sample district for firepoint demos; not a real place";

    write_layer(
        dir,
        "county",
        vec![polygon(
            json!({"code": COUNTY_CODE, "name": "示范县 Sample County (synthetic)", "note": synthetic}),
            outline(&l, 0, COLS, 0, ROWS),
        )],
    )?;

    let mut townships = Vec::new();
    for (t, name) in TOWNSHIPS.iter().enumerate().take((COLS / BLOCK) * (ROWS / BLOCK)) {
        let (bi, bj) = (t % (COLS / BLOCK), t / (COLS / BLOCK));
        let n = t + 1;
        townships.push(polygon(
            json!({"code": township_code(t), "name": name, "team": format!("{name} 秸秆禁烧工作组"),
                   "leader": format!("组长{n:02}（占位）"), "phone": format!("0318-000-{n:04}")}),
            outline(&l, bi * BLOCK, (bi + 1) * BLOCK, bj * BLOCK, (bj + 1) * BLOCK),
        ));
    }
    write_layer(dir, "townships", townships)?;

    let mut villages = Vec::new();
    let mut built_up = vec![polygon(json!({"class": "built_up", "name": "县城"}), square(COUNTY_TOWN, 0.018))];
    for j in 0..ROWS {
        for i in 0..COLS {
            let t = (j / BLOCK) * (COLS / BLOCK) + i / BLOCK;
            let k = j * COLS + i;
            let name = village_name(k);
            let code = format!("{}{:03}", township_code(t), k + 1);
            villages.push(polygon(
                json!({"code": code, "name": name, "township": township_code(t), "grid_id": format!("G-{}-{:03}", t + 1, k + 1),
                       "grid_member": format!("网格员{:03}（占位）", k + 1), "phone": format!("139-0000-{:04}", k + 1)}),
                outline(&l, i, i + 1, j, j + 1),
            ));
            // the settlement: a built-up block at the cell's centre
            let c = centre(&l, i, j);
            built_up.push(polygon(json!({"class": "built_up", "name": name}), square(c, 0.0022)));
        }
    }
    write_layer(dir, "villages", villages)?;

    // a river crossing the county from north-west to south-east, ~250 m wide
    let river: Vec<[f64; 2]> = (0..=20)
        .map(|s| {
            let f = s as f64 / 20.0;
            [
                WEST - 0.01 + f * (COLS as f64 * DX + 0.02),
                SOUTH + ROWS as f64 * DY * (0.85 - 0.6 * f) + 0.01 * (f * 12.0).sin(),
            ]
        })
        .collect();
    let mut ring: Vec<[f64; 2]> = river.iter().map(|&[x, y]| [round6(x), round6(y + 0.0011)]).collect();
    ring.extend(river.iter().rev().map(|&[x, y]| [round6(x), round6(y - 0.0011)]));
    ring.push(ring[0]);
    built_up.push(polygon(json!({"class": "water", "name": "滏阳河（示意）"}), ring));
    let roads = roads(&l);
    built_up.extend(river_banks(&river));
    built_up.extend(waste_land(&l));
    built_up.extend(tree_belts(&roads));
    write_layer(dir, "landuse", built_up)?;
    write_layer(dir, "roads", roads.iter().map(Road::feature).collect())?;
    write_layer(dir, "dump_sites", dump_sites(&l))?;

    write_layer(
        dir,
        "no_burn_zones",
        vec![
            polygon(json!({"name": "县城禁烧区"}), square(COUNTY_TOWN, 0.05)),
            polygon(
                json!({"name": "高速公路两侧禁烧区（示意）"}),
                vec![[115.70, 37.50], [115.712, 37.50], [115.712, 37.80], [115.70, 37.80], [115.70, 37.50]],
            ),
        ],
    )?;

    write_layer(
        dir,
        "stations",
        vec![
            point(json!({"code": "1999A", "name": "县环保局国控点"}), (115.592, 37.566)),
            point(json!({"code": "1999B", "name": "开发区国控点"}), (115.80, 37.66)),
            point(json!({"code": "1999C", "name": "北部国控点"}), (115.62, 37.76)),
        ],
    )?;

    write_layer(
        dir,
        "heat_sources",
        vec![
            polygon(
                json!({"id": "HS-1", "name": "示范水泥厂", "kind": "cement_plant", "buffer_m": 500.0}),
                square(CEMENT_PLANT, 0.003),
            ),
            polygon(
                json!({"id": "HS-2", "name": "红星砖窑", "kind": "brick_kiln", "buffer_m": 300.0}),
                square(BRICK_KILN, 0.0012),
            ),
            polygon(
                json!({"id": "HS-3", "name": "示范热电厂", "kind": "power_plant", "buffer_m": 500.0}),
                square(POWER_PLANT, 0.004),
            ),
        ],
    )?;

    let mut cameras = Vec::new();
    for (n, (fi, fj)) in [
        (0.1, 0.2),
        (0.3, 0.15),
        (0.5, 0.25),
        (0.7, 0.2),
        (0.9, 0.15),
        (0.1, 0.75),
        (0.3, 0.8),
        (0.5, 0.7),
        (0.7, 0.85),
        (0.9, 0.75),
    ]
    .into_iter()
    .enumerate()
    {
        let pos = (WEST + fi * COLS as f64 * DX, SOUTH + fj * ROWS as f64 * DY);
        cameras.push(point(
            json!({"id": format!("CAM{:02}", n + 1), "name": format!("蓝天卫士 {:02} 号塔", n + 1),
                   "height_m": 35.0 + 5.0 * (n % 4) as f64, "pan_zero_deg": 0.0,
                   "hfov_min_deg": 3.0, "hfov_max_deg": 58.0, "range_m": 5000.0}),
            pos,
        ));
    }
    write_layer(dir, "cameras", cameras)?;
    write_dem(&dir.join("dem.tif"))?;
    std::fs::write(dir.join("GENERATED.txt"), format!(
        "Generated by `firepoint aoi generate --seed {seed}`. {synthetic}.\nRe-running the command rewrites these files byte for byte.\n"))?;
    Ok(())
}

/// A gentle plain: 18 m in the east rising to 40 m in the west, with low swells.
fn write_dem(path: &Path) -> anyhow::Result<()> {
    let res = 0.0025;
    let (x0, y0) = (WEST - 0.05, SOUTH + ROWS as f64 * DY + 0.05);
    let w = ((COLS as f64 * DX + 0.1) / res).round() as usize;
    let h = ((ROWS as f64 * DY + 0.1) / res).round() as usize;
    let mut data = Vec::with_capacity(w * h);
    for r in 0..h {
        for c in 0..w {
            let (fx, fy) = (c as f64 / w as f64, r as f64 / h as f64);
            let z = 40.0 - 22.0 * fx + 2.5 * (fx * 17.0).sin() * (fy * 11.0).cos();
            data.push(z as f32);
        }
    }
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let mut ds = driver.create_with_band_type::<f32, _>(path, w, h, 1)?;
    ds.set_geo_transform(&[x0, res, 0.0, y0, 0.0, -res])?;
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326)?)?;
    let mut band = ds.rasterband(1)?;
    band.set_no_data_value(Some(-9999.0))?;
    band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
    Ok(())
}
