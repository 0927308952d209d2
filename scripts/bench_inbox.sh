#!/usr/bin/env bash
# Issue 21's inbox and feed figures, each measured side by side in one run (hyperfine, whole
# processes, a fresh copy of the same store before every run):
#
# Inbox: a batch over 10 new camera frames alone (A), against a batch over the same 10 frames in
# an inbox that still holds a county-day of processed frames (FRAMES, 86,400 = 60 towers × 1,440
# minutes) that the store recorded with their size and time (B: each kept file is a stat, never a
# read), and against the same inbox with the store's rows lacking size and time (C: every kept
# file is hashed again, which is what every batch did before issue 21). Kept frames are FRAME_KB
# of random bytes each under inbox/frames/CAMxx/ (never decoded: a batch that reads one hashes it,
# and finds its checksum recorded); the store's rows for them are written with sqlite3.
# Every batch runs with retention.inputs = "keep" so that A, B and C differ only in the inbox.
#
# Feed: a store of TICKETS tickets (36,500: a year of 100 fires a day, one FIRMS table), all but
# the last week's closed a day after they opened; a batch over an empty inbox when nothing changed
# (D: the feed is current, nothing is written), after one ticket changed (E: the week's window is
# written) and with the feed written whole (F: window of a century, the state file removed: every
# ticket ever, what every batch did before issue 21). Peak RSS from hyperfine's --export-json is
# not given; /usr/bin/time -v of one run each is printed instead.
#
# Usage: bash scripts/bench_inbox.sh
#   FRAMES=86400  FRAME_KB=32  TICKETS=36500  RUNS=5  WORK=target/bench-inbox  BENCH_PROFILE=release|dev-opt
#   FIREPOINT_BIN=another build (default: this tree's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
for tool in hyperfine sqlite3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq hyperfine sqlite3 time >/dev/null; }
done
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then
  case "${BENCH_PROFILE:-release}" in
    release) cargo build --locked --release --quiet; bin="${CARGO_TARGET_DIR:-$PWD/target}/release/firepoint" ;;
    # the dev profile's dependencies as built for the tests (opt-level 2), firepoint at opt-level 3:
    # minutes instead of a release build's half hour on 2 cores (debug assertions stay on)
    dev-opt) CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --locked --quiet; bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/firepoint" ;;
    *) echo "BENCH_PROFILE is release or dev-opt" >&2; exit 2 ;;
  esac
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.deps/onnxruntime/libonnxruntime.so}"
frames="${FRAMES:-86400}"; kb="${FRAME_KB:-32}"; tickets="${TICKETS:-36500}"; runs="${RUNS:-5}"
work="$(realpath -m "${WORK:-target/bench-inbox}")"
rm -rf "$work"; mkdir -p "$work"
# one configuration file per case (paths in a config file are relative to it: all in $work)
conf() { # NAME INBOX STORE FEED [WINDOW_DAYS]
  cat >"$work/$1.toml" <<TOML
[paths]
aoi = "$PWD/aoi"
inbox = "$2"
store = "$3"
feed = "$4"
quarantine = "quarantine"
archive = "archive"
[camera]
model = "$PWD/models/smoke-view-v3.onnx"
[retention]
inputs = "keep"
[feed]
window_days = ${5:-7}
TOML
  echo "$bin --config $work/$1.toml"
}
# --- the inbox -------------------------------------------------------------------------------
# the 10 new frames: a minute of the sample district's 10 towers (real frames with their poses)
$(conf new "$work/new" "$work/new.sqlite" "$work/feed") simulate --slice 2026-11-22T08:00:00Z --minutes 1 --frame-size 1280x720 >/dev/null
new_count=$(find "$work/new/frames" -name '*.jpg' | wc -l)
# the store: made by a batch over an empty inbox, then FRAMES processed frames recorded in it
mkdir -p "$work/empty" "$work/alone"
$(conf base "$work/empty" "$work/base.sqlite" "$work/feed") run >/dev/null
python3 - "$work" "$frames" "$kb" <<'PY'
import hashlib, os, sqlite3, sys
work, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(f"{work}/base.sqlite")
rows = []
for i in range(n):
    cam, minute = i % 60, i // 60
    d = f"{work}/kept/frames/CAM{cam + 1:02d}"
    os.makedirs(d, exist_ok=True)
    path = f"{d}/20261121T{minute // 60:02d}{minute % 60:02d}00Z.jpg"
    body = os.urandom(kb * 1024)
    with open(path, "wb") as f:
        f.write(body)
    st = os.stat(path)
    rows.append((hashlib.sha256(body).hexdigest(), path, st.st_size, st.st_mtime_ns))
