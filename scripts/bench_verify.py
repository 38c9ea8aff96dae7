"""Benchmark of the same-place check on 1600-pixel photos: speed and robustness, per feature method.

Photos: ../shared/data/perf/phone_photos and scenes/clean_streets, reduced to 1600 px on the longest side.
True pairs: each photo against a camera-moved copy (homography with rotation, zoom, shift and tilt, a light
change, JPEG re-encoding), at two strengths ("a step", "two steps"); also consecutive frames of
scenes/street_video_frames (real camera motion, 1-3 s apart). Unrelated pairs: different photos.

Methods (all measured in the same run; ratios against the naive full-resolution ORB path):

- ``orb@1024+sift`` the shipped default (VerifyConfig): ORB at 1024 px, SIFT retried on rejected pairs
- ``orb@1024``      ORB only
- ``sift@1024``     SIFT only
- ``orb@1600``      naive: ORB on the full 1600-px photo (baseline)
- ``sift@1600``     naive SIFT

Each pair is timed from decoded RGB arrays to the SceneMatch (grey, resize, CLAHE, features for both photos,
matching, RANSAC), i.e. one pair = two photos' features; in an entry with several photos features are
shared, so this is the worst case per pair.

    python scripts/bench_verify.py [--limit 12]
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import VerifyConfig  # noqa: E402
from pipeline.types import LoadedPhoto, PhotoMeta  # noqa: E402
from pipeline.verify.pairing import pair_photos  # noqa: E402

_spec = importlib.util.spec_from_file_location("calibration", REPO / "datasets" / "calibration.py")
cal = importlib.util.module_from_spec(_spec)
sys.modules["calibration"] = cal
_spec.loader.exec_module(cal)

METHODS = {
    "orb@1024+sift": VerifyConfig(),
    "orb@1024": dataclasses.replace(VerifyConfig(), fallback_detector=""),
    "sift@1024": dataclasses.replace(VerifyConfig(), detector="sift", fallback_detector=""),
    "orb@1600": dataclasses.replace(VerifyConfig(), max_side=1600, fallback_detector=""),
    "sift@1600": dataclasses.replace(VerifyConfig(), detector="sift", max_side=1600, fallback_detector=""),
}
BASELINE = "orb@1600"
SIDE = 1600


def read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        f = SIDE / max(im.size)
        return np.asarray(im.resize((round(im.size[0] * f), round(im.size[1] * f)), Image.BOX)).copy()


def moved(image: np.ndarray, rng: np.random.Generator, rot: float, zoom: float, shift: float) -> np.ndarray:
    """``image`` seen after a camera move (:func:`calibration.random_move`), a light change and JPEG q88."""
    h, w = image.shape[:2]
    hm = cal.random_move(rng, (w, h), rot, zoom, shift, 0.3)
    out = cv2.warpPerspective(image, hm, (w, h), borderMode=cv2.BORDER_REFLECT)
    out = np.clip(255 * (out / 255.0) ** rng.uniform(0.7, 1.4) * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, "JPEG", quality=88)
    return np.asarray(Image.open(buf).convert("RGB"))


def photo(image: np.ndarray, name: str) -> LoadedPhoto:
    h, w = image.shape[:2]
    return LoadedPhoto(PhotoMeta(name, 0, width=w, height=h), image, 1.0)


def run(method: VerifyConfig, pairs: list[tuple[LoadedPhoto, LoadedPhoto]]) -> tuple[float, float, list[int]]:
    """(pairs per second, share judged same place, inlier counts)."""
    t0 = time.perf_counter()
    got = [pair_photos([a], [b], method).pairs[0][2] for a, b in pairs]
    dt = time.perf_counter() - t0
    return len(pairs) / dt, float(np.mean([m.same_place for m in got])), [m.inliers for m in got]


def false_matches(shared: Path, n: int, seed: int) -> None:
    """Every ordered pair of ``n`` calibration source photos of different scenes through the default
    matcher (features once per photo, SIFT fallback as shipped): how many are called the same place."""
    from pipeline.verify.pairing import match_all

    sources = cal.load_sources(shared)
    pick = np.random.default_rng(seed).choice(len(sources), size=min(n, len(sources)), replace=False)
    chosen = [sources[i] for i in pick]
    photos = []
    for k, src in enumerate(chosen):
        im, _ = cal.read_rgb(src.path, 1024)
        photos.append(photo(im, f"s{k}"))
    t0 = time.perf_counter()
    matches, _, _ = match_all(photos, photos, VerifyConfig())
    dt = time.perf_counter() - t0
    pairs = [(i, j) for i in range(len(chosen)) for j in range(len(chosen))
             if i != j and chosen[i].group != chosen[j].group]
    false = [(i, j) for i, j in pairs if matches[i][j].same_place]
    inl = sorted(matches[i][j].inliers for i, j in pairs)
    print(f"\nunrelated source photos: {len(false)} of {len(pairs)} ordered pairs called the same place "
          f"(default config); inliers p99 {inl[int(0.99 * (len(inl) - 1))]}, max {inl[-1]}; "
          f"{len(chosen)} photos, {dt:.0f} s in all")
    for i, j in false[:10]:
        m = matches[i][j]
        print(f"  {chosen[i].path.name} ~ {chosen[j].path.name}: {m.inliers} inliers, ratio {m.inlier_ratio}, {m.method}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=12, help="photos used (pairs per set = this)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--negatives", type=int, default=0,
                    help="also match every pair of this many calibration source photos (false-match check)")
    args = ap.parse_args(argv)
    if args.negatives:
        false_matches(args.shared, args.negatives, args.seed)
        return 0
    paths = sorted((args.shared / "perf" / "phone_photos").glob("*.jpg"))
    paths += sorted((args.shared / "scenes" / "clean_streets").glob("*.jpg"))
    paths = paths[:args.limit]
    if len(paths) < 2:
        print(f"no photos under {args.shared}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    images = [read(p) for p in paths]
    sets = {
        "one step (rot 10, zoom 1.2, shift 10%)": [(photo(im, f"p{i}"), photo(moved(im, rng, 10, 1.2, 0.1), f"m{i}"))
                                                 for i, im in enumerate(images)],
        "two steps (rot 20, zoom 1.4, shift 20%)": [(photo(im, f"p{i}"), photo(moved(im, rng, 20, 1.4, 0.2), f"n{i}"))
                                                  for i, im in enumerate(images)],
        "unrelated photos": [(photo(images[i], f"p{i}"), photo(images[(i + 1) % len(images)], f"q{i}"))
                             for i in range(len(images))],
    }
    frames = sorted((args.shared / "scenes" / "street_video_frames").glob("*.jpg"))
    if frames:
        by_clip: dict[str, list[Path]] = {}
        for f in frames:
            by_clip.setdefault(f.name.split("_t")[0], []).append(f)
        vid = []
        for clip, fs in sorted(by_clip.items()):
            for k in range(0, len(fs) - 3, 4):
                vid.append((photo(read(fs[k]), f"{clip}{k}"), photo(read(fs[k + 3]), f"{clip}{k + 3}")))
        sets["video frames 3 s apart"] = vid[:args.limit]
    print(f"{len(images)} photos at {SIDE} px; cv2 {cv2.__version__}, {cv2.getNumThreads()} OpenCV threads\n")
    results: dict[tuple[str, str], tuple[float, float, list[int]]] = {}
    for name, method in METHODS.items():
        for sname, pairs in sets.items():
            results[(name, sname)] = run(method, pairs)
    header = "| method | " + " | ".join(f"{s}: pairs/s (x {BASELINE}), same place" for s in sets) + " |"
    print(header)
    print("|---" * (len(sets) + 1) + "|")
    for name in METHODS:
        cells = []
        for sname in sets:
            pps, ok, _ = results[(name, sname)]
            base = results[(BASELINE, sname)][0]
            cells.append(f"{pps:.2f} ({pps / base:.2f}x), {ok:.0%}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nmedian inliers (true pairs) / max inliers (unrelated):")
    for name in METHODS:
        parts = []
        for sname in sets:
            inl = results[(name, sname)][2]
            parts.append(f"{sname.split(' (')[0]}: {int(np.max(inl) if 'unrelated' in sname else np.median(inl))}")
        print(f"  {name}: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
