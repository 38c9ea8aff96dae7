"""Calibrate and evaluate the matcher on copies that cheat harder (issue 22), on real photos (../shared/data).

Builds a seeded set from the originals of ../shared/data (never litter/aquatrash/val: the detector's
evaluation split is left out entirely):

- for ``--per-kind`` source photos per kind (close-ups and street scenes), one copy of each kind of
  :mod:`datasets.dedup_hard` (deep crop, collage, filter, sticker or text panel, photo of a screen) and of
  the kinds caught before (re-encode, resize, 5-10 % crop, mirror, straightened, phone screenshot, caption
  band, large text; scripts/calibrate_dedup.py's transforms);
- negatives: every original is a distinct photo (known copy groups of the data excepted), the frames of
  one street video 1 s apart are the same spot (``SAME_SPOT``, not copies), and for ``--per-kind`` litter
  photos a clean-up's after photo: litter removed, camera moved, light changed
  (datasets/calibration.py's ``remove_litter``, ``camera_move``, ``light_change``).

Source photos are split into a tuning part and a held-out part by a hash of their path; both are reported.
Every photo goes through the shipped path (bytes -> load_photo -> compute_hashes -> HashIndex ->
match_index). Prints a markdown report (recall and the kind named, per kind and part; false matches) and
writes the images with ``--out DIR`` (truth in ``DIR/truth.csv``) so that ``cleanup-verify dedup DIR`` can be
run on them.

    nice -n 19 python scripts/calibrate_dedup_hard.py --per-kind 30 --seed 0 [--out /tmp/hard]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.dedup.hashing import compute_hashes  # noqa: E402
from pipeline.dedup.index import HashIndex  # noqa: E402
from pipeline.dedup.match import COPY_KINDS, match_index  # noqa: E402
from pipeline.load import PhotoError, load_photo  # noqa: E402


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


hard = _module("dedup_hard", REPO / "datasets" / "dedup_hard.py")
cal = _module("calibration", REPO / "datasets" / "calibration.py")
old = _module("calibrate_dedup", REPO / "scripts" / "calibrate_dedup.py")

DATA = REPO.parent / "shared" / "data"
ORIGINAL_FOLDERS = ["litter/aquatrash/train/images", "litter/trash_collection/train/images",
                    "litter/trash_collection/valid/images", "litter/trash_collection/test/images",
                    "scenes/clean_streets", "scenes/street_video_frames", "scenes/street_pov_litter",
                    "dedup/imagededup_fixtures/base_images"]
SOURCE_FOLDERS = ["litter/aquatrash/train/images", "litter/trash_collection/train/images", "scenes/clean_streets",
                  "scenes/street_pov_litter"]
#: what each kind should be called (pipeline.flagtext.KIND_EN), for the "named" column
EXPECTED = {"deep_crop": {"cropped"}, "collage": {"collage"}, "filtered": {"filtered", "same_image"},
            "overlaid": {"overlaid", "captioned"}, "screen_photo": {"screen_photo"},
            "jpeg_q30_95": {"same_image"}, "resize_0.25_2x": {"same_image"}, "crop_5_10": {"cropped"},
            "mirror": {"mirrored_rotated"}, "rotate_1_5deg_zoom": {"straightened"},
            "screenshot_app_light": {"screenshot"}, "caption_band": {"captioned"},
            "text_overlay_large": {"captioned"}}
OLD_KINDS = ["jpeg_q30_95", "resize_0.25_2x", "crop_5_10", "mirror", "rotate_1_5deg_zoom", "screenshot_app_light",
             "caption_band", "text_overlay_large"]


@dataclass
class Item:
    name: str  # relative path of an original, or "<source>#<kind>"
    group: str  # copy group: items of one group are copies
    kind: str  # "original", "after", or a copy kind
    data: bytes
    also: tuple[str, ...] = ()  # groups of the other photos a collage shows (matches to them are right too)
    also_spots: tuple[str, ...] = ()  # their same-spot keys (frames of one street video)


def rgb(path: Path, side: int = 1600) -> np.ndarray:
    with Image.open(path) as im:
        im.draft("RGB", (side, side))
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def jpeg(a: np.ndarray, q: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return buf.getvalue()


def held_out(name: str) -> bool:
    return int(hashlib.sha256(name.split("#")[0].encode()).hexdigest(), 16) % 2 == 1


def group_of(rel: str, groups: dict[str, str]) -> str:
    """Known copy groups (scripts/calibrate_dedup.py) and the re-exports of one TACO photo in aquatrash."""
    if rel in groups:
        return groups[rel]
    if rel.startswith("litter/aquatrash/"):
        return "aqua-" + re.split(r"_(?:jpe?g|png)\.rf\.", Path(rel).name, flags=re.I)[0].lower()
    return rel


def make_copy(kind: str, img: np.ndarray, others: list[np.ndarray], rng: np.random.Generator) -> bytes:
    if kind == "deep_crop":
        return jpeg(hard.deep_crop(img, rng)[0])
    if kind == "collage":
        return jpeg(hard.collage(img, others, rng)[0])
    if kind == "filtered":
        return jpeg(hard.filtered(img, rng))
    if kind == "overlaid":
        return jpeg(hard.overlaid(img, rng)[0])
    if kind == "screen_photo":
        return jpeg(hard.screen_photo(img, rng, others[0] if rng.random() < 0.5 else None))
    return old.transform(Image.fromarray(img), kind, rng)


def build(per_kind: int, seed: int, max_originals: int = 0) -> list[Item]:
    rng = np.random.default_rng(seed)
    groups = old.copy_groups()
    items: list[Item] = []
    for folder in ORIGINAL_FOLDERS:
        for p in sorted((DATA / folder).glob("*")):
            if p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            rel = str(p.relative_to(DATA))
            g = group_of(rel, groups)
            if g:
                items.append(Item(rel, g, "original", p.read_bytes()))
    if max_originals and len(items) > max_originals:  # a quick look: a sample of the originals
        keep = set(rng.choice(len(items), size=max_originals, replace=False).tolist())
        items = [it for i, it in enumerate(items) if i in keep]
    by_group = {}
    for it in items:  # one source per copy group, so that no source's copy meets another export of it
        if any(it.name.startswith(f) for f in SOURCE_FOLDERS):
            by_group.setdefault(it.group, it)
    sources = sorted(by_group.values(), key=lambda it: it.name)
    kinds = list(hard.HARD_KINDS) + OLD_KINDS
    for kind in kinds:
        picked = rng.choice(len(sources), size=min(per_kind, len(sources)), replace=False)
        for k in picked:
            src = sources[int(k)]
            img = rgb(DATA / src.name)
            pick = [sources[int(j)] for j in rng.choice(len(sources), 3, replace=False) if int(j) != int(k)]
            others = [rgb(DATA / o.name, 800) for o in pick] or [img[::-1].copy()]
            also = tuple(o.group for o in pick) if kind in ("collage", "screen_photo") else ()
            spots = tuple(old.same_spot_key(o.name) for o in pick) if also else ()
            items.append(Item(f"{src.name}#{kind}", src.group, kind, make_copy(kind, img, others, rng), also, spots))
    # clean-up after photos: litter removed, the camera moved, the light changed
    litter = [s for s in cal.load_sources(DATA)]
    for k in rng.choice(len(litter), size=min(per_kind, len(litter)), replace=False):
        s = litter[int(k)]
        img = rgb(s.path, 100000)
        after = cal.remove_litter(img, s.boxes, rng)
        hm = cal.camera_move(rng, (img.shape[1], img.shape[0]))
        import cv2
        after = cv2.warpPerspective(after, hm, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)
        after = cal.light_change(after, rng)
        rel = str(s.path.relative_to(DATA))
        items.append(Item(f"{rel}#after", "after:" + rel, "after", jpeg(after)))
    return items


def hash_all(items: list[Item], cfg: Config) -> tuple[list, list[Item]]:
    hashes, kept = [], []
    for it in items:
        try:
            photo = load_photo(it.data, cfg.load, sha256=it.name)
        except PhotoError as e:
            print(f"skip {it.name}: {e.problem.code}", file=sys.stderr)
            continue
        hashes.append(compute_hashes(photo.image, it.name, with_pdq=cfg.dedup.use_pdq,
                                     with_views=cfg.dedup.match_reuse))
        kept.append(it)
    return hashes, kept


def evaluate(items: list[Item], matches) -> tuple[str, dict]:
    """The report of one arm's matches, and its recall per (kind, part): (found, pairs)."""
    pos = {it.name: i for i, it in enumerate(items)}
    found: dict[frozenset, str] = {}
    for m in matches:
        found[frozenset((m.photo_sha256, m.other_sha256))] = m.kind
    lines = ["| copy | part | pairs | found | named as expected | kinds named |", "|---|---|---:|---:|---:|---|"]
    kinds = list(hard.HARD_KINDS) + OLD_KINDS
    recall: dict[tuple[str, str], tuple[int, int]] = {}
    for kind in kinds:
        for part, flag in (("tuning", False), ("held-out", True)):
            sel = [it for it in items if it.kind == kind and held_out(it.name) == flag]
            named: dict[str, int] = {}
            n_found = n_named = 0
            for it in sel:
                k = found.get(frozenset((it.name, it.name.split("#")[0])))
                if k in COPY_KINDS:
                    n_found += 1
                    named[k] = named.get(k, 0) + 1
                    n_named += k in EXPECTED[kind]
            recall[(kind, part)] = (n_found, len(sel))
            lines.append(f"| {kind} | {part} | {len(sel)} | {n_found / max(1, len(sel)):.3f} ({n_found}) | "
                         f"{n_named} | {dict(sorted(named.items()))} |")
    originals = [it for it in items if it.kind == "original"]
    grp = {it.name: it.group for it in items}
    spot = {it.name: old.same_spot_key(it.name) for it in items}
    wrong, spot_copy, spot_found, after_copy, after_spot = [], 0, 0, [], 0
    for pair, k in found.items():
        a, b = sorted(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
        if a == b:
            continue
        ia, ib = items[pos[a]], items[pos[b]]
        same_spot = spot[a] and spot[a] == spot[b] and grp[a] != grp[b]
        if "after" in (ia.kind, ib.kind):
            base = (a if ia.kind == "after" else b).split("#")[0]
            other = b if ia.kind == "after" else a
            if other.split("#")[0] == base or grp.get(other) == grp.get(base):
                if k in COPY_KINDS:
                    after_copy.append(f"{a} ~ {b}: {k}")
                else:
                    after_spot += 1
                continue
        if same_spot and ia.kind == ib.kind == "original":
            spot_copy += k in COPY_KINDS
            spot_found += k == "same_spot"
            continue
        if grp[b] in ia.also or grp[a] in ib.also or (spot[b] and spot[b] in ia.also_spots) or \
                (spot[a] and spot[a] in ib.also_spots):
            continue  # a collage shows the other photo (or a frame of its street) too
        if grp[a] != grp[b] and k in COPY_KINDS and not same_spot:
            wrong.append(f"{a} ~ {b}: {k}")
    n_orig = len(originals)
    wrong_orig = [w for w in wrong if "#" not in w]
    out = "\n".join(lines)
    out += (f"\n\nDistinct originals: {n_orig} ({n_orig * (n_orig - 1) // 2:,} pairs); pairs of two distinct originals "
            f"called copies: **{len(wrong_orig)}**; wrong copy matches over the whole set (copies included, "
            f"same-spot excluded): {len(wrong)}.\n")
    out += (f"Same-spot frames 1 s apart (pairs of originals): {spot_found} reported as `same_spot`, "
            f"**{spot_copy} called copies**.\n")
    n_after = sum(it.kind == "after" for it in items)
    out += (f"Clean-up after photos (litter removed, camera moved, light changed): {n_after}; called copies of "
            f"their before photo: **{len(after_copy)}**; reported as the same spot: {after_spot}.\n")
    if wrong or after_copy:
        out += "\nWrong matches:\n" + "\n".join(f"- {w}" for w in (wrong + after_copy)[:40]) + "\n"
    recall["_wrong_originals"] = (len(wrong_orig), n_orig)
    recall["_spot_copies"] = (spot_copy, spot_copy + spot_found)
    recall["_after_copies"] = (len(after_copy), n_after)
    return out, recall


def compare(before: dict, now: dict) -> str:
    """Held-out recall per kind, before issue 22 and now, side by side."""
    lines = ["| copy (held-out part) | pairs | before issue 22 | **now** |", "|---|---:|---:|---:|"]
    for kind in list(hard.HARD_KINDS) + OLD_KINDS:
        (fb, n), (fn, _) = before[(kind, "held-out")], now[(kind, "held-out")]
        lines.append(f"| {kind} | {n} | {fb / max(1, n):.3f} | **{fn / max(1, n):.3f}** |")
    for key, label in (("_wrong_originals", "pairs of distinct originals called copies"),
                       ("_spot_copies", "same-spot frame pairs called copies"),
                       ("_after_copies", "clean-up after photos called copies")):
        lines.append(f"| {label} | | {before[key][0]} | **{now[key][0]}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-kind", type=int, default=30, help="source photos per kind of copy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="TOML configuration (defaults otherwise)")
    ap.add_argument("--max-originals", type=int, default=0, help="a sample of this many originals (0: all)")
    ap.add_argument("--out", help="also write the set's images and truth.csv here")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs the real photos in {DATA}", file=sys.stderr)
        return 2
    cfg = Config.from_toml(args.config) if args.config else Config()
    t0 = time.perf_counter()
    items = build(args.per_kind, args.seed, args.max_originals)
    t1 = time.perf_counter()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "truth.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file", "name", "group", "kind", "held_out"])
            for i, it in enumerate(items):
                fn = f"{i:05d}.jpg"
                (out / fn).write_bytes(it.data)
                w.writerow([fn, it.name, it.group, it.kind, held_out(it.name)])
    hashes, items = hash_all(items, cfg)
    t2 = time.perf_counter()
    index = HashIndex.from_hashes(hashes)
    t_base = time.perf_counter()
    before, _ = match_index(index, [h.sha256 for h in hashes], replace(cfg.dedup, match_regions=False))
    t2b = time.perf_counter()
    matches, _ = match_index(index, [h.sha256 for h in hashes], cfg.dedup)
    t3 = time.perf_counter()
    print(f"# scripts/calibrate_dedup_hard.py --per-kind {args.per_kind} --seed {args.seed} "
          f"--max-originals {args.max_originals}\n")
    print(f"{len(items)} photos; building {t1 - t0:.0f} s, hashing {t2 - t1:.0f} s "
          f"({1000 * (t2 - t1) / max(1, len(items)):.1f} ms a photo incl. decode), matching before issue 22 "
          f"{t2b - t_base:.0f} s ({1000 * (t2b - t_base) / max(1, len(items)):.1f} ms a photo), now {t3 - t2b:.0f} s "
          f"({1000 * (t3 - t2b) / max(1, len(items)):.1f} ms a photo)\n")
    text_before, rec_before = evaluate(items, before)
    text_now, rec_now = evaluate(items, matches)
    print(compare(rec_before, rec_now))
    print("\n## Now (defaults)\n")
    print(text_now)
    print("\n## Before issue 22 (`match_regions = false`, same photos and hashes)\n")
    print(text_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
