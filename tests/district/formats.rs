//! Issue 8: a county's own layers in other formats give the same tickets as the sample
//! district's GeoJSON. Layers are converted with GDAL's own `ogr2ogr` (gdal-bin, installed by
//! scripts/setup.sh), as a county would.

use crate::common;

use std::path::Path;

use common::Sandbox;

/// `ogr2ogr` with `args`, asserting it worked.
fn ogr(args: &[&str]) {
    let st = std::process::Command::new("ogr2ogr").args(args).status().expect("ogr2ogr (Debian gdal-bin) runs");
    assert!(st.success(), "ogr2ogr {args:?}");
}

/// A sample-district layer file, as a string for `ogr2ogr`.
fn sample(layer: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("aoi/{layer}.geojson")).to_str().unwrap().to_string()
}

/// Shapefile output with a .cpg saying UTF-8, as a county's own files carry.
const SHAPEFILE: [&str; 4] = ["-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8"];

/// Every vector layer of the sample district converted by `ogr2ogr <options>` into `dir` (file
/// extension `ext`), the DEM copied beside them.
fn convert_aoi(dir: &Path, options: &[&str], ext: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|x| x.to_str()) {
            Some("geojson") => {
                let out = dir.join(p.with_extension(ext).file_name().unwrap());
                let (out, src) = (out.to_str().unwrap(), p.to_str().unwrap());
                ogr(&[options, &[out, src]].concat());
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
    demo_tickets_with(aoi, &[])
}

/// [`demo_tickets`] with extra `--set` overrides.
fn demo_tickets_with(aoi: Option<&Path>, sets: &[&str]) -> Vec<serde_json::Value> {
    let sb = Sandbox::new();
    let with_aoi = |mut c: assert_cmd::Command| {
        if let Some(a) = aoi {
            c.args(["--set", &format!("paths.aoi={:?}", a.to_str().unwrap())]);
        }
        for s in sets {
            c.args(["--set", s]);
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
    convert_aoi(&gpkg, &["-f", "GPKG"], "gpkg");
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
    convert_aoi(&gk, &["-t_srs", "EPSG:4547", "-f", "GeoJSON"], "geojson");
    let county = std::fs::read_to_string(gk.join("county.geojson")).unwrap();
    assert!(county.contains("EPSG::4547") && !county.contains("115."), "metres, not degrees");
    assert_eq!(demo_tickets(Some(&gk)), demo_tickets(None));
}

#[test]
fn r8_a_layer_without_a_crs_is_refused_with_how_to_set_one() {
    let sb = Sandbox::new();
    let aoi = sb.copy_aoi(true);
    std::fs::remove_file(aoi.join("county.geojson")).unwrap();
    ogr(&[&SHAPEFILE[..], &[aoi.join("county.shp").to_str().unwrap(), &sample("county")]].concat());
    std::fs::remove_file(aoi.join("county.prj")).unwrap();
    let out = sb.cmd().args(["aoi", "check"]).arg(&aoi).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("county.shp") && err.contains("no coordinate reference system") && err.contains("-a_srs"),
        "{err}"
    );
}

/// Shapefile's 10-character names, mapped back by the config.
const SHAPEFILE_FIELDS: &str = r#"aoi.fields={grid_member="grid_membe", pan_zero_deg="pan_zero_d", hfov_min_deg="hfov_min_d", hfov_max_deg="hfov_max_d"}"#;

#[test]
fn r8_a_shapefile_county_with_a_field_map_gives_the_geojson_tickets() {
    let sb = Sandbox::new();
    let shp = sb.path("aoi-shp");
    convert_aoi(&shp, &SHAPEFILE, "shp");
    // without the map: every cut name is named in one run, nothing silently defaulted
    let out = sb.cmd().args(["aoi", "check"]).arg(&shp).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for cut in ["`grid_membe` looks like `grid_member`", "`pan_zero_d` looks like `pan_zero_deg`", "`hfov_max_d`"] {
        assert!(err.contains(cut), "{cut}: {err}");
    }
    let ok = sb.cmd().args(["--set", SHAPEFILE_FIELDS, "aoi", "check"]).arg(&shp).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(demo_tickets_with(Some(&shp), &[SHAPEFILE_FIELDS]), demo_tickets(None));
}

#[test]
fn r8_aoi_check_names_every_missing_layer_at_once_and_optional_layers_only_warn() {
    let sb = Sandbox::new();
    let empty = sb.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = sb.cmd().args(["aoi", "check"]).arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for layer in ["`county`", "`townships`", "`villages`"] {
        assert!(err.contains(layer), "{layer}: {err}");
    }
    assert!(!err.contains("`cameras`"), "cameras are optional: {err}");
    // only the three required layers: loads, and says what each absent optional layer costs
    let aoi = sb.copy_aoi(false);
    for optional in ["no_burn_zones", "stations", "heat_sources", "landuse", "cameras"] {
        std::fs::remove_file(aoi.join(format!("{optional}.geojson"))).unwrap();
    }
    let out = sb.cmd().args(["aoi", "check"]).arg(&aoi).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let warn = String::from_utf8_lossy(&out.stderr);
    for optional in ["no_burn_zones", "stations", "heat_sources", "landuse", "cameras", "dem.tif"] {
        assert!(warn.contains(optional), "{optional}: {warn}");
    }
}

/// The sample district with its county polygon's coordinates changed by `f`, or its geometry
/// replaced.
fn county_variant(sb: &Sandbox, name: &str, geometry: serde_json::Value) -> std::path::PathBuf {
    let dir = sb.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let mut county: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("county.geojson")).unwrap()).unwrap();
    county["features"][0]["geometry"] = geometry;
    std::fs::write(dir.join("county.geojson"), county.to_string()).unwrap();
    dir
}

