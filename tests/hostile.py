"""A batch folder of hostile photo files, for the loading tests and the end-to-end hostile-batch test.

``make_hostile_batch(dest)`` writes, in the layout of design.md (``BATCH/<entry_id>/before/*``,
``after/*``, ``entry.json``), five entries that mix good photos with broken or unusual ones, and returns
``{rel_path: expected Problem code, or None when the photo must load}`` for every photo path it wrote.

Everything is generated (deterministic, seeded), small on disk (the "enormous" file is sparse) and quick
(about 1 s). Notes:

* ``h05_files/before/outside_link.jpg`` is a symbolic link to ``<dest>_outside/secret.jpg`` (a valid JPEG
  written NEXT TO ``dest``). Expected ``PATH_OUTSIDE_BATCH``, from ingest (which
  refuses it first) or from ``read_photo(..., batch_root=dest)``.
* ``h05_files/before/no_permission.jpg`` is mode 000; root can read anything, so when the tests run as root
  it is expected to load (``None``), else ``PHOTO_UNREADABLE``.
* ``h05_files/before/folder.jpg`` is a directory: an ingest that lists ``*.jpg`` sees it as a photo.
* ``h03_broken/before/corrupt_silent.jpg`` has 2000 zero bytes in the middle of its entropy-coded data:
  libjpeg decodes it (grey smear) with only a warning, so it loads. This is a documented limit, not a goal.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

from pipeline.config import LoadConfig

# Colours of the orientation marker, as displayed (upright): quadrants of a landscape 96x64 photo.
MARKER_SIZE = (96, 64)  # (width, height) as displayed
MARKER_COLOURS = {"top_left": (230, 30, 30), "top_right": (30, 200, 30), "bottom_left": (30, 30, 230),
                  "bottom_right": (250, 250, 250)}

GOOD_EXIF = {  # what exif_full.jpg carries, as load_photo must report it
    "taken_at": "2024-06-02T07:31:05",
    "gps_lat": -(16 + 27 / 60 + 48.5 / 3600),  # written as South
    "gps_lon": 107 + 35 / 60 + 24 / 3600,
    "camera_make": "Apple",
    "camera_model": "iPhone 13",
}

ORIENTATIONS = range(1, 9)


# ------------------------------------------------------------------------------------- image content
def marker_image() -> np.ndarray:
    """The upright marker: 64x96x3 uint8, four coloured quadrants (see MARKER_COLOURS)."""
    w, h = MARKER_SIZE
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = MARKER_COLOURS["top_left"]
    a[: h // 2, w // 2:] = MARKER_COLOURS["top_right"]
    a[h // 2:, : w // 2] = MARKER_COLOURS["bottom_left"]
    a[h // 2:, w // 2:] = MARKER_COLOURS["bottom_right"]
    return a


def stored_for_orientation(displayed: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores for EXIF ``orientation`` so that a viewer shows ``displayed``.

    Written from the EXIF 2.3 definition (where the 0th row and 0th column of the stored image lie in the
    displayed scene), independently of Pillow's transpose table:
    1 top/left, 2 top/right, 3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top, 7 right/bottom,
    8 left/bottom.
    """
    d = displayed
    return {
        1: d,
        2: d[:, ::-1],
        3: d[::-1, ::-1],
        4: d[::-1, :],
        5: d.transpose(1, 0, 2),               # S[i, j] = D[j, i]: row 0 = left column, col 0 = top row
        6: d[:, ::-1].transpose(1, 0, 2),      # S[i, j] = D[j, W-1-i]: row 0 = right column, col 0 = top row
        7: d[::-1, ::-1].transpose(1, 0, 2),   # S[i, j] = D[H-1-j, W-1-i]: row 0 = right, col 0 = bottom
        8: d[::-1, :].transpose(1, 0, 2),      # S[i, j] = D[H-1-j, i]: row 0 = left column, col 0 = bottom
    }[orientation].copy()


