"""Wide-scene litter: labelled litter items blended into street photos at the sizes a phone photo shows them.

Contest photos are wide scenes (streets, alleys, canals) where each item is a few percent of the photo's
width, while the labelled litter photos are mostly close-ups. This module cuts each labelled item out of its
photo (GrabCut inside its box, a feathered ellipse when GrabCut fails), and pastes 3-6 of them into a street
background:

* size: box width log-uniform in ``width_fraction`` of the background's width (default 1.5-12 %), larger
  lower in the frame (perspective);
* place: mostly on the lower half (the ground), never overlapping another item by more than a sliver;
* light: the item's lightness and colour pulled towards the ground it lands on, a soft contact shadow,
  blur and noise matched to the background's softness;
* cover: some items are partly covered (a side cut away), and the label is the visible part only.

Pure functions over arrays (RGB uint8, boxes xyxy in pixels); :func:`compose_split` is the dataset
builder's entry point (:mod:`pipeline.detect.datasets`, a definition's ``composite:`` section), and
:func:`compose_scene` is reused by the score calibration set to build wide before/after pairs.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..boxes import box_iou

MIN_ITEM_PX = 24  # items smaller than this in their source photo are not cut (too little detail)
CUT_MAX_SIDE = 256  # cut-outs are stored at most this large (pixels); they are only ever shrunk when placed
OUT_MAX_SIDE = 1280  # composites are written at most this large


# ------------------------------------------------------------------------------------------ definition
@dataclass(frozen=True)
class CompositeDef:
    """The ``composite:`` section of a dataset definition.

    ``backgrounds``: ``{split: [folder or folder/file glob, ...]}`` under the data root; each background
    scene belongs to one split only. ``item_sources``: names of the definition's labelled sources whose
    boxes are cut; an item goes to the split its source photo has in the dataset (so no source photo is on
    both sides). ``per_background``: composites per background image and split."""

    backgrounds: dict[str, tuple[str, ...]]
    item_sources: tuple[str, ...]
    per_background: dict[str, int] = field(default_factory=lambda: {"train": 8, "val": 6})
    items_per_image: tuple[int, int] = (3, 6)
    width_fraction: tuple[float, float] = (0.015, 0.12)
    lower_half: float = 0.8  # share of items whose centre lies on the lower half of the photo
    covered: float = 0.3  # share of items partly covered
    empty: float = 0.05  # share of train composites left without items (negatives of the same scenes)
    seed: int = 0
    pile: float = 0.0  # share of items (after the first) laid touching an earlier one: heaps of litter
    bg_crop: tuple[float, float] = (1.0, 1.0)  # kept share of the background's width (random crop; 1: whole)
    bg_flip: bool = False  # mirror the background at random
    overrides: dict[str, dict] = field(default_factory=dict)  # {split: {setting: value}} for one split only

    @staticmethod
    def from_dict(d: dict) -> "CompositeDef":
        unknown = set(d) - _COMPOSITE_KEYS
        if unknown:
            raise ValueError(f"unknown composite setting(s): {', '.join(sorted(unknown))}")
        for split, o in (d.get("overrides") or {}).items():
            bad = set(o) - (_COMPOSITE_KEYS - {"backgrounds", "item_sources", "per_background", "overrides", "seed"})
            if bad:
                raise ValueError(f"composite overrides for {split!r}: not per-split setting(s): {', '.join(sorted(bad))}")
        return CompositeDef(
            backgrounds={k: tuple(v) for k, v in d["backgrounds"].items()},
            item_sources=tuple(d["item_sources"]),
            per_background={**{"train": 8, "val": 6}, **d.get("per_background", {})},
            items_per_image=tuple(d.get("items_per_image", (3, 6))),
            width_fraction=tuple(d.get("width_fraction", (0.015, 0.12))),
            lower_half=float(d.get("lower_half", 0.8)), covered=float(d.get("covered", 0.3)),
            empty=float(d.get("empty", 0.05)), seed=int(d.get("seed", 0)),
            pile=float(d.get("pile", 0.0)), bg_crop=tuple(d.get("bg_crop", (1.0, 1.0))),
            bg_flip=bool(d.get("bg_flip", False)),
            overrides={k: dict(v) for k, v in (d.get("overrides") or {}).items()})

    def for_split(self, split: str) -> "CompositeDef":
        """This definition with ``overrides[split]`` applied (lists become tuples, as in :meth:`from_dict`).

        Settings a split does not override keep their values, and the random draws for a split whose
        settings are unchanged are unchanged too: widening the train split never alters the val split."""
        o = self.overrides.get(split)
        if not o:
            return self
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in o.items()})


_COMPOSITE_KEYS = {f.name for f in fields(CompositeDef)}


# ------------------------------------------------------------------------------------------ cut items
def cut_item(photo: np.ndarray, box: np.ndarray, *, max_side: int = CUT_MAX_SIDE) -> np.ndarray | None:
    """The item inside ``box`` (xyxy pixels of ``photo``, RGB uint8) as RGBA uint8 with a soft alpha mask,
    at most ``max_side`` pixels; None when the box is smaller than ``MIN_ITEM_PX``.

    GrabCut separates the item from its ground inside the box; when it keeps too little (< 15 %) or
    nearly all (> 97 %) of the box, a feathered ellipse inscribed in the box is used instead."""
    h, w = photo.shape[:2]
    x0, y0, x1, y1 = [int(round(v)) for v in box]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    bw, bh = x1 - x0, y1 - y0
    if min(bw, bh) < MIN_ITEM_PX:
        return None
    pad = max(2, int(0.08 * max(bw, bh)))
    cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    crop = np.ascontiguousarray(photo[cy0:cy1, cx0:cx1])
    s = min(1.0, max_side / max(crop.shape[:2]))
    if s < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    rect = (max(1, round((x0 - cx0) * s)), max(1, round((y0 - cy0) * s)),
            max(2, round(bw * s) - 2), max(2, round(bh * s) - 2))
    rect = (rect[0], rect[1], min(rect[2], crop.shape[1] - rect[0] - 1), min(rect[3], crop.shape[0] - rect[1] - 1))
    mask = np.zeros(crop.shape[:2], np.uint8)
    fg = None
    if rect[2] > 4 and rect[3] > 4:
        try:
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            cv2.setRNGSeed(0)
            cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 4, cv2.GC_INIT_WITH_RECT)
            fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        except cv2.error:
            fg = None
    box_area = rect[2] * rect[3]
    if fg is None or not 0.15 * box_area <= fg.sum() <= 0.97 * box_area:
        fg = np.zeros(crop.shape[:2], np.float32)
        cv2.ellipse(fg, (rect[0] + rect[2] // 2, rect[1] + rect[3] // 2), (rect[2] // 2, rect[3] // 2),
                    0, 0, 360, 1.0, -1)
    k = max(3, (min(crop.shape[:2]) // 24) | 1)
    alpha = cv2.GaussianBlur(fg, (k, k), 0)
    ys, xs = np.nonzero(alpha > 0.02)
    if not len(xs):
        return None
    crop, alpha = crop[ys.min():ys.max() + 1, xs.min():xs.max() + 1], alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.dstack([crop, np.clip(alpha * 255, 0, 255).astype(np.uint8)])


# ------------------------------------------------------------------------------------------- placing
@dataclass(frozen=True)
class Placement:
    """Where one item goes: centre (cx, cy) and box width in pixels of the background; ``cover`` the
    fraction of the item hidden (0: none) from side ``side`` (0 left, 1 right, 2 top, 3 bottom);
    ``light``: how far (0-1) its lightness and colour are pulled to the ground's."""

    cx: float
    cy: float
    width: float
    cover: float = 0.0
    side: int = 3
    light: float = 0.6
    blur: float = 0.0
    flip: bool = False


