"""Photo loading: read a photo's bytes safely, decode it ONCE into a small RGB array, read its EXIF.

The runner calls, per photo::

    data = read_photo(ref.path, cfg.load, batch_root=batch, rel_path=ref.rel_path)   # may raise PhotoError
    sha = hashlib.sha256(data).hexdigest()                                          # cache key
    photo = load_photo(data, cfg.load, sha256=sha, rel_path=ref.rel_path)           # may raise PhotoError

and records ``err.problem`` (a :class:`pipeline.types.Problem` with a stable code) for a photo that fails.
Nothing in this module lets an exception other than :class:`PhotoError` escape for bad input; the batch goes on.

Decisions (stable, other stages rely on them):

* Formats taken: JPEG (and MPO, the multi-picture JPEG some phones write), PNG, WebP, HEIC/HEIF
  (pillow-heif) and AVIF. The format is sniffed from the bytes, never from the file name: a PNG named
  ``.jpg`` loads. Other image formats (GIF, BMP, TIFF, ...) give ``PHOTO_UNSUPPORTED``.
* Pixel limit: ``width * height`` of the full-size photo is read from the header and checked against
  ``LoadConfig.max_pixels`` BEFORE any pixel is decoded (``PHOTO_TOO_MANY_PIXELS``). Pillow's own
  ``Image.MAX_IMAGE_PIXELS`` guard is left as it is (never changed here); its error is mapped to the same code
  and its warning is silenced only around our own open call.
* Truncated photos are REJECTED (``PHOTO_TRUNCATED``), never decoded partially: a half-grey photo would be
  judged as if it showed a clean place. ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is never set here. If some
  other code in the process has set it to True, Pillow decodes truncated JPEGs without complaint; this module
  then still rejects JPEGs whose entropy-coded data does not reach an end-of-image marker
  (see :func:`_jpeg_looks_truncated`).
* Corruption that the decoder reports gives ``PHOTO_CORRUPT``. Corrupt bytes inside JPEG entropy-coded data
  that libjpeg decodes as visual garbage (it only warns) cannot be told from a real photo and load.
* One decode per photo. JPEGs use libjpeg's DCT scaling (``Image.draft``): the photo is decoded at the
  smallest of 1/1, 1/2, 1/4, 1/8 scale whose longest side is still at least ``load.draft_min_fraction``
  (0.9) of the analysis size, so a 12-megapixel phone photo is never decoded at full size; when that decode
  is already no larger than ``load.analysis_max_side`` it is used as it is (a 4032x3024 photo gives 1008x756). HEIF uses an embedded thumbnail when one is at least the analysis size.
* ONE resize implementation: Pillow ``Image.resize`` with ``Resampling.BOX`` (area averaging, the same
  thing as OpenCV's INTER_AREA; ``reducing_gap=None``), applied to the RGB image in the stored orientation;
  then the EXIF orientation is applied with lossless transposes. Same bytes, same Pillow build -> same pixels
  (the dedup stage hashes this image). BOX, not LANCZOS: area averaging is an anti-aliased downscale at any
  factor (after libjpeg's DCT downscale the remaining JPEG factor is below 2), and LANCZOS cost 4-5x more
  (60 ms against 12 ms for 1632x1224 -> 1024x768 here), more than the reduced decode itself.
* Colour: grey, palette, CMYK (including Adobe's inverted CMYK JPEGs, which Pillow un-inverts), 16-bit grey
  (top 8 bits kept) and anything with alpha (composited over white) end up as RGB uint8.
* EXIF is metadata only: unreadable or nonsensical EXIF gives ``None`` fields, never an error.

Thread-safety: the Pillow warning filter is changed inside ``warnings.catch_warnings()``, which is not
thread-safe in Python 3.11; run loaders in processes (as the runner does), not threads.
"""
from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import stat
import warnings
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from pipeline.config import LoadConfig, section_digest
from pipeline.digests import digest
from pipeline.types import LoadedPhoto, PhotoMeta, Problem

