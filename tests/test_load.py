"""Photo loading: hostile files give their stable code, good ones load upright as RGB uint8 at analysis size."""
from __future__ import annotations

import hashlib
import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

import pipeline.load as load_mod
from hostile import (GOOD_EXIF, MARKER_COLOURS, MARKER_SIZE, ORIENTATIONS, encode, jpeg_with_exif,
                     make_hostile_batch, marker_image, scene, stored_for_orientation)
from pipeline.config import LoadConfig
from pipeline.load import (ERROR_CODES, PhotoError, load_photo, make_thumbnail, parse_exif_datetime, parse_gps,
                           read_photo)

CFG = LoadConfig()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "batch"
    expected = make_hostile_batch(root)
    yield root, expected
    for dirpath, _, files in os.walk(root):  # let pytest clean up the mode-000 file
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, 0o644)


def _load(root, rel, cfg=CFG):
    data = read_photo(root / rel, cfg, batch_root=root, rel_path=rel)
    return load_photo(data, cfg, rel_path=rel)


def _code(root, rel, cfg=CFG):
    try:
        _load(root, rel, cfg)
    except PhotoError as e:
        assert e.problem.path == rel
        assert e.problem.code in ERROR_CODES
        return e.problem.code
    return None


# ------------------------------------------------------------------------------------ the hostile batch
def test_hostile_batch_has_enough_kinds(batch):
    _, expected = batch
    codes = [c for c in expected.values() if c]
    assert len(codes) >= 15
    assert set(codes) >= {"PHOTO_TRUNCATED", "PHOTO_CORRUPT", "PHOTO_EMPTY", "PHOTO_NOT_IMAGE", "PHOTO_TOO_MANY_PIXELS",
                          "PHOTO_TOO_LARGE", "PHOTO_UNREADABLE", "PATH_OUTSIDE_BATCH", "PHOTO_UNSUPPORTED"}
    entries = {rel.split("/")[0] for rel in expected}
    for e in entries:  # every entry also holds photos that must load
        assert any(c is None for rel, c in expected.items() if rel.startswith(e + "/")), e


def test_every_hostile_file_gives_its_code_or_loads(batch):
    root, expected = batch
    got = {rel: _code(root, rel) for rel in expected}
    wrong = {rel: (expected[rel], got[rel]) for rel in expected if got[rel] != expected[rel]}
    assert not wrong, wrong


def test_loaded_photos_are_rgb_uint8_within_analysis_size(batch):
    root, expected = batch
    for rel, code in expected.items():
        if code is not None:
            continue
        p = _load(root, rel)
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3, rel
        assert max(p.image.shape[:2]) <= CFG.analysis_max_side, rel
        assert p.image.flags["C_CONTIGUOUS"]
        assert 0 < p.scale <= 1
        assert max(p.image.shape[:2]) == round(max(p.meta.width, p.meta.height) * p.scale), rel
        assert (p.image.shape[1] > p.image.shape[0]) == (p.meta.width > p.meta.height) or \
            p.meta.width == p.meta.height, rel


def test_messages_say_what_to_do(batch):
    root, expected = batch
    for rel, code in expected.items():
        if code is None:
            continue
        with pytest.raises(PhotoError) as ei:
            _load(root, rel)
        msg = ei.value.problem.message
        assert rel in msg and len(msg) > 40
        assert any(w in msg.lower() for w in ("ask", "check", "remove", "put", "replace")), msg


def test_global_pil_state_is_untouched(batch):
    root, expected = batch
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for rel in expected:
            _code(root, rel)
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == before
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


# ---------------------------------------------------------------------------------------- orientation
def _quadrant_colours(img: np.ndarray) -> dict[str, np.ndarray]:
    h, w = img.shape[:2]
    cy, cx = h // 4, w // 4
    return {"top_left": img[cy, cx], "top_right": img[cy, w - 1 - cx], "bottom_left": img[h - 1 - cy, cx],
            "bottom_right": img[h - 1 - cy, w - 1 - cx]}


def _assert_upright_marker(img: np.ndarray, what: str) -> None:
    w, h = MARKER_SIZE
    assert img.shape == (h, w, 3), (what, img.shape)
    for corner, got in _quadrant_colours(img).items():
        assert np.abs(got.astype(int) - MARKER_COLOURS[corner]).max() < 40, (what, corner, got)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_all_eight_exif_orientations_end_upright(batch, orientation):
    root, _ = batch
    role = "before" if orientation <= 4 else "after"
    p = _load(root, f"h02_orientation/{role}/orient_{orientation}.jpg")
    _assert_upright_marker(p.image, f"orientation {orientation}")
    assert (p.meta.width, p.meta.height) == MARKER_SIZE
    assert p.meta.exif_orientation == orientation


