"""The matched region of a copy (issue 22): where each photo shows the other, mapped from the views the
local-feature confirmation compared (a dihedral variant, the photo inside a screenshot, a collage's panel)
back to each full photo, stored with the match and carried into the flags' facts."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from pipeline.config import DedupConfig
from pipeline.dedup import index as dindex
from pipeline.dedup.flags import DUPLICATE_PHOTO
from pipeline.dedup.hashing import DedupHashes
from pipeline.dedup.match import match_one
from pipeline.dedup.matched_part import INNER_MARGIN, photo_region, undo_variant
from pipeline.dedup.pixel_check import dihedral
from pipeline.dedup.query import stored_matches
from pipeline.dedup.regions import Picture, RegionHashes
from pipeline.store import Workspace
from pipeline.types import DuplicateMatch
from test_dedup import entry_flags, phone_screenshot, put_entry
from test_dedup_hard import hard, hashes_of, jpeg, picture


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def regions_found(original: np.ndarray, copy: np.ndarray) -> dict[str, list]:
    """(kind, region in the original, region in the copy) of every match of the pair, from each end."""
    ho, hc = hashes_of(jpeg(original)), hashes_of(jpeg(copy))
    index = dindex.HashIndex.from_hashes([ho, hc])
    return {"from_copy": [(m.kind, m.other_region, m.region) for m in match_one(index, hc, DedupConfig())
                          if m.other_sha256 == ho.sha256],
            "from_original": [(m.kind, m.region, m.other_region) for m in match_one(index, ho, DedupConfig())
                              if m.other_sha256 == hc.sha256]}


def assert_drawn(found: dict[str, list], kind: str, in_original, in_copy, least: tuple[float, float]) -> None:
    """From each end, one match of ``kind`` whose regions overlap the true boxes ``in_original`` and
    ``in_copy`` with an IoU above ``least`` (original, copy)."""
    for end in ("from_copy", "from_original"):
        assert [k for k, _, _ in found[end]] == [kind], found
        _, got_original, got_copy = found[end][0]
        assert got_original is not None and iou(got_original, in_original) > least[0], (end, got_original, in_original)
        assert got_copy is not None and iou(got_copy, in_copy) > least[1], (end, got_copy, in_copy)


# ------------------------------------------------------------------------------------------ mapping
@pytest.mark.parametrize("variant", range(8))
def test_a_box_in_a_dihedral_variant_maps_back_to_the_original_frame(variant):
    a = np.zeros((30, 40), np.uint8)
    a[3:11, 5:17] = 1  # x 5..17 of 40, y 3..11 of 30
    d = dihedral(a, variant)
    ys, xs = np.nonzero(d)
    in_variant = (xs.min() / d.shape[1], ys.min() / d.shape[0], (xs.max() + 1) / d.shape[1], (ys.max() + 1) / d.shape[0])
    assert undo_variant(in_variant, variant) == pytest.approx((5 / 40, 3 / 30, 17 / 40, 11 / 30))
    assert undo_variant(in_variant, 8) is None


def test_inner_photo_and_panel_boxes_map_into_the_whole_photo():
    h = DedupHashes("s" * 64, 1, 2, inner_box=(0.0, 0.2, 1.0, 0.6),
                    regions=RegionHashes((), (Picture("panel", (0.5, 0.0, 1.0, 1.0), 0),)))
    m = INNER_MARGIN
    assert photo_region((0, 0, 1, 1), h, inner=True) == pytest.approx((m, 0.2 + 0.4 * m, 1 - m, 0.6 - 0.4 * m), abs=1e-3)
    assert photo_region((0, 0, 0.5, 1), h, picture=0) == (0.5, 0.0, 0.75, 1.0)
    assert photo_region((0.1, 0.2, 0.3, 0.4), h) == (0.1, 0.2, 0.3, 0.4)  # the whole photo's view
    # what cannot be mapped is left out, never guessed
    assert photo_region((0, 0, 1, 1), h, picture=1) is None
    assert photo_region((0, 0, 1, 1), DedupHashes("t" * 64, 1, 2), inner=True) is None
    assert photo_region((0.5, 0, 0.5, 1), h) is None  # degenerate
    assert photo_region((), h) is None and photo_region((0, 0, 1, 1), None) is None


def test_a_match_reads_back_without_a_region_it_never_had_and_refuses_a_malformed_one():
    m = DuplicateMatch("a" * 64, "b" * 64, "cropped", 3, "phash", "other", (0.1, 0.2, 0.7, 0.9), None)
    d = m.to_dict()
    assert d["region"] == [0.1, 0.2, 0.7, 0.9] and "other_region" not in d
    assert DuplicateMatch.from_dict(d) == m
    old = {k: v for k, v in d.items() if k != "region"}  # a result stored before regions were
    assert DuplicateMatch.from_dict(old).region is None
    for bad in ([0.5, 0.2, 0.1, 0.9], [0, 0, 1], [0, 0, 1.5, 1], "0 0 1 1", ["x", 0, 1, 1]):
        assert DuplicateMatch.from_dict({**d, "region": bad}).region is None


# --------------------------------------------------------------------------------- found on copies
@pytest.mark.parametrize("seed", [0, 1])
def test_a_deep_crop_is_drawn_where_it_was_cut_from(seed):
    """The crop's region in the original covers the part kept (IoU > 0.8 with the true box); in the crop,
    nearly all of it. From either end."""
    rng = np.random.default_rng(seed)
    img = picture(20 + seed)
    crop, box = hard.deep_crop(img, rng)
    assert_drawn(regions_found(img, crop), "cropped", box, (0, 0, 1, 1), (0.8, 0.95))


def test_part_of_a_collage_is_drawn_on_its_panel():
    rng = np.random.default_rng(5)
    img = picture(30)
    col, box = hard.collage(img, [picture(31), picture(32), picture(33)], rng)
    assert_drawn(regions_found(img, col), "collage", (0, 0, 1, 1), box, (0.95, 0.8))


def test_a_screenshot_is_drawn_on_the_photo_inside_it():
    img = picture(22)
    shot = np.asarray(phone_screenshot(Image.fromarray(img)))
    h = round(img.shape[0] * 1080 / img.shape[1])  # the photo's height on the 1080 x 2340 screen
    box = (0.0, 320 / 2340, 1.0, (320 + h) / 2340)
    # the photo inside is compared 1 % in from its edges (pipeline.dedup.hashing): 98 % of each side matched
    assert_drawn(regions_found(img, shot), "screenshot", (0, 0, 1, 1), box, (0.9, 0.8))


def test_a_photo_of_a_screen_is_drawn_on_the_phone():
    """The original is matched whole; in the shot, the region is the photo on the phone: a part of the
    shot (the phone fills 55-85 % of a side), not all of it."""
    from test_dedup_hard import screen_shot

    img, shot = screen_shot(1)
    found = regions_found(img, shot)
    for end in ("from_copy", "from_original"):
        assert [k for k, _, _ in found[end]] == ["screen_photo"], found
        _, in_original, in_shot = found[end][0]
        assert in_original is not None and iou(in_original, (0, 0, 1, 1)) > 0.8, (end, in_original)
        assert in_shot is not None and 0.1 < (in_shot[2] - in_shot[0]) * (in_shot[3] - in_shot[1]) < 0.7, (end, in_shot)


def test_a_mirrored_copys_region_is_right_or_absent():
    """A mirrored copy with 6 % cut off its left side (its right side once mirrored back): the region in the
    original is the 94 % kept, on the correct side (a region drawn without undoing the mirror would sit on
    the other side), or none at all."""
    img = picture(22)
    w = img.shape[1]
    copy = np.ascontiguousarray(img[:, round(0.06 * w):][:, ::-1])
    found = regions_found(img, copy)
    assert found["from_copy"] and found["from_original"], found  # found: the check below is not vacuous
    for end in ("from_copy", "from_original"):
        for _, in_original, in_copy in found[end]:
            if in_original is not None:
                assert iou(in_original, (0.06, 0, 1, 1)) > 0.9, found[end]
            if in_copy is not None:
                assert iou(in_copy, (0, 0, 1, 1)) > 0.9, found[end]


# ------------------------------------------------------------------------------ stored and flagged
def test_the_region_is_stored_with_the_match_and_given_to_the_flag(tmp_path):
    rng = np.random.default_rng(0)
    img = picture(20)
    crop, box = hard.deep_crop(img, rng)
    orig, copy = jpeg(img), jpeg(crop)
    sha_o, sha_c = hashlib.sha256(orig).hexdigest(), hashlib.sha256(copy).hexdigest()
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "r1", [("before/1.jpg", "before", orig)])
        put_entry(ws, "E2", "r2", [("before/1.jpg", "before", copy)])
        [flag] = entry_flags(ws, "E2", DedupConfig())
        assert flag.code == DUPLICATE_PHOTO and flag.params["kind"] == "cropped"
        assert iou(flag.params["other_region"], box) > 0.8  # in E1's photo, the original
        assert iou(flag.params["region"], (0, 0, 1, 1)) > 0.95  # in E2's photo, the crop
        assert not any(str(v) in flag.message for v in flag.params["other_region"] if 0 < v < 1)  # facts, no words
        [m] = stored_matches(ws, [sha_c], DedupConfig())[0]
        mine, theirs = (m.region, m.other_region) if m.photo_sha256 == sha_c else (m.other_region, m.region)
        assert (list(mine), list(theirs)) == (flag.params["region"], flag.params["other_region"])
        assert sha_o in (m.photo_sha256, m.other_sha256)
