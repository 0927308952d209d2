#!/usr/bin/env bash
# The province soak test (issue 23): one PostgreSQL store on a throwaway cluster (scripts/pg.sh),
# 4 `firepoint run` workers + 2 `firepoint notify` senders (each in a loop, as cron runs them) +
# `firepoint serve` (with its own sender), under bounded concurrent reads and team steps through
# serve's API, with workers and senders SIGKILLed at random and started again, for a bounded
# time. New FIRMS inputs arrive in the inbox all along; their times are days old, so every step
# goes overdue and escalates. Then it checks:
#   - the tickets are exactly those of one uninterrupted SQLite `firepoint run` over the same inputs
#     (ids and sightings);
#   - every outbox message arrived at the local receiver and was acted on exactly once (by its
#     idempotency key; repeats after a kill are dropped there), escalations included, and no
#     overdue step was escalated twice;
#   - no duplicate names a duplicate (no cycle, no chain);
#   - every read of the feed files while it ran parsed as its own format;
#   - the database's connections never exceeded docs/DEPLOY.md's connection budget:
#     2 × workers + senders + serve.pool_size + 2
#     (counted from pg_stat_activity: every backend of the soak database but the poller's own).
# and prints its figures (inputs/s, requests/s, kills survived, messages, connections peak).
#
#   bash scripts/soak.sh [--minutes N | --seconds N]     (default 10 minutes)
#
# Exit status 0 when every check holds, 1 otherwise. FIREPOINT_BIN picks the binary (default:
# target/release/firepoint if built, else target/debug/firepoint, built if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
seconds=600
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(( $2 * 60 )); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: soak.sh [--minutes N | --seconds N]" >&2; exit 2 ;;
  esac
done
workers=4 senders=2 pool=8
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bin="${FIREPOINT_BIN:-}"
if [ -z "$bin" ]; then
  if [ -x target/release/firepoint ]; then bin="$repo/target/release/firepoint"; else
    [ -x target/debug/firepoint ] || cargo build -q --bin firepoint
    bin="$repo/target/debug/firepoint"
  fi
fi
export ORT_DYLIB_PATH="$repo/.deps/onnxruntime/libonnxruntime.so"
unset FIREPOINT_CONFIG RUST_LOG

