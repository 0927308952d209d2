"""Synthetic smoke plumes for training: procedural, semi-transparent, rising and widening from a
fixed base, haze-coloured, drawn into real smoke-free frames (the technique of UNIMI's synthetic
smoke plume generation, IEEE TSMC-S 2013, in a simpler form). Also the background changes a pair
of frames of one view shows without any fire: exposure, JPEG-like noise, a pixel of jitter, drifting
brightness in the sky.

Everything works on uint8 RGB numpy arrays at the model's working scale (the frame resized to
1120 px wide); sizes are in those pixels. Deterministic given the numpy Generator passed in.
"""
import numpy as np
from PIL import Image


def smooth_noise(h, w, rng, cells=6):
    """A smooth random field in [0, 1] of shape (h, w): coarse normal noise, bicubic upsampled."""
    gh, gw = max(2, int(cells * h / max(h, w)) + 2), max(2, int(cells * w / max(h, w)) + 2)
    g = rng.normal(size=(gh, gw)).astype(np.float32)
    img = Image.fromarray(g, mode="F").resize((max(1, w), max(1, h)), Image.BICUBIC)
    a = np.asarray(img, dtype=np.float32)
    a = (a - a.min()) / max(1e-6, a.max() - a.min())
    return a


class Plume:
    """One plume: its shape is fixed at creation (wind lean, turbulence, colour), and `alpha(grow)`
    draws it at a stage of growth (0..1], so that the frames of a sequence show the same plume
    rising and widening from the same base."""

    def __init__(self, height, rng, dark=None):
        self.height = float(height)                     # full-grown height, px
        self.aspect = rng.uniform(0.5, 1.6)            # width / height at the top
        self.lean = rng.uniform(-0.9, 0.9)              # wind drift of the top, in plume widths
        self.opacity = rng.uniform(0.25, 0.85)
        self.noise = rng.integers(0, 2**31)
        self.base_width = rng.uniform(0.1, 0.35)
        dark = rng.random() < 0.2 if dark is None else dark
        level = rng.uniform(90, 150) if dark else rng.uniform(175, 250)
        tint = rng.normal(0, 6, size=3) + np.array([-4.0, 0.0, 6.0]) * rng.uniform(0, 1)  # slightly blue haze
        self.colour = np.clip(level + tint, 0, 255).astype(np.float32)

    def alpha(self, grow=1.0):
        """Opacity (h, w) float32 in [0, 1], base at the bottom centre of the array."""
        h = max(3, int(round(self.height * grow)))
        w_top = max(3, int(round(h * self.aspect)))
        span = int(abs(self.lean) * w_top) + w_top
        w = max(3, span + 2)
        rng = np.random.default_rng(self.noise)
        yy = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None]       # 0 = base (bottom row), 1 = top
        xx = np.arange(w, dtype=np.float32)[None, :]
        base_x = (w - 1) / 2 - self.lean * w_top / 2
        centre = base_x + self.lean * w_top * yy ** 1.4
        half = (self.base_width + (1 - self.base_width) * yy ** 0.7) * w_top / 2 + 0.6
        core = np.exp(-1.2 * ((xx - centre) / half) ** 2)
        turb = 0.45 + 1.1 * smooth_noise(h, w, rng, cells=5) * smooth_noise(h, w, rng, cells=11)
        fade = np.clip((1 - yy) * 4, 0, 1) * 0.3 + 0.7                    # densest near the base
        top = np.clip((1 - yy) / 0.25, 0, 1)                              # thins out at the top
        a = core * turb * fade * np.minimum(1.0, top + 0.35) * self.opacity
        return np.clip(a, 0, 1).astype(np.float32)


def draw(img, plume, base_xy, grow=1.0):
    """`img` (h, w, 3) uint8 with `plume` drawn, its base at `base_xy` (x, y); a new array."""
    a = plume.alpha(grow)
    ph, pw = a.shape
    x0 = int(round(base_xy[0] - pw / 2))
    y0 = int(round(base_xy[1] - ph))
    h, w = img.shape[:2]
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + pw), min(h, y0 + ph)
    out = img.astype(np.float32)
    if sx1 <= sx0 or sy1 <= sy0:
        return img.copy()
    aa = a[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0][..., None]
    region = out[sy0:sy1, sx0:sx1]
    out[sy0:sy1, sx0:sx1] = region * (1 - aa) + plume.colour * aa
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def background_change(img, rng, strength=1.0):
    """What changes in a view between two frames without a fire: exposure and white balance, a
    pixel of jitter, sensor/JPEG-like noise, and (sometimes) a soft bright patch drifting in the
    upper part (cloud-like). A new array."""
    out = img.astype(np.float32)
    gain = 1 + rng.normal(0, 0.04 * strength)
    bias = rng.normal(0, 4 * strength)
    wb = 1 + rng.normal(0, 0.015 * strength, size=3)
    out = out * gain * wb + bias
    if rng.random() < 0.5:
        dx, dy = rng.integers(-1, 2), rng.integers(-1, 2)
        out = np.roll(out, (int(dy), int(dx)), axis=(0, 1))
    if rng.random() < 0.35 * strength:
        h, w = out.shape[:2]
        ch, cw = int(h * rng.uniform(0.15, 0.5)), int(w * rng.uniform(0.2, 0.6))
        cy, cx = int(rng.uniform(0, 0.45) * h), int(rng.uniform(0, 1) * w)
        blob = smooth_noise(ch, cw, rng, cells=4)
        yy = np.linspace(-1, 1, ch)[:, None]
        xx = np.linspace(-1, 1, cw)[None, :]
        blob = blob * np.clip(1 - (xx ** 2 + yy ** 2), 0, 1)
        amp = rng.uniform(10, 45) * strength
        y0, x0 = max(0, cy - ch // 2), max(0, cx - cw // 2)
        y1, x1 = min(h, y0 + ch), min(w, x0 + cw)
        out[y0:y1, x0:x1] += amp * blob[:y1 - y0, :x1 - x0, None]
    out += rng.normal(0, 2.0 * strength, size=out.shape)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def caption(img, rng):
    """A burned-in caption band (timestamp-like blocks of bright text on the top or bottom edge),
    as many tower cameras print: the same place in every frame of a view. A new array."""
    out = img.copy()
    h, w = out.shape[:2]
    band = max(8, int(h * rng.uniform(0.02, 0.04)))
    top = rng.random() < 0.7
    y0 = 0 if top else h - band
    x = int(rng.uniform(0, 0.05) * w)
    colour = np.array([255, 255, 0] if rng.random() < 0.5 else [255, 255, 255], dtype=np.uint8)
    for _ in range(int(rng.integers(12, 40))):
        cw = int(rng.integers(3, 8))
        if x + cw >= w:
            break
        mask = rng.random((band - 4, cw)) < 0.45
        out[y0 + 2:y0 + band - 2, x:x + cw][mask] = colour
        x += cw + int(rng.integers(1, 4))
    return out
