//! Placing points fast: which village, land use, no-burn zone and nearest station a point has,
//! for [`Aoi::place_ids`](super::Aoi::place_ids) and [`Aoi::place_many`](super::Aoi::place_many).
//!
//! Built once at load from the layers: every polygon is *prepared* (each ring's edges bucketed in
//! horizontal bands, so a point meets only the few edges near its latitude) and each polygon
//! layer gets a uniform grid of buckets listing the polygons whose bounding box touches it. The
//! answers are exactly those of the linear scans with `geo`'s `Contains` that this replaces: the
//! same winding-number rule and the same robust orientation test, on only the edges whose
//! latitude range holds the point's (the others add nothing to the winding number), and the same
//! order among overlapping candidates. It owns no layer data and never reads files.

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Contains, Coord, GeoNum, Kernel, LineString, MultiPolygon, Orientation, Point};
use rayon::prelude::*;
use rstar::AABB;

use super::{Aoi, LandClass, PlaceInfo};

/// A monotone map from a coordinate to one of `n` buckets over `[lo, ..]`: a value never lands in
/// a lower bucket than a smaller value, so an interval's values lie in its ends' buckets and
/// between. Values below `lo` (and NaN) give bucket 0, values past the end the last bucket.
#[derive(Clone, Copy)]
struct Axis {
    lo: f64,
    per_unit: f64,
    n: usize,
}

impl Axis {
    fn new(lo: f64, hi: f64, n: usize) -> Axis {
        let n = n.max(1);
        let span = hi - lo;
        Axis { lo, per_unit: if span > 0.0 { n as f64 / span } else { 0.0 }, n }
    }
    #[inline]
    fn bucket(&self, v: f64) -> usize {
        (((v - self.lo) * self.per_unit) as usize).min(self.n - 1)
    }
    /// A value in bucket `k`'s middle, if it maps back to `k`.
    fn middle(&self, k: usize) -> Option<f64> {
        let v = self.lo + (k as f64 + 0.5) / self.per_unit;
        (v.is_finite() && self.bucket(v) == k).then_some(v)
    }
}

/// One ring's box, its latitude bands, and where its bands start in [`Rings::band_start`].
#[derive(Clone, Copy)]
struct RingHead {
    bbox: [f64; 4],
    band: Axis,
    first: u32,
}

/// Every ring of one layer, flat: ring `r`'s band `b` holds the edges (start x, y, end x, y)
/// `segs[band_start[first + b]..band_start[first + b + 1]]`, each edge copied into every band its
/// latitude range touches, so that a point reads one short run of memory.
#[derive(Default)]
struct Rings {
    heads: Vec<RingHead>,
    band_start: Vec<u32>,
    segs: Vec<[f64; 4]>,
}

impl Rings {
    /// Adds `ring`; a one-point ring becomes one zero-length edge (on its boundary exactly at
    /// the point, as `geo` says), an empty one no edge (outside everywhere).
    fn push(&mut self, ring: &LineString<f64>) -> u32 {
        let pts = &ring.0;
        let edges: Vec<[f64; 4]> = match pts.len() {
            0 => Vec::new(),
            1 => vec![[pts[0].x, pts[0].y, pts[0].x, pts[0].y]],
            _ => pts.windows(2).map(|w| [w[0].x, w[0].y, w[1].x, w[1].y]).collect(),
        };
        let bbox = pts.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, c| {
            [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
        });
        let band = Axis::new(bbox[1], bbox[3], (edges.len() / 3).clamp(1, 4096));
        let first = self.band_start.len() as u32;
        let mut per_band = vec![Vec::new(); band.n];
        for e in &edges {
            let (b0, b1) = (band.bucket(e[1].min(e[3])), band.bucket(e[1].max(e[3])));
            per_band[b0..=b1].iter_mut().for_each(|b| b.push(*e));
        }
        for b in per_band {
            self.band_start.push(self.segs.len() as u32);
            self.segs.extend(b);
        }
        self.band_start.push(self.segs.len() as u32);
        self.heads.push(RingHead { bbox, band, first });
        (self.heads.len() - 1) as u32
    }

    /// Every edge of ring `r` (some more than once).
    fn edges(&self, r: usize) -> &[[f64; 4]] {
        let h = &self.heads[r];
        &self.segs[self.band_start[h.first as usize] as usize..self.band_start[h.first as usize + h.band.n] as usize]
    }

