"""The wide-scene litter set (pipeline/detect/wide.py): labels inside the image and on the pasted items,
no leakage between splits (background scenes, items' source photos), deterministic builds."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.detect.wide import (CompositeDef, Placement, compose_scene, compose_split, cut_item, sample_placements,
                                  scene_of)


def _ground(seed: int, size=(640, 360)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.uniform(60, 160, (h // 8, w // 8, 3)).astype(np.uint8)
    return np.array(Image.fromarray(small).resize((w, h), Image.BILINEAR))


def _item_photo(seed: int, size=(400, 300)) -> tuple[np.ndarray, np.ndarray]:
    """A grass-like photo with one bright 'can' in the middle; returns it and its box (xyxy px)."""
    img = _ground(seed, size)
    img[:, :, 1] = np.clip(img[:, :, 1].astype(int) + 60, 0, 255)
    box = np.array([150, 100, 250, 220])
    img[110:210, 160:240] = (230, 40, 40)
    img[140:170, 160:240] = (240, 240, 240)
    return img, box


def test_cut_item_keeps_the_item_and_drops_its_ground():
    img, box = _item_photo(1)
    rgba = cut_item(img, box)
    assert rgba is not None and rgba.shape[2] == 4
    a = rgba[..., 3].astype(float) / 255
    red = (rgba[..., 0] > 200) & (rgba[..., 1] < 80)
    assert a[red].mean() > 0.8  # the item is opaque
    assert a[~red & (rgba[..., 1] > 150) & (rgba[..., 0] < 200)].mean() < 0.5  # the grass around it is not
    assert cut_item(img, np.array([10, 10, 20, 20])) is None  # too small to cut


def test_composite_labels_lie_inside_the_image_and_on_the_items():
    bg = _ground(2)
    img, box = _item_photo(3)
    item = cut_item(img, box)
    cdef = CompositeDef(backgrounds={}, item_sources=(), covered=0.0)
    rng = np.random.default_rng(0)
    pl = sample_placements(rng, (bg.shape[1], bg.shape[0]), [item.shape[0] / item.shape[1]] * 5, cdef)
    assert 3 <= len(pl) <= 5
    out, boxes, idx = compose_scene(bg, [item] * len(pl), pl, seed=0)
    assert out.shape == bg.shape and not np.array_equal(out, bg)
    assert len(boxes) == len(idx) == len(pl)
    h, w = bg.shape[:2]
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    changed = np.abs(out.astype(int) - bg.astype(int)).sum(2) > 30
    for x1, y1, x2, y2 in boxes.astype(int):
        assert changed[y1:y2, x1:x2].mean() > 0.4  # the label covers pasted pixels
    for (x1, y1, x2, y2), p in zip(boxes, pl):
        assert 0.015 * w * 0.8 <= x2 - x1 <= 0.12 * w * 1.05  # widths as a street photo shows them
    # a covered item's label is its visible part only
    full = compose_scene(bg, [item], [Placement(320, 250, 60)], seed=1)[1][0]
    half = compose_scene(bg, [item], [Placement(320, 250, 60, cover=0.4, side=3)], seed=1)[1][0]
    assert half[3] < full[3] - 10 and half[1] == pytest.approx(full[1], abs=2)


def _fake_root(tmp_path):
    """A data root with two street scenes (video frames), one other background and labelled photos."""
    root = tmp_path / "data"
    (root / "frames").mkdir(parents=True)
    (root / "photos").mkdir()
    for scene, n in (("ny", 2), ("bike", 2)):
        for t in range(n):
            Image.fromarray(_ground(len(scene) * 100 + t)).save(root / "frames" / f"{scene}_t{t:03d}s.jpg")
    Image.fromarray(_ground(99, (800, 600))).save(root / "photos" / "pov.jpg")
    labelled = []
    for i in range(6):
        img, box = _item_photo(10 + i)
        p = root / "photos" / f"item{i}.jpg"
        Image.fromarray(img).save(p)
        h, w = img.shape[:2]
        rows = np.array([[0, (box[0] + box[2]) / 2 / w, (box[1] + box[3]) / 2 / h, (box[2] - box[0]) / w,
                          (box[3] - box[1]) / h]])
        labelled.append(("src", p, rows, "val" if i < 2 else "train"))
    return root, labelled


def test_compose_split_has_no_leakage_and_is_deterministic(tmp_path):
    root, labelled = _fake_root(tmp_path)
    cdef = CompositeDef(backgrounds={"train": ("frames/ny_*.jpg",), "val": ("frames/bike_*.jpg", "photos/pov.jpg")},
                        item_sources=("src",), per_background={"train": 3, "val": 2}, empty=0.0)
    comps = compose_split(cdef, root, labelled, tmp_path / "out")
    assert {c.split for c in comps} == {"train", "val"}
    assert sum(c.split == "val" for c in comps) == 3 * 2 and sum(c.split == "train" for c in comps) == 2 * 3
    split_of = {str(p): s for _, p, _, s in labelled}
    for c in comps:
        assert all(split_of[s] == c.split for s in c.item_sources)  # items only from their split's photos
        assert c.labels and all(0 <= v <= 1 for row in c.labels for v in row[1:])
        for _, cx, cy, bw, bh in c.labels:
            assert cx - bw / 2 >= -1e-6 and cx + bw / 2 <= 1 + 1e-6 and cy - bh / 2 >= -1e-6 and cy + bh / 2 <= 1 + 1e-6
    assert not ({c.scene for c in comps if c.split == "train"} & {c.scene for c in comps if c.split == "val"})
    again = compose_split(cdef, root, labelled, tmp_path / "out2")
    assert [c.labels for c in again] == [c.labels for c in comps]
    assert Image.open(again[0].path).tobytes() == Image.open(comps[0].path).tobytes()
    # one scene listed for both splits is refused
    bad = CompositeDef(backgrounds={"train": ("frames/ny_t000s.jpg",), "val": ("frames/ny_t001s.jpg",)},
                       item_sources=("src",))
    with pytest.raises(ValueError, match="both"):
        compose_split(bad, root, labelled, tmp_path / "out3")


def test_scene_of_groups_video_frames():
    from pathlib import Path

    assert scene_of(Path("ny_t012s.jpg")) == scene_of(Path("ny_t000s.jpg")) == "ny"
    assert scene_of(Path("IMG_7.jpg")) == "IMG_7"


def test_train_only_overrides_leave_the_val_split_unchanged(tmp_path):
    """litter3 widens the train composites (heaps, crops, mirrors, more items) through
    ``overrides.train``; the val composites must stay those of a build without it, file for file, so that
    detectors trained on either are measured on the same wide photos."""
    root, labelled = _fake_root(tmp_path)
    plain = {"backgrounds": {"train": ["frames/ny_*.jpg"], "val": ["frames/bike_*.jpg", "photos/pov.jpg"]},
             "item_sources": ["src"], "per_background": {"train": 2, "val": 2}, "empty": 0.0}
    wider = {**plain, "overrides": {"train": {"width_fraction": [0.01, 0.12], "items_per_image": [4, 6],
                                              "pile": 0.9, "bg_crop": [0.55, 0.8], "bg_flip": True}}}
    a = compose_split(CompositeDef.from_dict(plain), root, labelled, tmp_path / "a")
    b = compose_split(CompositeDef.from_dict(wider), root, labelled, tmp_path / "b")
    va, vb = [c for c in a if c.split == "val"], [c for c in b if c.split == "val"]
    assert [c.labels for c in va] == [c.labels for c in vb]
    assert all(Image.open(x.path).tobytes() == Image.open(y.path).tobytes() for x, y in zip(va, vb))
    ta, tb = [c for c in a if c.split == "train"], [c for c in b if c.split == "train"]
    assert [Image.open(c.path).size for c in ta] != [Image.open(c.path).size for c in tb]  # cropped backgrounds
    assert sum(len(c.labels) for c in tb) > sum(len(c.labels) for c in ta)
    with pytest.raises(ValueError, match="unknown composite setting"):
        CompositeDef.from_dict({**plain, "piles": 0.5})
    with pytest.raises(ValueError, match="not per-split"):
        CompositeDef.from_dict({**plain, "overrides": {"train": {"seed": 3}}})


def test_heaps_lay_items_touching_each_other():
    """With ``pile`` the items after the first lie against an earlier one (a heap), overlapping at most a
    little; without it no two items overlap by more than a sliver."""
    from pipeline.boxes import box_iou

    aspects = [1.0] * 6
    heap = CompositeDef(backgrounds={}, item_sources=(), pile=1.0, width_fraction=(0.04, 0.06))
    apart = CompositeDef(backgrounds={}, item_sources=(), pile=0.0, width_fraction=(0.04, 0.06))
    touching = 0
    for seed in range(10):
        for cdef in (heap, apart):
            pl = sample_placements(np.random.default_rng(seed), (1280, 720), aspects, cdef)
            b = np.array([[p.cx - p.width / 2, p.cy - p.width / 2, p.cx + p.width / 2, p.cy + p.width / 2] for p in pl])
            iou = box_iou(b, b)
            np.fill_diagonal(iou, 0)
            assert iou.max() <= (0.3 if cdef is heap else 0.05) + 1e-9
            if cdef is heap:  # every item after the first touches or overlaps another, within 15 % of its width
                for i in range(1, len(b)):
                    others = np.delete(b, i, 0)
                    gap = np.maximum(0, np.maximum(others[:, 0] - b[i, 2], b[i, 0] - others[:, 2])) + \
                        np.maximum(0, np.maximum(others[:, 1] - b[i, 3], b[i, 1] - others[:, 3]))
                    assert gap.min() < 0.15 * (b[i, 2] - b[i, 0]) + 1e-6
                    touching += 1
    assert touching >= 30
