"""Perceptual hashes of one photo, from the single reduced analysis decode.

Everything here starts from the load stage's analysis image (HxWx3 uint8 RGB, EXIF orientation applied,
longest side at most ``LoadConfig.analysis_max_side``) and uses PIL for every resize, so that every hash in a
workspace's index comes from one resize implementation (cv2 and PIL resizes differ by ~7 bits of pHash,
imagehash issue #181).

Hashes (bit order: row-major over the hash grid, first bit is the most significant):

- pHash and dHash, 64 bits each, bit-identical to ``imagehash.phash`` / ``imagehash.dhash`` of
  :func:`hash_base` (the grey image box-reduced by an integer factor to a longest side of at most
  ``CROP_GRID_SIDE`` px; same LANCZOS resize, same scipy DCT). Starting from that reduction instead of the
  analysis image makes the two LANCZOS resizes 0.5 ms instead of 8 ms and moves pHash by ~1 bit
  (scripts/bench_dedup.py measures the bits against imagehash on the full-size decode).
- Only with ``DedupConfig.use_pdq`` (off by default, see there: on the calibration set it adds no match and
  costs half the hashing time): PDQ, 256 bits with its quality in [0, 100] (``pdqhash``), computed on the
  analysis image box-reduced by an
  integer factor to a longest side of at most ``PDQ_MAX_SIDE`` px (PDQ's own Jarosz filter then takes it
  to 64x64; the pre-reduction moves ~2 bits and makes PDQ ~8x faster). Not smaller: from 256 px, PDQ of a
  mirrored or rotated copy lands ~32 bits from the matching variant instead of ~6, from 400 px ~8 (mean
  over 16 photos of ../shared/data and their 7 flips/rotations).
- The 8 dihedral variants of pHash (and PDQ) (``VARIANT_NAMES``), so that mirrored or rotated re-uploads match
  by querying the index with the variants of the new photo against variant 0 of stored photos.
- ``crop_phashes``: pHashes of ``CROP_WINDOWS`` sub-windows of the photo, for crops (see ``CROP_WINDOWS``).
- ``thumb``: a ``THUMB_SIDE`` x ``THUMB_SIDE`` grey signature (aspect ratio squashed), used to verify a
  hash match pixel by pixel (see ``pipeline.dedup.pixel_check``): hashes alone cannot tell a re-encoded copy
  from a second frame of a fixed camera, or a before photo from its after photo.
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pdqhash
import scipy.fftpack
from PIL import Image

from ..config import DedupConfig
from ..digests import digest
from ..types import PhotoHashes
from .frame import photo_box
from .regions import CELL_BOXES, CELL_MIN_STD, REGION_BOXES, Picture, RegionHashes, dhash_cells, find_panels
from .screen import find_screens

STAGE_VERSION = "dedup-hash-7"  # 2: pHash/dHash from hash_base, not the analysis image; 3: reuse views;
# 4: region windows and collage panels (issue 22); 5: the photo on a photographed screen (issue 22); 6: more
# screens found (pipeline.dedup.screen: the flat bezel ring's outline, a quad retried larger); 7: cell codes
# (stickers and panels anywhere, issue 22)


def cache_key(load_key: str, cfg: DedupConfig) -> tuple[str, str]:
    """(version, key) of a photo's stored hashes: the analysis image's key and whether PDQ is computed."""
    return STAGE_VERSION, digest(load_key, f"pdq={cfg.use_pdq}")

#: Dihedral variants, index 0 is the photo as it is. ``rot<k>``: rotated counterclockwise by k degrees;
#: ``mirror_rot<k>``: mirrored left-right, then rotated. Index i < 4 is ``np.rot90(img, i)``, index 4 + i is
#: ``np.rot90(np.fliplr(img), i)``.
VARIANT_NAMES: tuple[str, ...] = ("as_is", "rot90", "rot180", "rot270",
                                  "mirror", "mirror_rot90", "mirror_rot180", "mirror_rot270")

#: position in ``pdqhash.compute_dihedral``'s output of each of our variants (measured, see tests)
_PDQ_DIHEDRAL_ORDER = (0, 1, 2, 3, 5, 6, 4, 7)

PDQ_MAX_SIDE = 512  # px: PDQ input is box-reduced by an integer factor to at most this longest side
CROP_GRID_SIDE = 256  # px: longest side of the grey image the crop windows and the thumb are cut from
THUMB_SIDE = 64  # px: side of the square grey signature
VIEW_SIDE = 320  # px: longest side of the grey views that candidates are confirmed on (local features)
VIEW_QUALITY = 90  # JPEG quality of the stored views

#: small rotations (degrees, counterclockwise) hashed for re-uploads that were straightened: each rotated
#: and zoomed just enough to hide the corners, as a photo editor's straighten tool does. pHash tolerates
#: about +-1 degree, so a step of 1.5 covers 1-5 degrees (0 is the photo's own pHash).
ROT_ANGLES: tuple[float, ...] = (-4.5, -3.0, -1.5, 1.5, 3.0, 4.5)
ROT_BASE_SIDE = 128  # px: the hash base is box-reduced to at most this before the rotations
#: parts that a caption band leaves untouched: (x0, y0, x1, y1) fractions; the top 75 % survives a band
#: over the bottom quarter, the bottom 75 % one over the top
PART_BOXES: tuple[tuple[float, float, float, float], ...] = ((0.0, 0.0, 1.0, 0.75), (0.0, 0.25, 1.0, 1.0))


@dataclass(frozen=True)
class CropWindow:
    """A sub-window as fractions of the photo: ``scale`` of each side, top-left at ``(fx, fy)`` times the
    slack ``1 - scale`` (so fx = 0 is the left edge, 1 the right edge, 0.5 centred)."""

    scale: float
    fx: float
    fy: float

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        w, h = width * self.scale, height * self.scale
        x0, y0 = (width - w) * self.fx, (height - h) * self.fy
        return (x0, y0, x0 + w, y0 + h)


def _grid(scale: float, steps: tuple[float, ...]) -> tuple[CropWindow, ...]:
    return tuple(CropWindow(scale, fx, fy) for fy in steps for fx in steps)


#: sub-windows hashed for crop detection: a 3x3 grid (corners, edge centres, centre) at 95%, 90% and 85% of
#: each side. A crop removing up to ~15% of each side lies within ~2.5% of one of them, which pHash tolerates.
CROP_WINDOWS: tuple[CropWindow, ...] = tuple(w for s in (0.95, 0.9, 0.85) for w in _grid(s, (0.0, 0.5, 1.0)))


@dataclass(frozen=True)
class DedupHashes(PhotoHashes):
    """:class:`PhotoHashes` plus the pHashes of the crop windows (``CROP_WINDOWS`` order) and the grey
    signature ``thumb`` (``THUMB_SIDE**2`` bytes, row-major uint8; empty when unknown)."""

    crop_phashes: tuple[int, ...] = ()
    thumb: bytes = b""
    #: the photo found inside a screenshot or bordered image (:func:`pipeline.dedup.frame.photo_box`):
    #: its box as fractions (x0, y0, x1, y1) and its pHash; both empty when the whole image is the photo
    inner_box: tuple[float, ...] = ()
    inner_phashes: tuple[int, ...] = ()
    #: pHashes of the photo rotated by ``ROT_ANGLES`` (zoomed to hide the corners) and of ``PART_BOXES``
    rot_phashes: tuple[int, ...] = ()
    part_phashes: tuple[int, ...] = ()
    #: grey JPEG views at ``VIEW_SIDE`` px for confirming candidates: the whole image, and the inner photo
    view: bytes = b""
    inner_view: bytes = b""
    #: issue 22: region-window pHashes and the pictures inside the photo (collage panels), with views
    regions: RegionHashes = RegionHashes()

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["crop_phashes"] = [f"{v:016x}" for v in self.crop_phashes]
        d["thumb"] = base64.b64encode(self.thumb).decode("ascii")
        d["inner_box"] = list(self.inner_box)
        for k in ("inner_phashes", "rot_phashes", "part_phashes"):
            d[k] = [f"{v:016x}" for v in getattr(self, k)]
        d["view"] = base64.b64encode(self.view).decode("ascii")
        d["inner_view"] = base64.b64encode(self.inner_view).decode("ascii")
        d["regions"] = self.regions.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DedupHashes":
        """Inverse of :meth:`to_dict`; also takes a plain ``PhotoHashes.to_dict()`` (no crops, no thumb)."""
        base = PhotoHashes.from_dict(d)
        return cls(**{k: getattr(base, k) for k in PhotoHashes.__dataclass_fields__},
                   crop_phashes=tuple(int(v, 16) for v in d.get("crop_phashes", [])),
                   thumb=base64.b64decode(d.get("thumb") or ""),
                   inner_box=tuple(float(v) for v in d.get("inner_box", [])),
                   inner_phashes=tuple(int(v, 16) for v in d.get("inner_phashes", [])),
                   rot_phashes=tuple(int(v, 16) for v in d.get("rot_phashes", [])),
                   part_phashes=tuple(int(v, 16) for v in d.get("part_phashes", [])),
                   view=base64.b64decode(d.get("view") or ""),
                   inner_view=base64.b64decode(d.get("inner_view") or ""),
                   regions=RegionHashes.from_dict(d.get("regions")))

    def thumb_array(self) -> np.ndarray | None:
        """The grey signature as a (THUMB_SIDE, THUMB_SIDE) uint8 array, or None when absent."""
        if len(self.thumb) != THUMB_SIDE * THUMB_SIDE:
            return None
        return np.frombuffer(self.thumb, dtype=np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)


# ------------------------------------------------------------------------------------------- bit helpers
def bits_to_int(bits: np.ndarray) -> int:
    """A boolean array (any shape, row-major, first element most significant) as a Python int."""
    return int.from_bytes(np.packbits(np.asarray(bits, dtype=bool).reshape(-1)).tobytes(), "big")


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """A boolean array of 8k elements as k bytes (first element is the top bit of the first byte)."""
    return np.packbits(np.asarray(bits, dtype=bool).reshape(-1)).tobytes()


def hamming(a: int | bytes, b: int | bytes) -> int:
    """Hamming distance of two hashes of the same kind (ints or equal-length bytes)."""
    if isinstance(a, bytes):
        return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
    return (a ^ b).bit_count()


# ---------------------------------------------------------------------------------------------- hashes
def phash_bits(gray32: np.ndarray) -> np.ndarray:
    """imagehash's pHash of a 32x32 grey image (uint8): 8x8 bool, DCT low frequencies above their median."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(gray32), axis=0), axis=1)
    low = dct[:8, :8]
    return low > np.median(low)


