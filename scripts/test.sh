#!/usr/bin/env bash
# Command B: set up (idempotent) and run the whole test suite.
# Tests that need the real data in ../shared/data (or FIREPOINT_DATA) say SKIPPED when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
data="${FIREPOINT_DATA:-../shared/data}"
if [ -d "$data/satellite" ] && [ -d "$data/smoke" ]; then
  echo "test: real data found at $data: the real-data tests run" >&2
else
  echo "test: NO real data at $data (set FIREPOINT_DATA): the real-data tests will print SKIPPED and pass without checking" >&2
fi
# the 5k-scene bench writes 600 MB of data: it runs from scripts/bench_hotspot.sh, not here
cargo test --locked --lib --bins --tests --bench pipeline "$@"
