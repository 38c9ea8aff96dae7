"""The bundled sample (pipeline/demo/): deterministic files, both input forms, EXIF, and the properties the
pipeline's stages rely on (same-place pairs match under ORB + RANSAC, different places do not; copies are
byte-identical; the mirror is a mirror; honest before/after pairs are not near-duplicates)."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from PIL import ExifTags, Image

from pipeline.config import DedupConfig
from pipeline.demo.sample import HONEST_FORBIDDEN, MANIFEST_COLUMNS, REUPLOAD_SIZE, SampleBatch, _clear, make_sample

HONEST = ("01-full-cleanup", "02-partial-cleanup", "03-no-cleanup", "11-two-spots-shuffled")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> SampleBatch:
    return make_sample(tmp_path_factory.mktemp("sample") / "batch")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> SampleBatch:
    return make_sample(tmp_path_factory.mktemp("sample-manifest") / "batch", form="manifest")


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _by_name(batch: SampleBatch) -> dict[tuple[str, str, str], str]:
    """(entry, role, file name) -> sha256, independent of the input form's paths."""
    return {(p.entry_id, p.role, Path(p.rel_path).name.removeprefix(p.entry_id + "_")): p.sha256
            for p in batch.photos.values()}


# ------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files(folder, tmp_path):
    again = make_sample(tmp_path / "again")
    first, second = _digests(folder.root), _digests(again.root)
    assert len(first) == len(folder.photos) + len(folder.entry_ids)  # photos + one entry.json per entry
    assert first == second


def test_both_forms_hold_the_same_photos(folder, manifest):
    assert _by_name(folder) == _by_name(manifest)
    assert len(set(_by_name(folder).values())) == len(folder.photos) - 2  # two byte-identical copies


# ------------------------------------------------------------------------------------------ layout
def test_folder_layout_and_entry_json(folder):
    root = folder.root
    assert sorted(p.name for p in root.iterdir()) == sorted(folder.entry_ids)
    assert len(folder.entry_ids) == 12
    for e in folder.entry_ids:
        doc = json.loads((root / e / "entry.json").read_text(encoding="utf-8"))
        assert set(doc) == {"participant", "team", "kind", "event_date", "submitted_at", "location", "reported"}
        assert doc["kind"] in ("individual", "collective")
        assert doc["event_date"].startswith("2024-06-")
        assert 16.4 < doc["location"]["lat"] < 16.52 and 107.55 < doc["location"]["lon"] < 107.63
        assert doc["reported"]["participants"] >= 1 and doc["reported"]["kg"] > 0
        files = {p.relative_to(root).as_posix() for p in (root / e).rglob("*")
                 if p.is_file() and p.name != "entry.json"}
        assert files == {p.rel_path for p in folder.photos_of(e)}
    assert not (root / "10-missing-after" / "after").exists()
    assert len(folder.photos_of("11-two-spots-shuffled", "before")) == 2
    assert len(folder.photos_of("11-two-spots-shuffled", "after")) == 2
    html = json.loads((root / "02-partial-cleanup" / "entry.json").read_text(encoding="utf-8"))["participant"]
    assert html == 'Nhóm <b>"Sạch & Xanh"</b>'


