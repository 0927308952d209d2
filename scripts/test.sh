#!/usr/bin/env bash
# Command B: set up (idempotent) and run the whole test suite.
# Tests that need the real data in ../shared/data (or FIREPOINT_DATA) say SKIPPED when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
# the 5k-scene bench writes 600 MB of data: it runs from scripts/bench_hotspot.sh, not here
cargo test --locked --lib --bins --tests --bench pipeline "$@"