    /// `geo::coordinate_position::coord_pos_relative_to_ring`, on the edges of `c`'s band only:
    /// an edge whose latitude range misses `c.y` adds nothing to the winding number.
    #[inline]
    fn position(&self, r: usize, c: Coord<f64>) -> CoordPos {
        let h = &self.heads[r];
        let [x0, y0, x1, y1] = h.bbox;
        // outside the ring's box: no edge spans c.y, or the winding number is 0 (exact predicates)
        if c.x < x0 || c.x > x1 || c.y < y0 || c.y > y1 {
            return CoordPos::Outside;
        }
        let b = h.first as usize + h.band.bucket(c.y);
        let mut winding = 0i32;
        for &[sx, sy, ex, ey] in &self.segs[self.band_start[b] as usize..self.band_start[b + 1] as usize] {
            let (s, e) = (Coord { x: sx, y: sy }, Coord { x: ex, y: ey });
            if s.y <= c.y {
                if e.y >= c.y {
                    let o = <f64 as GeoNum>::Ker::orient2d(s, e, c);
                    if o == Orientation::CounterClockwise && e.y != c.y {
                        winding += 1;
                    } else if o == Orientation::Collinear && between(c.x, s.x, e.x) {
                        return CoordPos::OnBoundary;
                    }
                }
            } else if e.y <= c.y {
                let o = <f64 as GeoNum>::Ker::orient2d(s, e, c);
                if o == Orientation::Clockwise {
                    winding -= 1;
                } else if o == Orientation::Collinear && between(c.x, s.x, e.x) {
                    return CoordPos::OnBoundary;
                }
            }
        }
        if winding == 0 {
            CoordPos::Outside
        } else {
            CoordPos::Inside
        }
    }
}

/// `geo`'s `value_in_between`: `v` within the closed range of the two bounds, in either order.
#[inline]
fn between(v: f64, a: f64, b: f64) -> bool {
    if a < b {
        v >= a && v <= b
    } else {
        v >= b && v <= a
    }
}

/// A layer's multipolygons, prepared: `contains` answers as `geo`'s `MultiPolygon::contains`.
#[derive(Default)]
struct Shapes {
    rings: Rings,
    /// Per polygon: its first ring (the exterior; the holes follow) and how many.
    polys: Vec<[u32; 2]>,
    /// Per multipolygon: its first polygon and how many.
    items: Vec<[u32; 2]>,
}

impl Shapes {
    fn push(&mut self, m: &MultiPolygon<f64>) {
        self.items.push([self.polys.len() as u32, m.0.len() as u32]);
        for p in &m.0 {
            let first = self.rings.push(p.exterior());
            p.interiors().iter().for_each(|h| {
                self.rings.push(h);
            });
            self.polys.push([first, 1 + p.interiors().len() as u32]);
        }
    }

    fn rings_of(&self, item: usize) -> impl Iterator<Item = usize> + '_ {
        let [p0, np] = self.items[item];
        self.polys[p0 as usize..(p0 + np) as usize].iter().flat_map(|&[r0, nr]| r0 as usize..(r0 + nr) as usize)
    }

    /// Inside some polygon's exterior, and outside (not on) each of its holes.
    #[inline]
    fn contains(&self, item: usize, c: Coord<f64>) -> bool {
        let [p0, np] = self.items[item];
        self.polys[p0 as usize..(p0 + np) as usize].iter().any(|&[r0, nr]| {
            let r0 = r0 as usize;
            self.rings.position(r0, c) == CoordPos::Inside
                && (r0 + 1..r0 + nr as usize).all(|h| self.rings.position(h, c) == CoordPos::Outside)
        })
    }
}

/// Set in a bucket's start: no edge of any of its items comes near it, and it lists only the
/// items that contain it whole.
const EXACT: u32 = 1 << 31;

