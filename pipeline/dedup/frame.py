"""Find the photo inside a screenshot or a bordered image.

A screenshot of a post in the contest app (or any app) is the photo scaled into a screen: uniform margins,
a status bar, an app bar, caption lines and a navigation bar around it. All of those are rows (or
columns) that are flat: most of their pixels have exactly the row's background level, with a little text
or a few icons on it. Rows of a photo are not: even a clear sky has grain and a gradient.

:func:`photo_box` takes the grey hash base (``hashing.hash_base``, longest side <= 256 px), marks the flat
rows, takes the tallest run of non-flat rows as the photo's rows, then does the same for the columns within
those rows. Pure NumPy, ~0.1 ms.
"""
from __future__ import annotations

import numpy as np

FLAT_LEVELS = 3  # a pixel is background when within this many grey levels of its row's (column's) median
FLAT_ROW = 0.6  # a row with at least this fraction of background pixels is screen furniture (text allowed)
FLAT_COL = 0.9  # a column of margin: within the photo's rows, nearly all background
MIN_AREA = 0.2  # the photo found covers at least this fraction of the image
MIN_RUN = 0.04  # runs of busy rows shorter than this fraction of the height are screen furniture
MIN_TRIM = 0.03  # ... and the furniture around it at least this fraction of the height or width


def _flat_fraction(g: np.ndarray, axis: int) -> np.ndarray:
    med = np.median(g, axis=axis, keepdims=True)
    return (np.abs(g - med) <= FLAT_LEVELS).mean(axis=axis)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of True in a 1-D bool array ((0, 0) when none)."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    if len(edges) == 0:
        return 0, 0
    starts, ends = edges[0::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k])


def _photo_rows(busy: np.ndarray) -> tuple[int, int]:
    """[start, end) of the photo's rows: from the first to the last run of busy (non-flat) rows at least
    ``MIN_RUN`` of the height long (a photo with a flat sky or a white wall has flat rows of its own; the
    screen's text lines and icons are flat rows or short runs), else the longest run."""
    m = np.concatenate([[False], busy.astype(bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    if len(edges) == 0:
        return 0, 0
    starts, ends = edges[0::2], edges[1::2]
    long = np.flatnonzero(ends - starts >= max(8, MIN_RUN * len(busy)))
    if len(long) == 0:
        return _longest_run(busy)
    return int(starts[long[0]]), int(ends[long[-1]])


def photo_box(grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """The photo inside a screenshot or bordered image ``grey`` (H x W uint8) as fractions (x0, y0, x1, y1)
    of the image, or None when the whole image is the photo (nothing flat around it, or what is left would
    be too small to be the photo)."""
    g = np.asarray(grey, dtype=np.int16)
    if g.ndim != 2 or min(g.shape) < 16:
        return None
    h, w = g.shape
    y0, y1 = _photo_rows(_flat_fraction(g, 1) < FLAT_ROW)
    if y1 - y0 < 8:
        return None
    x0, x1 = _longest_run(_flat_fraction(g[y0:y1], 0) < FLAT_COL)
    if x1 - x0 < 8:
        return None
    area = (y1 - y0) * (x1 - x0) / float(h * w)
    trimmed = max(1 - (y1 - y0) / h, 1 - (x1 - x0) / w)
    if area < MIN_AREA or trimmed < MIN_TRIM:
        return None
    return (x0 / w, y0 / h, x1 / w, y1 / h)
