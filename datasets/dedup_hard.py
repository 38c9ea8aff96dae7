"""Copies that cheat harder (issue 22), drawn from one photo: deep crops, before/after collages, social-app
filters, stickers and text panels, a photo of a phone screen showing the photo.

Pure functions over HxWx3 uint8 RGB arrays and a seeded ``numpy.random.Generator``; every drawing is done
with OpenCV (no fonts downloaded: ``cv2.putText``'s Hershey fonts). Used by
``scripts/calibrate_dedup_hard.py`` (the calibration and evaluation set) and by the tests, which build each
kind from a drawn scene.

Kinds (``HARD_KINDS``):

- ``deep_crop``: 20-30 % cut off one side, or off each of two adjacent sides; or 10-15 % off each of two
  opposite sides (20-30 % of that dimension in all);
- ``collage``: the photo beside 1-3 other photos (a row of 2 or 3 at one height, a column of 2, or a 2x2
  grid of the photo's aspect), with a separator line (white, black or a colour, 1-3 % of the side) or none;
- ``filtered``: 2-4 of a colour tint (channel gains 0.8-1.2), saturation x0.3-1.7, contrast (an S-curve or a
  fade), a vignette (corners darkened by 30-60 %);
- ``overlaid``: a sticker (a drawn face, star or badge) or a text panel (a flat band with lettering) over
  25-33 % of the photo;
- ``screen_photo``: the photo shown on a phone (black bezel, status bar) lying on a surface, photographed:
  perspective, moire, blur, glare, a light change.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

HARD_KINDS = ("deep_crop", "collage", "filtered", "overlaid", "screen_photo")

WORDS = ["CLEAN UP!", "Before / After", "Team 7 - Q.3", "Chu nhat xanh", "#nolitter", "DAY 1", "12 bags",
         "Don rac bai bien"]


def deep_crop(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A deep crop and the kept box as fractions (x0, y0, x1, y1) of ``img``."""
    h, w = img.shape[:2]
    cut = [0.0, 0.0, 0.0, 0.0]  # left, top, right, bottom
    r = rng.random()
    if r < 0.4:
        cut[int(rng.integers(4))] = rng.uniform(0.2, 0.3)
    elif r < 0.8:
        a = int(rng.integers(4))
        cut[a], cut[(a + 1) % 4] = rng.uniform(0.2, 0.3), rng.uniform(0.2, 0.3)
    else:
        a = int(rng.integers(2))
        total = rng.uniform(0.2, 0.3)
        share = rng.uniform(0.35, 0.65)
        cut[a], cut[a + 2] = total * share, total * (1 - share)
    box = (cut[0], cut[1], 1 - cut[2], 1 - cut[3])
    x0, y0, x1, y1 = round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)
    return np.ascontiguousarray(img[y0:y1, x0:x1]), box


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _fill(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` scaled and centre-cropped to fill ``size`` (width, height)."""
    w, h = size
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    r = cv2.resize(img, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y, x = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y:y + h, x:x + w]


def collage(img: np.ndarray, others: list[np.ndarray], rng: np.random.Generator
            ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A collage holding ``img`` (whole, aspect kept) and 1-3 of ``others``; returns it and the box of
    ``img`` in it as fractions."""
    h, w = img.shape[:2]
    layout = rng.choice(["row2", "row2", "row3", "col2", "grid"])
    sep_kind = rng.choice(["none", "white", "black", "colour"])
    colour = {"white": (255, 255, 255), "black": (0, 0, 0), "none": (0, 0, 0)}.get(
        str(sep_kind), tuple(int(v) for v in rng.integers(0, 256, 3)))
    side = 800
    sep = 0 if sep_kind == "none" else max(2, round(side * rng.uniform(0.01, 0.03)))
    if layout in ("row2", "row3"):
        n = 2 if layout == "row2" else 3
        panels = [_fit_height(img, side)] + [_fit_height(o, side) for o in (others * 3)[:n - 1]]
        order = list(range(n))
        rng.shuffle(order)
        panels = [panels[i] for i in order]
        width = sum(p.shape[1] for p in panels) + sep * (n - 1)
        out = np.zeros((side, width, 3), np.uint8)
        out[:] = colour
        x = 0
        for i, p in zip(order, panels):
            out[:, x:x + p.shape[1]] = p
            if i == 0:
                box = (x / width, 0.0, (x + p.shape[1]) / width, 1.0)
            x += p.shape[1] + sep
    elif layout == "col2":
        pw = side
        a = cv2.resize(img, (pw, round(h * pw / w)), interpolation=cv2.INTER_AREA)
        b = _fill(others[0], (pw, a.shape[0]))
        top_first = bool(rng.random() < 0.5)
        height = 2 * a.shape[0] + sep
        out = np.zeros((height, pw, 3), np.uint8)
        out[:] = colour
        first, second = (a, b) if top_first else (b, a)
        out[:first.shape[0]] = first
        out[first.shape[0] + sep:] = second
        y0 = 0 if top_first else a.shape[0] + sep
        box = (0.0, y0 / height, 1.0, (y0 + a.shape[0]) / height)
    else:  # 2x2 grid of cells of the photo's aspect
        cw = side // 2
        ch = round(h * cw / w)
        cells = [cv2.resize(img, (cw, ch), interpolation=cv2.INTER_AREA)] + \
                [_fill(o, (cw, ch)) for o in (others * 3)[:3]]
        order = list(range(4))
        rng.shuffle(order)
        width, height = 2 * cw + sep, 2 * ch + sep
        out = np.zeros((height, width, 3), np.uint8)
        out[:] = colour
        for slot, i in enumerate(order):
            x, y = (slot % 2) * (cw + sep), (slot // 2) * (ch + sep)
            out[y:y + ch, x:x + cw] = cells[i]
            if i == 0:
                box = (x / width, y / height, (x + cw) / width, (y + ch) / height)
    return out, box


def filtered(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A social-app filter: 2-4 of tint, saturation, contrast or fade, vignette (see the module docstring)."""
    x = img.astype(np.float32) / 255.0
    steps = ["tint", "saturation", "contrast", "vignette"]
    chosen = list(rng.choice(steps, size=int(rng.integers(2, 5)), replace=False))
    for s in steps:  # a fixed order, as an app applies them
        if s not in chosen:
            continue
        if s == "tint":
            x = x * rng.uniform(0.8, 1.2, 3)
        elif s == "saturation":
            grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
            k = rng.uniform(0.3, 1.7)
            x = grey[..., None] + k * (x - grey[..., None])
        elif s == "contrast":
            if rng.random() < 0.6:  # S-curve
                k = rng.uniform(0.5, 1.0)
                x = np.clip(x, 0, 1)
                x = (1 - k) * x + k * (0.5 - 0.5 * np.cos(np.pi * x))
            else:  # fade: lifted blacks, lowered whites
                lo, hi = rng.uniform(0.05, 0.2), rng.uniform(0.85, 1.0)
                x = lo + (hi - lo) * x
        else:
            h, w = x.shape[:2]
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / math.sqrt(2)
            x = x * (1 - rng.uniform(0.3, 0.6) * r[..., None] ** 2)
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def _face(canvas: np.ndarray, c: tuple[int, int], r: int, colour) -> None:
    cv2.circle(canvas, c, r, colour, -1, cv2.LINE_AA)
    cv2.circle(canvas, c, r, (40, 40, 40), max(2, r // 20), cv2.LINE_AA)
    e = r // 3
    for dx in (-e, e):
        cv2.circle(canvas, (c[0] + dx, c[1] - e), max(2, r // 8), (30, 30, 30), -1, cv2.LINE_AA)
    cv2.ellipse(canvas, (c[0], c[1] + r // 8), (r // 2, r // 3), 0, 10, 170, (30, 30, 30), max(2, r // 15),
                cv2.LINE_AA)


def _star(canvas: np.ndarray, c: tuple[int, int], r: int, colour) -> None:
    pts = [(c[0] + (r if k % 2 == 0 else r * 0.45) * math.sin(k * math.pi / 5),
            c[1] - (r if k % 2 == 0 else r * 0.45) * math.cos(k * math.pi / 5)) for k in range(10)]
    poly = np.array(pts, np.int32)
    cv2.fillPoly(canvas, [poly], colour, cv2.LINE_AA)
    cv2.polylines(canvas, [poly], True, (255, 255, 255), max(2, r // 25), cv2.LINE_AA)


def _lettering(canvas: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator, colour) -> None:
    x0, y0, x1, y1 = box
    lines = int(rng.integers(1, 3))
    lh = (y1 - y0) / (lines + 1)
    for i in range(lines):
        text = str(rng.choice(WORDS))
        scale = 1.0
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
        scale = min(0.8 * (x1 - x0) / tw, 0.6 * lh / th)
        thick = max(1, round(scale * 2))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
        org = (int(x0 + (x1 - x0 - tw) / 2), int(y0 + lh * (i + 1) + th / 2))
        cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_DUPLEX, scale, colour, thick, cv2.LINE_AA)


def overlaid(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A sticker or a text panel over 25-33 % of the photo; returns it and the covered box as fractions."""
    out = img.copy()
    h, w = img.shape[:2]
    area = rng.uniform(0.25, 0.33)
    kind = rng.choice(["panel", "sticker_face", "sticker_star", "badge"])
    bright = tuple(int(v) for v in rng.choice([[255, 214, 0], [255, 80, 120], [60, 200, 255], [255, 255, 255],
                                                [30, 30, 30], [120, 220, 80]]))
    if kind == "panel":  # a band across the photo at the top or bottom, or down one side
        if rng.random() < 0.7:
            bh = round(area * h)
            y0 = 0 if rng.random() < 0.5 else h - bh
            box = (0, y0, w, y0 + bh)
        else:
            bw = round(area * w)
            x0 = 0 if rng.random() < 0.5 else w - bw
            box = (x0, 0, x0 + bw, h)
        cv2.rectangle(out, box[:2], (box[2] - 1, box[3] - 1), bright, -1)
        ink = (0, 0, 0) if sum(bright) > 380 else (255, 255, 255)
        _lettering(out, box, rng, ink)
    elif kind == "badge":  # a rounded label with text somewhere on the photo
        bw, bh = round(w * math.sqrt(area * 2.0)), round(h * math.sqrt(area / 2.0))
        bw, bh = min(bw, w), min(bh, h)
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        box = (x0, y0, x0 + bw, y0 + bh)
        r = max(4, bh // 5)
        cv2.rectangle(out, (x0 + r, y0), (x0 + bw - r, y0 + bh), bright, -1)
        cv2.rectangle(out, (x0, y0 + r), (x0 + bw, y0 + bh - r), bright, -1)
        for cx, cy in ((x0 + r, y0 + r), (x0 + bw - r, y0 + r), (x0 + r, y0 + bh - r), (x0 + bw - r, y0 + bh - r)):
            cv2.circle(out, (cx, cy), r, bright, -1, cv2.LINE_AA)
        ink = (0, 0, 0) if sum(bright) > 380 else (255, 255, 255)
        _lettering(out, box, rng, ink)
    else:  # a sticker: its disc or star covers about ``area`` of the photo
        frac = 0.785 if kind == "sticker_face" else 0.45  # of its bounding square
        r = min(round(math.sqrt(area * w * h / frac) / 2), min(w, h) // 2)
        cx = int(rng.integers(r, w - r + 1))
        cy = int(rng.integers(r, h - r + 1))
        (_face if kind == "sticker_face" else _star)(out, (cx, cy), r, bright)
        box = (cx - r, cy - r, cx + r, cy + r)
    return out, (box[0] / w, box[1] / h, box[2] / w, box[3] / h)


def screen_photo(img: np.ndarray, rng: np.random.Generator, surface: np.ndarray | None = None) -> np.ndarray:
    """The photo shown on a phone lying on ``surface`` (a photo, blurred; a grey gradient when None),
    photographed at an angle: bezel, status bar, perspective, moire, blur, glare, light change."""
    h, w = img.shape[:2]
    landscape = w >= h
    sw = 900 if landscape else round(900 * w / h)  # the screen shows the photo across its width
    ph = round(sw * h / w)
    bar = round(0.05 * ph)
    bez = round(0.06 * min(sw, ph + bar))
    phone_w, phone_h = sw + 2 * bez, ph + bar + 2 * bez + (round(0.12 * ph) if not landscape else 0)
    phone = np.zeros((phone_h, phone_w, 3), np.uint8)
    phone[:] = (18, 18, 20)
    screen = phone[bez:phone_h - bez, bez:phone_w - bez]
    screen[:] = (250, 250, 250) if rng.random() < 0.5 else (10, 10, 10)
    fg = (0, 0, 0) if screen[0, 0, 0] > 128 else (240, 240, 240)
    cv2.putText(screen, "9:41", (round(0.03 * sw), round(0.75 * bar)), cv2.FONT_HERSHEY_SIMPLEX, bar / 40, fg, 1,
                cv2.LINE_AA)
    y = bar + (screen.shape[0] - bar - ph) // 2
    screen[y:y + ph, :sw] = cv2.resize(img, (sw, ph), interpolation=cv2.INTER_AREA)
    # the shot: the phone fills 55-85 % of a 4:3 frame, tilted by a perspective
    fw, fh = (1200, 900) if phone_w >= phone_h else (900, 1200)
    if surface is None:
        g = np.linspace(90, 170, fw, dtype=np.float32)[None, :] + np.linspace(-20, 20, fh, dtype=np.float32)[:, None]
        frame = np.repeat(g[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    else:
        frame = cv2.GaussianBlur(cv2.resize(surface, (fw, fh)), (0, 0), 6)
    s = rng.uniform(0.55, 0.85) * min(fw / phone_w, fh / phone_h)
    cw, ch = phone_w * s, phone_h * s
    cx, cy = fw / 2 + rng.uniform(-0.5, 0.5) * (fw - cw) * 0.5, fh / 2 + rng.uniform(-0.5, 0.5) * (fh - ch) * 0.5
    quad = np.array([[cx - cw / 2, cy - ch / 2], [cx + cw / 2, cy - ch / 2], [cx + cw / 2, cy + ch / 2],
                     [cx - cw / 2, cy + ch / 2]])
    quad += rng.uniform(-0.08, 0.08, (4, 2)) * [cw, ch]  # the tilt
    a = np.deg2rad(rng.uniform(-8, 8))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    quad = (quad - [cx, cy]) @ rot.T + [cx, cy]
    src = np.array([[0, 0], [phone_w, 0], [phone_w, phone_h], [0, phone_h]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    # moire: the screen's pixel grid beating with the camera's, a fine slanted ripple on the screen
    yy, xx = np.mgrid[0:phone_h, 0:phone_w].astype(np.float32)
    f, t = rng.uniform(0.15, 0.45), rng.uniform(0, np.pi)
    ripple = 1.0 + rng.uniform(0.03, 0.08) * np.sin(f * (xx * np.cos(t) + yy * np.sin(t)))
    lit = np.clip(phone.astype(np.float32) * ripple[..., None], 0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(lit, m, (fw, fh), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((phone_h, phone_w), 255, np.uint8), m, (fw, fh)) > 127
    out = np.where(mask[..., None], warped, frame).astype(np.float32)
    # glare: a soft bright blob; blur; a light change; sensor noise
    gx, gy = rng.uniform(0.2, 0.8) * fw, rng.uniform(0.2, 0.8) * fh
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    amplitude, spread = rng.uniform(40, 110), rng.uniform(0.08, 0.2) * fw
    glare = amplitude * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * spread ** 2))
    out = out + glare[..., None]
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.6))
    out = out * rng.uniform(0.85, 1.1) * rng.uniform(0.94, 1.06, 3) + rng.normal(0, 2.0, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)