/// A uniform grid over a layer's extent. A bucket lists, in try order, the items whose box
/// touches it; where no edge of theirs touches it (the [`EXACT`] flag), each item holds all of
/// the bucket or none of it, and the list keeps only those that hold it: no point test is needed.
struct Grid {
    /// Extent of all items: min x, min y, max x, max y (empty layer: an empty box).
    bbox: [f64; 4],
    x: Axis,
    y: Axis,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    /// `boxes[i]`: item `i`'s box (`None`: never a candidate); `order`: the items, first tried
    /// first; about `cells` buckets.
    fn new(boxes: &[Option<[f64; 4]>], order: &[usize], cells: usize, shapes: &Shapes) -> Grid {
        let bbox = boxes
            .iter()
            .flatten()
            .fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, r| {
                [b[0].min(r[0]), b[1].min(r[1]), b[2].max(r[2]), b[3].max(r[3])]
            });
        let cells = cells.max(1) as f64;
        let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
        let aspect = if w > 0.0 && h > 0.0 { w / h } else { 1.0 };
        let nx = (cells * aspect).sqrt().ceil().clamp(1.0, 1e5) as usize;
        let ny = (cells / nx as f64).ceil().clamp(1.0, 1e5) as usize;
        let (x, y) = (Axis::new(bbox[0], bbox[2], nx), Axis::new(bbox[1], bbox[3], ny));
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
        let mut crossed = vec![false; nx * ny];
        for &i in order {
            let Some(r) = &boxes[i] else { continue };
            for row in y.bucket(r[1])..=y.bucket(r[3]) {
                lists[row * nx + x.bucket(r[0])..=row * nx + x.bucket(r[2])].iter_mut().for_each(|l| l.push(i as u32));
            }
            // every bucket an edge's box touches (monotone buckets: every bucket holding a point
            // of the edge) is crossed
            for ring in shapes.rings_of(i) {
                for e in shapes.rings.edges(ring) {
                    for row in y.bucket(e[1].min(e[3]))..=y.bucket(e[1].max(e[3])) {
                        crossed[row * nx + x.bucket(e[0].min(e[2]))..=row * nx + x.bucket(e[0].max(e[2]))]
                            .iter_mut()
                            .for_each(|c| *c = true);
                    }
                }
            }
        }
        let (mut start, mut items) = (Vec::with_capacity(nx * ny + 1), Vec::new());
        for (b, list) in lists.into_iter().enumerate() {
            let middle = x.middle(b % nx).zip(y.middle(b / nx)).map(|(x, y)| Coord { x, y });
            match middle.filter(|_| !crossed[b]) {
                Some(c) => {
                    start.push(items.len() as u32 | EXACT);
                    items.extend(list.into_iter().filter(|&i| shapes.contains(i as usize, c)));
                }
                None => {
                    start.push(items.len() as u32);
                    items.extend(list);
                }
            }
        }
        start.push(items.len() as u32);
        assert!(items.len() < EXACT as usize, "too many grid entries");
        Grid { bbox, x, y, start, items }
    }

    /// The items whose box may hold `c` (a superset of those whose box does), in try order, and
    /// whether each of them holds `c` for certain.
    #[inline]
    fn candidates(&self, c: Coord<f64>) -> (&[u32], bool) {
        let [x0, y0, x1, y1] = self.bbox;
        if !(c.x >= x0 && c.x <= x1 && c.y >= y0 && c.y <= y1) {
            return (&[], true);
        }
        let b = self.y.bucket(c.y) * self.x.n + self.x.bucket(c.x);
        let (s, e) = (self.start[b], self.start[b + 1] & !EXACT);
        (&self.items[(s & !EXACT) as usize..e as usize], s & EXACT != 0)
    }
}

