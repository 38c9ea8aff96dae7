"""Copies that cheat harder (issue 22): each kind built from a drawn scene (datasets/dedup_hard.py) is found
and named, and the same place photographed again (a clean-up's after photo with the camera moved, frames of
a fixed camera moments apart) is not called a copy."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.config import Config, DedupConfig
from pipeline.dedup import index as dindex
from pipeline.dedup import region_codec
from pipeline.store import regions as store_regions
from pipeline.dedup.hashing import DedupHashes, compute_hashes, hamming
from pipeline.dedup.match import COPY_KINDS, match_one, match_photos
from pipeline.dedup import region_index
from pipeline.dedup.regions import CELL_BOXES, REGION_BOXES, SAME_SLOT, RegionHashes, find_panels, split_codes
from pipeline.dedup.screen import find_screens
from pipeline.flagtext import KIND_EN, KIND_VI
from pipeline.load import load_photo
from pipeline.store import Workspace
from test_dedup import background, draw, entry_flags, put_entry, scene

REPO = Path(__file__).resolve().parents[1]
CFG = Config()


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "datasets" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, mod)
    spec.loader.exec_module(mod)
    return mod


hard = _module("dedup_hard")


def jpeg(a: np.ndarray | Image.Image, q: int = 90) -> bytes:
    buf = io.BytesIO()
    (a if isinstance(a, Image.Image) else Image.fromarray(a)).convert("RGB").save(buf, "JPEG", quality=q)
    return buf.getvalue()


def hashes_of(data: bytes) -> DedupHashes:
    sha = hashlib.sha256(data).hexdigest()
    return compute_hashes(load_photo(data, CFG.load, sha256=sha).image, sha)


def picture(seed: int) -> np.ndarray:
    return np.asarray(scene(seed)[0])


def kinds_found(original: bytes, copy: bytes, cfg: DedupConfig = DedupConfig()) -> dict[str, set[str]]:
    """The kinds each end of the pair finds (querying the original, and the copy) on an index of the two."""
    ho, hc = hashes_of(original), hashes_of(copy)
    index = dindex.HashIndex.from_hashes([ho, hc])
    return {"from_copy": {m.kind for m in match_one(index, hc, cfg) if m.other_sha256 == ho.sha256},
            "from_original": {m.kind for m in match_one(index, ho, cfg) if m.other_sha256 == hc.sha256}}


# ---------------------------------------------------------------------------------------------- hashes
def test_region_windows_are_distinct_and_the_same_slots_are_among_them():
    boxes = {(b.x0, b.y0, b.x1, b.y1) for b in REGION_BOXES}
    assert len(boxes) == len(REGION_BOXES) == 64 and len(SAME_SLOT) == 16
    assert all(0 <= b.x0 < b.x1 <= 1 and 0 <= b.y0 < b.y1 <= 1 for b in REGION_BOXES)
    same = [REGION_BOXES[k] for k in SAME_SLOT]
    assert (0.0, 0.0, 0.5, 1.0) in {(b.x0, b.y0, b.x1, b.y1) for b in same}  # the left half
    assert (0.0, 0.0, 1.0, 0.7) in {(b.x0, b.y0, b.x1, b.y1) for b in same}  # clear of a bottom band


@pytest.mark.parametrize("cut", [(0.23, 0, 0, 0), (0, 0, 0.28, 0), (0.21, 0.27, 0, 0), (0, 0, 0.26, 0.24)])
def test_a_deep_crops_phash_is_near_one_region_window_of_the_original(cut):
    """20-30 % off one side or two adjacent ones: pHash of the crop within 10 bits of a window; the plain
    pHash and today's crop windows are far."""
    img = picture(7)
    h, w = img.shape[:2]
    l, t, r, b = cut
    crop = img[round(t * h):h - round(b * h), round(l * w):w - round(r * w)]
    ho, hc = hashes_of(jpeg(img)), hashes_of(jpeg(crop))
    assert min(hamming(hc.phash, v) for v in ho.regions.windows) <= 10
    assert hamming(hc.phash, ho.phash) > 10


