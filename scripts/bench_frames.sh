#!/usr/bin/env bash
# Camera-stage throughput as cron meets it: N real tower-camera frames (JPEG, with pose
# sidecars for the sample district's CAM01) through `firepoint run` on a fresh store; prints
# frames/s (median of RUNS runs) and peak memory. The frames come from FRAMES_DIR (default: the
# shared AlertTahoe/HPWREN frames beside the repository).
# Usage: bash scripts/bench_frames.sh [N]   (default 128; RUNS=3; FIREPOINT_BIN=another build)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked --release --quiet
  bin="$PWD/target/release/firepoint"
fi
export ORT_DYLIB_PATH="$PWD/.deps/onnxruntime/libonnxruntime.so"
n="${1:-128}"; runs="${RUNS:-3}"
src="${FRAMES_DIR:-${FIREPOINT_DATA:-../shared/data}/smoke}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mapfile -t frames < <(find "$src" -name '*.jpg' | sort | head -n "$n")
[ "${#frames[@]}" = "$n" ] || { echo "only ${#frames[@]} frames under $src" >&2; exit 1; }
results=()
for r in $(seq "$runs"); do
  rm -rf "$work/w"; mkdir -p "$work/w/inbox/frames/CAM01"
  i=0
  for f in "${frames[@]}"; do
    i=$((i + 1)); name=$(printf 'f%05d' "$i")
    cp "$f" "$work/w/inbox/frames/CAM01/$name.jpg"
    printf '{"camera_id": "CAM01", "captured_at": "2026-06-10T05:%02d:00Z", "pan_deg": 40.0, "tilt_deg": -1.0, "hfov_deg": 40.0}\n' \
      $((i % 60)) > "$work/w/inbox/frames/CAM01/$name.json"
  done
  set -- --set "paths.aoi=\"$PWD/aoi\"" --set "camera.model=\"$PWD/${MODEL:-models/smoke-tile-v2.onnx}\"" \
         --set "paths.inbox=\"$work/w/inbox\"" --set "paths.store=\"$work/w/s.sqlite\"" \
         --set "paths.feed=\"$work/w/feed\"" --set "paths.quarantine=\"$work/w/q\""
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" "$@" run >"$work/out" 2>&1 || true
  grep -q "frames: $n scored" "$work/out" || { cat "$work/out" >&2; exit 1; }
  results+=("$(cat "$work/time")")
done
median="$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
wall="${median% *}"
echo "frames: $n  wall_s: $wall  frames_per_s: $(python3 -c "print(round($n / $wall, 1))")  peak_MB: $(( ${median#* } / 1024 ))"