def sample_placements(rng: np.random.Generator, size: tuple[int, int], aspects: list[float],
                      cdef: CompositeDef) -> list[Placement]:
    """One placement per item (``aspects``: item height / width), for a background of ``size`` (w, h).
    Items do not overlap by more than 5 % IoU (an item with no free spot after 30 tries is left out), but
    for piles: with probability ``cdef.pile`` an item is laid touching an earlier one, at a similar size,
    overlapping it by at most 30 % IoU (the later item hides part of the earlier one, as in a heap)."""
    w, h = size
    lo, hi = cdef.width_fraction
    out: list[Placement] = []
    boxes: list[tuple[float, float, float, float]] = []
    for a in aspects:
        heap = bool(boxes) and cdef.pile > 0 and rng.random() < cdef.pile  # no draw at all when pile is 0
        for _ in range(30):
            if heap:  # next to an earlier item: centre within about one item of its edge
                px0, py0, px1, py1 = boxes[int(rng.integers(len(boxes)))]
                pw, ph = px1 - px0, py1 - py0
                bw = float(np.clip(pw * rng.uniform(0.6, 1.4), lo * w, hi * w))
                bh = bw * a
                cx = (px0 + px1) / 2 + rng.uniform(-0.5, 0.5) * (pw + bw)
                cy = (py0 + py1) / 2 + rng.uniform(-0.5, 0.5) * (ph + bh) * 0.8
                if bh > 0.4 * h:
                    bw, bh = bw * 0.4 * h / bh, 0.4 * h
                cx = float(np.clip(cx, 0.03 * w + bw / 2, 0.97 * w - bw / 2)) if bw < 0.94 * w else w / 2
                cy = float(np.clip(cy, bh / 2 + 1, h - bh / 2 - 1))
                b = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
                iou = box_iou([b], boxes)[0]
                if iou.max() <= 0.3 and iou.max() > 0.0 or (iou.max() == 0.0 and _gap(b, boxes) < 0.15 * bw):
                    boxes.append(b)
                    cover = float(rng.uniform(0.2, 0.45)) if rng.random() < cdef.covered else 0.0
                    out.append(Placement(cx, cy, bw, cover, int(rng.integers(4)), float(rng.uniform(0.4, 0.85)),
                                         float(rng.uniform(0.0, 0.9)), bool(rng.random() < 0.5)))
                    break
                continue
            cy = (rng.uniform(0.52, 0.95) if rng.random() < cdef.lower_half else rng.uniform(0.3, 0.52)) * h
            frac = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            frac = float(np.clip(frac * (0.75 + 0.5 * (cy / h - 0.3) / 0.65), lo, hi))  # nearer = larger
            bw = frac * w
            bh = bw * a
            if bh > 0.4 * h:
                bw, bh = bw * 0.4 * h / bh, 0.4 * h
            cx = rng.uniform(0.03 * w + bw / 2, 0.97 * w - bw / 2) if bw < 0.94 * w else w / 2
            cy = float(np.clip(cy, bh / 2 + 1, h - bh / 2 - 1))
            b = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
            if not boxes or box_iou([b], boxes).max() <= 0.05:
                boxes.append(b)
                cover = float(rng.uniform(0.2, 0.45)) if rng.random() < cdef.covered else 0.0
                out.append(Placement(cx, cy, bw, cover, int(rng.integers(4)), float(rng.uniform(0.4, 0.85)),
                                     float(rng.uniform(0.0, 0.9)), bool(rng.random() < 0.5)))
                break
    return out


