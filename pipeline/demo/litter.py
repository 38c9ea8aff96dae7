"""Procedural litter for the bundled sample: bottles, cans, bags, wrappers, foam boxes and cups.

Each item is drawn upright (long axis along x) on its own small canvas as float32 RGB in [0, 1] plus an
alpha mask (float32 in [0, 1]; below 1 for clear plastic), shaded as a lit 3-D object, then rotated. It is
composited into a scene with a soft cast shadow. Sizes are in world pixels (about 1.1 photo pixels each):
a bottle is 150-215 px long, so about 60-90 px at a detector's 640 px input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .draw import LITTER_KINDS, _random_text, _rgb


@dataclass(frozen=True, eq=False)
class LitterItem:
    """One item placed in a scene's world, ready to composite. ``alpha``: float32 coverage and ``shadow``:
    float32 darkening weight, both on a canvas whose top-left corner is world pixel (``x0``, ``y0``);
    ``rgb``: float32 colour on that canvas (0 outside the item); ``hull``: convex hull of the item's
    visible pixels, float32 ``(n, 2)`` world px."""

    kind: str
    rgb: np.ndarray
    alpha: np.ndarray
    shadow: np.ndarray
    x0: int
    y0: int
    hull: np.ndarray


def _cyl_shade(t: np.ndarray, spec_at: float, spec_w: float, spec: float) -> tuple[np.ndarray, np.ndarray]:
    """Shading across a cylinder: ``t`` in [-1, 1] from edge to edge -> (diffuse, specular)."""
    diffuse = 0.42 + 0.58 * np.sqrt(np.clip(1 - t * t, 0, 1))
    specular = spec * np.exp(-((t - spec_at) / spec_w) ** 2)
    return diffuse.astype(np.float32), specular.astype(np.float32)


def _profile_canvas(length: float, hw: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows/columns of a canvas around a body of half-width ``hw`` (one value per column):
    returns ``t`` (-1..1 across the body), ``alpha`` (anti-aliased inside mask) and the y offsets."""
    h = int(2 * hw.max() + 2 * pad)
    y = (np.arange(h, dtype=np.float32) - h / 2 + 0.5)[:, None]
    hwm = np.maximum(hw, 1e-3)[None, :]
    t = np.clip(y / hwm, -1, 1)
    alpha = np.clip(hwm - np.abs(y) + 0.5, 0, 1) * (hw[None, :] > 0)
    return t, alpha.astype(np.float32), y


_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


def _text_layer(rng: np.random.Generator, shape: tuple[int, int], n_letters: int, scale: float, thick: int,
                org: tuple[int, int]) -> np.ndarray:
    """Coverage mask (float32 in [0, 1]) of a made-up brand name in a random Hershey font."""
    m = np.zeros(shape, np.uint8)
    cv2.putText(m, _random_text(rng, n_letters), org, _FONTS[int(rng.integers(0, len(_FONTS)))],
                scale * rng.uniform(0.85, 1.15), 255, thick, cv2.LINE_AA)
    return m.astype(np.float32) / 255.0


