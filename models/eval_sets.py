#!/usr/bin/env python3
"""Lays out the held-out sets of a smoke model's split as folders `firepoint smoke eval` reads:
OUT/<set>/smoke/ and OUT/<set>/no_smoke/, holding symbolic links to ../shared/data/smoke (nothing
is copied). The split is the one the model's JSON names (`split`), rebuilt with the training
script's own index (train_smoke.build_index), so the events are exactly those the model never saw.

Sets:
  figlib-val     the FIgLib validation sequence (rm-w): smoke = after ignition, no_smoke = before
  figlib-test    the FIgLib test sequence (syp-w) and the ignition_epoch_* fragments
  singles-val    AlertTahoe and AI For Mankind frames of the validation events (no time order)
  singles-test   the same for the test events
  afm640-extra   AI For Mankind 640 px frames (positives only, may share fires with training)

Usage: /tmp/venv-train/bin/python models/eval_sets.py --data ../shared/data/smoke \
         --model models/smoke-view-v3.json --out /tmp/firepoint-eval
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_smoke as ts  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/smoke")
    ap.add_argument("--model", default="models/smoke-view-v3.json")
    ap.add_argument("--out", default="/tmp/firepoint-eval")
    args = ap.parse_args()
    with open(args.model) as f:
        split = json.load(f)["split"]
    where = {e: s for s, events in split.items() for e in events}
    recs = ts.build_index(args.data)
    counts = {}
    for r in recs:
        s = where.get(r["event"], r["split"])
        if r["source"] == "figlib":
            name = "figlib-" + s
        elif r["source"] == "afm640":
            name = "afm640-extra"
        else:
            name = "singles-" + s
        if s == "train" or name.endswith("-train"):
            continue
        d = os.path.join(args.out, name, "smoke" if r["label"] == 1 else "no_smoke")
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, os.path.basename(r["rel"]))
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(os.path.join(args.data, r["rel"])), link)
        counts.setdefault(name, [0, 0])[r["label"] == 0] += 1
    for name in sorted(counts):
        for sub in ("smoke", "no_smoke"):
            os.makedirs(os.path.join(args.out, name, sub), exist_ok=True)
        print("%-14s %4d smoke, %4d no smoke" % (name, counts[name][0], counts[name][1]))


if __name__ == "__main__":
    main()