db.executemany("INSERT INTO inputs (sha256, path, kind, status, detections, processed_at, size, mtime_ns) "
               "VALUES (?, ?, 'frame', 'done', 0, '2026-11-21T12:00:00Z', ?, ?)", rows)
db.commit()
db.close()
# C's store: the same rows without size and time (a batch must hash each file to know it)
u = sqlite3.connect(f"{work}/unstamped.sqlite")
sqlite3.connect(f"{work}/base.sqlite").backup(u)
u.execute("UPDATE inputs SET size = NULL, mtime_ns = NULL")
u.commit()
PY
# before each run: a fresh copy of the case's store, and the new frames put (back) into its inbox
prep() { # STORE INBOX
  echo "cp $work/$1 $work/run.sqlite && rm -f $work/run.sqlite-wal $work/run.sqlite-shm && mkdir -p $2/frames && cp -r $work/new/frames/. $2/frames/"
}
a=$(conf a "$work/alone" "$work/run.sqlite" "$work/feed-run")
b=$(conf b "$work/kept" "$work/run.sqlite" "$work/feed-run")
echo "inbox: $new_count new frames; kept day: $frames frames of $kb KB ($(du -sh "$work/kept" | cut -f1))" >&2
hyperfine --runs "$runs" --warmup 1 --style basic --export-markdown "$work/inbox.md" \
  -n "A: $new_count new frames alone" --prepare "$(prep base.sqlite "$work/alone")" "$a run" \
  -n "B: + $frames kept frames (stat)" --prepare "$(prep base.sqlite "$work/kept")" "$b run" \
  -n "C: + $frames kept frames (hashed, as before)" --prepare "$(prep unstamped.sqlite "$work/kept")" "$b run"

# --- the feed --------------------------------------------------------------------------------
python3 - "$work" "$tickets" <<'PY'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{work}/year/satellite", exist_ok=True)
rows = ["latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"]
import datetime
day0 = datetime.date(2026, 1, 1)
for i in range(n):
    d, k = divmod(i, 100)
    lat, lon = 37.52 + (k // 10) * 0.025, 115.52 + (k % 10) * 0.035
    day = day0 + datetime.timedelta(days=d % 365)
    rows.append(f"{lat:.4f},{lon:.4f},330.0,1.0,1.0,{day},0530,A,80,6.1NRT,295.0,10.0,D")
open(f"{work}/year/satellite/MODIS_year.csv", "w").write("\n".join(rows) + "\n")
PY
d=$(conf year "$work/year" "$work/year.sqlite" "$work/feed-year")
$d run >"$work/year.txt" 2>&1 || true
sqlite3 "$work/year.sqlite" "UPDATE tickets SET status = 'resolved', closed_at = first_seen, updated_at = first_seen
  WHERE first_seen < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')"
echo "feed: $(sqlite3 "$work/year.sqlite" 'SELECT count(*) FROM tickets') tickets, $(sqlite3 "$work/year.sqlite" "SELECT count(*) FROM tickets WHERE status = 'open'") open" >&2
e=$(conf empty "$work/empty" "$work/year.sqlite" "$work/feed-year")
f=$(conf whole "$work/empty" "$work/year.sqlite" "$work/feed-year" 36500)
$e run >/dev/null
touch_one="sqlite3 $work/year.sqlite \"UPDATE tickets SET updated_at = updated_at WHERE id = (SELECT min(id) FROM tickets)\""
hyperfine --runs "$runs" --warmup 1 --style basic --export-markdown "$work/feed.md" \
  -n "D: empty batch, nothing changed" --prepare true "$e run" \
  -n "E: empty batch, one ticket changed (7-day window)" --prepare "$touch_one" "$e run" \
  -n "F: empty batch, every ticket written (as before)" --prepare "rm -f $work/feed-year/.feed-state" "$f run"
for what in D E F; do
  case $what in
    D) pre=true; cmd=$e ;;
    E) pre="$touch_one"; cmd=$e ;;
    F) pre="rm -f $work/feed-year/.feed-state"; cmd=$f ;;
  esac
  sh -c "$pre"
  /usr/bin/time -f "$what: %e s wall, %M KB peak RSS" $cmd run >/dev/null 2>"$work/time-$what.txt" || true
  tail -1 "$work/time-$what.txt"
done
$e run >/dev/null
echo "feed files (7-day window): $(du -sh "$work/feed-year" | cut -f1), tickets.jsonl lines $(wc -l <"$work/feed-year/tickets.jsonl")"
cat "$work/inbox.md" "$work/feed.md"