STAGE_VERSION = "1"  # bump when the analysis image or PhotoMeta of the same bytes and config changes
ERROR_STAGE_VERSION = "1"  # version of the stored "load_error" results (a Problem per photo that failed)


def cache_key(cfg: LoadConfig) -> str:
    """Key of everything derived from a photo's analysis image: this stage's version and [load] settings."""
    return digest(STAGE_VERSION, section_digest(cfg))

# Pillow format names we decode. MPO is a JPEG with extra embedded images (phones write it).
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF")
_OPEN_FORMATS = ["JPEG", "PNG", "WEBP", "HEIF", "AVIF"]  # Pillow's JPEG opener returns MPO files too
RESIZE_FILTER = Image.Resampling.BOX  # the one resize implementation (area averaging); see above
THUMB_QUALITY = 85  # JPEG quality of workspace thumbnails

# Error codes (stable: README table, workspace records, exports).
PHOTO_UNREADABLE = "PHOTO_UNREADABLE"
PATH_OUTSIDE_BATCH = "PATH_OUTSIDE_BATCH"  # the same code as pipeline.ingest uses
PHOTO_EMPTY = "PHOTO_EMPTY"
PHOTO_TOO_LARGE = "PHOTO_TOO_LARGE"
PHOTO_TOO_MANY_PIXELS = "PHOTO_TOO_MANY_PIXELS"
PHOTO_NOT_IMAGE = "PHOTO_NOT_IMAGE"
PHOTO_UNSUPPORTED = "PHOTO_UNSUPPORTED"
PHOTO_TRUNCATED = "PHOTO_TRUNCATED"
PHOTO_CORRUPT = "PHOTO_CORRUPT"

ERROR_CODES: dict[str, str] = {
    PHOTO_UNREADABLE: "The file could not be opened: missing, no read permission, a folder, or not a regular file.",
    PATH_OUTSIDE_BATCH: "The path (through a symbolic link) leads outside the batch folder; it was not read.",
    PHOTO_EMPTY: "The file is empty (0 bytes).",
    PHOTO_TOO_LARGE: "The file is larger than load.max_file_bytes; it was refused without being read.",
    PHOTO_TOO_MANY_PIXELS: "Width x height in the file's header exceeds load.max_pixels (decompression bomb); "
                           "refused before decoding.",
    PHOTO_NOT_IMAGE: "The content is not an image (e.g. text, a web page or a video named .jpg).",
    PHOTO_UNSUPPORTED: "An image format the pipeline does not take (only JPEG, PNG, WebP, HEIC/HEIF, AVIF).",
    PHOTO_TRUNCATED: "The file ends before the image data does (incomplete upload or copy); rejected, not "
                     "decoded partially.",
    PHOTO_CORRUPT: "The decoder found damaged image data, or failed in an unexpected way.",
}