fn bbox_of(m: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    m.bounding_rect().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

/// A polygon layer, prepared and indexed; `containing` gives the polygons that contain a point,
/// in the layer's try order.
pub(super) struct Layer {
    grid: Grid,
    shapes: Shapes,
}

impl Layer {
    /// `areas[i]` is tried before `areas[j]` when `rank[i] < rank[j]`; `keep(i)`: whether item `i`
    /// is indexed at all.
    pub(super) fn new<'a>(
        areas: impl ExactSizeIterator<Item = &'a MultiPolygon<f64>>,
        rank: &[usize],
        keep: impl Fn(usize) -> bool,
    ) -> Layer {
        let areas: Vec<&MultiPolygon<f64>> = areas.collect();
        let mut shapes = Shapes::default();
        areas.iter().for_each(|m| shapes.push(m));
        let boxes: Vec<Option<[f64; 4]>> =
            areas.iter().enumerate().map(|(i, m)| if keep(i) { bbox_of(m) } else { None }).collect();
        let mut order: Vec<usize> = (0..areas.len()).collect();
        order.sort_by_key(|&i| rank[i]);
        let edges: usize = (0..areas.len())
            .filter(|&i| boxes[i].is_some())
            .flat_map(|i| shapes.rings_of(i))
            .map(|r| shapes.rings.edges(r).len())
            .sum();
        // about a bucket for every 2 edges: most buckets then lie clear of every edge
        let cells = (edges / 2).clamp(1024, 1 << 20);
        Layer { grid: Grid::new(&boxes, &order, cells, &shapes), shapes }
    }

    /// The layer's polygons that contain `c`, in try order.
    #[inline]
    pub(super) fn containing(&self, c: Coord<f64>) -> impl Iterator<Item = usize> + '_ {
        let (candidates, exact) = self.grid.candidates(c);
        candidates.iter().map(|&i| i as usize).filter(move |&i| exact || self.shapes.contains(i, c))
    }
}

/// The nearest of a few points, in metres on the district's projection, with the first one
/// winning a tie, as a linear scan with `f64::hypot` and `total_cmp` gives.
pub(super) struct Nearest {
    /// Each station in metres (`Projector::to_m`).
    at_m: Vec<(f64, f64)>,
}

impl Nearest {
    pub(super) fn new(at_m: Vec<(f64, f64)>) -> Nearest {
        Nearest { at_m }
    }

