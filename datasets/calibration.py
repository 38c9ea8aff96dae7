"""Calibration set for the verify and score stages: before/after entries with ground truth, built from real
litter photos with YOLO boxes (../shared/data/litter/aquatrash/train and litter/trash_collection/train).

There are no real before/after pairs, so each entry is made from one photo:

- ``clean``: some, all or none of the annotated litter is removed (covered with nearby ground, see
  :func:`remove_litter`; chosen uniformly), then
  the camera "moves": the after photo is a view through a random quadrilateral inside the before photo
  (3-14 % margins, +-6 degrees rotation, perspective jitter), with a light change (gamma, gain, colour
  cast) and JPEG re-encoding. The true homography maps before -> after full-size pixels.
- ``unrelated``: the after photo is a ``clean`` after photo of ANOTHER source photo (another group, so
  never a copy of the same scene).
- ``identical``: the after photo is the before photo again (half byte-identical, half re-encoded).
- ``exif_order`` / ``exif_gap`` / ``gps_far`` / ``gps_location``: a ``clean`` entry whose EXIF capture
  times are in the wrong order or days apart, whose after photo's GPS is ~2 km away, or whose entry
  location is ~2 km from the photos.
- ``multi``: two before and two after photos of two scenes, the after photos in shuffled order.

Wide entries (``wide*``, :func:`make_wide_scene`): 3-6 litter items cut from the same photos are blended
into a street scene at 1.5-12 % of its width (pipeline.detect.wide); the after photo is the street with
some of them never placed, moved and relit the same way.

Held out: close-up entries from ``litter/aquatrash/val`` and wide entries on street scenes no detector
trained on, with items from those photos (half of each kind); the tuning part uses the training folders.

Independently, some entries carry no EXIF at all, some after photos are blurred or darkened (LOW_QUALITY
truth) and some report implausible kilograms or participants (CLAIM_IMPLAUSIBLE truth).

Everything is deterministic given ``seed``. Entries are written in the batch folder layout
(``OUT/batch/<entry_id>/{entry.json,before/,after/}``) with ``OUT/truth.jsonl``: per entry the scenario,
the true fraction of litter removed (removed / items in the ground both photos show; 0 for unrelated and
identical after photos), the flags that should be raised, whether it is held out, and each photo's
ground-truth boxes in its own full-size pixels. Write it OUTSIDE the repository.

Run: ``python datasets/calibration.py --out /tmp/calib --n 240 --n-wide 120`` (or import :func:`build_calibration_set`).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

MAX_SIDE = 1600  # source photos are reduced to this longest side (pixels)
SCENARIOS: dict[str, float] = {  # share of entries
    "clean": 0.50, "unrelated": 0.14, "identical": 0.10, "exif_order": 0.06, "exif_gap": 0.06,
    "gps_far": 0.06, "gps_location": 0.04, "multi": 0.04,
}
MAX_LITTER_COVER = 0.30  # sources whose boxes cover more of the photo are close-ups of an item, not a place
BASE_LAT, BASE_LON = 10.0300, 105.7700  # Can Tho; each entry gets its own spot near here


@dataclass(frozen=True)
class SourcePhoto:
    """A real photo with litter boxes: ``boxes`` (N, 4) xyxy in pixels of the photo; ``group`` names the
    original scene (copies and augmentations of one scene share it)."""

    path: Path
    boxes: np.ndarray
    group: str


@dataclass
class PhotoTruth:
    rel_path: str
    role: str
    boxes: list[list[float]]  # xyxy, full-size pixels of the written photo
    scene: str  # source group


@dataclass
class EntryTruth:
    entry_id: str
    scenario: str
    holdout: bool
    true_fraction_removed: float
    items_before: int  # in the ground both photos show
    removed: int
    expected_flags: list[str]
    photos: list[PhotoTruth] = field(default_factory=list)
    true_pairs: list[tuple[str, str]] = field(default_factory=list)  # (before rel_path, after rel_path)
    kind: str = "closeup"  # closeup: a litter photo; wide: litter items blended into a street scene

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EntryTruth":
        d = dict(d)
        d["photos"] = [PhotoTruth(**p) for p in d["photos"]]
        d["true_pairs"] = [tuple(p) for p in d.get("true_pairs", [])]
        return cls(**d)


# --------------------------------------------------------------------------------------------- sources
def _yolo_boxes(label: Path, w: int, h: int) -> np.ndarray:
    rows = []
    if label.exists():
        for line in label.read_text().split("\n"):
            parts = line.split()
            if len(parts) >= 5:
                cx, cy, bw, bh = (float(v) for v in parts[1:5])
                rows.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
    b = np.array(rows, np.float64).reshape(-1, 4)
    return np.clip(b, 0, [w, h, w, h])


def litter_cover(boxes: np.ndarray, size: tuple[int, int]) -> float:
    """Fraction of a photo of ``size`` (width, height) covered by the union of ``boxes``."""
    w, h = size
    f = 256 / max(w, h)
    mask = np.zeros((max(1, round(h * f)), max(1, round(w * f))), bool)
    for x1, y1, x2, y2 in boxes * f:
        mask[int(y1):int(math.ceil(y2)), int(x1):int(math.ceil(x2))] = True
    return float(mask.mean())


def load_sources(shared_data: Path) -> list[SourcePhoto]:
    """One photo per original scene with at least one box: aquatrash/train (largest copy of each TACO
    photo) and trash_collection/train (one per group of dedup/trash_collection_groups.csv, ambiguous
    groups left out). Close-ups, whose boxes cover more than ``MAX_LITTER_COVER`` of the photo, are left
    out: once the item is removed no ground is left to recognise the place by. Sorted by path."""
    out: list[SourcePhoto] = []
    aqua = shared_data / "litter" / "aquatrash" / "train"
    best: dict[str, tuple[int, Path]] = {}
    for img in sorted((aqua / "images").glob("*")):
        group = "aqua-" + re.split(r"_(?:jpe?g|png)\.rf\.", img.name, flags=re.I)[0].lower()
        with Image.open(img) as im:
            area = im.size[0] * im.size[1]
        if group not in best or area > best[group][0]:
            best[group] = (area, img)
    tc_groups: dict[str, str] = {}
    csv_path = shared_data / "dedup" / "trash_collection_groups.csv"
    if csv_path.exists():
        for row in csv.DictReader(open(csv_path)):
            if "/train/" in row["path"] and row["group"] != "-1":
                tc_groups.setdefault("tc-" + row["group"], row["path"])
    candidates = [(g, p) for g, (_, p) in best.items()] + [(g, shared_data / p) for g, p in tc_groups.items()]
    for group, img in sorted(candidates, key=lambda gp: str(gp[1])):
        label = img.parent.parent / "labels" / (img.stem + ".txt")
        with Image.open(img) as im:
            w, h = im.size
        boxes = _yolo_boxes(label, w, h)
        if len(boxes) and litter_cover(boxes, (w, h)) <= MAX_LITTER_COVER:
            out.append(SourcePhoto(img, boxes, group))
    return out


def load_holdout_sources(shared_data: Path) -> list[SourcePhoto]:
    """Close-up sources the shipped detectors never trained on: ``litter/aquatrash/val`` (one photo per TACO
    photo, close-ups left out as in :func:`load_sources`). Held-out entries are built from these only, so
    the held-out numbers measure the detector on photos it has not seen."""
    out: list[SourcePhoto] = []
    val = shared_data / "litter" / "aquatrash" / "val"
    seen: set[str] = set()
    for img in sorted((val / "images").glob("*")):
        group = "aquaval-" + re.split(r"_(?:jpe?g|png)\.rf\.", img.name, flags=re.I)[0].lower()
        if group in seen:
            continue
        seen.add(group)
        with Image.open(img) as im:
            w, h = im.size
        boxes = _yolo_boxes(val / "labels" / (img.stem + ".txt"), w, h)
        if len(boxes) and litter_cover(boxes, (w, h)) <= MAX_LITTER_COVER:
            out.append(SourcePhoto(img, boxes, group))
    return out


def read_rgb(path: Path, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """HxWx3 uint8 RGB at longest side <= max_side, and the factor applied."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        f = min(1.0, max_side / max(im.size))
        if f < 1.0:
            im = im.resize((round(im.size[0] * f), round(im.size[1] * f)), Image.BOX)
        return np.asarray(im).copy(), f


