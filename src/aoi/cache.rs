//! The district kept between batches: what [`Aoi::load_with`](super::Aoi::load_with) read from the
//! layers and checked, written to one file per AOI folder, and used by later batches instead of
//! reading the layers through GDAL and checking them again. The indexes are rebuilt from it (they
//! take a small part of a load). `aoi.cache = false` turns it off; `firepoint aoi check` always
//! reads the layers and rewrites the file.
//!
//! **When it is used.** The file holds a key: SHA-256 over the cache format, firepoint's version
//! and its executable's size and modification time (a rebuilt binary reads afresh), the GDAL
//! release, the `[aoi]` field mapping, declared datums (`aoi.datums`) and suppressed share and the
//! `[limits]` (all shape what is read or accepted), the AOI
//! folder's path, and for every file in that folder its name, size, modification time and the
//! SHA-256 of its content. The content hash makes it safe against edits that keep a file's size
//! and time (a copy with `cp -p`, a restore, a clock set back); hashing costs a read of the files,
//! far below parsing them. A layer added, removed, renamed or edited changes the key.
//!
//! **Never trusted when wrong.** A file of another key, an unreadable, truncated or corrupt one
//! (its payload carries its own SHA-256) is ignored and the layers are read; a file that cannot
//! be written costs only the next batch's time (a warning in the log). It is written beside and
//! renamed into place ([`crate::files::write_atomic`]), so a batch or worker reading at the same
//! time sees the old file or the new one, never half of one.

use std::path::{Path, PathBuf};

use geo::{LineString, MultiLineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::*;

/// Bumped whenever [`Stored`] or what a load checks changes in a way the version does not say.
const FORMAT: u32 = 1;
const MAGIC: &[u8; 20] = b"firepoint-aoi-cache\n";

/// Where one AOI folder's cache file is and the key its content must carry.
pub(super) struct Cache {
    path: PathBuf,
    key: [u8; 32],
}

impl Cache {
    /// The cache of `dir` under this configuration; `None` when it is off, when no folder can be
    /// named for it, or when the folder cannot be listed (the load then says what is wrong).
    pub fn of(dir: &Path, limits: &crate::ingest::Limits, cfg: &AoiConfig) -> Option<Cache> {
        if !cfg.cache {
            return None;
        }
        let folder = folder(dir, cfg)?;
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let name = format!("aoi-{}.bin", hex(&Sha256::digest(canonical.as_os_str().as_encoded_bytes())[..8]));
        let key = match key(dir, &name, limits, cfg) {
            Ok(k) => k,
            Err(e) => {
                tracing::debug!("AOI cache not used: cannot list {}: {e}", dir.display());
                return None;
            }
        };
        Some(Cache { path: folder.join(name), key })
    }

    /// The district kept under this key, if the file holds it whole.
    pub fn read(&self) -> Option<Layers> {
        let bytes = std::fs::read(&self.path).ok()?;
        match decode(&bytes, &self.key) {
            Ok(layers) => {
                tracing::debug!("AOI read from its cache {}", self.path.display());
                for p in &layers.bad_phones {
                    tracing::warn!("{p}");
                }
                Some(layers)
            }
            Err(why) => {
                tracing::info!("AOI cache {} not used ({why}): reading the layers", self.path.display());
                None
            }
        }
    }

    /// Keeps `layers` for the next batch; a failure is only logged.
    pub fn write(&self, layers: &Layers) {
        let bytes = encode(layers, &self.key);
        if let Err(e) = crate::files::write_atomic(&self.path, &bytes) {
            tracing::warn!(
                "cannot write the AOI cache {}: {e} (the next batch reads the layers again)",
                self.path.display()
            );
        }
    }
}

/// `aoi.cache_dir`, or the user's cache folder.
fn folder(dir: &Path, cfg: &AoiConfig) -> Option<PathBuf> {
    if !cfg.cache_dir.as_os_str().is_empty() {
        return Some(dir.join(&cfg.cache_dir));
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache"))).map(|c| c.join("firepoint"))
}

/// The key described in the module's header (`cache_file`, the cache's own name, is left out
/// should `cache_dir` be the AOI folder itself).
fn key(dir: &Path, cache_file: &str, limits: &crate::ingest::Limits, cfg: &AoiConfig) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&FORMAT.to_le_bytes());
    field(env!("CARGO_PKG_VERSION").as_bytes());
    let exe = std::env::current_exe().and_then(std::fs::metadata).map(|m| (m.len(), stamp(&m)));
    field(format!("{exe:?}").as_bytes());
    field(gdal::version::version_info("RELEASE_NAME").as_bytes());
    field(serde_json::to_string(&cfg.fields).unwrap_or_default().as_bytes());
    // the layers' declared offsets change every coordinate; the suppressed share, the checks
    field(serde_json::to_string(&cfg.datums).unwrap_or_default().as_bytes());
    field(&cfg.max_suppressed_share.to_le_bytes());
    field(serde_json::to_string(limits).unwrap_or_default().as_bytes());
    field(dir.canonicalize()?.as_os_str().as_encoded_bytes());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != cache_file))
        .collect();
    files.sort();
    for path in files {
        let meta = std::fs::metadata(&path)?;
        field(path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        field(&meta.len().to_le_bytes());
        field(&stamp(&meta).to_le_bytes());
        let mut content = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&path)?, &mut content)?;
        field(&content.finalize());
    }
    Ok(h.finalize().into())
}

