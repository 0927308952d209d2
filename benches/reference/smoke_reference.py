#!/usr/bin/env python3
"""Python reference of firepoint's camera smoke path (smoke-tile-v2 and smoke-view-v3), for benchmarking the Rust port.

For every frame in a folder: decode (PIL) -> tile per the contract in models/smoke-tile-v2.json
(resize bilinear to width W keeping aspect, h = floor(H*W/w + 0.5) >= 224; 224x224 tiles at
0, S, 2S, ... while x+224 < W plus one at W-224, same for y, row-major; then the whole frame
squashed to 224x224, last) -> onnxruntime (intra-op threads = 2, tiles batched) -> frame score =
max tile prob. A view model (smoke-view-v3) judges the folder as one view, as firepoint's recorder
does: the first frame alone at the strict threshold, then each tile's logit against its own
percentile over the earlier frames. Prints frames/s end to end and the bare onnxruntime tiles/s
on the same tiles.

Usage: /tmp/venv-train/bin/python benches/reference/smoke_reference.py DIR [--model models/smoke-tile-v2.onnx]
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def starts(n, t, s):
    xs, x = [], 0
    while x + t < n:
        xs.append(x)
        x += s
    return xs + [n - t]


def tile_frame(path, W, S, T=224):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    rh = max(T, (h * W * 2 + w) // (2 * w))  # floor(h*W/w + 0.5)
    big = np.asarray(img.resize((W, rh), Image.BILINEAR))
    tiles = [big[y:y + T, x:x + T] for y in starts(rh, T, S) for x in starts(W, T, S)]
    tiles.append(np.asarray(img.resize((T, T), Image.BILINEAR)))
    return np.stack(tiles).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--model", default="models/smoke-tile-v2.onnx")
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    meta = json.load(open(os.path.splitext(a.model)[0] + ".json"))
    W, S, thr = meta["resize_width"], meta["stride"], meta["threshold"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(a.dir) for f in fs
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    view = meta.get("view")
    run = lambda x: np.concatenate([sess.run(["prob"], {"tiles": x[i:i + a.batch]})[0]
                                    for i in range(0, len(x), a.batch)])
    run(tile_frame(paths[0], W, S))  # warm-up
    t0, all_tiles, flagged, history = time.perf_counter(), [], 0, []
    for p in paths:
        x = tile_frame(p, W, S)
        prob = run(x)
        score = float(prob.max())
        if view:  # one view (the folder): its first frame alone, then each tile against its own past
            q = np.clip(prob.astype(np.float32), np.float32(1e-7), np.float32(1 - 1e-7))
            lg = np.log(q) - np.log1p(-q)
            if not history:
                score, thr = float(prob[:-1].max()), view["warm_threshold"]
            else:
                base = np.percentile(np.stack(history[-view["baseline_frames"]:]), view["baseline_percentile"], axis=0)
                margin = np.minimum(lg - base - view["rise"], lg - view["min_logit"])[:-1]
                score, thr = float(1 / (1 + np.exp(-margin.max()))), 0.5
            history.append(lg)
        flagged += score >= thr
        all_tiles.append(x)
    dt = time.perf_counter() - t0
    x = np.concatenate(all_tiles)
    t1 = time.perf_counter()
    run(x)
    dt_ort = time.perf_counter() - t1
    print(f"{len(paths)} frames, {len(x)} tiles, {flagged} flagged at threshold {thr:.4f}")
    print(f"end to end (decode+tile+ort): {len(paths) / dt:.2f} frames/s")
    print(f"bare onnxruntime: {len(x) / dt_ort:.1f} tiles/s (batch {a.batch}, 2 intra-op threads)")


if __name__ == "__main__":
    main()