# ----------------------------------------------------------------------------------------- transforms
def remove_litter(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
                  avoid: np.ndarray | None = None) -> np.ndarray:
    """``image`` with the litter in ``boxes`` (xyxy px) covered by ground copied from nearby.

    Each box (grown by 8 %) is filled with the same-size patch at one of 16 nearby offsets that lies inside
    the photo, touches no litter box (``boxes`` and ``avoid``) and best matches the ring of pixels around
    the box; the patch is blended in with a feathered edge. Where no clean patch exists, OpenCV TELEA
    inpainting fills the box instead.
    """
    out = image.copy()
    if len(boxes) == 0:
        return out
    h, w = image.shape[:2]
    litter = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in np.concatenate([boxes, avoid if avoid is not None else np.zeros((0, 4))]):
        litter[max(0, int(y1) - 2):int(math.ceil(y2)) + 2, max(0, int(x1) - 2):int(math.ceil(x2)) + 2] = True
    for x1, y1, x2, y2 in boxes:
        px, py = max(4.0, 0.08 * (x2 - x1)), max(4.0, 0.08 * (y2 - y1))
        x1, y1 = max(0, int(x1 - px)), max(0, int(y1 - py))
        x2, y2 = min(w, int(math.ceil(x2 + px))), min(h, int(math.ceil(y2 + py)))
        bw, bh = x2 - x1, y2 - y1
        if bw < 2 or bh < 2:
            continue
        r = max(3, min(bw, bh) // 8)  # ring width for matching, px
        ring = np.ones((bh + 2 * r, bw + 2 * r), bool)
        ring[r:-r, r:-r] = False
        target = out[max(0, y1 - r):y2 + r, max(0, x1 - r):x2 + r].astype(np.float32)
        best, best_cost = None, np.inf
        offsets = [(dx * bw * f, dy * bh * f) for f in (1.1, 2.2) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                   if (dx, dy) != (0, 0)]
        for ox, oy in offsets:
            sx, sy = int(x1 + ox), int(y1 + oy)
            if sx - r < 0 or sy - r < 0 or sx + bw + r > w or sy + bh + r > h or y1 - r < 0 or x1 - r < 0 \
                    or y2 + r > h or x2 + r > w:
                continue
            if litter[sy:sy + bh, sx:sx + bw].any():
                continue
            donor = out[sy - r:sy + bh + r, sx - r:sx + bw + r].astype(np.float32)
            cost = float(np.abs(donor - target)[ring].mean())
            if cost < best_cost:
                best, best_cost = (sx, sy), cost
        if best is None:
            mask = np.zeros((h, w), np.uint8)
            mask[y1:y2, x1:x2] = 255
            out = cv2.inpaint(out, mask, 5, cv2.INPAINT_TELEA)
            continue
        sx, sy = best
        patch = out[sy:sy + bh, sx:sx + bw].astype(np.float32)
        feather = max(2, min(bw, bh) // 10)
        alpha = np.zeros((bh, bw), np.float32)
        alpha[feather:bh - feather, feather:bw - feather] = 1.0
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather / 2 + 0.5)[..., None]
        alpha = np.maximum(alpha, 0.0)
        region = out[y1:y2, x1:x2].astype(np.float32)
        # keep the donor's texture; pull the litter area fully to it, edges blend
        inner = np.zeros((bh, bw), np.float32)
        inner[int(py):bh - int(py), int(px):bw - int(px)] = 1.0
        alpha = np.maximum(alpha, inner[..., None])
        out[y1:y2, x1:x2] = np.clip(region * (1 - alpha) + patch * alpha, 0, 255).astype(np.uint8)
    return out


def camera_move(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A homography (before -> after pixels, both of ``size`` (width, height)) of a step or two of camera
    movement: the after photo sees a random quadrilateral inside the before photo."""
    w, h = size
    for _ in range(50):
        m = rng.uniform(0.03, 0.14, 4)
        quad = np.array([[m[0] * w, m[1] * h], [w - m[2] * w, m[1] * h], [w - m[2] * w, h - m[3] * h],
                         [m[0] * w, h - m[3] * h]])
        a = np.deg2rad(rng.uniform(-6, 6))
        c = quad.mean(0)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        quad = (quad - c) @ rot.T + c + rng.uniform(-0.025, 0.025, (4, 2)) * [w, h]
        if quad[:, 0].min() >= 0 and quad[:, 1].min() >= 0 and quad[:, 0].max() <= w and quad[:, 1].max() <= h:
            break
        quad = (quad - c) * 0.8 + c  # shrink towards the centre until it fits
        if quad[:, 0].min() >= 0 and quad[:, 1].min() >= 0 and quad[:, 0].max() <= w and quad[:, 1].max() <= h:
            break
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    return cv2.getPerspectiveTransform(quad.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def random_move(rng: np.random.Generator, size: tuple[int, int], rot_deg: float = 8, zoom: float = 1.15,
                shift: float = 0.06, tilt: float = 0.2) -> np.ndarray:
    """A 3x3 homography of a camera move about the centre of a photo of ``size`` (width, height): rotation
    up to ``rot_deg`` degrees, zoom in [1/zoom, zoom], shift up to ``shift`` of the size, perspective tilt
    up to ``tilt`` / longest side. Unlike :func:`camera_move`, the view may leave the before photo."""
    w, h = size
    a = np.deg2rad(rng.uniform(-rot_deg, rot_deg))
    s = rng.uniform(1 / zoom, zoom)
    r = np.array([[s * np.cos(a), -s * np.sin(a)], [s * np.sin(a), s * np.cos(a)]])
    c = np.array([w / 2, h / 2])
    hm = np.eye(3)
    hm[:2, :2] = r
    hm[:2, 2] = c - r @ c + rng.uniform(-shift, shift, 2) * [w, h]
    hm[2, :2] = rng.uniform(-tilt, tilt, 2) / max(w, h)
    return hm


def light_change(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another time of day: gamma 0.7-1.4, gain 0.8-1.2, a colour cast of up to +-8 % per channel."""
    x = image.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.7, 1.4) * rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, 3)
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def map_boxes_clipped(boxes: np.ndarray, h: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes mapped by ``h``, clipped to ``size``; boxes whose centre leaves the frame are dropped."""
    if len(boxes) == 0:
        return np.zeros((0, 4))
    x1, y1, x2, y2 = boxes.T
    corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1),
                        np.stack([x1, y2], 1)], 1).reshape(-1, 1, 2)
    q = cv2.perspectiveTransform(corners, h).reshape(-1, 4, 2)
    mapped = np.concatenate([q.min(1), q.max(1)], 1)
    keep = centres_in_view(boxes, h, size)
    w, hh = size
    return np.clip(mapped[keep], 0, [w, hh, w, hh])


def centres_in_view(boxes: np.ndarray, h: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: box centres that ``h`` maps inside a photo of ``size``."""
    if len(boxes) == 0:
        return np.zeros(0, bool)
    c = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1).reshape(-1, 1, 2)
    q = cv2.perspectiveTransform(c, h).reshape(-1, 2)
    return (q[:, 0] >= 0) & (q[:, 0] < size[0]) & (q[:, 1] >= 0) & (q[:, 1] < size[1])