def _gap(b, boxes) -> float:
    """Smallest gap in pixels between box ``b`` and any of ``boxes`` (0 when they touch or overlap)."""
    return min(max(0.0, max(o[0] - b[2], b[0] - o[2])) + max(0.0, max(o[1] - b[3], b[1] - o[3])) for o in boxes)


def crop_background(bg: np.ndarray, rng: np.random.Generator, keep: tuple[float, float], flip: bool) -> np.ndarray:
    """A random window of ``bg`` keeping ``keep`` (lo, hi) of its width and its aspect ratio, lower edges
    favoured (the ground is where litter lies), mirrored at random when ``flip``. No draw when keep is
    (1, 1) and flip is off."""
    out = bg
    if keep[0] < 1.0:
        h, w = bg.shape[:2]
        k = float(rng.uniform(keep[0], keep[1]))
        cw, ch = max(16, round(w * k)), max(16, round(h * k))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(round((h - ch) * rng.uniform(0.4, 1.0)))
        out = bg[y0:y0 + ch, x0:x0 + cw]
    if flip and rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def paste_item(canvas: np.ndarray, item: np.ndarray, p: Placement, rng: np.random.Generator) -> np.ndarray | None:
    """Blend RGBA ``item`` into RGB ``canvas`` (modified in place) at ``p``; returns the visible part's box
    (xyxy float pixels), or None when too little of it shows (under 30 % of its own box)."""
    H, W = canvas.shape[:2]
    ih, iw = item.shape[:2]
    tw = max(3, int(round(p.width)))
    th = max(3, int(round(p.width * ih / iw)))
    it = cv2.resize(item, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)
    if p.flip:
        it = it[:, ::-1]
    rgb, alpha = it[..., :3], it[..., 3] / 255.0
    if p.cover > 0:  # the ground covers one side of the item
        ramp = np.ones_like(alpha)
        n = int(round(p.cover * (tw if p.side < 2 else th)))
        if p.side == 0:
            ramp[:, :n] = 0
        elif p.side == 1:
            ramp[:, tw - n:] = 0
        elif p.side == 2:
            ramp[:n, :] = 0
        else:
            ramp[th - n:, :] = 0
        alpha = alpha * cv2.GaussianBlur(ramp, (3, 3), 0)
    x0, y0 = int(round(p.cx - tw / 2)), int(round(p.cy - th / 2))
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x0 + tw), min(H, y0 + th)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        return None
    sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    rgb, alpha = rgb[sl], alpha[sl]
    ground = canvas[cy0:cy1, cx0:cx1].astype(np.float32)
    # light: pull the item's lightness and colour (Lab means) towards the ground it lies on
    lab_i = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab_g = cv2.cvtColor(canvas[cy0:cy1, cx0:cx1], cv2.COLOR_RGB2LAB).astype(np.float32)
    wsum = alpha.sum() + 1e-6
    mi = (lab_i * alpha[..., None]).sum((0, 1)) / wsum
    mg = lab_g.reshape(-1, 3).mean(0)
    lab_i += (mg - mi) * np.array([p.light, 0.35 * p.light, 0.35 * p.light], np.float32)
    rgb = cv2.cvtColor(np.clip(lab_i, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    if p.blur > 0.05:
        rgb = cv2.GaussianBlur(rgb, (0, 0), p.blur)
        alpha = cv2.GaussianBlur(alpha, (0, 0), p.blur)
    rgb += rng.normal(0, 2.0, rgb.shape).astype(np.float32)
    # a soft contact shadow under the item
    sh = np.zeros(alpha.shape, np.float32)
    hh, ww = alpha.shape
    cv2.ellipse(sh, (ww // 2, int(hh * 0.85)), (max(1, int(ww * 0.55)), max(1, int(hh * 0.2))), 0, 0, 360, 1.0, -1)
    sh = cv2.GaussianBlur(sh, (0, 0), max(1.0, ww / 10)) * 0.25
    ground = ground * (1 - sh[..., None])
    out = ground * (1 - alpha[..., None]) + rgb * alpha[..., None]
    canvas[cy0:cy1, cx0:cx1] = np.clip(out, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(alpha > 0.5)
    if len(xs) < 4:
        return None
    vis = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
    if vis < 0.3 * tw * th:
        return None
    return np.array([cx0 + xs.min(), cy0 + ys.min(), cx0 + xs.max() + 1, cy0 + ys.max() + 1], np.float64)


def compose_scene(background: np.ndarray, items: list[np.ndarray], placements: list[Placement],
                  seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``background`` (RGB uint8, not modified) with ``items[i]`` pasted at ``placements[i]``.

    Returns the composite, the boxes of the items that show (K, 4) xyxy float pixels, and for each box the
    index of its item (items too covered to count are left out of the labels and of the list)."""
    canvas = background.copy()
    rng = np.random.default_rng(seed)
    boxes, idx = [], []
    for i, (it, p) in enumerate(zip(items, placements)):
        b = paste_item(canvas, it, p, rng)
        if b is not None:
            boxes.append(b)
            idx.append(i)
    return canvas, np.asarray(boxes, np.float64).reshape(-1, 4), idx


# ----------------------------------------------------------------------------------- dataset builder
@dataclass(frozen=True)
class CutItem:
    """A cut-out item and the photo it came from (its split follows that photo's)."""

    source_photo: str
    rgba: np.ndarray = field(repr=False)


def read_rgb(path: Path, max_side: int | None = None) -> np.ndarray:
    with Image.open(path) as im:
        from PIL import ImageOps

        im = ImageOps.exif_transpose(im).convert("RGB")
        if max_side and max(im.size) > max_side:
            s = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
        return np.asarray(im)


def _fit(img: np.ndarray, max_side: int) -> np.ndarray:
    """``img`` shrunk (INTER_AREA) so that its longer side is at most ``max_side`` pixels."""
    s = max_side / max(img.shape[:2])
    if s >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                      interpolation=cv2.INTER_AREA)


def cut_items_of(photo_path: Path, labels: np.ndarray) -> list[CutItem]:
    """Every labelled item of one photo (``labels``: YOLO rows ``cls cx cy w h`` normalised)."""
    img = read_rgb(photo_path)
    h, w = img.shape[:2]
    out = []
    for _, cx, cy, bw, bh in labels:
        box = np.array([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
        c = cut_item(img, box)
        if c is not None:
            out.append(CutItem(str(photo_path), c))
    return out


def expand_backgrounds(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Background files for a list of ``folder`` or ``folder/glob`` patterns under ``root`` (sorted)."""
    out: list[Path] = []
    for pat in patterns:
        p = root / pat
        found = sorted(p.iterdir()) if p.is_dir() else sorted(p.parent.glob(p.name))
        if not found:
            raise ValueError(f"composite background {pat!r} matches nothing under {root}")
        out += [f for f in found if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
    return out


def scene_of(path: Path) -> str:
    """The scene a background shows: video frames ``<scene>_tNNNs`` share one; other photos are their own."""
    stem = path.stem
    return stem.rsplit("_t", 1)[0] if "_t" in stem and stem.rsplit("_t", 1)[1].rstrip("s").isdigit() else stem


@dataclass(frozen=True)
class Composite:
    """One composite as written: its file, split, background, the source photos of its items and its
    YOLO label rows."""

    path: str
    split: str
    background: str
    scene: str
    item_sources: tuple[str, ...]
    labels: tuple[tuple[float, float, float, float, float], ...]


def compose_split(cdef: CompositeDef, root: Path, labelled: list[tuple[str, Path, np.ndarray, str]],
                  out_dir: Path) -> list[Composite]:
    """Write every composite of ``cdef`` under ``out_dir/composite/<split>/``.

    ``labelled``: ``(source name, photo path, YOLO rows, split)`` of the dataset's labelled photos, split
    already decided; items are cut from those of ``cdef.item_sources`` and used only in their own split.
    Deterministic for a given definition and input."""
    root = Path(root)
    splits = list(cdef.backgrounds)
    scenes: dict[str, str] = {}
    for split in splits:
        for b in expand_backgrounds(root, cdef.backgrounds[split]):
            sc = scene_of(b)
            if scenes.setdefault(sc, split) != split:
                raise ValueError(f"background scene {sc!r} is listed for both {scenes[sc]} and {split}")
    pool: dict[str, list[CutItem]] = {s: [] for s in splits}
    for src, path, rows, split in labelled:
        if src in cdef.item_sources and split in pool and len(rows):
            pool[split] += cut_items_of(path, rows)
    out: list[Composite] = []
    import shutil

    shutil.rmtree(out_dir / "composite", ignore_errors=True)  # a rebuild never keeps stale composites
    for split in splits:
        items = pool[split]
        sdef = cdef.for_split(split)
        if not items:
            raise ValueError(f"no litter items to cut for the {split} composites")
        folder = out_dir / "composite" / split
        folder.mkdir(parents=True, exist_ok=True)
        reframe = sdef.bg_crop[0] < 1.0 or sdef.bg_flip
        for b in expand_backgrounds(root, cdef.backgrounds[split]):
            full = read_rgb(b) if reframe else None
            bg0 = read_rgb(b, OUT_MAX_SIDE)
            for k in range(cdef.per_background.get(split, 0)):
                key = f"{cdef.seed}:{split}:{b.relative_to(root)}:{k}"
                seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
                rng = np.random.default_rng(seed)
                bg = bg0
                if reframe:  # its own random stream: the draws below are those of an uncropped build
                    bg = _fit(crop_background(full, np.random.default_rng(seed ^ 0x5EED), sdef.bg_crop,
                                              sdef.bg_flip), OUT_MAX_SIDE)
                n = 0 if (split == "train" and rng.random() < sdef.empty) else int(
                    rng.integers(sdef.items_per_image[0], sdef.items_per_image[1] + 1))
                chosen = [items[int(i)] for i in rng.choice(len(items), size=min(n, len(items)), replace=False)]
                pl = sample_placements(rng, (bg.shape[1], bg.shape[0]),
                                       [c.rgba.shape[0] / c.rgba.shape[1] for c in chosen], sdef)
                img, boxes, idx = compose_scene(bg, [c.rgba for c in chosen[:len(pl)]], pl, seed)
                h, w = img.shape[:2]
                name = f"{scene_of(b)}__{b.stem}__{k:02d}.jpg"
                Image.fromarray(img).save(folder / name, quality=90)
                rows = tuple((0.0, float((x0 + x1) / 2 / w), float((y0 + y1) / 2 / h), float((x1 - x0) / w),
                              float((y1 - y0) / h)) for x0, y0, x1, y1 in boxes)
                out.append(Composite(str(folder / name), split, str(b.relative_to(root)), scene_of(b),
                                     tuple(sorted({chosen[i].source_photo for i in idx})), rows))
    return out
