#!/usr/bin/env bash
# Issue 19's camera figures through firepoint itself: the held-out sets of the shipped model's
# split (models/eval_sets.py lays them out as links under $OUT: FIgLib val and test sequences,
# the single frames of the val and test events, the AI For Mankind 640 frames) each through
# `firepoint smoke eval`, which replays the production rule (for a view model: each sequence
# folded through one view's memory in capture order; single frames judged as new views, i.e. the
# warm-up path) and the configured confirmation. Prints one summary line per set; the full
# per-frame JSON is kept in $OUT/<set>.jsonl.
# Needs ../shared/data/smoke (or FIREPOINT_DATA) and the training venv (VENV, default
# /tmp/venv-train, models/requirements-train.txt) for the split's dHash grouping.
# Usage: bash scripts/eval_smoke.sh [MODEL]   (default models/smoke-view-v3.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smoke-view-v3.onnx}"
venv="${VENV:-/tmp/venv-train}"
data="${FIREPOINT_DATA:-../shared/data}/smoke"
out="${OUT:-/tmp/firepoint-eval}"
[ -d "$data" ] || { echo "eval_smoke: no smoke data at $data (set FIREPOINT_DATA)" >&2; exit 2; }
[ -x "$venv/bin/python" ] || { echo "eval_smoke: no venv at $venv (models/requirements-train.txt)" >&2; exit 2; }
cargo build --locked --release --quiet
export ORT_DYLIB_PATH="$PWD/.deps/onnxruntime/libonnxruntime.so"
rm -rf "$out"
"$venv/bin/python" models/eval_sets.py --data "$data" --model "${model%.onnx}.json" --out "$out"
for set in "$out"/*/; do
  name="$(basename "$set")"
  echo "== $name ($model)"
  target/release/firepoint --set "camera.model=\"$PWD/$model\"" smoke eval "$set" >"$out/$name.jsonl" 2>"$out/$name.txt" || true
  grep -v '^error: cannot score' "$out/$name.txt" | head -4
done