/// A file's modification time in nanoseconds since the epoch (0 where the system gives none).
fn stamp(meta: &std::fs::Metadata) -> u128 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file: [`MAGIC`], the key, the payload's length and SHA-256, the payload.
fn encode(layers: &Layers, key: &[u8; 32]) -> Vec<u8> {
    let payload = postcard::to_stdvec(&Stored::of(layers)).expect("plain data serialises");
    let mut out = Vec::with_capacity(payload.len() + 100);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    out
}

fn decode(bytes: &[u8], key: &[u8; 32]) -> Result<Layers, String> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or("not a firepoint AOI cache")?;
    let (stored_key, rest) = rest.split_at_checked(32).ok_or("truncated")?;
    if stored_key != key {
        return Err("the layers, the configuration or firepoint changed since it was written".into());
    }
    let (len, rest) = rest.split_at_checked(8).ok_or("truncated")?;
    let (sum, payload) = rest.split_at_checked(32).ok_or("truncated")?;
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    if payload.len() as u64 != len || Sha256::digest(payload).as_slice() != sum {
        return Err("truncated or corrupt".into());
    }
    let stored: Stored = postcard::from_bytes(payload).map_err(|e| format!("unreadable ({e})"))?;
    Ok(stored.into_layers())
}

/// A polygon as its rings (exterior first), a line as its points, in lon/lat.
type Rings = Vec<Vec<[f64; 2]>>;

fn ring_points(l: &LineString<f64>) -> Vec<[f64; 2]> {
    l.0.iter().map(|c| [c.x, c.y]).collect()
}

fn shape(m: &MultiPolygon<f64>) -> Vec<Rings> {
    m.0.iter().map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(ring_points).collect()).collect()
}

fn line(points: Vec<[f64; 2]>) -> LineString<f64> {
    LineString::from(points.into_iter().map(|[x, y]| (x, y)).collect::<Vec<_>>())
}

fn area(rings: Vec<Rings>) -> MultiPolygon<f64> {
    MultiPolygon::new(
        rings
            .into_iter()
            .map(|p| {
                let mut it = p.into_iter().map(line);
                let exterior = it.next().unwrap_or_else(|| LineString::new(vec![]));
                Polygon::new(exterior, it.collect())
            })
            .collect(),
    )
}

