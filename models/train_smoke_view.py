#!/usr/bin/env python3
"""Train firepoint's smoke-view-v3 model: a tile smoke model that also sees what is new in a
camera's view (CPU, reproducible), and export it to ONNX for src/detect (Rust).

Why: a single frame cannot tell smoke from a look-alike in a view the model has never seen
(models/MODEL_CARD.md, smoke-tile-v2's longer run: static places of unseen views scored 1.0 in
every frame). A tower watches the same views all day, so the model is given the view's own past:
SmokeyNet's lesson (FIgLib 2022: tiles of frame pairs beat single frames), with the earlier frames
entering as tile embeddings kept per view by firepoint.

Model (one ONNX file, tiling contract of smoke-tile-v2: frame resized to 1120 px wide, 224-px
tiles at stride 224 plus one flush with each edge, row-major, then the whole frame as one tile):
  input    tiles [N,3,224,224] float32 RGB 0..1 (ImageNet mean/std inside the graph)
  outputs  prob [N]   single-frame smoke probability (EfficientNet-Lite0, fine-tuned)
           key  [N,K] the tile's key for the view's memory: -A e (e = the tile's 1280-d embedding)
           now  [N,K] the tile's side of the change head: A e + a
  The change head is small and runs in firepoint at record time, in order, against the view's
  memory (its weights are in smoke-view-v3.json, `view.head`):
           new_prob = sigmoid(w2 . relu(W1 . relu(now + ref) + b1) + b2)
  where ref is the mean key of the same tile over the view's previous frames (up to
  `ref_frames`), so now + ref = A (e - mean of the earlier embeddings) + a: the head sees only
  what changed, never how smoke-like an unchanged place looks. Because the key is linear in the
  embedding, the mean of keys is the key of the mean embedding: the view's memory is K floats
  per tile and frame, and the head sees exactly what it was trained on. The frame's analysis stays stateless (any worker, any order); only the
  recorder, which takes inputs in order, reads and updates the view's memory.

Stage A (single tiles, whole network fine-tuned, BatchNorm statistics frozen): positives are the
box-labelled plumes of AlertTahoe and AI For Mankind (train events) and synthetic plumes
(models/plumes.py) drawn into smoke-free crops of training frames; negatives are crops outside the
boxes, AI For Mankind unverified frames, FIgLib pre-ignition frames of the train event, and mined
hard negatives (top-scoring tiles); FIgLib post-ignition frames >= 5 min of the train event give
multiple-instance positives (top tile).
Stage B (the change head, backbone frozen, embeddings computed once): pairs (tile now, mean of the
same tile in 1-5 earlier frames) from (1) the FIgLib train event's real sequence: pre-ignition
frames = negatives with real cloud drift and light change, the same frames with a synthetic plume
= positives, post-ignition MIL tiles against the pre-ignition reference = real positives; (2)
synthetic sequences on every smoke-free training tile: background change only (negative), a plume
that appears (positive), one that grows (positive), one that was already there unchanged (negative:
not new), a caption band in every frame (negative).

Split by event, never by frame (train_smoke.py's split: FIgLib rm-n train, rm-w val, syp-w and the
ignition_epoch_* fragments test; AlertTahoe by fire, AI For Mankind by dHash group). Thresholds
are chosen on val; test is scored once. The numbers go to smoke-view-v3.json; the card states them.

Usage (venv outside the repo, see models/requirements-train.txt):
  nice -n 10 /tmp/venv-train/bin/python models/train_smoke_view.py --data ../shared/data/smoke --out models
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plumes  # noqa: E402
import train_smoke as ts  # noqa: E402  (tiling contract, index, split, cache, crops, metrics)

NAME = "smoke-view-v3"
SEED = 20261206
K = 128           # key width
REF_FRAMES = 5    # earlier frames whose keys make the reference
HEAD_STEPS = 6000  # stage B's steps
log = ts.log


# ---------------------------------------------------------------- model
def make_model():
    import torch

    class ViewNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tile = ts.make_model()                       # EfficientNet-Lite0 + 1-logit head
            # the change head sees only the change: now = A e + a, key = -A e (tied), so
            # now + mean(key of earlier frames) = A (e - mean e_earlier) + a; a place that looks
            # the same as before gives the head nothing, however smoke-like it looks
            self.now = torch.nn.Linear(1280, K)               # A, a
            self.h1 = torch.nn.Linear(K, 32)
            self.h2 = torch.nn.Linear(32, 1)

        def key(self, e):
            return -torch.nn.functional.linear(e, self.now.weight)

        def embed(self, x):
            net = self.tile.net
            f = net.extract_features((x - self.tile.mean) / self.tile.std)
            e = torch.nn.functional.adaptive_avg_pool2d(f, 1).flatten(1)
            return e, net._fc(net._dropout(e)).reshape(-1)

        def head(self, e, ref):
            z = torch.relu(self.now(e) + ref)
            return self.h2(torch.relu(self.h1(z))).reshape(-1)

        def forward(self, tiles):
            e, logit = self.embed(tiles)
            return torch.sigmoid(logit), self.key(e), self.now(e)
    return ViewNet()


def head_weights(model):
    """The change head's weights as firepoint reads them from the JSON (row-major lists)."""
    r = lambda t: [[round(float(v), 7) for v in row] for row in t.detach().numpy()]  # noqa: E731
    v = lambda t: [round(float(x), 7) for x in t.detach().numpy().reshape(-1)]  # noqa: E731
    return {"w1": r(model.h1.weight), "b1": v(model.h1.bias), "w2": v(model.h2.weight), "b2": v(model.h2.bias)}


