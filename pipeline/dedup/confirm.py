"""Confirm a reused-photo candidate on local features: is it a copy, the same spot at another moment, or
neither?

A hash hit only says two photos look alike at 8x8 frequencies. :func:`confirm` takes the two grey views
(``hashing.VIEW_SIDE`` px, stored with the hashes) and:

1. matches local features (the verify stage's detector and Lowe's ratio test,
   :mod:`pipeline.verify.sameplace`) and fits a similarity transform (rotation, zoom, shift: all a copy
   can differ by) with RANSAC;
2. warps one view onto the other, matches their grey levels (rank order, which undoes brightness,
   contrast and gamma) and marks the pixels that differ by more than ``changed_levels``;
3. forgives what an editor adds on top of a photo: a caption band (a run of rows at the top or bottom
   where nearly every pixel changed, darker or flatter in one photo) and text (changed blobs that are
   short and wide, drawn in near-white or near-black in one photo);
4. calls the pair a ``copy`` when what is left changed covers at most ``copy_max_changed`` of the overlap
   (``parallax_max_changed`` when, in the same framing, the keypoints disagree with the similarity by
   ``parallax_px`` or more: the parallax of a moving camera, whose frames seconds apart may differ by only
   0.1-0.4 % at 320 px),
   ``same_spot`` when the geometry is certain but something in the picture changed (a moved car, removed
   litter: frames of a fixed camera, or a before and after), and ``different`` otherwise.

Pure: two uint8 arrays in, a :class:`Confirmation` out. ~5-10 ms per pair at 320 px.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import VerifyConfig
from ..verify.sameplace import PhotoFeatures, _make_detector, _ratio_matches
from .overlay import even_out_light, occluders
from .regions import ends_at_seam

COPY, SAME_SPOT, DIFFERENT = "copy", "same_spot", "different"


@dataclass(frozen=True)
class ConfirmConfig:
    """Settings of :func:`confirm` (``DedupConfig`` carries the ones users may change)."""

    detector: str = "orb"  # sift finds a few more matches but costs ~6x the time at this size
    features: int = 500
    ratio: float = 0.8
    ransac_px: float = 2.5  # at view size
    min_inliers: int = 15  # fewer: the geometry is not certain, nothing is confirmed
    min_inlier_ratio: float = 0.25
    min_overlap: float = 0.5  # of the smaller view, covered by the other
    changed_levels: int = 28  # grey levels (after blur and level matching) that count as a change
    copy_max_changed: float = 0.004  # of the overlap, after forgiving captions and text
    #: a pair in the same framing (zoom within ``parallax_zoom`` of 1, under ``parallax_angle`` degrees)
    #: whose keypoints disagree with the fitted similarity by ``parallax_px`` or more (median, view pixels:
    #: the parallax of a moving camera; an editor's copy is one exact transform) is a copy only when at most
    #: ``parallax_max_changed`` changed (a resized copy's keypoints may disagree too, but nothing changes)
    parallax_px: float = 0.3
    parallax_max_changed: float = 0.0012
    parallax_zoom: float = 0.005
    parallax_angle: float = 0.5
    same_spot_min_inliers: int = 30
    #: keypoints spread over a grid x grid of cells (at most features / grid**2 per cell, the rest by
    #: strength) out of ``features * spread_pool`` detected: large lettering on a copy has the strongest
    #: corners of the picture and would otherwise take every keypoint, leaving none to match the original
    grid: int = 4
    spread_pool: int = 4
    #: issue 22: forgive a drawn sticker or text panel, and even out a filter's smooth change of light
    #: (pipeline/dedup/overlay.py), when the plain comparison finds too much changed in the same framing
    harder: bool = True
    #: issue 22: a photo of a screen (confirmed with ``perspective``) is a copy when at most this share of
    #: the overlap changed after the screen's glare, moire and blur are discounted (:func:`screen_changed`)
    screen_max_changed: float = 0.003


@dataclass(frozen=True)
class Confirmation:
    """What :func:`confirm` found: ``verdict`` (copy | same_spot | different), the RANSAC ``inliers`` of
    ``matches``, the similarity's ``angle`` (degrees) and ``zoom``, the ``overlap`` (fraction of the smaller
    view), the ``changed`` fraction left after forgiving ``forgiven`` (fraction of captions and text)."""

    verdict: str
    inliers: int = 0
    matches: int = 0
    angle: float = 0.0
    zoom: float = 1.0
    overlap: float = 0.0
    changed: float = 1.0
    forgiven: float = 0.0
    residual: float = 0.0
    occluded: float = 0.0  # fraction of the overlap under a drawn sticker or panel, forgiven (issue 22)
    relit: bool = False  # a copy only once a smooth gain field (a filter) was evened out (issue 22)
    #: one view is a part of the other that ends at a seam or a separator: a collage's panel (issue 22)
    framed: bool = False
    #: where ``b`` lies in ``a`` (x0, y0, x1, y1 as fractions of ``a``'s view, clipped), and ``a`` in ``b``
    box_in_a: tuple[float, ...] = ()
    box_in_b: tuple[float, ...] = ()


@dataclass(frozen=True, eq=False)
class ViewFeatures:
    """A grey view and its local features (computed once per view, reused for every pair)."""

    grey: np.ndarray
    features: PhotoFeatures


def view_features(grey: np.ndarray, cfg: ConfirmConfig = ConfirmConfig()) -> ViewFeatures:
    """Local features of a grey view (H x W uint8), CLAHE-equalised as the verify stage does."""
    g = np.ascontiguousarray(np.asarray(grey, np.uint8))
    eq = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(g)
    det = _make_detector(VerifyConfig(detector=cfg.detector, features=cfg.features * max(1, cfg.spread_pool)))
    try:
        kps = _spread(det.detect(eq, None), g.shape, cfg.features, cfg.grid)
        kps, desc = det.compute(eq, kps) if kps else ((), None)
    except cv2.error:
        kps, desc = (), None
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    if desc is None:
        desc = np.zeros((0, 32), np.uint8) if cfg.detector != "sift" else np.zeros((0, 128), np.float32)
    size = (g.shape[1], g.shape[0])
    return ViewFeatures(g, PhotoFeatures("", pts, desc, 1.0, size, size, cfg.detector, g))


def _spread(kps, shape: tuple[int, int], n: int, grid: int) -> list:
    """At most ``n`` of ``kps``: the strongest ``n // grid**2`` of each cell of a ``grid`` x ``grid`` split
    of an image of ``shape``, then the strongest of the rest up to ``n``."""
    kps = list(kps)
    if len(kps) <= n or grid < 1:
        return kps
    h, w = shape
    xy = np.array([k.pt for k in kps], np.float64)
    resp = np.array([k.response for k in kps], np.float64)
    cell = (np.minimum(xy[:, 1] * grid // h, grid - 1) * grid + np.minimum(xy[:, 0] * grid // w, grid - 1))
    order = np.lexsort((-resp, cell))  # by cell, strongest first
    first = np.searchsorted(cell[order], cell[order], side="left")
    take = order[np.arange(len(order)) - first < n // (grid * grid)]
    rest = np.setdiff1d(np.arange(len(kps)), take)
    take = np.concatenate([take, rest[np.argsort(-resp[rest], kind="stable")][:n - len(take)]])
    return [kps[i] for i in np.sort(take)]


def _matched_levels(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``src`` with its grey levels mapped so that its histogram over ``mask`` equals ``ref``'s: the
    percentiles 0, 1, ..., 100 of each (from their cumulative histograms; both uint8) matched, linear in
    between. Float32."""
    qs = np.linspace(0.0, 1.0, 101)
    cs = np.bincount(src[mask], minlength=256).cumsum().astype(np.float64)
    cr = np.bincount(ref[mask], minlength=256).cumsum().astype(np.float64)
    sq = np.searchsorted(cs / max(cs[-1], 1.0), qs).clip(0, 255).astype(np.float64)
    rq = np.searchsorted(cr / max(cr[-1], 1.0), qs).clip(0, 255).astype(np.float64)
    sq = np.maximum.accumulate(sq + np.arange(101) * 1e-4)  # strictly increasing for interp
    lut = np.interp(np.arange(256, dtype=np.float32), sq, rq).astype(np.float32)  # src is uint8: a table
    return lut[src]


