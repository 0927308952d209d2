#!/usr/bin/env bash
# Issue 21: how much a county-day adds to the SQLite store, measured on the real schema. A store
# made by `firepoint run` (every table and index of this build) gets a county-day of rows written
# with sqlite3 — FRAMES frames (60 towers × 1,440 minutes) as `inputs` rows and `frames` rows
# (values synthetic but of real width: paths, SHA-256s, times, a picture hash), and a batch record
# every 3 minutes — and is vacuumed; the file's growth per row and per day is printed. What
# `[retention]` keeps then follows: frame rows live `frames_days` (30), the input rows of frames
# without sightings as long (once their file has left the inbox), batch records `runs_days` (90).
# Tickets, sightings and their log grow with fires (a dozen a day), not with frames; evidence is
# at most 3 × 200 KB a camera ticket (bounded, not measured here).
#
# Usage: bash scripts/bench_store_growth.sh   FRAMES=86400  WORK=target/bench-growth  FIREPOINT_BIN=…
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then cargo build --locked --quiet; bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/firepoint"; fi
frames="${FRAMES:-86400}"
work="$(realpath -m "${WORK:-target/bench-growth}")"
rm -rf "$work"; mkdir -p "$work/inbox"
"$bin" --set "paths.aoi=\"$PWD/aoi\"" --set "paths.inbox=\"$work/inbox\"" --set "paths.store=\"$work/empty.sqlite\"" \
  --set "paths.feed=\"$work/feed\"" --set "paths.archive=\"$work/archive\"" --set "paths.quarantine=\"$work/q\"" run >/dev/null
python3 - "$work" "$frames" <<'PY'
import hashlib, os, random, sqlite3, sys
work, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
def size(p):
    db = sqlite3.connect(p); db.execute("VACUUM"); db.close()
    return os.path.getsize(p)
def copy(src, dst):
    a, b = sqlite3.connect(src), sqlite3.connect(dst); a.backup(b); a.close(); b.close()
empty = size(f"{work}/empty.sqlite")
sha = lambda i: hashlib.sha256(str(i).encode()).hexdigest()
path = lambda i: f"/srv/firepoint/archive/20261121/frames/CAM{i % 60 + 1:02d}/20261121T{i // 60 // 60:02d}{i // 60 % 60:02d}00Z.jpg"
at = lambda i: f"2026-11-21T{i // 60 // 60:02d}:{i // 60 % 60:02d}:00Z"
copy(f"{work}/empty.sqlite", f"{work}/inputs.sqlite")
db = sqlite3.connect(f"{work}/inputs.sqlite")
db.executemany("INSERT INTO inputs (sha256, path, kind, status, detections, processed_at, size, mtime_ns, archived_to) "
               "VALUES (?, ?, 'frame', 'done', 0, ?, ?, ?, ?)",
               [(sha(i), path(i).replace('/archive/20261121', '/inbox'), at(i), 350_000 + i, 1_763_700_000_000_000_000 + i, path(i)) for i in range(n)])
db.commit(); db.close()
with_inputs = size(f"{work}/inputs.sqlite")
copy(f"{work}/inputs.sqlite", f"{work}/day.sqlite")
db = sqlite3.connect(f"{work}/day.sqlite")
db.executemany("INSERT INTO frames (input_sha256, camera_id, camera_lon, camera_lat, captured_at, pan, tilt, hfov, score, flagged, "
               "x0, y0, x1, y1, azimuth, sigma, picture, view_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, NULL)",
               [(sha(i), f"CAM{i % 60 + 1:02d}", 115.5 + random.random() * 0.4, 37.5 + random.random() * 0.3, at(i),
                 random.uniform(0, 360), random.uniform(-5, 0), 30.0, random.random() * 0.4,
                 random.random(), random.random(), random.random(), random.random(), random.uniform(0, 360), 0.3,
                 "%016x" % random.getrandbits(64)) for i in range(n)])
db.executemany("INSERT INTO batch_runs (worker, started_at, finished_at, outcome, inputs, processed, skipped, failed, retried, opened, by_kind) "
               "VALUES ('fire-01:12345', ?, ?, 'ok', 180, 180, 0, 0, 0, 0, '{\"frame\":{\"done\":180}}')",
               [(at(i * 180), at(i * 180)) for i in range(480)])
db.commit(); db.close()
day = size(f"{work}/day.sqlite")
mb = lambda b: f"{b / 1e6:.1f} MB"
print(f"| empty store (schema {sqlite3.connect(f'{work}/empty.sqlite').execute('PRAGMA user_version').fetchone()[0]}) | {mb(empty)} |")
print(f"| + {n:,} frame input rows | +{mb(with_inputs - empty)} ({(with_inputs - empty) / n:.0f} bytes a row, indexes included) |")
print(f"| + {n:,} frame rows + 480 batch records | +{mb(day - with_inputs)} ({(day - with_inputs) / n:.0f} bytes a frame) |")
print(f"| a county-day of frames | **{mb(day - empty)}** |")
print(f"| kept by the default [retention] (30 days of frames and their input rows) | ≈ {mb(30 * (day - empty))}, then flat |")
print(f"| without pruning, a year | ≈ {(365 * (day - empty)) / 1e9:.1f} GB |")
PY