work="$(mktemp -d /tmp/firepoint-soak.XXXXXX)"
pids=()
cleanup() {
  # reaped here, so bash does not announce each "Killed" in the test log
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -n "${FIREPOINT_PG_DIR:-}" ] && bash scripts/pg.sh stop "$FIREPOINT_PG_DIR"
  [ -n "${SOAK_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
eval "$(bash scripts/pg.sh start)"
admin="$FIREPOINT_TEST_PG"
psql -q "$admin" -c "CREATE DATABASE soak" >/dev/null
url="${admin%/*}/soak"

python3 "$repo/scripts/soak.py" receiver "$work/receiver.port" >"$work/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
rport="$(cat "$work/receiver.port")"
sport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# firepoint for place $1 (pg: the soak's store; ref: the SQLite reference), as cron would run it:
# a script that execs the binary, so a pid taken of it is firepoint's own (to SIGKILL)
# (events.live_window_h = 0: the tables are three days old so that every step is overdue; they
# are replayed live, not recorded as history)
pool_set=""
# serve's bounded pool: set where this firepoint has the key
"$bin" config 2>/dev/null | grep -q '^pool_size' && pool_set="--set serve.pool_size=$pool"
{
  echo '#!/usr/bin/env bash'
  echo "work='$work' url='$url' bin='$bin' repo='$repo' rport='$rport'"
  cat <<'EOF'
at="$work/$1"; shift
if [ "$at" = "$work/pg" ]; then store="$url"; else store="$at/firepoint.sqlite"; fi
cd "$at" && exec "$bin" \
  --set "paths.aoi=\"$repo/aoi\"" --set "camera.model=\"$repo/models/smoke-view-v3.onnx\"" \
  --set "paths.inbox=\"$at/inbox\"" --set "paths.store=\"$store\"" --set "paths.feed=\"$at/feed\"" \
  --set "paths.quarantine=\"$at/quarantine\"" --set "paths.archive=\"$at/archive\"" \
  --set batch.claim_s=3 --set batch.poll_ms=50 \
  --set events.live_window_h=0 \
  --set "notify.webhook_url=\"http://127.0.0.1:$rport/hook\"" --set "notify.sms_url=\"http://127.0.0.1:$rport/sms\"" \
  --set "notify.county_office_phone=\"13900000001\"" --set notify.timeout_s=2 \
  --set notify.backoff_s=1 --set notify.max_backoff_s=2 --set notify.claim_s=3 \
  --set notify.max_attempts=1000 --set serve.notify_every_s=1 POOL_SET "$@"
EOF
} | sed "s|POOL_SET|$pool_set|" >"$work/fp"
chmod +x "$work/fp"
fp() { "$work/fp" "$@"; }
mkdir -p "$work/pg/inbox/satellite" "$work/ref/inbox/satellite"
export XDG_CACHE_HOME="$work/cache"
fp pg run >/dev/null 2>&1 || true   # the schema, the district's cache
token="$(fp pg token add --county --name soak)"

echo "soak: ${seconds}s, $workers workers + $senders senders + serve on $url; receiver :$rport, serve :$sport" >&2
"$work/fp" pg serve --listen "127.0.0.1:$sport" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$sport/health" >/dev/null && break; sleep 0.2; done

end=$(( $(date +%s) + seconds ))
# the inputs: 40 at once, then 4 a second until the end (the same files into both inboxes)
python3 "$repo/scripts/soak.py" inputs "$work/pg/inbox/satellite" "$work/ref/inbox/satellite" 0 40
# inputs arrive for the first 60 % of the time; the steps that close tickets come after the last
inputs_end=$(( $(date +%s) + seconds * 6 / 10 ))
python3 "$repo/scripts/soak.py" feeder "$work/pg/inbox/satellite" "$work/ref/inbox/satellite" 40 "$inputs_end" &
pids+=($!)
# a slot runs its command again and again until the end; its current pid in $work/<slot>.pid
slot() {
  local name="$1"; shift
  while [ "$(date +%s)" -lt "$end" ]; do
    "$work/fp" pg "$@" >>"$work/$name.log" 2>&1 &
    echo $! >"$work/$name.pid"
    wait $! || true
    sleep 0.3
  done
}
for i in $(seq $workers); do slot "worker$i" run 2>/dev/null & pids+=($!); done
for i in $(seq $senders); do slot "sender$i" notify 2>/dev/null & pids+=($!); done
python3 "$repo/scripts/soak.py" load "$sport" "$token" "$end" "$work/pg/feed" "$work/pg/inbox/satellite" "$inputs_end" \
  >"$work/load.json" &
load=$!; pids+=($load)
python3 "$repo/scripts/soak.py" connections "$admin" soak "$end" >"$work/connections.txt" &
conns=$!; pids+=($conns)
# SIGKILL a random worker or sender every 1–3 s
kills=0
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$(( RANDOM % 3 + 1 ))"
  names=($(for i in $(seq $workers); do echo worker$i; done) $(for i in $(seq $senders); do echo sender$i; done))
  victim="${names[RANDOM % ${#names[@]}]}"
  if [ -s "$work/$victim.pid" ] && kill -9 "$(cat "$work/$victim.pid")" 2>/dev/null; then kills=$((kills + 1)); fi
done
wait "$load" "$conns" || true
sleep 1
# serve stops; a last worker and senders finish what is left, as cron would
kill -9 "${pids[1]}" 2>/dev/null || true
fp pg run >>"$work/last.log" 2>&1 || true
for _ in $(seq 120); do
  fp pg notify >>"$work/last.log" 2>&1 || true
  pending="$(psql -Atq "$url" -c "SELECT count(*) FROM outbox WHERE state = 'pending'")"
  [ "$pending" = 0 ] && break
  sleep 1
done
fp ref run >"$work/ref.log" 2>&1 || true
fp ref tickets list --format jsonl >"$work/ref.jsonl"
fp pg tickets list --format jsonl >"$work/pg.jsonl"
psql -Atq "$url" -c "SELECT key FROM outbox WHERE state = 'sent'" >"$work/outbox.txt"
psql -Atq "$url" -c "SELECT count(*) FROM outbox WHERE state != 'sent'" >"$work/unsent.txt"
psql -Atq "$url" -c "SELECT ticket_id || ' ' || detail FROM ticket_log WHERE action = 'escalate'" >"$work/escalations.txt"
psql -Atq "$url" -c "SELECT count(*) FROM tickets a JOIN tickets b ON b.id = a.duplicate_of
                     WHERE a.status = 'duplicate' AND b.status = 'duplicate'" >"$work/chains.txt"
psql -Atq "$url" -c "SELECT count(*) FROM inputs" >"$work/inputs.txt"
curl -sf "http://127.0.0.1:$rport/state" >"$work/received.json"
python3 "$repo/scripts/soak.py" check "$work" "$seconds" "$kills" "$(( 2 * workers + senders + pool + 2 ))"
