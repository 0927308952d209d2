#!/usr/bin/env bash
# Workers on one PostgreSQL store: inputs/s with 1, 2 and 4 `firepoint run` workers over one
# inbox, against one SQLite batch over the same inbox, for two workloads:
#   frames: FRAMES camera frames (the sample district's frames, each copy made distinct by bytes
#           after the JPEG's end and its own capture minute; decoding + the smoke model dominate)
#   tables: TABLES one-row FIRMS tables (reading is trivial: queue, claims and the ordered
#           recording dominate: the serial part of a worker pool)
# Release build; FIREPOINT_BIN to time another build. Starts its own throwaway PostgreSQL
# (scripts/pg.sh). Prints a table; wall time from the first worker's start to the last's exit.
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES="${FRAMES:-240}"
TABLES="${TABLES:-2000}"
WORKERS="${WORKERS:-1 2 4}"
bin="${FIREPOINT_BIN:-target/release/firepoint}"
[ -n "${FIREPOINT_BIN:-}" ] || cargo build --release --locked -q
bin="$(realpath "$bin")"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.deps/onnxruntime/libonnxruntime.so}"
repo="$PWD"
eval "$(bash scripts/pg.sh start)"
work="$(mktemp -d /tmp/fp-bench-workers.XXXXXX)"
trap 'bash scripts/pg.sh stop "$FIREPOINT_PG_DIR"; rm -rf "$work"' EXIT
admin="$FIREPOINT_TEST_PG"; base="${admin%/*}"

# the inputs, made once and copied for every run
make_frames() { # dir
  local dir="$1" sample="$work/sample"
  mkdir -p "$sample"
  (cd "$sample" && "$bin" --set "paths.aoi=\"$repo/aoi\"" simulate >/dev/null)
  local i=0
  while [ "$i" -lt "$FRAMES" ]; do
    for jpg in "$sample"/work/inbox/frames/*/*.jpg; do
      [ "$i" -lt "$FRAMES" ] || break
      cam="$(basename "$(dirname "$jpg")")"
      mkdir -p "$dir/frames/$cam"
      t="$(date -u -d "2026-06-10T06:00:00Z + $i minutes" +%Y%m%dT%H%M%SZ)"
      iso="$(date -u -d "2026-06-10T06:00:00Z + $i minutes" +%Y-%m-%dT%H:%M:%SZ)"
      { cat "$jpg"; printf 'copy %d' "$i"; } >"$dir/frames/$cam/${cam}_$t.jpg"
      sed "s/\"captured_at\": *\"[^\"]*\"/\"captured_at\": \"$iso\"/" "${jpg%.jpg}.json" >"$dir/frames/$cam/${cam}_$t.json"
      i=$((i + 1))
    done
  done
}
make_tables() { # dir
  local dir="$1/satellite"
  mkdir -p "$dir"
  python3 - "$dir" "$TABLES" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
head = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight\n"
for i in range(n):
    lon = 115.52 + (i % 10) * 0.035; lat = 37.53 + ((i // 10) % 4) * 0.06
    day = 1 + (i // 40) % 28; minute = (i * 7) % 600
    with open(f"{d}/MODIS_{i:05d}.csv", "w") as f:
        f.write(head + f"{lat:.4f},{lon:.4f},330.0,1.0,1.0,2026-06-{day:02d},{minute // 60 + 1:02d}{minute % 60:02d},A,80,6.1NRT,295.0,10.0,D\n")
PY
}
mkdir -p "$work/frames-inbox" "$work/tables-inbox"
make_frames "$work/frames-inbox"
make_tables "$work/tables-inbox"

run_case() { # workload workers(0 = SQLite) -> prints "wall_s tickets"
  local load="$1" n="$2" dir="$work/run" store
  rm -rf "$dir"; mkdir -p "$dir/work"
  cp -r "$work/$load-inbox" "$dir/work/inbox"
  if [ "$n" = 0 ]; then
    store="\"work/firepoint.sqlite\""
  else
    local db="bench_$(date +%s%N)"
    psql -q "$admin" -c "CREATE DATABASE $db" >/dev/null
    store="\"$base/$db\""
    # the schema first, so the timed runs do not race to create it
    (cd "$dir" && mkdir -p empty && "$bin" --set "paths.aoi=\"$repo/aoi\"" --set "paths.store=$store" --set 'paths.inbox="empty"' run >/dev/null 2>&1 || true)
  fi
  local args=(--set "paths.aoi=\"$repo/aoi\"" --set "camera.model=\"$repo/models/smoke-tile-v2.onnx\"" --set "paths.store=$store")
  local t0 t1 pids=() k
  t0="$(date +%s.%N)"
  for k in $(seq 1 "$(( n == 0 ? 1 : n ))"); do
    (cd "$dir" && exec "$bin" "${args[@]}" run >"$dir/out.$k" 2>&1) & pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || true; done
  t1="$(date +%s.%N)"
  local tickets
  tickets="$(cd "$dir" && "$bin" "${args[@]}" tickets list --format jsonl | wc -l)"
  echo "$(python3 -c "print(f'{$t1 - $t0:.1f}')") $tickets"
}

printf '| workload | inputs | store | workers | wall s | inputs/s | tickets |\n|---|---|---|---|---|---|---|\n'
for load in frames tables; do
  inputs=$([ "$load" = frames ] && echo "$FRAMES" || echo "$TABLES")
  read -r wall tickets < <(run_case "$load" 0)
  printf '| %s | %s | SQLite | 1 batch | %s | %s | %s |\n' "$load" "$inputs" "$wall" "$(python3 -c "print(f'{$inputs / $wall:.1f}')")" "$tickets"
  for n in $WORKERS; do
    read -r wall tickets < <(run_case "$load" "$n")
    printf '| %s | %s | PostgreSQL | %s | %s | %s | %s |\n' "$load" "$inputs" "$n" "$wall" "$(python3 -c "print(f'{$inputs / $wall:.1f}')")" "$tickets"
  done
done
echo "machine: $(nproc) cores, load before/after: $(cut -d' ' -f1-3 /proc/loadavg)"