# ------------------------------------------------------------------------------------------------ EXIF
def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round((value - d - m / 60) * 3600, 4))


def jpeg_bytes(image: np.ndarray, quality: int = 92, taken_at: str | None = None,
               gps: tuple[float, float] | None = None) -> bytes:
    """JPEG of an RGB image with EXIF DateTimeOriginal (``2024-06-02T07:31:05``) and GPS when given."""
    im = Image.fromarray(image)
    exif = Image.Exif()
    if taken_at:
        exif.get_ifd(0x8769)[0x9003] = taken_at.replace("-", ":").replace("T", " ")
        exif[0x0132] = taken_at.replace("-", ":").replace("T", " ")
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update({1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W",
                                     4: _dms(lon)})
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes() if (taken_at or gps) else b"")
    return buf.getvalue()


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (lat + north_m / 111_195.0, lon + east_m / (111_195.0 * math.cos(math.radians(lat))))


def _time(minutes: float) -> str:
    base = np.datetime64("2024-06-02T07:00:00")
    return str(base + np.timedelta64(int(round(minutes * 60)), "s"))


# ---------------------------------------------------------------------------------------------- build
@dataclass
class _Scene:
    """One generated before/after pair of one source photo."""

    before: np.ndarray
    after: np.ndarray
    before_boxes: np.ndarray
    after_boxes: np.ndarray
    in_view: int
    removed: int
    group: str