_ORIENTATION_TRANSPOSE = {  # EXIF orientation -> transpose that makes the stored pixels upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_TAG_ORIENTATION, _TAG_MAKE, _TAG_MODEL, _TAG_DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_DATE_RE = re.compile(r"^\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})[ T](\d{1,2}):(\d{1,2}):(\d{1,2})")


class PhotoError(Exception):
    """A photo that cannot be used. ``problem.code`` is one of :data:`ERROR_CODES`; ``problem.message`` is
    plain English for a judge or operator and says what to do."""

    def __init__(self, problem: Problem):
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem

    @property
    def code(self) -> str:
        return self.problem.code


def _fail(code: str, rel_path: str | None, **params: Any) -> PhotoError:
    """The error of a photo that cannot be used: its code and the facts its words are made of
    (:mod:`pipeline.problemtext`)."""
    return PhotoError(Problem(code, params, rel_path))


def _mib(n: int) -> str:
    return f"{n:,} bytes ({n / (1024 * 1024):.1f} MiB)"


# ----------------------------------------------------------------------------------------------- read
def read_photo(path: Path, cfg: LoadConfig, *, batch_root: Path | None = None,
               rel_path: str | None = None) -> bytes:
    """The bytes of the photo at ``path``, or :class:`PhotoError`.

    Checks, in order, without reading pixel data: the path resolves inside ``batch_root`` when one is given
    (symbolic links are followed: ``PATH_OUTSIDE_BATCH``); it is a regular readable file (folders, FIFOs and
    devices are never opened: ``PHOTO_UNREADABLE``); its size is 1 to ``cfg.max_file_bytes`` bytes
    (``PHOTO_EMPTY``/``PHOTO_TOO_LARGE``, decided from ``stat`` so an enormous file is not read at all).
    ``rel_path`` goes into ``Problem.path``.
    """
    path = Path(path)
    name = rel_path or str(path)
    if batch_root is not None:
        try:
            real = path.resolve(strict=False)
            root = Path(batch_root).resolve(strict=False)
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop on older Pythons
            raise _fail(PHOTO_UNREADABLE, rel_path, case="no_path", name=name, error=str(e)) from None
        if real != root and root not in real.parents:
            raise _fail(PATH_OUTSIDE_BATCH, rel_path, case="link", name=name)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _fail(PHOTO_UNREADABLE, rel_path, case="missing", name=name) from None
    except OSError as e:
        raise _fail(PHOTO_UNREADABLE, rel_path, case="open", name=name, error=str(e.strerror or e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(PHOTO_UNREADABLE, rel_path, case="folder", name=name)
    if not stat.S_ISREG(st.st_mode):
        raise _fail(PHOTO_UNREADABLE, rel_path, case="special", name=name)
    if st.st_size == 0:
        raise _fail(PHOTO_EMPTY, rel_path, name=name)
    if st.st_size > cfg.max_file_bytes:
        raise _fail(PHOTO_TOO_LARGE, rel_path, case="file", name=name, size=st.st_size, limit=cfg.max_file_bytes)
    try:
        with open(path, "rb") as f:
            data = f.read(cfg.max_file_bytes + 1)  # the file may have grown since stat
    except OSError as e:
        raise _fail(PHOTO_UNREADABLE, rel_path, case="read", name=name, error=str(e.strerror or e)) from None
    if not data:
        raise _fail(PHOTO_EMPTY, rel_path, name=name)
    if len(data) > cfg.max_file_bytes:
        raise _fail(PHOTO_TOO_LARGE, rel_path, case="read", name=name, limit=cfg.max_file_bytes)
    return data


# ----------------------------------------------------------------------------------------------- load
@functools.cache
def _register_heif() -> None:
    """Register pillow-heif's HEIF opener with Pillow, once per process."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def load_photo(data: bytes, cfg: LoadConfig, sha256: str | None = None, *,
               rel_path: str | None = None) -> LoadedPhoto:
    """Decode ``data`` once into the analysis image and read its metadata, or raise :class:`PhotoError`.

    Returns a :class:`LoadedPhoto` whose ``image`` is HxWx3 uint8 RGB, EXIF orientation applied, longest
    side ``min(cfg.analysis_max_side, full-size longest side)`` pixels (a JPEG whose 1/2, 1/4 or 1/8 scale
    decode is within ``cfg.draft_min_fraction`` of that keeps the decoded size, see
    :func:`jpeg_draft_factor`), and ``scale`` = analysis pixels per full-size pixel (in (0, 1]). ``meta`` holds ``sha256`` (computed when not given), size, Pillow's format
    name, oriented full-size width/height, EXIF capture time, GPS and camera (``None`` when absent or
    invalid). ``rel_path`` goes into ``Problem.path`` of a failure.
    """
    if not data:
        raise _fail(PHOTO_EMPTY, rel_path, name=rel_path)
    name = rel_path or "the photo"
    if len(data) > cfg.max_file_bytes:
        raise _fail(PHOTO_TOO_LARGE, rel_path, name=rel_path, size=len(data), limit=cfg.max_file_bytes)
    if sha256 is None:
        sha256 = hashlib.sha256(data).hexdigest()
    _register_heif()
    try:
        img = _open(data, name, rel_path)
        try:
            return _decode(img, data, cfg, sha256, name, rel_path)
        finally:
            img.close()
    except PhotoError:
        raise
    except Image.DecompressionBombError as e:
        raise _fail(PHOTO_TOO_MANY_PIXELS, rel_path, name=rel_path, error=str(e)) from None
    except MemoryError:
        raise _fail(PHOTO_CORRUPT, rel_path, case="memory", name=rel_path) from None
    except Exception as e:  # noqa: BLE001 - any decoder failure becomes a recorded problem, never a crash
        raise _classify_decode_error(e, name, rel_path, data) from None


def photo_format(data: bytes, name: str) -> str | None:
    """Pillow's format name of the photo ``data`` (JPEG, MPO, PNG, WEBP, HEIF, AVIF) from its header alone (no
    pixel decoded), for a check at an upload; None for an image whose header declares more pixels than Pillow
    opens (the run records PHOTO_TOO_MANY_PIXELS). Raises :class:`PhotoError` (PHOTO_EMPTY, PHOTO_NOT_IMAGE,
    PHOTO_UNSUPPORTED, PHOTO_CORRUPT: a damaged header) naming ``name``. Truncated and damaged pixel data are
    found by the run, as for a batch."""
    if not data:
        raise _fail(PHOTO_EMPTY, None, name=name)
    _register_heif()
    try:
        img = _open(data, name, None)
    except Image.DecompressionBombError:
        return None
    try:
        return img.format
    finally:
        img.close()


def _open(data: bytes, name: str, rel_path: str | None) -> Image.Image:
    """Open (header only) with the supported decoders; unknown content -> NOT_IMAGE or UNSUPPORTED. Errors
    name ``rel_path`` (a batch photo) or else ``name`` (an upload)."""
    shown = rel_path if rel_path is not None else name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
        except UnidentifiedImageError:
            pass
        other = _identify_any(data)
    if other is not None:
        raise _fail(PHOTO_UNSUPPORTED, rel_path, case="format", name=shown, format=other)
    if _container_truncated(data):
        raise _classify_decode_error(EOFError("the file is shorter than its header says"), name, rel_path)
    if _looks_like_heif_container(data):
        raise _fail(PHOTO_CORRUPT, rel_path, case="heif", name=shown)
    if data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or data[:4] == b"RIFF":
        raise _fail(PHOTO_CORRUPT, rel_path, case="header", name=shown)
    raise _fail(PHOTO_NOT_IMAGE, rel_path, name=shown, content=_describe_content(data))


def _identify_any(data: bytes) -> str | None:
    """Pillow's name for the image format of ``data`` with all Pillow decoders, or None."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            return other.format or "unknown"
    except Exception:  # noqa: BLE001 - any failure means: not an image Pillow knows
        return None


def _looks_like_heif_container(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1",
                                                   b"heim", b"heis", b"avif", b"avis")


def _describe_content(data: bytes) -> str:
    """A short human description of non-image content, for messages."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "it is a web page (HTML), probably saved from a browser instead of the photo"
    if head.startswith(b"%pdf"):
        return "it is a PDF document"
    if data[4:8] == b"ftyp":
        return "it is a video or other media file"
    if head.startswith(b"pk\x03\x04"):
        return "it is a ZIP archive"
    sample = data[:4096]
    if sample and sum(32 <= b < 127 or b in (9, 10, 13) for b in sample) / len(sample) > 0.95:
        return "it contains text"
    return "unrecognised content"


def _container_truncated(data: bytes) -> bool:
    """True when a WebP (RIFF) or HEIF/AVIF (ISO base media boxes) file is shorter than its own header says.

    Their decoders report a cut-off file only as "cannot identify" or "could not create decoder"."""
    n = len(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return int.from_bytes(data[4:8], "little") + 8 > n
    if data[4:8] != b"ftyp":
        return False
    pos = 0
    while pos + 8 <= n:
        size = int.from_bytes(data[pos:pos + 4], "big")
        if size == 1:  # 64-bit size follows the type
            if pos + 16 > n:
                return True
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:  # box runs to the end of the file
            return False
        if size < 8:
            return False  # malformed, not a truncation
        pos += size
    return pos > n


def _classify_decode_error(e: Exception, name: str, rel_path: str | None,
                           data: bytes = b"") -> PhotoError:
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    if isinstance(e, EOFError) or "truncated" in low or "premature end" in low or "not enough data" in low \
            or _container_truncated(data):
        return _fail(PHOTO_TRUNCATED, rel_path, name=rel_path, error=text)
    if "no decoding plugin" in low or "unsupported" in low and "codec" in low:
        return _fail(PHOTO_UNSUPPORTED, rel_path, case="codec", name=rel_path, error=text)
    return _fail(PHOTO_CORRUPT, rel_path, case="decode", name=rel_path, error=text)


def _decode(img: Image.Image, data: bytes, cfg: LoadConfig, sha256: str, name: str,
            rel_path: str | None) -> LoadedPhoto:
    fmt = img.format
    if fmt not in SUPPORTED_FORMATS:  # cannot happen with formats=..., kept as a guard
        raise _fail(PHOTO_UNSUPPORTED, rel_path, case="decoded_format", name=rel_path, format=fmt)
    w, h = img.size  # stored (not yet oriented) full size, from the header
    if w <= 0 or h <= 0:
        raise _fail(PHOTO_CORRUPT, rel_path, case="empty_image", name=rel_path, width=w, height=h)
    if w * h > cfg.max_pixels:
        raise _fail(PHOTO_TOO_MANY_PIXELS, rel_path, case="declared", name=rel_path, width=w, height=h,
                    limit=cfg.max_pixels)

    # Target size of the analysis image, in stored orientation.
    long_side = max(w, h)
    s = min(1.0, cfg.analysis_max_side / long_side)
    tw, th = max(1, round(w * s)), max(1, round(h * s))
    if fmt in ("JPEG", "MPO"):
        k = jpeg_draft_factor(w, h, cfg)
        if k > 1:
            img.draft("RGB", (w // k, h // k))  # libjpeg decodes at 1/k scale: ceil(w/k) x ceil(h/k)
            if max(img.size) <= cfg.analysis_max_side:
                tw, th = img.size  # close enough to the analysis size: used as decoded, no resize
    elif (tw, th) != (w, h):
        img.draft("RGB", (tw, th))  # HEIF: an embedded thumbnail at least this large, if any; others: no-op
    img.load()
    if fmt in ("JPEG", "MPO") and ImageFile.LOAD_TRUNCATED_IMAGES and _jpeg_looks_truncated(data):
        raise _fail(PHOTO_TRUNCATED, rel_path, case="jpeg_end", name=rel_path)

    meta_exif = _read_exif(img)
    orientation = meta_exif.pop("applied_orientation")
    rgb = _to_rgb(img)
    if rgb.size != (tw, th):
        rgb = rgb.resize((tw, th), RESIZE_FILTER, reducing_gap=None)
    if orientation in _ORIENTATION_TRANSPOSE:
        rgb = rgb.transpose(_ORIENTATION_TRANSPOSE[orientation])
    ow, oh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    image = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    if image.ndim != 3 or image.shape[2] != 3:  # defensive: never hand a wrong shape to the stages
        raise _fail(PHOTO_CORRUPT, rel_path, case="shape", name=rel_path, shape=[int(v) for v in image.shape])
    meta = PhotoMeta(sha256=sha256, size_bytes=len(data), format=fmt, width=ow, height=oh, **meta_exif)
    return LoadedPhoto(meta=meta, image=image, scale=max(tw, th) / long_side)


def jpeg_draft_factor(width: int, height: int, cfg: LoadConfig) -> int:
    """The libjpeg DCT-scaling factor (1, 2, 4 or 8) used to decode a JPEG of width x height pixels.

    The largest factor whose decoded longest side is at least ``cfg.draft_min_fraction`` of the analysis
    size ``min(cfg.analysis_max_side, longest side)``. Example with the defaults (1024, 0.9): a 4032x3024 or
    4000x3000 phone photo decodes at 1/4 (1008x756, 1000x750, used without resizing); 3264x2448 at 1/2
    (1632x1224, then resized to 1024x768)."""
    long_side = max(width, height)
    target = min(cfg.analysis_max_side, long_side)
    for k in (8, 4, 2):
        decoded_long = -(-long_side // k)  # ceil: libjpeg rounds up
        if min(width, height) // k >= 1 and decoded_long >= cfg.draft_min_fraction * target:
            return k
    return 1


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: 16-bit keeps the top 8 bits, alpha is composited over white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img).astype(np.int64)
        a = np.clip(a, 0, 65535) >> 8  # 16-bit range -> 8-bit
        return Image.fromarray(a.astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        a = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0)
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted already undone by Pillow), YCbCr, LAB, ...


def _jpeg_looks_truncated(data: bytes) -> bool:
    """True when no end-of-image marker follows a JPEG's last start-of-scan marker.

    Entropy-coded data cannot contain ``FF D9`` (0xFF bytes are stuffed), so a complete JPEG has one after
    its last scan; data appended after the end marker (some phones do) does not matter."""
    return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")


# ----------------------------------------------------------------------------------------------- EXIF
def _read_exif(img: Image.Image) -> dict:
    """EXIF fields for PhotoMeta plus ``applied_orientation`` (the transpose still to apply, 1-8).

    For HEIF, libheif has already rotated the pixels and pillow-heif resets the EXIF tag to 1; the original
    value is reported in ``exif_orientation``.
    """
    out: dict = {"taken_at": None, "gps_lat": None, "gps_lon": None, "camera_make": None,
                 "camera_model": None, "exif_orientation": None, "applied_orientation": 1}
    try:
        exif = img.getexif()
    except Exception:  # noqa: BLE001 - garbage EXIF is metadata loss, not an error
        return out
    orient = _int_or_none(_safe_get(exif, _TAG_ORIENTATION))
    if orient is not None and 1 <= orient <= 8:
        out["applied_orientation"] = orient
        out["exif_orientation"] = orient
    original = _int_or_none(img.info.get("original_orientation"))  # pillow-heif
    if original is not None and 1 <= original <= 8:
        out["exif_orientation"] = original
    exif_ifd = _safe_ifd(exif, _EXIF_IFD)
    out["taken_at"] = parse_exif_datetime(exif_ifd.get(_TAG_DATETIME_ORIGINAL)) or \
        parse_exif_datetime(_safe_get(exif, _TAG_DATETIME))
    out["camera_make"] = _clean_str(_safe_get(exif, _TAG_MAKE))
    out["camera_model"] = _clean_str(_safe_get(exif, _TAG_MODEL))
    lat_lon = parse_gps(_safe_ifd(exif, _GPS_IFD))
    if lat_lon is not None:
        out["gps_lat"], out["gps_lon"] = lat_lon
    return out


def _safe_get(exif, tag: int):
    try:
        return exif.get(tag)
    except Exception:  # noqa: BLE001
        return None


def _safe_ifd(exif, tag: int) -> dict:
    try:
        ifd = exif.get_ifd(tag)
        return ifd if isinstance(ifd, dict) else {}
    except Exception:  # noqa: BLE001
        return {}


def _int_or_none(v) -> int | None:
    try:
        if isinstance(v, (tuple, list)) and len(v) == 1:
            v = v[0]
        return int(v) if v is not None and not isinstance(v, (bytes, str)) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _clean_str(v, max_len: int = 100) -> str | None:
    """An EXIF ASCII value as a stripped str (NULs and control characters removed), or None."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", errors="replace")
    if not isinstance(v, str):
        return None
    v = "".join(c for c in v if c.isprintable()).strip()
    return v[:max_len] or None


def parse_exif_datetime(value) -> str | None:
    """EXIF ``"YYYY:MM:DD HH:MM:SS"`` (also ``-``/``/`` separators, trailing NULs or sub-seconds) as ISO 8601
    ``YYYY-MM-DDTHH:MM:SS``; None for missing, zeroed or impossible dates (years outside 1900-2100)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    m = _DATE_RE.match(value)
    if not m:
        return None
    try:
        dt = datetime(*(int(g) for g in m.groups()))
    except (ValueError, OverflowError):
        return None
    if not 1900 <= dt.year <= 2100:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _rational(v) -> float | None:
    try:
        if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v):
            v = v[0] / v[1]  # raw (numerator, denominator)
        f = float(v)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _dms(v) -> float | None:
    """Degrees from an EXIF GPS (degrees, minutes, seconds) triple (or a single degrees value)."""
    if isinstance(v, (tuple, list)):
        parts = [_rational(x) for x in v]
        if not 1 <= len(parts) <= 3 or any(p is None or p < 0 for p in parts):
            return None
        parts += [0.0] * (3 - len(parts))
        d, m, s = parts
        if m >= 60 or s >= 60:
            return None
        return d + m / 60 + s / 3600
    f = _rational(v)
    return f if f is not None and f >= 0 else None


def _ref(v) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("ascii", errors="replace")
    return v.strip("\x00 ").upper()[:1] if isinstance(v, str) else None


def parse_gps(gps: dict) -> tuple[float, float] | None:
    """(lat, lon) in decimal degrees from an EXIF GPS IFD (tags 1-4), or None when absent or malformed
    (bad reference letter, zero denominators, out of range, or exactly 0,0 which phones write without a fix).
    South and West are negative."""
    if not gps:
        return None
    lat, lon = _dms(gps.get(2)), _dms(gps.get(4))
    lat_ref, lon_ref = _ref(gps.get(1)), _ref(gps.get(3))
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    if lat > 90 or lon > 180 or (lat == 0 and lon == 0):
        return None
    return (-lat if lat_ref == "S" else lat, -lon if lon_ref == "W" else lon)


# ------------------------------------------------------------------------------------------ thumbnail
def make_thumbnail(image: np.ndarray, max_side: int) -> bytes:
    """JPEG bytes (quality 85) of ``image`` (HxWx3 uint8 RGB) with its longest side at most ``max_side``
    pixels (never enlarged), resized with the same filter (BOX) as the analysis image."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"make_thumbnail wants an HxWx3 uint8 array, got {arr.dtype} {arr.shape}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    im = Image.fromarray(arr, "RGB")
    h, w = arr.shape[:2]
    s = max_side / max(w, h)
    if s < 1:
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), RESIZE_FILTER, reducing_gap=None)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=THUMB_QUALITY)
    return buf.getvalue()


def with_path(problem: Problem, rel_path: str) -> Problem:
    """``problem`` with ``path`` set to ``rel_path`` (for a PhotoError raised without one)."""
    return replace(problem, path=rel_path)


__all__ = ["STAGE_VERSION", "ERROR_STAGE_VERSION", "cache_key", "PhotoError", "jpeg_draft_factor", "read_photo", "load_photo", "make_thumbnail", "parse_exif_datetime", "parse_gps",
           "ERROR_CODES", "SUPPORTED_FORMATS", "RESIZE_FILTER", "with_path"]
