"""Find a phone screen photographed at an angle, and the photo it shows, rectified (issue 22: "a photo of a
screen showing").

A photo of a screen is the photo on a phone (a dark bezel, a status bar, a light or dark screen) lying on
some surface, taken at a slant: the photo inside is a quadrilateral, seen through moire, glare and blur.
No hash of the whole shot is near the original's. :func:`find_screens` takes the grey analysis image and:

1. finds quadrilaterals that may be the phone or its screen, at ``DETECT_SIDE`` px: at a few grey levels
   (``DARK_LEVELS``), the convex hull of each of the two largest dark blobs (the bezel, with a dark screen)
   and of the two largest holes in them (a light screen inside the bezel, when the bezel's blob runs into
   a dark surface around the phone; grown by ``HOLE_GROW`` to take the bezel in), and the same of the
   regions between edges (Canny at half ``DETECT_SIDE``, ``EDGE_LEVELS``): the flat bezel is a ring between
   its outer edge and the screen's, whatever dark surface or black corner of the photo its dark blob runs
   into; each hull reduced to four corners (``cv2.approxPolyDP``); a quad is kept when its hull covers
   ``MIN_AREA`` to ``MAX_AREA`` of the image, it fills at least ``MIN_FILL`` of its hull and it lies inside
   the image;
2. warps each quad to an upright rectangle of its mean side lengths (longest side ``RECT_SIDE`` px), from
   the full analysis image (a quad whose warp has no flat margin on every side, cut into the bezel on one
   side, is tried again ``RETRY_GROW`` larger);
3. trims the flat border off the rectified image (the bezel, the status bar, the screen around the
   photo: rows and columns whose median gradient is under ``FLAT_GRADIENT`` grey levels a pixel, the
   photo's rows and columns have texture), first to last run of busy rows at least ``MIN_RUN`` of the side,
   then the columns within them, and ``INSET`` more; a quad without a flat margin of ``MIN_MARGIN`` on
   every side (a bezel) is no screen.

The rectified, trimmed photo is hashed and matched like a collage's panel (a :class:`regions.Picture` of
kind ``screen``); the confirmation allows a residual perspective (the corners found are a few pixels off).
Ordinary photos rarely give a quad that passes (2 of the 714 originals of ../shared/data): a dark doorway
or a window may, and then its picture is one more candidate the local features reject. What it misses
(measured on the tuning part of the calibration set, docs/dedup-calibration.md): a photo whose own edges
are flat (a white sky) is trimmed too far, and its pHash is then too far for a candidate; a phone on a
nearly black, even surface reads as a screenshot's border (the screenshot's inner photo is hashed instead,
and no screen is looked for). Pure OpenCV; about 7.5 ms CPU a photo.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DETECT_SIDE = 512  # px: longest side of the grey image the quads are looked for in
DARK_LEVELS = (85, 60, 40)  # grey levels under which a pixel may be the bezel (or a dark screen)
EDGE_BLUR = 1.0  # px (at half DETECT_SIDE): the blur before the edge map
EDGE_LEVELS = (20, 60)  # Canny's hysteresis levels, grey levels: the flat regions between edges are blobs too
HOLE_GROW = 1.08  # a hole's quad (the screen) is grown by this about its centre to take in the bezel
OUTSIDE = 0.01  # of the image's side: a quad with a corner further out is left out
MIN_AREA, MAX_AREA = 0.08, 0.95  # of the image, a quad's hull
MIN_FILL = 0.9  # the quad's area over its hull's
RECT_SIDE = 320  # px: longest side of the rectified screen
FLAT_GRADIENT = 1.5  # grey levels a pixel: median gradient of a row or column of bezel or screen is under it
TRIM_BLUR = 1.0  # px (at RECT_SIDE): the blur before the gradient, that takes the moire of a white screen out
MIN_RUN = 0.05  # a run of busy rows (columns) at least this share of the side is the photo's
MIN_MARGIN = 0.015  # of the rectified quad's longest side: the flat margin (a bezel) found on every side
INSET = 0.015  # of the trimmed photo's side, taken off each edge (the edge's own gradient rows)
MIN_PHOTO = 0.3  # the photo found covers at least this share of the rectified quad's side, both ways
SAME_QUAD = 0.04  # corners within this share of the image's longest side: the same quad
RETRY_GROW = 1.04  # a quad whose rectified image has no flat margin on every side is tried again this much larger
MAX_SCREENS = 3


@dataclass(frozen=True)
class Screen:
    """A photo found on a screen: ``box`` (x0, y0, x1, y1 fractions of the image) bounds its quad,
    ``corners`` (4 x 2 fractions, clockwise from top-left) is the quad, ``grey`` the rectified photo
    (uint8, longest side <= ``RECT_SIDE``)."""

    box: tuple[float, float, float, float]
    corners: np.ndarray
    grey: np.ndarray


def _order(q: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    q = q.reshape(4, 2).astype(np.float32)
    s, d = q.sum(1), q[:, 1] - q[:, 0]
    return np.array([q[np.argmin(s)], q[np.argmin(d)], q[np.argmax(s)], q[np.argmax(d)]], np.float32)


def _quad_of(hull: np.ndarray) -> np.ndarray | None:
    """The hull as four corners (the smallest approximation tolerance that gives four), or None."""
    per = cv2.arcLength(hull, True)
    for eps in (0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07):
        ap = cv2.approxPolyDP(hull, eps * per, True)
        if len(ap) == 4:
            return _order(ap)
        if len(ap) < 4:
            return None
    return None


def _hull_quad(contour: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The quad of a blob's outline (or a hole's) in an image of ``shape``, when its hull is large enough
    and the quad fills it."""
    h, w = shape
    hull = cv2.convexHull(contour)
    area = cv2.contourArea(hull)
    if not MIN_AREA * h * w < area < MAX_AREA * h * w:
        return None
    q = _quad_of(hull)
    if q is None or cv2.contourArea(q) < MIN_FILL * area:
        return None
    return q


