"""Sliced inference helpers (pipeline/detect/tiles.py): windows cover the photo, boxes come back to photo
pixels, boxes cut by a tile's inner edge are dropped and duplicates merged."""
from __future__ import annotations

import numpy as np

from pipeline.detect.tiles import merge_detections, tile_windows


def test_windows_cover_the_photo_with_overlap():
    w, h = 1000, 600
    wins = tile_windows(w, h, 2, 0.2)
    assert wins[0] == (0, 0, w, h) and len(wins) == 5
    cover = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in wins[1:]:
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        cover[y1:y2, x1:x2] = True
    assert cover.all()
    (ax1, _, ax2, _), (bx1, _, bx2, _) = wins[1], wins[2]
    assert ax2 - bx1 > 0.15 * (ax2 - ax1)  # neighbours overlap
    assert tile_windows(w, h, 1) == [(0, 0, w, h)]


def test_merge_maps_back_drops_cut_boxes_and_merges_duplicates():
    wins = tile_windows(1000, 600, 2, 0.2)
    x1, y1 = wins[4][0], wins[4][1]  # bottom-right tile
    boxes = [np.array([[100, 100, 140, 130]]),  # whole photo: one item
             np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4)),
             np.array([[20, 20, 50, 45],  # bottom-right tile: a small item the whole pass missed
                       [0, 30, 40, 60]])]  # ... and one cut by the tile's left edge
    scores = [np.array([0.9]), np.zeros(0), np.zeros(0), np.zeros(0), np.array([0.6, 0.8])]
    classes = [np.zeros(1, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(2, int)]
    xyxy, sc, _ = merge_detections(wins, boxes, scores, classes)
    assert len(xyxy) == 2
    got = {tuple(np.round(b).astype(int)) for b in xyxy}
    assert (100, 100, 140, 130) in got and (x1 + 20, y1 + 20, x1 + 50, y1 + 45) in got
    # the same item seen by the whole pass and a tile is kept once, at the higher score
    dup = [np.array([[600, 400, 640, 430]]), np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4)),
           np.array([[600 - x1, 400 - y1 + 1, 640 - x1, 430 - y1]])]
    xyxy, sc, _ = merge_detections(wins, dup, [np.array([0.5]), *[np.zeros(0)] * 3, np.array([0.7])],
                                   [np.zeros(1, int), *[np.zeros(0, int)] * 3, np.zeros(1, int)])
    assert len(xyxy) == 1 and sc[0] == np.float32(0.7)
