"""Pair an entry's before and after photos by place: the best one-to-one assignment by match strength."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..config import VerifyConfig
from ..types import LoadedPhoto, SceneMatch
from .sameplace import PhotoFeatures, extract_features, match_features

_SAME_PLACE_BONUS = 1_000_000  # any same-place pair outranks any pair that is not


@dataclass(frozen=True)
class Pairing:
    """``pairs``: (before index, after index, SceneMatch) of the assignment, strongest first; a pair whose
    match is not the same place is the best candidate left for that photo. ``unpaired_before`` /
    ``unpaired_after``: indices of photos without a same-place partner. ``before_features`` /
    ``after_features``: the first detector's features of each photo."""

    pairs: tuple[tuple[int, int, SceneMatch], ...]
    unpaired_before: tuple[int, ...]
    unpaired_after: tuple[int, ...]
    before_features: tuple[PhotoFeatures, ...] = ()
    after_features: tuple[PhotoFeatures, ...] = ()


def match_all(before: list[LoadedPhoto], after: list[LoadedPhoto], cfg: VerifyConfig
              ) -> tuple[list[list[SceneMatch]], list[PhotoFeatures], list[PhotoFeatures]]:
    """Same-place check of every before photo against every after photo.

    Features are computed once per photo with ``cfg.detector``; pairs it rejects in the grey zone
    (:func:`needs_fallback`) are retried with ``cfg.fallback_detector`` (its features computed lazily, once
    per photo that needs them).
    """
    fb = [extract_features(p, cfg) for p in before]
    fa = [extract_features(p, cfg) for p in after]
    matches = [[match_features(b, a, cfg) for a in fa] for b in fb]
    fallback = cfg.fallback_detector.strip().lower()
    if fallback and fallback != cfg.detector.lower():
        fcfg = replace(cfg, detector=fallback)
        cache_b: dict[int, PhotoFeatures] = {}
        cache_a: dict[int, PhotoFeatures] = {}
        for i, row in enumerate(matches):
            for j, m in enumerate(row):
                if not needs_fallback(m, cfg):
                    continue
                if i not in cache_b:
                    cache_b[i] = extract_features(before[i], fcfg)
                if j not in cache_a:
                    cache_a[j] = extract_features(after[j], fcfg)
                m2 = match_features(cache_b[i], cache_a[j], fcfg)
                if m2.same_place or m2.inliers > m.inliers:
                    row[j] = m2
    return matches, fb, fa


def needs_fallback(match: SceneMatch, cfg: VerifyConfig) -> bool:
    """Whether a pair the first detector judged is retried with the fallback detector: only pairs it
    rejected with at least ``cfg.fallback_min_inliers`` inliers (some geometry agrees, not enough). Pairs
    of different places find almost none and are not retried, so they cost the first detector only."""
    return not match.same_place and match.inliers >= cfg.fallback_min_inliers


def match_pair(before: LoadedPhoto, after: LoadedPhoto, cfg: VerifyConfig) -> SceneMatch:
    """Same-place check of one before/after pair, with the fallback detector when the first one rejects
    it (for several photos of one entry use :func:`pair_photos`, which computes features once per photo)."""
    return pair_photos([before], [after], cfg).pairs[0][2]


def pair_photos(before: list[LoadedPhoto], after: list[LoadedPhoto], cfg: VerifyConfig) -> Pairing:
    """Match every before photo with every after photo (:func:`match_all`), then assign pairs one-to-one
    maximising the inlier count, same-place pairs first (``scipy.optimize.linear_sum_assignment``)."""
    if not before or not after:
        return Pairing((), tuple(range(len(before))), tuple(range(len(after))))
    matches, fb, fa = match_all(before, after, cfg)
    strength = np.array([[m.inliers + (_SAME_PLACE_BONUS if m.same_place else 0) for m in row]
                         for row in matches], np.float64)
    rows, cols = linear_sum_assignment(-strength)
    pairs = sorted(((int(i), int(j), matches[i][j]) for i, j in zip(rows, cols)),
                   key=lambda p: -strength[p[0], p[1]])
    paired_b = {i for i, _, m in pairs if m.same_place}
    paired_a = {j for _, j, m in pairs if m.same_place}
    return Pairing(tuple(pairs), tuple(i for i in range(len(before)) if i not in paired_b),
                   tuple(j for j in range(len(after)) if j not in paired_a), tuple(fb), tuple(fa))