def dhash_bits(gray9x8: np.ndarray) -> np.ndarray:
    """imagehash's dHash of an 8-row, 9-column grey image (uint8): 8x8 bool, pixel brighter than its left."""
    px = np.asarray(gray9x8)
    return px[:, 1:] > px[:, :-1]


def _rgb(image: np.ndarray) -> Image.Image:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("empty image")
    return Image.fromarray(np.ascontiguousarray(image), "RGB")


def hash_base(image: np.ndarray) -> Image.Image:
    """The grey image every 64-bit hash is taken from: ``image`` (HxWx3 uint8 RGB) converted to grey
    (ITU-R 601-2 luma, as PIL and imagehash) and box-reduced by the smallest integer factor that brings
    its longest side to at most ``CROP_GRID_SIDE`` px."""
    return _reduce_to(_rgb(image).convert("L"), CROP_GRID_SIDE)


def _reduce_to(img: Image.Image, max_side: int) -> Image.Image:
    factor = -(-max(img.size) // max_side)
    return img.reduce(factor) if factor > 1 else img


def phash_variants(gray32: np.ndarray) -> tuple[int, ...]:
    """pHash of the 8 dihedral variants (``VARIANT_NAMES`` order) of a 32x32 grey image."""
    g = np.asarray(gray32)
    return phash_stack(np.stack([np.rot90(g, i % 4) if i < 4 else np.rot90(np.fliplr(g), i % 4)
                                 for i in range(8)]))


def pdq_hashes(image: np.ndarray | Image.Image) -> tuple[tuple[bytes, ...], int]:
    """PDQ of the 8 dihedral variants (``VARIANT_NAMES`` order) as 32-byte strings, and the quality 0-100,
    of an RGB image (HxWx3 uint8 array or PIL image; box-reduced to at most ``PDQ_MAX_SIDE`` px first)."""
    rgb = image if isinstance(image, Image.Image) else _rgb(image)
    small = np.ascontiguousarray(np.asarray(_reduce_to(rgb if rgb.mode == "RGB" else rgb.convert("RGB"), PDQ_MAX_SIDE)))
    vectors, quality = pdqhash.compute_dihedral(small)
    return tuple(bits_to_bytes(np.asarray(vectors[j]) != 0) for j in _PDQ_DIHEDRAL_ORDER), int(quality)


def phash_stack(gray32s: np.ndarray) -> tuple[int, ...]:
    """:func:`phash_bits` of a stack of 32x32 grey images (k, 32, 32), as ints, in one DCT call."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(gray32s), axis=1), axis=2)
    low = dct[:, :8, :8].reshape(len(dct), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    packed = np.packbits(bits, axis=1)  # (k, 8) bytes, big-endian
    return tuple(int.from_bytes(row.tobytes(), "big") for row in packed)


def window_grids(gray: np.ndarray, windows: tuple[CropWindow, ...] = CROP_WINDOWS, side: int = 32,
                 cols: int | None = None) -> np.ndarray:
    """Each window of a grey image (H, W) resampled to ``side`` x ``side`` (``side`` rows x ``cols`` columns
    when given) by area averaging (box filter over cells whose edges are rounded to whole pixels), all
    windows at once from one integral image: (k, side, cols or side) float64."""
    g = np.asarray(gray, dtype=np.float64)
    h, w = g.shape
    ii = np.zeros((h + 1, w + 1))
    ii[1:, 1:] = g.cumsum(0).cumsum(1)
    t = np.linspace(0.0, 1.0, side + 1)
    tx = np.linspace(0.0, 1.0, (cols or side) + 1)
    boxes = np.array([win.box(w, h) for win in windows])  # (k, 4)
    xs = np.rint(boxes[:, 0:1] + (boxes[:, 2:3] - boxes[:, 0:1]) * tx).astype(int)  # (k, cols + 1)
    ys = np.rint(boxes[:, 1:2] + (boxes[:, 3:4] - boxes[:, 1:2]) * t).astype(int)
    xs[:, 1:] = np.maximum(xs[:, 1:], xs[:, :-1] + 1)  # every cell at least one pixel wide
    ys[:, 1:] = np.maximum(ys[:, 1:], ys[:, :-1] + 1)
    xs, ys = np.minimum(xs, w), np.minimum(ys, h)
    x0, x1 = xs[:, None, :-1], xs[:, None, 1:]
    y0, y1 = ys[:, :-1, None], ys[:, 1:, None]
    sums = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
    area = np.maximum((y1 - y0) * (x1 - x0), 1)
    return sums / area


def crop_phashes(small: Image.Image, windows: tuple[CropWindow, ...] = CROP_WINDOWS) -> tuple[int, ...]:
    """pHash of each sub-window of ``small`` (the grey image reduced to ``CROP_GRID_SIDE``), each averaged
    down to 32x32 (:func:`window_grids`), with imagehash's DCT and median rule."""
    return phash_stack(window_grids(np.asarray(small), windows))


def zoom_to_hide_corners(width: int, height: int, degrees: float) -> float:
    """The largest k such that the centred k-scaled rectangle fits inside the ``width`` x ``height``
    rectangle rotated by ``degrees`` (what a straighten tool keeps)."""
    c, s = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return min(width / (width * c + height * s), height / (width * s + height * c))


def rotated_phashes(small: Image.Image, angles: tuple[float, ...] = ROT_ANGLES) -> tuple[int, ...]:
    """pHash of ``small`` (a grey hash base) rotated by each angle and zoomed to hide the corners."""
    small = _reduce_to(small, ROT_BASE_SIDE)  # a 32x32 pHash grid needs no more; 4x cheaper to rotate
    w, h = small.size
    grids = []
    for a in angles:
        k = zoom_to_hide_corners(w, h, a)
        cw, ch = w * k, h * k
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        rot = small.rotate(a, resample=Image.Resampling.BILINEAR)
        grids.append(np.asarray(rot.resize((32, 32), Image.Resampling.LANCZOS, box=box)))
    return phash_stack(np.stack(grids)) if grids else ()


def part_phashes(small: Image.Image, boxes: tuple[tuple[float, ...], ...] = PART_BOXES) -> tuple[int, ...]:
    """pHash of each part (fractions x0, y0, x1, y1) of ``small``."""
    w, h = small.size
    return phash_stack(np.stack([np.asarray(small.resize((32, 32), Image.Resampling.LANCZOS,
                                                         box=(b[0] * w, b[1] * h, b[2] * w, b[3] * h)))
                                 for b in boxes])) if boxes else ()


def grey_view(grey: Image.Image, side: int = VIEW_SIDE) -> bytes:
    """``grey`` at longest side <= ``side`` (area average, never enlarged) as JPEG bytes."""
    f = min(1.0, side / max(grey.size))
    img = grey.resize((max(1, round(grey.width * f)), max(1, round(grey.height * f))), Image.Resampling.BOX) \
        if f < 1.0 else grey
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=VIEW_QUALITY)
    return buf.getvalue()