def scene(w: int, h: int, seed: int) -> np.ndarray:
    """A textured, deterministic RGB scene of w x h pixels (gradients plus noise plus blocks)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / max(w - 1, 1) * 200, y / max(h - 1, 1) * 200, (x + y) / max(w + h - 2, 1) * 120], -1)
    img = base + rng.normal(0, 12, (h, w, 3))
    for _ in range(6):
        x0, y0 = int(rng.integers(0, max(w - 1, 1))), int(rng.integers(0, max(h - 1, 1)))
        img[y0:y0 + max(1, h // 6), x0:x0 + max(1, w // 6)] = rng.integers(0, 256, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(arr_or_img, fmt: str, **kw) -> bytes:
    im = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_with_exif(arr: np.ndarray, exif: Image.Exif, quality: int = 92) -> bytes:
    return encode(arr, "JPEG", quality=quality, exif=exif.tobytes())


def good_exif() -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "Apple  \x00"
    ex[0x0110] = " iPhone 13\x00"
    ex[0x0132] = "2024:06:02 09:00:00"  # DateTime: must lose to DateTimeOriginal
    ex[0x8769] = {0x9003: "2024:06:02 07:31:05"}
    R = TiffImagePlugin.IFDRational
    ex[0x8825] = {1: "S", 2: (R(16, 1), R(27, 1), R(485, 10)), 3: "E", 4: (R(107, 1), R(35, 1), R(24, 1))}
    return ex


def garbage_exif() -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "\x00\x00  "
    ex[0x0132] = "0000:00:00 00:00:00"
    ex[0x8769] = {0x9003: "2024:13:45 99:99:99"}
    R = TiffImagePlugin.IFDRational
    ex[0x8825] = {1: "X", 2: (R(16, 0), R(1, 1), R(2, 1)), 3: "E", 4: (R(107, 1), R(35, 1), R(24, 1))}
    ex[0x0112] = 42  # impossible orientation: treated as upright
    return ex


def jpeg_with_junk_exif(arr: np.ndarray, seed: int) -> bytes:
    """A JPEG whose APP1 'Exif' segment is random bytes."""
    data = encode(arr, "JPEG", quality=90)
    junk = b"Exif\x00\x00" + np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    return data[:2] + app1 + data[2:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int, bit_depth: int, colour_type: int, full: bool) -> bytes:
    """A PNG declaring width x height pixels of zeros. ``full``: the whole zlib stream is there (a real
    bomb, small because zeros compress ~1000:1); else only the first rows (declared-only)."""
    bpp_bits = bit_depth * {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = 1 + (width * bpp_bits + 7) // 8
    z = zlib.compressobj(9)
    rows = height if full else 4
    idat = b"".join(z.compress(bytes(row)) for _ in range(rows)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a baseline JPEG) with its SOF0 header rewritten to declare width x height."""
    i = data.find(b"\xff\xc0")
    if i < 0:
        raise ValueError("no SOF0 marker")
    return data[:i + 5] + struct.pack(">HH", height, width) + data[i + 9:]


def corrupt_mid_scan(data: bytes, pattern: bytes) -> bytes:
    """``data`` with ``pattern`` written over the middle of its (last) entropy-coded scan."""
    sos = data.rfind(b"\xff\xda")
    mid = (sos + len(data)) // 2
    return data[:mid] + pattern + data[mid + len(pattern):]


# ------------------------------------------------------------------------------------------- batch
def _write(dest: Path, rel: str, data: bytes) -> str:
    p = dest / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return rel


def _entry_json(dest: Path, entry_id: str, n: int) -> None:
    (dest / entry_id).mkdir(parents=True, exist_ok=True)
    (dest / entry_id / "entry.json").write_text(json.dumps({
        "participant": f"Hostile tester {n}", "team": None, "kind": "individual", "event_date": "2024-06-02",
        "location": {"lat": 16.4637, "lon": 107.5909, "address": "Hue"},
        "reported": {"participants": 2, "kg": 3.5},
    }, indent=2))


