"""What an editor puts over a whole photo, for the local-feature confirmation (issue 22): a sticker or a
text panel over a quarter to a third of it, and a social-app filter (tint, contrast, vignette).

Pure functions over the aligned grey views of :func:`pipeline.dedup.confirm.confirm` (uint8 / float32
arrays of one shape, view pixels):

- :func:`occluders`: the changed blobs that are drawn, not photographed. A sticker, a badge or a text panel
  is made of flat colour: at 320 px, on a stored JPEG view, most of its pixels have a 3x3 neighbourhood
  within ``FLAT_RANGE`` grey levels, where a photographed thing (a moved car, a removed bottle, the ground
  under it) has texture and noise. A blob counts when it covers at least ``MIN_AREA`` of the overlap and at
  least ``MIN_FLAT`` of its pixels are flat in one photo, ``FLAT_MARGIN`` more than in the other.
- :func:`even_out_light`: one view with a smooth gain field divided out (a vignette, a tint that shifts
  the grey levels by region): the ratio of the two views blurred over ``GAIN_SIGMA`` of the view's side,
  computed on the overlap only. A local change (a removed piece of litter) is far smaller than the blur and
  stays changed.
"""
from __future__ import annotations

import cv2
import numpy as np

FLAT_RANGE = 2  # grey levels: a pixel whose 3x3 neighbourhood spans at most this is flat
MIN_FLAT = 0.45  # of a blob's pixels flat in the photo that has the drawing
FLAT_MARGIN = 0.25  # ... and this much more than in the other photo
MIN_AREA = 0.03  # of the overlap: smaller blobs are left to the text rules of the confirmation
MAX_AREA = 0.5  # of the overlap: a copy keeps at least half of the picture visible
MIN_MOVED = 0.1  # of a blob's pixels changed (a sticker close to the photo's grey levels changes little)
EDGE = 9  # px: a blob is widened by this much (its outline, anti-aliasing, JPEG ringing and the views' blur)
GAIN_SIGMA = 0.12  # of the view's longest side: the blur of the gain field


def _flat(grey: np.ndarray) -> np.ndarray:
    k = np.ones((3, 3), np.uint8)
    return (cv2.dilate(grey, k) - cv2.erode(grey, k)) <= FLAT_RANGE


def occluders(changed: np.ndarray, a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The pixels of ``valid`` covered by drawn blobs (see the module docstring), found from the pixels
    flat in exactly one of ``a`` and ``b`` (uint8 views, aligned; not from ``changed``, which a large
    sticker bends through the level matching) closed into blobs, each kept when it is flat in one photo
    and changed (at least half of it in ``changed``), filled and widened by 3 px. All False when none."""
    h = a.shape[0]
    k = max(3, h // 30)
    fa, fb = _flat(a), _flat(b)
    seeds = ((fa ^ fb) & valid).astype(np.uint8)
    merged = cv2.morphologyEx(seeds, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    out = np.zeros(a.shape, bool)
    area = max(1, int(valid.sum()))
    for i in range(1, n):
        x, y, w, hh, px = stats[i]
        if not MIN_AREA * area <= px <= MAX_AREA * area:
            continue
        region = (lab[y:y + hh, x:x + w] == i) & valid[y:y + hh, x:x + w]
        if region.sum() < 50:
            continue
        sa, sb = float(fa[y:y + hh, x:x + w][region].mean()), float(fb[y:y + hh, x:x + w][region].mean())
        moved = float(changed[y:y + hh, x:x + w][region].mean())
        if max(sa, sb) >= MIN_FLAT and abs(sa - sb) >= FLAT_MARGIN and moved >= MIN_MOVED:
            # its convex hull: holes (the photo showing through a letter) and notches (a flat thing of the
            # photo under its edge, flat in both) belong to it; when the hull is over MAX_AREA, the blob's
            # outline filled (its holes, not its notches)
            pts = cv2.findNonZero(region.astype(np.uint8))
            hull = cv2.convexHull(pts + np.array([[x, y]], np.int32))
            mask = np.zeros(out.shape, np.uint8)
            cv2.fillConvexPoly(mask, hull, 1)
            if mask.sum() > MAX_AREA * area:  # a large star: its hull is twice its area; its own outline, filled
                mask[:] = 0
                outline, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE,
                                              offset=(int(x), int(y)))
                cv2.drawContours(mask, outline, -1, 1, thickness=cv2.FILLED)
            if mask.sum() <= MAX_AREA * area:
                out |= mask > 0
    if out.any():  # the anti-aliased edge, the outline, JPEG ringing
        out = cv2.dilate(out.astype(np.uint8), np.ones((2 * EDGE + 1, 2 * EDGE + 1), np.uint8)) > 0
    return out & valid


def photo_like(grey: np.ndarray | None, busy: float = 0.6) -> bool:
    """Whether a grey view looks photographed: at least ``busy`` of its pixels are not flat (an app's bars
    and caption areas, drawn, are mostly flat)."""
    return grey is not None and grey.size > 0 and float((~_flat(np.ascontiguousarray(grey))).mean()) >= busy


def even_out_light(ga: np.ndarray, gb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``gb`` (float32 or uint8 view) times the smooth gain field that brings it to ``ga`` over ``mask``
    (normalised convolution: both blurred over ``mask`` only), as float32 clipped to [0, 255]."""
    side = max(ga.shape)
    sigma = max(2.0, GAIN_SIGMA * side)
    m = mask.astype(np.float32)
    wa = cv2.GaussianBlur(ga.astype(np.float32) * m, (0, 0), sigma)
    wb = cv2.GaussianBlur(gb.astype(np.float32) * m, (0, 0), sigma)
    gain = (wa + 4.0) / (wb + 4.0)  # +4: no blow-up in near-black corners
    return np.clip(gb.astype(np.float32) * gain, 0, 255)
