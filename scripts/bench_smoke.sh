#!/usr/bin/env bash
# Issues #7 and #19's camera-stage figure: N real tower frames at 1920×1080 through the smoke model (the
# shipped view model by default; MODEL=models/smoke-tile-v2.onnx for the single-frame one),
# firepoint (`firepoint run`: decode, tile, infer, record; 2 rayon workers × 1 ONNX thread) side by
# side with the Python reference (benches/reference/smoke_reference.py: PIL decode, numpy tiles,
# onnxruntime with 2 intra-op threads) on the same frames and model, plus ONNX Runtime's bare
# throughput on the same tiles. Needs the shared frames (FIREPOINT_DATA or ../shared/data) and a
# Python venv with requirements-train.txt's pillow, numpy, onnxruntime (VENV, default .venv-smoke).
# Usage: bash scripts/bench_smoke.sh [N]   (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
n="${1:-64}"
venv="${VENV:-.venv-smoke}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import PIL, numpy, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q pillow numpy onnxruntime==1.31.1
fi
cargo build --locked --release --quiet
export ORT_DYLIB_PATH="$PWD/.deps/onnxruntime/libonnxruntime.so"
model="${MODEL:-models/smoke-view-v3.onnx}"
src="${FIREPOINT_DATA:-../shared/data}/smoke/alerttahoe_boxoverlay/smoke_box_removed"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/frames" "$work/w/inbox/frames/CAM01"
# the same N real frames, resized to 1920×1080 once, as JPEG (quality 90)
"$venv/bin/python" - "$src" "$work/frames" "$n" <<'PY'
import os, sys
from PIL import Image
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i, f in enumerate(sorted(os.listdir(src))[:n]):
    Image.open(os.path.join(src, f)).convert("RGB").resize((1920, 1080), Image.BILINEAR).save(
        os.path.join(out, f"f{i:04d}.jpg"), quality=90)
PY
i=0
for f in "$work"/frames/*.jpg; do
  i=$((i + 1)); cp "$f" "$work/w/inbox/frames/CAM01/"
  printf '{"camera_id": "CAM01", "captured_at": "2026-06-10T05:%02d:00Z", "pan_deg": 40.0, "tilt_deg": -1.0, "hfov_deg": 40.0}\n' \
    $((i % 60)) > "$work/w/inbox/frames/CAM01/$(basename "$f" .jpg).json"
done
echo "== Python reference (PIL + numpy + onnxruntime, 2 threads)"
"$venv/bin/python" benches/reference/smoke_reference.py "$work/frames" --model "$model"
echo "== firepoint (release, 2 rayon workers × 1 ONNX Runtime thread; whole process incl. recording)"
for r in 1 2 3; do
  rm -rf "$work/w/s.sqlite"* "$work/w/feed"
  start=$(date +%s.%N)
  target/release/firepoint --set "paths.aoi=\"$PWD/aoi\"" --set "camera.model=\"$PWD/$model\"" \
    --set "paths.inbox=\"$work/w/inbox\"" --set "paths.store=\"$work/w/s.sqlite\"" \
    --set "paths.feed=\"$work/w/feed\"" --set "paths.quarantine=\"$work/w/q\"" run >"$work/out" 2>&1 || true
  end=$(date +%s.%N)
  python3 -c "import sys; n, a, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(f'run {sys.argv[4]}: {n} frames in {b - a:.2f} s = {n / (b - a):.2f} frames/s')" "$n" "$start" "$end" "$r"
done
grep "^frames:" "$work/out"