def test_stored_pixels_really_differ_per_orientation():
    """Guards the fixture: without applying EXIF, orientations 2-8 would NOT look upright."""
    for o in ORIENTATIONS:
        s = stored_for_orientation(marker_image(), o)
        upright = s.shape == marker_image().shape and np.array_equal(s, marker_image())
        assert upright == (o == 1), o


def test_heic_is_upright_and_reports_original_orientation(batch):
    root, _ = batch
    p = _load(root, "h01_formats/after/photo.heic")
    assert p.meta.format == "HEIF"
    _assert_upright_marker(p.image, "heic")
    assert p.meta.exif_orientation == 6


def test_oriented_size_is_swapped_and_scale_is_per_full_size_pixel():
    ex = Image.Exif()
    ex[0x0112] = 6
    data = jpeg_with_exif(stored_for_orientation(scene(400, 200, 1), 6), ex)  # stored 200 wide, 400 high
    cfg = LoadConfig(analysis_max_side=100)
    p = load_photo(data, cfg)
    assert (p.meta.width, p.meta.height) == (400, 200)  # displayed landscape
    assert p.image.shape == (50, 100, 3)
    assert p.scale == pytest.approx(0.25)


# ------------------------------------------------------------------------------------- formats, colour
def test_png_named_jpg_is_sniffed_by_content(batch):
    root, _ = batch
    assert _load(root, "h01_formats/before/png_named.jpg").meta.format == "PNG"


def test_alpha_is_composited_over_white(batch):
    root, _ = batch
    img = _load(root, "h01_formats/after/rgba.png").image
    assert (img[:, 40:] == 255).all()  # transparent half -> white
    assert np.abs(img[:, :24].astype(int) - (200, 0, 0)).max() <= 1


def test_16_bit_grey_keeps_the_top_byte(batch):
    root, _ = batch
    img = _load(root, "h01_formats/after/grey16.png").image
    want = ((np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16) >> 8).astype(np.uint8)
    assert np.array_equal(img[..., 0], want) and np.array_equal(img[..., 1], want)


def test_cmyk_jpeg_comes_out_in_the_right_colours(batch):
    root, _ = batch
    img = _load(root, "h01_formats/before/cmyk.jpg").image  # pure cyan, Adobe (inverted) CMYK
    assert np.abs(img.reshape(-1, 3).mean(0) - (0, 255, 255)).max() < 8


def test_grey_palette_webp_avif_load_as_rgb():
    for fmt, img in (("JPEG", Image.fromarray(scene(60, 40, 3)).convert("L")),
                     ("PNG", Image.fromarray(scene(60, 40, 4)).convert("P")),
                     ("WEBP", Image.fromarray(scene(60, 40, 5))),
                     ("AVIF", Image.fromarray(scene(60, 40, 6))),
                     ("PNG", Image.fromarray(scene(60, 40, 7)).convert("LA"))):
        p = load_photo(encode(img, fmt), CFG)
        assert p.image.shape == (40, 60, 3) and p.image.dtype == np.uint8, fmt
        assert p.meta.format == fmt


