#!/usr/bin/env bash
# Issue #10's figure: placing 1 M points (village, land use, no-burn zone, nearest station) among
# 10,000 villages of 64-256 vertices, sorted and random order, firepoint on 1 and 2 threads
# (benches/place_10k.rs) side by side with geopandas sjoin and shapely 2 STRtree
# (benches/reference/place_shapely.py) on the same files; the Python side checks that every point
# is placed the same. Python packages go into a venv ($PLACE_VENV, default target/venv-place):
# geopandas, shapely, pyogrio, numpy from PyPI, installed on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PLACE_VENV:-${CARGO_TARGET_DIR:-target}/venv-place}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import geopandas, shapely, pyogrio, numpy" 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "geopandas>=1.0" "shapely>=2.0" pyogrio numpy
fi
echo "machine load before (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
cargo bench --locked --bench place_10k 2>&1 | grep -E "^(place|before|machine|bench:)"
"$VENV/bin/python" benches/reference/place_shapely.py --dir target/bench-data/place --runs "${PY_RUNS:-3}"
