"""The bundled sample: a deterministic demo batch of procedurally drawn clean-up entries.

``make_sample(dest)`` draws about a dozen contest entries, each telling one story the pipeline must get
right (a full clean-up, a partial one, none at all, a photo reused by two entries, a mirrored re-upload, an
unrelated after photo, an after photo identical to the before photo, a corrupt file, a missing after photo,
several photos to pair, EXIF times in the wrong order). No real photo is used: every scene is drawn with
NumPy/OpenCV from the seed (see :mod:`pipeline.demo.draw` and :mod:`pipeline.demo.litter`), so the
same seed gives byte-identical files on one machine (fixed JPEG quality, no timestamps).

It returns a :class:`SampleBatch` saying, per entry, which flag codes the pipeline is expected to raise and
which it must not, plus the ground truth (litter boxes per photo, which photos show the same place).

Two input forms (design.md):

``form="folder"``::

    DEST/<entry_id>/entry.json   participant, team, kind, event_date, submitted_at, location {lat, lon,
                                 address}, reported {participants, kg}
    DEST/<entry_id>/before/*.jpg
    DEST/<entry_id>/after/*.jpg

``form="manifest"``: all photos in ``DEST/photos/`` and one row per photo in both ``DEST/manifest.csv``
(UTF-8, header row, empty cell = no value) and ``DEST/manifest.jsonl`` (one JSON object per line, null =
no value), with exactly these columns (:data:`MANIFEST_COLUMNS`):

==========================  =============================================================================
``entry_id``                the entry the photo belongs to
``role``                    ``before`` or ``after``
``path``                    the photo, relative to the manifest's folder (``photos/<entry_id>_<name>.jpg``)
``taken_at``                capture time from the app, ISO 8601 without zone (``2024-06-02T07:31:05``)
``lat``, ``lon``            where the photo was taken, decimal degrees (WGS 84)
``participant``             entry field: the entrant's name
``team``                    entry field: team or organisation (empty for individuals)
``kind``                    entry field: ``individual`` or ``collective``
``event_date``              entry field: date of the clean-up, ``YYYY-MM-DD``
``address``                 entry field: the site's address (entry.json ``location.address``)
``location_lat``            entry field: the site's latitude (entry.json ``location.lat``)
``location_lon``            entry field: the site's longitude (entry.json ``location.lon``)
``reported_participants``   entry field: number of people the entrant reports (entry.json ``reported``)
``reported_kg``             entry field: kilograms of litter the entrant reports
==========================  =============================================================================

Entry fields repeat on every row of the entry. Photos without EXIF (re-uploads) have empty
``taken_at``/``lat``/``lon``; everywhere else they equal the photo's EXIF values.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image

from . import draw, litter

JPEG_QUALITY = 90  # quality of every drawn photo
REUPLOAD_QUALITY = 72  # quality of the mirrored re-upload
REUPLOAD_SIZE = (1280, 960)  # (width, height) of the mirrored re-upload
TRUNCATE_FRACTION = 0.45  # the corrupt file keeps this fraction of its bytes
FORMS = ("folder", "manifest")
MANIFEST_COLUMNS: tuple[str, ...] = (
    "entry_id", "role", "path", "taken_at", "lat", "lon", "participant", "team", "kind", "event_date",
    "submitted_at", "address", "location_lat", "location_lon", "reported_participants", "reported_kg",
)
# What no honest entry with consistent metadata may be flagged for.
HONEST_FORBIDDEN = frozenset({"DUPLICATE_PHOTO", "SCENE_MISMATCH", "UNCHANGED_AFTER", "MISSING_PHOTOS",
                              "EXIF_TIME_ORDER", "EXIF_TIME_GAP", "GPS_MISMATCH"})


@dataclass(frozen=True)
class LitterBox:
    """One drawn litter item in a photo: ``kind`` (bottle, can, bag, wrapper, foam_box, cup) and its box
    ``xyxy`` in pixels of that photo (it has no EXIF orientation, so oriented = stored pixels)."""

    kind: str
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class SamplePhoto:
    """Ground truth of one file. ``rel_path``: relative to the batch root, forward slashes. ``scene``: the
    place it shows (photos with equal ``scene`` show the same place; None for the corrupt file).
    ``origin``: ``drawn``, ``copy`` (byte-identical to ``source``), ``mirror`` (``source`` flipped
    left-right, resized and re-encoded) or ``truncated``. ``taken_at``/``lat``/``lon``: the EXIF values
    written into the file (None when it has no EXIF)."""

    rel_path: str
    entry_id: str
    role: str
    scene: str | None
    origin: str
    source: str | None
    litter: tuple[LitterBox, ...]
    width: int
    height: int
    taken_at: str | None
    lat: float | None
    lon: float | None
    sha256: str


@dataclass
class SampleBatch:
    """What :func:`make_sample` wrote and what the pipeline should conclude about it.

    ``root``: the batch folder; ``input_path``: what to give ``cleanup-verify run`` (the folder, or the CSV
    manifest). ``expected_flags``/``forbidden_flags``: per entry, flag codes that must / must not be raised
    whatever the litter detector finds. ``expected_with_detector``/``forbidden_with_detector``: flags that
    follow from the drawn litter once a working detector sees it. ``bad_photos``: rel_path -> the problem
    code the loader should record for it (``PHOTO_TRUNCATED``: a JPEG cut to 45 % of its bytes); the
    pipeline must list it with its error and still score the entry from its other photos.
    ``true_pairs``: per entry, the (before, after) rel_paths that show the same spot.
    ``same_place_pairs``/``different_place_pairs``: photo pairs for testing the same-place check.
    """

    root: Path
    form: str
    input_path: Path
    entry_ids: tuple[str, ...]
    descriptions: dict[str, str]
    expected_flags: dict[str, set[str]]
    forbidden_flags: dict[str, set[str]]
    expected_with_detector: dict[str, set[str]]
    forbidden_with_detector: dict[str, set[str]]
    photos: dict[str, SamplePhoto]
    bad_photos: dict[str, str]
    true_pairs: dict[str, tuple[tuple[str, str], ...]]
    same_place_pairs: tuple[tuple[str, str], ...]
    different_place_pairs: tuple[tuple[str, str], ...]
    manifest_csv: Path | None = None
    manifest_jsonl: Path | None = None

    def photos_of(self, entry_id: str, role: str | None = None) -> list[SamplePhoto]:
        return [p for p in self.photos.values() if p.entry_id == entry_id and (role is None or p.role == role)]

    def summary(self) -> str:
        """One line per entry: id, story, expected flags (for the demo command to print)."""
        lines = []
        for e in self.entry_ids:
            exp = ", ".join(sorted(self.expected_flags[e])) or "no flag"
            lines.append(f"{e:<24} {self.descriptions[e]}  [expects: {exp}]")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------- stories
@dataclass(frozen=True)
class _Meta:
    participant: str
    team: str | None
    kind: str
    event_date: str
    address: str
    lat: float
    lon: float
    participants: int
    kg: float
    phone: tuple[str, str]


@dataclass
class _Shot:
    """A photo to produce: drawn from ``scene`` with the items ``keep`` at ``pose`` (key) at ``time``."""

    entry_id: str
    role: str
    name: str
    scene: str | None = None
    keep: tuple[int, ...] = ()
    pose: str = "base"
    time: str = ""
    gps: tuple[float, float] | None = None
    origin: str = "drawn"
    source: str | None = None  # (entry_id, role, name) key of the source photo, for copies
    exif: bool = True

    @property
    def key(self) -> tuple[str, str, str]:
        return self.entry_id, self.role, self.name


_SCENES: dict[str, tuple[str, int]] = {  # scene id -> (kind, litter items)
    "A": ("street", 8), "B": ("park", 10), "C": ("riverbank", 7), "D": ("alley", 9), "F": ("street", 6),
    "G": ("park", 0), "H": ("riverbank", 8), "K": ("alley", 7), "M": ("park", 6), "I1": ("street", 7),
    "I2": ("street", 6), "J": ("alley", 6),
}

_META: dict[str, _Meta] = {
    "01-full-cleanup": _Meta("Nguyễn Thị Minh Thư", "Đoàn Thanh niên phường Vĩnh Ninh", "collective", "2024-06-02",
                             "Đường Lê Lợi, đoạn trước Trường Quốc Học, phường Vĩnh Ninh, TP Huế",
                             16.4617, 107.5868, 18, 12.5, ("samsung", "SM-A525F")),
    "02-partial-cleanup": _Meta('Nhóm <b>"Sạch & Xanh"</b>', "CLB Môi trường Xanh Huế", "collective",
                                "2024-06-08", "Công viên Tứ Tượng, đường Lê Lợi, phường Vĩnh Ninh, TP Huế",
                                16.4663, 107.5925, 9, 6.0, ("Apple", "iPhone 12")),
    "03-no-cleanup": _Meta("Trần Văn Hùng", None, "individual", "2024-06-09",
                           "Bờ sông Hương, đường Trịnh Công Sơn, phường Phú Hiệp, TP Huế",
                           16.4752, 107.5921, 1, 3.0, ("Xiaomi", "Redmi Note 11")),
    "04-shared-photo-a": _Meta("Lê Hoàng Phúc", "Chi đoàn Trường THPT Quốc Học", "collective", "2024-06-15",
                               "Kiệt 12 Nguyễn Trường Tộ, phường Phước Vĩnh, TP Huế",
                               16.4540, 107.5889, 12, 8.0, ("OPPO", "CPH2269")),
    "05-shared-photo-b": _Meta("Phạm Ngọc Ánh", "Hội Phụ nữ phường Phước Vĩnh", "collective", "2024-06-16",
                               "Kiệt 12 Nguyễn Trường Tộ, phường Phước Vĩnh, TP Huế",
                               16.4541, 107.5890, 6, 5.0, ("vivo", "V2111")),
    "06-mirrored-reupload": _Meta("Hoàng Đức Tài", None, "individual", "2024-06-20",
                                  "Kiệt 5 Đặng Huy Trứ, phường Phước Vĩnh, TP Huế",
                                  16.4528, 107.5903, 1, 4.0, ("samsung", "SM-A127F")),
    "07-unrelated-after": _Meta("Võ Thị Hồng Nhung", "Đội thanh niên tình nguyện phường Thuận Hòa", "collective",
                                "2024-06-22", "Đường Đinh Tiên Hoàng, phường Thuận Hòa, TP Huế",
                                16.4758, 107.5772, 7, 5.5, ("Apple", "iPhone 11")),
    "08-unchanged-after": _Meta("Huỳnh Quốc Bảo", None, "individual", "2024-06-23", "Cồn Hến, phường Vỹ Dạ, TP Huế",
                                16.4779, 107.5953, 1, 2.5, ("Xiaomi", "Redmi 10")),
    "09-corrupt-file": _Meta("Đặng Thùy Dung", "Nhóm tình nguyện Sông Hương Xanh", "collective", "2024-06-29",
                             "Chợ Đông Ba, đường Trần Hưng Đạo, phường Phú Hòa, TP Huế",
                             16.4723, 107.5870, 15, 20.0, ("samsung", "SM-A325F")),
    "10-missing-after": _Meta("Bùi Gia Huy", None, "individual", "2024-06-29",
                              "Hồ Tịnh Tâm, đường Đinh Tiên Hoàng, phường Thuận Thành, TP Huế",
                              16.4785, 107.5752, 1, 1.5, ("OPPO", "CPH2127")),
    "11-two-spots-shuffled": _Meta("Phan Thanh Tâm", "Đoàn Thanh niên phường Phú Hội", "collective", "2024-06-30",
                                   "Đường Nguyễn Huệ, phường Phú Hội, TP Huế",
                                   16.4642, 107.5963, 22, 15.0, ("Apple", "iPhone 13")),
    "12-exif-time-order": _Meta("Trương Minh Khoa", "Câu lạc bộ Xe đạp Huế", "collective", "2024-06-30",
                                "Đường Phạm Văn Đồng, phường Vỹ Dạ, TP Huế",
                                16.4705, 107.6082, 3, 4.0, ("vivo", "V2027")),
}

# When each entrant submitted the entry in the contest app: the evening of the clean-up. It orders the entries
# that share a photo whose capture times cannot (04 first, then 05, then 06: pipeline.dedup.order).
SUBMITTED_AT = {e: f"{m.event_date}T20:{i:02d}:00" for i, (e, m) in enumerate(_META.items())}

_DESCRIPTIONS = {
    "01-full-cleanup": "street: all 8 litter items gone in the after photo",
    "02-partial-cleanup": "park: half of the 10 items removed; participant name has HTML characters",
    "03-no-cleanup": "riverbank: same 7 items in the after photo, camera moved a little",
    "04-shared-photo-a": "alley: honest clean-up whose photos 05 and 06 reused; 04 submitted first, so it keeps "
                         "its evidence (PHOTO_COPIED_BY_LATER) and may win",
    "05-shared-photo-b": "the before photo is a byte-identical copy of 04's before photo, submitted a day later",
    "06-mirrored-reupload": "04's photos flipped left-right, resized and re-encoded, without EXIF",
    "07-unrelated-after": "the after photo shows another place",
    "08-unchanged-after": "the after photo is the before photo again (byte-identical)",
    "09-corrupt-file": "one of two before photos is a truncated JPEG; the other photos are good",
    "10-missing-after": "no after photo at all",
    "11-two-spots-shuffled": "two spots, two before and two after photos, after photos in the other order",
    "12-exif-time-order": "honest clean-up, but EXIF says the after photo was taken before the before photo",
}

_ALL = "ALL"  # keep every litter item


def _stories() -> list[_Shot]:
    """Every photo of the sample, in the order they are produced (sources before their copies)."""
    S = _Shot
    ten = tuple(range(10))
    return [
        S("01-full-cleanup", "before", "20240602_071305.jpg", "A", _ALL, "base", "2024-06-02T07:13:05"),
        S("01-full-cleanup", "after", "20240602_093847.jpg", "A", (), "moved", "2024-06-02T09:38:47"),
        S("02-partial-cleanup", "before", "IMG_4821.jpg", "B", _ALL, "base", "2024-06-08T16:02:11"),
        S("02-partial-cleanup", "after", "IMG_4836.jpg", "B", ten[::2], "moved", "2024-06-08T17:25:40"),
        S("03-no-cleanup", "before", "IMG_20240609_062214.jpg", "C", _ALL, "base", "2024-06-09T06:22:14"),
        S("03-no-cleanup", "after", "IMG_20240609_081502.jpg", "C", _ALL, "moved", "2024-06-09T08:15:02"),
        S("04-shared-photo-a", "before", "IMG20240615070412.jpg", "D", _ALL, "base", "2024-06-15T07:04:12"),
        S("04-shared-photo-a", "after", "IMG20240615090133.jpg", "D", (), "moved", "2024-06-15T09:01:33"),
        S("05-shared-photo-b", "before", "IMG_20240616_065950.jpg", origin="copy",
          source=("04-shared-photo-a", "before", "IMG20240615070412.jpg")),
        S("05-shared-photo-b", "after", "IMG_20240616_102218.jpg", "D", (0, 3, 5, 7), "moved2", "2024-06-16T10:22:18"),
        S("06-mirrored-reupload", "before", "received_1187403325.jpeg", origin="mirror", exif=False,
          source=("04-shared-photo-a", "before", "IMG20240615070412.jpg")),
        S("06-mirrored-reupload", "after", "received_1187403391.jpeg", origin="mirror", exif=False,
          source=("04-shared-photo-a", "after", "IMG20240615090133.jpg")),
        S("07-unrelated-after", "before", "IMG_0412.JPG", "F", _ALL, "base", "2024-06-22T06:45:30"),
        S("07-unrelated-after", "after", "IMG_0419.JPG", "G", (), "base", "2024-06-22T08:10:05",
          gps=(16.4862, 107.5702)),
        S("08-unchanged-after", "before", "IMG_20240623_170144.jpg", "H", _ALL, "base", "2024-06-23T17:01:44"),
        S("08-unchanged-after", "after", "IMG_20240623_170144(1).jpg", origin="copy",
          source=("08-unchanged-after", "before", "IMG_20240623_170144.jpg")),
        S("09-corrupt-file", "before", "20240629_063012.jpg", "K", _ALL, "base", "2024-06-29T06:30:12"),
        S("09-corrupt-file", "before", "20240629_063020.jpg", "K", _ALL, "side", "2024-06-29T06:30:20",
          origin="truncated"),
        S("09-corrupt-file", "after", "20240629_091544.jpg", "K", (), "moved", "2024-06-29T09:15:44"),
        S("10-missing-after", "before", "IMG_20240629_153301.jpg", "M", _ALL, "base", "2024-06-29T15:33:01"),
        S("11-two-spots-shuffled", "before", "IMG_5102.jpg", "I1", _ALL, "base", "2024-06-30T06:10:22"),
        S("11-two-spots-shuffled", "before", "IMG_5104.jpg", "I2", _ALL, "base", "2024-06-30T06:12:47"),
        S("11-two-spots-shuffled", "after", "IMG_5131.jpg", "I2", (), "moved", "2024-06-30T08:40:03"),
        S("11-two-spots-shuffled", "after", "IMG_5133.jpg", "I1", (1,), "moved", "2024-06-30T08:43:31"),
        S("12-exif-time-order", "before", "truoc_don_rac.jpg", "J", _ALL, "base", "2024-06-30T09:05:10"),
        S("12-exif-time-order", "after", "sau_don_rac.jpg", "J", (), "moved", "2024-06-30T07:20:55"),
    ]


def _flags() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    honest = set(HONEST_FORBIDDEN)
    expected = {
        "01-full-cleanup": set(), "02-partial-cleanup": set(), "03-no-cleanup": set(),
        "04-shared-photo-a": {"PHOTO_COPIED_BY_LATER"}, "05-shared-photo-b": {"DUPLICATE_PHOTO"},
        "06-mirrored-reupload": {"DUPLICATE_PHOTO"}, "07-unrelated-after": {"SCENE_MISMATCH"},
        "08-unchanged-after": {"UNCHANGED_AFTER"}, "09-corrupt-file": set(), "10-missing-after": {"MISSING_PHOTOS"},
        "11-two-spots-shuffled": set(), "12-exif-time-order": {"EXIF_TIME_ORDER"},
    }
    forbidden = {
        "01-full-cleanup": honest, "02-partial-cleanup": honest, "03-no-cleanup": honest,
        "04-shared-photo-a": {"DUPLICATE_PHOTO", "SCENE_MISMATCH", "UNCHANGED_AFTER", "MISSING_PHOTOS",
                              "EXIF_TIME_ORDER"},
        "05-shared-photo-b": {"SCENE_MISMATCH", "UNCHANGED_AFTER", "MISSING_PHOTOS", "EXIF_TIME_ORDER"},
        "06-mirrored-reupload": {"SCENE_MISMATCH", "UNCHANGED_AFTER", "MISSING_PHOTOS"},
        "07-unrelated-after": {"DUPLICATE_PHOTO", "UNCHANGED_AFTER", "MISSING_PHOTOS", "EXIF_TIME_ORDER"},
        "08-unchanged-after": {"DUPLICATE_PHOTO", "SCENE_MISMATCH", "MISSING_PHOTOS"},
        "09-corrupt-file": honest, "10-missing-after": {"DUPLICATE_PHOTO", "UNCHANGED_AFTER", "SCENE_MISMATCH"},
        "11-two-spots-shuffled": honest,
        "12-exif-time-order": honest - {"EXIF_TIME_ORDER"},
    }
    with_detector = {e: set() for e in expected}
    with_detector.update({"02-partial-cleanup": {"LITTER_REMAINS"}, "03-no-cleanup": {"LITTER_REMAINS"},
                          "05-shared-photo-b": {"LITTER_REMAINS"}})
    not_with_detector = {e: set() for e in expected}
    for e in ("01-full-cleanup", "04-shared-photo-a", "12-exif-time-order"):
        not_with_detector[e] = {"LITTER_REMAINS", "NO_LITTER_BEFORE"}
    for e in ("02-partial-cleanup", "03-no-cleanup", "11-two-spots-shuffled", "09-corrupt-file"):
        not_with_detector[e] = {"NO_LITTER_BEFORE"}
    return expected, forbidden, with_detector, not_with_detector


# --------------------------------------------------------------------------------------- rendering
@dataclass
class _Place:
    scene: draw.SceneImage
    items: list[litter.LitterItem]
    poses: dict[str, draw.Pose]
    rng: np.random.Generator
    worlds: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)

    def world(self, keep: tuple[int, ...]) -> np.ndarray:
        if keep not in self.worlds:
            self.worlds[keep] = litter.composite(self.scene.image, self.scene.light, [self.items[i] for i in keep])
        return self.worlds[keep]


def _place(seed: int, index: int, kind: str, n_items: int) -> _Place:
    rng = np.random.default_rng([seed, index])
    scene = draw.render_scene(rng, kind)
    base = draw.base_pose(rng, scene.tilt)
    items = litter.scatter(rng, scene.ground, np.linalg.inv(draw.homography(base)), n_items, scene.sun)
    poses = {"base": base}
    for key in ("moved", "moved2", "side"):
        poses[key] = draw.moved(rng, base)
    return _Place(scene=scene, items=items, poses=poses, rng=rng)


def _boxes(items: list[litter.LitterItem], keep: tuple[int, ...], pose: draw.Pose) -> tuple[LitterBox, ...]:
    h = draw.homography(pose)
    out = []
    for i in keep:
        q = draw.map_points(h, items[i].hull.astype(np.float64))
        x0, y0 = np.clip(q.min(0), 0, [draw.PHOTO_W, draw.PHOTO_H])
        x1, y1 = np.clip(q.max(0), 0, [draw.PHOTO_W, draw.PHOTO_H])
        out.append(LitterBox(items[i].kind, (round(float(x0), 1), round(float(y0), 1),
                                             round(float(x1), 1), round(float(y1), 1))))
    return tuple(out)


def _dms(deg: float) -> tuple[float, float, float]:
    d = int(abs(deg))
    m = int((abs(deg) - d) * 60)
    return float(d), float(m), round((abs(deg) - d - m / 60) * 3600, 2)


def _exif_bytes(make: str, model: str, taken_at: str, lat: float, lon: float) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken_at.replace("-", ":").replace("T", " ")
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
    return exif.tobytes()


def _jpeg(rgb: np.ndarray, quality: int, exif: bytes | None) -> bytes:
    buf = io.BytesIO()
    kw = {"exif": exif} if exif else {}
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def _gps_near(rng: np.random.Generator, lat: float, lon: float) -> tuple[float, float]:
    """A phone fix within about 10 m of (lat, lon), rounded like EXIF seconds."""
    return round(lat + rng.uniform(-8e-5, 8e-5), 6), round(lon + rng.uniform(-8e-5, 8e-5), 6)


def _draw_scene(seed: int, scene_id: str, shots: list["_Shot"], gps: dict) -> dict:
    """Render one place and every drawn shot of it (in story order): key -> (JPEG bytes, litter boxes)."""
    kind, n = _SCENES[scene_id]
    place = _place(seed, list(_SCENES).index(scene_id), kind, n)
    out = {}
    for shot in shots:
        keep = tuple(range(len(place.items))) if shot.keep == _ALL else tuple(i for i in shot.keep
                                                                                if i < len(place.items))
        pose = place.poses[shot.pose]
        img = draw.shoot(place.world(keep), pose, draw.random_light(place.rng))
        exif = _exif_bytes(*_META[shot.entry_id].phone, shot.time, *gps[shot.key])
        out[shot.key] = (_jpeg(img, JPEG_QUALITY, exif), _boxes(place.items, keep, pose))
    return out


def _mirror(data: bytes, boxes: tuple[LitterBox, ...], width: int, height: int) -> tuple[bytes, tuple[LitterBox, ...]]:
    """A re-upload of JPEG ``data``: flipped left-right, resized to :data:`REUPLOAD_SIZE`, re-encoded at
    :data:`REUPLOAD_QUALITY` without EXIF; with its litter boxes mapped along."""
    img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, ::-1]
    img = cv2.resize(img, REUPLOAD_SIZE, interpolation=cv2.INTER_AREA)
    sx, sy = REUPLOAD_SIZE[0] / width, REUPLOAD_SIZE[1] / height
    boxes = tuple(LitterBox(b.kind, (round(REUPLOAD_SIZE[0] - b.xyxy[2] * sx, 1), round(b.xyxy[1] * sy, 1),
                                     round(REUPLOAD_SIZE[0] - b.xyxy[0] * sx, 1), round(b.xyxy[3] * sy, 1)))
                  for b in boxes)
    return _jpeg(img, REUPLOAD_QUALITY, None), boxes


# ------------------------------------------------------------------------------------------- public
def make_sample(dest: Path, seed: int = 0, form: str = "folder", *, workers: int | None = None) -> SampleBatch:
    """Write the sample batch into ``dest`` and return its ground truth.

    ``form``: ``"folder"`` (one folder per entry) or ``"manifest"`` (flat ``photos/`` plus
    ``manifest.csv`` and ``manifest.jsonl``). ``dest`` must be missing, empty, or hold an earlier sample
    (which is replaced); anything else raises ``FileExistsError`` so that no user file is deleted.
    Same ``seed`` -> byte-identical files (whatever ``workers``, the number of threads drawing places in
    parallel; default: up to 4, one per CPU). Takes a few seconds.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    dest = Path(dest)
    _clear(dest)
    expected, forbidden, with_det, not_with_det = _flags()
    entry_ids = tuple(_META)
    shots = _stories()
    meta_rng = np.random.default_rng([seed, 999])
    gps: dict[tuple[str, str, str], tuple[float, float]] = {}
    for shot in shots:  # phone GPS fixes, in story order
        if shot.scene is not None:
            gps[shot.key] = shot.gps or _gps_near(meta_rng, _META[shot.entry_id].lat, _META[shot.entry_id].lon)
    scene_ids = list(dict.fromkeys(shot.scene for shot in shots if shot.scene is not None))
    workers = max(1, min(4, os.cpu_count() or 1)) if workers is None else workers
    with ThreadPoolExecutor(max_workers=workers) as pool:  # scenes are independent: same bytes in any order
        drawn: dict[tuple[str, str, str], tuple[bytes, tuple[LitterBox, ...]]] = {}
        for part in pool.map(lambda sid: _draw_scene(seed, sid, [s for s in shots if s.scene == sid], gps),
                             scene_ids):
            drawn.update(part)

    def rel(key: tuple[str, str, str]) -> str:
        e, role, name = key
        return f"photos/{e}_{name}" if form == "manifest" else f"{e}/{role}/{name}"

    files: dict[tuple[str, str, str], bytes] = {}
    truth: dict[tuple[str, str, str], SamplePhoto] = {}
    for shot in shots:
        key = shot.key
        if shot.origin in ("copy", "mirror"):
            src = truth[shot.source]
            data = files[shot.source]
            boxes = src.litter
            width, height = src.width, src.height
            if shot.origin == "mirror":
                data, boxes = _mirror(data, boxes, width, height)
                width, height = REUPLOAD_SIZE
            taken, lat, lon = (src.taken_at, src.lat, src.lon) if shot.exif else (None, None, None)
            scene, source = src.scene, src.rel_path
        else:
            data, boxes = drawn[key]
            (lat, lon), taken, source = gps[key], shot.time, None
            width, height, scene = draw.PHOTO_W, draw.PHOTO_H, shot.scene
            if shot.origin == "truncated":
                data, boxes, scene = data[: int(len(data) * TRUNCATE_FRACTION)], (), None
        files[key] = data
        truth[key] = SamplePhoto(rel(key), shot.entry_id, shot.role, scene, shot.origin, source, boxes, width,
                                 height, taken, lat, lon, hashlib.sha256(data).hexdigest())

    for key, data in files.items():
        path = dest / truth[key].rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    batch = SampleBatch(
        root=dest, form=form, input_path=dest, entry_ids=entry_ids, descriptions=dict(_DESCRIPTIONS),
        expected_flags=expected, forbidden_flags=forbidden, expected_with_detector=with_det,
        forbidden_with_detector=not_with_det, photos={p.rel_path: p for p in truth.values()},
        bad_photos={p.rel_path: "PHOTO_TRUNCATED" for p in truth.values() if p.origin == "truncated"},
        true_pairs=_true_pairs(truth), same_place_pairs=(), different_place_pairs=())
    batch.same_place_pairs, batch.different_place_pairs = _test_pairs(batch)
    if form == "folder":
        for e in entry_ids:
            _write_entry_json(dest / e / "entry.json", _META[e], SUBMITTED_AT[e])
    else:
        batch.manifest_csv, batch.manifest_jsonl = _write_manifest(dest, truth)
        batch.input_path = batch.manifest_csv
    return batch


