"""Procedural drawing for the bundled sample: ground scenes, litter items and camera shots.

Everything here is a plain function of a ``numpy.random.Generator``, so a fixed seed gives the same
pixels. No photo, font or other file is read: text on posters and labels uses OpenCV's built-in Hershey
fonts. Units are pixels; colours are RGB.

A *scene* is a top-down "world" image of one place (``WORLD_W`` x ``WORLD_H`` pixels, larger than a photo
so that a moved camera still sees only the world), with litter items kept separately so that any subset of
them can be composited in (a clean-up removes some). A *shot* maps the world into a photo with a homography
(the camera's pose: a tilt giving perspective, a rotation, a zoom and a position) and a change of light.

Textures are random and non-repetitive on purpose: the pipeline's same-place check matches ORB features
between a before and an after photo, so two shots of one scene must share many distinctive corners and two
different scenes must share none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PHOTO_W, PHOTO_H = 1600, 1200  # size of a rendered photo
WORLD_W, WORLD_H = 1920, 1472  # size of a scene's world image (margin for camera moves)
SCENE_KINDS: tuple[str, ...] = ("street", "park", "riverbank", "alley")
LITTER_KINDS: tuple[str, ...] = ("bottle", "can", "bag", "wrapper", "foam_box", "cup")
_LETTERS = "ABCDEGHIKLMNOPQRSTUVXY"


# ------------------------------------------------------------------------------------------- helpers
def _noise(rng: np.random.Generator, h: int, w: int, scale: float, octaves: int = 4,
           persistence: float = 0.55) -> np.ndarray:
    """Smooth value noise in [0, 1], float32 ``(h, w)``; ``scale`` is the size of the coarsest cells in px.

    Octaves are summed at a reduced resolution (the finest octave's cells are >= 4 px) and resized once.
    """
    finest = scale / 2 ** (octaves - 1)
    red = max(1, int(finest / 4))
    rh, rw = max(2, h // red), max(2, w // red)
    acc = np.zeros((rh, rw), np.float32)
    amp, total, s = 1.0, 0.0, scale / red
    for _ in range(octaves):
        gh, gw = max(2, int(rh / s) + 2), max(2, int(rw / s) + 2)
        grid = rng.random((gh, gw), dtype=np.float32)
        acc += amp * cv2.resize(grid, (rw, rh), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
        s /= 2
    acc /= total
    if (rh, rw) != (h, w):
        acc = cv2.resize(acc, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(acc.min()), float(acc.max())
    return (acc - lo) / max(hi - lo, 1e-6)


def _rgb(*c: float) -> np.ndarray:
    return np.array(c, np.float32) / 255.0


def _random_walk(rng: np.random.Generator, x: float, y: float, steps: int, step: float,
                 wiggle: float) -> np.ndarray:
    """Points of a crack-like random walk, ``(steps + 1, 2)`` int32."""
    ang = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, wiggle, steps))
    lens = step * rng.uniform(0.5, 1.5, steps)
    pts = np.empty((steps + 1, 2), np.float64)
    pts[0] = (x, y)
    pts[1:, 0] = x + np.cumsum(np.cos(ang) * lens)
    pts[1:, 1] = y + np.cumsum(np.sin(ang) * lens)
    return pts.astype(np.int32)


def _random_text(rng: np.random.Generator, n: int) -> str:
    return "".join(_LETTERS[i] for i in rng.integers(0, len(_LETTERS), n))


def _draw_cracks(rng, img: np.ndarray, mask: np.ndarray, n: int, color: tuple[int, int, int]) -> None:
    h, w = mask.shape
    for _ in range(n):
        for _try in range(20):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            if mask[y, x]:
                break
        pts = _random_walk(rng, x, y, int(rng.integers(15, 50)), rng.uniform(6, 14), 0.18)
        cv2.polylines(img, [pts], False, color, int(rng.integers(1, 3)), cv2.LINE_AA)
        for _b in range(int(rng.integers(0, 3))):  # branches
            k = int(rng.integers(0, len(pts)))
            br = _random_walk(rng, *pts[k], int(rng.integers(4, 12)), rng.uniform(4, 9), 0.3)
            cv2.polylines(img, [br], False, color, 1, cv2.LINE_AA)


def _draw_stones(rng, img: np.ndarray, mask: np.ndarray, n: int, rmin: float, rmax: float,
                 base: tuple[int, int, int], spread: int) -> None:
    """Pebbles: shadow, body and highlight ellipses, colour varied around ``base``."""
    h, w = mask.shape
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    for x, y in zip(xs, ys):
        if not mask[y, x]:
            continue
        a, b = rng.uniform(rmin, rmax), rng.uniform(rmin, rmax) * rng.uniform(0.55, 1.0)
        ang = rng.uniform(0, 180)
        grey = int(rng.integers(-spread, spread + 1))
        col = tuple(min(255, max(0, c + grey + int(rng.integers(-6, 7)))) for c in base)
        ax = (max(1, int(a)), max(1, int(b)))
        cv2.ellipse(img, (int(x + a * 0.25), int(y + a * 0.3)), ax, ang, 0, 360, (35, 32, 28), -1, cv2.LINE_AA)
        cv2.ellipse(img, (int(x), int(y)), ax, ang, 0, 360, col, -1, cv2.LINE_AA)
        hi = tuple(min(255, int(c * 1.25 + 20)) for c in col)
        cv2.ellipse(img, (int(x - a * 0.25), int(y - b * 0.25)), (max(1, int(a * 0.45)), max(1, int(b * 0.4))),
                    ang, 0, 360, hi, -1, cv2.LINE_AA)


def _draw_leaves(rng, img: np.ndarray, mask: np.ndarray, n: int) -> None:
    h, w = mask.shape
    palette = [(150, 110, 40), (120, 80, 35), (180, 150, 60), (90, 110, 40), (160, 90, 40)]
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    for x, y in zip(xs, ys):
        if not mask[y, x]:
            continue
        ln = rng.uniform(8, 20)
        col = palette[int(rng.integers(0, len(palette)))]
        ang = rng.uniform(0, 360)
        cv2.ellipse(img, (int(x), int(y)), (int(ln), max(2, int(ln * 0.4))), ang, 0, 360, col, -1, cv2.LINE_AA)
        dx, dy = math.cos(math.radians(ang)) * ln, math.sin(math.radians(ang)) * ln
        cv2.line(img, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)),
                 tuple(int(c * 0.7) for c in col), 1, cv2.LINE_AA)


def _draw_blades(rng, img: np.ndarray, mask: np.ndarray, density: float) -> None:
    """Grass blades: short anti-aliased strokes in several greens, one polylines call per colour."""
    h, w = mask.shape
    n = int(h * w * density)
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    keep = mask[ys, xs] > 0
    xs, ys = xs[keep], ys[keep]
    n = len(xs)
    ang = rng.normal(-math.pi / 2, 0.6, n) + rng.choice([0.0, math.pi], n, p=[0.7, 0.3])
    ln = rng.uniform(7, 24, n)
    x2, y2 = xs + np.cos(ang) * ln, ys + np.sin(ang) * ln
    segs = np.stack([np.stack([xs, ys], 1), np.stack([x2, y2], 1)], 1).astype(np.int32)
    greens = [(40, 85, 25), (62, 110, 35), (85, 135, 45), (110, 150, 60), (55, 95, 30), (135, 160, 70),
              (30, 65, 22), (95, 120, 45)]
    bucket = rng.integers(0, len(greens), n)
    for k, col in enumerate(greens):
        sel = segs[bucket == k]
        if len(sel):
            cv2.polylines(img, list(sel), False, col, 1 + (k % 3 == 0), cv2.LINE_AA)


def _poster(rng, img: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    """A rectangle of paper with coloured bands and random text, slightly torn."""
    paper = [(235, 232, 220), (240, 220, 90), (230, 120, 110), (150, 200, 235), (250, 250, 245)]
    col = paper[int(rng.integers(0, len(paper)))]
    pts = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
    pts += rng.normal(0, 3, pts.shape)
    cv2.fillPoly(img, [pts.astype(np.int32)], col, cv2.LINE_AA)
    if rng.random() < 0.6:
        band = tuple(int(c) for c in rng.integers(20, 200, 3))
        cv2.rectangle(img, (x + 4, y + 4), (x + w - 4, y + int(h * rng.uniform(0.2, 0.35))), band, -1)
    ty = y + int(h * 0.18)
    while ty < y + h - 10:
        size = rng.uniform(0.5, 1.2) * min(1.0, w / 160)
        txt = _random_text(rng, int(rng.integers(3, 9)))
        if rng.random() < 0.2:
            txt = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(4, 10))))
        ink = (int(rng.integers(0, 90)), int(rng.integers(0, 90)), int(rng.integers(0, 140)))
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                               cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN]))
        font |= cv2.FONT_ITALIC if rng.random() < 0.3 else 0
        cv2.putText(img, txt, (x + int(rng.integers(4, 14)), ty + int(18 * size)), font, size, ink,
                    int(rng.integers(1, 4)), cv2.LINE_AA)
        ty += int(28 * size) + int(rng.integers(4, 14))
    for _ in range(int(rng.integers(0, 3))):  # torn corners
        cx, cy = x + int(rng.integers(0, w)), y + int(rng.choice([0, h]))
        r = int(rng.integers(6, 20))
        tri = np.array([[cx - r, cy], [cx + r, cy], [cx + int(rng.integers(-r, r)), cy + int(rng.choice([-r, r]))]])
        cv2.fillPoly(img, [tri.astype(np.int32)], (175, 165, 150), cv2.LINE_AA)


# -------------------------------------------------------------------------------------- materials
# A material is ``fn(grain) -> uint8 (h, w, 3)`` where ``grain`` is a crop of the scene's fine noise
# (about 3 px cells, values around [0, 1]) giving the material's size; it is painted only into its
# region's bounding box.
def _grid_material(rng, h: int, w: int, size_u: float, size_v: float, angle: float, stagger: bool,
                   grout: float) -> tuple[np.ndarray, np.ndarray]:
    """A tiled or brick pattern (cells ``size_u`` x ``size_v`` px, rows shifted by half a cell when
    ``stagger``, joints ``grout`` px wide) rotated by ``angle`` rad: per-cell tone float32 in [0, 1] and the
    joint mask uint8 (1 on joints). Drawn upright cell by cell, then rotated once."""
    side = int(math.hypot(h, w)) + 4 if angle else 0
    ch, cw = (side, side) if angle else (h, w)
    tone = np.empty((ch, cw), np.float32)
    mortar = np.zeros((ch, cw), np.uint8)
    g = max(1, int(round(grout)))
    rows, cols = int(ch / size_v) + 2, int(cw / size_u) + 3
    vals = rng.random((rows, cols), dtype=np.float32)
    ou, ov = rng.uniform(0, size_u), rng.uniform(0, size_v)
    for r in range(rows):
        y0, y1 = int(round(r * size_v - ov)), int(round((r + 1) * size_v - ov))
        if y1 <= 0:
            continue
        shift = size_u / 2 if stagger and r % 2 else 0.0
        mortar[max(y0, 0):max(y0, 0) + g] = 1
        for c in range(cols):
            x0, x1 = int(round(c * size_u - ou - shift)), int(round((c + 1) * size_u - ou - shift))
            if x1 <= 0:
                continue
            tone[max(y0, 0):y1, max(x0, 0):x1] = vals[r, c]
            mortar[max(y0, 0):y1, max(x0, 0):max(x0, 0) + g] = 1
    if angle:
        m = cv2.getRotationMatrix2D((cw / 2, ch / 2), math.degrees(angle), 1.0)
        m[0, 2] += w / 2 - cw / 2
        m[1, 2] += h / 2 - ch / 2
        tone = cv2.warpAffine(tone, m, (w, h), flags=cv2.INTER_NEAREST)
        mortar = cv2.warpAffine(mortar, m, (w, h), flags=cv2.INTER_NEAREST)
    return tone, mortar


def _shaded(base: np.ndarray, shade: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """uint8 ``(h, w, 3)`` image ``shade * base + offset`` (colours in [0, 1]), saturated; one fast pass
    per channel."""
    off = np.zeros(3) if offset is None else offset
    return cv2.merge([cv2.convertScaleAbs(shade, alpha=255.0 * float(base[c]), beta=255.0 * float(off[c]))
                      for c in range(3)])


def _over(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy uint8 ``src`` into ``dst`` where ``mask`` (bool or uint8) is set; returns ``dst``."""
    cv2.copyTo(src, mask.view(np.uint8) if mask.dtype == bool else mask, dst)
    return dst


def _pavers(rng, grain, base: np.ndarray, grout_col: np.ndarray) -> np.ndarray:
    h, w = grain.shape
    size = rng.uniform(70, 130)
    tone, mortar = _grid_material(rng, h, w, size * rng.uniform(1.0, 1.8), size, rng.uniform(-0.3, 0.3),
                                  bool(rng.random() < 0.6), rng.uniform(3, 6))
    shade = _noise(rng, h, w, 300, 4)
    shade *= 0.25
    shade += 0.45 + 0.3 * tone + 0.3 * grain
    return _over(_shaded(base, shade), _shaded(grout_col, 0.8 + 0.3 * grain), mortar)


def _asphalt(rng, grain) -> np.ndarray:
    h, w = grain.shape
    g = grain - 0.5
    shade = _noise(rng, h, w, 400, 5)
    shade *= 0.35
    shade += 0.575 + 0.25 * g + 2.8 * g * g * g
    return _shaded(_rgb(78, 78, 80), shade)


def _soil(rng, grain, base=(128, 100, 72)) -> np.ndarray:
    h, w = grain.shape
    shade = _noise(rng, h, w, 260, 5)
    shade *= 0.5
    shade += 0.27 + 0.4 * grain
    return _shaded(_rgb(*base), shade)


def _grass_base(rng, grain) -> np.ndarray:
    h, w = grain.shape
    n = _noise(rng, h, w, 300, 5)
    m = _noise(rng, h, w, 120, 3)
    dark, light = _rgb(45, 80, 28), _rgb(105, 140, 55)
    out = _shaded(light - dark, np.clip(0.3 + 0.7 * n - 0.2 * m, 0, 1), dark)
    return _over(out, _shaded(_rgb(120, 100, 70), 0.8 + 0.4 * n), m > 0.78)  # worn patches show soil


def _concrete(rng, grain, base=(168, 165, 158), mult: np.ndarray | None = None) -> np.ndarray:
    h, w = grain.shape
    shade = _noise(rng, h, w, 350, 5)
    shade *= 0.35
    shade += 0.46 + 0.29 * grain
    if mult is not None:
        shade *= mult
    return _shaded(_rgb(*base), shade)


def _water(rng, grain) -> np.ndarray:
    h, w = grain.shape
    lo, hi = _rgb(50, 85, 80), _rgb(95, 125, 115)
    return _shaded(hi - lo, _noise(rng, h, w, 500, 4), lo)


def _bricks(rng, grain, plaster: tuple[int, int, int]) -> np.ndarray:
    """Brick wall behind peeling painted plaster with grime."""
    h, w = grain.shape
    bh = rng.uniform(26, 38)
    tone, mortar = _grid_material(rng, h, w, bh * rng.uniform(2.2, 2.8), bh, 0.0, True, rng.uniform(3, 5))
    brick = _over(_shaded(_rgb(150, 70, 50), 0.5 + 0.5 * tone + 0.3 * grain),
                  _shaded(_rgb(170, 160, 145), 0.85 + 0.2 * grain), mortar)
    shade = _noise(rng, h, w, 260, 5)
    shade *= 0.3
    shade += 0.74 + 0.18 * grain
    grime = _noise(rng, h, w, 200, 4)
    shade *= 1.0 - 0.77 * np.clip(grime - 0.55, 0, 1)
    peel = _noise(rng, h, w, 220, 4) > rng.uniform(0.62, 0.72)  # peeled plaster shows bricks
    return _over(_shaded(_rgb(*plaster), shade), brick, peel)


def _paint(img: np.ndarray, mask: np.ndarray, grain: np.ndarray, material, *args) -> None:
    """Paint ``material(grain_crop, *args)`` (uint8) into ``img`` where ``mask`` is set, over its bounding box."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    cv2.copyTo(material(grain[y0:y1, x0:x1], *args), mask[y0:y1, x0:x1], img[y0:y1, x0:x1])


# ------------------------------------------------------------------------------------------ scenes
@dataclass(frozen=True, eq=False)
class SceneImage:
    """A rendered place. ``image``: uint8 ``(WORLD_H, WORLD_W, 3)`` RGB with light baked in;
    ``light``: float32 ``(WORLD_H, WORLD_W)`` multiplier in about [0.6, 1.15] used to light litter;
    ``ground``: uint8 mask, 1 where litter can lie; ``tilt``: perspective coefficient of its camera;
    ``sun``: shadow offset in px (dx, dy)."""

    kind: str
    image: np.ndarray
    light: np.ndarray
    ground: np.ndarray
    tilt: float
    sun: tuple[float, float]


def _band_mask(h: int, w: int, y0: float, slope: float) -> np.ndarray:
    """uint8 mask, 1 below the line ``y = y0 + slope * (x - w/2)``."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    return (y > y0 + slope * (x - w / 2)).astype(np.uint8)


def _layout(rng, kind: str, h: int, w: int, img: np.ndarray, grain: np.ndarray) -> tuple[np.ndarray, list]:
    """Paint the regions of a ``kind`` of place; return (ground mask, detail list for :func:`_details`)."""
    r = rng
    if kind == "street":
        y_wall = r.uniform(0.2, 0.34) * h
        y_curb = y_wall + r.uniform(0.38, 0.5) * h
        slope_w, slope_c = r.uniform(-0.05, 0.05), r.uniform(-0.12, 0.12)
        ground = _band_mask(h, w, y_wall, slope_w)
        wall = 1 - ground
        road = _band_mask(h, w, y_curb + 55, slope_c)
        curb = _band_mask(h, w, y_curb, slope_c) - road
        walk = ground - curb - road
        plaster = [(222, 196, 120), (215, 205, 180), (190, 200, 170), (225, 215, 190)][int(r.integers(0, 4))]
        _paint(img, wall, grain, lambda g: _bricks(r, g, plaster))
        paver = [_rgb(160, 95, 75), _rgb(170, 165, 150), _rgb(150, 140, 120), _rgb(185, 120, 90)][int(r.integers(0, 4))]
        _paint(img, walk, grain, lambda g: _pavers(r, g, paver, _rgb(120, 115, 105)))
        _paint(img, curb, grain, lambda g: _concrete(r, g, (190, 188, 182)))
        _paint(img, road, grain, lambda g: _asphalt(r, g))
        trunk = (int(r.uniform(0.15, 0.85) * w), int(r.uniform(60, 110)), int(y_wall) + 40)
        details = [("posters", wall, 2 + int(r.integers(0, 3))), ("trunk", trunk, 0), ("cracks", walk, 8),
                   ("cracks", road, 14), ("stones", road, 160), ("leaves", ground, 160), ("paint", road, 0)]
    elif kind == "park":
        _paint(img, np.ones((h, w), np.uint8), grain, lambda g: _grass_base(r, g))
        path = np.zeros((h, w), np.uint8)
        xs = np.linspace(-100, w + 100, 40)
        a, b, c = r.uniform(-4e-4, 4e-4), r.uniform(-0.5, 0.5), r.uniform(0.3, 0.7) * h
        ys = a * (xs - w / 2) ** 2 + b * (xs - w / 2) * 0.3 + c
        cv2.polylines(path, [np.stack([xs, ys], 1).astype(np.int32)], False, 1, int(r.uniform(170, 280)))
        _paint(img, path, grain, lambda g: _soil(r, g))
        grass = 1 - path
        ground = np.ones((h, w), np.uint8)
        root = (int(r.uniform(0.15, 0.85) * w), int(r.uniform(0.1, 0.9) * h))
        details = [("blades", grass, 0), ("stones", path, 700), ("leaves", ground, 350), ("root", root, 0),
                   ("stones", grass, 60)]
    elif kind == "riverbank":
        y_water = r.uniform(0.14, 0.26) * h
        slope = r.uniform(-0.1, 0.1)
        below = _band_mask(h, w, y_water, slope)
        ground = _band_mask(h, w, y_water + r.uniform(150, 240), slope)
        water, emb = 1 - below, below - ground
        _paint(img, water, grain, lambda g: _water(r, g))

        def embankment(g):
            tone, mortar = _grid_material(r, g.shape[0], g.shape[1], r.uniform(90, 150), r.uniform(60, 90),
                                          r.uniform(-0.2, 0.2), True, 7)
            return _concrete(r, g, (140, 135, 125), (0.7 + 0.5 * tone) * (1 - np.float32(0.45) * mortar))
        _paint(img, emb, grain, embankment)
        soil = ((_noise(r, h, w, 500, 3) > 0.55) & (ground > 0)).astype(np.uint8)
        grass = ground - soil
        _paint(img, soil, grain, lambda g: _soil(r, g, (135, 115, 85)))
        _paint(img, grass, grain, lambda g: _grass_base(r, g))
        details = [("ripples", water, 0), ("blades", grass, 0), ("stones", ground, 400), ("cracks", emb, 10),
                   ("leaves", ground, 200)]
    elif kind == "alley":
        x_wall = r.uniform(0.16, 0.28) * w
        lean = r.uniform(-0.06, 0.06)
        wall = (np.arange(w)[None, :] < x_wall + lean * (np.arange(h)[:, None] - h / 2)).astype(np.uint8)
        right = bool(r.random() < 0.5)  # the wall on the right-hand side
        if right:
            wall = np.ascontiguousarray(wall[:, ::-1])
        ground = 1 - wall
        plaster = [(226, 200, 110), (205, 210, 200), (200, 185, 160)][int(r.integers(0, 3))]
        _paint(img, wall, grain, lambda g: _bricks(r, g, plaster))

        def slabs(g):
            slab, seams = _grid_material(r, g.shape[0], g.shape[1], r.uniform(220, 330), r.uniform(180, 260),
                                         r.uniform(-0.1, 0.1), False, 4)
            return _concrete(r, g, (150, 148, 140), (0.85 + 0.25 * slab) * (1 - np.float32(0.4) * seams))
        _paint(img, ground, grain, slabs)
        details = [("posters", wall, 1 + int(r.integers(0, 3))), ("cracks", ground, 22),
                   ("drain", (int(w - x_wall - abs(lean) * h / 2 - 110) if right else int(x_wall + abs(lean) * h / 2),),
                    0), ("stones", ground, 120),
                   ("leaves", ground, 120)]
    else:
        raise ValueError(f"unknown scene kind {kind!r} (known: {', '.join(SCENE_KINDS)})")
    return ground, details


def _details(rng, u8: np.ndarray, details: list) -> None:
    """Draw the small things (cracks, stones, leaves, blades, posters, ...) on the uint8 image."""
    h, w = u8.shape[:2]
    for what, mask, n in details:
        if what == "cracks":
            _draw_cracks(rng, u8, mask, n, (58, 54, 50))
        elif what == "stones":
            _draw_stones(rng, u8, mask, n, 3, 11, (125, 118, 108), 40)
        elif what == "leaves":
            _draw_leaves(rng, u8, mask, n)
        elif what == "blades":
            _draw_blades(rng, u8, mask, 0.006)
        elif what == "posters":
            ys, xs = np.nonzero(mask[::8, ::8])
            for _ in range(n):
                k = int(rng.integers(0, len(xs)))
                pw, ph = int(rng.uniform(110, 260)), int(rng.uniform(90, 200))
                _poster(rng, u8, int(xs[k] * 8) - pw // 2, int(ys[k] * 8) - ph // 2, pw, ph)
        elif what == "trunk":
            x0, tw, y1 = mask
            bark = _noise(rng, y1, tw, 40, 3)
            streak = np.tile(rng.random((1, tw), dtype=np.float32), (y1, 1))
            xs = np.linspace(-0.99, 0.99, tw, dtype=np.float32)
            body = _shaded(_rgb(95, 80, 62), (0.6 + 0.35 * bark + 0.35 * streak) * (0.55 + 0.45 * np.sqrt(1 - xs ** 2)))
            x0 = min(max(0, x0), w - tw)
            u8[0:y1, x0:x0 + tw] = body
        elif what == "root":
            cx, cy = mask
            for _ in range(9):
                pts = _random_walk(rng, cx, cy, 18, 12, 0.2)
                cv2.polylines(u8, [pts], False, (88, 70, 52), int(rng.integers(6, 16)), cv2.LINE_AA)
            cv2.circle(u8, (cx, cy), int(rng.uniform(50, 80)), (92, 76, 58), -1, cv2.LINE_AA)
        elif what == "ripples":
            ys, xs = np.nonzero(mask[::4, ::4])
            sel = rng.integers(0, len(xs), 900)
            for x, y in zip(xs[sel] * 4, ys[sel] * 4):
                ln = int(rng.uniform(10, 50))
                col = (150, 175, 165) if rng.random() < 0.6 else (40, 65, 60)
                cv2.line(u8, (int(x), int(y)), (int(x) + ln, int(y) + int(rng.integers(-2, 3))), col, 2, cv2.LINE_AA)
        elif what == "paint":  # worn lane marking
            y = int(rng.uniform(0.8, 0.95) * h)
            col = (225, 220, 205) if rng.random() < 0.5 else (215, 185, 70)
            cv2.line(u8, (0, y), (w, y + int(rng.uniform(-80, 80))), col, int(rng.uniform(18, 30)))
        elif what == "drain":  # a gutter grate along the wall
            gx = mask[0] + 20
            for y in range(0, h, 120):
                cv2.rectangle(u8, (gx, y + 4), (gx + 70, y + 114), (60, 60, 62), -1)
                for k in range(int(rng.integers(6, 10))):
                    yy = y + 12 + k * 12
                    cv2.line(u8, (gx + 6, yy), (gx + 64, yy + int(rng.integers(-2, 3))), (25, 25, 27), 4)


def _blotches(rng, h: int, w: int) -> np.ndarray:
    """Brightness factor (float32, ``(h, w)``, about 0.7-1.15) of irregular sharp-edged patches (dirt, wear,
    damp) at two scales: random shapes whose corners give a feature matcher unique, repeatable points."""
    factor = np.ones((h, w), np.float32)
    for scale, depth in ((45.0, 0.16), (14.0, 0.12)):
        n = _noise(rng, h, w, scale, 3)
        factor -= depth * np.clip((n - 0.62) * 10, 0, 1)
        factor += 0.6 * depth * np.clip((0.3 - n) * 10, 0, 1)
    return factor


def render_scene(rng: np.random.Generator, kind: str) -> SceneImage:
    """Draw one place of the given ``kind`` (one of :data:`SCENE_KINDS`) from ``rng``."""
    h, w = WORLD_H, WORLD_W
    fine = rng.random((h // 3 + 2, w // 3 + 2), dtype=np.float32)  # texture at about 3 px
    grain = cv2.resize(fine, (w, h), interpolation=cv2.INTER_CUBIC)
    grain -= 0.5
    grain *= 1.8
    grain += 0.5
    img = np.zeros((h, w, 3), np.uint8)
    ground, details = _layout(rng, kind, h, w, img, grain)
    _details(rng, img, details)
    # shade at quarter resolution: darker stains on the ground, large soft shadows of trees, a gradient
    sh, sw = h // 4, w // 4
    stains = np.zeros((sh, sw), np.float32)
    for _ in range(int(rng.integers(12, 26))):
        cv2.ellipse(stains, (int(rng.integers(0, sw)), int(rng.integers(0, sh))),
                    (int(rng.uniform(4, 40)), int(rng.uniform(3, 25))), rng.uniform(0, 180), 0, 360,
                    float(rng.uniform(0.2, 0.6)), -1)
    stains = cv2.GaussianBlur(stains, (0, 0), 3) * cv2.resize(ground, (sw, sh), interpolation=cv2.INTER_NEAREST)
    canopy = _noise(rng, sh, sw, 160, 3)
    canopy = cv2.GaussianBlur((canopy > rng.uniform(0.45, 0.65)).astype(np.float32), (0, 0), 4)
    gy = np.linspace(-1, 1, sh, dtype=np.float32)[:, None]
    gx = np.linspace(-1, 1, sw, dtype=np.float32)[None, :]
    light_q = 1.05 - rng.uniform(0.25, 0.4) * canopy + 0.08 * (gx * rng.uniform(-1, 1) + gy * rng.uniform(-1, 1))
    light = cv2.resize(light_q.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    shade = cv2.resize((light_q * (1 - stains)).astype(np.float32), (w // 2, h // 2), interpolation=cv2.INTER_LINEAR)
    shade *= _blotches(rng, h // 2, w // 2)
    shade = cv2.resize(cv2.convertScaleAbs(shade, alpha=128.0), (w, h), interpolation=cv2.INTER_LINEAR)
    img = cv2.multiply(img, cv2.merge([shade, shade, shade]), scale=1 / 128.0)
    sun = (float(rng.uniform(4, 9)) * (1 if rng.random() < 0.5 else -1), float(rng.uniform(5, 10)))
    tilt = -float(rng.uniform(0.6e-4, 1.1e-4))
    return SceneImage(kind=kind, image=img, light=light, ground=ground, tilt=tilt, sun=sun)


# ------------------------------------------------------------------------------------------ camera
@dataclass(frozen=True)
class Pose:
    """Where a camera looks: world point (cx, cy) at the photo's centre, rotation in degrees, zoom in photo
    px per world px, and ``tilt`` (perspective coefficient per world px: negative makes the top recede)."""

    cx: float
    cy: float
    angle: float
    zoom: float
    tilt: float


@dataclass(frozen=True)
class Light:
    """A change of light between shots: per-channel gain (colour temperature), contrast around mid-grey,
    gamma, a linear brightness gradient across the frame (fraction per half frame) and vignetting."""

    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 1.0
    gamma: float = 1.0
    gradient: tuple[float, float] = (0.0, 0.0)
    vignette: float = 0.15


def homography(pose: Pose) -> np.ndarray:
    """3x3 float64 matrix mapping world pixels to photo pixels for ``pose``."""
    t1 = np.array([[1, 0, -pose.cx], [0, 1, -pose.cy], [0, 0, 1]], np.float64)
    p = np.array([[1, 0, 0], [0, 1, 0], [0, pose.tilt, 1]], np.float64)
    a = math.radians(pose.angle)
    r = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]) * pose.zoom
    r[2, 2] = 1.0
    t2 = np.array([[1, 0, PHOTO_W / 2], [0, 1, PHOTO_H / 2], [0, 0, 1]], np.float64)
    return t2 @ r @ p @ t1


def map_points(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply homography ``h`` to ``(n, 2)`` points."""
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]


def pose_fits(pose: Pose, margin: float = 8.0) -> bool:
    """Whether the whole photo of ``pose`` sees only the world (no border is invented)."""
    corners = np.array([[0, 0], [PHOTO_W, 0], [PHOTO_W, PHOTO_H], [0, PHOTO_H]], np.float64)
    w = map_points(np.linalg.inv(homography(pose)), corners)
    return bool((w[:, 0] >= margin).all() and (w[:, 0] <= WORLD_W - margin).all()
                and (w[:, 1] >= margin).all() and (w[:, 1] <= WORLD_H - margin).all())


def moved(rng: np.random.Generator, pose: Pose) -> Pose:
    """The pose after a step: 2.5-5 degrees of rotation, 4-8 % of the frame of translation in each axis,
    3-7 % zoom in or out, a slightly different tilt. Tries until the photo stays inside the world."""
    for _ in range(200):
        tx = rng.uniform(0.04, 0.08) * PHOTO_W * rng.choice([-1, 1])
        ty = rng.uniform(0.04, 0.08) * PHOTO_H * rng.choice([-1, 1])
        cand = Pose(cx=pose.cx + tx / pose.zoom, cy=pose.cy + ty / pose.zoom,
                    angle=pose.angle + rng.uniform(2.5, 5) * rng.choice([-1, 1]),
                    zoom=pose.zoom * (1 + rng.uniform(0.03, 0.07) * rng.choice([-1, 1])),
                    tilt=pose.tilt * rng.uniform(0.8, 1.2))
        if pose_fits(cand):
            return cand
    raise RuntimeError("no camera move fits inside the world")


def base_pose(rng: np.random.Generator, tilt: float) -> Pose:
    return Pose(cx=WORLD_W / 2 + rng.uniform(-15, 15), cy=WORLD_H / 2 + rng.uniform(-15, 15),
                angle=rng.uniform(-1.5, 1.5), zoom=rng.uniform(1.16, 1.22), tilt=tilt)


def random_light(rng: np.random.Generator) -> Light:
    temp = rng.uniform(-0.07, 0.07)
    g = rng.uniform(0.86, 1.12)
    return Light(gain=(g * (1 + temp), g, g * (1 - temp)), contrast=rng.uniform(0.85, 1.15),
                 gamma=rng.uniform(0.9, 1.1), gradient=(rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12)),
                 vignette=rng.uniform(0.08, 0.22))


def shoot(world: np.ndarray, pose: Pose, light: Light) -> np.ndarray:
    """Photograph ``world`` (uint8 RGB) from ``pose`` under ``light``: uint8 ``(PHOTO_H, PHOTO_W, 3)``."""
    img = cv2.warpPerspective(world, homography(pose), (PHOTO_W, PHOTO_H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT101)
    v = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((256, 1, 3), np.uint8)
    for c in range(3):
        x = np.clip((v * light.gain[c] - 0.5) * light.contrast + 0.5, 0, 1) ** light.gamma
        lut[:, 0, c] = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut)
    gy = np.linspace(-1, 1, 60, dtype=np.float32)[:, None]
    gx = np.linspace(-1, 1, 80, dtype=np.float32)[None, :]
    field = 1 + light.gradient[0] * gx + light.gradient[1] * gy - light.vignette * (gx ** 2 + gy ** 2) / 2
    field = cv2.resize(cv2.convertScaleAbs(field, alpha=128.0), (PHOTO_W, PHOTO_H), interpolation=cv2.INTER_LINEAR)
    img = cv2.multiply(img, cv2.merge([field, field, field]), scale=1 / 128.0)
    return img