fn mapped(ring: &[[f64; 2]], f: impl Fn([f64; 2]) -> [f64; 2]) -> serde_json::Value {
    serde_json::json!({ "type": "Polygon", "coordinates": [ring.iter().map(|p| f(*p)).collect::<Vec<_>>()] })
}

#[test]
fn r8_implausible_counties_are_refused_by_check_and_by_run() {
    let sb = Sandbox::new();
    let ring = [[115.5, 37.5], [115.9, 37.5], [115.9, 37.8], [115.5, 37.8], [115.5, 37.5]];
    let mercator = |p: [f64; 2]| {
        let y = ((90.0 + p[1]).to_radians() / 2.0).tan().ln() * 6378137.0;
        [p[0].to_radians() * 6378137.0, y]
    };
    let cases = [
        ("web-mercator metres declared as lon/lat", mapped(&ring, mercator), "is not lon/lat"),
        ("coordinates x 1e300", mapped(&ring, |p| [p[0] * 1e300, p[1] * 1e300]), "is not lon/lat"),
        ("longitudes + 360", mapped(&ring, |p| [p[0] + 360.0, p[1]]), "is not lon/lat"),
        ("zero area", mapped(&ring, |_| [115.6, 37.6]), "invalid polygon"),
        (
            "self-intersecting",
            serde_json::json!({ "type": "Polygon", "coordinates": [[[115.5, 37.5], [115.9, 37.8], [115.9, 37.5], [115.5, 37.8], [115.5, 37.5]]] }),
            "self-intersection",
        ),
    ];
    for (i, (what, geometry, says)) in cases.into_iter().enumerate() {
        let dir = county_variant(&sb, &format!("bad{i}"), geometry);
        let out = sb.cmd().args(["aoi", "check"]).arg(&dir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("county.geojson") && err.contains(says), "{what}: {err}");
        // and a batch does not run on it (before: exit 0, every fire dropped as outside)
        sb.cmd().arg("simulate").assert().success();
        let run = sb.cmd().args(["--set", &format!("paths.aoi={:?}", dir.to_str().unwrap()), "run"]).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{what}: run must refuse the AOI");
    }
}

/// The fenced TOML block of the README's "Use your own county" section.
fn readme_county_toml() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("### Use your own county").nth(1).expect("README has the section");
    let block = section.split("```toml").nth(1).expect("a toml block").split("```").next().unwrap();
    block.lines().map(str::trim).collect::<Vec<_>>().join("\n")
}