def test_manifest_rows(manifest):
    root = manifest.root
    assert manifest.input_path == manifest.manifest_csv == root / "manifest.csv"
    with open(manifest.manifest_csv, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == MANIFEST_COLUMNS
        rows = list(reader)
    lines = manifest.manifest_jsonl.read_text(encoding="utf-8").splitlines()
    jrows = [json.loads(x) for x in lines]
    assert len(rows) == len(jrows) == len(manifest.photos) == len(list((root / "photos").iterdir()))
    for r, j in zip(rows, jrows):
        assert tuple(j) == MANIFEST_COLUMNS
        assert r == {k: "" if v is None else str(v) for k, v in j.items()}
        assert r["role"] in ("before", "after") and (root / r["path"]).is_file()
        assert r["path"].startswith("photos/") and manifest.photos[r["path"]].entry_id == r["entry_id"]
    assert {r["entry_id"] for r in rows} == set(manifest.entry_ids)
    assert not [r for r in rows if r["entry_id"] == "10-missing-after" and r["role"] == "after"]
    assert 'Nhóm <b>"Sạch & Xanh"</b>' in {r["participant"] for r in rows}
    mirrored = [j for j in jrows if j["entry_id"] == "06-mirrored-reupload"]
    assert mirrored and all(j["taken_at"] is None and j["lat"] is None for j in mirrored)


def test_clear_replaces_a_sample_but_refuses_other_folders(tmp_path):
    old = tmp_path / "old"
    (old / "01-full-cleanup" / "before").mkdir(parents=True)
    (old / "manifest.csv").write_text("x")
    _clear(old)
    assert old.is_dir() and not list(old.iterdir())
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    with pytest.raises(FileExistsError):
        make_sample(mine)
    assert (mine / "thesis.docx").read_text() == "precious"
    with pytest.raises(ValueError):
        make_sample(tmp_path / "x", form="zip")


# ------------------------------------------------------------------------------------ expectations
def test_expected_and_forbidden_flags(folder):
    exp, forb = folder.expected_flags, folder.forbidden_flags
    assert set(exp) == set(forb) == set(folder.entry_ids)
    for e in folder.entry_ids:
        assert not exp[e] & forb[e], e
    for e in HONEST:
        assert not exp[e] and {"DUPLICATE_PHOTO", "SCENE_MISMATCH", "UNCHANGED_AFTER"} <= forb[e]
    assert exp["05-shared-photo-b"] == exp["06-mirrored-reupload"] == {"DUPLICATE_PHOTO"}
    # the original: submitted first, it keeps its evidence and is told who copied it
    assert exp["04-shared-photo-a"] == {"PHOTO_COPIED_BY_LATER"} and "DUPLICATE_PHOTO" in forb["04-shared-photo-a"]
    assert exp["07-unrelated-after"] == {"SCENE_MISMATCH"}
    assert exp["08-unchanged-after"] == {"UNCHANGED_AFTER"} and "DUPLICATE_PHOTO" in forb["08-unchanged-after"]
    assert exp["10-missing-after"] == {"MISSING_PHOTOS"}
    assert exp["12-exif-time-order"] == {"EXIF_TIME_ORDER"}
    assert forb["09-corrupt-file"] == set(HONEST_FORBIDDEN)
    assert "LITTER_REMAINS" in folder.expected_with_detector["03-no-cleanup"]


def test_copies_and_truncated_file(folder):
    ph = folder.photos
    for p in ph.values():
        data = (folder.root / p.rel_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == p.sha256
    copies = [p for p in ph.values() if p.origin == "copy"]
    assert len(copies) == 2
    for c in copies:
        assert c.sha256 == ph[c.source].sha256 and c.scene == ph[c.source].scene
    assert {c.entry_id for c in copies} == {"05-shared-photo-b", "08-unchanged-after"}
    (bad,) = folder.bad_photos
    assert bad.startswith("09-corrupt-file/before/") and folder.bad_photos[bad] == "PHOTO_TRUNCATED"
    with pytest.raises(OSError):
        Image.open(folder.root / bad).load()
    good = [p for p in folder.photos_of("09-corrupt-file") if p.rel_path != bad]
    assert len(good) == 2
    for p in good:
        Image.open(folder.root / p.rel_path).load()


def test_litter_ground_truth(folder):
    count = {(p.entry_id, p.role): len(p.litter) for p in folder.photos.values() if p.origin == "drawn"}
    assert count[("01-full-cleanup", "before")] == 8 and count[("01-full-cleanup", "after")] == 0
    assert count[("02-partial-cleanup", "before")] == 10 and count[("02-partial-cleanup", "after")] == 5
    assert count[("03-no-cleanup", "before")] == count[("03-no-cleanup", "after")] == 7
    for p in folder.photos.values():
        for b in p.litter:
            x0, y0, x1, y1 = b.xyxy
            assert 0 <= x0 < x1 <= p.width and 0 <= y0 < y1 <= p.height
            # visible to a detector at 640 px: at least 16 px on the short side there
            assert min(x1 - x0, y1 - y0) * 640 / max(p.width, p.height) >= 16, (p.rel_path, b)
    kinds = {b.kind for p in folder.photos.values() for b in p.litter}
    assert kinds == {"bottle", "can", "bag", "wrapper", "foam_box", "cup"}


def test_litter_boxes_cover_what_the_clean_up_removed(folder):
    """In the full clean-up, the before photo differs from the after photo (aligned) inside the boxes much more
    than outside them."""
    before, after = folder.true_pairs["01-full-cleanup"][0]
    a = cv2.imread(str(folder.root / before), cv2.IMREAD_GRAYSCALE)
    b = cv2.imread(str(folder.root / after), cv2.IMREAD_GRAYSCALE)
    h = _homography(a, b)
    assert h is not None
    warped = cv2.warpPerspective(b, np.linalg.inv(h), (a.shape[1], a.shape[0]))

    def detail(img):  # band-pass, unit variance: insensitive to the change of light between the shots
        f = img.astype(np.float32)
        d = cv2.GaussianBlur(f, (0, 0), 4) - cv2.GaussianBlur(f, (0, 0), 16)
        return d / d.std()

    diff = np.abs(detail(a) - detail(warped))
    inside = np.zeros(a.shape, bool)
    for box in folder.photos[before].litter:
        x0, y0, x1, y1 = (int(v) for v in box.xyxy)
        inside[y0:y1, x0:x1] = True
    seen = cv2.warpPerspective(np.ones_like(b), np.linalg.inv(h), (a.shape[1], a.shape[0]))
    valid = cv2.erode(seen, np.ones((101, 101), np.uint8)) > 0  # away from the border the warp invents
    assert diff[inside & valid].mean() > 2 * diff[~inside & valid].mean()


# ------------------------------------------------------------------------------------------- EXIF
def _gps_decimal(dms, ref) -> float:
    d, m, s = (float(x) for x in dms)
    return (d + m / 60 + s / 3600) * (-1 if ref in ("S", "W") else 1)


def test_exif_round_trip(folder):
    checked = 0
    for p in folder.photos.values():
        if p.origin == "truncated":
            continue
        exif = Image.open(folder.root / p.rel_path).getexif()
        if p.taken_at is None:
            assert not exif.get_ifd(ExifTags.IFD.Exif) and not exif.get_ifd(ExifTags.IFD.GPSInfo)
            continue
        taken = exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal]
        assert taken == p.taken_at.replace("-", ":").replace("T", " ")
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert abs(_gps_decimal(gps[ExifTags.GPS.GPSLatitude], gps[ExifTags.GPS.GPSLatitudeRef]) - p.lat) < 1e-5
        assert abs(_gps_decimal(gps[ExifTags.GPS.GPSLongitude], gps[ExifTags.GPS.GPSLongitudeRef]) - p.lon) < 1e-5
        assert exif.get(ExifTags.Base.Make) and exif.get(ExifTags.Base.Model)
        checked += 1
    assert checked >= 20
    (b,), (a,) = folder.photos_of("12-exif-time-order", "before"), folder.photos_of("12-exif-time-order", "after")
    assert a.taken_at < b.taken_at
    for e in HONEST:
        last_before = max(p.taken_at for p in folder.photos_of(e, "before"))
        assert last_before < min(p.taken_at for p in folder.photos_of(e, "after"))


# ----------------------------------------------------------------------------- duplicate structure
def _phash(path: Path, flip: bool = False, size: tuple[int, int] | None = None) -> imagehash.ImageHash:
    im = Image.open(path).convert("RGB")
    if flip:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if size:
        im = im.resize(size, Image.Resampling.LANCZOS)
    return imagehash.phash(im)


def test_mirrored_reupload_is_a_mirror(folder):
    mirrors = [p for p in folder.photos.values() if p.origin == "mirror"]
    assert len(mirrors) == 2
    for m in mirrors:
        src = folder.photos[m.source]
        assert (m.width, m.height) == REUPLOAD_SIZE and m.sha256 != src.sha256
        assert src.entry_id != m.entry_id
        flipped_back = _phash(folder.root / m.rel_path, flip=True)
        original = _phash(folder.root / src.rel_path)
        assert flipped_back - original <= 4
        assert _phash(folder.root / m.rel_path) - original > 12  # as uploaded it does not look the same


def test_honest_pairs_are_not_near_duplicates(folder):
    """Before and after photos of one place differ enough that perceptual hashes keep them apart, and
    photos of different places are far apart, so only the planted duplicates can match."""
    threshold = DedupConfig().phash_threshold
    hashes = {r: _phash(folder.root / r) for r, p in folder.photos.items() if p.scene is not None}
    for e in HONEST + ("12-exif-time-order", "09-corrupt-file", "04-shared-photo-a"):
        for b, a in folder.true_pairs[e]:
            assert hashes[b] - hashes[a] > threshold + 4, (b, a)
    rels = sorted(hashes)
    for i, x in enumerate(rels):
        for y in rels[i + 1:]:
            if folder.photos[x].scene != folder.photos[y].scene:
                assert hashes[x] - hashes[y] > threshold + 4, (x, y)


# ----------------------------------------------------------------------------------- same place
def _features(gray: np.ndarray, orb):
    s = 1024 / max(gray.shape)
    return orb.detectAndCompute(cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), None), s


