"""Hashes of parts of a photo for the copies that cheat harder (issue 22): deep crops, collages, stickers.

Pure functions over the grey images :mod:`pipeline.dedup.hashing` already makes (the grey analysis image
and its hash base, longest side <= ``hashing.CROP_GRID_SIDE`` px); no database, no index.

- **Region windows** (``REGION_BOXES``): pHashes of fixed sub-windows of every photo. A copy with 20-30 %
  cut off one side, or off two adjacent sides, has its whole-photo pHash within a few bits of one window of
  the original (the windows step by 5 % of a side: a crop lies within 2.5 % of one, which pHash tolerates on
  one edge: 98 % within 10 bits; on two edges 86 %, measured on 40 photos of ../shared/data), and with
  10-15 % cut off each of two opposite sides within 2.5-4.5 % of one. A copy with a
  sticker or a text panel over a quarter to a third of it keeps some windows clean (a half, a quadrant, the
  70 % away from a band): window k of the copy is then within a few bits of window k of the original
  (``SAME_SLOT``).
- **Cells** (:func:`cell_codes`): a dHash of each cell of a fixed ``CELL_GRID`` x ``CELL_GRID`` grid over
  the photo, for a sticker or a panel anywhere (a disc across the middle touches every window): a copy with
  something drawn over a third of it keeps the original's geometry, so every cell the drawing does not
  touch is the same cell of the original, re-encoded. Cells with too little texture (sky, a wall: shared
  by many photos) get no code (0).
- **Pictures inside a photo** (:func:`find_panels`): the panels of a collage, split at separators (runs of
  flat rows or columns) or at seams (a row or column across which the picture does not continue), each
  with its pHash and a grey view for the local-feature confirmation. A photo of a collage's panel is
  matched like the photo inside a screenshot.

Every hit is confirmed on local features (:mod:`pipeline.dedup.confirm`), so these hashes only need recall.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

STAGE_VERSION = "dedup-regions-4"  # 2: pictures of kind "screen" (pipeline.dedup.screen); 3: more screens found
# (the quads of the flat regions between edges, a quad retried larger); 4: cell codes


@dataclass(frozen=True)
class FracBox:
    """A sub-window as fractions (x0, y0, x1, y1) of the photo (``box`` as :class:`hashing.CropWindow`)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def box(self, width: float, height: float) -> tuple[float, float, float, float]:
        return (self.x0 * width, self.y0 * height, self.x1 * width, self.y1 * height)


DEPTHS = (0.2, 0.25, 0.3)  # fraction of a side cut off, one window per depth
OPPOSITE = (0.1, 0.15)  # fraction cut off each of two opposite sides


def _boxes() -> tuple[FracBox, ...]:
    out = []
    for d in (*DEPTHS, 0.5):  # one side cut: left, top, right, bottom (0.5: the halves)
        out += [FracBox(d, 0, 1, 1), FracBox(0, d, 1, 1), FracBox(0, 0, 1 - d, 1), FracBox(0, 0, 1, 1 - d)]
    for dx in (*DEPTHS, 0.5):  # two adjacent sides cut: the window keeps one corner of the photo
        for dy in (*DEPTHS, 0.5):
            if (dx == 0.5) != (dy == 0.5):
                continue
            out += [FracBox(dx, dy, 1, 1), FracBox(0, dy, 1 - dx, 1), FracBox(0, 0, 1 - dx, 1 - dy),
                    FracBox(dx, 0, 1, 1 - dy)]
    for a in OPPOSITE:  # two opposite sides cut, 20-30 % of that side in all
        for b in OPPOSITE:
            out += [FracBox(a, 0, 1 - b, 1), FracBox(0, a, 1, 1 - b)]
    return tuple(out)


def _same_slot(b: FracBox) -> bool:
    """Windows matched slot to slot (a sticker or a text panel elsewhere): the halves and the 70 % away from
    one side, the quadrants and the 70 % x 70 % corners."""
    cuts = sorted(round(v, 2) for v in (b.x0, b.y0, 1 - b.x1, 1 - b.y1))
    return cuts in ([0.0, 0.0, 0.0, 0.3], [0.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.3, 0.3], [0.0, 0.0, 0.5, 0.5])


