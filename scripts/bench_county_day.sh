#!/usr/bin/env bash
# Issue 10's "county day": the sample district with CAMERAS tower cameras (the 10 of aoi/ plus
# towers added to a copy of its cameras layer) sending one 1920×1080 frame a minute, and 8
# satellite passes, run as cron would: a `firepoint run` per SLICE_MIN minutes of data, on one
# store. Each slice is generated (`firepoint simulate --slice`), run and timed (wall, CPU, peak
# RSS by /usr/bin/time); `run` moves processed inputs to the archive (retention.inputs, issue 21),
# which is then emptied (the bench keeps no day of frames on disk); KEEP_INBOX=1 runs with
# `retention.inputs = "keep"` to measure what a county that leaves its inputs in the inbox pays
# (each kept file is a stat: issue 21). After each batch a second `run` over the emptied inbox
# measures the batch's fixed cost at the store's current size (start, district, store, learned
# masks, feed): the non-camera floor; the camera stage is the batch's wall less that floor.
#
# Usage: bash scripts/bench_county_day.sh
#   HOURS=24         hours of the day simulated (from 00:00 UTC of DAY)
#   CAMERAS=60       cameras sending frames (0: the day without frames: the non-camera stages)
#   SLICE_MIN=5      minutes of data per batch (one cron batch each)
#   FIRES=12         smoke events over the day, each one camera watching a plume 20–45 minutes
#   PASSES="01:40 02:30 05:20 06:10 13:30 14:20 17:25 18:15"   satellite passes (UTC, at the
#                    start of the slice they fall in; 8 by default; those beyond HOURS are left out)
#   DAY=2026-11-22   FRAME_SIZE=1920x1080   SEED=7   KEEP_INBOX=0
#   WORK=target/bench-county-day (the day's store, logs and batches.tsv; emptied first)
#   FIREPOINT_BIN=another build (default: this tree's release build)
# Prints a table (batches, frames, scenes, tickets, walls, frames/s, peak RSS) and the full-day
# figure extrapolated from what was measured (labelled as such).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked --release --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/firepoint"
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.deps/onnxruntime/libonnxruntime.so}"
hours="${HOURS:-24}"; cameras="${CAMERAS:-60}"; slice_min="${SLICE_MIN:-5}"; fires="${FIRES:-12}"
passes="${PASSES:-01:40 02:30 05:20 06:10 13:30 14:20 17:25 18:15}"
day="${DAY:-2026-11-22}"; size="${FRAME_SIZE:-1920x1080}"; seed="${SEED:-7}"; keep="${KEEP_INBOX:-0}"
work="$(realpath -m "${WORK:-target/bench-county-day}")"
rm -rf "$work"; mkdir -p "$work/inbox/frames" "$work/inbox/satellite" "$work/log"

# the district: aoi/ with towers added (CAM11…) on a grid over the county, inside its boundary
cp -a aoi "$work/aoi"
python3 - "$work/aoi" "$cameras" <<'EOF'
import json, sys
aoi, want = sys.argv[1], int(sys.argv[2])
cams = json.load(open(f"{aoi}/cameras.geojson"))
ring = json.load(open(f"{aoi}/county.geojson"))["features"][0]["geometry"]["coordinates"][0]
def inside(x, y):
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit
xs, ys = [p[0] for p in ring], [p[1] for p in ring]
have = cams["features"]
n, k = len(have), 0
# 10 × 10 grid nodes, shifted half a step, taken in a fixed scattered order until enough
nodes = [(xs and min(xs) + (i + 0.5) * (max(xs) - min(xs)) / 10, min(ys) + (j + 0.5) * (max(ys) - min(ys)) / 10)
         for j in range(10) for i in range(10)]
nodes = [p for p in sorted(nodes, key=lambda p: (hash(round(p[0] * 1e4)) * 7 + hash(round(p[1] * 1e4))) % 101) if inside(*p)]
while len(have) < want:
    x, y = nodes[k % len(nodes)]
    dx = 0.004 * (k // len(nodes))  # a second lap shifts the towers a little
    k += 1
    cid = f"CAM{len(have) + 1:02d}"
    have.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x + dx, 5), round(y, 5)]},
                 "properties": {"id": cid, "name": f"蓝天卫士 {cid[3:]} 号塔（基准测试加设）", "height_m": 35.0 + 5 * (k % 4),
                                "pan_zero_deg": 0.0, "hfov_min_deg": 3.0, "hfov_max_deg": 58.0, "range_m": 5000.0}})
