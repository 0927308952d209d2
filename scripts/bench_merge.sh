#!/usr/bin/env bash
# Merging cost at its worst: one FIRMS table of N in-county fire points spread over a year (a
# history import or a long backlog), so nearly every row opens its own ticket and every later
# row must be checked against thousands of open tickets; `firepoint run` on a fresh store.
# Prints N, tickets made, wall seconds and peak memory per size (median of RUNS runs).
# Usage: bash scripts/bench_merge.sh [N ...]   (default 5000 10000 20000; RUNS=3;
#        FIREPOINT_BIN=path/to/firepoint to time another build, e.g. an older commit's)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked --release --quiet
  bin="$PWD/target/release/firepoint"
fi
export ORT_DYLIB_PATH="$PWD/.deps/onnxruntime/libonnxruntime.so"
runs="${RUNS:-3}"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(5000 10000 20000)
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
printf '%8s %8s %10s %10s\n' rows tickets wall_s peak_MB
for n in "${sizes[@]}"; do
  times=()
  for r in $(seq "$runs"); do
    rm -rf "$work/w"; mkdir -p "$work/w/inbox/satellite"
    python3 - "$n" "$work/w/inbox/satellite/MODIS_bench.csv" <<'PY'
import datetime, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
random.seed(n)
with open(out, "w") as f:
    f.write("latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight\n")
    for _ in range(n):  # inside the sample county's core (115.55-115.85 E, 37.52-37.78 N), any day of a year
        day = datetime.date(2025, 6, 1) + datetime.timedelta(days=random.randrange(365))
        hhmm = f"{random.randrange(24):02d}{random.randrange(60):02d}"
        f.write(f"{random.uniform(37.52, 37.78):.5f},{random.uniform(115.55, 115.85):.5f},330.0,1.0,1.0,{day},{hhmm},A,80,6.1NRT,295.0,10.0,D\n")
PY
    set -- --set "paths.aoi=\"$PWD/aoi\"" --set "paths.inbox=\"$work/w/inbox\"" --set "paths.store=\"$work/w/s.sqlite\"" \
           --set "paths.feed=\"$work/w/feed\"" --set "paths.quarantine=\"$work/w/q\""
    /usr/bin/time -f '%e %M' -o "$work/time" "$bin" "$@" run >/dev/null
    times+=("$(cat "$work/time")")
    tickets="$("$bin" "$@" tickets list --format jsonl | wc -l)"
  done
  median="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
  printf '%8s %8s %10s %10s\n' "$n" "$tickets" "${median% *}" "$(( ${median#* } / 1024 ))"
done
