"""Pixel check of a hash match on the photos' grey signatures (``DedupHashes.thumb``, 64x64 uint8).

A hash match says two photos look alike at 8x8 frequencies; it cannot tell a re-encoded copy from a second
frame of a fixed camera, or a before photo from the after photo of the same spot. Both differ from a copy
in a few places only (a car moved, litter removed). So a match is accepted only when the two signatures,
aligned (the dihedral variant, or the crop window) and histogram-matched to each other (which undoes
brightness, contrast and gamma changes, clipping included), differ little: :func:`difference` is a
percentile of the absolute per-pixel difference at 32x32, in standard deviations of the signature. For
same-image matches the percentile is 100 (the largest local difference: a moved car or a removed piece of
litter shows); for crops 99 (alignment leaves small errors along edges).

Measured on ../shared/data by scripts/calibrate_dedup.py (docs/dedup-calibration.md).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

COMPARE_SIDE = 32  # px: signatures are compared at this side


def dihedral(a: np.ndarray, variant: int) -> np.ndarray:
    """Variant ``variant`` (0-7, ``hashing.VARIANT_NAMES`` order) of a 2-D array."""
    return np.rot90(a, variant % 4) if variant < 4 else np.rot90(np.fliplr(a), variant % 4)


def _small(thumb: np.ndarray) -> np.ndarray:
    """Any square signature whose side is a multiple of COMPARE_SIDE -> COMPARE_SIDE by block means."""
    t = np.asarray(thumb, dtype=np.float32)
    f = t.shape[0] // COMPARE_SIDE
    return t if f == 1 else t.reshape(COMPARE_SIDE, f, COMPARE_SIDE, f).mean(axis=(1, 3))


def _matched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` with its grey levels replaced by ``b``'s in rank order (histogram matching: undoes any
    monotonic brightness, contrast or gamma change, clipping included), and ``b``; both scaled by ``b``'s
    standard deviation (+1 grey level)."""
    ra, rb = _Ranked(a), _Ranked(b)
    return ra.matched_to(rb), rb.scaled


class _Ranked:
    """A signature (any shape) flattened to float32 with what histogram matching needs of it: its stable
    rank order, its sorted values, its scale (standard deviation + 1 grey level) and itself over that
    scale. Computed once per signature, so that a crop search compares many windows against one."""

    __slots__ = ("flat", "order", "sorted", "scale", "scaled")

    def __init__(self, a: np.ndarray):
        a = np.asarray(a)
        self.flat = a.astype(np.float32).reshape(-1)
        # uint8 input (a resized crop): the same stable order, by radix sort, ~8x faster than on floats
        self.order = np.argsort(a.reshape(-1) if a.dtype == np.uint8 else self.flat, kind="stable")
        self.sorted = self.flat[self.order]  # == np.sort(flat)
        self.scale = self.flat.std() + 1.0
        self.scaled = self.flat / self.scale

    def matched_to(self, ref: "_Ranked") -> np.ndarray:
        """This signature's values replaced by ``ref``'s in rank order, over ``ref``'s scale."""
        out = np.empty_like(ref.flat)
        out[self.order] = ref.sorted
        return out / ref.scale


def _difference_map_ranked(ra: _Ranked, rb: _Ranked) -> np.ndarray:
    x, y = ra.matched_to(rb), rb.scaled
    u, v = rb.matched_to(ra), ra.scaled
    return np.maximum(np.abs(x - y), np.abs(u - v)).reshape(COMPARE_SIDE, COMPARE_SIDE)


