#!/usr/bin/env python3
"""geopandas / shapely 2 reference of firepoint's placement (src/aoi/place.rs), for issue 10's figure.

The same question on the same files: for every point, the village that holds it, its land use
(water wins over built-up, built-up over farmland, the default), the first no-burn zone in the
layer's order that holds it, and the nearest national station (on firepoint's local projection,
metres). Reads the GeoJSON layers and raw points that benches/place_10k.rs wrote to
target/bench-data/place/ (GDAL through pyogrio reads the layers, as GDAL does on the Rust side).

Two ways, each timed from the raw lon/lat arrays to the per-point answers (median of --runs):
  sjoin:  geopandas `sjoin(points, layer, predicate="within")` for villages, land use and no-burn
          zones (geopandas builds an STRtree over the points and queries it with each polygon,
          prepared, predicate "contains"), `sjoin_nearest` for the station;
  strtree: shapely 2 directly: one STRtree over the points reused for the three polygon layers
          (`query(polygons, predicate="contains")`), `STRtree(stations).query_nearest`.
Then compares every point's answers with firepoint's (rust_<order>.i32) and prints the table
side by side with firepoint's timings (rust.json).

Usage: python3 benches/reference/place_shapely.py [--dir target/bench-data/place] [--runs 3]
Needs geopandas >= 1.0, shapely >= 2.0, pyogrio (scripts/bench_place.sh installs them).
Exit status 1 when any point is placed differently.
"""
import argparse
import json
import math
import os
import sys
import time

import geopandas as gpd
import numpy as np
import shapely

CLASS = {"farmland": 0, "built_up": 1, "water": 2}


def projector(lon0, lat0):
    """firepoint's grid::Projector: metres per degree on WGS84 at lat0."""
    phi = math.radians(lat0)
    ky = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    kx = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return lambda lon, lat: ((lon - lon0) * kx, (lat - lat0) * ky)


def first_per_point(n, point_idx, value, fill):
    """For each point, the least value among its matches (fill where none)."""
    out = np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(out, point_idx, value)
    out[out == np.iinfo(np.int32).max] = fill
    return out.astype(np.int32)


def classes(n, point_idx, cls):
    out = np.zeros(n, dtype=np.int32)
    np.maximum.at(out, point_idx, cls)
    return out


def place_sjoin(lon, lat, layers, to_m):
    villages, landuse, zones, stations_m = layers
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=villages.crs)
    n = len(pts)
    j = gpd.sjoin(pts, villages, predicate="within", how="inner")
    village = first_per_point(n, j.index.to_numpy(), j["index_right"].to_numpy(), -1)
    j = gpd.sjoin(pts, landuse, predicate="within", how="inner")
    land = classes(n, j.index.to_numpy(), j["cls"].to_numpy())
    j = gpd.sjoin(pts, zones, predicate="within", how="inner")
    zone = first_per_point(n, j.index.to_numpy(), j["index_right"].to_numpy(), -1)
    x, y = to_m(lon, lat)
    pm = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y))
    j = gpd.sjoin_nearest(pm, stations_m, how="inner")
    station = first_per_point(n, j.index.to_numpy(), j["index_right"].to_numpy(), -1)
    return np.stack([village, land, zone, station], axis=1)


def place_strtree(lon, lat, layers, to_m):
    villages, landuse, zones, stations_m = layers
    pts = shapely.points(lon, lat)
    n = len(pts)
    tree = shapely.STRtree(pts)
    poly, point = tree.query(villages.geometry.values, predicate="contains")
    village = first_per_point(n, point, poly, -1)
    poly, point = tree.query(landuse.geometry.values, predicate="contains")
    land = classes(n, point, landuse["cls"].to_numpy()[poly])
    poly, point = tree.query(zones.geometry.values, predicate="contains")
    zone = first_per_point(n, point, poly, -1)
    x, y = to_m(lon, lat)
    point, st = shapely.STRtree(stations_m.geometry.values).query_nearest(shapely.points(x, y))
    station = first_per_point(n, point, st, -1)
    return np.stack([village, land, zone, station], axis=1)