def _match(a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray | None]:
    """ORB (2000 features, at 1024 px) + ratio test 0.8 + RANSAC homography (5 px): (inliers, homography
    from a to b in full-size pixels)."""
    orb = cv2.ORB_create(2000)
    ((ka, da), sa), ((kb, db), sb) = _features(a, orb), _features(b, orb)
    if da is None or db is None:
        return 0, None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 4:
        return 0, None
    src = np.float32([ka[m.queryIdx].pt for m in good]) / sa
    dst = np.float32([kb[m.trainIdx].pt for m in good]) / sb
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0 / sa)
    return (int(mask.sum()) if mask is not None else 0), h


def _homography(a, b):
    return _match(a, b)[1]


def test_same_place_pairs_match_and_different_places_do_not(folder):
    gray = {}

    def load(rel):
        if rel not in gray:
            gray[rel] = cv2.imread(str(folder.root / rel), cv2.IMREAD_GRAYSCALE)
        return gray[rel]

    assert len(folder.same_place_pairs) >= 10 and len(folder.different_place_pairs) >= 12
    same = {pair: _match(load(pair[0]), load(pair[1]))[0] for pair in folder.same_place_pairs}
    diff = {pair: _match(load(pair[0]), load(pair[1]))[0] for pair in folder.different_place_pairs}
    assert min(same.values()) >= 60, same
    assert max(diff.values()) < 15, diff
    for e in folder.entry_ids:  # the pairing truth only pairs photos of one place
        for b, a in folder.true_pairs[e]:
            assert folder.photos[b].scene == folder.photos[a].scene
    assert len(folder.true_pairs["11-two-spots-shuffled"]) == 2
    assert not folder.true_pairs["07-unrelated-after"] and not folder.true_pairs["10-missing-after"]