#[test]
fn r8_the_readme_own_county_steps_work_as_written_from_another_folder() {
    let sb = Sandbox::new();
    let deploy = sb.path("deploy");
    let county = deploy.join("county");
    std::fs::create_dir_all(&county).unwrap();
    // the county's data: its villages call the grid member 网格员, in a GeoPackage; the other
    // layers as GeoJSON in a Gauss–Krüger zone
    convert_aoi(&county, &["-t_srs", "EPSG:4547", "-f", "GeoJSON"], "geojson");
    std::fs::remove_file(county.join("villages.geojson")).unwrap();
    let sql = "SELECT code, name, township, grid_id, grid_member AS \"网格员\", phone FROM villages";
    ogr(&[
        "-f",
        "GPKG",
        "-nln",
        "villages",
        "-sql",
        sql,
        county.join("villages.gpkg").to_str().unwrap(),
        &sample("villages"),
    ]);
    std::fs::write(deploy.join("firepoint.toml"), readme_county_toml()).unwrap();
    // run from elsewhere (the sandbox root), with nothing but --config, as cron would
    let fp = || {
        let mut c = assert_cmd::Command::cargo_bin("firepoint").unwrap();
        c.current_dir(sb.path("."))
            .env_remove("FIREPOINT_CONFIG")
            .env_remove("RUST_LOG")
            .env("ORT_DYLIB_PATH", Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/onnxruntime/libonnxruntime.so"));
        c.args(["--config", "deploy/firepoint.toml"]);
        c
    };
    let check = fp().args(["aoi", "check"]).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/smoke-tile-v2.onnx");
    let model = format!("camera.model={:?}", model.to_str().unwrap());
    fp().args(["--set", &model, "simulate"]).assert().success();
    assert!(deploy.join("inbox/satellite").is_dir(), "the inbox is beside the config file");
    // the sample day is replayed live (events.live_window_h = 0): it is months old
    let run = fp().args(["--set", &model, "--set", "events.live_window_h=0", "run"]).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let list = fp().args(["tickets", "list", "--format", "jsonl"]).output().unwrap();
    let tickets: Vec<serde_json::Value> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!tickets.is_empty());
    assert!(tickets.iter().all(|t| t["grid_member"].as_str().unwrap().starts_with("网格员")), "{tickets:?}");
    assert!(deploy.join("firepoint.sqlite").is_file() && !sb.path("work").exists(), "nothing in the working folder");
}

