#!/usr/bin/env bash
# Fuzzes every parser that reads outside data (issue 10), bounded, not run in CI:
#   pose sidecars, fire tables (FIRMS / Himawari WLF / MEE), rain forecasts, the configuration, the feed's HTTP
#   router (in process), GeoTIFF and NetCDF through GDAL and the scene readers, and AOI layers
#   (aoi-layer: one mutated layer of any kind, read and checked as `Aoi::load` reads it; aoi: the
#   whole sample district loaded with its stations layer mutated).
# Each target runs EXECUTIONS mutated inputs from its seeds in fuzz/corpus/<target>/ (committed);
# a panic's input (and, for aoi-layer, a crash's) is saved in fuzz/findings/ and the target's line says how many distinct panics.
# Prints a markdown table: target, executions, seeds, time, rate, distinct panics.
# Usage: bash scripts/fuzz.sh [EXECUTIONS] [AOI_EXECUTIONS]   (default 1000000 for every target,
#        aoi-layer included, and 10000 for aoi: a whole-district load reads every layer, ~80 per
#        second)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
n="${1:-1000000}" aoi_n="${2:-10000}"
cargo build --locked --release --example fuzz --quiet
fuzz="${CARGO_TARGET_DIR:-target}/release/examples/fuzz"
mkdir -p target
export CPL_LOG=/dev/null  # GDAL's own warnings about broken files, by the thousand
echo "| target | executions | seeds | time | rate | distinct panics |"
echo "|---|---:|---:|---:|---:|---:|"
status=0
for t in pose table weather config http geotiff netcdf aoi-layer; do
  "$fuzz" "$t" "$n" 2>>target/fuzz.log || status=1
done
"$fuzz" aoi "$aoi_n" 2>>target/fuzz.log || status=1
echo "(progress and any panic's site and saved input: target/fuzz.log)"
exit $status
