#!/usr/bin/env bash
# Issue #9's load figure: the ticket feed's read endpoints (`GET /tickets`, `GET /tickets/{id}`)
# under wrk on loopback, each with and without one slow client attached (a POST that announces
# Content-Length 60000 and then sends 1 byte a second, reconnecting whenever the server cuts it
# off), for this build and, with FIREPOINT_BIN_OLD, an older one side by side on the same store.
# The server runs on CPU 0 and wrk (2 threads, keep-alive) and the slow client on CPU 1, for every
# build alike, a fresh server per figure. The store: TICKETS in-county FIRMS fire points 6 h apart,
# through `firepoint run` (made by the old build when there is one, so both can open it; a newer build
# migrates its copy). This build is asked with a county token (`firepoint token add --county`);
# a build without tokens ignores the header. Raw wrk outputs go to target/bench-serve/.
# Usage: [FIREPOINT_BIN_OLD=path/to/old/firepoint] bash scripts/bench_serve.sh [TICKETS] [CLIENTS] [SECONDS]
#        (default 327 32 10; FIREPOINT_BIN=path to time another build as "new" instead of building)
set -euo pipefail
new="${FIREPOINT_BIN:+$(realpath "$FIREPOINT_BIN")}" old="${FIREPOINT_BIN_OLD:+$(realpath "$FIREPOINT_BIN_OLD")}"
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
command -v taskset >/dev/null && command -v curl >/dev/null || { echo "bench_serve: needs taskset and curl" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench_serve: needs 2 CPUs (server on one, wrk on the other)" >&2; exit 2; }

if [ -z "$new" ]; then
  bash scripts/setup.sh
  cargo build --locked --release --quiet
  new="${CARGO_TARGET_DIR:-$PWD/target}/release/firepoint"
fi
tickets="${1:-327}" clients="${2:-32}" secs="${3:-10}"
export ORT_DYLIB_PATH="$PWD/.deps/onnxruntime/libonnxruntime.so"
out="$PWD/target/bench-serve"; mkdir -p "$out"; rm -f "$out"/*
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

paths() {  # the --set flags that point a build at the repo's aoi/ and at store $1 in $work
  printf '%s\0' --set "paths.aoi=\"$PWD/aoi\"" --set "paths.inbox=\"$work/inbox\"" --set "paths.store=\"$1\"" \
    --set "paths.feed=\"$work/feed\"" --set "paths.quarantine=\"$work/q\""
}
fp() { local bin="$1" store="$2"; shift 2; local a; mapfile -d '' a < <(paths "$store"); "$bin" "${a[@]}" "$@"; }

# --- the store: TICKETS fires 6 h apart (beyond events.merge_window_min), topped up until there are
# --- TICKETS tickets (a point may fall on a masked heat source or outside every village)
maker="${old:-$new}"
mkdir -p "$work/inbox/satellite"
made=0 written=0
for round in 1 2 3 4 5; do
  [ "$made" -lt "$tickets" ] || break
  python3 - "$written" "$((tickets - made))" "$work/inbox/satellite/MODIS_bench_$round.csv" <<'PY'
import datetime, random, sys
first, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(first)
with open(out, "w") as f:
    f.write("latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight\n")
    for k in range(first, first + n):  # the sample county's core (115.55-115.85 E, 37.52-37.78 N): all its townships
        t = datetime.datetime(2025, 6, 1) + datetime.timedelta(hours=6 * k)
        f.write(f"{random.uniform(37.52, 37.78):.5f},{random.uniform(115.55, 115.85):.5f},330.0,1.0,1.0,"
                f"{t:%Y-%m-%d},{t:%H%M},A,80,6.1NRT,295.0,10.0,D\n")
PY
  written=$((written + tickets - made))
  fp "$maker" "$work/store.sqlite" run >/dev/null 2>"$work/run.log" || [ $? = 1 ] || { cat "$work/run.log" >&2; exit 2; }
  fp "$maker" "$work/store.sqlite" tickets list --format jsonl >"$work/tickets.jsonl"
  made="$(wc -l <"$work/tickets.jsonl")"
done
read -r id towns < <(python3 -c 'import json, sys
t = [json.loads(l) for l in open(sys.argv[1])]
print(t[0]["id"], len({x["township_code"] for x in t}))' "$work/tickets.jsonl")
echo "bench_serve: store of $made tickets over $towns townships; GET /tickets/$id" >&2

# --- one client that never finishes its request body
cat >"$work/slow.py" <<'PY'
import os, socket, sys, time
port, token, tid, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
head = (f"POST /tickets/{tid}/ack HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 60000\r\n\r\n").encode()
conns = sent = answers = 0
def note():
    with open(log + ".tmp", "w") as f:
        f.write(f"connections={conns} body_bytes_sent={sent} answers={answers}\n")
    os.replace(log + ".tmp", log)  # whole, even when killed mid-write
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        conns += 1
        s.sendall(head)
        s.setblocking(False)
        while True:
            try:
                if s.recv(4096) == b"":
                    break           # the server closed it
                answers += 1        # an answer (e.g. 408) before the body ended: the server gave up
                break
            except BlockingIOError:
                pass
            s.send(b" ")
            sent += 1
            note()
            time.sleep(1)
    except OSError:
        time.sleep(0.2)
    finally:
        try: s.close()
        except Exception: pass
    note()
PY
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout))
end
LUA

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
rows=()
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

measure() {  # build-label bin extra-serve-flags...: the four figures of one build
  local label="$1" bin="$2"; shift 2
  local store="$work/$label.sqlite" auth=() token=x flags
  mapfile -d '' flags < <(paths "$store")
  cp "$work/store.sqlite" "$store"
  if [ "$label" != old ]; then
    token="$(fp "$bin" "$store" token add --county --name bench 2>/dev/null)"
    auth=(-H "Authorization: Bearer $token")
  fi
  for path in /tickets "/tickets/$id"; do
    for slow in no yes; do
      local tag="$label-$( [ "$path" = /tickets ] && echo list || echo one)-slow_$slow"
      taskset -c 0 "$bin" "${flags[@]}" "$@" serve --listen "127.0.0.1:$port" >"$out/$tag.server.log" 2>&1 &
      local srv=$!; pids+=("$srv")
      for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
      local code; code="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:$port$path")"
      [ "$code" = 200 ] || { echo "bench_serve: $label GET $path answered $code" >&2; exit 2; }
      taskset -c 1 wrk -t2 -c"$clients" -d2s "${auth[@]}" "http://127.0.0.1:$port$path" >/dev/null  # warm-up
      local slowpid=
      if [ "$slow" = yes ]; then
        taskset -c 1 python3 "$work/slow.py" "$port" "$token" "$id" "$out/$tag.slow.txt" & slowpid=$!; pids+=("$slowpid")
        sleep 2  # attached, mid-body
      fi
      taskset -c 1 wrk -t2 -c"$clients" -d"${secs}s" --latency -s "$work/report.lua" "${auth[@]}" \
        "http://127.0.0.1:$port$path" >"$out/$tag.wrk.txt" 2>&1 || true
      [ -z "$slowpid" ] || stop "$slowpid"
      stop "$srv"
      local r; read -r _ n dur p50 p99 status econn eread ewrite etime < <(grep '^RESULT' "$out/$tag.wrk.txt") \
        || { echo "bench_serve: no result in $out/$tag.wrk.txt" >&2; exit 2; }
      r="$(awk -v n="$n" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')"
      [ "$n" -gt 0 ] && p50="$(ms "$p50")" p99="$(ms "$p99")" || p50=- p99=-
      rows+=("| $label | GET $( [ "$path" = /tickets ] && echo /tickets || echo '/tickets/{id}') | $slow | $r | $p50 | $p99 | $status | $econn/$eread/$ewrite/$etime |")
      echo "bench_serve: $tag: $r req/s" >&2
    done
  done
}

[ -z "$old" ] || measure old "$old"
measure new "$new" --set serve.notify_every_s=0

{
  echo
  echo "Ticket feed on loopback, $made tickets over $towns townships: server pinned to CPU 0 (\`taskset -c 0\`), wrk and the slow"
  echo "client to CPU 1, the same for every build ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))."
  echo "wrk: 2 threads, $clients keep-alive connections, ${secs} s per row after a 2 s warm-up; a fresh server per row."
  echo "Slow client: one POST announcing Content-Length 60000, then 1 byte/s, reconnecting when cut off."
  echo "Errors: wrk's socket errors connect/read/write/timeout (a request never answered counts in none"
  echo "of them: it only lowers req/s). Latency \"-\": no request was answered at all."
  echo
  echo "| build | endpoint | slow client | req/s | p50 ms | p99 ms | non-2xx | errors c/r/w/t |"
  echo "|---|---|---|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  for f in "$out"/*.slow.txt; do [ -f "$f" ] && echo "$(basename "$f" .slow.txt) slow client: $(cat "$f")"; done
  echo "raw wrk outputs: $out/"
} | tee "$out/summary.md"