def decode_view(data: bytes) -> np.ndarray | None:
    """A stored grey view as an H x W uint8 array, or None when absent."""
    if not data:
        return None
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L"))


def compute_hashes(image: np.ndarray, sha256: str, *, with_pdq: bool = False, with_views: bool = True) -> DedupHashes:
    """All hashes of one photo from its analysis image (HxWx3 uint8 RGB, oriented, reduced); PDQ and its
    variants only ``with_pdq`` (``DedupConfig.use_pdq``; otherwise ``pdq`` is None and ``pdq_variants`` empty);
    the reuse hashes (inner photo, small rotations, caption-free parts) and the grey views only
    ``with_views`` (``DedupConfig.match_reuse``).

    Raises ValueError for an image that is not HxWx3 uint8 or is empty.
    """
    rgb = _rgb(image)
    grey = rgb.convert("L")
    small = _reduce_to(grey, CROP_GRID_SIDE)  # == hash_base(image)
    thumb = small.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    g32 = np.asarray(small.resize((32, 32), Image.Resampling.LANCZOS))  # as imagehash.phash(small)
    g98 = np.asarray(small.resize((9, 8), Image.Resampling.LANCZOS))  # as imagehash.dhash(small)
    ph = phash_variants(g32)
    pdq, quality = pdq_hashes(rgb) if with_pdq else ((), None)
    reuse = reuse_hashes(grey, small) if with_views else {}
    return DedupHashes(sha256=sha256, phash=ph[0], dhash=bits_to_int(dhash_bits(g98)),
                       pdq=pdq[0] if pdq else None, pdq_quality=quality, phash_variants=ph, pdq_variants=pdq,
                       crop_phashes=crop_phashes(small), thumb=np.asarray(thumb).tobytes(), **reuse)


