#!/usr/bin/env python3
"""numpy reference of firepoint's contextual fire test (src/detect/hotspot.rs), for the benchmark.

The same tests with the same default parameters (MODIS C6 values, daytime): 12 µm cloud test,
potential-fire prefilter, absolute test, background window grown from 3x3 to 21x21 until
>= 25 % and >= 8 valid, clear, non-background-fire pixels, then the contextual tests on
ΔT = T4 - T11, T4 and (by day) T11 with means and mean absolute deviations in float64.

The prefilter is vectorised over the scene; the background windows are computed per candidate
pixel with numpy slicing, the usual way to write this in numpy (a window's mean absolute
deviation is not a box filter). Reads the raw arrays the Rust bench wrote to target/bench-data/,
times the test (median of --runs), and compares its fire mask with the Rust one.

Usage: python3 benches/reference/hotspot_numpy.py [--dir target/bench-data] [--runs 3]
Exit status 1 when the two masks differ.
"""
import argparse
import os
import sys
import time

import numpy as np

DAY = dict(potential_t4=310.0, potential_dt=10.0, absolute_t4=360.0, bg_fire_t4=325.0, bg_fire_dt=20.0)
DT_MAD_K, DT_MIN_EXCESS, T4_MAD_K = 3.5, 6.0, 3.0
MAX_HALF, MIN_FRAC, MIN_VALID, CLOUD_T12 = 10, 0.25, 8, 265.0


def detect(t4, t11, t12, th=DAY):
    h, w = t4.shape
    dt = t4 - t11
    valid = np.isfinite(t4) & np.isfinite(t11) & ~(t12 < CLOUD_T12)
    potential = valid & (t4 > th["potential_t4"]) & (dt > th["potential_dt"])
    # background-usable: valid and not a background fire
    usable = valid & ~((t4 > th["bg_fire_t4"]) & (dt > th["bg_fire_dt"]))
    mask = np.zeros((h, w), dtype=bool)
    t4d, t11d, dtd = t4.astype(np.float64), t11.astype(np.float64), dt.astype(np.float64)
    for r, c in zip(*np.nonzero(potential)):
        bg = None
        for half in range(1, MAX_HALF + 1):
            r0, r1, c0, c1 = max(r - half, 0), min(r + half, h - 1) + 1, max(c - half, 0), min(c + half, w - 1) + 1
            sel = usable[r0:r1, c0:c1].copy()
            sel[r - r0, c - c0] = False
            n = int(sel.sum())
            if n >= MIN_VALID and n >= MIN_FRAC * ((2 * half + 1) ** 2 - 1):
                a4, a11, adt = t4d[r0:r1, c0:c1][sel], t11d[r0:r1, c0:c1][sel], dtd[r0:r1, c0:c1][sel]
                m4, m11, mdt = a4.mean(), a11.mean(), adt.mean()
                bg = (m4, np.abs(a4 - m4).mean(), m11, np.abs(a11 - m11).mean(), mdt, np.abs(adt - mdt).mean())
                break
        # the Rust side compares in float32: round the statistics the same way
        absolute = t4[r, c] > th["absolute_t4"]
        contextual = False
        if bg is not None:
            m4, d4, m11, d11, mdt, ddt = (np.float32(v) for v in bg)
            x4, x11, xdt = t4[r, c], t11[r, c], dt[r, c]
            contextual = (xdt > mdt + np.float32(DT_MAD_K) * ddt and xdt > mdt + np.float32(DT_MIN_EXCESS)
                          and x4 > m4 + np.float32(T4_MAD_K) * d4 and x11 > m11 + d11 - np.float32(4.0))
        mask[r, c] = absolute or contextual
    return mask, int(potential.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/bench-data")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with open(os.path.join(args.dir, "scene.txt")) as f:
        what = f.readline().strip()
        h, w = map(int, f.readline().split())
    load = lambda name: np.fromfile(os.path.join(args.dir, name), dtype="<f4").reshape(h, w)
    t4, t11, t12 = load("t4.f32"), load("t11.f32"), load("t12.f32")
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        mask, candidates = detect(t4, t11, t12)
        times.append(time.perf_counter() - start)
    rust = np.fromfile(os.path.join(args.dir, "rust_mask.u8"), dtype=np.uint8).reshape(h, w).astype(bool)
    differ = int((mask != rust).sum())
    print(f"scene: {what}, {h}x{w}, {candidates} prefilter candidates")
    print(f"numpy detect: median {np.median(times):.3f} s over {len(times)} runs (min {min(times):.3f}, max {max(times):.3f})")
    print(f"fire pixels: numpy {int(mask.sum())}, rust {int(rust.sum())}, differing pixels {differ}")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