def _clear(dest: Path) -> None:
    ours = set(_META) | {"photos", "manifest.csv", "manifest.jsonl"}
    if dest.exists():
        if not dest.is_dir():
            raise FileExistsError(f"{dest} exists and is not a folder")
        others = [p.name for p in dest.iterdir() if p.name not in ours]
        if others:
            raise FileExistsError(f"{dest} holds files that are not a sample batch ({', '.join(sorted(others)[:5])});"
                                  " choose an empty or new folder")
        for p in dest.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    dest.mkdir(parents=True, exist_ok=True)


def _true_pairs(truth: dict[tuple[str, str, str], SamplePhoto]) -> dict[str, tuple[tuple[str, str], ...]]:
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for e in _META:
        ph = [p for p in truth.values() if p.entry_id == e and p.scene is not None]
        out[e] = tuple((b.rel_path, a.rel_path) for b in ph if b.role == "before"
                       for a in ph if a.role == "after" and a.scene == b.scene)
    return out


def _test_pairs(batch: SampleBatch) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Same-place pairs: every true before/after pair plus the two after photos of place D. Different-place
    pairs: every before/after of one entry showing different places, and the first photo of each place
    against the first photo of the next place."""
    same = [p for e in batch.entry_ids for p in batch.true_pairs[e]]
    d_after = [p.rel_path for p in batch.photos.values()
               if p.scene == "D" and p.role == "after" and p.origin == "drawn"]
    same.append((d_after[0], d_after[1]))
    diff = []
    for e in batch.entry_ids:
        ph = [p for p in batch.photos_of(e) if p.scene is not None]
        diff += [(b.rel_path, a.rel_path) for b in ph if b.role == "before"
                 for a in ph if a.role == "after" and a.scene != b.scene]
    firsts: dict[str, str] = {}
    for p in batch.photos.values():
        if p.scene is not None and p.origin == "drawn":
            firsts.setdefault(p.scene, p.rel_path)
    order = list(firsts.values())
    diff += [(order[i], order[(i + 1) % len(order)]) for i in range(len(order))]
    unique = {frozenset(p): p for p in reversed(diff)}  # each pair once, first occurrence kept
    return tuple(same), tuple(p for p in diff if unique[frozenset(p)] is p)


def _write_entry_json(path: Path, m: _Meta, submitted_at: str) -> None:
    doc = {"participant": m.participant, "team": m.team, "kind": m.kind, "event_date": m.event_date,
           "submitted_at": submitted_at,
           "location": {"lat": m.lat, "lon": m.lon, "address": m.address},
           "reported": {"participants": m.participants, "kg": m.kg}}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def manifest_rows(truth: dict[tuple[str, str, str], SamplePhoto]) -> list[dict[str, object]]:
    """The manifest's rows (one per photo, :data:`MANIFEST_COLUMNS` keys, None = no value)."""
    rows = []
    for p in truth.values():
        m = _META[p.entry_id]
        rows.append({"entry_id": p.entry_id, "role": p.role, "path": p.rel_path, "taken_at": p.taken_at,
                     "lat": p.lat, "lon": p.lon, "participant": m.participant, "team": m.team, "kind": m.kind,
                     "event_date": m.event_date, "submitted_at": SUBMITTED_AT[p.entry_id],
                     "address": m.address, "location_lat": m.lat,
                     "location_lon": m.lon, "reported_participants": m.participants, "reported_kg": m.kg})
    return rows


def _write_manifest(dest: Path, truth: dict[tuple[str, str, str], SamplePhoto]) -> tuple[Path, Path]:
    rows = manifest_rows(truth)
    csv_path, jsonl_path = dest / "manifest.csv", dest / "manifest.jsonl"
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    with open(jsonl_path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return csv_path, jsonl_path