def candidate_quads(g: np.ndarray) -> list[np.ndarray]:
    """Quads (4 x 2 px of ``g``, a grey image at ``DETECT_SIDE``) that may be a phone or its screen, in
    the order tried: at each of ``DARK_LEVELS``, the two largest blobs darker than it (the bezel, with a
    dark screen) and, grown by ``HOLE_GROW`` to take in the bezel, the two largest holes in them (the screen
    inside a bezel that runs into a dark surface around the phone); then the same of the regions between
    the edges of ``g`` at half its side (the flat bezel ring, whatever dark surface or black corner of the
    photo joins its dark blob)."""
    out = []
    masks = [(g < level).astype(np.uint8) for level in DARK_LEVELS]
    half = cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(cv2.GaussianBlur(half, (0, 0), EDGE_BLUR), *EDGE_LEVELS)
    masks.append((cv2.dilate(edges, np.ones((3, 3), np.uint8)) == 0).astype(np.uint8))
    for m in masks:
        scale = np.float32([g.shape[1] / m.shape[1], g.shape[0] / m.shape[0]])  # the edge map's is half
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        cs, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        if hier is None:
            continue
        outer = [c for c, hh in zip(cs, hier[0]) if hh[3] < 0]
        holes = [c for c, hh in zip(cs, hier[0]) if hh[3] >= 0]
        out += [q * scale for q in (_hull_quad(c, m.shape) for c in _largest(outer, 2)) if q is not None]
        out += [(q.mean(0) + (q - q.mean(0)) * HOLE_GROW) * scale
                for q in (_hull_quad(c, m.shape) for c in _largest(holes, 2)) if q is not None]
    return out


def _largest(contours, n: int) -> list[np.ndarray]:
    """The ``n`` contours of the largest area (outlines of fewer than 4 points left out)."""
    return sorted((c for c in contours if len(c) >= 4), key=cv2.contourArea, reverse=True)[:n]


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]])
    e = np.flatnonzero(m[1:] != m[:-1])
    return [(int(s), int(t)) for s, t in zip(e[0::2], e[1::2]) if t - s >= min_len]