def _band(ga: np.ndarray, wb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Rows of a caption band: a run of rows from the top or the bottom edge of the overlap (gaps of up to
    three rows allowed: a line of text on the band), together 3-35 % of it, where one photo is darker or
    lighter than the other by 20 levels more than elsewhere (row medians of the raw difference), or the
    rows do not correlate (a solid band). ``ga``, ``wb``: the blurred views before any level matching (a
    band would bend the matching). Returns a row mask, widened by two rows."""
    rows = np.flatnonzero(valid.sum(1) >= 8)
    out = np.zeros(valid.shape[0], bool)
    if len(rows) < 10:
        return out
    top, bottom = int(rows[0]), int(rows[-1])
    v = valid[top:bottom + 1]
    a, b = ga[top:bottom + 1].astype(np.float32), wb[top:bottom + 1].astype(np.float32)
    n = np.maximum(v.sum(1), 1)
    med = np.where(v, a - b, 0.0).sum(1) / n  # row mean difference (a band shifts a whole row)
    med = med - np.median(med)
    a0, b0 = np.where(v, a, 0.0), np.where(v, b, 0.0)
    am, bm = a0.sum(1) / n, b0.sum(1) / n
    cov = (a0 * b0).sum(1) / n - am * bm
    va, vb = (a0 * a0).sum(1) / n - am * am, (b0 * b0).sum(1) / n - bm * bm
    corr = cov / np.sqrt(np.maximum(va * vb, 1e-6))
    bad = (np.abs(med) >= 20) | (corr < 0.5)
    span = bottom - top + 1
    for from_bottom in (True, False):
        order = np.arange(span)[::-1] if from_bottom else np.arange(span)
        last, gap = -1, 0
        for i in order:
            if bad[i]:
                last, gap = i, 0
            else:
                gap += 1
                if gap > 3:
                    break
        if last < 0:
            continue
        lo, hi = (last, span) if from_bottom else (0, last + 1)
        if 0.03 * span <= hi - lo <= 0.35 * span:
            out[top + max(0, lo - 2):top + min(span, hi + 2)] = True
    return out


def _text_like(changed: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Changed pixels that belong to a line of text drawn on one photo: connected blobs (the letters of a
    line merge into one after a wide closing) at least 2.5x wider than tall, no taller than 22 % of the
    view, made of thin pieces (words, letters: mean stroke depth under 35 % of the line height, plus half a
    pixel), where one photo (``a``, ``b``: the unblurred views) shows lettering:

    * at least 4 pieces, and one photo has at least 1.5x the other's edge energy (strokes drawn over the
      picture), or is near-white or near-black on at least half of the changed pixels, 30 points more than
      the other (10 points for a long line: 8 pieces or more, 5x wider than tall); or
    * at least 3 pieces (large letters with an outline touch), and the changed pixels of one photo have
      the lettering's fill or outline for median (at least 190 or at most 50 grey levels), 70 levels from
      the other photo's median, or that photo has 2.5x the other's edge energy.

    Then what is left of the line: changed blobs on the rows of a line found (their height at least 60 %
    within the line's rows), at most two line heights from it along the row, whose edge energy is higher
    in the same photo as the line's (the letters running off the edge, a word split from the rest)."""
    h = changed.shape[0]
    k = max(3, h // 40)
    merged = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, 3 * k), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    out = np.zeros_like(changed)
    ea = np.abs(cv2.Laplacian(a.astype(np.float32), cv2.CV_32F))
    eb = np.abs(cv2.Laplacian(b.astype(np.float32), cv2.CV_32F))
    lines: list[tuple[int, int, int, int, bool]] = []  # x0, x1, y0, y1, lettering drawn on b
    rest: list[tuple[int, float, float]] = []  # component, edge energy of a, of b
    for i in range(1, n):
        x, y, w, hh, area = stats[i]
        region = lab[y:y + hh, x:x + w] == i
        sa, sb = float(ea[y:y + hh, x:x + w][region].mean()), float(eb[y:y + hh, x:x + w][region].mean())
        if w < 2.5 * hh or hh > 0.22 * h:
            rest.append((i, sa, sb))
            continue
        strokes = (region & changed[y:y + hh, x:x + w]).astype(np.uint8)
        pieces = cv2.connectedComponents(strokes)[0] - 1
        if pieces < 3:  # one or two solid things (a removed bottle, a moved car) are no line of text
            rest.append((i, sa, sb))
            continue
        depth = cv2.distanceTransform(np.pad(strokes, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        if 2.0 * float(depth[strokes > 0].mean()) > 0.35 * hh + 0.5:  # solid, not strokes
            continue
        on = strokes > 0
        pa, pb = a[y:y + hh, x:x + w][on], b[y:y + hh, x:x + w][on]
        xa, xb = float(((pa >= 200) | (pa <= 50)).mean()), float(((pb >= 200) | (pb <= 50)).mean())
        line = pieces >= 8 and w >= 5 * hh  # a long line of letters: small lettering blurs out of the extremes
        ma, mb = float(np.median(pa)), float(np.median(pb))
        fill = abs(ma - mb) >= 70 and (max(ma, mb) >= 190 or min(ma, mb) <= 50)  # a fill or an outline
        if pieces >= 4 and (max(sa, sb) >= 1.5 * min(sa, sb) + 1.0 or (max(xa, xb) >= 0.5 and abs(xa - xb) >= 0.3)
                            or (line and abs(xa - xb) >= 0.1)) \
                or fill or max(sa, sb) >= 2.5 * min(sa, sb) + 1.0:
            out[y:y + hh, x:x + w] |= region & changed[y:y + hh, x:x + w]
            on_b = sb > sa if abs(sb - sa) > 1.0 else (mb >= 190 or mb <= 50)
            lines.append((x, x + w, y, y + hh, on_b))
        else:
            rest.append((i, sa, sb))
    for i, sa, sb in rest:  # what is left of a line found
        x, y, w, hh, _ = stats[i]
        for x0, x1, y0, y1, on_b in lines:
            lh = y1 - y0
            rows = min(y + hh, y1) - max(y, y0)
            gap = max(x0 - (x + w), x - x1, 0)
            if rows >= 0.6 * hh and gap <= 2 * lh and hh <= 1.5 * lh and (sb > sa) == on_b:
                region = lab[y:y + hh, x:x + w] == i
                out[y:y + hh, x:x + w] |= region & changed[y:y + hh, x:x + w]
                break
    return out


def _changed(ga: np.ndarray, warped_blur: np.ndarray, valid: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    gb = _matched_levels(warped_blur, ga.astype(np.uint8), valid)
    changed = (np.abs(ga - gb) > levels) & valid
    return cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0, gb


def confirm(a: ViewFeatures, b: ViewFeatures, cfg: ConfirmConfig = ConfirmConfig(),
            perspective: bool = False) -> Confirmation:
    """Whether view ``b`` is a copy of view ``a`` (see the module docstring). Symmetric up to which photo's
    frame the comparison is made in (``a``'s). With ``perspective`` (``b`` or ``a`` is the photo found on a
    photographed screen, rectified from corners a few pixels off: :mod:`pipeline.dedup.screen`), the
    similarity's inliers are refitted with a homography and the views compared through it; never the
    parallax of a moving camera then (a flat screen has none)."""
    src, dst = _ratio_matches(b.features, a.features, cfg.ratio)
    n = len(src)
    if n < cfg.min_inliers:
        return Confirmation(DIFFERENT, 0, n)
    m, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_px,
                                          maxIters=2000, confidence=0.995)
    inl = int(mask.sum()) if mask is not None else 0
    if m is None or inl < cfg.min_inliers or inl / n < cfg.min_inlier_ratio:
        if not perspective:
            return Confirmation(DIFFERENT, inl, n)
        m, mask, inl = None, None, 0
    if perspective:  # refit on all the matches: the similarity may have missed the far corners' inliers
        hm, hmask = cv2.findHomography(src, dst, cv2.RANSAC, cfg.ransac_px, maxIters=2000, confidence=0.995)
        h_inl = int(hmask.sum()) if hmask is not None else 0
        if hm is None or h_inl < max(inl, cfg.min_inliers) or h_inl / n < cfg.min_inlier_ratio or \
                not _plausible(hm, b.grey.shape):
            if m is None:
                return Confirmation(DIFFERENT, max(inl, h_inl), n)
        else:
            m, mask, inl = hm, hmask, h_inl
    inl_mask = mask.reshape(-1).astype(bool)
    zoom, angle = _zoom_angle(m, b.grey.shape)
    proj = _apply(m, src[inl_mask])
    residual = float(np.median(np.linalg.norm(proj - dst[inl_mask], axis=1)))
    ha, wa = a.grey.shape
    warped = _warp(b.grey, m, (wa, ha), cv2.INTER_LINEAR)
    valid = _warp(np.full(b.grey.shape, 255, np.uint8), m, (wa, ha), cv2.INTER_NEAREST) > 0
    if m.shape[0] == 2:
        # sub-pixel touch-up of the shift (ORB keypoints sit on pyramid pixels): phase correlation over the
        # overlap, taken when it moves the view by under 2 px
        win = np.where(valid, 1.0, 0.0).astype(np.float32)
        (dx, dy), _ = cv2.phaseCorrelate(a.grey.astype(np.float32) * win, warped.astype(np.float32) * win)
        if 0.05 < np.hypot(dx, dy) < 2.0:
            m = m.copy()
            m[:, 2] -= (dx, dy)
            warped = cv2.warpAffine(b.grey, m, (wa, ha), flags=cv2.INTER_LINEAR)
            valid = cv2.warpAffine(np.full(b.grey.shape, 255, np.uint8), m, (wa, ha), flags=cv2.INTER_NEAREST) > 0
    # 3 px in from every edge of the overlap, the view's own edges included (a screenshot's inner photo may
    # carry a sliver of the screen along its edge)
    valid = cv2.erode(valid.astype(np.uint8), np.ones((7, 7), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=0) > 0
    area_b = b.grey.size * zoom * zoom
    overlap = float(valid.sum()) / max(1.0, min(float(a.grey.size), area_b))
    if overlap < cfg.min_overlap or valid.sum() < 400:
        return Confirmation(DIFFERENT, inl, n, angle, zoom, overlap)
    ga8 = cv2.GaussianBlur(a.grey, (5, 5), 1.2)
    ga = ga8.astype(np.float32)
    wb = cv2.GaussianBlur(warped, (5, 5), 1.2)
    band = _band(ga, wb, valid)
    keep = valid.copy()
    keep[band] = False
    if keep.sum() < 400:
        return Confirmation(DIFFERENT, inl, n, angle, zoom, overlap)
    changed, gb = _changed(ga, wb, keep, cfg.changed_levels)
    text = _text_like(changed, a.grey, warped)
    if text.any():  # match the levels again without the text (large white letters bend the matching)
        halo = cv2.dilate(text.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        changed, gb = _changed(ga, wb, keep & ~halo, cfg.changed_levels)
        text = halo | _text_like(changed, a.grey, warped)
        changed &= ~halo
    left = keep & ~text
    frac = float((changed & ~text).sum()) / max(1, int(left.sum()))
    forgiven = 1.0 - float(left.sum()) / max(1, int(valid.sum()))
    parallax = not perspective and residual >= cfg.parallax_px and abs(zoom - 1.0) <= cfg.parallax_zoom and abs(angle) <= cfg.parallax_angle
    limit = cfg.parallax_max_changed if parallax else cfg.copy_max_changed
    occluded, relit = 0.0, False
    solid = inl >= cfg.same_spot_min_inliers and inl >= 0.5 * n  # a second look only on a certain geometry
    if cfg.harder and solid and (frac > limit or forgiven > 0.4) and forgiven <= 0.6 and not parallax:
        # what the caption and text rules left, or (when they forgave too much: a panel of lettering over a
        # third of the photo) the whole overlap
        base, base_changed = (left, changed & ~text) if forgiven <= 0.4 else \
            (valid, _changed(ga, wb, valid, cfg.changed_levels)[0])
        second = harder_copy(ga, wb, base, base_changed, a.grey, warped, limit, cfg.changed_levels)
        if second is not None:
            frac, occluded, relit = second
            occluded *= float(base.sum()) / max(1, int(valid.sum()))
            if base is valid:
                forgiven = 0.0
    if perspective and not (frac <= min(limit, cfg.copy_max_changed) and forgiven <= 0.4) and solid:
        screen = screen_changed(a.grey, warped, valid)
        if screen is not None and screen <= cfg.screen_max_changed:
            frac, forgiven = screen, 0.0
    if frac <= min(limit, cfg.copy_max_changed) and forgiven <= 0.4:
        verdict = COPY
    elif perspective and frac <= cfg.screen_max_changed and forgiven == 0.0 and solid:
        verdict = COPY
    elif inl >= cfg.same_spot_min_inliers:
        verdict = SAME_SPOT
    else:
        verdict = DIFFERENT
    in_a = _box_of(m, b.grey.shape, a.grey.shape)
    in_b = _box_of(cv2.invertAffineTransform(m) if m.shape[0] == 2 else np.linalg.pinv(m), a.grey.shape, b.grey.shape)
    framed = False
    if verdict == COPY:  # the smaller part of the bigger view: does it end at a seam (a collage's panel)?
        big, box = (a.grey, in_a) if zoom < 1 else (b.grey, in_b)
        hh, ww = big.shape
        framed = ends_at_seam(big, (box[0] * ww, box[1] * hh, box[2] * ww, box[3] * hh))
    return Confirmation(verdict, inl, n, round(angle, 3), round(zoom, 4), round(overlap, 4), round(frac, 5),
                        round(forgiven, 4), round(residual, 3), round(occluded, 4), relit, framed,
                        tuple(round(v, 4) for v in in_a), tuple(round(v, 4) for v in in_b))


def _local_z(g: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """``g`` less its local mean, over its local standard deviation (+4 levels), both taken over ``mask``
    only (normalised convolution, Gaussian of ``sigma`` px)."""
    m = mask.astype(np.float32)
    w = cv2.GaussianBlur(m, (0, 0), sigma) + 1e-6
    mean = cv2.GaussianBlur(g * m, (0, 0), sigma) / w
    var = cv2.GaussianBlur(g * g * m, (0, 0), sigma) / w - mean * mean
    return (g - mean) / (np.sqrt(np.maximum(var, 0.0)) + 4.0)


def screen_changed(a: np.ndarray, warped: np.ndarray, valid: np.ndarray) -> float | None:
    """The changed share of the overlap of view ``a`` and view ``warped`` onto it, one of them the photo
    on a screen (issue 22): glare (an added light, up to white), moire (a fine ripple) and a blur are what a screen and a
    camera add. Both blurred (``SCREEN_BLUR`` of the side: the ripple gone), glare-blown pixels of the
    screen (>= 245 in one view where the other is not, and their 2-px ring) left out, each normalised by its local mean and contrast
    (``SCREEN_LOCAL`` of the side); a pixel changed where the two differ by over ``SCREEN_Z`` local standard
    deviations. None when under ``SCREEN_MIN_LEFT`` of the overlap is left."""
    side = max(a.shape)
    ga = cv2.GaussianBlur(a.astype(np.float32), (0, 0), SCREEN_BLUR * side)
    gb = cv2.GaussianBlur(warped.astype(np.float32), (0, 0), SCREEN_BLUR * side)
    blown = ((warped >= 245) & (a < 235)) | ((a >= 245) & (warped < 235))  # either end may be the screen
    blown = cv2.dilate(blown.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    mask = valid & ~blown
    if mask.sum() < SCREEN_MIN_LEFT * valid.sum() or mask.sum() < 400:
        return None
    sigma = SCREEN_LOCAL * side
    diff = np.abs(_local_z(ga, mask, sigma) - _local_z(gb, mask, sigma)) > SCREEN_Z
    diff = cv2.morphologyEx((diff & mask).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    return float(diff.sum()) / float(mask.sum())


SCREEN_BLUR = 0.006  # of the view's side: the Gaussian that takes a screen's moire out (2 px at 320)
SCREEN_LOCAL = 0.05  # of the view's side: the window of the local mean and contrast
SCREEN_Z = 1.2  # local standard deviations that count as a change
SCREEN_MIN_LEFT = 0.4  # of the overlap, left once the glare is out


def _full(m: np.ndarray) -> np.ndarray:
    """A 2x3 affine as a 3x3 matrix (a 3x3 as it is)."""
    return m if m.shape[0] == 3 else np.vstack([m, [0.0, 0.0, 1.0]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (k x 2) mapped by a 2x3 affine or a 3x3 homography."""
    p = np.asarray(pts, np.float64).reshape(-1, 2) @ _full(m)[:, :2].T + _full(m)[:, 2]
    w = p[:, 2:3]
    return p[:, :2] / np.where(np.abs(w) < 1e-9, 1e-9, w)


def _warp(img: np.ndarray, m: np.ndarray, size: tuple[int, int], flags: int) -> np.ndarray:
    if m.shape[0] == 2:
        return cv2.warpAffine(img, m, size, flags=flags)
    return cv2.warpPerspective(img, m, size, flags=flags)


def _zoom_angle(m: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """Zoom and rotation (degrees) of ``m``: of its linear part, or for a homography of its local affine
    at the centre of the view of ``shape`` (H, W)."""
    if m.shape[0] == 2:
        lin = m[:, :2]
    else:
        h, w = shape
        c = np.array([w / 2, h / 2])
        eps = 1.0
        p = _apply(m, np.array([c, c + (eps, 0), c + (0, eps)]))
        lin = np.column_stack([(p[1] - p[0]) / eps, (p[2] - p[0]) / eps])
    return float(np.sqrt(abs(np.linalg.det(lin)))), float(np.degrees(np.arctan2(lin[1, 0], lin[0, 0])))


def _plausible(hm: np.ndarray, shape: tuple[int, int]) -> bool:
    """A homography that keeps the view of ``shape`` (H, W) a convex quad with no corner moved by more than
    a mild slant (the rectified screen is nearly upright: its corners were found): the perspective terms
    under 1e-3 a pixel."""
    if not np.isfinite(hm).all() or abs(hm[2, 2]) < 1e-9:
        return False
    hm = hm / hm[2, 2]
    h, w = shape
    if np.abs(hm[2, :2]).max() * max(h, w) > 0.3:
        return False
    q = _apply(hm, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)).astype(np.float32)
    return bool(cv2.isContourConvex(q.reshape(-1, 1, 2)))


def _box_of(m: np.ndarray, shape: tuple[int, int], into: tuple[int, int]) -> tuple[float, float, float, float]:
    """The bounding box of a view of ``shape`` (H, W) mapped by ``m`` (a 2x3 affine or a 3x3 homography)
    into a view of ``into``, as fractions of ``into``, clipped to [0, 1]."""
    h, w = shape
    pts = _apply(m, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
    H, W = into
    x0, x1 = np.clip([pts[:, 0].min() / W, pts[:, 0].max() / W], 0, 1)
    y0, y1 = np.clip([pts[:, 1].min() / H, pts[:, 1].max() / H], 0, 1)
    return (float(x0), float(y0), float(x1), float(y1))


def harder_copy(ga: np.ndarray, wb: np.ndarray, left: np.ndarray, changed: np.ndarray, a: np.ndarray,
                b: np.ndarray, limit: float, levels: int) -> tuple[float, float, bool] | None:
    """A second look at a pair with too much changed (issue 22): drawn blobs (a sticker, a text panel:
    :func:`pipeline.dedup.overlay.occluders`) left out, the levels matched again without them, then a
    filter's smooth gain evened out (:func:`pipeline.dedup.overlay.even_out_light`) if still needed.
    ``ga``/``wb``: the blurred views, ``a``/``b`` the sharp ones, ``left`` the overlap compared, ``changed``
    its changed pixels. Returns the changed fraction of what is left (at most ``limit``), the fraction of
    ``left`` forgiven as drawn, and whether the light was evened out; None when it is still no copy."""
    occ = occluders(changed, a, b, left)
    rest = left & ~occ
    n = max(1, int(rest.sum()))
    occluded = float(occ.sum()) / max(1, int(left.sum()))
    if occ.any():
        again, _ = _changed(ga, wb, rest, levels)
        frac = float(again.sum()) / n
        if frac <= limit:
            return frac, occluded, False
    even = np.rint(even_out_light(ga, wb, rest)).astype(np.uint8)
    again, _ = _changed(ga, even, rest, levels)
    frac = float(again.sum()) / n
    return (frac, occluded, True) if frac <= limit else None
