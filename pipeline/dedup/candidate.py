"""A hash hit before the pixel check (:class:`Candidate`): what the index searches
(:mod:`pipeline.dedup.match`, :mod:`pipeline.dedup.region_index`) hand to the confirmation."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A hash hit of query photo Q on indexed photo ``other`` (row of the index), before the pixel check.

    ``variant``: the dihedral variant of Q that hit. ``window``: for crops, the crop window index and
    ``q_is_big``: whether the window is Q's (O is a crop of Q) rather than O's.
    """

    other: int
    kind: str
    hash_name: str
    distance: int
    variant: int = 0
    window: int = -1
    q_is_big: bool = False
    q_inner: bool = False  # compare the query's inner photo (screenshot) rather than the whole image
    o_inner: bool = False  # ... the other's
    q_pic: int = -1  # compare the query's picture number q_pic (a collage panel, pipeline.dedup.regions)
    o_pic: int = -1  # ... the other's