#: the region windows, in a fixed order (slot k of every photo is the same window)
REGION_BOXES: tuple[FracBox, ...] = _boxes()
#: windows whose same slot is matched between two photos (:func:`_same_slot`)
SAME_SLOT: tuple[int, ...] = tuple(k for k, b in enumerate(REGION_BOXES) if _same_slot(b))


#: cells per side of the grid of :func:`cell_codes` (5 x 5 = 25 codes, 200 bytes a photo)
CELL_GRID = 5
#: a cell is coded only when its grey levels (averaged down to 32 x 32) have at least this standard
#: deviation; a flat cell's dHash bits are noise
CELL_MIN_STD = 10.0
#: the cells of the grid, row-major (slot k of every photo is the same cell)
CELL_BOXES: tuple[FracBox, ...] = tuple(FracBox(i / CELL_GRID, j / CELL_GRID, (i + 1) / CELL_GRID, (j + 1) / CELL_GRID)
                                        for j in range(CELL_GRID) for i in range(CELL_GRID))


@dataclass(frozen=True)
class Picture:
    """A picture found inside a photo (``kind`` "panel": a collage's panel; "screen": the photo on a
    photographed screen, rectified, its box bounding the quad): its box as fractions (x0, y0, x1, y1), its pHash
    and its grey view (JPEG, ``hashing.VIEW_SIDE`` px)."""

    kind: str
    box: tuple[float, float, float, float]
    phash: int
    view: bytes = b""


