#!/usr/bin/env bash
# Command B: set up (idempotent) and run the whole test suite.
#
# Tests that need the real data in ../shared/data (or FIREPOINT_DATA) are #[ignore]d with that
# reason. When the data is there they are run (--include-ignored) and this script fails if any
# test was still left out; when it is absent they are reported as ignored, never as passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
data="${FIREPOINT_DATA:-../shared/data}"
extra=()
if [ -d "$data/satellite" ] && [ -d "$data/smoke" ]; then
  echo "test: real data found at $data: the real-data tests run (--include-ignored)" >&2
  extra=(--include-ignored)
  real=1
else
  echo "test: NO real data at $data (set FIREPOINT_DATA): the real-data tests are IGNORED (not run, not passed)" >&2
  real=0
fi
# the full-disk test mounts a small tmpfs: root only; said loudly, never counted as passed
if [ "$(id -u)" != 0 ]; then
  echo "test: not root: r10_a_full_disk_stops_the_batch_cleanly_and_the_next_run_resumes is SKIPPED (it mounts a tmpfs)" >&2
  extra+=(--skip r10_a_full_disk_stops_the_batch_cleanly_and_the_next_run_resumes)
fi
# PostgreSQL: a throwaway cluster (scripts/pg.sh) for the store tests' second backend and the
# many-workers test; when it cannot start, those are SKIPPED, said loudly, never counted as passed
log="$(mktemp)"; trap 'rm -f "$log"' EXIT
if pg_env="$(bash scripts/pg.sh start)"; then
  eval "$pg_env"
  trap 'bash scripts/pg.sh stop "$FIREPOINT_PG_DIR"; rm -f "$log"' EXIT
  echo "test: PostgreSQL test cluster on ${FIREPOINT_TEST_PG#*@}: the PostgreSQL store tests run" >&2
  pg_tests=(postgres r10_four_workers)
else
  echo "test: PostgreSQL could not be started: the PostgreSQL store tests and the many-workers test are SKIPPED" >&2
  extra+=(--skip postgres --skip r10_four_workers)
  pg_tests=()
fi
# every test runs and every failure is reported in one run (--no-fail-fast, and each cargo call
# below runs whatever the one before it said); the script fails at the end if any did
failed=0
# the 5k-scene bench writes 600 MB of data: it runs from scripts/bench_hotspot.sh, not here
cargo test --locked --no-fail-fast --lib --bins --tests --examples "$@" -- "${extra[@]}" 2>&1 | tee "$log" || failed=1
# tests that need only what setup.sh installed (xmllint and the CAP schema; Chromium and the
# page's npm packages; root for a tmpfs; the PostgreSQL cluster above; systemd-analyze) are #[ignore]d for a bare
# `cargo test`; here they always run (picked by name: the test binaries group tests by what
# they test, so these sit among others)
if [ "$real" = 0 ]; then
  cargo test --locked --no-fail-fast --test teams --test batch --test camera --test district -- --include-ignored \
    cap:: page:: hardening:: r21_systemd_analyze "${pg_tests[@]}" "${extra[@]}" 2>&1 | tee -a "$log" || failed=1
fi
# the province soak test in its short form (one minute; scripts/soak.sh --minutes N is the long
# one): workers, senders and serve on a PostgreSQL cluster of its own, SIGKILLs, then its checks
if [ "${#pg_tests[@]}" -gt 0 ]; then
  bash scripts/soak.sh --seconds 60 2>&1 | tee -a "$log" || failed=1
else
  echo "test: PostgreSQL could not be started: the soak test (scripts/soak.sh) is SKIPPED" >&2
fi
# the per-stage criterion benches run once each, as a smoke test
cargo test --locked --bench pipeline 2>&1 | tee -a "$log" || failed=1
if [ "$real" = 1 ] && grep -Eq '^test result: .* [1-9][0-9]* ignored' "$log"; then
  echo "test: FAILED: the real data is there but some tests were ignored (see above)" >&2
  failed=1
fi
if [ "$failed" = 1 ]; then
  echo "test: FAILED (every failing test is listed above: grep for 'FAILED' or 'panicked')" >&2
  exit 1
fi