def test_regions_round_trip_through_dict_and_store(tmp_path):
    rng = np.random.default_rng(1)
    h = hashes_of(jpeg(hard.collage(picture(3), [picture(4)], rng)[0]))
    assert len(h.regions.windows) == len(REGION_BOXES) and len(h.regions.cells) == len(CELL_BOXES)
    assert any(h.regions.cells)
    assert DedupHashes.from_dict(h.to_dict()).regions == h.regions
    with Workspace(tmp_path / "ws") as ws:
        dindex.add(ws, h)
        assert region_codec.from_row(store_regions.get_row(ws, h.sha256)) == h.regions
        assert dindex.get(ws, h.sha256).regions == h.regions
        assert dindex.load_index(ws).hashes(h.sha256).regions == h.regions
    assert RegionHashes.from_dict({"v": "old"}) == RegionHashes()  # an older version is not read
    assert split_codes(h.regions.windows) == (h.regions.windows, ())  # windows stored without cells


def test_cell_codes_survive_a_sticker_outside_it_and_flat_cells_have_none():
    """Every cell the sticker does not touch keeps its code (within CELL_RADIUS bits, after a JPEG round
    trip); a flat photo has no coded cell; an unrelated scene shares too few cells to be a candidate."""
    img = picture(61)
    out, box = hard.overlaid(img, np.random.default_rng(11))
    ho, hc, hx = hashes_of(jpeg(img)), hashes_of(jpeg(out)), hashes_of(jpeg(picture(62)))
    clear = [k for k, b in enumerate(CELL_BOXES) if b.x1 <= box[0] or b.x0 >= box[2] or b.y1 <= box[1] or b.y0 >= box[3]]
    assert len(clear) >= region_index.CELL_MIN_SHARED
    assert all(ho.regions.cells[k] and hamming(ho.regions.cells[k], hc.regions.cells[k]) <= region_index.CELL_RADIUS
               for k in clear)
    flat = hashes_of(jpeg(np.full((480, 640, 3), 128, np.uint8)))
    assert flat.regions.cells == (0,) * len(CELL_BOXES)
    index = dindex.HashIndex.from_hashes([ho, hx, flat])
    found = region_index.cell_candidates(index.regions, hc.regions.cells, CFG.dedup.region_threshold)
    assert [index.shas[c.other] for c in found] == [ho.sha256]
    assert found[0].kind == "overlaid" and found[0].hash_name == "dhash_cells"


@pytest.mark.parametrize("separator", ["white", "none"])
def test_find_panels_splits_a_side_by_side_collage_and_not_a_photo(separator):
    """A separator, or a seam across which the picture does not continue (here the second photo is upside
    down: two drawn scenes with the same sky-to-ground gradient and no separator are not split, a known
    limit measured in docs/dedup-calibration.md)."""
    a, b = picture(11), picture(12)[::-1, :800]
    sep = np.full((a.shape[0], 20 if separator == "white" else 0, 3), 255, np.uint8)
    both = np.concatenate([a, sep, b], axis=1)
    small = np.asarray(Image.fromarray(both).convert("L").reduce(7))
    panels = find_panels(small)
    x1 = a.shape[1] / both.shape[1]
    assert any(abs(p[0]) < 0.02 and abs(p[2] - x1) < 0.02 and p[1] == 0 and p[3] == 1 for p in panels), panels
    assert find_panels(np.asarray(Image.fromarray(a).convert("L").reduce(4))) == []


# ------------------------------------------------------------------------------------- each kind found
@pytest.mark.parametrize("seed", [0, 1])
def test_a_deep_crop_is_found_from_either_end_and_called_cropped(seed):
    rng = np.random.default_rng(seed)
    img = picture(20 + seed)
    crop, box = hard.deep_crop(img, rng)
    assert (box[2] - box[0]) * (box[3] - box[1]) <= 0.8
    found = kinds_found(jpeg(img), jpeg(crop))
    assert found == {"from_copy": {"cropped"}, "from_original": {"cropped"}}
    assert kinds_found(jpeg(img), jpeg(crop), DedupConfig(match_regions=False))["from_copy"] == set()


