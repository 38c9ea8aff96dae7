"""Litter change across one aligned before/after pair.

Boxes are ``xyxy`` in full-size pixels of their own photo; the pair's homography (full-size before ->
full-size after) maps before boxes into the after photo, where they are matched one-to-one to the after
boxes by IoU (Hungarian assignment, pairs below ``VerifyConfig.match_iou`` rejected). Only litter in the
ground seen in both photos is judged: a before box counts when its centre maps inside the after photo,
an after box when its centre maps back inside the before photo. Where the detector misses an item in
one photo, the aligned appearance of its spot decides (:func:`litter_change`, :func:`still_there`).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import box_iou
from ..config import VerifyConfig
from ..types import Detections, LitterChange, LoadedPhoto, SceneMatch
from .geometry import box_inside_fraction, maps_inside, project, shared_region_mask
from .sameplace import homography_array


def map_boxes(xyxy: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Map (N, 4) xyxy boxes with homography ``h``: the axis-aligned box around the 4 mapped corners."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(xyxy) == 0:
        return np.zeros((0, 4), np.float64)
    x1, y1, x2, y2 = xyxy.T
    corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1),
                        np.stack([x1, y2], 1)], 1).reshape(-1, 2)
    q, _ = project(corners, h)
    q = q.reshape(-1, 4, 2)
    return np.concatenate([q.min(1), q.max(1)], 1)


def _centres_inside(xyxy: np.ndarray, h: np.ndarray, size_to: tuple[int, int]) -> np.ndarray:
    """(N,) bool: box centres that ``h`` maps inside a photo of ``size_to`` (width, height)."""
    if len(xyxy) == 0:
        return np.zeros(0, bool)
    return maps_inside(np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2], 1), h, size_to)


def covered_fraction(xyxy: np.ndarray, region: np.ndarray, cell: float) -> float:
    """Fraction of ``region`` (bool raster, ``cell`` px per cell) covered by the union of the boxes."""
    if not region.any() or len(xyxy) == 0:
        return 0.0
    boxes = np.zeros_like(region)
    for x1, y1, x2, y2 in np.asarray(xyxy, np.float64):
        boxes[max(0, int(y1 / cell)):max(0, int(np.ceil(y2 / cell))),
              max(0, int(x1 / cell)):max(0, int(np.ceil(x2 / cell)))] = True
    return float((boxes & region).sum() / region.sum())


def candidate_weights(confidence: np.ndarray, operating: float) -> np.ndarray:
    """Weight of each detection as litter, in [0, 1]: ``min(1, confidence / operating)``. Detections at or
    above the operating threshold weigh 1; weaker candidates count in proportion, so a shadow the detector
    half-believes cannot weigh as much as a bottle it is sure of."""
    c = np.asarray(confidence, np.float64).reshape(-1)
    return np.clip(c / operating, 0.0, 1.0) if operating > 0 else np.ones_like(c)


def litter_change(match: SceneMatch, before: Detections, after: Detections, cfg: VerifyConfig,
                  before_photo: LoadedPhoto | None = None, after_photo: LoadedPhoto | None = None,
                  operating: float = 0.0) -> LitterChange | None:
    """Judge each before item removed or remaining in a same-place pair; None without a usable homography.

    ``before``/``after``: the detect stage's detections down to its candidate threshold, boxes in full-size
    pixels of their photo; ``operating``: the operating threshold (0: every detection is an item).

    The rule (verify-3), made to survive detector misses:

    1. every before candidate inside the ground both photos show is an item, weighted by
       :func:`candidate_weights`;
    2. it is *remaining* when an after detection (any confidence down to the candidate threshold) overlaps
       its mapped box (IoU >= ``match_iou``, one-to-one), or, when none does, when its spot in the aligned
       after photo still looks the same (:func:`still_there`); otherwise it is *removed*;
    3. an after detection at the operating threshold that matches no before candidate is *new* only when
       its spot looked different in the before photo; when it looked the same, the detector missed it
       before: it counts as a before item (weight 1) that remains (``missed_before``).

    ``removed``/``remaining``/``new`` count items; ``removed_weight / before_weight`` is the weighted share
    removed and ``removed_area_share`` the same share weighted by each item's box area too.
    """
    h = homography_array(match)
    if not match.same_place or h is None:
        return None
    size_b, size_a = tuple(before.image_size), tuple(after.image_size)
    if min(size_b + size_a) <= 0 or abs(np.linalg.det(h)) < 1e-12:
        return None
    h_inv = np.linalg.inv(h)
    keep_b = _centres_inside(before.xyxy, h, size_a)
    keep_a = _centres_inside(after.xyxy, h_inv, size_b)
    boxes_b = before.xyxy[keep_b].astype(np.float64)
    w_b = candidate_weights(before.confidence[keep_b], operating)
    boxes_a = after.xyxy[keep_a].astype(np.float64)
    strong_a = after.confidence[keep_a] >= operating
    matched_b = np.zeros(len(boxes_b), bool)
    matched_a = np.zeros(len(boxes_a), bool)
    if len(boxes_b) and len(boxes_a):
        iou = box_iou(map_boxes(boxes_b, h), boxes_a)
        rows, cols = linear_sum_assignment(-iou)
        ok = iou[rows, cols] >= cfg.match_iou
        matched_b[rows[ok]] = True
        matched_a[cols[ok]] = True
    have_photos = before_photo is not None and after_photo is not None
    visible = np.zeros(len(boxes_b), bool)
    if have_photos and not matched_b.all():
        visible[~matched_b] = still_there(boxes_b[~matched_b], before_photo, after_photo, h, cfg.still_there_ncc)
    remaining_b = matched_b | visible
    # after items nobody matched: new, or missed in the before photo (their spot looked the same there)
    lone = ~matched_a & strong_a
    was_there = np.zeros(len(boxes_a), bool)
    if have_photos and lone.any():
        was_there[lone] = still_there(boxes_a[lone], after_photo, before_photo, h_inv, cfg.still_there_ncc)
    missed = lone & was_there
    new = lone & ~was_there
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1]) if len(boxes_b) else np.zeros(0)
    missed_boxes = map_boxes(boxes_a[missed], h_inv)
    area_m = (missed_boxes[:, 2] - missed_boxes[:, 0]) * (missed_boxes[:, 3] - missed_boxes[:, 1])
    before_weight = float(w_b.sum()) + int(missed.sum())
    removed_weight = float(w_b[~remaining_b].sum())
    area_total = float((w_b * area_b).sum() + area_m.sum())
    area_removed = float((w_b * area_b)[~remaining_b].sum())
    # counts of items: before candidates of weight >= 0.5 (confidence at least half the operating
    # threshold), plus weaker ones judged removed (very weak ones that remain are most likely not litter)
    counted = (w_b >= 0.5) | ~remaining_b
    strong_boxes_a = boxes_a[strong_a]
    region_b, cell_b = shared_region_mask(h, size_b, size_a)
    region_a, cell_a = shared_region_mask(h_inv, size_a, size_b)
    return LitterChange(
        before_sha256=match.before_sha256, after_sha256=match.after_sha256,
        before_count=int(counted.sum()) + int(missed.sum()),
        removed=int((counted & ~remaining_b).sum()),
        remaining=int((counted & remaining_b).sum()) + int(missed.sum()),
        new=int(new.sum()), still_visible=int((counted & visible).sum()),
        area_before=round(covered_fraction(boxes_b[w_b >= 1.0], region_b, cell_b), 5),
        area_after=round(covered_fraction(strong_boxes_a, region_a, cell_a), 5),
        before_weight=round(before_weight, 4), removed_weight=round(removed_weight, 4),
        removed_area_share=round(area_removed / area_total, 4) if area_total > 0 else 0.0,
        missed_before=int(missed.sum()),
    )


def still_there(boxes: np.ndarray, before: LoadedPhoto, after: LoadedPhoto, h: np.ndarray,
                min_ncc: float) -> np.ndarray:
    """For each before box (full-size px), whether the same spot in the aligned after photo still looks
    the same: zero-normalised cross-correlation of the two grey patches (lightly blurred, so a small
    misalignment or a light change does not matter) at least ``min_ncc``. Patches smaller than 6 px, flat
    (no texture to compare) or mostly outside the after photo give False. Returns a bool array (N,).
    """
    import cv2

    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = np.zeros(len(boxes), bool)
    if len(boxes) == 0:
        return out
    sb, sa = float(before.scale), float(after.scale)
    h_an = np.diag([sa, sa, 1.0]) @ h @ np.diag([1 / sb, 1 / sb, 1.0])  # before analysis -> after analysis
    gb = cv2.cvtColor(before.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ga = cv2.cvtColor(after.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    hb, wb = gb.shape
    ha, wa = ga.shape
    warped = cv2.warpPerspective(ga, np.linalg.inv(h_an), (wb, hb), flags=cv2.INTER_LINEAR)
    gb = cv2.GaussianBlur(gb, (0, 0), 1.5)
    warped = cv2.GaussianBlur(warped, (0, 0), 1.5)
    for i, (x1, y1, x2, y2) in enumerate(boxes * sb):
        c1, r1 = max(0, int(x1)), max(0, int(y1))
        c2, r2 = min(wb, int(np.ceil(x2))), min(hb, int(np.ceil(y2)))
        if c2 - c1 < 6 or r2 - r1 < 6 or box_inside_fraction((c1, r1, c2, r2), h_an, (wa, ha)) < 0.9:
            continue
        a = gb[r1:r2, c1:c2].ravel()
        b = warped[r1:r2, c1:c2].ravel()
        a, b = a - a.mean(), b - b.mean()
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if den <= 0 or a.std() < 4.0:
            continue
        out[i] = float((a * b).sum()) / den >= min_ncc
    return out