#[test]
fn r8_a_run_that_cannot_start_creates_nothing() {
    let sb = Sandbox::new();
    let empty = sb.path("nowhere");
    std::fs::create_dir_all(empty.join("inbox")).unwrap();
    let out = assert_cmd::Command::cargo_bin("firepoint")
        .unwrap()
        .current_dir(&empty)
        .env_remove("FIREPOINT_CONFIG")
        .args(["--set", "paths.aoi=\"no-such-county\"", "--set", "paths.inbox=\"inbox\"", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let left: Vec<_> = std::fs::read_dir(&empty).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["inbox"], "no ./work, no store, no lock");
}

fn check(sb: &Sandbox, dir: &Path, sets: &[&str]) -> (i32, String) {
    let mut c = sb.cmd();
    for s in sets {
        c.args(["--set", s]);
    }
    let out = c.args(["aoi", "check"]).arg(dir).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn r8_what_a_county_gis_officer_tried_is_refused_or_read_right() {
    let sb = Sandbox::new();

    // a GBK Shapefile that lost its .cpg: garbled names are refused, naming the .cpg to add
    let gbk = sb.copy_aoi(false);
    std::fs::remove_file(gbk.join("villages.geojson")).unwrap();
    ogr(&[
        "-f",
        "ESRI Shapefile",
        "-lco",
        "ENCODING=CP936",
        gbk.join("villages.shp").to_str().unwrap(),
        &sample("villages"),
    ]);
    let _ = std::fs::remove_file(gbk.join("villages.cpg"));
    let (code, text) = check(&sb, &gbk, &[r#"aoi.fields={grid_member="grid_membe"}"#]);
    assert!(code == 2 && text.contains("villages.cpg") && text.contains("GBK"), "{text}");

    // a required layer with no features; a township code used twice
    let empty = sb.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for l in ["county", "townships"] {
        std::fs::copy(sample(l), empty.join(format!("{l}.geojson"))).unwrap();
    }
    ogr(&["-f", "GPKG", "-where", "1=0", empty.join("villages.gpkg").to_str().unwrap(), &sample("villages")]);
    let (code, text) = check(&sb, &empty, &[]);
    assert!(code == 2 && text.contains("villages.gpkg has no features"), "{text}");
    let dup = sb.copy_aoi(false);
    let mut towns: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dup.join("townships.geojson")).unwrap()).unwrap();
    let first = towns["features"][0].clone();
    towns["features"][1]["properties"]["code"] = first["properties"]["code"].clone();
    std::fs::write(dup.join("townships.geojson"), towns.to_string()).unwrap();
    let (code, text) = check(&sb, &dup, &[]);
    assert!(code == 2 && text.contains("used by more than one township"), "{text}");

    // [aoi.fields]: a typo in a key, and a mapping to a column no layer has, are refused
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("aoi");
    let aoi = repo.to_str().unwrap();
    let (code, text) = check(&sb, Path::new(aoi), &[r#"aoi.fields={phnoe="联系电话"}"#]);
    assert!(code == 2 && text.contains("`phnoe` is not a field"), "{text}");
    let (code, text) = check(&sb, Path::new(aoi), &[r#"aoi.fields={"cameras.pan_zero_deg"="方位角"}"#]);
    assert!(code == 2 && text.contains("no layer read has a column `方位角`"), "{text}");

    // a whole district in one GeoPackage, layers found by name; names in any case, .json too
    let one = sb.path("one");
    std::fs::create_dir_all(&one).unwrap();
    let pkg = one.join("district.gpkg");
    for (i, l) in ["county", "townships", "villages"].iter().enumerate() {
        let mut args = vec!["-f", "GPKG", "-nln", l];
        if i > 0 {
            args.push("-update");
        }
        let (p, s) = (pkg.to_str().unwrap().to_string(), sample(l));
        args.extend([p.as_str(), s.as_str()]);
        ogr(&args);
    }
    std::fs::copy(sample("cameras"), one.join("Cameras.JSON")).unwrap();
    let (code, text) = check(&sb, &one, &[]);
    assert!(code == 0 && text.contains("200 villages") && text.contains("10 cameras"), "{text}");

    // stations and towers in one place, the county 3° west (declared in the wrong zone)
    let west = sb.copy_aoi(false);
    let shifted = |l: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(west.join(format!("{l}.geojson"))).unwrap()).unwrap();
        fn shift(x: &mut serde_json::Value) {
            match x {
                serde_json::Value::Array(a) if a.first().is_some_and(|f| f.is_number()) => {
                    a[0] = (a[0].as_f64().unwrap() - 3.0).into();
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(shift),
                _ => {}
            }
        }
        for f in v["features"].as_array_mut().unwrap() {
            shift(&mut f["geometry"]["coordinates"]);
        }
        std::fs::write(west.join(format!("{l}.geojson")), v.to_string()).unwrap();
    };
    for l in ["county", "townships", "villages", "no_burn_zones", "heat_sources", "landuse"] {
        shifted(l);
    }
    let (code, text) = check(&sb, &west, &[]);
    assert!(code == 2 && text.contains("every station and camera lies more than 20 km outside"), "{text}");
}

#[test]
fn r8_a_global_field_mapping_leaves_layers_without_that_column_alone() {
    // the villages call the phone 联系电话; the townships keep `phone`
    let sb = Sandbox::new();
    let aoi = sb.copy_aoi(true);
    let villages = aoi.join("villages.geojson");
    std::fs::write(&villages, std::fs::read_to_string(&villages).unwrap().replace("\"phone\"", "\"联系电话\""))
        .unwrap();
    let map = r#"aoi.fields={phone="联系电话"}"#;
    let tickets = demo_tickets_with(Some(&aoi), &[map]);
    assert!(!tickets.is_empty());
    for t in &tickets {
        assert!(!t["team_phone"].as_str().unwrap().is_empty() && !t["grid_phone"].as_str().unwrap().is_empty(), "{t}");
    }
}

#[test]
fn r8_reading_tickets_from_a_mistyped_store_path_is_an_error_not_an_empty_list() {
    let sb = Sandbox::new();
    for args in [&["tickets", "list"][..], &["report", "--day", "2026-06-10"][..]] {
        let out = sb.cmd().args(["--set", "paths.store=\"db/typo.sqlite\""]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no ticket store at db/typo.sqlite"));
        assert!(!sb.path("db").exists(), "nothing created");
    }
}
