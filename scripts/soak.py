"""The soak test's helpers (scripts/soak.sh runs them): the local notification receiver, the
input generator, the API load, the connection poller and the final checks. Standard library only."""

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADER = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"


def receiver(port_file):
    """Acts on each idempotency key once; counts every arrival. One answer in 20 is a 503."""
    lock = threading.Lock()
    state = {"arrivals": 0, "applied": {}, "repeats": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with lock:
                body = json.dumps(state).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("Idempotency-Key") or json.loads(body or b"{}").get("key", "")
            with lock:
                state["arrivals"] += 1
                fail = random.random() < 0.05
                if not fail:
                    if key in state["applied"]:
                        state["repeats"] += 1
                    state["applied"].setdefault(key, self.path)
            self.send_response(503 if fail else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def fires():
    rng = random.Random(2026)
    return [(115.50 + rng.random() * 0.38, 37.52 + rng.random() * 0.20) for _ in range(120)]


def inputs(dirs, start, count):
    """FIRMS tables `start`..`start+count`, each 1-3 rows of the sample county's fires, three days
    old (so every step is overdue), written whole into every folder of `dirs`."""
    base = datetime.now(timezone.utc) - timedelta(days=3)
    fs = fires()
    for i in range(start, start + count):
        rng = random.Random(i)
        rows = []
        for _ in range(1 + rng.randrange(3)):
            lon, lat = fs[rng.randrange(len(fs))]
            t = base + timedelta(minutes=i * 2 + rng.randrange(30))
            lon += (rng.random() - 0.5) * 0.004
            lat += (rng.random() - 0.5) * 0.004
            rows.append(f"{lat:.4f},{lon:.4f},330.0,1.0,1.0,{t:%Y-%m-%d},{t:%H%M},A,80,6.1NRT,295.0,10.0,D")
        text = HEADER + "\n" + "\n".join(rows) + "\n"
        for d in dirs:
            tmp = os.path.join(os.path.dirname(d.rstrip("/")), f".MODIS_{i:05}.csv")
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, os.path.join(d, f"MODIS_{i:05}.csv"))


def feeder(dirs, start, end):
    i = start
    while time.time() < end:
        inputs(dirs, i, 4)
        i += 4
        time.sleep(1)


def call(port, token, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    req.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        req.add_header("Content-Type", "application/json")
        data = json.dumps(body).encode()
    try:
        with urllib.request.urlopen(req, data, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def load(port, token, end, feed, inbox, inputs_end):
    """Four clients at once: lists, tickets and their logs, and team steps: ack and on site all
    along; the steps that close a ticket (false alarm, and duplicates of each other in pairs at
    once) only once the last inputs have left the inbox (a closed ticket is joined by no later
    sighting, so closing one earlier would make other tickets than the SQLite batch's). One
    reader checks the feed files."""
    stats = {"requests": 0, "errors": 0, "steps_ok": 0, "feed_reads": 0, "feed_bad": []}
    lock = threading.Lock()

    def client(n):
        rng = random.Random(n)
        while time.time() < end:
            status, body = call(port, token, "GET", "/tickets?status=active")
            ids = []
            if status == 200:
                try:
                    ids = [json.loads(line)["id"] for line in body.splitlines() if line.strip()]
                except (ValueError, KeyError, TypeError):
                    pass
            todo = [("GET", "/tickets.geojson", None)]
            if ids:
                a, b = rng.choice(ids), rng.choice(ids)
                todo += [("GET", f"/tickets/{a}", None), ("GET", f"/tickets/{a}/log", None)]
                closing = time.time() > inputs_end and not os.listdir(inbox)
                step = rng.choice(["ack", "on_site", "none"] + (["false_alarm", "duplicate"] if closing else []))
                if step == "duplicate" and a != b:
                    # both directions at once
                    t = threading.Thread(target=lambda: call(port, token, "POST", f"/tickets/{b}/duplicate", {"of": a}))
                    t.start()
                    todo.append(("POST", f"/tickets/{a}/duplicate", {"of": b}))
                elif step == "false_alarm":
                    todo.append(("POST", f"/tickets/{a}/false_alarm", {"cause": "dust"}))
                elif step in ("ack", "on_site"):
                    todo.append(("POST", f"/tickets/{a}/{step}", {}))
            for method, path, body in todo:
                s, _ = call(port, token, method, path, body)
                with lock:
                    stats["requests"] += 1
                    stats["errors"] += s == 0 or s >= 500
                    stats["steps_ok"] += method == "POST" and s == 200
            with lock:
                stats["requests"] += 1

    def feed_reader():
        while time.time() < end:
            for name in ("tickets.jsonl", "tickets.geojson"):
                try:
                    text = open(os.path.join(feed, name)).read()
                except FileNotFoundError:
                    continue
                try:
                    if name.endswith(".jsonl"):
                        for line in text.splitlines():
                            assert "id" in json.loads(line) and "features" not in json.loads(line)
                    else:
                        assert json.loads(text)["type"] == "FeatureCollection"
                    stats["feed_reads"] += 1
                except (ValueError, AssertionError, KeyError, TypeError) as e:
                    stats["feed_bad"].append(f"{name}: {e!r}")
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)] + [threading.Thread(target=feed_reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(stats))


def connections(admin, db, end):
    """The most backends the soak database had at once (the poller's own aside), every 0.2 s."""
    peak = 0
    while time.time() < end:
        out = subprocess.run(
            ["psql", "-Atq", admin, "-c",
             f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"],
            capture_output=True, text=True)
        if out.returncode == 0:
            peak = max(peak, int(out.stdout.strip() or 0))
        time.sleep(0.2)
    print(peak)


def tickets(path):
    with open(path) as f:
        return {t["id"]: t["detections"] for t in map(json.loads, filter(str.strip, f))}


def check(work, seconds, kills, budget):
    seconds, kills, budget = float(seconds), int(kills), int(budget)
    got, want = tickets(f"{work}/pg.jsonl"), tickets(f"{work}/ref.jsonl")
    load_stats = json.load(open(f"{work}/load.json"))
    received = json.load(open(f"{work}/received.json"))
    sent = set(open(f"{work}/outbox.txt").read().split())
    unsent = int(open(f"{work}/unsent.txt").read())
    applied = set(received["applied"])
    steps = {}
    for line in open(f"{work}/escalations.txt"):
        if line.strip():
            tid, detail = line.split(" ", 1)
            d = json.loads(detail)
            steps[(tid, d.get("step"), d.get("level"))] = steps.get((tid, d.get("step"), d.get("level")), 0) + 1
    twice = [k for k, n in steps.items() if n > 1]
    chains = int(open(f"{work}/chains.txt").read())
    peak = int(open(f"{work}/connections.txt").read() or 0)
    inputs = int(open(f"{work}/inputs.txt").read())
    escalations = sum(1 for k in sent if '/escalate/' in k)
    results = [
        # a soak that made nothing proves nothing (its inputs read as history, say)
        ("it did the day's work", len(got) > 0 and len(sent) > 0 and escalations > 0 and load_stats["steps_ok"] > 0,
         f"{len(got)} tickets, {len(sent)} messages, {escalations} escalations, {load_stats['steps_ok']} steps"),
        ("the tickets of one SQLite batch", got == want,
         f"{len(got)} tickets, {len(want)} in SQLite, {sum(1 for k in want if got.get(k) != want[k])} differ"),
        ("every outbox message sent", unsent == 0, f"{unsent} not sent"),
        ("every message acted on once at the receiver", sent == applied,
         f"{len(sent)} sent, {len(applied)} acted on, {len(sent - applied)} missing, {len(applied - sent)} unknown; "
         f"{received['arrivals']} arrivals, {received['repeats']} repeats dropped"),
        ("no overdue step escalated twice", not twice, f"{len(steps)} escalations, twice: {twice[:5]}"),
        ("no duplicate names a duplicate", chains == 0, f"{chains}"),
        ("the feed always parsed", not load_stats["feed_bad"],
         f"{load_stats['feed_reads']} reads, bad: {load_stats['feed_bad'][:3]}"),
        (f"PostgreSQL connections <= {budget}", peak <= budget, f"peak {peak}"),
    ]
    print(f"soak: {seconds:.0f} s; {inputs} inputs ({inputs / seconds:.1f}/s); "
          f"{load_stats['requests']} requests ({load_stats['requests'] / seconds:.1f}/s, {load_stats['errors']} errors, "
          f"{load_stats['steps_ok']} steps taken); {kills} kills survived; {len(sent)} messages "
          f"({escalations} escalations); connections peak {peak} (budget {budget})")
    ok = True
    for name, passed, detail in results:
        print(f"soak: {'ok  ' if passed else 'FAIL'} {name}: {detail}")
        ok &= passed
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "receiver":
        receiver(args[0])
    elif cmd == "inputs":
        inputs(args[:2], int(args[2]), int(args[3]))
    elif cmd == "feeder":
        feeder(args[:2], int(args[2]), float(args[3]))
    elif cmd == "load":
        load(int(args[0]), args[1], float(args[2]), args[3], args[4], float(args[5]))
    elif cmd == "connections":
        connections(args[0], args[1], float(args[2]))
    elif cmd == "check":
        check(*args)