def make_hostile_batch(dest: Path) -> dict[str, str | None]:
    """Write the hostile batch into ``dest`` (created) and return {rel_path: expected code or None}."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    exp: dict[str, str | None] = {}

    def put(rel: str, data: bytes, code: str | None) -> None:
        exp[_write(dest, rel, data)] = code

    def good(rel: str, seed: int) -> None:
        put(rel, encode(scene(160, 120, seed), "JPEG", quality=90), None)

    # h01: formats and colour modes -----------------------------------------------------------------
    e = "h01_formats"
    _entry_json(dest, e, 1)
    good(f"{e}/before/good.jpg", 1)
    put(f"{e}/before/png_named.jpg", encode(scene(120, 90, 2), "PNG"), None)  # sniffed, not by extension
    put(f"{e}/before/grey.jpg", encode(Image.fromarray(scene(120, 90, 3)).convert("L"), "JPEG"), None)
    put(f"{e}/before/cmyk.jpg", encode(Image.new("CMYK", (64, 48), (255, 0, 0, 0)), "JPEG", quality=95), None)
    good(f"{e}/after/good.jpg", 4)
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[:, :32] = (200, 0, 0, 255)  # left half opaque red, right half fully transparent
    put(f"{e}/after/rgba.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"), None)
    grey16 = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    put(f"{e}/after/grey16.png", encode(Image.fromarray(grey16), "PNG"), None)
    pal = Image.fromarray(scene(64, 48, 5)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    put(f"{e}/after/palette.png", encode(pal, "PNG", transparency=0), None)
    put(f"{e}/after/photo.webp", encode(scene(120, 90, 6), "WEBP", quality=80), None)
    from pillow_heif import register_heif_opener

    register_heif_opener()
    ex6 = Image.Exif()
    ex6[0x0112] = 6
    heic_marker = stored_for_orientation(marker_image(), 6)
    put(f"{e}/after/photo.heic", encode(heic_marker, "HEIF", quality=90, exif=ex6.tobytes()), None)

    # h02: all eight EXIF orientations of the marker -------------------------------------------------
    e = "h02_orientation"
    _entry_json(dest, e, 2)
    for o in ORIENTATIONS:
        ex = Image.Exif()
        ex[0x0112] = o
        role = "before" if o <= 4 else "after"
        put(f"{e}/{role}/orient_{o}.jpg", jpeg_with_exif(stored_for_orientation(marker_image(), o), ex, 95),
            None)

    # h03: broken content ------------------------------------------------------------------------------
    e = "h03_broken"
    _entry_json(dest, e, 3)
    good(f"{e}/before/good.jpg", 7)
    base = encode(scene(320, 240, 8), "JPEG", quality=90)
    put(f"{e}/before/truncated.jpg", base[: len(base) * 6 // 10], "PHOTO_TRUNCATED")
    put(f"{e}/before/corrupt_mid.jpg", corrupt_mid_scan(base, b"\xff\x05" * 8), "PHOTO_CORRUPT")
    put(f"{e}/before/corrupt_silent.jpg", corrupt_mid_scan(base, bytes(2000)), None)
    put(f"{e}/before/empty.jpg", b"", "PHOTO_EMPTY")
    put(f"{e}/before/header_damaged.jpg", base[:2] + b"\xff\xe0" + bytes(400) + base[404:], "PHOTO_CORRUPT")
    good(f"{e}/after/good.jpg", 9)
    put(f"{e}/after/text.jpg", b"This is not a photo, sorry.\n" * 40, "PHOTO_NOT_IMAGE")
    put(f"{e}/after/page.jpg", b"<!DOCTYPE html>\n<html><head><title>Photo</title></head>"
        b"<body><img src='https://example.invalid/x.jpg'></body></html>\n", "PHOTO_NOT_IMAGE")
    png = encode(scene(200, 150, 10), "PNG")
    put(f"{e}/after/truncated.png", png[: len(png) * 6 // 10], "PHOTO_TRUNCATED")
    webp = encode(scene(200, 150, 11), "WEBP", quality=80)
    put(f"{e}/after/truncated.webp", webp[: len(webp) * 6 // 10], "PHOTO_TRUNCATED")
    put(f"{e}/after/animation.jpg", encode(Image.fromarray(scene(40, 30, 12)), "GIF"), "PHOTO_UNSUPPORTED")
    put(f"{e}/after/bitmap.jpg", encode(Image.fromarray(scene(40, 30, 13)), "BMP"), "PHOTO_UNSUPPORTED")

    # h04: size limits -----------------------------------------------------------------------------------
    e = "h04_limits"
    _entry_json(dest, e, 4)
    good(f"{e}/before/good.jpg", 14)
    put(f"{e}/before/bomb_declared.png", png_bomb(20000, 20000, 8, 2, full=False), "PHOTO_TOO_MANY_PIXELS")
    put(f"{e}/before/bomb_real.png", png_bomb(10240, 10240, 1, 0, full=True), "PHOTO_TOO_MANY_PIXELS")
    put(f"{e}/before/bomb_header.jpg", jpeg_with_size(encode(scene(64, 48, 15), "JPEG"), 60000, 60000),
        "PHOTO_TOO_MANY_PIXELS")
    big = dest / e / "before" / "enormous.jpg"
    with open(big, "wb") as f:  # sparse: takes no disk space
        f.write(encode(scene(32, 24, 16), "JPEG"))
        f.truncate(LoadConfig().max_file_bytes + 1)
    exp[f"{e}/before/enormous.jpg"] = "PHOTO_TOO_LARGE"
    good(f"{e}/after/good.jpg", 17)
    put(f"{e}/after/tiny_1x1.jpg", encode(np.full((1, 1, 3), 128, np.uint8), "JPEG"), None)
    put(f"{e}/after/panorama.jpg", encode(scene(12000, 200, 18), "JPEG", quality=85), None)

    # h05: file-system oddities and EXIF -----------------------------------------------------------------
    e = "h05_files"
    _entry_json(dest, e, 5)
    good(f"{e}/before/good.jpg", 19)
    (dest / e / "before" / "folder.jpg").mkdir(parents=True)
    exp[f"{e}/before/folder.jpg"] = "PHOTO_UNREADABLE"
    outside = dest.parent / f"{dest.name}_outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.jpg").write_bytes(encode(scene(64, 48, 20), "JPEG"))
    os.symlink(outside / "secret.jpg", dest / e / "before" / "outside_link.jpg")
    exp[f"{e}/before/outside_link.jpg"] = "PATH_OUTSIDE_BATCH"
    os.symlink(dest / e / "before" / "gone.jpg", dest / e / "before" / "dangling_link.jpg")
    exp[f"{e}/before/dangling_link.jpg"] = "PHOTO_UNREADABLE"
    rel = _write(dest, f"{e}/before/no_permission.jpg", encode(scene(64, 48, 21), "JPEG"))
    os.chmod(dest / rel, 0)
    exp[rel] = None if os.geteuid() == 0 else "PHOTO_UNREADABLE"
    good(f"{e}/after/good.jpg", 22)
    put(f"{e}/after/exif_full.jpg", jpeg_with_exif(scene(160, 120, 23), good_exif()), None)
    put(f"{e}/after/exif_garbage.jpg", jpeg_with_exif(scene(160, 120, 24), garbage_exif()), None)
    put(f"{e}/after/exif_junk.jpg", jpeg_with_junk_exif(scene(160, 120, 25), 25), None)
    return exp