def make_scene(src: SourcePhoto, rng: np.random.Generator, fraction: float | None = None) -> _Scene:
    """Before photo = the source; after photo = a camera move of the source with some litter removed.

    ``fraction``: share of the visible items to remove (None: a number of items chosen uniformly, 0..all).
    """
    image, f = read_rgb(src.path)
    boxes = src.boxes * f
    hgt, wid = image.shape[:2]
    hom = camera_move(rng, (wid, hgt))
    visible = np.flatnonzero(centres_in_view(boxes, hom, (wid, hgt)))
    n = len(visible)
    k = int(rng.integers(0, n + 1)) if fraction is None else int(round(fraction * n))
    gone = rng.choice(visible, size=k, replace=False) if k else np.zeros(0, int)
    keep = np.setdiff1d(np.arange(len(boxes)), gone)
    cleaned = remove_litter(image, boxes[gone], rng, avoid=boxes[keep])
    after = cv2.warpPerspective(cleaned, hom, (wid, hgt), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    after = light_change(after, rng)
    after_boxes = map_boxes_clipped(boxes[keep], hom, (wid, hgt))
    return _Scene(image, after, boxes, after_boxes, n, k, src.group)


# Wide street scenes: the backgrounds of datasets/litter2.yaml's wide val split (scenes the detector never
# trained on) for held-out entries, its train scenes for the tuning part.
WIDE_BACKGROUNDS = {
    True: ("scenes/street_video_frames/bicycle_*.jpg", "scenes/clean_streets/bicycle.jpg",
           "scenes/street_pov_litter/IMG_[2-7].jpg"),
    False: ("scenes/street_video_frames/ny_*.jpg", "scenes/street_video_frames/traffic_*.jpg"),
}
WIDE_SCENARIOS: dict[str, float] = {"clean": 0.7, "unrelated": 0.1, "identical": 0.1, "exif_gap": 0.05,
                                    "gps_far": 0.05}


@dataclass(frozen=True)
class WideSource:
    """A street background and the litter items (RGBA cut-outs) that may be blended into it."""

    background: Path
    items: tuple  # of RGBA uint8 arrays
    group: str


def wide_sources(shared_data: Path, sources: list[SourcePhoto], holdout: bool) -> list[WideSource]:
    """One :class:`WideSource` per background of the split; items cut from ``sources`` (their boxes)."""
    from pipeline.detect.wide import cut_item, expand_backgrounds, scene_of

    items = []
    for src in sources:
        img, f = read_rgb(src.path)
        items += [c for c in (cut_item(img, b * f) for b in src.boxes) if c is not None]
    if not items:
        raise ValueError("no litter items could be cut for the wide scenes")
    bgs = expand_backgrounds(Path(shared_data), WIDE_BACKGROUNDS[holdout])
    return [WideSource(b, tuple(items), "wide-" + scene_of(b)) for b in bgs]


def make_wide_scene(src: WideSource, rng: np.random.Generator, fraction: float | None = None) -> _Scene:
    """Before photo = the street with 3-6 items blended in (pipeline.detect.wide, 1.5-12 % of the width);
    after photo = the same street with some items never placed (removed), then a camera move and a light
    change, as :func:`make_scene`."""
    from pipeline.detect.wide import CompositeDef, compose_scene, sample_placements

    bg, _ = read_rgb(src.background, 1280)
    hgt, wid = bg.shape[:2]
    cdef = CompositeDef(backgrounds={}, item_sources=())
    n = int(rng.integers(3, 7))
    chosen = [src.items[int(i)] for i in rng.choice(len(src.items), size=min(n, len(src.items)), replace=False)]
    pl = sample_placements(rng, (wid, hgt), [c.shape[0] / c.shape[1] for c in chosen], cdef)
    seed = int(rng.integers(1 << 30))
    before, boxes, idx = compose_scene(bg, chosen[:len(pl)], pl, seed)
    hom = camera_move(rng, (wid, hgt))
    visible = np.flatnonzero(centres_in_view(boxes, hom, (wid, hgt)))
    k = int(rng.integers(0, len(visible) + 1)) if fraction is None else int(round(fraction * len(visible)))
    gone = set(rng.choice(visible, size=k, replace=False).tolist()) if k else set()
    keep = [j for j in range(len(boxes)) if j not in gone]
    cleaned, _, _ = compose_scene(bg, [chosen[idx[j]] for j in keep], [pl[idx[j]] for j in keep], seed)
    after = cv2.warpPerspective(cleaned, hom, (wid, hgt), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    after = light_change(after, rng)
    return _Scene(before, after, boxes, map_boxes_clipped(boxes[keep], hom, (wid, hgt)), len(visible), k,
                  src.group)


def _pick_scenario(rng: np.random.Generator, table: dict[str, float] = SCENARIOS) -> str:
    names = list(table)
    p = np.array([table[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def build_calibration_set(shared_data: Path, out: Path, n_entries: int = 240, seed: int = 0,
                          n_wide: int = 0) -> list[EntryTruth]:
    """Write ``n_entries`` close-up and ``n_wide`` wide entries under ``out/batch`` and their truth to
    ``out/truth.jsonl``.

    Held out (about half of each kind): close-up entries built from ``litter/aquatrash/val``
    (:func:`load_holdout_sources`), wide entries on the street scenes of litter2's wide val split with
    items cut from those same photos; no detector was trained on either. The tuning part uses the training
    folders (:func:`load_sources`) and the training scenes.
    """
    shared_data = Path(shared_data)
    sources = {False: load_sources(shared_data), True: load_holdout_sources(shared_data)}
    for h, srcs in sources.items():
        if len(srcs) < 3:
            raise ValueError(f"need at least 3 {'held-out' if h else 'tuning'} source photos with litter "
                             f"boxes under {shared_data}")
    rng = np.random.default_rng(seed)
    batch = Path(out) / "batch"
    if batch.exists():  # a rebuild: remove the earlier entries (and refuse to touch anything else)
        others = [c.name for c in batch.iterdir() if not re.fullmatch(r"(cal|wide)\d{4}", c.name)]
        if others:
            raise ValueError(f"{batch} holds files that are not calibration entries: {others[:3]}")
        shutil.rmtree(batch)
    batch.mkdir(parents=True, exist_ok=True)
    truths = []
    orders = {h: rng.permutation(len(s)) for h, s in sources.items()}
    for e in range(n_entries):
        held = e % 2 == 1
        srcs = sources[held]
        src = srcs[orders[held][(e // 2) % len(srcs)]]
        scenario = _pick_scenario(rng)
        truths.append(_build_entry(f"cal{e:04d}", scenario, rng, batch, held,
                                   lambda r, s=src: make_scene(s, r),
                                   lambda r, s=src, ss=srcs: make_scene(_other_source(s, ss, r), r),
                                   lambda r, s=src, ss=srcs: make_scene(_other_source(s, ss, r), r)))
    if n_wide:
        wide = {h: wide_sources(shared_data, sources[h], h) for h in (False, True)}
        for e in range(n_wide):
            held = e % 2 == 1
            ws = wide[held]
            src = ws[int(rng.integers(len(ws)))]
            scenario = _pick_scenario(rng, WIDE_SCENARIOS)
            truths.append(_build_entry(f"wide{e:04d}", scenario, rng, batch, held,
                                       lambda r, s=src: make_wide_scene(s, r),
                                       lambda r, s=src, ss=ws: make_wide_scene(_other_source(s, ss, r), r),
                                       None, kind="wide"))
    with open(Path(out) / "truth.jsonl", "w") as fh:
        for t in truths:
            fh.write(json.dumps(t.to_dict()) + "\n")
    return truths


def _other_source(src, sources: list, rng: np.random.Generator):
    """Another source of ``sources`` showing another scene (group) than ``src``."""
    while True:
        other = sources[int(rng.integers(len(sources)))]
        if other.group != src.group:
            return other


def _build_entry(entry_id: str, scenario: str, rng: np.random.Generator, batch: Path, holdout: bool,
                 scene, unrelated, second, kind: str = "closeup") -> EntryTruth:
    """One entry: ``scene(rng)`` makes its before/after scene, ``unrelated(rng)`` a scene of another place
    (the after photo of ``unrelated`` entries) and ``second(rng)`` the second scene of ``multi`` entries."""
    folder = batch / entry_id
    (folder / "before").mkdir(parents=True, exist_ok=True)
    (folder / "after").mkdir(parents=True, exist_ok=True)
    spot = _offset(BASE_LAT, BASE_LON, rng.uniform(-5000, 5000), rng.uniform(-5000, 5000))
    has_exif = scenario in ("exif_order", "exif_gap", "gps_far") or rng.random() < 0.7
    start = rng.uniform(0, 600)  # minutes after 07:00
    expected: set[str] = set()
    photos: list[PhotoTruth] = []
    pairs: list[tuple[str, str]] = []

    scenes = [scene(rng)]
    if scenario == "multi":
        scenes.append(second(rng))
    befores = [(s.before, s.before_boxes, s.group) for s in scenes]
    afters = [(s.after, s.after_boxes, s.group) for s in scenes]
    in_view = sum(s.in_view for s in scenes)
    removed = sum(s.removed for s in scenes)
    remaining = in_view - removed
    if scenario == "unrelated":
        other = unrelated(rng)
        afters = [(other.after, other.after_boxes, other.group)]
        removed, remaining = 0, 0
        expected.add("SCENE_MISMATCH")
    identical = scenario == "identical"
    if identical:
        afters = [(scenes[0].before, scenes[0].before_boxes, scenes[0].group)]
        removed, remaining = 0, in_view
        expected.add("UNCHANGED_AFTER")

    quality_bad = not identical and rng.random() < 0.06
    if quality_bad:
        img, b, g = afters[0]
        img = cv2.GaussianBlur(img, (0, 0), 6) if rng.random() < 0.5 else (img * 0.13).astype(np.uint8)
        afters[0] = (img, b, g)
        expected.add("LOW_QUALITY")

    t_before = start
    t_after = start + rng.uniform(20, 180)
    if scenario == "exif_order":
        t_after = start - rng.uniform(30, 600)
        expected.add("EXIF_TIME_ORDER")
    if scenario == "exif_gap":
        t_after = start + rng.uniform(5, 20) * 24 * 60
        expected.add("EXIF_TIME_GAP")
    gps_after = _offset(*spot, rng.uniform(-20, 20), rng.uniform(-20, 20))
    if scenario == "gps_far":
        gps_after = _offset(*spot, 2000 * rng.choice([-1, 1]), rng.uniform(-500, 500))
        expected.add("GPS_MISMATCH")
    location = _offset(*spot, rng.uniform(-50, 50), rng.uniform(-50, 50))
    if scenario == "gps_location":
        location = _offset(*spot, 2000, 0)
        expected.add("GPS_MISMATCH" if has_exif else "")
    if not has_exif:
        expected.add("EXIF_MISSING")

    byte_copy = identical and rng.random() < 0.5
    before_paths = []
    for i, (img, boxes, group) in enumerate(befores):
        rel = f"{entry_id}/before/b{i + 1}.jpg"
        data = jpeg_bytes(img, 92, _time(t_before + i) if has_exif else None, spot if has_exif else None)
        (batch / rel).write_bytes(data)
        before_paths.append((rel, data))
        photos.append(PhotoTruth(rel, "before", np.round(boxes, 2).tolist(), group))
    order = list(range(len(afters)))
    if scenario == "multi":
        order = [1, 0]  # shuffled: the first after photo shows the second scene
    for k, i in enumerate(order):
        img, boxes, group = afters[i]
        rel = f"{entry_id}/after/a{k + 1}.jpg"
        if byte_copy:
            data = before_paths[0][1]
        else:
            data = jpeg_bytes(img, 88 if identical else int(rng.integers(85, 96)),
                              _time(t_after + k) if has_exif else None, gps_after if has_exif else None)
        (batch / rel).write_bytes(data)
        photos.append(PhotoTruth(rel, "after", np.round(boxes, 2).tolist(), group))
        if scenario != "unrelated":
            pairs.append((f"{entry_id}/before/b{i + 1}.jpg", rel))

    fraction = removed / in_view if in_view and scenario not in ("unrelated", "identical") else 0.0
    if scenario != "unrelated":
        if in_view == 0:
            expected.add("NO_LITTER_BEFORE")
        elif remaining / in_view >= 0.2:
            expected.add("LITTER_REMAINS")
    visible = sum(len(b) for _, b, _ in befores)
    if rng.random() < 0.12:
        reported = {"kg": round(visible * rng.uniform(60, 200) + 30, 1), "participants": int(rng.integers(1, 6))}
        expected.add("CLAIM_IMPLAUSIBLE")
    else:
        reported = {"kg": round(visible * rng.uniform(0.05, 1.0), 2),
                    "participants": int(rng.integers(1, max(2, min(visible, 8)) + 1))}
    entry = {"participant": f"calibration {entry_id}", "kind": "individual", "event_date": "2024-06-02",
             "location": {"lat": location[0], "lon": location[1]}, "reported": reported}
    (folder / "entry.json").write_text(json.dumps(entry))
    expected.discard("")
    return EntryTruth(entry_id, scenario, holdout, round(fraction, 4), in_view if scenario != "unrelated" else 0,
                      removed, sorted(expected), photos, pairs, kind)


def read_truth(out: Path) -> list[EntryTruth]:
    with open(Path(out) / "truth.jsonl") as fh:
        return [EntryTruth.from_dict(json.loads(line)) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--n-wide", type=int, default=120, help="wide street-scene entries (default: 120)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    truths = build_calibration_set(args.shared, args.out, args.n, args.seed, n_wide=args.n_wide)
    print(f"{len(truths)} entries in {args.out / 'batch'}, truth in {args.out / 'truth.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
