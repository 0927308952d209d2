#!/usr/bin/env bash
# Issue #21's figures: loading the district when one polygon has many vertices, before and after
# the change, measured side by side in one run on one machine.
#
# Generates (into target/bench-aoi/, not committed) two districts from the sample one, each with
# one polygon densified along its own edges (the shape unchanged): `county30k` (the county
# boundary with ~30,000 vertices) and `village100k` (village 0 with ~100,000 vertices). Builds
# `firepoint` at the commit before issue 21 ($AOI_BENCH_BEFORE, default 1a8314a, from a git
# worktree into the same target folder, so only firepoint itself is compiled twice) and at the
# working tree, then times on each district:
#   - `firepoint aoi check DIR`  (every layer read and checked; after: also the cache refreshed)
#   - `firepoint run` on an empty inbox, which loads the district: before; after with
#     `aoi.cache=false` (the layers read and checked every time); after with the cache (the run
#     before it wrote it: the usual batch).
# Each is the median of $RUNS runs (default 3; the slow "before" runs once when it takes > 60 s).
#
# BENCH_PROFILE=release (default) builds with the release profile. BENCH_PROFILE=dev-opt uses the
# dev profile's already built dependencies (opt-level 2) with firepoint at opt-level 3 (debug
# assertions on): minutes instead of half an hour on a machine with no release build yet.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench-aoi
BEFORE="${AOI_BENCH_BEFORE:-1a8314a}"
RUNS="${RUNS:-3}"
mkdir -p "$OUT"

case "${BENCH_PROFILE:-release}" in
  release) build=(cargo build --release --locked --bin firepoint); bin_dir=target/release ;;
  dev-opt)
    # only the opt-level: the dependencies keep theirs ([profile.dev.package."*"]) and are not rebuilt
    export CARGO_PROFILE_DEV_OPT_LEVEL=3
    build=(cargo build --bin firepoint); bin_dir=target/debug ;;
  *) echo "BENCH_PROFILE is release or dev-opt" >&2; exit 2 ;;
esac

# firepoint before and after, side by side
if [ ! -d "$OUT/before-src" ]; then
  git worktree add --detach "$OUT/before-src" "$BEFORE" >/dev/null
fi
( cd "$OUT/before-src" && "${build[@]}" --target-dir "$OLDPWD/target" --quiet )
cp "$bin_dir/firepoint" "$OUT/firepoint-before"
git worktree remove --force "$OUT/before-src"  # the build stays in target/; no worktree left registered
"${build[@]}" --quiet
cp "$bin_dir/firepoint" "$OUT/firepoint-after"

python3 - "$OUT" "$RUNS" <<'EOF'
import json, os, shutil, statistics, subprocess, sys, time

out, runs = sys.argv[1], int(sys.argv[2])

def densify(ring, total):
    """The ring with points added along each edge (the same shape), about `total` vertices."""
    per = max(1, total // (len(ring) - 1))
    pts = []
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        pts += [[x0 + (x1 - x0) * k / per, y0 + (y1 - y0) * k / per] for k in range(per)]
    return pts + [ring[-1]]

def district(name, layer, total):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree("aoi", d)
    path = os.path.join(d, layer + ".geojson")
    fc = json.load(open(path))
    g = fc["features"][0]["geometry"]
    assert g["type"] == "Polygon"
    g["coordinates"][0] = densify(g["coordinates"][0], total)
    json.dump(fc, open(path, "w"))
    return d, len(g["coordinates"][0])

def timed(cmd, env=None, n=runs):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        if times[0] > 60:
            break
    return statistics.median(times), len(times)

def fmt(s):
    return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.0f} ms"

load = open("/proc/loadavg").read().split()[:3]
print(f"machine: {os.cpu_count()} cores, load average before {' '.join(load)}")
print("| district | command | before | after | before ÷ after |")
print("|---|---|---|---|---|")
for name, layer, total in [("county30k", "county", 30000), ("village100k", "villages", 100000)]:
    d, vertices = district(name, layer, total)
    work = os.path.join(out, "work-" + name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "inbox"))
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache"))
    env.pop("FIREPOINT_CONFIG", None)
    sets = ["--set", f'paths.aoi="{os.path.abspath(d)}"', "--set", f'paths.inbox="{work}/inbox"',
            "--set", f'paths.store="{work}/firepoint.sqlite"', "--set", f'paths.feed="{work}/feed"',
            "--set", f'paths.quarantine="{work}/quarantine"']
    before, after = os.path.join(out, "firepoint-before"), os.path.join(out, "firepoint-after")
    label = f"`{name}` ({layer}: {vertices:,} vertices)"
    rows = [
        ("`aoi check`", [before, *sets, "aoi", "check"], [after, *sets, "aoi", "check"]),
        ("`run`, empty inbox, layers read", [before, *sets, "run"], [after, *sets, "--set", "aoi.cache=false", "run"]),
        ("`run`, empty inbox, cache (usual batch)", None, [after, *sets, "run"]),
    ]
    for what, old, new in rows:
        subprocess.run(new, env=env, capture_output=True)  # warm the page cache (and write the AOI cache)
        a, na = timed(new, env)
        if old is None:
            b = base_run
            print(f"| {label} | {what} | {fmt(b[0])} (runs: {b[1]}) | {fmt(a)} (runs: {na}) | **{b[0] / a:.0f} ×** |")
            continue
        b = timed(old, env)
        if what.startswith("`run`"):
            base_run = b
        print(f"| {label} | {what} | {fmt(b[0])} (runs: {b[1]}) | {fmt(a)} (runs: {na}) | **{b[0] / a:.0f} ×** |", flush=True)
print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
EOF