@dataclass(frozen=True)
class RegionHashes:
    """The region-window pHashes (``REGION_BOXES`` order; empty when not computed), the pictures found and
    the cell codes (``CELL_BOXES`` order, 0: a flat cell; empty when not computed)."""

    windows: tuple[int, ...] = ()
    pictures: tuple[Picture, ...] = ()
    cells: tuple[int, ...] = ()

    def codes(self) -> tuple[int, ...]:
        """The windows, then the cells: the order they are stored in (one blob, :mod:`region_codec`)."""
        return self.windows + self.cells

    def to_dict(self) -> dict[str, Any]:
        return {"v": STAGE_VERSION, "windows": [f"{v:016x}" for v in self.windows],
                "cells": [f"{v:016x}" for v in self.cells],
                "pictures": [{"kind": p.kind, "box": list(p.box), "phash": f"{p.phash:016x}",
                              "view": base64.b64encode(p.view).decode("ascii")} for p in self.pictures]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "RegionHashes":
        if not d or d.get("v") != STAGE_VERSION:
            return cls()
        return cls(tuple(int(v, 16) for v in d.get("windows", [])),
                   tuple(Picture(p["kind"], tuple(float(v) for v in p["box"]), int(p["phash"], 16),
                                 base64.b64decode(p.get("view") or "")) for p in d.get("pictures", [])),
                   tuple(int(v, 16) for v in d.get("cells", [])))


def split_codes(codes: tuple[int, ...] | np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(windows, cells) of the stored codes (:meth:`RegionHashes.codes`): ``len(REGION_BOXES)`` windows, then
    ``len(CELL_BOXES)`` cells when stored (rows of ``dedup-regions-2`` and older had windows only)."""
    r = len(REGION_BOXES)
    codes = tuple(int(v) for v in codes)
    return codes[:r], (codes[r:] if len(codes) == r + len(CELL_BOXES) else ())


def dhash_cells(grids: np.ndarray) -> tuple[int, ...]:
    """The dHash (64 bits: each of 8 x 8 pixels brighter than its left neighbour, row-major, first bit most
    significant) of each 8-row, 9-column grid of ``grids`` (k, 8, 9)."""
    bits = grids[:, :, 1:] > grids[:, :, :-1]
    packed = np.packbits(bits.reshape(len(grids), 64), axis=1)
    return tuple(int.from_bytes(row.tobytes(), "big") for row in packed)


# ------------------------------------------------------------------------------------------ panels
SEP_FLAT = 0.9  # a separator column: at least this fraction of its pixels within 3 levels of its median
SEP_MAX = 0.08  # a separator is at most this fraction of the side wide
MIN_PANEL = 0.18  # a panel is at least this fraction of the side it is split along
SEAM_CORR = 0.35  # a seam: the columns on its two sides correlate under this ...
SEAM_CORR_PART = 0.55  # ... and under this over each third of its length
SEAM_WITHIN = 0.6  # ... while the columns as far apart just left and just right of it correlate at least this
MAX_PICTURES = 4


def _flat_columns(g: np.ndarray) -> np.ndarray:
    """Per column of ``g`` (H x W float): whether at least ``SEP_FLAT`` of it is within 3 levels of its
    median (a separator's column)."""
    return (np.abs(g - np.median(g, axis=0)) <= 3).mean(axis=0) >= SEP_FLAT


def _column_corr(g: np.ndarray) -> np.ndarray:
    """Per column of ``g`` (H x W float): the correlation of the columns one to the left and one to the
    right of it (over rows; 1 where either is flat: no evidence of a seam)."""
    c = g - g.mean(axis=0)
    norm = np.sqrt((c * c).sum(axis=0))
    corr = np.ones(g.shape[1])
    if g.shape[1] >= 3:
        num = (c[:, :-2] * c[:, 2:]).sum(axis=0)
        den = norm[:-2] * norm[2:]
        ok = den > 1e-6 * g.shape[0] + 4.0 * g.shape[0]  # both columns vary by more than ~2 levels
        corr[1:-1] = np.where(ok, num / np.maximum(den, 1e-9), 1.0)
    return corr


def _smooth_rows(g: np.ndarray, k: int = 5) -> np.ndarray:
    """``g`` averaged over ``k`` rows (a running mean down each column)."""
    c = np.cumsum(np.pad(g, ((k // 2 + 1, k // 2), (0, 0)), mode="edge"), axis=0)
    return (c[k:] - c[:-k]) / k


def _splits(g: np.ndarray) -> list[tuple[int, int]]:
    """Where to split ``g`` (H x W) into side-by-side panels: [start, end) column spans to drop between
    panels (a separator's columns, or one column at a seam). Empty when ``g`` is one picture."""
    h, w = g.shape
    if w < 24 or h < 16:
        return []
    flat = _flat_columns(g)
    # correlations on the picture smoothed down the columns: texture (grass, gravel) decorrelates
    # neighbouring columns of one photo; the shapes of a scene continue across them, not across a seam.
    # Taken over the whole height and over each third of it: a seam runs through all of them, the edge
    # of a pole or a wall through some. (Two photos with the same smooth sky-to-ground gradient and little
    # else correlate across their seam: such a collage without a separator is not split.)
    sm = _smooth_rows(g)
    thirds = [_column_corr(part) for part in np.array_split(sm, 3, axis=0)]
    corr = _column_corr(sm)
    lo, hi = int(MIN_PANEL * w), int((1 - MIN_PANEL) * w)
    cuts: list[tuple[int, int]] = []
    # separators: runs of flat columns inside [lo, hi], narrow, not touching the edges
    m = np.concatenate([[False], flat, [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    for s, e in zip(edges[0::2], edges[1::2]):
        if s > 0 and e < w and lo <= (s + e) / 2 <= hi and e - s <= max(2, SEP_MAX * w):
            cuts.append((int(s), int(e)))
    # seams: a column whose two neighbours do not correlate, where the columns as far apart on each side do
    for x in range(max(lo, 4), min(hi, w - 4)):
        if corr[x] >= SEAM_CORR or any(s - 2 <= x < e + 2 for s, e in cuts) or corr[x] > corr[x - 1:x + 2].min():
            continue
        if all(c[x] < SEAM_CORR_PART and c[x] <= 0.6 * min(c[x - 2], c[x + 2]) for c in (corr, *thirds)) and \
                min(corr[x - 2], corr[x + 2]) >= SEAM_WITHIN:
            cuts.append((x, x + 1))
    cuts.sort()
    out: list[tuple[int, int]] = []
    prev = 0
    for s, e in cuts:  # keep panels at least MIN_PANEL wide
        if s - prev >= MIN_PANEL * w and w - e >= MIN_PANEL * w:
            out.append((s, e))
            prev = e
    return out


def _split_box(g: np.ndarray, box: tuple[int, int, int, int], axis: int) -> list[tuple[int, int, int, int]]:
    """``box`` (x0, y0, x1, y1 px of ``g``) split into panels side by side (``axis`` 1) or stacked (0)."""
    x0, y0, x1, y1 = box
    sub = g[y0:y1, x0:x1]
    cuts = _splits(sub if axis == 1 else sub.T)
    if not cuts:
        return [box]
    n = (x1 - x0) if axis == 1 else (y1 - y0)
    starts = [0] + [e for _, e in cuts]
    ends = [s for s, _ in cuts] + [n]
    return [(x0 + s, y0, x0 + e, y1) if axis == 1 else (x0, y0 + s, x1, y0 + e) for s, e in zip(starts, ends)]


def find_panels(small: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The panels of a collage in a grey image (H x W, the hash base) as fractions (x0, y0, x1, y1), largest
    first, at most ``MAX_PICTURES``; empty when the image is one picture. Columns are split first, then each
    column's rows, and the other way round; of the two, the one that finds fewer panels (but two or more)."""
    g = np.asarray(small, dtype=np.float64)
    h, w = g.shape
    best: list[tuple[int, int, int, int]] = []
    for axis in (1, 0):
        cand = [p for b in _split_box(g, (0, 0, w, h), axis) for p in _split_box(g, b, 1 - axis)]
        if len(cand) >= 2 and (len(best) < 2 or len(cand) < len(best)):
            best = cand  # the order that splits into fewer panels: a false seam splits one panel, not all
    if len(best) < 2:
        return []
    best = [b for b in best if (b[2] - b[0]) >= MIN_PANEL * w and (b[3] - b[1]) >= MIN_PANEL * h]
    best.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return [(b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in best[:MAX_PICTURES]] if len(best) >= 2 else []


# ------------------------------------------------------------------------------------------ hashing
# ------------------------------------------------------------------------------------ a part's frame
SEAM_STRIP = 2  # px: width of the strips of a view compared on each side of a part's edge
SEAM_GAP = 2 * SEAM_STRIP + 2  # px between the strip just inside and the one further in (= across the edge)
SEAM_REACH = SEAM_GAP + SEAM_STRIP + 2  # px: an edge this close to the view's border is the border


def _strip_corr(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / den if den > 1e-6 else 1.0


def _strip(g: np.ndarray, side: str, edge: int, lo: int, hi: int, t0: int) -> np.ndarray:
    """The mean profile of the ``SEAM_STRIP``-px strip ``t0`` px inward from a box's ``edge`` (negative:
    outward) along ``lo:hi``, on ``side`` (left / right / top / bottom) of the box."""
    s = SEAM_STRIP
    if side in ("left", "top"):
        a, b = edge + t0, edge + t0 + s
    else:
        a, b = edge - t0 - s, edge - t0
    return (g[lo:hi, a:b].mean(1) if side in ("left", "right") else g[a:b, lo:hi].mean(0))


def ends_at_seam(grey: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Whether the part ``box`` (x0, y0, x1, y1 px) of the bigger view ``grey`` (H x W uint8) ends where
    the picture ends: along every edge of the box that lies inside the view (``SEAM_REACH`` px or more from
    its border), the strip just outside it is flat (a separator), or correlates with the strip just inside
    it under half as well as that strip does with one as far further in (a seam: a collage's panel). A deep
    crop's edges cut through one picture, which continues across them. False when no edge lies inside."""
    g = np.asarray(grey, dtype=np.float64)
    h, w = g.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    r = SEAM_REACH
    inner = 0
    for side, edge, inside, span in (("left", x0, x0 >= r, (y0, y1)), ("right", x1, x1 <= w - r, (y0, y1)),
                                     ("top", y0, y0 >= r, (x0, x1)), ("bottom", y1, y1 <= h - r, (x0, x1))):
        lo, hi = max(0, span[0]), min(h if side in ("left", "right") else w, span[1])
        depth = (x1 - x0) if side in ("left", "right") else (y1 - y0)
        if not inside or hi - lo < 16 or depth < 2 * r:
            continue
        inner += 1
        out, inn, deep = (_strip(g, side, edge, lo, hi, t) for t in (-2 - SEAM_STRIP, 2, 2 + SEAM_GAP))
        across, within = _strip_corr(out, inn), _strip_corr(inn, deep)
        if not (float(out.std()) < 3.0 or (across < 0.5 * within and across < 0.4)):
            return False
    return inner > 0
