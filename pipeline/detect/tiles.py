"""Sliced inference: run the detector on overlapping tiles of a photo as well as on the whole photo, so that
items a few percent of a wide photo's width reach the network at a usable size (the idea of the ``sahi``
package, in a few lines over our own detector).

Pure functions over arrays: :func:`tile_windows` lays the tiles out, :func:`merge_detections` maps each
window's boxes back to the photo and merges them (class-agnostic non-maximum suppression, torchvision).
``DetectConfig.tiles`` turns it on in :class:`pipeline.detect.infer.Detector`; the cost per photo grows with
the number of windows (``1 + tiles**2`` forwards), measured in ``scripts/bench_small_litter.py``.
"""
from __future__ import annotations

import numpy as np


def tile_windows(width: int, height: int, grid: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """The whole photo plus a ``grid`` x ``grid`` layout of tiles overlapping by ``overlap`` (fraction of a
    tile's side, in [0, 0.5)), as ``(x1, y1, x2, y2)`` pixel windows; just the whole photo for grid <= 1."""
    windows = [(0, 0, int(width), int(height))]
    if grid <= 1:
        return windows
    tw = width / (grid - (grid - 1) * overlap)
    th = height / (grid - (grid - 1) * overlap)
    for r in range(grid):
        for c in range(grid):
            x1, y1 = c * tw * (1 - overlap), r * th * (1 - overlap)
            windows.append((int(round(x1)), int(round(y1)), int(round(min(width, x1 + tw))),
                            int(round(min(height, y1 + th)))))
    return windows


def merge_detections(windows: list[tuple[int, int, int, int]], boxes: list[np.ndarray], scores: list[np.ndarray],
                     classes: list[np.ndarray], iou: float = 0.5, edge_px: float = 2.0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes found in each window (pixels of the window) mapped to the photo and merged.

    A tile's box that touches an inner edge of its tile (within ``edge_px``) is cut by the tile and dropped
    when the whole-photo pass or another tile can see it; overlapping boxes are merged by class-agnostic
    NMS at ``iou``. Returns (xyxy (N, 4) float32, scores (N,), class ids (N,))."""
    import torch
    from torchvision.ops import nms

    full_w, full_h = windows[0][2], windows[0][3]
    xs, ss, cs = [], [], []
    for k, ((x1, y1, x2, y2), b, s, c) in enumerate(zip(windows, boxes, scores, classes)):
        b = np.asarray(b, np.float32).reshape(-1, 4) + np.array([x1, y1, x1, y1], np.float32)
        if k > 0 and len(b):
            cut = (((b[:, 0] <= x1 + edge_px) & (x1 > 0)) | ((b[:, 1] <= y1 + edge_px) & (y1 > 0))
                   | ((b[:, 2] >= x2 - edge_px) & (x2 < full_w)) | ((b[:, 3] >= y2 - edge_px) & (y2 < full_h)))
            b, s, c = b[~cut], np.asarray(s)[~cut], np.asarray(c)[~cut]
        xs.append(b)
        ss.append(np.asarray(s, np.float32).reshape(-1))
        cs.append(np.asarray(c, np.int32).reshape(-1))
    xyxy, sc, cl = np.concatenate(xs), np.concatenate(ss), np.concatenate(cs)
    if len(xyxy) == 0:
        return xyxy.reshape(0, 4), sc, cl
    keep = nms(torch.from_numpy(xyxy), torch.from_numpy(sc), iou).numpy()
    return xyxy[keep], sc[keep], cl[keep]
