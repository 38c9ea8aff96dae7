"""Pixel check of a hash match on the photos' grey signatures (``DedupHashes.thumb``, 64x64 uint8).

A hash match says two photos look alike at 8x8 frequencies; it cannot tell a re-encoded copy from a second
frame of a fixed camera, or a before photo from the after photo of the same spot. Both differ from a copy
in a few places only (a car moved, litter removed). So a match is accepted only when the two signatures,
aligned (the dihedral variant, or the crop window) and each normalised to zero mean and unit variance
(which cancels brightness and contrast changes), differ little EVERYWHERE: :func:`difference` is a high
percentile of the absolute per-pixel difference at 32x32, in standard deviations of the signature.

Measured on ../shared/data (scripts/calibrate_dedup.py): JPEG quality 30 and 0.25x resizes stay below 0.15,
brightness/contrast changes with clipping below ~0.8; frames of one fixed street camera one second apart
are above 0.5 in 95% of the pairs.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

COMPARE_SIDE = 32  # px: signatures are compared at this side
PERCENTILE = 99.0  # the statistic: this percentile of |difference| over the COMPARE_SIDE**2 pixels


def dihedral(a: np.ndarray, variant: int) -> np.ndarray:
    """Variant ``variant`` (0-7, ``hashing.VARIANT_NAMES`` order) of a 2-D array."""
    return np.rot90(a, variant % 4) if variant < 4 else np.rot90(np.fliplr(a), variant % 4)


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    return (a - a.mean()) / (a.std() + 1.0)  # +1 grey level: flat signatures do not blow up


def _small(thumb: np.ndarray) -> np.ndarray:
    """Any square signature whose side is a multiple of COMPARE_SIDE -> COMPARE_SIDE by block means."""
    t = np.asarray(thumb, dtype=np.float32)
    f = t.shape[0] // COMPARE_SIDE
    return t if f == 1 else t.reshape(COMPARE_SIDE, f, COMPARE_SIDE, f).mean(axis=(1, 3))


_K = int(round(COMPARE_SIDE * COMPARE_SIDE * PERCENTILE / 100.0)) - 1


def _stat(za: np.ndarray, zb: np.ndarray) -> float:
    d = np.abs(za - zb).reshape(-1)
    return float(np.partition(d, _K)[_K])


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """How much two aligned signatures (same shape, 2-D) differ: the PERCENTILE of |z(a) - z(b)| at
    COMPARE_SIDE px, where z normalises to zero mean and unit variance. 0 for identical pictures; ~0.1 for a
    JPEG re-encode; >= 1 typical for different pictures."""
    return _stat(_normalise(_small(a)), _normalise(_small(b)))


def same_image_difference(query: np.ndarray, other: np.ndarray, variant: int) -> float:
    """:func:`difference` of variant ``variant`` of the query's signature and the other's."""
    return difference(np.ascontiguousarray(dihedral(query, variant)), other)


def crop_difference(big: np.ndarray, small: np.ndarray, hint: tuple[float, float, float, float],
                    give_up: float = 1.5, max_iter: int = 12) -> tuple[float, tuple[float, float, float, float]]:
    """Best :func:`difference` between ``small`` and a window of ``big`` (both square signatures), searched
    from the window ``hint`` (x0, y0, x1, y1 as fractions of ``big``) by moving each edge by 2, 1 and 0.5
    signature pixels while it improves. A start worse than ``give_up`` is returned as it is (unrelated
    photos; a true crop starts within a few percent of a hashed window). Returns (difference, window as
    fractions of ``big``)."""
    side = big.shape[0]
    img = Image.fromarray(np.asarray(big, dtype=np.uint8))
    zs = _normalise(_small(small))
    box = [v * side for v in hint]

    def score(b: list[float]) -> float:
        if b[2] - b[0] < side * 0.5 or b[3] - b[1] < side * 0.5 or min(b) < 0 or max(b) > side:
            return float("inf")
        crop = img.resize((COMPARE_SIDE, COMPARE_SIDE), Image.Resampling.BILINEAR, box=tuple(b))
        return _stat(_normalise(np.asarray(crop, dtype=np.float32)), zs)

    best = score(box)
    if best > give_up:
        return best, tuple(v / side for v in box)
    for step in (2.0, 1.0, 0.5):
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
    return best, tuple(v / side for v in box)