def median_time(f, runs):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/bench-data/place")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    aoi = os.path.join(args.dir, "aoi")
    t = time.perf_counter()
    villages = gpd.read_file(os.path.join(aoi, "villages.geojson"))[["geometry"]]
    landuse = gpd.read_file(os.path.join(aoi, "landuse.geojson"))
    landuse["cls"] = landuse["class"].map(CLASS).astype(np.int32)
    # farmland polygons never change the answer (the default): firepoint skips them too
    landuse = landuse[landuse["cls"] > 0][["cls", "geometry"]]
    zones = gpd.read_file(os.path.join(aoi, "no_burn_zones.geojson"))[["geometry"]]
    stations = gpd.read_file(os.path.join(aoi, "stations.geojson"))
    county = gpd.read_file(os.path.join(aoi, "county.geojson"))
    c = county.geometry.iloc[0].centroid
    to_m = projector(c.x, c.y)
    sx, sy = to_m(stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy())
    stations_m = gpd.GeoDataFrame(geometry=gpd.points_from_xy(sx, sy))
    layers = (villages, landuse, zones, stations_m)
    print(f"reference: geopandas {gpd.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
          f"layers read in {time.perf_counter() - t:.1f} s: {len(villages)} villages, {len(landuse)} water/built-up "
          f"polygons, {len(zones)} zones, {len(stations)} stations")
    rust = json.load(open(os.path.join(args.dir, "rust.json")))
    rows, bad = [], 0
    for order in ("sorted", "random"):
        xy = np.fromfile(os.path.join(args.dir, f"points_{order}.f64"), dtype="<f8").reshape(-1, 2)
        lon, lat = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
        n = len(lon)
        theirs = np.fromfile(os.path.join(args.dir, f"rust_{order}.i32"), dtype="<i4").reshape(-1, 4)
        py = {}
        for name, f in (("sjoin", place_sjoin), ("strtree", place_strtree)):
            s, out = median_time(lambda: f(lon, lat, layers, to_m), args.runs)
            differ = (out != theirs).any(axis=1)
            bad += int(differ.sum())
            cols = ", ".join(f"{k} {int((out[:, i] != theirs[:, i]).sum())}"
                             for i, k in enumerate(("village", "land use", "zone", "station")))
            print(f"{name:>7} {order}: {s * 1e3:8.0f} ms  {n / s / 1e6:6.3f} M points/s; "
                  f"points placed differently from firepoint: {int(differ.sum())} ({cols})")
            py[name] = s
        best = min(py.values())
        for r in rust["rows"]:
            if r["order"] == order and r["what"] == "place_many":
                rows.append((order, r["threads"], r["seconds"], py["sjoin"], py["strtree"], best, n))
        per_village = np.bincount(out[:, 0][out[:, 0] >= 0], minlength=len(villages))
        print(f"         {order}: per-village counts equal to firepoint's: "
              f"{bool((per_village == np.bincount(theirs[:, 0][theirs[:, 0] >= 0], minlength=len(villages))).all())}")
    print()
    print("| order | firepoint threads | firepoint | M points/s | geopandas sjoin | shapely STRtree | × the faster shapely |")
    print("|---|---|---|---|---|---|---|")
    for order, th, rs, sj, st, best, n in rows:
        print(f"| {order} | {th} | {rs * 1e3:.0f} ms | {n / rs / 1e6:.2f} | {sj * 1e3:.0f} ms ({n / sj / 1e6:.3f} M/s) "
              f"| {st * 1e3:.0f} ms ({n / st / 1e6:.3f} M/s) | {best / rs:.1f} × |")
    print(f"\nmachine load during the Rust run (1/5/15 min): before {rust['loadavg_before']}, after {rust['loadavg_after']}; "
          f"now {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
