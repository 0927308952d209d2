#!/usr/bin/env bash
# Command A: set up (idempotent), build, and run the main job on the sample district.
#   1. scripts/setup.sh installs what is missing (GDAL, pkg-config, ONNX Runtime from PyPI)
#   2. cargo builds the release binary; ONNX Runtime is linked beside it
#   3. `firepoint simulate` writes sample inputs into work/inbox (a satellite pass, camera frames)
#   4. `firepoint run` processes the inbox like a cron batch and prints where the tickets went
#   5. the tickets, and the day's report per township with its map (work/report-2026-06-10.png),
#      and the next day's patrol plan (work/plan-2026-06-11.csv and .png)
# Run it again: the inputs are already processed, so no ticket is duplicated.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --quiet
ln -sf "$PWD/.deps/onnxruntime/libonnxruntime.so" target/release/libonnxruntime.so
fp=target/release/firepoint
$fp aoi check
$fp simulate
set +e
# the sample day (2026-06-10) is replayed live: events.live_window_h = 0 (otherwise points older
# than 24 h are history, with no ticket; see README "History is not today")
$fp --set events.live_window_h=0 run
status=$?
set -e
echo
$fp tickets list
echo
$fp report --day 2026-06-10 --map work/report-2026-06-10.png
echo
$fp plan --day 2026-06-11 --csv work/plan-2026-06-11.csv --map work/plan-2026-06-11.png
echo
echo "tickets are in the SQLite store work/firepoint.sqlite; feed files in work/feed/ (tickets.jsonl, tickets.geojson);"
echo "the day's report map: work/report-2026-06-10.png; the next day's patrol plan: work/plan-2026-06-11.csv and .png;"
echo "what was planted where: work/truth.json"
echo "a township team's page: $fp token add --township 999901002, then $fp serve and open http://127.0.0.1:8787/#token=TOKEN"
echo "steps from the shell: $fp tickets ack <ID> --by <name>; $fp tickets resolve <ID> --by <name> --action 已扑灭; $fp --help"
exit $status