# ------------------------------------------------------------------------------------------ draft decode
@pytest.mark.parametrize("size, decoded, analysis", [
    ((4000, 3000), (1000, 750), (1000, 750)),  # 1/4 scale is within draft_min_fraction: used as decoded
    ((3264, 2448), (1632, 1224), (1024, 768)),  # 1/4 would be 816 px: 1/2 scale, then resized
    ((2448, 3264), (1224, 1632), (768, 1024)),
])
def test_jpeg_draft_decodes_a_phone_photo_reduced(monkeypatch, size, decoded, analysis):
    small = Image.fromarray(scene(size[0] // 8, size[1] // 8, 9))  # cheap to make at 12 megapixels
    data = encode(small.resize(size, Image.Resampling.BILINEAR), "JPEG", quality=90)
    decoded_sizes = []
    real_to_rgb = load_mod._to_rgb

    def spy(img):
        decoded_sizes.append(img.size)
        return real_to_rgb(img)

    monkeypatch.setattr(load_mod, "_to_rgb", spy)
    p = load_photo(data, CFG)
    assert decoded_sizes == [decoded]  # libjpeg DCT scaling: never the full size
    assert p.image.shape == (analysis[1], analysis[0], 3)
    assert (p.meta.width, p.meta.height) == size
    assert p.scale == pytest.approx(max(analysis) / max(size))
    full = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize(analysis, Image.Resampling.BOX))
    assert np.abs(full.astype(int) - p.image).mean() < 3  # the reduced decode shows the same picture


def test_draft_factor_follows_the_config():
    from pipeline.load import jpeg_draft_factor

    assert jpeg_draft_factor(4032, 3024, CFG) == 4
    assert jpeg_draft_factor(4032, 3024, LoadConfig(draft_min_fraction=1.0)) == 2
    assert jpeg_draft_factor(8000, 6000, CFG) == 8  # 1000 px >= 0.9 * 1024
    assert jpeg_draft_factor(3264, 2448, CFG) == 2  # 816 px < 0.9 * 1024
    assert jpeg_draft_factor(1024, 768, CFG) == 1
    assert jpeg_draft_factor(1, 1, CFG) == 1
    assert jpeg_draft_factor(12000, 200, CFG) == 8


def test_same_bytes_give_the_same_pixels_and_sha256():
    data = encode(scene(1500, 1000, 10), "JPEG", quality=88)
    a, b = load_photo(data, CFG), load_photo(data, CFG)
    assert np.array_equal(a.image, b.image)
    assert a.meta.sha256 == hashlib.sha256(data).hexdigest()
    assert load_photo(data, CFG, sha256="given").meta.sha256 == "given"
    assert a.meta.size_bytes == len(data)


# ---------------------------------------------------------------------------------------------- limits
def test_pixel_limit_is_checked_from_the_header_before_decoding():
    data = encode(scene(300, 200, 11), "JPEG")
    sos = data.rfind(b"\xff\xda")
    garbage = data[:sos + 20] + b"\xff\x05" * 200  # image data that would fail to decode
    cfg = LoadConfig(max_pixels=300 * 200 - 1)
    with pytest.raises(PhotoError) as ei:
        load_photo(garbage, cfg)
    assert ei.value.code == "PHOTO_TOO_MANY_PIXELS"
    with pytest.raises(PhotoError) as ei:
        load_photo(garbage, CFG)
    assert ei.value.code == "PHOTO_CORRUPT"  # the same bytes under the normal limit do get decoded
    assert load_photo(data, LoadConfig(max_pixels=300 * 200)).meta.width == 300


def test_too_large_file_is_refused_without_being_opened(batch, monkeypatch):
    root, _ = batch

    def no_open(*a, **k):
        raise AssertionError("read_photo opened an over-size file")

    monkeypatch.setattr(load_mod, "open", no_open, raising=False)
    with pytest.raises(PhotoError) as ei:
        read_photo(root / "h04_limits/before/enormous.jpg", CFG)
    assert ei.value.code == "PHOTO_TOO_LARGE"
    assert os.stat(root / "h04_limits/before/enormous.jpg").st_blocks * 512 < 1024 * 1024  # sparse


def test_in_memory_limits():
    with pytest.raises(PhotoError) as ei:
        load_photo(b"", CFG)
    assert ei.value.code == "PHOTO_EMPTY"
    with pytest.raises(PhotoError) as ei:
        load_photo(b"\xff\xd8\xff" + bytes(200), LoadConfig(max_file_bytes=100))
    assert ei.value.code == "PHOTO_TOO_LARGE"


def test_os_errors_while_reading_become_photo_unreadable(batch, monkeypatch):
    root, _ = batch

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(load_mod, "open", denied, raising=False)  # what a normal user gets for mode 000
    with pytest.raises(PhotoError) as ei:
        read_photo(root / "h01_formats/before/good.jpg", CFG, rel_path="x.jpg")
    assert ei.value.code == "PHOTO_UNREADABLE" and "Permission denied" in ei.value.problem.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a mode-000 file; checked only as a normal user")
def test_unreadable_permission(batch):
    root, _ = batch
    assert _code(root, "h05_files/before/no_permission.jpg") == "PHOTO_UNREADABLE"


# --------------------------------------------------------------------------------- truncation, failures
def test_truncated_jpeg_is_rejected_even_if_someone_set_load_truncated_images(batch, monkeypatch):
    root, _ = batch
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert _code(root, "h03_broken/before/truncated.jpg") == "PHOTO_TRUNCATED"
    assert _code(root, "h03_broken/before/good.jpg") is None
    trailer = encode(scene(80, 60, 12), "JPEG") + b"SEFH\x00\x00phone trailer after the end marker"
    assert load_photo(trailer, CFG).image.shape == (60, 80, 3)


def test_an_unexpected_decoder_exception_becomes_photo_corrupt(monkeypatch):
    def boom(img):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(load_mod, "_to_rgb", boom)
    with pytest.raises(PhotoError) as ei:
        load_photo(encode(scene(40, 30, 13), "JPEG"), CFG, rel_path="e/before/x.jpg")
    assert ei.value.code == "PHOTO_CORRUPT"
    assert "decoder exploded" in ei.value.problem.message and ei.value.problem.path == "e/before/x.jpg"


def test_random_bytes_never_escape_as_other_exceptions():
    rng = np.random.default_rng(0)
    good = encode(scene(120, 90, 14), "JPEG")
    for i in range(60):
        data = bytearray(good)
        for _ in range(5):
            j = int(rng.integers(2, len(data)))
            data[j:j + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        try:
            p = load_photo(bytes(data[: int(rng.integers(3, len(data) + 1))]), CFG)
            assert p.image.dtype == np.uint8
        except PhotoError as e:
            assert e.code in ERROR_CODES


# ------------------------------------------------------------------------------------------------ EXIF
def test_exif_time_gps_camera_are_read(batch):
    root, _ = batch
    m = _load(root, "h05_files/after/exif_full.jpg").meta
    assert m.taken_at == GOOD_EXIF["taken_at"]  # DateTimeOriginal wins over DateTime
    assert m.gps_lat == pytest.approx(GOOD_EXIF["gps_lat"], abs=1e-9)
    assert m.gps_lon == pytest.approx(GOOD_EXIF["gps_lon"], abs=1e-9)
    assert (m.camera_make, m.camera_model) == (GOOD_EXIF["camera_make"], GOOD_EXIF["camera_model"])


def test_garbage_exif_gives_none_not_an_error(batch):
    root, _ = batch
    for rel in ("h05_files/after/exif_garbage.jpg", "h05_files/after/exif_junk.jpg"):
        m = _load(root, rel).meta
        assert (m.taken_at, m.gps_lat, m.gps_lon, m.camera_make) == (None, None, None, None), rel
        assert m.exif_orientation is None


def test_datetime_falls_back_to_ifd0_datetime():
    ex = Image.Exif()
    ex[0x0132] = "2023:12:31 23:59:58"
    assert load_photo(jpeg_with_exif(scene(40, 30, 15), ex), CFG).meta.taken_at == "2023-12-31T23:59:58"


@pytest.mark.parametrize("raw, want", [
    ("2024:06:02 07:31:05", "2024-06-02T07:31:05"),
    ("2024:06:02 07:31:05\x00", "2024-06-02T07:31:05"),
    (b"2024-06-02 07:31:05.123", "2024-06-02T07:31:05"),
    ("0000:00:00 00:00:00", None),
    ("2024:02:30 10:00:00", None),
    ("2024:06:02 24:00:00", None),
    ("    :  :     :  :  ", None),
    ("1850:01:01 00:00:00", None),
    (20240602, None),
    (None, None),
])
def test_parse_exif_datetime(raw, want):
    assert parse_exif_datetime(raw) == want


def test_parse_gps():
    ok = {1: "N", 2: (10.0, 30.0, 0.0), 3: "W", 4: (20.0, 15.0, 36.0)}
    assert parse_gps(ok) == pytest.approx((10.5, -(20 + 15 / 60 + 36 / 3600)))
    assert parse_gps({**ok, 1: b"S\x00"})[0] == pytest.approx(-10.5)
    assert parse_gps({**ok, 2: ((21, 2), (0, 1), (0, 1))})[0] == pytest.approx(10.5)  # raw rationals
    for bad in ({**ok, 1: "X"}, {**ok, 2: (float("nan"), 1.0, 2.0)}, {**ok, 2: (95.0, 0.0, 0.0)},
                {**ok, 2: (10.0, 61.0, 0.0)}, {**ok, 4: "garbage"}, {1: "N", 2: (0.0, 0.0, 0.0), 3: "E",
                                                                     4: (0.0, 0.0, 0.0)}, {**ok, 3: None}, {},
                {**ok, 2: ((1, 0), (0, 1), (0, 1))}):
        assert parse_gps(bad) is None, bad


# -------------------------------------------------------------------------------------------- thumbnail
def test_make_thumbnail():
    img = scene(1000, 500, 16)
    t = make_thumbnail(img, 400)
    assert t[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(t)).size == (400, 200)
    assert Image.open(io.BytesIO(make_thumbnail(img[:100, :50], 400))).size == (50, 100)  # never enlarged
    assert make_thumbnail(img, 400) == t  # deterministic
    with pytest.raises(ValueError):
        make_thumbnail(img.astype(np.float32), 400)