def reuse_hashes(grey: Image.Image, small: Image.Image) -> dict[str, Any]:
    """The hashes and views for reused photos (see :class:`DedupHashes`) of the grey analysis image and its
    hash base: the inner photo of a screenshot, small rotations, caption-free parts, grey views."""
    box = photo_box(np.asarray(small))
    out: dict[str, Any] = {"rot_phashes": rotated_phashes(small), "part_phashes": part_phashes(small),
                           "view": grey_view(grey), "regions": region_hashes(grey, small, screenshot=box is not None)}
    if box is not None:
        w, h = grey.size
        inner = grey.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
        inner_small = _reduce_to(inner, CROP_GRID_SIDE)
        g32 = np.asarray(inner_small.resize((32, 32), Image.Resampling.LANCZOS))
        # the view 1 % in from the box: the box is found on the 256-px grid and may hold a sliver of screen
        ix, iy = 0.01 * (box[2] - box[0]) * w, 0.01 * (box[3] - box[1]) * h
        view = grey.crop((round(box[0] * w + ix), round(box[1] * h + iy), round(box[2] * w - ix),
                          round(box[3] * h - iy)))
        out.update(inner_box=tuple(round(v, 4) for v in box), inner_phashes=(phash_stack(g32[None])[0],),
                   inner_view=grey_view(view))
    return out


