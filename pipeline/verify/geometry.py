"""Homography geometry shared by the same-place check and the litter change: mapping points, and which
points of one photo a homography maps inside the other photo (:func:`maps_inside`, the one place that
test is written; :func:`shared_region_mask` and :func:`visible_fraction` are built on it)."""
from __future__ import annotations

import numpy as np

GRID = 256  # longest side, in cells, of the raster used for area fractions


def project(points: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map (N, 2) points with homography ``h``: returns (N, 2) points and the (N,) homogeneous w
    (w <= 0 means the point maps behind the camera, i.e. nowhere in the other photo)."""
    p = np.hstack([np.asarray(points, np.float64).reshape(-1, 2), np.ones((len(points), 1))]) @ h.T
    w = p[:, 2]
    safe = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return p[:, :2] / safe[:, None], w


def maps_inside(points: np.ndarray, h: np.ndarray, size_other: tuple[int, int]) -> np.ndarray:
    """(N,) bool: which (N, 2) points ``h`` maps inside a photo of ``size_other`` (width, height), in front
    of the camera (w > 0) and within ``[0, width) x [0, height)``."""
    q, w = project(points, h)
    return (w > 0) & (q[:, 0] >= 0) & (q[:, 0] < size_other[0]) & (q[:, 1] >= 0) & (q[:, 1] < size_other[1])


def shared_region_mask(h: np.ndarray, size: tuple[int, int], size_other: tuple[int, int],
                       cells: int = GRID) -> tuple[np.ndarray, float]:
    """Raster mask over a photo of ``size`` (width, height) of the points ``h`` maps inside the other photo
    (:func:`maps_inside` at each cell's centre). Returns the bool mask (square cells, ``cells`` on the
    longest side) and the cell size in pixels."""
    w0, h0 = size
    cell = max(w0, h0) / cells
    gw, gh = max(1, int(np.ceil(w0 / cell))), max(1, int(np.ceil(h0 / cell)))
    xs, ys = (np.arange(gw) + 0.5) * cell, (np.arange(gh) + 0.5) * cell
    return _grid_maps_inside(xs, ys, np.asarray(h, np.float64), size_other), cell


def _grid_maps_inside(xs: np.ndarray, ys: np.ndarray, h: np.ndarray, size_other: tuple[int, int]) -> np.ndarray:
    """:func:`maps_inside` of every grid point (x, y), x in ``xs`` and y in ``ys``, as a (len(ys), len(xs))
    bool array. The grid is separable: each homogeneous coordinate is a row term plus a column term, so the
    mapping costs three broadcast sums instead of a (N, 3) matrix product over every point (a 256-cell
    raster: about 50,000 points, twice per litter-change pair)."""
    x, y = xs[None, :], ys[:, None]
    u = h[0, 0] * x + (h[0, 1] * y + h[0, 2])
    v = h[1, 0] * x + (h[1, 1] * y + h[1, 2])
    w = h[2, 0] * x + (h[2, 1] * y + h[2, 2])
    safe = np.where(np.abs(w) < 1e-12, 1e-12, w)
    qx, qy = u / safe, v / safe
    return (w > 0) & (qx >= 0) & (qx < size_other[0]) & (qy >= 0) & (qy < size_other[1])


def visible_fraction(h: np.ndarray, size_from: tuple[int, int], size_to: tuple[int, int], cells: int = 48) -> float:
    """Fraction of photo ``size_from`` (width, height) whose points ``h`` maps inside ``size_to``, in [0, 1]."""
    return float(shared_region_mask(h, size_from, size_to, cells)[0].mean())


def box_inside_fraction(box: np.ndarray, h: np.ndarray, size_other: tuple[int, int], samples: int = 16) -> float:
    """Fraction of the xyxy ``box`` that ``h`` maps inside a photo of ``size_other``, from a ``samples`` x
    ``samples`` grid of points over the box."""
    x1, y1, x2, y2 = np.asarray(box, np.float64).reshape(4)
    xs = x1 + (np.arange(samples) + 0.5) * (x2 - x1) / samples
    ys = y1 + (np.arange(samples) + 0.5) * (y2 - y1) / samples
    return float(maps_inside(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), h, size_other).mean())