json.dump(cams, open(f"{aoi}/cameras.geojson", "w"), ensure_ascii=False, indent=1)
print(f"district: {len(have)} cameras ({len(have) - n} added to the sample district's {n})", file=sys.stderr)
EOF
set -- --set "paths.aoi=\"$work/aoi\"" --set "camera.model=\"$PWD/${MODEL:-models/smoke-tile-v2.onnx}\"" \
       --set "paths.inbox=\"$work/inbox\"" --set "paths.store=\"$work/firepoint.sqlite\"" \
       --set "paths.feed=\"$work/feed\"" --set "paths.quarantine=\"$work/quarantine\"" \
       --set "paths.archive=\"$work/archive\"" --set "retention.inputs=\"$([ "$keep" = 1 ] && echo keep || echo archive)\""
"$bin" "$@" aoi check >/dev/null 2>"$work/log/aoi-check.txt" || { cat "$work/log/aoi-check.txt" >&2; exit 1; }

slices=$(( hours * 60 / slice_min ))
tsv="$work/batches.tsv"
printf 'batch\tstart\tframes\tscenes\trc\twall_s\tuser_s\tsys_s\trss_kb\tfloor_s\tfloor_rss_kb\tfloor_cpu_s\tnew_tickets\tstore_mb\tgen_s\tload1\n' >"$tsv"
echo "county day: $hours h × $cameras cameras × 1 frame/min ($size), $slices batches of $slice_min min; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cat /proc/loadavg >"$work/loadavg-before"
for i in $(seq 0 $((slices - 1))); do
  start=$(date -u -d "$day 00:00 UTC + $((i * slice_min)) minutes" +%Y-%m-%dT%H:%M:%SZ)
  scene=()
  for p in $passes; do
    pm=$(( 10#${p%:*} * 60 + 10#${p#*:} ))
    [ $((pm / slice_min)) = "$i" ] && scene=(--scene)
  done
  g0=$(date +%s.%N)
  if [ "$cameras" -gt 0 ] || [ ${#scene[@]} -gt 0 ]; then
    "$bin" "$@" simulate --seed "$seed" --slice "$start" --minutes "$([ "$cameras" -gt 0 ] && echo "$slice_min" || echo 0)" \
      --cameras "$cameras" --fires "$fires" --frame-size "$size" "${scene[@]}" >"$work/log/gen-$i.txt"
  fi
  gen=$(python3 -c "import time; print(round(time.time() - $g0, 2))")
  rc=0
  /usr/bin/time -f '%e %U %S %M' -o "$work/log/time-$i" "$bin" "$@" run >"$work/log/run-$i.txt" 2>"$work/log/run-$i.err" || rc=$?
  [ "$rc" -le 1 ] || { echo "batch $i: exit $rc" >&2; cat "$work/log/run-$i.err" >&2; exit 1; }
  read -r wall user sys rss <"$work/log/time-$i"
  frames=$(sed -n 's/^frames: \([0-9]*\) scored.*/\1/p' "$work/log/run-$i.txt")
  opened=$(sed -n 's/^tickets: \([0-9]*\) new.*/\1/p' "$work/log/run-$i.txt")
  rm -rf "$work/archive"
  /usr/bin/time -f '%e %M %U %S' -o "$work/log/floor-$i" "$bin" "$@" run >"$work/log/floor-$i.txt" 2>&1 || true
  read -r fwall frss fuser fsys <"$work/log/floor-$i"
  store=$(du -cm "$work"/firepoint.sqlite* | tail -1 | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$start" "${frames:-0}" "${#scene[@]}" "$rc" \
    "$wall" "$user" "$sys" "$rss" "$fwall" "$frss" "$(python3 -c "print(round($fuser + $fsys, 2))")" "${opened:-0}" "$store" "$gen" "$(cut -d' ' -f1 /proc/loadavg)" >>"$tsv"
  printf 'batch %3d %s: %4s frames, %s scene, %6s s (floor %s s), %5d MB peak, %s new tickets, load %s\n' "$i" "$start" \
    "${frames:-0}" "${#scene[@]}" "$wall" "$fwall" $((rss / 1024)) "${opened:-0}" "$(cut -d' ' -f1 /proc/loadavg)" >&2
done
cat /proc/loadavg >"$work/loadavg-after"
tickets=$("$bin" "$@" tickets list --format csv 2>/dev/null | tail -n +2 | wc -l)
python3 - "$tsv" "$hours" "$cameras" "$slice_min" "$tickets" "$work" <<'EOF'
import csv, statistics as st, sys
tsv, hours, cams, slice_min, tickets, work = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
f = lambda k: [float(r[k]) for r in rows]
wall, floor, frames, rss = f("wall_s"), f("floor_s"), f("frames"), [x / 1024 for x in f("rss_kb")]
cam_s = sum(max(w - fl, 0) for w, fl, n in zip(wall, floor, frames) if n > 0)
nframes = sum(frames)
fps = nframes / cam_s if cam_s else 0
noncam = sum(fl if n > 0 else w for w, fl, n in zip(wall, floor, frames))
per_h = len(rows) * slice_min // 60
mark = lambda h: rows[min(len(rows), int(h * 60 / slice_min)) - 1]
print(f"\n| what | value |\n|---|---|")
print(f"| batches (one `run` per {slice_min} min of data) | {len(rows)} ({hours:g} h; exit 0: {sum(r['rc'] == '0' for r in rows)}, exit 1: {sum(r['rc'] == '1' for r in rows)}) |")
print(f"| frames scored | {nframes:,.0f} ({cams} cameras) |")
print(f"| satellite scenes | {sum(int(r['scenes']) for r in rows)} |")
print(f"| tickets in the store at the end (new in batches: {sum(int(r['new_tickets']) for r in rows)}) | {tickets} |")
print(f"| total wall of the batches | {sum(wall):.1f} s |")
print(f"| non-camera wall (frame batches: the floor run after each; other batches: their wall) | {noncam:.1f} s ({noncam / len(rows):.2f} s a batch) |")
print(f"| camera stage wall (Σ batch wall − floor, frame batches) | {cam_s:.1f} s |")
print(f"| camera stage | {fps:.2f} frames/s |")
cpu = sum(float(r["user_s"]) + float(r["sys_s"]) - float(r["floor_cpu_s"]) for r in rows if float(r["frames"]) > 0)
if nframes:
    print(f"| camera stage CPU (user + sys − floor's) | {cpu / nframes:.3f} CPU-s a frame: {2 * nframes / cpu:.2f} frames/s if the batch had both cores to itself (derived, not timed) |")
print(f"| peak RSS per batch, min / median / max | {min(rss):.0f} / {st.median(rss):.0f} / {max(rss):.0f} MB |")
for h in sorted({1, hours / 2, hours} if hours >= 2 else {hours}):
    r = mark(h)
    print(f"| batch at {h:g} h: wall, floor, peak RSS, store | {float(r['wall_s']):.2f} s, {float(r['floor_s']):.2f} s, {float(r['rss_kb']) / 1024:.0f} MB, {r['store_mb']} MB |")
print(f"| first batch: wall, floor, peak RSS | {wall[0]:.2f} s, {floor[0]:.2f} s, {rss[0]:.0f} MB |")
print(f"| load average (1 min) over the batches, min / median / max | {min(f('load1')):.2f} / {st.median(f('load1')):.2f} / {max(f('load1')):.2f} |")
print(f"| frame generation (not timed in the batches) | {sum(f('gen_s')):.0f} s |")
if fps:
    full = 60 * 24 * 60
    ncday = noncam * 24 / hours
    print(f"\nEXTRAPOLATION (not measured): a 24 h day of 60 cameras = {full:,} frames; camera stage "
          f"{full:,} / {fps:.2f} frames/s = {full / fps / 3600 if fps else float('nan'):.2f} h; non-camera "
          f"{noncam:.1f} s × 24 / {hours:g} h = {ncday / 60:.1f} min (floor as measured here, at this run's store size); "
          f"total {(full / fps + ncday) / 3600:.2f} h; at the CPU-derived rate {full * cpu / nframes / 2 / 3600:.2f} h of camera stage")
EOF
echo "load before: $(cat "$work/loadavg-before")  after: $(cat "$work/loadavg-after")   (per batch: $tsv)"
