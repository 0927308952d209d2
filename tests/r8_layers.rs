//! Issue 8: a county's own layers in other formats give the same tickets as the sample
//! district's GeoJSON. Layers are converted with GDAL's own `ogr2ogr` (gdal-bin, installed by
//! scripts/setup.sh), as a county would.

mod common;

use std::path::Path;

use common::Sandbox;

/// Every vector layer of the sample district converted by `ogr2ogr` into `dir` in `format`
/// (extension `ext`), the DEM copied beside them.
fn convert_aoi(dir: &Path, format: &str, ext: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|x| x.to_str()) {
            Some("geojson") => {
                let out = dir.join(p.with_extension(ext).file_name().unwrap());
                let st = std::process::Command::new("ogr2ogr")
                    .args(["-f", format])
                    .arg(&out)
                    .arg(&p)
                    .status()
                    .expect("ogr2ogr (Debian gdal-bin) runs");
                assert!(st.success(), "ogr2ogr {}", p.display());
            }
            Some("tif") => {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
            _ => {}
        }
    }
}

/// The tickets of the demo (simulate + run) with the AOI at `aoi` (None: the repository's),
/// without the wall-clock fields.
fn demo_tickets(aoi: Option<&Path>) -> Vec<serde_json::Value> {
    let sb = Sandbox::new();
    let with_aoi = |mut c: assert_cmd::Command| {
        if let Some(a) = aoi {
            c.args(["--set", &format!("paths.aoi={:?}", a.to_str().unwrap())]);
        }
        c
    };
    with_aoi(sb.cmd()).arg("simulate").assert().success();
    let out = with_aoi(sb.cmd()).arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let list = with_aoi(sb.cmd()).args(["tickets", "list", "--format", "jsonl"]).output().unwrap();
    assert!(list.status.success());
    String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut t: serde_json::Value = serde_json::from_str(l).unwrap();
            for k in ["created_at", "updated_at"] {
                t.as_object_mut().unwrap().remove(k);
            }
            t
        })
        .collect()
}

#[test]
fn r8_a_geopackage_county_loads_and_gives_the_geojson_tickets() {
    let sb = Sandbox::new();
    let gpkg = sb.path("aoi-gpkg");
    convert_aoi(&gpkg, "GPKG", "gpkg");
    // GDAL's GeoPackage driver and the ticket store share one SQLite library: before, the
    // bundled copy in the binary and the system one GDAL loads crashed `aoi check` (exit 139)
    let check = sb.cmd().args(["aoi", "check"]).arg(&gpkg).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("200 villages/grid cells") && stdout.contains("10 cameras"), "{stdout}");
    let original = demo_tickets(None);
    assert!(!original.is_empty());
    assert_eq!(demo_tickets(Some(&gpkg)), original);
}

#[test]
fn r8_a_county_in_a_gauss_kruger_zone_gives_the_lonlat_tickets() {
    // CGCS2000 / 3-degree Gauss–Krüger CM 117°E: what a Hebei county's GIS office hands over
    let sb = Sandbox::new();
    let gk = sb.path("aoi-4547");
    std::fs::create_dir_all(&gk).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if p.extension().is_some_and(|x| x == "geojson") {
            let st = std::process::Command::new("ogr2ogr")
                .args(["-t_srs", "EPSG:4547", "-f", "GeoJSON"])
                .arg(gk.join(name))
                .arg(&p)
                .status()
                .unwrap();
            assert!(st.success());
        } else if p.extension().is_some_and(|x| x == "tif") {
            std::fs::copy(&p, gk.join(name)).unwrap();
        }
    }
    let county = std::fs::read_to_string(gk.join("county.geojson")).unwrap();
    assert!(county.contains("EPSG::4547") && !county.contains("115."), "metres, not degrees");
    assert_eq!(demo_tickets(Some(&gk)), demo_tickets(None));
}

#[test]
fn r8_a_layer_without_a_crs_is_refused_with_how_to_set_one() {
    let sb = Sandbox::new();
    let aoi = sb.copy_aoi(true);
    std::fs::remove_file(aoi.join("county.geojson")).unwrap();
    let st = std::process::Command::new("ogr2ogr")
        .args(["-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8"])
        .arg(aoi.join("county.shp"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi/county.geojson"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(aoi.join("county.prj")).unwrap();
    let out = sb.cmd().args(["aoi", "check"]).arg(&aoi).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("county.shp") && err.contains("no coordinate reference system") && err.contains("-a_srs"),
        "{err}"
    );
}