def test_a_before_after_collage_with_a_white_separator_is_a_collage_not_a_screenshot():
    """Two photos side by side with a white bar between them: the bar makes the first panel look like the
    photo inside a screenshot (pipeline/dedup/frame.py); the panels found name it a collage."""
    img, other = picture(34), picture(35)[:, :700]
    col = np.concatenate([img, np.full((img.shape[0], 24, 3), 255, np.uint8), other], axis=1)
    found = kinds_found(jpeg(img), jpeg(col))
    assert found == {"from_copy": {"collage"}, "from_original": {"collage"}}


def test_part_of_a_collage_is_found_from_either_end():
    rng = np.random.default_rng(5)
    img = picture(30)
    col, _ = hard.collage(img, [picture(31), picture(32), picture(33)], rng)
    found = kinds_found(jpeg(img), jpeg(col))
    assert found == {"from_copy": {"collage"}, "from_original": {"collage"}}


@pytest.mark.parametrize("seed", [2, 3])
def test_a_filtered_copy_is_found_and_called_filtered(seed):
    rng = np.random.default_rng(seed)
    img = picture(40 + seed)
    out = hard.filtered(img, rng)
    found = kinds_found(jpeg(img), jpeg(out))
    assert found["from_copy"] == found["from_original"] and found["from_copy"] <= {"filtered", "same_image"}
    assert found["from_copy"]


@pytest.mark.parametrize("seed", [4, 9])  # a badge low down, a badge across the middle (a big star: missed)
def test_a_copy_with_a_sticker_or_panel_over_a_quarter_is_found(seed):
    rng = np.random.default_rng(seed)
    img = picture(50 + seed)
    out, box = hard.overlaid(img, rng)
    assert (box[2] - box[0]) * (box[3] - box[1]) >= 0.2
    found = kinds_found(jpeg(img), jpeg(out))
    assert found["from_copy"] == {"overlaid"} and found["from_original"] == {"overlaid"}


def test_a_badge_across_the_middle_is_found_through_the_cells_and_called_overlaid(monkeypatch):
    """A badge across the middle of the photo touches every region window; the cells it leaves clean find
    the original, and the confirmation names the copy (without the cells: no candidate, not found)."""
    rng = np.random.default_rng(11)
    img = picture(61)
    out, box = hard.overlaid(img, rng)
    assert box[0] < 0.5 < box[2] and box[1] < 0.5 < box[3]
    found = kinds_found(jpeg(img), jpeg(out))
    assert found["from_copy"] == {"overlaid"} and found["from_original"] == {"overlaid"}
    monkeypatch.setattr(region_index, "CELL_MIN_SHARED", len(CELL_BOXES) + 1)
    assert kinds_found(jpeg(img), jpeg(out)) == {"from_copy": set(), "from_original": set()}


@pytest.mark.parametrize("seed", [0, 7])
def test_a_big_star_across_the_middle_is_found_and_called_overlaid(seed):
    """A star over a third of the photo: its convex hull is over half of it (its own outline is forgiven
    instead) and its anti-aliased tips reach past the forgiven edge (forgiven as touching it)."""
    img = picture(50 + seed)
    out, box = hard.overlaid(img, np.random.default_rng(seed))
    assert box[2] - box[0] > 0.6 and box[3] - box[1] > 0.6  # the star's square spans most of the photo
    found = kinds_found(jpeg(img), jpeg(out))
    assert found["from_copy"] == {"overlaid"} and found["from_original"] == {"overlaid"}


