#!/usr/bin/env bash
# Issue #3's figure: the fire test on a 5,000 x 5,000 scene vs GDAL's read of the bands (the floor)
# and vs the numpy reference (benches/reference/hotspot_numpy.py), which must give the same mask.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import numpy" 2>/dev/null; then
  python3 -m venv .venv && .venv/bin/pip install -q numpy
fi
cargo bench --locked --bench hotspot_5k -- --noplot 2>&1 | grep -E "hotspot_5000|time:|fire pixels|bench:"
.venv/bin/python benches/reference/hotspot_numpy.py --dir target/bench-data --runs "${NUMPY_RUNS:-3}"
