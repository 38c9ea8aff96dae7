"""Calibrate the reused-photo matcher on real photos (../shared/data) and write docs/dedup-calibration.md.

Positives: transformed copies of a sample of real photos (JPEG quality 30-95, resize 0.25-2x, crops of
0-5 / 5-10 / 10-15% of each side, rotation 1-5 degrees, brightness and contrast, mirror, rotation by 90
degrees, a screenshot with borders and a status bar, a text overlay), each paired with its original; and
the real copy groups: perf/phone_photos vs litter/aquatrash/train, the imagededup fixtures' ground truth,
dedup/trash_collection_groups.csv (group -1, ambiguous: left out entirely).
Negatives: every other pair of the pool (all photos of ../shared/data, originals and transformed copies),
which includes frames of one street one second apart (scenes/street_video_frames).

Every photo goes through the shipped path: bytes -> pipeline.load.load_photo (reduced decode) ->
pipeline.dedup.hashing.compute_hashes. Reported: recall per transformation and precision over all pairs,
for each hash alone (at its threshold, best of the 8 variants, no pixel check) and for the shipped
matcher (pipeline.dedup.match with the DedupConfig defaults or --config).

    .venv/bin/python scripts/calibrate_dedup.py [--per-folder 14] [--out docs/dedup-calibration.md]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config, DedupConfig  # noqa: E402
from pipeline.dedup.confirm import ConfirmConfig  # noqa: E402
from pipeline.dedup.hashing import compute_hashes, zoom_to_hide_corners  # noqa: E402
from pipeline.dedup.index import HashIndex  # noqa: E402
from pipeline.dedup.match import match_index  # noqa: E402
from pipeline.load import PhotoError, load_photo  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DHASH_THRESHOLD = 10  # of 64: the dHash row of the table (dHash is stored and reported, never used to match)
FOLDERS = ["litter/aquatrash/train", "litter/aquatrash/val", "litter/trash_collection/train",
           "litter/trash_collection/valid", "litter/trash_collection/test", "scenes/clean_streets",
           "scenes/street_video_frames", "scenes/street_pov_litter", "perf/phone_photos",
           "dedup/imagededup_fixtures/base_images", "dedup/imagededup_fixtures/mixed_images"]
SAMPLE_FOLDERS = FOLDERS[:8]
TRANSFORMS = ["jpeg_q30_95", "resize_0.25_2x", "crop_0_5", "crop_5_10", "crop_10_15", "rotate_1_5deg",
              "brightness_contrast", "mirror", "rotate_90", "screenshot_borders", "text_overlay",
              # issue 13: the way cheaters reuse photos
              "rotate_1_5deg_zoom", "screenshot_app_light", "screenshot_app_dark", "screenshot_card",
              "caption_band", "text_overlay_medium", "text_overlay_large"]
REQUIRED = {"jpeg_q30_95": 0.98, "resize_0.25_2x": 0.98, "mirror": 0.98, "crop_0_5": 0.9, "crop_5_10": 0.9,
            "rotate_1_5deg_zoom": 0.95, "screenshot_app_light": 0.95, "screenshot_app_dark": 0.95,
            "screenshot_card": 0.95, "caption_band": 0.9, "text_overlay_medium": 0.9, "text_overlay_large": 0.9}
#: phone screens (width, height) the screenshots are drawn at
SCREENS = [(1080, 2340), (1170, 2532), (1080, 1920), (720, 1600)]
CAPTIONS = ["Chu nhat xanh 2024 - team 7", "Don rac bai bien Vung Tau", "Before: so much trash here!",
            "Nhom tinh nguyen Q.3 - 12 bao rac"]


@dataclass
class Item:
    name: str  # path relative to DATA, or "<base>#<transform>"
    group: str  # copy-group key: items with the same key are copies
    transform: str  # "original" or a TRANSFORMS name
    hashes: object


def jpeg_bytes(im: Image.Image, q: int = 92) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=q)
    return buf.getvalue()


def transform(im: Image.Image, name: str, rng: np.random.Generator) -> bytes:
    """The transformed copy's file bytes."""
    w, h = im.size
    if name == "jpeg_q30_95":
        return jpeg_bytes(im, int(rng.integers(30, 96)))
    if name == "resize_0.25_2x":
        f = float(np.exp(rng.uniform(np.log(0.25), np.log(2.0))))
        return jpeg_bytes(im.resize((max(8, round(w * f)), max(8, round(h * f))), Image.Resampling.BICUBIC))
    if name.startswith("crop_"):
        lo, hi = (int(v) / 100 for v in name.split("_")[1:])
        cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)  # fraction of each side removed
        ax, ay = rng.uniform(0, cx), rng.uniform(0, cy)
        box = (round(ax * w), round(ay * h), round(w - (cx - ax) * w), round(h - (cy - ay) * h))
        return jpeg_bytes(im.crop(box))
    if name == "rotate_1_5deg":
        a = float(rng.uniform(1, 5) * rng.choice([-1, 1]))
        return jpeg_bytes(im.rotate(a, resample=Image.Resampling.BICUBIC, expand=False))
    if name == "brightness_contrast":
        b, c = rng.uniform(0.7, 1.3), rng.uniform(0.7, 1.3)
        return jpeg_bytes(ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(b)).enhance(c))
    if name == "mirror":
        return jpeg_bytes(ImageOps.mirror(im))
    if name == "rotate_90":
        return jpeg_bytes(im.transpose(Image.Transpose.ROTATE_90 if rng.random() < 0.5 else Image.Transpose.ROTATE_270))
    if name == "screenshot_borders":
        # the photo inside a screen capture: uniform borders of 3-8% of each side and a status bar with text
        bx, by = int(w * rng.uniform(0.03, 0.08)), int(h * rng.uniform(0.03, 0.08))
        bar = int(h * 0.05)
        colour = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
        canvas = Image.new("RGB", (w + 2 * bx, h + 2 * by + bar), colour)
        canvas.paste(im, (bx, by + bar))
        d = ImageDraw.Draw(canvas)
        d.rectangle((0, 0, canvas.width, bar), fill=(30, 30, 30))
        d.text((bx, bar // 4), "10:24  4G  87%", fill=(240, 240, 240), font=_font(max(10, bar // 2)))
        return png_bytes(canvas)
    if name in ("text_overlay", "text_overlay_medium", "text_overlay_large"):
        out = im.copy()
        d = ImageDraw.Draw(out)
        size = max(12, h // {"text_overlay": 18, "text_overlay_medium": 11, "text_overlay_large": 7}[name])
        text = str(rng.choice(CAPTIONS)) if name != "text_overlay" else CAPTIONS[0]
        font = _font(size)
        tw = d.textlength(text, font=font)
        x = int(rng.uniform(0.02, max(0.03, 1 - tw / w - 0.02)) * w)
        y = int(h * rng.uniform(0.05, 0.85))
        fill = (255, 255, 255) if rng.random() < 0.7 else (255, 230, 0)
        stroke = max(1, size // 12) if rng.random() < 0.7 else 0
        d.text((x, y), text, fill=fill, font=font, stroke_width=stroke, stroke_fill=(0, 0, 0))
        return jpeg_bytes(out)
    if name == "rotate_1_5deg_zoom":
        # straightened: rotated by 1-5 degrees, zoomed to hide the corners (plus up to 3 % more), same size
        a = float(rng.uniform(1, 5) * rng.choice([-1, 1]))
        k = zoom_to_hide_corners(w, h, a) / rng.uniform(1.0, 1.03)
        rot = im.rotate(a, resample=Image.Resampling.BICUBIC)
        box = ((w - w * k) / 2, (h - h * k) / 2, (w + w * k) / 2, (h + h * k) / 2)
        return jpeg_bytes(rot.resize((w, h), Image.Resampling.BICUBIC, box=box), int(rng.integers(75, 96)))
    if name.startswith("screenshot_app") or name == "screenshot_card":
        return screenshot(im, name, rng)
    if name == "caption_band":
        # a dark band over the bottom 15-22 % with a caption in it
        out = im.convert("RGBA")
        band = int(h * rng.uniform(0.15, 0.22))
        layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        d.rectangle((0, h - band, w, h), fill=(0, 0, 0, int(rng.integers(150, 256))))
        size = max(12, band // 3)
        d.text((int(w * 0.04), h - band + band // 4), str(rng.choice(CAPTIONS)), fill=(255, 255, 255, 255),
               font=_font(size))
        return jpeg_bytes(Image.alpha_composite(out, layer).convert("RGB"), int(rng.integers(75, 96)))
    raise ValueError(name)


def screenshot(im: Image.Image, layout: str, rng: np.random.Generator) -> bytes:
    """A phone screenshot of a post showing ``im``: status bar, app bar, the photo (full width, or on a card
    with margins), caption lines, action icons, navigation bar; light or dark theme; PNG or JPEG."""
    sw, sh = SCREENS[int(rng.integers(len(SCREENS)))]
    dark = layout == "screenshot_app_dark"
    bg = (0, 0, 0) if dark else ((240, 242, 245) if layout == "screenshot_card" else (255, 255, 255))
    fg = (235, 235, 235) if dark else (20, 20, 20)
    canvas = Image.new("RGB", (sw, sh), bg)
    d = ImageDraw.Draw(canvas)
    u = sw / 1080  # layout unit
    status = int(70 * u)
    d.text((int(40 * u), int(18 * u)), "10:24", fill=fg, font=_font(int(34 * u)))
    d.text((sw - int(220 * u), int(18 * u)), "4G  87%", fill=fg, font=_font(int(34 * u)))
    y = status
    bar = int(rng.uniform(110, 160) * u)
    if not dark and rng.random() < 0.5:
        d.rectangle((0, y, sw, y + bar), fill=(46, 125, 50))  # coloured app bar
        d.text((int(40 * u), y + bar // 3), "Clean-up contest", fill=(255, 255, 255), font=_font(int(44 * u)))
    else:
        d.text((int(40 * u), y + bar // 3), "Clean-up contest", fill=fg, font=_font(int(44 * u)))
    y += bar
    d.ellipse((int(40 * u), y + int(20 * u), int(120 * u), y + int(100 * u)), fill=(120, 160, 200))
    d.text((int(140 * u), y + int(40 * u)), f"team_{int(rng.integers(1, 99))}", fill=fg, font=_font(int(36 * u)))
    y += int(120 * u)
    margin = int(rng.uniform(24, 60) * u) if layout == "screenshot_card" else 0
    pw = sw - 2 * margin
    ph = round(im.height * pw / im.width)
    ph = min(ph, int(sh * 0.62))
    pw_fit = round(im.width * ph / im.height)
    x0 = (sw - pw_fit) // 2
    if layout == "screenshot_card":
        d.rounded_rectangle((margin // 2, y - margin // 2, sw - margin // 2, y + ph + int(300 * u)),
                            radius=int(20 * u), fill=(255, 255, 255))
    canvas.paste(im.resize((pw_fit, ph), Image.Resampling.LANCZOS), (x0, y))
    y += ph + int(30 * u)
    for icon in range(3):
        cx = int((60 + icon * 110) * u)
        d.ellipse((cx, y, cx + int(60 * u), y + int(60 * u)), outline=fg, width=max(2, int(5 * u)))
    y += int(90 * u)
    for line in range(int(rng.integers(1, 4))):
        d.text((int(40 * u), y), str(rng.choice(CAPTIONS)), fill=fg, font=_font(int(38 * u)))
        y += int(56 * u)
    nav = int(100 * u)
    d.rectangle((0, sh - nav, sw, sh), fill=(20, 20, 20) if dark else (248, 248, 248))
    d.rounded_rectangle((sw // 2 - int(140 * u), sh - nav // 2 - int(6 * u), sw // 2 + int(140 * u),
                         sh - nav // 2 + int(6 * u)), radius=int(6 * u), fill=fg)
    return png_bytes(canvas) if rng.random() < 0.5 else jpeg_bytes(canvas, int(rng.integers(80, 96)))


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled font (FreeType build), no download
    except (TypeError, OSError):
        return ImageFont.load_default()


def copy_groups() -> dict[str, str]:
    """Known copy groups: relative path -> group key (ambiguous rows map to "")."""
    groups: dict[str, str] = {}
    with open(DATA / "dedup" / "trash_collection_groups.csv") as f:
        for r in csv.DictReader(f):
            groups[r["path"]] = "" if int(r["group"]) == -1 else f"tc{r['group']}"
    for p in sorted((DATA / "perf" / "phone_photos").glob("*.jpg")):
        key = f"aq:{p.name}"
        groups[f"perf/phone_photos/{p.name}"] = key
        for split in ("train", "val"):  # the same Roboflow export name in either split is the same photo
            groups[f"litter/aquatrash/{split}/images/{p.name}"] = key
    gt_file = DATA / "dedup" / "imagededup_fixtures" / "evaluation_files" / "ground_truth.pkl"
    with open(gt_file, "rb") as f:
        gt = pickle.load(f)
    for base, copies in gt.items():
        for name in [base, *copies]:
            groups[f"dedup/imagededup_fixtures/mixed_images/{name}"] = f"ukb:{base}"
        groups[f"dedup/imagededup_fixtures/base_images/{base}"] = f"ukb:{base}"
    # the other fixture bases are copies of themselves across the two fixture folders
    for p in (DATA / "dedup" / "imagededup_fixtures" / "base_images").glob("*.jpg"):
        groups.setdefault(f"dedup/imagededup_fixtures/base_images/{p.name}", f"ukb:{p.name}")
    for p in (DATA / "dedup" / "imagededup_fixtures" / "mixed_images").glob("*.jpg"):
        stem = p.name.split("_")[0].replace(".jpg", "") + ".jpg"
        groups.setdefault(f"dedup/imagededup_fixtures/mixed_images/{p.name}", f"ukb:{stem}")
    return groups


def hash_bytes(data: bytes, sha: str, cfg: Config):
    photo = load_photo(data, cfg.load, sha256=sha)
    return compute_hashes(photo.image, sha, with_pdq=True)  # for the PDQ column; the matcher follows use_pdq


def build_pool(per_folder: int, cfg: Config, seed: int) -> list[Item]:
    rng = np.random.default_rng(seed)
    groups = copy_groups()
    pool: list[Item] = []
    originals: dict[str, Path] = {}
    for folder in FOLDERS:
        for p in sorted((DATA / folder).rglob("*")):
            if p.suffix.lower() not in (".jpg", ".jpeg", ".png") or "labels" in p.parts:
                continue
            rel = str(p.relative_to(DATA))
            g = groups.get(rel, rel)
            if g == "":
                continue  # ambiguous copy group: left out
            try:
                h = hash_bytes(p.read_bytes(), rel, cfg)
            except PhotoError as e:
                print(f"skip {rel}: {e.problem.code}", file=sys.stderr)
                continue
            pool.append(Item(rel, g, "original", h))
            originals[rel] = p
    # transformed copies of a stratified sample
    for folder in SAMPLE_FOLDERS:
        names = sorted(n for n in originals if n.startswith(folder + "/"))
        for rel in rng.choice(names, size=min(per_folder, len(names)), replace=False):
            base = next(it for it in pool if it.name == rel)
            im = Image.open(originals[rel])
            im.draft("RGB", (1600, 1600))
            im = ImageOps.exif_transpose(im).convert("RGB")
            for t in TRANSFORMS:
                name = f"{rel}#{t}"
                try:
                    h = hash_bytes(transform(im, t, rng), name, cfg)
                except PhotoError as e:
                    print(f"skip {name}: {e.problem.code}", file=sys.stderr)
                    continue
                pool.append(Item(name, base.group, t, h))
    return pool


def pdq_words(h) -> np.ndarray:
    return np.frombuffer(h.pdq, ">u8").astype(np.uint64)


def hash_alone(pool: list[Item], name: str, thr: int, min_quality: int) -> np.ndarray:
    """(n, n) bool: pairs within ``thr`` bits for one hash, best of the 8 variants of either photo."""
    n = len(pool)
    if name == "dhash":
        c = np.array([it.hashes.dhash for it in pool], np.uint64)
        d = np.bitwise_count(c[:, None] ^ c[None, :]).astype(np.int32)
        return d <= thr
    if name == "phash":
        v = np.array([it.hashes.phash_variants for it in pool], np.uint64)  # (n, 8)
        d = np.bitwise_count(v[:, None, :] ^ v[None, :, :1]).astype(np.int32).min(-1)
    else:
        v = np.stack([np.stack([np.frombuffer(x, ">u8").astype(np.uint64) for x in it.hashes.pdq_variants])
                      for it in pool])  # (n, 8, 4)
        d = np.full((n, n), 999, np.int32)
        for k in range(8):
            dk = np.bitwise_count(v[:, None, k, :] ^ v[None, :, 0, :]).astype(np.int32).sum(-1)
            d = np.minimum(d, dk)
        q = np.array([it.hashes.pdq_quality or 0 for it in pool])
        ok = (q[:, None] >= min_quality) & (q[None, :] >= min_quality)
        d = np.where(ok, d, 999)
    d = np.minimum(d, d.T)
    return d <= thr


def evaluate(pool: list[Item], pred: np.ndarray, part: bool | None = None) -> tuple[dict, dict, int, int, int, int]:
    """Per-transform (found, total) on original-copy pairs (only the held-out half when ``part`` is True,
    only the other half when False), real copy groups, true positives, false positives over all pairs
    (same-spot pairs excluded), false positives among pairs of two original photos (same-spot pairs
    excluded), and same-spot pairs of two originals called copies."""
    n = len(pool)
    grp = np.array([it.group for it in pool])
    same = grp[:, None] == grp[None, :]
    spot_key = np.array([same_spot_key(it.name) for it in pool])
    spot = (spot_key[:, None] == spot_key[None, :]) & (spot_key[:, None] != "") & ~same
    iu = np.triu_indices(n, 1)
    p, s, sp = pred[iu], same[iu], spot[iu]
    orig = np.array([it.transform == "original" for it in pool])
    both = orig[iu[0]] & orig[iu[1]]
    tp, fp = int((p & s).sum()), int((p & ~s & ~sp).sum())
    fp_orig = int((p & ~s & ~sp & both).sum())
    spot_as_copy = int((p & sp & both).sum())
    per: dict[str, tuple[int, int]] = {}
    idx = {it.name: i for i, it in enumerate(pool)}
    for i, it in enumerate(pool):
        if it.transform == "original" or (part is not None and held_out(it.name) != part):
            continue
        j = idx[it.name.split("#")[0]]
        f, t = per.get(it.transform, (0, 0))
        per[it.transform] = (f + int(pred[i, j]), t + 1)
    real: dict[str, list[int]] = {}
    for kind, prefix in (("trash_collection augmented copies", "tc"), ("phone_photos = aquatrash", "aq:"),
                         ("imagededup fixtures", "ukb:")):
        sel = [i for i, it in enumerate(pool) if it.transform == "original" and it.group.startswith(prefix)]
        sub = np.array(sel)
        if len(sub) < 2:
            continue
        g = grp[sub]
        m = (g[:, None] == g[None, :])
        m = np.triu(m, 1)
        real[kind] = [int((pred[np.ix_(sub, sub)] & m).sum()), int(m.sum())]
    return per, {k: tuple(v) for k, v in real.items()}, tp, fp, fp_orig, spot_as_copy


def same_spot_row(pool: list[Item], spot_pred: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """Pairs of two distinct ORIGINAL photos of one spot seconds apart (frames of one video): how many
    the matcher reported as same_spot, as copies, and in all."""
    keys = [same_spot_key(it.name) if it.transform == "original" else "" for it in pool]
    sel = [i for i, k in enumerate(keys) if k]
    n_spot = n_copy = total = 0
    for a in range(len(sel)):
        for b in range(a + 1, len(sel)):
            i, j = sel[a], sel[b]
            if keys[i] == keys[j] and pool[i].group != pool[j].group:
                total += 1
                n_spot += bool(spot_pred[i, j])
                n_copy += bool(pred[i, j])
    return n_spot, n_copy, total


def shipped(pool: list[Item], cfg: DedupConfig) -> tuple[np.ndarray, dict]:
    index = HashIndex.from_hashes([it.hashes for it in pool])
    n = len(pool)
    pred = np.zeros((n, n), bool)
    pos = {it.name: i for i, it in enumerate(pool)}
    matches, _ = match_index(index, [it.name for it in pool], cfg)
    kinds: dict[str, int] = {}
    spot = np.zeros((n, n), bool)
    for m in matches:
        i, j = pos[m.photo_sha256], pos[m.other_sha256]
        if m.kind == "same_spot":
            spot[i, j] = spot[j, i] = True
        else:
            pred[i, j] = pred[j, i] = True
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    return pred, {"kinds": kinds, "matches": [m for m in matches if m.kind != "same_spot"], "spot": spot}


def same_spot_key(name: str) -> str:
    """Frames of one street video, and the clean_streets photo taken moments from one of them (traffic.jpg:
    traffic_t011s with the yellow car ~10 px on; ny.jpg and bicycle.jpg other moments of theirs, 19 and 10 grey
    levels on average from the nearest frame), share a key;
    every other photo has none ("")."""
    base = name.split("#")[0]
    p = Path(base)
    if p.parent.name == "street_video_frames":
        return p.stem.split("_t")[0]
    if p.parent.name == "clean_streets" and p.stem in ("traffic", "ny", "bicycle"):
        return p.stem
    return ""


def held_out(name: str) -> bool:
    """The held-out half of the transformed photos (by a hash of the original's path): never looked at
    while the reuse settings were chosen (they were chosen on other photos, scripts/calibrate_dedup.py
    --per-folder 3 with other seeds); both halves are reported."""
    return int(hashlib.sha256(name.split("#")[0].encode()).hexdigest(), 16) % 2 == 1


def table(rows: list[tuple[str, dict, dict, int, int]]) -> str:
    heads = [r[0] for r in rows]
    lines = ["| transformation | pairs | " + " | ".join(heads) + " |",
             "|---|---:|" + "---:|" * len(heads)]
    for t in TRANSFORMS:
        total = rows[0][1].get(t, (0, 0))[1]
        cells = [f"{r[1][t][0] / max(1, r[1][t][1]):.3f}" if t in r[1] else "-" for r in rows]
        req = f" (need >= {REQUIRED[t]})" if t in REQUIRED else ""
        lines.append(f"| {t}{req} | {total} | " + " | ".join(cells) + " |")
    for k in rows[0][2]:
        total = rows[0][2][k][1]
        cells = [f"{r[2][k][0] / max(1, r[2][k][1]):.3f}" for r in rows]
        lines.append(f"| real copies: {k} | {total} | " + " | ".join(cells) + " |")
    lines.append("| **precision**, FP = pairs of two distinct original photos (same-spot pairs: own row) | | " + " | ".join(
        f"**{r[3] / max(1, r[3] + r[5]):.4f}** ({r[5]} FP)" for r in rows) + " |")
    lines.append("| precision, same-spot pairs called copies counted as FP too | | " + " | ".join(
        f"{r[3] / max(1, r[3] + r[5] + r[6]):.4f} ({r[5] + r[6]} FP)" for r in rows) + " |")
    lines.append("| precision, FP = every wrong pair of the pool (copies included, same-spot excluded) | | " + " | ".join(
        f"{r[3] / max(1, r[3] + r[4]):.4f} ({r[4]} FP)" for r in rows) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-folder", type=int, default=14, help="photos transformed per data folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="TOML configuration (defaults otherwise)")
    ap.add_argument("--out", default=str(REPO / "docs" / "dedup-calibration.md"))
    ap.add_argument("--cache", help="pickle the hashed pool here / reuse it when present")
    ap.add_argument("--folders", help="comma-separated subset of the data folders (a quick look while developing)")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs the real photos in {DATA}", file=sys.stderr)
        return 2
    cfg = Config.from_toml(args.config) if args.config else Config()
    if args.folders:
        keep = args.folders.split(",")
        FOLDERS[:] = [f for f in FOLDERS if f in keep]
        SAMPLE_FOLDERS[:] = [f for f in SAMPLE_FOLDERS if f in keep]
    t0 = time.perf_counter()
    cached = bool(args.cache and Path(args.cache).exists())
    if cached:
        with open(args.cache, "rb") as f:
            pool = pickle.load(f)
        groups = copy_groups()  # the grouping may have been corrected since the pool was hashed
        for it in pool:
            base = it.name.split("#")[0]
            it.group = groups.get(base, base)
    else:
        pool = build_pool(args.per_folder, cfg, args.seed)
        if args.cache:
            with open(args.cache, "wb") as f:
                pickle.dump(pool, f)
    t_hash = time.perf_counter() - t0
    hashing = "reused from the --cache pickle" if cached else f"{t_hash:.0f} s"
    d = cfg.dedup
    rows = []
    for label, name, thr in (("pHash <= %d" % d.phash_threshold, "phash", d.phash_threshold),
                             ("dHash <= %d" % DHASH_THRESHOLD, "dhash", DHASH_THRESHOLD),
                             ("PDQ <= %d" % d.pdq_threshold, "pdq", d.pdq_threshold)):
        pred = hash_alone(pool, name, thr, d.pdq_min_quality)
        np.fill_diagonal(pred, False)
        rows.append((label,) + evaluate(pool, pred))
    t1 = time.perf_counter()
    pred, info = shipped(pool, d)
    t_match = time.perf_counter() - t1
    rows.append(("shipped, tuning half",) + evaluate(pool, pred, False))
    rows.append(("**shipped, held-out half**",) + evaluate(pool, pred, True))
    spot_found, spot_copy, spot_total = same_spot_row(pool, info["spot"], pred)
    n = len(pool)
    fps = []
    grp = np.array([it.group for it in pool])
    for m in info["matches"]:
        i = next(k for k, it in enumerate(pool) if it.name == m.photo_sha256)
        j = next(k for k, it in enumerate(pool) if it.name == m.other_sha256)
        if grp[i] != grp[j]:
            fps.append(f"- {pool[i].name} ~ {pool[j].name}: {m.kind}, {m.hash_name} {m.distance}")
    cc = ConfirmConfig()
    text = f"""# Reused-photo matcher: calibration

Generated by `scripts/calibrate_dedup.py --per-folder {args.per_folder} --seed {args.seed}` on
../shared/data: {n} photos in the pool ({sum(it.transform == 'original' for it in pool)} originals,
{sum(it.transform != 'original' for it in pool)} transformed copies of {args.per_folder} photos from each of
{len(SAMPLE_FOLDERS)} folders), {n * (n - 1) // 2:,} pairs. Hashing {hashing}, shipped matching of all
{n} photos against each other {t_match:.1f} s (2 shared CPU cores).

Settings (`[dedup]`): phash_threshold={d.phash_threshold}, use_pdq={str(d.use_pdq).lower()}, pdq_threshold={d.pdq_threshold},
pdq_min_quality={d.pdq_min_quality}, crop_threshold={d.crop_threshold}, max_difference={d.max_difference},
crop_max_difference={d.crop_max_difference}, match_reuse={str(d.match_reuse).lower()}, reuse_threshold={d.reuse_threshold},
max_confirm={d.max_confirm}, copy_max_changed={d.copy_max_changed}, same_spot_min_inliers={d.same_spot_min_inliers};
confirmation (`ConfirmConfig`): {cc.detector} {cc.features} features spread over a {cc.grid}x{cc.grid} grid,
parallax_px={cc.parallax_px}, parallax_max_changed={cc.parallax_max_changed} (zoom within {cc.parallax_zoom} of 1, under
{cc.parallax_angle} degrees).
The single-hash columns use the best of the 8 flips/rotations and no pixel check; the shipped matcher
is pHash (8 variants) + crop windows{" + PDQ (8 variants)" if d.use_pdq else ""}, each hit confirmed on the grey signatures.

Recall = fraction of (original, copy) pairs found. A found pair is correct when both photos are in one
copy group (transformed copies of one photo, or a known real copy group), wrong otherwise (including
different frames of one street a second apart). Precision = correct / (correct + wrong), with "wrong"
counted two ways: over pairs of two distinct ORIGINAL photos of ../shared/data (the acceptance
criterion), and over every pair of the pool, where a transformed copy of a video frame matching a
neighbouring frame counts again for each of its transformations (stricter).

{table(rows)}

Transformations: JPEG quality 30-95; resize by 0.25-2x; crops removing 0-5, 5-10 or 10-15% of EACH side
(split at random between the two edges); rotation by 1-5 degrees (black corners); brightness and contrast
x0.7-1.3; left-right mirror; rotation by 90 degrees; a screenshot (uniform borders of 3-8% of each side and
a status bar of 5% of the height, PNG); a caption drawn on the photo. The trash_collection copy groups are
Roboflow augmentations (flips, 0-20% crops, +-20 degree rotations, +-35% brightness), mostly beyond what
a perceptual hash is meant to catch.

Same spot seconds apart (frames of one street video, and the clean_streets photo taken moments from one of
them; scenes/clean_streets/traffic.jpg is no copy of a frame: checked pixel by pixel at 640x360, it is closest
to traffic_t011s, from which it differs by re-encoding noise (mean 2.9 grey levels) except where the yellow
car moved by ~10 px, a fraction of a second apart; so it stays a same-spot photo in the ground truth):
{spot_total} pairs of distinct original photos; the shipped matcher reports {spot_found} as `same_spot`
(flag SAME_SPOT_PHOTO across entries) and {spot_copy} as copies.

Shipped matches by kind (same_spot included): {info['kinds']}.

Wrong matches of the shipped matcher ({len(fps)}):
{chr(10).join(fps[:40]) if fps else '(none)'}
"""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