def difference_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|difference| per pixel at COMPARE_SIDE px of two aligned signatures after histogram matching, in
    standard deviations of ``b``; the larger of the two matching directions."""
    return _difference_map_ranked(_Ranked(_small(a)), _Ranked(_small(b)))


def _stat(d: np.ndarray, percentile: float, border: int = 0) -> float:
    if border:
        d = d[border:-border, border:-border]
    d = d.reshape(-1)
    k = min(len(d) - 1, int(round(len(d) * percentile / 100.0)) - 1)
    return float(np.partition(d, k)[k])


def difference(a: np.ndarray, b: np.ndarray, percentile: float = 100.0) -> float:
    """How much two aligned signatures (same shape, 2-D) differ: the ``percentile`` of
    :func:`difference_map` (100: the largest local difference, which a moved car or a removed piece of
    litter raises; 99: robust to local changes of under 1% of the picture). 0 for identical pictures."""
    return _stat(difference_map(a, b), percentile)


def same_image_difference(query: np.ndarray, other: np.ndarray, variant: int, percentile: float = 100.0) -> float:
    """:func:`difference` of variant ``variant`` of the query's signature and the other's."""
    return difference(np.ascontiguousarray(dihedral(query, variant)), other, percentile)


def _inside(box: list[float], side: int) -> tuple[float, float, float, float]:
    """``box`` clamped to the signature: the search tolerates edges up to 0.01 px outside, which Pillow's
    resize refuses ("box offset can't be negative")."""
    return tuple(min(max(v, 0.0), float(side)) for v in box)


def crop_difference(big: np.ndarray, small: np.ndarray, hint: tuple[float, float, float, float],
                    give_up: float = 1.5, max_iter: int = 8, percentile: float = 99.0,
                    final_percentile: float = 100.0) -> tuple[float, tuple[float, float, float, float]]:
    """Best :func:`difference` between ``small`` and a window of ``big`` (both square signatures).

    The window starts at ``hint`` (x0, y0, x1, y1 as fractions of ``big``: the hashed crop window that
    matched, within a few percent of the true crop), is searched on a coarse grid around it (shift by up to
    3 signature pixels, size by +-2), then refined by moving each edge by 1 and 0.5 pixel while it improves.
    The search minimises the ``percentile`` statistic (99: tolerant of edge errors while aligning); the
    result is the ``final_percentile`` statistic (100: the largest local difference) of the aligned window,
    leaving out a one-pixel border. A coarse best worse than ``give_up`` gives inf (unrelated photos).
    Returns (difference, window as fractions of ``big``)."""
    side = big.shape[0]
    img = Image.fromarray(np.asarray(big, dtype=np.uint8))
    ss = _Ranked(_small(small))  # ranked once for every window tried

    def score(b: list[float]) -> float:
        if b[2] - b[0] < side * 0.5 or b[3] - b[1] < side * 0.5 or min(b) < -0.01 or max(b) > side + 0.01:
            return float("inf")
        crop = img.resize((COMPARE_SIDE, COMPARE_SIDE), Image.Resampling.BILINEAR, box=_inside(b, side))
        return _stat(_difference_map_ranked(_Ranked(np.asarray(crop)), ss), percentile)

    x0, y0, x1, y1 = (v * side for v in hint)
    best, box = float("inf"), [x0, y0, x1, y1]
    for grow in (-2.0, 0.0, 2.0):
        for dx in (-3.0, -1.5, 0.0, 1.5, 3.0):
            for dy in (-3.0, -1.5, 0.0, 1.5, 3.0):
                cand = [x0 + dx - grow / 2, y0 + dy - grow / 2, x1 + dx + grow / 2, y1 + dy + grow / 2]
                s = score(cand)
                if s < best:
                    best, box = s, cand
    if best > give_up:
        return float("inf"), tuple(v / side for v in box)
    for step in (1.0, 0.5):
        improved, it = True, 0
        while improved and it < max_iter:
            improved, it = False, it + 1
            for k in range(4):
                for sgn in (-1.0, 1.0):
                    cand = list(box)
                    cand[k] += sgn * step
                    s = score(cand)
                    if s < best:
                        best, box, improved = s, cand, True
    crop = img.resize((COMPARE_SIDE, COMPARE_SIDE), Image.Resampling.BILINEAR, box=_inside(box, side))
    final = _stat(_difference_map_ranked(_Ranked(np.asarray(crop)), ss), final_percentile,
                  border=1)
    return final, tuple(v / side for v in box)