def head_np(head, now, ref):
    """The change head in numpy, exactly as src/detect/view.rs computes it: [N,K] x [N,K] -> [N]."""
    z = np.maximum(0.0, now + ref)
    h = np.maximum(0.0, z @ np.asarray(head["w1"], np.float32).T + np.asarray(head["b1"], np.float32))
    logit = h @ np.asarray(head["w2"], np.float32) + head["b2"][0]
    return 1.0 / (1.0 + np.exp(-logit))


# ---------------------------------------------------------------- stage A: single tiles
def synth_positive(r, rng):
    """A smoke-free crop of training frame `r` with a synthetic plume drawn in, or None."""
    a = ts.neg_crop(r, rng)
    if a is None:
        return None
    c = a.shape[0]
    h = float(np.exp(rng.uniform(np.log(6), np.log(150))))
    p = plumes.Plume(h, rng)
    base = (rng.uniform(0.15, 0.85) * c, rng.uniform(0.45, 0.98) * c)
    return plumes.draw(np.ascontiguousarray(a), p, base, 1.0)


def train_tiles(recs, steps, minutes, batch, rng):
    import torch
    tr = [r for r in recs if r["split"] == "train"]
    pos_at = [r for r in tr if r["source"] == "alerttahoe"]
    pos_afm = [r for r in tr if r["source"] == "afm_boxes"]
    neg_unv = [r for r in tr if r["source"] == "afm_unverified"]
    fig_neg = [r for r in tr if r["source"] == "figlib" and r["label"] == 0]
    fig_pos = [r for r in tr if r["source"] == "figlib" and r["label"] == 1 and r["offset"] >= 300]
    smoke_free = neg_unv + fig_neg + pos_at + pos_afm  # crops outside the boxes
    whole_pos = [r for r in pos_afm if (r["box"][2] - r["box"][0]) * ts.T / r["size"][0] >= 10
                 and (r["box"][3] - r["box"][1]) * ts.T / r["size"][1] >= 10]
    whole_neg = neg_unv + fig_neg
    model = make_model()
    net = model.tile
    head = list(net.net._fc.parameters())
    hid = {id(p) for p in head}
    body = [p for p in net.parameters() if id(p) not in hid]
    opt = torch.optim.AdamW([{"params": body, "lr": 3e-4}, {"params": head, "lr": 1e-3}], weight_decay=1e-4)
    base = [g["lr"] for g in opt.param_groups]
    lossf = torch.nn.BCEWithLogitsLoss()
    ts.set_train(net)
    t0, hard, mil, mined, done = time.time(), [], [], False, 0
    for step in range(steps):
        frac = max(step / steps, (time.time() - t0) / (minutes * 60))
        if frac >= 1.0:
            log("stage A: time budget reached at step %d" % step)
            break
        if not mined and frac >= 0.45:
            hard, mil = ts.mine(net, smoke_free, fig_pos, rng, n_neg=600)
            mined = True
            ts.set_train(net)
        warm = min(1.0, (step + 1) / 20)
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * warm * 0.5 * (1 + math.cos(math.pi * frac))
        items = []
        for i in range(7):  # real plumes
            pool = pos_at if i % 2 == 0 else pos_afm
            items.append((ts.pos_crop(pool[rng.integers(len(pool))], rng), 1.0))
        while len(items) < 13:  # synthetic plumes in real smoke-free crops
            a = synth_positive(smoke_free[rng.integers(len(smoke_free))], rng)
            if a is not None:
                items.append((a, 1.0))
        if mined and mil:
            for _ in range(2):
                r, ti = mil[rng.integers(len(mil))]
                items.append((ts.grid_tile(r, ti), 1.0))
        items.append((whole_pos[rng.integers(len(whole_pos))]["whole"], 1.0))
        items.append((whole_neg[rng.integers(len(whole_neg))]["whole"], 0.0))
        if mined and hard:
            for _ in range(6):
                r, ti = hard[rng.integers(len(hard))]
                items.append((ts.grid_tile(r, ti), 0.0))
        pools = [pos_at, pos_afm, neg_unv, fig_neg]
        while len(items) < batch:
            a = ts.neg_crop(pools[len(items) % 4][rng.integers(len(pools[len(items) % 4]))], rng)
            if a is not None:
                if rng.random() < 0.15:
                    a = plumes.caption(np.ascontiguousarray(a), rng)
                items.append((a, 0.0))
        x = ts.to_batch([a for a, _ in items], rng)
        y = torch.tensor([l for _, l in items])
        loss = lossf(net.logits(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
        if step % 10 == 0:
            log("stage A step %d/%d loss %.4f  %.0f s" % (step, steps, loss.item(), time.time() - t0))
    net.eval()
    return model, {"steps": done, "batch": batch, "seconds": round(time.time() - t0, 1)}


# ---------------------------------------------------------------- stage B: the change head
def embed_all(model, arrays, bs=48):
    """uint8 tiles (any size: resized to 224) -> (embeddings [n,1280], single probs [n])."""
    import torch
    es, ps = [], []
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for k in range(0, len(arrays), bs):
            e, logit = model.embed(ts.to_batch(arrays[k:k + bs], rng, augment=False))
            es.append(e.numpy())
            ps.append(torch.sigmoid(logit).numpy())
    if not es:
        return np.zeros((0, 1280), np.float32), np.zeros(0, np.float32)
    return np.concatenate(es), np.concatenate(ps)


def grid_positions(big):
    return [(x, y) for y in ts.starts(big.shape[0]) for x in ts.starts(big.shape[1])]


def sequence_samples(model, seq, rng, n_synth):
    """Pairs from one real sequence of a view (frames in time order, pre-ignition = smoke-free):
    every tile against the mean of its 1-5 previous frames (negatives: real change), and synthetic
    plumes drawn into the later frames (positives: appearing or growing)."""
    bigs = [np.asarray(r["big"]) for r in seq]
    pos = grid_positions(bigs[0])
    tiles = [b[y:y + ts.T, x:x + ts.T] for b in bigs for x, y in pos]
    e, _ = embed_all(model, tiles)
    e = e.reshape(len(bigs), len(pos), -1)
    now, ref, lab = [], [], []
    for t in range(1, len(bigs)):
        n = int(rng.integers(1, REF_FRAMES + 1))
        r_ = e[max(0, t - n):t].mean(0)
        now.append(e[t]); ref.append(r_); lab.append(np.zeros(len(pos)))
    synth_tiles, synth_ref, synth_lab = [], [], []
    for _ in range(n_synth):
        t = int(rng.integers(2, len(bigs)))
        i = int(rng.integers(len(pos)))
        x, y = pos[i]
        p = plumes.Plume(float(np.exp(rng.uniform(np.log(6), np.log(150)))), rng)
        base = (x + rng.uniform(0.15, 0.85) * ts.T, y + rng.uniform(0.45, 0.98) * ts.T)
        cur = plumes.draw(bigs[t], p, base, 1.0)[y:y + ts.T, x:x + ts.T]
        n = int(rng.integers(1, min(REF_FRAMES, t) + 1))
        synth_tiles.append(cur)
        synth_ref.append(e[t - n:t, i].mean(0))
        synth_lab.append(1.0)
    se, _ = embed_all(model, synth_tiles)
    now = np.concatenate([np.concatenate(now)] + ([se] if len(se) else []))
    ref = np.concatenate([np.concatenate(ref)] + ([np.stack(synth_ref)] if synth_ref else []))
    lab = np.concatenate([np.concatenate(lab), np.array(synth_lab)])
    return now, ref, lab


def synthetic_sequences(model, frames, rng, n):
    """`n` mini-sequences on smoke-free tiles of single training frames: 1-3 reference frames and
    the current one, each with its own background change, in one of five stories."""
    stories = ["clean", "appears", "grows", "static", "caption"]
    labels = {"clean": 0.0, "appears": 1.0, "grows": 1.0, "static": 0.0, "caption": 0.0}
    cur_tiles, ref_tiles, ref_owner, lab = [], [], [], []
    for k in range(n):
        r = frames[rng.integers(len(frames))]
        a = ts.neg_crop(r, rng)
        if a is None:
            continue
        story = stories[k % len(stories)]
        c = a.shape[0]
        p = plumes.Plume(float(np.exp(rng.uniform(np.log(6), np.log(150)))), rng)
        base = (rng.uniform(0.15, 0.85) * c, rng.uniform(0.45, 0.98) * c)
        n_ref = int(rng.integers(1, 4))
        cap = story == "caption" or rng.random() < 0.1
        a = np.ascontiguousarray(a)
        if cap:
            a = plumes.caption(a, np.random.default_rng(int(rng.integers(2**31))))
        for j in range(n_ref):
            f = plumes.background_change(a, rng, strength=rng.uniform(0.3, 1.2))
            if story == "grows":
                f = plumes.draw(f, p, base, rng.uniform(0.2, 0.6) * (j + 1) / n_ref)
            elif story == "static":
                f = plumes.draw(f, p, base, 1.0)
            ref_tiles.append(f)
            ref_owner.append(len(lab))
        f = plumes.background_change(a, rng, strength=rng.uniform(0.3, 1.2))
        if story in ("appears", "grows", "static"):
            f = plumes.draw(f, p, base, 1.0)
        cur_tiles.append(f)
        lab.append(labels[story])
    ce, _ = embed_all(model, cur_tiles)
    re_, _ = embed_all(model, ref_tiles)
    owner = np.array(ref_owner)
    ref = np.stack([re_[owner == i].mean(0) for i in range(len(lab))])
    return ce, ref, np.array(lab)


def mil_real(model, seq_pre, seq_post, rng):
    """Real positives: the top single-frame tile of each post-ignition frame >= 5 min of the train
    event, against the mean of the last pre-ignition frames' same tile."""
    pre = [np.asarray(r["big"]) for r in seq_pre[-REF_FRAMES:]]
    post = [np.asarray(r["big"]) for r in seq_post if r["offset"] >= 300]
    if not pre or not post:
        return np.zeros((0, 1280)), np.zeros((0, 1280)), np.zeros(0)
    pos = grid_positions(pre[0])
    pe, _ = embed_all(model, [b[y:y + ts.T, x:x + ts.T] for b in pre for x, y in pos])
    pe = pe.reshape(len(pre), len(pos), -1).mean(0)
    now, ref = [], []
    for b in post:
        e, p = embed_all(model, [b[y:y + ts.T, x:x + ts.T] for x, y in pos])
        i = int(np.argmax(p))
        now.append(e[i]); ref.append(pe[i])
    return np.stack(now), np.stack(ref), np.ones(len(now))


def train_head(model, data, rng):
    import torch
    now, ref, lab = (torch.tensor(np.asarray(a), dtype=torch.float32) for a in data)
    params = list(model.now.parameters()) + list(model.h1.parameters()) + list(model.h2.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-3)
    pos_w = float((lab == 0).sum() / max(1, (lab == 1).sum()))
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_w))
    t0, step = time.time(), 0
    n = len(lab)
    g = torch.Generator().manual_seed(SEED)
    # a fixed number of steps, whatever the machine's speed: the same checkpoint gives the same head
    while step < HEAD_STEPS:
        idx = torch.randint(0, n, (256,), generator=g)
        e, r = now[idx], ref[idx]
        e = e + 0.02 * torch.randn(e.shape, generator=g) * e.std()
        logit = model.head(e, model.key(r))
        loss = lossf(logit, lab[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0:
            log("stage B step %d loss %.4f" % (step, loss.item()))
        step += 1
    return {"steps": step, "samples": int(n), "positives": int((lab == 1).sum()), "seconds": round(time.time() - t0, 1)}


# ---------------------------------------------------------------- view replay (what firepoint does)
def score_view(sess, head, frames):
    """Each frame of one view in time order, as firepoint runs it: the ONNX model on the frame's
    tiles, then the change head against the mean key of each tile over the view's previous
    REF_FRAMES frames. Returns per frame: (single probs [N], new probs [N] or None when the view
    had no earlier frame of the same tiling)."""
    keys, out = [], []
    for r in frames:
        tiles, _ = ts.cut_tiles(np.asarray(r["big"]), r["whole"])
        x = tiles.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        prob, key, now = sess.run(["prob", "key", "now"], {"tiles": x})
        keys = [k for k in keys if k.shape == key.shape]
        new = head_np(head, now, np.mean(keys[-REF_FRAMES:], 0)) if keys else None
        out.append((prob, new))
        keys.append(key)
    return out


def logits(prob):
    """The tiles' logits as firepoint recovers them from the model's float32 probabilities
    (clamped to 1e-7 .. 1 - 1e-7: a saturated tile reads about ±16)."""
    p = np.clip(np.asarray(prob, dtype=np.float32), np.float32(1e-7), np.float32(1 - 1e-7))
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


class Rule:
    """firepoint's per-view rule (src/detect/view.rs implements the same).
    - The first `warm` frames of a view (nothing earlier to compare with) take the single-frame
      path: the best placed tile at the strict threshold `warm_thr` on its probability.
    - After that a placed tile (not the whole-frame tile) counts when its single-frame logit has
      risen at least `rise` above its baseline, the `pct` percentile of the same tile's logits over
      the view's last `history` frames, and is itself at least `min_logit` (smoke-like at all).
      A place that always looks like smoke (a chimney, a bright slope, a caption) has a high
      baseline and never rises; a plume that appears rises where it appears.
    - `change_thr`, when set, also requires the change head's probability (the tile now against
      the mean key of its last REF_FRAMES frames) to reach it.
    The frame's score is sigmoid(min(logit - baseline - rise, logit - min_logit)) for its best
    tile: at least 0.5 exactly when the frame is flagged (ROC-AUC ranks frames by it)."""

    def __init__(self, warm_thr, rise, min_logit, change_thr=None, warm=1, history=30, pct=75):
        self.warm_thr, self.rise, self.min_logit, self.change_thr = warm_thr, rise, min_logit, change_thr
        self.warm, self.history, self.pct = warm, history, pct

    def frames(self, scored):
        """-> per frame (score in [0, 1], flagged tile or None, warm-up?)"""
        out, hist = [], []
        for prob, new in scored:
            hist = [h for h in hist if h.shape == np.shape(prob)]
            lg = logits(prob)
            if len(hist) < self.warm:
                i = int(np.argmax(prob[:-1])) if len(prob) > 1 else 0
                s = float(prob[i])  # placed tiles only: the whole-frame tile places nothing
                out.append((s, i if s >= self.warm_thr else None, True))
            else:
                base = np.percentile(np.stack(hist[-self.history:]), self.pct, axis=0)
                margin = np.minimum(lg - base - self.rise, lg - self.min_logit)
                if self.change_thr is not None and new is not None:
                    margin = np.where(np.asarray(new) >= self.change_thr, margin, np.minimum(margin, -1.0))
                margin[-1] = -np.inf  # the whole-frame tile places nothing
                i = int(np.argmax(margin))
                s = float(1 / (1 + np.exp(-margin[i])))
                out.append((s, i if margin[i] >= 0 else None, False))
            hist.append(lg)
        return out


def neighbours(frame, a, b):
    """Whether grid tiles a and b of `frame` are the same or adjacent (8-neighbourhood)."""
    pos = grid_positions(np.asarray(frame["big"]))
    if a >= len(pos) or b >= len(pos):
        return a == b
    (xa, ya), (xb, yb) = pos[a], pos[b]
    return abs(xa - xb) <= ts.S and abs(ya - yb) <= ts.S


def sequences(recs, split):
    """FIgLib sequences of `split`: event -> frames in time order."""
    out = {}
    for r in recs:
        if r["source"] == "figlib" and r["split"] == split:
            out.setdefault(r["event"], []).append(r)
    return {e: sorted(v, key=lambda r: r["offset"]) for e, v in out.items()}


RISES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
MIN_LOGITS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0)


def choose_rule(val_scored, single_val, max_fpr=0.02):
    """Warm-up threshold: highest F1 with FPR <= max_fpr on the val events' single frames
    (AlertTahoe and AI For Mankind; FIgLib frames are sequences, judged by the view path after
    their first frame). Then (rise, min_logit) on the val FIgLib sequence: FPR <= max_fpr on its
    pre-ignition frames, no alarm before ignition, and a margin — the rule one step looser in
    min_logit must meet max_fpr too (one sequence is little to choose on) — and among those the
    most smoke frames >= 5 min after ignition flagged (ties: the stricter rule)."""
    s, l = single_val
    warm_thr = ts.choose_threshold(s, l, max_fpr=max_fpr)

    def outcome(rise, min_logit):
        fp = neg = tp = pos = pre = 0
        for ev, (frames, scored) in val_scored.items():
            res = replay_report(Rule(warm_thr, rise, min_logit), {ev: (frames, scored)})["events"][ev]
            fp += res["pre_ignition_flagged"]; neg += res["pre_ignition_frames"]
            tp += res["smoke_ge5min_flagged"]; pos += res["smoke_ge5min_frames"]
            pre += res["pre_ignition_alarm_frames"]
        return fp / max(1, neg) <= max_fpr and pre == 0, tp

    best = None
    for rise in RISES:
        for j, min_logit in enumerate(MIN_LOGITS):
            ok, tp = outcome(rise, min_logit)
            looser_ok = j == 0 or outcome(rise, MIN_LOGITS[j - 1])[0]
            key = (tp, min_logit, rise)
            if ok and looser_ok and (best is None or key > best[0]):
                best = (key, Rule(warm_thr, rise, min_logit))
    if best is None:
        log("WARNING: no rule meets val FPR <= %.2f with a margin; taking the strictest" % max_fpr)
        return Rule(warm_thr, RISES[-1], MIN_LOGITS[-1])
    return best[1]


def replay_report(rule, seqs_scored, confirm=(2, 3)):
    """Frame flags and alarms (k of the last n frames flagged at the same or a neighbouring tile)
    per sequence; frame metrics over pre-ignition frames and smoke frames >= 5 min after ignition."""
    k, n = confirm
    res, flags, labels, scores = {"events": {}}, [], [], []
    for ev, (frames, scored) in seqs_scored.items():
        alarm, recent, pre_alarms = None, [], 0
        fp = tp = pos = neg = 0
        for r, (sc, tile, warm) in zip(frames, rule.frames(scored)):
            recent = (recent + [tile])[-n:]
            confirmed = tile is not None and sum(
                1 for t in recent if t is not None and neighbours(r, t, tile)) >= k
            if r["label"] == 0:
                neg += 1; fp += tile is not None; pre_alarms += confirmed
                flags.append(tile is not None); labels.append(0); scores.append(sc)
            else:
                if r["offset"] >= 300:
                    pos += 1; tp += tile is not None
                    flags.append(tile is not None); labels.append(1); scores.append(sc)
                if confirmed and alarm is None:
                    alarm = r["offset"] / 60
        res["events"][ev] = {"frames": len(frames), "pre_ignition_flagged": fp, "pre_ignition_frames": neg,
                             "pre_ignition_alarm_frames": int(pre_alarms),
                             "smoke_ge5min_flagged": tp, "smoke_ge5min_frames": pos,
                             "alarm_min_after_ignition": alarm}
    res["frames"] = ts.confusion(np.array(flags, float), labels, 0.5) if flags else None
    if res["frames"]:
        res["frames"]["roc_auc"] = ts.auc(scores, labels)
    return res


# ---------------------------------------------------------------- export
def export(model, path):
    import torch
    # no set_swish() here: EfficientNet-Lite's activation is ReLU6, and the package's
    # set_swish(memory_efficient=False) "for export" replaces it with swish, so the exported
    # network would not be the trained one (train_smoke.py's export did this: see the card)
    dummy = torch.rand(3, 3, ts.T, ts.T)
    kw = dict(input_names=["tiles"], output_names=["prob", "key", "now"], opset_version=17,
              dynamic_axes={"tiles": {0: "N"}, "prob": {0: "N"}, "key": {0: "N"}, "now": {0: "N"}})
    try:
        torch.onnx.export(model, dummy, path, dynamo=False, **kw)
    except TypeError:
        torch.onnx.export(model, dummy, path, **kw)
    import onnx
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        want = [t.numpy() for t in model(dummy)]
    got = ts.session(path).run(["prob", "key", "now"], {"tiles": dummy.numpy()})
    log("export check: max |torch - onnx| = %.2e" % max(np.abs(a - b).max() for a, b in zip(want, got)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("FIREPOINT_SMOKE_DATA", "../shared/data/smoke"))
    ap.add_argument("--out", default="models")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--minutes", type=float, default=45.0, help="cap on stage A's training loop")
    ap.add_argument("--synth", type=int, default=6000, help="synthetic mini-sequences for stage B")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="pipeline check: few steps, few samples")
    ap.add_argument("--stage-a", default=None, help="reuse a stage A checkpoint (.pt) instead of training")
    ap.add_argument("--reuse", default=None, help="a folder with an exported model: choose thresholds and evaluate again")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(2)
    random.seed(SEED); np.random.seed(SEED); torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    t_all = time.time()
    recs = ts.build_index(args.data)
    ts.build_cache(args.data, recs)
    split_names = {s: sorted(set(r["event"] for r in recs if r["split"] == s)) for s in ("train", "val", "test", "extra")}
    if args.quick:
        args.steps, args.minutes, args.synth = 6, 2, 60
    if args.reuse:
        # thresholds and evaluation of an exported model again (its ONNX and head as they are)
        model, info_a, info_b = None, {"reused": args.reuse}, {"reused": args.reuse}
        onnx_path = os.path.join(args.out, NAME + ".onnx")
        if os.path.abspath(args.reuse) != os.path.abspath(args.out):
            import shutil
            shutil.copy(os.path.join(args.reuse, NAME + ".onnx"), onnx_path)
        with open(os.path.join(args.reuse, NAME + ".json")) as f:
            old = json.load(f)
        head, info_a, info_b = old["view"]["head"], old["training"]["stage_a"], old["training"]["stage_b"]
        return finish(args, recs, split_names, onnx_path, head, info_a, info_b, t_all)
    # stage A
    if args.stage_a:
        model = make_model()
        state = {k: v for k, v in torch.load(args.stage_a).items() if k.startswith("tile.")}
        model.load_state_dict(state, strict=False)
        model.eval()
        info_a = {"reused": args.stage_a}
    else:
        model, info_a = train_tiles(recs, args.steps, args.minutes, args.batch, rng)
        torch.save(model.state_dict(), os.path.join(ts.CACHE, NAME + "-stageA.pt"))
    model.eval()
    for p in model.tile.parameters():
        p.requires_grad_(False)
    # stage B data
    t_b = time.time()
    tr = [r for r in recs if r["split"] == "train"]
    fig = sequences(recs, "train")
    now, ref, lab = [], [], []
    for ev, frames in fig.items():
        pre = [r for r in frames if r["label"] == 0]
        post = [r for r in frames if r["label"] == 1]
        for part in (pre,):
            a, b, c = sequence_samples(model, part, rng, n_synth=max(10, args.synth // 10))
            now.append(a); ref.append(b); lab.append(c)
        a, b, c = mil_real(model, pre, post, rng)
        now.append(a); ref.append(b); lab.append(c)
    singles = [r for r in tr if r["source"] in ("afm_unverified", "alerttahoe", "afm_boxes")]
    a, b, c = synthetic_sequences(model, singles, rng, args.synth)
    now.append(a); ref.append(b); lab.append(c)
    data = (np.concatenate(now), np.concatenate(ref), np.concatenate(lab))
    log("stage B data: %d pairs (%d positive) in %.0f s" % (len(data[2]), int(data[2].sum()), time.time() - t_b))
    info_b = train_head(model, data, rng)
    info_b["data_seconds"] = round(time.time() - t_b, 1)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, NAME + ".onnx")
    export(model, onnx_path)
    finish(args, recs, split_names, onnx_path, head_weights(model), info_a, info_b, t_all)


def finish(args, recs, split_names, onnx_path, head, info_a, info_b, t_all):
    """Thresholds on val, the test events scored once, the metrics file written."""
    sess = ts.session(onnx_path)
    # thresholds on val: single frames (warm-up path) and the FIgLib val sequence (view path)
    singles = [r for r in recs if r["source"] != "figlib"]
    val_single = placed_only(ts.evaluate(sess_single(sess), singles, "val"))
    val_seqs = {ev: (fr, score_view(sess, head, fr)) for ev, fr in sequences(recs, "val").items()}
    rule = choose_rule(val_seqs, (val_single[2], val_single[3]))
    log("rule: warm-up %.4f, rise %.2f, min logit %.1f" % (rule.warm_thr, rule.rise, rule.min_logit))
    # test once
    test_single = placed_only(ts.evaluate(sess_single(sess), singles, "test"))
    test_seqs = {ev: (fr, score_view(sess, head, fr)) for ev, fr in sequences(recs, "test").items()}
    extra = placed_only(ts.evaluate(sess_single(sess), recs, "extra"))
    with open(onnx_path, "rb") as f:
        blob = f.read()
    check = []
    seq = [r for r in recs if r["source"] == "figlib" and r["event"] == "20180718_FIRE_syp-w-mobo-c"]
    seq = sorted(seq, key=lambda r: r["offset"])
    seq = [r for r in seq if r["offset"] >= 540][:3]  # three consecutive frames, 9-11 min after ignition
    keys = []
    for r in seq:
        x = ts.tile_frame(os.path.join(args.data, r["rel"]))
        prob, key, now = sess.run(["prob", "key", "now"], {"tiles": x})
        new = head_np(head, now, np.mean(keys, 0)) if keys else None
        check.append({"path": r["rel"], "tile_probs": [round(float(v), 6) for v in prob],
                      "key_first8": [[round(float(v), 6) for v in k[:8]] for k in key],
                      "new_probs": None if new is None else [round(float(v), 6) for v in new]})
        keys.append(key)
    meta = {
        "model": NAME, "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob), "weights": "fp32",
        "threshold": round(rule.warm_thr, 6), "input": "tiles", "output": "prob", "tile": ts.T, "resize_width": ts.W,
        "stride": ts.S, "whole_frame_tile": True, "opset": 17,
        "view": {"key_output": "key", "now_output": "now", "key_width": K, "head": head,
                 "ref_frames": REF_FRAMES, "warm_frames": rule.warm, "baseline_frames": rule.history,
                 "baseline_percentile": rule.pct, "rise": rule.rise, "min_logit": rule.min_logit,
                 "change_threshold": rule.change_thr, "warm_threshold": round(rule.warm_thr, 6)},
        "change_head_on_val": change_head_study(val_seqs, rule),
        "split": {s: split_names[s] for s in ("train", "val", "test")}, "extra_eval_only": split_names["extra"],
        "metrics": {
            "val_single_frames_warm_up_path (AlertTahoe, AI For Mankind)": ts.report(*val_single, rule.warm_thr),
            "test_single_frames_warm_up_path (AlertTahoe, AI For Mankind)": ts.report(*test_single, rule.warm_thr),
            "extra_afm640_warm_up_path": ts.report(*extra, rule.warm_thr),
            "val_figlib_view_replay": replay_report(rule, val_seqs),
            "test_figlib_view_replay": replay_report(rule, test_seqs),
        },
        "training": {"stage_a": info_a, "stage_b": info_b, "wall_seconds": round(time.time() - t_all, 1)},
        "seed": SEED, "onnx_check": check, "onnx_check_tolerance": 0.02,
    }
    with open(os.path.join(args.out, NAME + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    log("wrote %s (%d bytes) and its metrics; total %.0f s" % (onnx_path, len(blob), time.time() - t_all))
    log(json.dumps(meta["metrics"]["val_figlib_view_replay"]["events"]))
    log(json.dumps(meta["metrics"]["test_figlib_view_replay"]["events"]))


def change_head_study(val_seqs, rule):
    """The chosen rule on the val sequence again with the change head as a further gate, at
    several thresholds: what the head would add (the card reports it; it enters the rule only
    when a threshold flags more smoke frames at the same val FPR)."""
    out = {}
    for t in (0.3, 0.5, 0.7, 0.9, 0.98):
        r = Rule(rule.warm_thr, rule.rise, rule.min_logit, change_thr=t)
        out[str(t)] = replay_report(r, val_seqs)["frames"]
    return out


def placed_only(evaluated):
    """train_smoke.evaluate's result with each frame scored by its placed tiles only (the
    whole-frame tile, last, places nothing): the warm-up path's frame score."""
    rs, probs, _, labels = evaluated
    return rs, probs, np.array([max(p[:-1]) if len(p) > 1 else p[0] for p in probs]), labels


class sess_single:
    """The single-frame output of the view model as train_smoke's evaluation expects a session."""

    def __init__(self, sess):
        self.sess = sess

    def run(self, names, feeds):
        x = feeds["tiles"]
        return [self.sess.run(["prob"], {"tiles": x})[0]]


if __name__ == "__main__":
    main()