def _print(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Coverage mask (float32 in [0, 1]) of random printed graphics: discs, wedges, wavy stripes."""
    h, w = shape
    m = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        what = int(rng.integers(0, 3))
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        r = int(rng.uniform(0.1, 0.35) * min(h, w)) + 2
        if what == 0:
            cv2.circle(m, (cx, cy), r, 255, int(rng.choice([-1, 2, 4])), cv2.LINE_AA)
        elif what == 1:
            pts = np.array([[cx + r * np.cos(a), cy + r * np.sin(a)]
                            for a in np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 6))))], np.int32)
            cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
        else:
            xs = np.linspace(0, w, 24)
            ys = cy + r * 0.5 * np.sin(xs / w * rng.uniform(3, 12) + rng.uniform(0, 6))
            cv2.polylines(m, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, int(rng.integers(2, 7)),
                          cv2.LINE_AA)
    return m.astype(np.float32) / 255.0


def _ink(rgb: np.ndarray, cov: np.ndarray, color: np.ndarray, shade: np.ndarray | float = 1.0) -> np.ndarray:
    """``rgb`` with ``color`` (times ``shade``) printed where ``cov`` is set."""
    return rgb * (1 - cov[..., None]) + (color * np.asarray(shade, np.float32)[..., None] * cov[..., None]
                                         if np.ndim(shade) else color * shade * cov[..., None])


_INKS = [_rgb(30, 120, 200), _rgb(220, 40, 40), _rgb(40, 150, 70), _rgb(250, 200, 40), _rgb(240, 240, 235),
         _rgb(20, 20, 30), _rgb(245, 130, 30), _rgb(120, 40, 140)]


def _any_ink(rng: np.random.Generator) -> np.ndarray:
    return _INKS[int(rng.integers(0, len(_INKS)))]


def _axis(length: float, pad: int, extra: int) -> tuple[int, np.ndarray]:
    """Canvas width and, per column, the position along an object's length (0 at one end, 1 at the other)."""
    w = int(length + 2 * pad + extra)
    return w, (np.arange(w, dtype=np.float32) - pad) / length


def _bottle(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = rng.uniform(150, 215)
    d = length * rng.uniform(0.29, 0.35)
    pad = 4
    w, x = _axis(length, pad, 0)
    hw = np.where(x < 0.66, 1.0, np.where(x < 0.82, 1 - (x - 0.66) / 0.16 * 0.6, 0.4)) * d / 2
    hw = np.where(x > 0.92, 0.46 * d / 2, hw)
    hw = np.where(x < 0.03, hw * np.sqrt(np.clip(1 - ((0.03 - x) / 0.03) ** 2, 0, 1)), hw)
    if rng.random() < 0.5:  # crushed: dents along the body
        dent = rng.uniform(0.1, 0.3) * np.exp(-((x - rng.uniform(0.15, 0.6)) / rng.uniform(0.05, 0.12)) ** 2)
        hw = hw * (1 - dent)
    hw[(x < 0) | (x > 1)] = 0
    t, alpha, y = _profile_canvas(length, hw, pad)
    h = t.shape[0]
    diffuse, spec = _cyl_shade(t, -0.45, 0.14, 0.75)
    tint = [_rgb(205, 228, 235), _rgb(190, 230, 200), _rgb(215, 215, 220), _rgb(120, 180, 110)][int(rng.integers(0, 4))]
    rgb = tint[None, None, :] * diffuse[..., None] * 0.85 + spec[..., None]
    a = alpha * np.clip(0.5 + 0.45 * np.abs(t) ** 2 + spec, 0, 1)  # clear plastic: edges opaque
    xx = np.broadcast_to(x[None, :], (h, w))
    for rib in rng.uniform(0.05, 0.62, 3):  # moulded rings
        ring = np.abs(xx - rib) < 0.008
        rgb[ring] *= 0.75
        a[ring] = np.maximum(a[ring], 0.8 * alpha[ring])
    if rng.random() < 0.85:  # label
        l0, l1 = rng.uniform(0.18, 0.3), rng.uniform(0.5, 0.62)
        lab = (xx > l0) & (xx < l1) & (alpha > 0)
        c1, c2 = _any_ink(rng), _any_ink(rng)
        stripe = np.abs(t - rng.uniform(-0.3, 0.3)) < rng.uniform(0.15, 0.3)
        label_rgb = np.where(stripe[..., None], c2[None, None, :], c1[None, None, :]) * diffuse[..., None]
        label_rgb = _ink(label_rgb, _print(rng, (h, w)) * lab, _any_ink(rng), diffuse)
        cov = _text_layer(rng, (h, w), int(rng.integers(3, 6)), d / 60, max(1, int(d / 30)),
                          (int(pad + l0 * length + 4), int(h / 2 + d / 8)))
        label_rgb = _ink(label_rgb, cov, _any_ink(rng), diffuse)
        label_rgb += spec[..., None] * 0.5
        rgb = np.where(lab[..., None], label_rgb, rgb)
        a = np.where(lab, alpha, a)
    cap = (xx > 0.92) & (alpha > 0)
    cap_c = [_rgb(30, 80, 200), _rgb(240, 240, 240), _rgb(200, 30, 30), _rgb(30, 140, 60)][int(rng.integers(0, 4))]
    ridges = 0.8 + 0.2 * np.cos(y * 2.1)
    cap_rgb = cap_c[None, None, :] * (diffuse * ridges)[..., None] + spec[..., None] * 0.4
    rgb = np.where(cap[..., None], cap_rgb, rgb)
    a = np.where(cap, alpha, a)
    ring = (np.abs(xx - 0.9) < 0.012) & (alpha > 0)
    rgb[ring] = cap_c * 0.8
    a[ring] = alpha[ring]
    return rgb.astype(np.float32), a.astype(np.float32)


def _can(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = rng.uniform(95, 125)
    d = length * rng.uniform(0.5, 0.58)
    pad = 4
    w, x = _axis(length, pad, 0)
    crush = rng.uniform(0.2, 0.5) * np.exp(-((x - rng.uniform(0.3, 0.7)) / rng.uniform(0.1, 0.2)) ** 2)
    jag = cv2.resize(rng.normal(0, 0.06, (1, 14)).astype(np.float32), (w, 1), interpolation=cv2.INTER_CUBIC)[0]
    hw = d / 2 * np.clip(1 - crush + jag * (crush > 0.05), 0.3, 1.05)
    hw[(x < 0) | (x > 1)] = 0
    t, alpha, y = _profile_canvas(length, hw, pad)
    h = t.shape[0]
    base = [_rgb(200, 25, 30), _rgb(190, 190, 195), _rgb(30, 120, 60), _rgb(25, 60, 160), _rgb(210, 170, 40)]
    c = base[int(rng.integers(0, len(base)))]
    phase = rng.uniform(0, 2 * math.pi)
    crease = cv2.resize(rng.random((6, 10), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    metal = 0.55 + 0.45 * np.cos(2.6 * np.arcsin(t) + phase)
    metal = metal * (0.7 + 0.6 * crease * (crush[None, :] * 3 + 0.2))
    diffuse, spec = _cyl_shade(t, 0.3, 0.1, 0.9)
    rgb = c[None, None, :] * (diffuse * metal)[..., None] + spec[..., None]
    rgb = _ink(rgb, _print(rng, (h, w)), _any_ink(rng), diffuse * metal)
    cov = _text_layer(rng, (h, w), int(rng.integers(3, 5)), d / 55, max(1, int(d / 25)),
                      (int(pad + length * rng.uniform(0.1, 0.3)), int(h / 2 + d / 7)))
    rgb = _ink(rgb, cov, _any_ink(rng), diffuse)
    xx = np.broadcast_to(x[None, :], (h, w))
    rims = ((xx < rng.uniform(0.03, 0.08)) | (xx > rng.uniform(0.93, 0.97))) & (alpha > 0)
    rgb[rims] = (_rgb(200, 200, 205) * (diffuse[rims, None] + spec[rims, None] * 0.5))
    return np.clip(rgb, 0, 1).astype(np.float32), alpha


def _bag(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r = rng.uniform(70, 115)
    size = int(2.9 * r)
    n = 18
    ang = np.linspace(0, 2 * math.pi, n, endpoint=False)
    rad = r * (1 + sum(rng.uniform(0.04, 0.14) * np.cos(k * ang + rng.uniform(0, 2 * math.pi)) for k in (2, 3, 5)))
    rad = rad * np.where(np.abs(np.cos(ang)) > 0.7, 1.25, 1.0)  # elongated along x
    pts = np.stack([size / 2 + rad * np.cos(ang), size / 2 + rad * np.sin(ang) * 0.75], 1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    for sgn in (-1, 1):  # handles at one end
        c = (int(size / 2 + rad.max() * 0.95), int(size / 2 + sgn * r * 0.25))
        cv2.ellipse(mask, c, (int(r * 0.35), int(r * 0.16)), sgn * 20, 0, 360, 255, int(r * 0.08), cv2.LINE_AA)
    alpha = mask.astype(np.float32) / 255
    shade = 0.55 + 0.45 * cv2.resize(rng.random((7, 7), dtype=np.float32), (size, size),
                                     interpolation=cv2.INTER_CUBIC)
    wr = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(12, 22))):
        p0 = rng.uniform(0.2, 0.8, 2) * size
        p = np.stack([p0 + k * rng.normal(0, 9, 2) for k in range(6)], 0)
        cv2.polylines(wr, [p.astype(np.int32)], False, float(rng.choice([-0.35, 0.45])), int(rng.integers(2, 5)),
                      cv2.LINE_AA)
    shade = shade + cv2.GaussianBlur(wr, (0, 0), 1.6)
    kinds = [(_rgb(238, 238, 232), 0.82), (_rgb(40, 90, 190), 0.92), (_rgb(225, 120, 160), 0.9),
             (_rgb(28, 28, 30), 0.96), (_rgb(220, 230, 225), 0.6), (_rgb(240, 200, 60), 0.9)]
    col, opacity = kinds[int(rng.integers(0, len(kinds)))]
    rgb = col[None, None, :] * np.clip(shade, 0.2, 1.3)[..., None]
    if rng.random() < 0.5:  # printed logo
        c = (int(size * rng.uniform(0.4, 0.6)), int(size * rng.uniform(0.42, 0.58)))
        logo = np.zeros((size, size), np.uint8)
        cv2.circle(logo, c, int(r * 0.25), 255, -1, cv2.LINE_AA)
        lm = logo.astype(np.float32)[..., None] / 255 * alpha[..., None]
        rgb = rgb * (1 - lm) + _rgb(200, 30, 30) * shade[..., None] * lm
    return np.clip(rgb, 0, 1).astype(np.float32), (alpha * opacity).astype(np.float32)


def _wrapper(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = rng.uniform(100, 150)
    wd = length * rng.uniform(0.5, 0.65)
    pad = 8
    w, h = int(length + 2 * pad), int(wd + 2 * pad)
    top = np.stack([np.linspace(pad, pad + length, 12), pad + rng.normal(0, 2.5, 12)], 1)
    bottom = np.stack([np.linspace(pad + length, pad, 12), pad + wd + rng.normal(0, 2.5, 12)], 1)
    k = 9
    zig_r = np.stack([pad + length + np.tile([0, 5], k)[:k] + rng.normal(0, 1, k), np.linspace(pad, pad + wd, k)], 1)
    zig_l = np.stack([pad - np.tile([0, 5], k)[:k] + rng.normal(0, 1, k), np.linspace(pad + wd, pad, k)], 1)
    poly = np.concatenate([top, zig_r, bottom, zig_l]).astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA)
    alpha = mask.astype(np.float32) / 255
    cols = [_rgb(240, 200, 30), _rgb(220, 40, 40), _rgb(30, 90, 200), _rgb(40, 160, 70), _rgb(245, 130, 30),
            _rgb(120, 40, 140)]
    c1, c2 = cols[int(rng.integers(0, 6))], cols[int(rng.integers(0, 6))]
    yy = np.arange(h, dtype=np.float32)[:, None] / h
    xx = np.arange(w, dtype=np.float32)[None, :] / w
    band = (np.abs(yy - rng.uniform(0.35, 0.65)) < 0.15) | (xx < 0.12) | (xx > 0.88)
    rgb = np.where(band[..., None], c2[None, None, :], c1[None, None, :]).astype(np.float32)
    rgb = _ink(rgb, _print(rng, (h, w)), _any_ink(rng))
    cov = _text_layer(rng, (h, w), int(rng.integers(3, 6)), wd / 55, max(1, int(wd / 25)),
                      (int(w * rng.uniform(0.12, 0.3)), int(h * 0.6)))
    rgb = _ink(rgb, cov, _any_ink(rng))
    crinkle = cv2.resize(rng.random((max(2, h // 7), max(2, w // 7)), dtype=np.float32), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    shade = 0.7 + 0.45 * crinkle
    foil = np.clip((crinkle - 0.8) * 5, 0, 1)  # metallic glints
    rgb = rgb * shade[..., None] + foil[..., None] * 0.6
    return np.clip(rgb, 0, 1).astype(np.float32), alpha


def _foam_box(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = rng.uniform(130, 175)
    wd = length * rng.uniform(0.68, 0.8)
    opened = rng.random() < 0.4
    pad = 6
    w = int(length * (2 if opened else 1) + 2 * pad + (6 if opened else 0))
    h = int(wd + 2 * pad)
    mask = np.zeros((h, w), np.uint8)
    shade = np.ones((h, w), np.float32)
    halves = 2 if opened else 1
    rgb = np.zeros((h, w, 3), np.float32)
    for k in range(halves):
        x0 = int(pad + k * (length + 6))
        x1 = int(x0 + length)
        cv2.rectangle(mask, (x0, pad), (x1, pad + int(wd)), 255, -1, cv2.LINE_AA)
        cv2.rectangle(shade, (x0 + 9, pad + 9), (x1 - 9, pad + int(wd) - 9), 0.9, 2, cv2.LINE_AA)
        cv2.rectangle(shade, (x0 + 12, pad + 12), (x1 - 12, pad + int(wd) - 12), 1.03, -1)
        if opened and k == 1:  # leftover food
            for _ in range(int(rng.integers(4, 9))):
                c = (int(rng.uniform(x0 + 18, x1 - 18)), int(rng.uniform(pad + 18, pad + wd - 18)))
                cv2.ellipse(shade, c, (int(rng.uniform(6, 20)), int(rng.uniform(4, 12))), rng.uniform(0, 180), 0, 360,
                            float(rng.uniform(0.55, 0.75)), -1, cv2.LINE_AA)
    beads = rng.random((h, w), dtype=np.float32)
    g = np.linspace(1.0, 0.86, h, dtype=np.float32)[:, None]
    shade = shade * g * (0.96 + 0.06 * beads)
    base = _rgb(240, 240, 236)
    rgb = base[None, None, :] * shade[..., None]
    food = shade < 0.8
    rgb[food] = _rgb(170, 120, 60) * (shade[food, None] + 0.2)
    if opened:
        cv2.line(rgb, (int(pad + length + 3), pad), (int(pad + length + 3), pad + int(wd)), (0.75, 0.75, 0.73), 3)
    return np.clip(rgb, 0, 1).astype(np.float32), mask.astype(np.float32) / 255


def _cup(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length = rng.uniform(100, 135)
    w0, w1 = length * 0.38, length * 0.58
    pad = 30
    w, x = _axis(length, pad, 40)
    hw = (w0 + (w1 - w0) * np.clip(x, 0, 1)) / 2
    hw[(x < 0) | (x > 1)] = 0
    t, alpha, y = _profile_canvas(length, hw, pad)
    h = t.shape[0]
    diffuse, spec = _cyl_shade(t, -0.35, 0.15, 0.6)
    paper = rng.random() < 0.4
    if paper:
        c = [_rgb(245, 245, 240), _rgb(200, 160, 110)][int(rng.integers(0, 2))]
        rgb = c[None, None, :] * diffuse[..., None]
        a = alpha.copy()
    else:  # clear milk-tea cup with residue toward the bottom
        res = np.clip((0.45 - x) / 0.45, 0, 1)[None, :]
        c = _rgb(225, 230, 232) * (1 - res[..., None]) + _rgb(190, 140, 90) * res[..., None]
        rgb = c * diffuse[..., None] + spec[..., None]
        a = alpha * np.clip(0.55 + 0.4 * np.abs(t) ** 2 + 0.35 * res + spec, 0, 1)
    xx = np.broadcast_to(x[None, :], (h, w))
    band = (np.abs(xx - rng.uniform(0.3, 0.7)) < rng.uniform(0.04, 0.16)) & (alpha > 0)
    rgb[band] = _any_ink(rng) * diffuse[band, None]
    a[band] = alpha[band]
    logo = _print(rng, (h, w)) * (alpha > 0)
    rgb = _ink(rgb, logo, _any_ink(rng), diffuse)
    a = np.maximum(a, logo * alpha)
    cov = _text_layer(rng, (h, w), int(rng.integers(2, 5)), w0 / 50, max(1, int(w0 / 25)),
                      (int(pad + length * rng.uniform(0.05, 0.4)), int(h / 2 + w0 / 8)))
    rgb = _ink(rgb, cov * (alpha > 0), _any_ink(rng), diffuse)
    a = np.maximum(a, cov * alpha)
    cx = int(pad + length)
    rim_ax = (int(length * rng.uniform(0.07, 0.14)), int(w1 / 2))
    rim = np.zeros((h, w), np.uint8)
    cv2.ellipse(rim, (cx, h // 2), rim_ax, 0, 0, 360, 255, -1, cv2.LINE_AA)
    rm = rim.astype(np.float32) / 255
    inside = [_rgb(80, 70, 60), _rgb(150, 110, 70), _rgb(200, 190, 170), _rgb(40, 35, 30)][int(rng.integers(0, 4))]
    spill = cv2.resize(rng.random((6, 6), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    rgb = rgb * (1 - rm[..., None]) + inside[None, None, :] * (0.6 + 0.7 * spill)[..., None] * rm[..., None]
    a = np.maximum(a, rm * 0.9)
    edge = np.zeros((h, w), np.uint8)
    cv2.ellipse(edge, (cx, h // 2), rim_ax, 0, 0, 360, 255, int(rng.integers(2, 5)), cv2.LINE_AA)
    em = edge.astype(np.float32) / 255
    rgb = rgb * (1 - em[..., None]) + rng.uniform(0.75, 0.98) * em[..., None]
    a = np.maximum(a, em)
    if rng.random() < 0.7:  # straw
        st = np.zeros((h, w), np.uint8)
        ang = rng.uniform(-0.5, 0.5)
        p1 = (int(cx + 40 * math.cos(ang)), int(h / 2 + 40 * math.sin(ang)))
        cv2.line(st, (cx - int(length * 0.4), h // 2), p1, 255, 7, cv2.LINE_AA)
        sm = st.astype(np.float32) / 255
        scol = [_rgb(230, 60, 120), _rgb(30, 30, 30), _rgb(60, 170, 90)][int(rng.integers(0, 3))]
        rgb = rgb * (1 - sm[..., None]) + scol * sm[..., None]
        a = np.maximum(a, sm)
    return np.clip(rgb, 0, 1).astype(np.float32), a.astype(np.float32)


_DRAW = {"bottle": _bottle, "can": _can, "bag": _bag, "wrapper": _wrapper, "foam_box": _foam_box, "cup": _cup}
assert set(_DRAW) == set(LITTER_KINDS)


def draw_item(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Draw one item of ``kind`` rotated by a random angle: ``(rgb float32 HxWx3, alpha float32 HxW)``."""
    rgb, alpha = _DRAW[kind](rng)
    h, w = alpha.shape
    # wear and dirt: a fine random texture of its own, so no two items look alike to a feature matcher
    cell = rng.uniform(3, 6)
    dirt = cv2.resize(rng.random((max(2, int(h / cell)), max(2, int(w / cell))), dtype=np.float32), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    rgb = rgb * (0.78 + 0.4 * dirt)[..., None]
    ang = rng.uniform(0, 360)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 2, int(h * cos + w * sin) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    rgb = cv2.warpAffine(rgb, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    alpha = cv2.warpAffine(alpha, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    return rgb, alpha


def place_item(kind: str, rgb: np.ndarray, alpha: np.ndarray, cx: float, cy: float,
               sun: tuple[float, float]) -> LitterItem:
    """The item drawn as (``rgb``, ``alpha``) centred at world point (cx, cy), with a soft shadow cast
    ``sun`` = (dx, dy) px away."""
    dx, dy = sun
    m = int(max(abs(dx), abs(dy))) + 14
    h, w = alpha.shape
    a = np.zeros((h + 2 * m, w + 2 * m), np.float32)
    a[m:m + h, m:m + w] = alpha
    col = np.zeros((h + 2 * m, w + 2 * m, 3), np.float32)
    col[m:m + h, m:m + w] = rgb
    shadow = cv2.warpAffine(a, np.float32([[1, 0, dx], [0, 1, dy]]), (a.shape[1], a.shape[0]))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.5) * 0.5
    x0, y0 = int(round(cx - w / 2)) - m, int(round(cy - h / 2)) - m
    contours, _ = cv2.findContours((a > 0.3).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(contours).reshape(-1, 2)).reshape(-1, 2).astype(np.float32)
    return LitterItem(kind=kind, rgb=col, alpha=a, shadow=shadow, x0=x0, y0=y0, hull=hull + (x0, y0))


def composite(world: np.ndarray, light: np.ndarray, items: list[LitterItem]) -> np.ndarray:
    """A copy of ``world`` (uint8 RGB) with ``items`` drawn in order, shadows first, colours lit by the
    scene's ``light`` map (float32 multiplier per world pixel)."""
    out = world.copy()
    hh, ww = light.shape
    for it in items:
        h, w = it.alpha.shape
        x0, y0, x1, y1 = it.x0, it.y0, it.x0 + w, it.y0 + h
        if x0 < 0 or y0 < 0 or x1 > ww or y1 > hh:
            raise ValueError("litter item outside the world")
        region = out[y0:y1, x0:x1].astype(np.float32)
        keep = (1 - it.shadow) * (1 - it.alpha)
        add = it.rgb * (255 * light[y0:y1, x0:x1] * it.alpha)[..., None]
        out[y0:y1, x0:x1] = cv2.convertScaleAbs(region * keep[..., None] + add)
    return out


def scatter(rng: np.random.Generator, ground: np.ndarray, to_world: np.ndarray, n: int, sun: tuple[float, float],
            region: tuple[float, float, float, float] = (0.14, 0.2, 0.86, 0.86)) -> list[LitterItem]:
    """Draw ``n`` items of varied kinds and place them on the ``ground`` mask (uint8, world px), apart from
    each other, at points that a reference photo sees inside ``region`` (fractions x0, y0, x1, y1 of its
    frame); ``to_world`` maps that photo's pixels to world pixels. Fewer items are returned only when no
    free ground is found in 200 tries."""
    from .draw import PHOTO_H, PHOTO_W, map_points

    hh, ww = ground.shape
    kinds = [LITTER_KINDS[i] for i in rng.permutation(len(LITTER_KINDS))]
    items: list[LitterItem] = []
    centers: list[tuple[float, float, float]] = []
    for k in range(n):
        kind = kinds[k % len(kinds)]
        rgb, alpha = draw_item(rng, kind)
        h, w = alpha.shape
        ys, xs = np.nonzero(alpha[::4, ::4] > 0.3)
        radius = 4 * float(np.hypot(xs - w / 8, ys - h / 8).max()) + 4
        for _ in range(200):
            p = np.array([[rng.uniform(region[0], region[2]) * PHOTO_W, rng.uniform(region[1], region[3]) * PHOTO_H]])
            cx, cy = map_points(to_world, p)[0]
            if not (w / 2 + 40 < cx < ww - w / 2 - 40 and h / 2 + 40 < cy < hh - h / 2 - 40):
                continue
            r2 = radius * 0.7
            probe = [(cx, cy), (cx - r2, cy), (cx + r2, cy), (cx, cy - r2), (cx, cy + r2)]
            if not all(ground[int(y), int(x)] for x, y in probe):
                continue
            if any(math.hypot(cx - x, cy - y) < 0.85 * (radius + r) for x, y, r in centers):
                continue
            centers.append((cx, cy, radius))
            items.append(place_item(kind, rgb, alpha, cx, cy, sun))
            break
    return items