def trim_flat(r: np.ndarray) -> tuple[int, int, int, int] | None:
    """The photo inside a rectified screen ``r`` (grey uint8) as (x0, y0, x1, y1) px: the flat border
    (bezel, status bar, empty screen) trimmed (see the module docstring); None when nothing is busy or
    some side has no flat margin."""
    b = cv2.GaussianBlur(r.astype(np.float32), (0, 0), TRIM_BLUR)
    grad = np.hypot(cv2.Sobel(b, cv2.CV_32F, 1, 0), cv2.Sobel(b, cv2.CV_32F, 0, 1)) / 8
    h, w = r.shape
    busy = grad > FLAT_GRADIENT  # a row's (column's) median is over the level: over half its pixels are
    rows = _runs(busy.mean(axis=1) > 0.5, max(4, int(MIN_RUN * h)))
    if not rows:
        return None
    y0, y1 = rows[0][0], rows[-1][1]
    cols = _runs(busy[y0:y1].mean(axis=0) > 0.5, max(4, int(MIN_RUN * w)))
    if not cols:
        return None
    x0, x1 = cols[0][0], cols[-1][1]
    if min(x0, y0, w - x1, h - y1) < MIN_MARGIN * max(h, w):
        return None  # no flat margin on every side: no bezel around a screen
    dx, dy = round(INSET * (x1 - x0)), round(INSET * (y1 - y0))
    x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 - dx, y1 - dy
    if x1 - x0 < MIN_PHOTO * w or y1 - y0 < MIN_PHOTO * h:
        return None
    return x0, y0, x1, y1


def rectify(grey: np.ndarray, quad: np.ndarray, side: int = RECT_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The quad (4 x 2 px of ``grey``, clockwise from top-left) warped to an upright rectangle of its mean
    side lengths scaled to a longest side of ``side`` px; returns it and the 3x3 homography from it back to
    ``grey``."""
    q = quad.astype(np.float32)
    w = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    s = side / max(w, h, 1.0)
    W, H = max(8, int(w * s)), max(8, int(h * s))
    dst = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    m = cv2.getPerspectiveTransform(q, dst)
    return cv2.warpPerspective(grey, m, (W, H), flags=cv2.INTER_AREA), np.linalg.inv(m)


def find_screens(grey: np.ndarray) -> list[Screen]:
    """The photos shown on a screen in a grey analysis image (H x W uint8), at most ``MAX_SCREENS``, each
    rectified and trimmed (see the module docstring); empty for an ordinary photo (nearly always)."""
    g = np.asarray(grey, np.uint8)
    if g.ndim != 2 or min(g.shape) < 64:
        return []
    f = min(1.0, DETECT_SIDE / max(g.shape))
    small = cv2.resize(g, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1.0 else g
    H, W = g.shape
    out: list[Screen] = []
    seen: list[np.ndarray] = []
    for q in candidate_quads(small):
        q = q / f
        found = None
        for grow in (1.0, RETRY_GROW):  # a quad cut into the bezel on one side: taken a little larger
            qq = q.mean(0) + (q - q.mean(0)) * grow
            if (qq < -OUTSIDE * max(H, W)).any() or (qq[:, 0] > W * (1 + OUTSIDE)).any() or \
                    (qq[:, 1] > H * (1 + OUTSIDE)).any():
                break  # grown past the image: the warp would add a black margin of its own
            r, back = rectify(g, qq)
            box = trim_flat(r)
            if box is not None:
                found = r, back, box
                break
        if found is None:
            continue
        r, back, box = found
        x0, y0, x1, y1 = box
        corners = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), back)[0]
        corners = corners / np.float32([W, H])
        if any(np.abs(c - corners).max() < SAME_QUAD for c in seen):
            continue
        seen.append(corners)
        lo, hi = np.clip(corners.min(0), 0, 1), np.clip(corners.max(0), 0, 1)
        out.append(Screen((round(float(lo[0]), 4), round(float(lo[1]), 4), round(float(hi[0]), 4),
                           round(float(hi[1]), 4)), corners, np.ascontiguousarray(r[y0:y1, x0:x1])))
        if len(out) >= MAX_SCREENS:
            break
    return out
