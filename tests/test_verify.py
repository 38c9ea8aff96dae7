"""Same-place check, pairing, litter change and photo quality on drawn scenes (no real photos)."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pipeline.config import VerifyConfig
from pipeline.types import Detections, PhotoRef, SceneMatch
from pipeline.verify import (EntryVerification, extract_features, litter_change, match_pair, measure_quality,
                             pair_photos, verify_entry)
from pipeline.boxes import box_iou
from pipeline.verify.change import map_boxes
from pipeline.verify.geometry import project
from pipeline.verify.sameplace import homography_array, unchanged
from verify_fixtures import camera_move, dets, loaded, textured_scene

CFG = VerifyConfig()
SIZE = (640, 480)


def _moved(seed: int, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    before = textured_scene(seed, SIZE)
    h = camera_move(seed, SIZE, **kw)
    after = cv2.warpPerspective(before, h, SIZE)
    return before, after, h


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_place_after_camera_move_and_light_change(seed):
    before, after, h = _moved(seed)
    after = np.clip(after.astype(np.float32) * 0.6 + 15, 0, 255).astype(np.uint8)  # darker, flatter light
    # analysis images at half the full size: the homography must come back in full-size pixels
    m = match_pair(loaded(before, "b", 0.5), loaded(after, "a", 0.5), CFG)
    assert m.same_place and m.inliers >= CFG.min_inliers
    s = np.diag([0.5, 0.5, 1.0])
    truth = np.linalg.inv(s) @ h @ s
    pts = np.array([[100, 100], [1200, 150], [640, 480], [200, 900]], float)
    got, _ = project(pts, homography_array(m))
    want, _ = project(pts, truth)
    assert np.abs(got - want).max() < 6.0  # full-size px, of a 1280x960 photo


def test_rotation_and_zoom():
    before = textured_scene(7, SIZE)
    r = cv2.getRotationMatrix2D((320, 240), 25, 1.3)
    after = cv2.warpAffine(before, r, SIZE)
    m = match_pair(loaded(before, "b"), loaded(after, "a"), CFG)
    assert m.same_place


def test_other_place_fails():
    m = match_pair(loaded(textured_scene(11, SIZE), "b"), loaded(textured_scene(12, SIZE), "a"), CFG)
    assert not m.same_place and m.inliers < CFG.min_inliers


def test_overlap_is_the_visible_fraction_of_the_before_photo():
    before = textured_scene(5, SIZE)
    t = np.float32([[1, 0, -160], [0, 1, 0]])  # camera moved right by a quarter of the width
    after = cv2.warpAffine(before, t, SIZE)
    m = match_pair(loaded(before, "b"), loaded(after, "a"), CFG)
    assert m.same_place and m.overlap == pytest.approx(0.75, abs=0.03)


def test_unchanged_after_is_detected_and_a_removal_is_not():
    before = textured_scene(21, SIZE)
    copy = cv2.imdecode(cv2.imencode(".jpg", before, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR)
    cleaned = before.copy()
    cv2.rectangle(cleaned, (300, 200), (340, 240), (90, 120, 60), -1)  # one small item gone
    fb = extract_features(loaded(before, "b"), CFG)
    for other, expect in ((copy, True), (cleaned, False)):
        fa = extract_features(loaded(other, "a"), CFG)
        from pipeline.verify.sameplace import match_features
        m = match_features(fb, fa, CFG)
        assert m.same_place
        assert unchanged(fb, fa, m, CFG) is expect


def test_pairing_several_photos_one_to_one():
    scenes = [textured_scene(s, SIZE) for s in (31, 32, 33)]
    befores = [loaded(scenes[0], "A"), loaded(scenes[1], "B")]
    afters = [loaded(cv2.warpPerspective(scenes[1], camera_move(1, SIZE), SIZE), "B2"),
              loaded(scenes[2], "C2"),
              loaded(cv2.warpPerspective(scenes[0], camera_move(2, SIZE), SIZE), "A2")]
    p = pair_photos(befores, afters, dataclasses.replace(CFG, fallback_detector=""))  # ORB alone: faster
    same = {(i, j) for i, j, m in p.pairs if m.same_place}
    assert same == {(0, 2), (1, 0)}
    assert p.unpaired_before == () and p.unpaired_after == (1,)


def test_change_counting_with_a_known_homography():
    h = np.array([[1.0, 0, 50], [0, 1.0, -20], [0, 0, 1]])  # after = before shifted by (+50, -20)
    m = SceneMatch("b", "a", True, 100, 120, 0.83, 1.0, tuple(h.reshape(-1)))
    before = dets([[100, 100, 150, 150], [300, 300, 360, 340], [500, 100, 540, 160], [10, 400, 60, 450]], (1000, 800))
    # item 2 still there (slightly jittered box), a new item appears, the rest are gone
    after = dets([[352, 281, 410, 322], [700, 600, 760, 650]], (1000, 800))
    c = litter_change(m, before, after, CFG)
    assert (c.before_count, c.removed, c.remaining, c.new) == (4, 3, 1, 1)
    assert 0 < c.area_after < c.area_before
    # before boxes whose centre leaves the after photo are not judged
    far = SceneMatch("b", "a", True, 100, 120, 0.83, 0.5, (1.0, 0, -450, 0, 1.0, 0, 0, 0, 1.0))
    c2 = litter_change(far, before, dets([], (1000, 800)), CFG)
    assert c2.before_count == 1 and c2.removed == 1  # only the box at x=500..540 stays in view


def test_change_needs_a_same_place_pair():
    m = SceneMatch("b", "a", False, 3, 20, 0.15, 0.0, None)
    assert litter_change(m, dets([[0, 0, 5, 5]], (10, 10)), dets([], (10, 10)), CFG) is None


def test_box_helpers():
    b = np.array([[0, 0, 10, 10]], float)
    assert box_iou(b, b)[0, 0] == pytest.approx(1.0)
    assert box_iou(b, b + 5)[0, 0] == pytest.approx(25 / 175)
    assert box_iou(b, np.zeros((0, 4))).shape == (1, 0) and box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)  # 90 degrees
    assert np.allclose(map_boxes(b, rot), [[-10, 0, 0, 10]])


def test_quality_blur_and_dark():
    img = textured_scene(3, SIZE)
    sharp = measure_quality(img)
    blurred = measure_quality(cv2.GaussianBlur(img, (0, 0), 6))
    dark = measure_quality((img * 0.1).astype(np.uint8))
    assert blurred.sharpness < sharp.sharpness / 5
    assert dark.brightness < 30 < sharp.brightness
    assert type(sharp).from_dict(sharp.to_dict()) == sharp


def test_verify_entry_round_trip(tmp_path):
    before, _, h = _moved(41)
    cleaned = before.copy()
    cleaned[100:140, 100:140] = (90, 110, 80)  # the item at the detected box is really gone
    after = cv2.warpPerspective(cleaned, h, SIZE)
    refs = [PhotoRef("e1", "before", tmp_path / "b.jpg", "e1/before/b.jpg"),
            PhotoRef("e1", "after", tmp_path / "a.jpg", "e1/after/a.jpg")]
    photos = [(refs[0], loaded(before, "b"), dets([[100, 100, 140, 140]], SIZE)),
              (refs[1], loaded(after, "a"), dets([], SIZE))]
    v = verify_entry(photos, CFG)
    assert len(v.pairs) == 1 and v.pairs[0].match.same_place and not v.pairs[0].unchanged
    assert v.pairs[0].change is not None and v.pairs[0].change.removed == 1
    assert v.unpaired_before == () and v.unpaired_after == ()
    assert EntryVerification.from_dict(v.to_dict()).to_dict() == v.to_dict()


def test_degenerate_photos_do_not_crash():
    for shape in ((1, 1, 3), (3, 5000, 3), (100, 100, 3)):
        blank = np.zeros(shape, np.uint8)
        m = match_pair(loaded(blank, "b"), loaded(blank, "a"), CFG)
        assert not m.same_place and m.homography is None
        assert measure_quality(blank).sharpness == 0.0
    m = SceneMatch("b", "a", True, 100, 120, 0.83, 1.0, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    assert litter_change(m, dets([[0, 0, 5, 5]], (0, 0)), dets([], (0, 0)), CFG) is None


def test_missed_item_that_is_still_there_is_not_counted_as_removed():
    """The detector finds an item before but misses it after: with the photos, the appearance check sees the
    same patch at the aligned spot (camera moved, light changed) and counts it as remaining; a spot that was
    really cleaned (patch replaced by plain ground) still counts as removed."""
    size = (640, 480)
    before = textured_scene(7, size)
    item = (200, 150, 260, 210)
    cv2.rectangle(before, item[:2], item[2:], (240, 30, 30), -1)
    cv2.circle(before, (230, 180), 12, (20, 200, 240), -1)
    h = np.array([[1.0, 0.02, 30], [-0.02, 1.0, 12], [0, 0, 1]])
    after_kept = np.clip(cv2.warpPerspective(before, h, size).astype(np.float32) * 0.8 + 20, 0, 255).astype(np.uint8)
    cleaned = before.copy()
    cleaned[item[1]:item[3], item[0]:item[2]] = (90, 110, 80)
    after_clean = cv2.warpPerspective(cleaned, h, size)
    m = SceneMatch("b", "a", True, 300, 400, 0.75, 0.9, tuple(h.reshape(-1)))
    det_b, det_a = dets([item], size), dets([], size)
    pb = loaded(before, "b")
    kept = litter_change(m, det_b, det_a, CFG, pb, loaded(after_kept, "a"))
    assert (kept.removed, kept.remaining, kept.still_visible) == (0, 1, 1)
    gone = litter_change(m, det_b, det_a, CFG, pb, loaded(after_clean, "a"))
    assert (gone.removed, gone.remaining, gone.still_visible) == (1, 0, 0)
    without_photos = litter_change(m, det_b, det_a, CFG)
    assert without_photos.removed == 1  # detections alone cannot tell


def test_litter_change_survives_misses_on_a_moved_relit_pair():
    """verify-3 on a moved, relit pair: the detector half-sees one item before (below the operating
    threshold) and misses another one before altogether; in the after photo it misses the item left in
    place. Candidates are judged by their aligned appearance: the half-seen removed item counts as removed
    (by its weight), the item missed before is not 'new' but 'missed before' and remaining, and a really
    new item is new."""
    size = (640, 480)
    before = textured_scene(11, size)
    gone, weak_gone, kept, missed = (100, 300, 150, 350), (420, 330, 470, 370), (250, 200, 300, 250), (480, 120, 530, 170)
    for (x1, y1, x2, y2), col in zip((gone, weak_gone, kept, missed),
                                     ((240, 30, 30), (30, 240, 30), (30, 30, 240), (240, 240, 30))):
        cv2.rectangle(before, (x1, y1), (x2, y2), col, -1)
        cv2.circle(before, ((x1 + x2) // 2, (y1 + y2) // 2), 10, (255 - col[0], 255 - col[1], 255 - col[2]), -1)
    cleaned = before.copy()
    for x1, y1, x2, y2 in (gone, weak_gone):
        cleaned[y1:y2, x1:x2] = (90, 110, 80)
    new_item = (60, 60, 110, 110)
    cv2.rectangle(cleaned, new_item[:2], new_item[2:], (250, 250, 250), -1)
    cv2.line(cleaned, new_item[:2], new_item[2:], (0, 0, 0), 4)
    h = np.array([[1.0, 0.02, 30], [-0.02, 1.0, 12], [0, 0, 1]])
    after = np.clip(cv2.warpPerspective(cleaned, h, size).astype(np.float32) * 0.85 + 15, 0, 255).astype(np.uint8)
    m = SceneMatch("b", "a", True, 300, 400, 0.75, 0.9, tuple(h.reshape(-1)))
    det_b = Detections(np.array([gone, weak_gone, kept], np.float32), np.array([0.9, 0.175, 0.6]), np.zeros(3),
                       ("litter",), "synthetic@0", size, operating=0.35)
    mb = map_boxes(np.array([missed, new_item], float), h)
    det_a = Detections(mb.astype(np.float32), np.array([0.8, 0.7]), np.zeros(2), ("litter",), "synthetic@0", size,
                       operating=0.35)  # the kept item is missed after; the missed-before one is seen
    c = litter_change(m, det_b, det_a, CFG, loaded(before, "b"), loaded(after, "a"), operating=0.35)
    assert c.missed_before == 1 and c.new == 1
    assert (c.removed, c.remaining, c.still_visible) == (2, 2, 1)  # gone + weak_gone; kept + missed
    assert c.before_weight == pytest.approx(1 + 0.5 + 1 + 1)  # weak candidate: 0.175 / 0.35
    assert c.removed_weight == pytest.approx(1.5)
    # without the rule (operating threshold only, no photos) the weak item and the missed one are lost
    old = litter_change(m, det_b.items(), det_a, CFG, operating=0.35)
    assert (old.removed, old.new) == (2, 2)  # 'kept' wrongly removed, the missed-before item wrongly new


def _sm(same: bool, inliers: int) -> SceneMatch:
    return SceneMatch("b", "a", same, inliers, 100, inliers / 100, 0.5 if same else 0.0, None)


def test_fallback_only_in_the_grey_zone():
    """SIFT is retried only on pairs ORB rejects with some inliers: not on accepted pairs, not on pairs of
    different places (almost no inliers); fallback_min_inliers = 0 restores 'every rejected pair'."""
    from pipeline.verify.pairing import needs_fallback

    cfg = dataclasses.replace(CFG, fallback_min_inliers=10)
    assert needs_fallback(_sm(False, 10), cfg) and needs_fallback(_sm(False, 24), cfg)
    assert not needs_fallback(_sm(False, 9), cfg) and not needs_fallback(_sm(True, 500), cfg)
    assert needs_fallback(_sm(False, 0), dataclasses.replace(cfg, fallback_min_inliers=0))


def test_match_all_computes_fallback_features_only_for_grey_zone_pairs(monkeypatch):
    from pipeline.verify import pairing

    calls = []
    real = pairing.extract_features
    monkeypatch.setattr(pairing, "extract_features", lambda p, c: calls.append(c.detector) or real(p, c))
    before, after, _ = _moved(3)
    photos = [loaded(before, "b"), loaded(textured_scene(12, SIZE), "x")]
    matches, _, _ = pairing.match_all(photos[:1], [loaded(after, "a"), photos[1]], CFG)
    assert matches[0][0].same_place and not matches[0][1].same_place
    assert matches[0][1].inliers < CFG.fallback_min_inliers and calls.count(CFG.fallback_detector) == 0
    calls.clear()
    every = dataclasses.replace(CFG, fallback_min_inliers=0)  # the old rule: every rejected pair
    matches, _, _ = pairing.match_all(photos[:1], [loaded(after, "a"), photos[1]], every)
    assert calls.count(every.fallback_detector) == 2  # the before photo and the unrelated one, once each


def test_maps_inside_and_the_shared_region():
    from pipeline.verify.geometry import box_inside_fraction, maps_inside, shared_region_mask, visible_fraction

    shift = np.array([[1.0, 0, -100], [0, 1.0, 0], [0, 0, 1]])  # the other photo sees 100 px further right
    pts = np.array([[50, 10], [150, 10], [399, 299], [150, 300]], float)
    assert maps_inside(pts, shift, (400, 300)).tolist() == [False, True, True, False]
    behind = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])  # w < 0: maps behind the camera
    assert not maps_inside(np.array([[10.0, 10.0]]), behind, (400, 300)).any()
    mask, cell = shared_region_mask(shift, (400, 300), (400, 300), cells=40)
    assert mask.shape == (30, 40) and cell == 10
    assert not mask[:, :10].any() and mask[:, 10:].all()  # the left quarter is not in the other photo
    assert visible_fraction(shift, (400, 300), (400, 300)) == pytest.approx(0.75, abs=0.02)
    assert box_inside_fraction((50, 0, 150, 100), shift, (400, 300)) == pytest.approx(0.5)


def test_ratio_matches_are_the_brute_force_matchers_own():
    """The ratio test reads the two nearest neighbours from cv2.batchDistance; it must keep exactly the
    matches, in the same order, that cv2.BFMatcher.knnMatch(k=2) gives (ORB's binary descriptors with ties,
    SIFT's float ones, and sets too small for a second neighbour)."""
    from pipeline.verify.sameplace import PhotoFeatures, _ratio_matches

    rng = np.random.default_rng(7)

    def feats(n: int, floats: bool) -> PhotoFeatures:
        d = rng.random((n, 128), np.float32) if floats else rng.integers(0, 256, (n, 32), dtype=np.uint8)
        if n > 9:
            d[: n // 3] = d[0]  # equal descriptors: ties for the nearest and second-nearest neighbour
        return PhotoFeatures("x", rng.random((n, 2), np.float32) * 600, d, 1.0, (640, 480), (640, 480), "orb",
                             np.zeros((1, 1), np.uint8))

    for floats in (False, True):
        for nb, na in [(2, 2), (300, 1), (1, 300), (400, 2), (500, 700)]:
            fb, fa = feats(nb, floats), feats(na, floats)
            knn = cv2.BFMatcher(cv2.NORM_L2 if floats else cv2.NORM_HAMMING).knnMatch(fb.descriptors, fa.descriptors, k=2)
            for ratio in (0.7, 0.8, 0.95):
                good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
                good = good if min(nb, na) >= 2 else []  # a photo with one keypoint matches nothing
                src, dst = _ratio_matches(fb, fa, ratio)
                assert src.dtype == dst.dtype == np.float32 and src.shape == dst.shape == (len(good), 2)
                assert np.array_equal(src, fb.keypoints[[m.queryIdx for m in good]].reshape(-1, 2))
                assert np.array_equal(dst, fa.keypoints[[m.trainIdx for m in good]].reshape(-1, 2))


def test_shared_region_raster_is_maps_inside_at_each_cell_centre():
    """The raster is computed row and column at a time; each cell must be what maps_inside says of its
    centre, for shifts, zooms, tilts and homographies that put part of the photo behind the camera."""
    from pipeline.verify.geometry import maps_inside, shared_region_mask

    rng = np.random.default_rng(3)
    for k in range(60):
        h = np.eye(3) + rng.normal(0, 1, (3, 3)) * [[0.2, 0.2, 300], [0.2, 0.2, 300], [3e-4, 3e-4, 0.2]]
        if k % 4 == 0:
            h = np.array([[1.0, 0, rng.integers(-300, 300)], [0, 1.0, rng.integers(-300, 300)], [0, 0, 1]])
        size, other = tuple(rng.integers(50, 3000, 2)), tuple(rng.integers(50, 3000, 2))
        mask, cell = shared_region_mask(h, size, other, cells=64)
        xs, ys = (np.arange(mask.shape[1]) + 0.5) * cell, (np.arange(mask.shape[0]) + 0.5) * cell
        want = maps_inside(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), h, other).reshape(mask.shape)
        assert np.array_equal(mask, want), k