def screen_shot(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A drawn scene and a photo of a phone showing it (on a grey surface for even seeds, on another
    scene for odd ones)."""
    img = picture(90 + seed)
    return img, hard.screen_photo(img, np.random.default_rng(seed), picture(120 + seed) if seed % 2 else None)


@pytest.mark.parametrize("seed", [1, 3, 4, 6, 7, 9])  # seeds 0 and 5 are missed (6, 7 and 9 until the
# edge quads and the retried quad; the recall: docs/dedup-calibration.md)
def test_a_photo_of_a_screen_is_found_from_either_end_and_called_screen_photo(seed):
    """The phone's screen is found in the shot (not in the original), rectified and matched: from either
    end the pair is ``screen_photo``; without the region hashes of issue 22 nothing finds it."""
    img, shot = screen_shot(seed)
    assert [p.kind for p in hashes_of(jpeg(shot)).regions.pictures].count("screen") >= 1
    assert not [p for p in hashes_of(jpeg(img)).regions.pictures if p.kind == "screen"]
    assert kinds_found(jpeg(img), jpeg(shot)) == {"from_copy": {"screen_photo"}, "from_original": {"screen_photo"}}
    assert kinds_found(jpeg(img), jpeg(shot), DedupConfig(match_regions=False)) == {"from_copy": set(),
                                                                                   "from_original": set()}


def dark_screen_shot(seed: int, black_corners: bool) -> tuple[np.ndarray, np.ndarray]:
    """A drawn scene, optionally turned 5 degrees with black corners (as a rotated export), shown on a phone
    lying on a dark surface (another scene at half its light) and photographed: the bezel's dark blob runs
    into the surface or into the photo's black corners, so only the flat bezel ring between edges outlines
    the phone."""
    import cv2

    img = picture(90 + seed)
    if black_corners:
        h, w = img.shape[:2]
        img = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 5 if seed % 2 else -5, 1.0), (w, h),
                             borderValue=(0, 0, 0))
    surface = (picture(120 + seed) * 0.5).astype(np.uint8)
    return img, hard.screen_photo(img, np.random.default_rng(seed), surface)


@pytest.mark.parametrize("seed,black_corners", [(2, False), (2, True), (3, True)])
def test_a_screen_on_a_dark_surface_or_showing_black_corners_is_found_and_called_screen_photo(seed, black_corners):
    """Failure modes of the dark-blob quads (docs/dedup-calibration.md): the bezel joined to a dark surface
    or to the photo's own black corner; the outline of the flat bezel ring finds the phone."""
    img, shot = dark_screen_shot(seed, black_corners)
    assert find_screens(np.asarray(Image.fromarray(shot).convert("L")))
    assert kinds_found(jpeg(img), jpeg(shot)) == {"from_copy": {"screen_photo"}, "from_original": {"screen_photo"}}


@pytest.mark.parametrize("seed", range(6))
def test_no_screen_is_found_in_an_ordinary_photo(seed):
    """Drawn scenes (a street, objects, dark shapes) and their clean-up after photos hold no screen: no
    extra picture, no extra candidate."""
    grey = np.asarray(Image.fromarray(picture(seed)).convert("L"))
    assert find_screens(grey) == []
    bg = background(60 + seed)
    _, objs = scene(60 + seed, objects=8)
    assert find_screens(np.asarray(Image.fromarray(_after(draw(bg, objs), objs, bg, seed)).convert("L"))) == []


def test_a_clean_up_after_photo_shown_on_a_screen_is_not_a_copy_of_its_before_photo():
    """The before photo shown on a phone and photographed is a copy of it; the after photo (the litter
    gone, the same framing) shown the same way is not, although its geometry fits as well: what the
    screen adds (glare, moire, blur) is discounted, removed litter is not."""
    from pipeline.dedup.confirm import COPY, confirm, view_features
    from pipeline.dedup.hashing import decode_view

    bg = background(60)
    _, objs = scene(60, objects=8)
    litter = [("rectangle", (300, 600, 520, 640), (240, 240, 240)), ("ellipse", (100, 480, 190, 540), (30, 200, 40)),
              ("rectangle", (700, 100, 790, 170), (250, 250, 250))]
    before = np.asarray(draw(bg, objs + litter))
    after = np.asarray(draw(bg, objs))
    b = view_features(decode_view(hashes_of(jpeg(before)).view))
    verdicts = {}
    for name, shown in (("before", before), ("after", after)):
        shot = hard.screen_photo(shown, np.random.default_rng(0))
        screens = [p for p in hashes_of(jpeg(shot)).regions.pictures if p.kind == "screen"]
        assert screens, name
        verdicts[name] = {confirm(b, view_features(decode_view(p.view)), perspective=True).verdict for p in screens}
    assert verdicts["before"] == {COPY} and COPY not in verdicts["after"], verdicts


def test_every_new_kind_has_words_in_both_languages():
    for k in ("collage", "overlaid", "filtered", "screen_photo"):
        assert k in COPY_KINDS and KIND_EN[k] and KIND_VI[k] and KIND_EN[k] != KIND_VI[k]


# --------------------------------------------------------------------------- the same place, not a copy
def _after(before: Image.Image, objs_kept: list, bg: Image.Image, seed: int) -> np.ndarray:
    """The clean-up's after photo: the litter gone, the camera moved a step, the light changed."""
    cal = _module("calibration")
    import cv2

    rng = np.random.default_rng(seed)
    after = np.asarray(draw(bg, objs_kept))
    h, w = after.shape[:2]
    moved = cv2.warpPerspective(after, cal.camera_move(rng, (w, h)), (w, h), flags=cv2.INTER_LINEAR)
    return cal.light_change(moved, rng)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_moved_camera_after_photo_is_never_a_copy(tmp_path, seed):
    bg = background(60 + seed)
    _, objs = scene(60 + seed, objects=8)
    litter = [("rectangle", (300, 600, 520, 640), (240, 240, 240)), ("ellipse", (100, 480, 190, 540), (30, 200, 40)),
              ("rectangle", (700, 100, 790, 170), (250, 250, 250))]
    before = draw(bg, objs + litter)
    after = _after(before, objs, bg, seed)
    found = kinds_found(jpeg(before), jpeg(after))
    assert not (found["from_copy"] | found["from_original"]) & set(COPY_KINDS), found


def test_fixed_camera_frames_with_a_big_thing_moved_are_not_copies(tmp_path):
    """Two frames of a fixed camera where a large textured thing (a bus, 10 % of the picture) moved: the
    same spot, not a copy with a sticker (what moved is photographed, not drawn flat)."""
    bg = np.asarray(background(71)).copy()
    _, objs = scene(71, objects=6)
    base = np.asarray(draw(Image.fromarray(bg), objs))
    bus = np.asarray(scene(72, size=(300, 230), objects=4)[0])  # textured, like a photographed thing
    f1, f2 = base.copy(), base.copy()
    f1[300:530, 100:400] = bus
    f2[300:530, 500:800] = bus
    found = kinds_found(jpeg(f1), jpeg(f2))
    assert not (found["from_copy"] | found["from_original"]) & set(COPY_KINDS), found


def test_stored_matches_name_the_new_kinds_through_the_workspace(tmp_path):
    rng = np.random.default_rng(0)
    img = picture(80)
    crop, _ = hard.deep_crop(img, rng)
    orig, copy = jpeg(img), jpeg(crop)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "r1", [("before/1.jpg", "before", orig)])
        put_entry(ws, "E2", "r2", [("before/1.jpg", "before", copy)])
        sha_o, sha_c = hashlib.sha256(orig).hexdigest(), hashlib.sha256(copy).hexdigest()
        assert {m.other_sha256: m.kind for m in match_photos(ws, [sha_c], DedupConfig())} == {sha_o: "cropped"}


def test_a_filtered_before_photo_sent_as_the_after_photo_is_unchanged_after(tmp_path):
    """The after photo of an entry is its before photo with an app's filter: UNCHANGED_AFTER, as for a
    re-encoded copy."""
    from pipeline.dedup.flags import UNCHANGED_AFTER

    rng = np.random.default_rng(2)
    img = picture(42)
    before, after = jpeg(img), jpeg(hard.filtered(img, rng))
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "r1", [("before/1.jpg", "before", before), ("after/1.jpg", "after", after)])
        assert [f.code for f in entry_flags(ws, "E1", DedupConfig())] == [UNCHANGED_AFTER]