    /// For a finite point `(x, y)` in metres. Squared distances (cheap) pick the few that can be
    /// nearest; `hypot` (what the linear scan compares) decides among them.
    #[inline]
    pub(super) fn nearest(&self, x: f64, y: f64) -> Option<(usize, f64)> {
        let d2 = |&(sx, sy): &(f64, f64)| (x - sx) * (x - sx) + (y - sy) * (y - sy);
        let min = self.at_m.iter().map(d2).fold(f64::INFINITY, f64::min);
        // hypot is within an ulp of the exact distance and d2 within a few of its square: the
        // station with the least hypot has d2 within 1e-9 of the least d2
        let near = min * (1.0 + 1e-9) + f64::MIN_POSITIVE;
        self.at_m
            .iter()
            .enumerate()
            .filter(|(_, s)| d2(s) <= near)
            .map(|(i, &(sx, sy))| (i, (x - sx).hypot(y - sy)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// What the district says about one point, as indexes into the [`Aoi`]'s layers: what
/// [`PlaceInfo`] says, without copying a village's or a township's strings for every point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceIds {
    /// Index into [`Aoi::villages`].
    pub village: Option<u32>,
    /// Index into [`Aoi::townships`]: the village's township.
    pub township: Option<u32>,
    pub landuse: LandClass,
    /// Index into [`Aoi::no_burn`]: the first zone, in the layer's order, that holds the point.
    pub no_burn_zone: Option<u32>,
    /// Index into [`Aoi::stations`] of the nearest national station, and its distance, metres.
    pub station: Option<(u32, f64)>,
}

/// The indexes [`Aoi::place_ids`] answers from, built once at load.
pub(super) struct Placer {
    villages: Layer,
    /// Each village's township (the first with its code), as [`Aoi::township`] finds it.
    village_township: Vec<Option<u32>>,
    /// Every class but farmland: farmland polygons never change the answer.
    landuse: Layer,
    no_burn: Layer,
    stations: Nearest,
    /// The villages' extent, min x, min y, max x, max y: what [`Aoi::place_many`] sorts by.
    extent: [f64; 4],
}

impl Placer {
    /// Indexes nothing: a placeholder until the layers are read.
    pub(super) fn empty() -> Placer {
        Placer {
            villages: Layer::new(std::iter::empty(), &[], |_| false),
            village_township: Vec::new(),
            landuse: Layer::new(std::iter::empty(), &[], |_| false),
            no_burn: Layer::new(std::iter::empty(), &[], |_| false),
            stations: Nearest::new(Vec::new()),
            extent: [0.0; 4],
        }
    }

    pub(super) fn new(aoi: &Aoi) -> Placer {
        // overlapping grid cells: the first in the village R-tree's order wins, as in village_at
        let mut village_rank = vec![usize::MAX; aoi.villages.len()];
        let all = AABB::from_corners([f64::NEG_INFINITY; 2], [f64::INFINITY; 2]);
        for (rank, g) in aoi.village_index.locate_in_envelope_intersecting(&all).enumerate() {
            village_rank[g.data] = rank;
        }
        let township_of = |code: &str| aoi.townships.iter().position(|t| t.code == code).map(|i| i as u32);
        Placer {
            villages: Layer::new(aoi.villages.iter().map(|v| &v.area), &village_rank, |i| {
                village_rank[i] != usize::MAX
            }),
            village_township: aoi.villages.iter().map(|v| township_of(&v.township)).collect(),
            landuse: Layer::new(aoi.landuse.iter().map(|(_, a)| a), &in_order_of(aoi.landuse.len()), |i| {
                aoi.landuse[i].0 != LandClass::Farmland
            }),
            no_burn: Layer::new(aoi.no_burn.iter().map(|z| &z.area), &in_order_of(aoi.no_burn.len()), |_| true),
            stations: Nearest::new(aoi.stations.iter().map(|s| aoi.projector.to_m(s.lon, s.lat)).collect()),
            extent: aoi
                .villages
                .iter()
                .filter_map(|v| bbox_of(&v.area))
                .fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, r| {
                    [b[0].min(r[0]), b[1].min(r[1]), b[2].max(r[2]), b[3].max(r[3])]
                }),
        }
    }
}

fn in_order_of(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// Batches from this size on are placed in the order of their points' places.
const SORT_FROM: usize = 1 << 14;

/// [`Aoi::place_many`] orders a large batch by cell of a grid of this many × this many cells over
/// the villages' extent (a cell is then smaller than a village in any district that has more
/// than a few hundred), the cells in Z order.
const ORDER_SIDE: usize = 256;

/// `v`'s low 16 bits spread to the even bits: `morton(x) | morton(y) << 1` is cell `(x, y)`'s
/// place in Z order, where cells close in the order are close on the ground.
fn morton(v: u32) -> u32 {
    let mut v = v & 0xFFFF;
    v = (v | v << 8) & 0x00FF_00FF;
    v = (v | v << 4) & 0x0F0F_0F0F;
    v = (v | v << 2) & 0x3333_3333;
    (v | v << 1) & 0x5555_5555
}

/// Points placed by one rayon job at least (a point takes well under a microsecond).
const MIN_PER_JOB: usize = 4096;

impl Aoi {
    /// What the district says about `(lon, lat)`, as indexes into its layers; the same answer as
    /// [`Aoi::place`] gives.
    pub fn place_ids(&self, lon: f64, lat: f64) -> PlaceIds {
        if !(lon.is_finite() && lat.is_finite()) {
            return self.place_linear(lon, lat);
        }
        let c = Coord { x: lon, y: lat };
        let p = &self.placer;
        let village = p.villages.containing(c).next();
        let (x, y) = self.projector.to_m(lon, lat);
        PlaceIds {
            village: village.map(|i| i as u32),
            township: village.and_then(|i| p.village_township[i]),
            landuse: self.landuse_of(c),
            no_burn_zone: p.no_burn.containing(c).next().map(|i| i as u32),
            station: p.stations.nearest(x, y).map(|(i, d)| (i as u32, d)),
        }
    }

    /// The village holding `(lon, lat)`, an index into [`Aoi::villages`].
    pub(super) fn village_id(&self, lon: f64, lat: f64) -> Option<usize> {
        if !(lon.is_finite() && lat.is_finite()) {
            return self.place_linear(lon, lat).village.map(|i| i as usize);
        }
        self.placer.villages.containing(Coord { x: lon, y: lat }).next()
    }

    /// The land use at `c`: the class of highest [`LandClass::rank`] among the polygons holding
    /// it, farmland outside every polygon.
    pub(super) fn landuse_of(&self, c: Coord<f64>) -> LandClass {
        if !(c.x.is_finite() && c.y.is_finite()) {
            return self.place_linear(c.x, c.y).landuse;
        }
        let mut class = LandClass::Farmland;
        for i in self.placer.landuse.containing(c) {
            match self.landuse[i].0 {
                LandClass::Water => return LandClass::Water,
                other if other.rank() > class.rank() => class = other,
                _ => {}
            }
        }
        class
    }

    /// [`Aoi::place_ids`] for every point, on the rayon pool of the caller (`ThreadPool::install`
    /// picks the threads). A large batch is placed in the order of its points' places (cells of
    /// 1/65,536 of the villages' box, in Z order), not in its own: in random order nearly every
    /// read of the prepared layers misses the cache, in place order neighbours share them.
    pub fn place_many(&self, points: &[(f64, f64)]) -> Vec<PlaceIds> {
        let place = |&(lon, lat): &(f64, f64)| self.place_ids(lon, lat);
        if points.len() < SORT_FROM || points.len() > u32::MAX as usize {
            return points.par_iter().with_min_len(MIN_PER_JOB).map(place).collect();
        }
        let (x, y) = (
            Axis::new(self.placer.extent[0], self.placer.extent[2], ORDER_SIDE),
            Axis::new(self.placer.extent[1], self.placer.extent[3], ORDER_SIDE),
        );
        let cells: Vec<u32> = points
            .par_iter()
            .with_min_len(MIN_PER_JOB)
            .map(|&(lon, lat)| morton(x.bucket(lon) as u32) | morton(y.bucket(lat) as u32) << 1)
            .collect();
        // counting sort by cell: `sorted` holds the points cell after cell (in their own order
        // within one), point `i` at `at[i]`. Copying the points in that order costs random writes,
        // which the processor does not wait for; reading them through an index, as the placing
        // would, costs a cache miss a point.
        let mut next = vec![0u32; ORDER_SIDE * ORDER_SIDE];
        cells.iter().for_each(|&c| next[c as usize] += 1);
        next.iter_mut().fold(0, |sum, n| std::mem::replace(n, sum) + sum);
        let mut at = vec![0u32; points.len()];
        let mut sorted = vec![(0.0, 0.0); points.len()];
        for (i, &c) in cells.iter().enumerate() {
            let k = &mut next[c as usize];
            sorted[*k as usize] = points[i];
            at[i] = *k;
            *k += 1;
        }
        let placed: Vec<PlaceIds> = sorted.par_iter().with_min_len(MIN_PER_JOB).map(place).collect();
        at.par_iter().with_min_len(MIN_PER_JOB).map(|&k| placed[k as usize]).collect()
    }

    /// The strings behind `ids` (copies), as [`Aoi::place`] gives them.
    pub fn place_info(&self, ids: &PlaceIds) -> PlaceInfo {
        let village = ids.village.map(|i| self.villages[i as usize].clone());
        PlaceInfo {
            village,
            township: ids.township.map(|i| self.townships[i as usize].clone()),
            landuse: ids.landuse,
            no_burn_zone: ids.no_burn_zone.map(|i| self.no_burn[i as usize].name.clone()),
            station: ids.station.map(|(i, d)| (self.stations[i as usize].name.clone(), d)),
            snapped_m: None,
            unassigned: false,
        }
    }

    /// The linear scans `place` made before the prepared indexes (one `geo` `Contains` per
    /// polygon, the village R-tree): the reference the tests and the benchmark compare with, and
    /// the answer for a point that is not finite.
    #[doc(hidden)]
    pub fn place_linear(&self, lon: f64, lat: f64) -> PlaceIds {
        let p = Point::new(lon, lat);
        let village = self
            .village_index
            .locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
            .map(|g| g.data)
            .find(|&i| self.villages[i].area.contains(&p));
        let township = village.and_then(|i| self.townships.iter().position(|t| t.code == self.villages[i].township));
        let station = self
            .stations
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, self.projector.distance_m((lon, lat), (s.lon, s.lat))))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let landuse = self
            .landuse
            .iter()
            .filter(|(_, area)| area.contains(&p))
            .map(|(c, _)| *c)
            .max_by_key(|c| c.rank())
            .unwrap_or(LandClass::Farmland);
        PlaceIds {
            village: village.map(|i| i as u32),
            township: township.map(|i| i as u32),
            landuse,
            no_burn_zone: self.no_burn.iter().position(|z| z.area.contains(&p)).map(|i| i as u32),
            station,
        }
    }
}

#[cfg(test)]
mod tests;
