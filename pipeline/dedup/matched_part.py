"""Where a confirmed copy lies in each full photo: the matched region drawn for judges (issue 22).

:func:`pipeline.dedup.confirm.confirm` says where one grey view lies in the other (``box_in_a`` /
``box_in_b``: x0, y0, x1, y1 as fractions of each VIEW, clipped to it). A view is not always the whole
photo: the query's view may be a mirrored or rotated variant (``pixel_check.dihedral``), and either view may
be the photo found inside a screenshot (``DedupHashes.inner_box``, cut 1 % in from that box) or a collage's
panel (``RegionHashes.pictures[k].box``). :func:`photo_region` maps a view box back to fractions of the full
photo as it was hashed: the analysis image, EXIF orientation applied, so the same frame as the thumbnails.

A region is the axis-aligned bounding box of the part of a photo the other photo shows (for a small
rotation it includes the corners the rotation cut off: a straightened copy's box is a few % too big).
Rounded to ``types.REGION_DIGITS`` decimals (:func:`pipeline.types.clean_region`), so stored results do
not depend on float noise. None where it cannot be mapped: no box, a degenerate one, an unknown variant, a
view whose box in the photo is not stored.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..types import clean_region

if TYPE_CHECKING:
    from .hashing import DedupHashes

INNER_MARGIN = 0.01  # the inner photo's view is cut this share of the box's side in from each edge (hashing)

Box = tuple[float, float, float, float]


def _unrotate(box: Box) -> Box:
    """The box in ``a``'s frame of a box in ``np.rot90(a)``'s frame (fractions): ``rot90`` takes the point
    (x, y) of ``a`` to (y, 1 - x)."""
    x0, y0, x1, y1 = box
    return (1 - y1, x0, 1 - y0, x1)


def undo_variant(box: Box, variant: int) -> Box | None:
    """The box in the original frame of a box (fractions) in the frame of ``dihedral(a, variant)``
    (``np.rot90(a, variant % 4)``, after ``np.fliplr`` for variants 4-7); None for an unknown variant."""
    if not 0 <= variant < 8:
        return None
    for _ in range(variant % 4):
        box = _unrotate(box)
    if variant >= 4:
        x0, y0, x1, y1 = box
        box = (1 - x1, y0, 1 - x0, y1)
    return box


def _within(box: Box, outer: tuple[float, ...]) -> Box:
    """``box`` (fractions of a part) as fractions of the photo, the part being ``outer`` of it."""
    ox0, oy0, ox1, oy1 = outer
    w, h = ox1 - ox0, oy1 - oy0
    return (ox0 + box[0] * w, oy0 + box[1] * h, ox0 + box[2] * w, oy0 + box[3] * h)


def photo_region(view_box: tuple[float, ...], h: DedupHashes | None, inner: bool = False, variant: int = 0,
                 picture: int = -1) -> Box | None:
    """The region of photo ``h`` (fractions of the oriented full photo) for ``view_box``, a box in the view
    the confirmation compared: the whole photo's view, its ``inner`` photo's, or its ``picture``-th panel's
    (>= 0), in dihedral ``variant``. None where that cannot be mapped (see the module docstring)."""
    if h is None or len(view_box) != 4:
        return None
    box = undo_variant(tuple(float(v) for v in view_box), variant)  # type: ignore[arg-type]
    if box is None:
        return None
    if picture >= 0:
        pics = h.regions.pictures
        if picture >= len(pics) or len(pics[picture].box) != 4:
            return None
        box = _within(box, pics[picture].box)
    elif inner:
        if len(h.inner_box) != 4:
            return None
        x0, y0, x1, y1 = h.inner_box
        mx, my = INNER_MARGIN * (x1 - x0), INNER_MARGIN * (y1 - y0)
        box = _within(box, (x0 + mx, y0 + my, x1 - mx, y1 - my))
    return clean_region(tuple(min(1.0, max(0.0, v)) for v in box))