def region_hashes(grey: Image.Image, small: Image.Image, *, views: bool = True, screenshot: bool = False) -> RegionHashes:
    """Region-window pHashes of ``small`` (the grey hash base), the collage panels of ``grey`` (the grey
    analysis image) and the photos on a photographed screen in it (:func:`pipeline.dedup.screen.find_screens`,
    rectified; not in a ``screenshot``, whose inner photo is found already), each picture with its pHash and,
    with ``views``, its grey view."""
    windows = crop_phashes(small, REGION_BOXES)
    pictures = []
    w, h = grey.size
    for box in find_panels(np.asarray(small)):
        crop = grey.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
        g32 = np.asarray(_reduce_to(crop, CROP_GRID_SIDE).resize((32, 32), Image.Resampling.LANCZOS))
        pictures.append(Picture("panel", tuple(round(v, 4) for v in box), phash_stack(g32[None])[0],
                                grey_view(crop) if views else b""))
    for scr in find_screens(np.asarray(grey)) if not screenshot else ():
        shown = Image.fromarray(scr.grey)
        g32 = np.asarray(_reduce_to(shown, CROP_GRID_SIDE).resize((32, 32), Image.Resampling.LANCZOS))
        pictures.append(Picture("screen", scr.box, phash_stack(g32[None])[0], grey_view(shown) if views else b""))
    return RegionHashes(windows, tuple(pictures), cell_codes(small))


def cell_codes(small: Image.Image) -> tuple[int, ...]:
    """The dHash of each cell of ``regions.CELL_BOXES`` over ``small`` (the grey hash base; each cell
    averaged down to 8 rows x 9 columns), 0 for a cell whose 32 x 32 average has a standard deviation under
    ``regions.CELL_MIN_STD`` grey levels (too flat for its bits to mean anything)."""
    g = np.asarray(small)
    textured = window_grids(g, CELL_BOXES).reshape(len(CELL_BOXES), -1).std(axis=1) >= CELL_MIN_STD
    codes = dhash_cells(window_grids(g, CELL_BOXES, 8, 9))
    return tuple(c if t else 0 for c, t in zip(codes, textured))