/// [`Layers`] as plain data (the layers' own types keep their areas out of their JSON).
#[derive(Serialize, Deserialize)]
struct Stored {
    county: (String, String, Vec<Rings>),
    townships: Vec<Township>,
    villages: Vec<([String; 6], Vec<Rings>)>,
    no_burn: Vec<(String, Vec<Rings>)>,
    stations: Vec<(String, String, f64, f64)>,
    heat_sources: Vec<([String; 3], Option<f64>, Vec<Rings>)>,
    landuse: Vec<(LandClass, Vec<Rings>)>,
    cameras: Vec<Camera>,
    roads: Vec<(RoadClass, String, Rings)>,
    dump_sites: Vec<(String, Option<String>, Option<[f64; 2]>, Vec<Rings>)>,
    view_masks: Vec<crate::domain::ViewMask>,
    dem: Option<Dem>,
    warnings: Vec<String>,
    bad_phones: Vec<String>,
}

impl Stored {
    fn of(l: &Layers) -> Stored {
        let c = &l.county;
        Stored {
            county: (c.code.clone(), c.name.clone(), shape(&c.area)),
            townships: l.townships.clone(),
            villages: l
                .villages
                .iter()
                .map(|v| {
                    let fields = [&v.code, &v.name, &v.township, &v.grid_id, &v.grid_member, &v.phone];
                    (fields.map(String::clone), shape(&v.area))
                })
                .collect(),
            no_burn: l.no_burn.iter().map(|z| (z.name.clone(), shape(&z.area))).collect(),
            stations: l.stations.iter().map(|s| (s.code.clone(), s.name.clone(), s.lon, s.lat)).collect(),
            heat_sources: l
                .heat_sources
                .iter()
                .map(|h| ([h.id.clone(), h.name.clone(), h.kind.clone()], h.buffer_m, shape(&h.area)))
                .collect(),
            landuse: l.landuse.iter().map(|(c, m)| (*c, shape(m))).collect(),
            cameras: l.cameras.clone(),
            roads: l
                .roads
                .iter()
                .map(|r| (r.class, r.name.clone(), r.line.0.iter().map(ring_points).collect()))
                .collect(),
            dump_sites: l
                .dump_sites
                .iter()
                .map(|d| match &d.site {
                    Site::Point(x, y) => (d.name.clone(), d.kind.clone(), Some([*x, *y]), Vec::new()),
                    Site::Area(m) => (d.name.clone(), d.kind.clone(), None, shape(m)),
                })
                .collect(),
            view_masks: l.view_masks.clone(),
            dem: l.dem.clone(),
            warnings: l.warnings.clone(),
            bad_phones: l.bad_phones.clone(),
        }
    }

    fn into_layers(self) -> Layers {
        let (code, name, county) = self.county;
        Layers {
            county: County { code, name, area: area(county) },
            townships: self.townships,
            villages: self
                .villages
                .into_iter()
                .map(|([code, name, township, grid_id, grid_member, phone], a)| Village {
                    code,
                    name,
                    township,
                    grid_id,
                    grid_member,
                    phone,
                    area: area(a),
                })
                .collect(),
            no_burn: self.no_burn.into_iter().map(|(name, a)| Zone { name, area: area(a) }).collect(),
            stations: self
                .stations
                .into_iter()
                .map(|(code, name, lon, lat)| Station { code, name, lon, lat })
                .collect(),
            heat_sources: self
                .heat_sources
                .into_iter()
                .map(|([id, name, kind], buffer_m, a)| HeatSource { id, name, kind, buffer_m, area: area(a) })
                .collect(),
            landuse: self.landuse.into_iter().map(|(c, a)| (c, area(a))).collect(),
            cameras: self.cameras,
            roads: self
                .roads
                .into_iter()
                .map(|(class, name, lines)| Road {
                    class,
                    name,
                    line: MultiLineString::new(lines.into_iter().map(line).collect()),
                })
                .collect(),
            dump_sites: self
                .dump_sites
                .into_iter()
                .map(|(name, kind, point, a)| DumpSite {
                    name,
                    kind,
                    site: match point {
                        Some([x, y]) => Site::Point(x, y),
                        None => Site::Area(area(a)),
                    },
                })
                .collect(),
            view_masks: self.view_masks,
            dem: self.dem,
            warnings: self.warnings,
            bad_phones: self.bad_phones,
        }
    }
}
