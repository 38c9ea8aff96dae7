"""The kind of a copy that cheats harder (issue 22), from the candidate that found it and what the
local-feature confirmation saw. Facts only: the words for judges are in :mod:`pipeline.flagtext`
(``KIND_EN`` / ``KIND_VI``: "part of a collage", "a copy with a sticker or text over it", "a filtered copy",
"a cropped copy", "a photo of a screen showing"). ``screen_photo`` is named by
:func:`pipeline.dedup.match.copy_kind` from its candidate (the photo found on a photographed screen,
:mod:`pipeline.dedup.screen`), before these rules.
"""
from __future__ import annotations

from .confirm import Confirmation

#: the kinds issue 22 adds to :data:`pipeline.dedup.match.COPY_KINDS`
HARD_COPY_KINDS = ("collage", "overlaid", "filtered", "screen_photo")
#: a crop keeps under this share of the other photo's area; a copy of the whole photo covers ~all of it
DEEP_CROP_AREA = 0.9


def confirmed_kind(picture: bool, conf: Confirmation) -> str | None:
    """The kind of a confirmed copy when it is one of issue 22's, else None (the older rules decide):

    * a collage's panel matched (``picture``), or one photo is a part of the other that ends at a seam or a
      separator (``conf.framed``): ``collage``;
    * the confirmation forgave a sticker or a text panel (``conf.occluded`` > 0): ``overlaid``;
    * it matched only after evening out a smooth change of light and colour (``conf.relit``): ``filtered``.
    """
    if picture or conf.framed:
        return "collage"
    if conf.occluded > 0:
        return "overlaid"
    if conf.relit:
        return "filtered"
    return None


def plain_kind(candidate_kind: str, conf: Confirmation) -> str:
    """The kind of a confirmed copy that no other rule named, from its candidate: a region-window hit
    (``deep_crop``; ``overlaid`` without a drawing found) is ``cropped`` when one photo covers under
    ``DEEP_CROP_AREA`` of the other, else ``same_image``; ``straightened`` without a rotation is
    ``same_image``; any other keeps its candidate's kind."""
    if candidate_kind in ("deep_crop", "overlaid"):
        return "cropped" if part_area(conf) < DEEP_CROP_AREA else "same_image"
    return "same_image" if candidate_kind == "straightened" else candidate_kind


def part_area(conf: Confirmation) -> float:
    """The share of the bigger view that the smaller one covers (1 when the boxes are unknown)."""
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (conf.box_in_a, conf.box_in_b) if len(b) == 4]
    return min(areas) if areas else 1.0
