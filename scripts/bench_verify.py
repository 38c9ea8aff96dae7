"""Benchmark of the same-place check: milliseconds per before/after pair and accuracy, per method.

Photos: ../shared/data/perf/phone_photos and scenes/clean_streets, taken as 1600-px full-size photos and
handed to the check the way the pipeline does: decoded once at the analysis size
(``LoadConfig.analysis_max_side``, 1024 px), ``LoadedPhoto.scale`` relating it to the full size.
True pairs: each photo against a camera-moved copy (homography with rotation, zoom, shift and tilt, a light
change, JPEG re-encoding) at four strengths (a step, two steps, the hard moves the methods were chosen on,
and a harder stress move); also consecutive frames of scenes/street_video_frames (real camera motion, 3 s
apart). Unrelated pairs: each photo against the next one.

One pair = :func:`pipeline.verify.pairing.pair_photos` of one before and one after photo, from the decoded
analysis images to the SceneMatch: both photos' features (grey, resize, CLAHE, detect, describe), matching,
the geometry, and the fallback detector when its rule retries the pair. Inside an entry features are
computed once per photo, so several photos cost less per pair; this is the worst case.

Methods (all measured in the same run, interleaved pair by pair so that the load of a shared machine falls
on all of them alike; ratios against the first, the check as shipped before issue 12):

- ``before``   ORB 2000 at 1024 px (FAST threshold 10), RANSAC, SIFT retried on every pair ORB rejects (the
               defaults before issue 12)
- ``shipped``  VerifyConfig(): ORB 1500 at 640 px (FAST threshold 20), MAGSAC++, SIFT retried only on pairs
               ORB rejects with at least ``fallback_min_inliers`` inliers (docs/verify-bench.md)
- ablations: one setting of ``shipped`` changed (see ``METHODS``)

Times are shown three ways: the wall time of each pair's best round and the mean of all rounds (on a machine
shared with other work the best round is the closest to the cost on an idle core), and the CPU time of this
process (all its threads: with ``--threads 1``, as in the pipeline's process pool on 2 cores, it is the
single-core cost whatever else runs on the machine). The ratios hold each way.

    python scripts/bench_verify.py [--limit 23] [--repeat 3] [--negatives 24]

``--calibration DIR`` instead measures the whole verification of each entry of the calibration set that
``scripts/calibrate_score.py`` builds in DIR (``verify_entry``: the same-place pairing and the litter change
of every pair, on its truth boxes or, with ``--detector model``, the shipped detector's), the code as it is
against the code before issue 19 (:func:`old_code`), interleaved entry by entry, and checks that both give
every entry the same verification to the last bit (so every accuracy figure measured on the set holds):

    python scripts/bench_verify.py --calibration /tmp/cleanup-verify-calibration --repeat 2 --threads 1
"""
from __future__ import annotations

import argparse
import contextlib
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

from pipeline.config import LoadConfig, VerifyConfig  # noqa: E402
from pipeline.types import LoadedPhoto, PhotoMeta, SceneMatch  # noqa: E402
from pipeline.verify import change, geometry, sameplace  # noqa: E402
from pipeline.verify.entry import verify_entry  # noqa: E402
from pipeline.verify.pairing import match_all, pair_photos  # noqa: E402

_spec = importlib.util.spec_from_file_location("calibration", REPO / "datasets" / "calibration.py")
cal = importlib.util.module_from_spec(_spec)
sys.modules["calibration"] = cal
_spec.loader.exec_module(cal)

SHIPPED = VerifyConfig()
BEFORE = dataclasses.replace(SHIPPED, max_side=1024, features=2000, orb_fast_threshold=10, robust_method="ransac",
                             fallback_min_inliers=0)
METHODS = {
    "before": BEFORE,
    "shipped": SHIPPED,
    "shipped, no fallback": dataclasses.replace(SHIPPED, fallback_detector=""),
    "shipped, ransac": dataclasses.replace(SHIPPED, robust_method="ransac"),
    "shipped, FAST threshold 10": dataclasses.replace(SHIPPED, orb_fast_threshold=10),
    "shipped, SIFT on every rejected pair": dataclasses.replace(SHIPPED, fallback_min_inliers=0),
    "shipped at 800 px": dataclasses.replace(SHIPPED, max_side=800),
    "shipped, 1000 features": dataclasses.replace(SHIPPED, features=1000),
    "shipped, 2000 features": dataclasses.replace(SHIPPED, features=2000),
}
BASELINE = "before"
SIDE = 1600  # full-size photos
MOVES = {  # set name: (rotation degrees, zoom, shift) of calibration.random_move, tilt 0.3
    "one step": (10, 1.2, 0.1),
    "two steps": (20, 1.4, 0.2),
    "hard moves": (30, 1.7, 0.2),
    "stress": (45, 2.0, 0.25),
}


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


def photo(image: np.ndarray, name: str, analysis_side: int = LoadConfig().analysis_max_side) -> LoadedPhoto:
    """``image`` (full size) as the load stage hands it to verify: reduced to the analysis size."""
    h, w = image.shape[:2]
    f = min(1.0, analysis_side / max(h, w))
    small = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA) if f < 1 else image
    return LoadedPhoto(PhotoMeta(name, 0, width=w, height=h), small, f)


def run_sets(methods: dict[str, VerifyConfig], sets: dict[str, list[tuple[LoadedPhoto, LoadedPhoto]]],
             repeat: int = 1) -> dict[tuple[str, str], tuple[np.ndarray, list[SceneMatch]]]:
    """{(method, set): (wall seconds, CPU seconds, each shape (pairs, repeat), matches)}; the methods take
    turns on each pair, ``repeat`` rounds. Raises when a method does not give the same answer every round."""
    out = {}
    for sname, pairs in sets.items():
        spent = {m: np.zeros((len(pairs), repeat)) for m in methods}
        cpu = {m: np.zeros((len(pairs), repeat)) for m in methods}
        got: dict[str, list[SceneMatch]] = {m: [] for m in methods}
        for r in range(repeat):
            for k, (a, b) in enumerate(pairs):
                for name, cfg in methods.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    m = pair_photos([a], [b], cfg).pairs[0][2]
                    spent[name][k, r] = time.perf_counter() - t0
                    cpu[name][k, r] = time.process_time() - c0
                    if r == 0:
                        got[name].append(m)
                    elif m != got[name][k]:
                        raise RuntimeError(f"{name} gave another answer on {sname} pair {k} in round {r + 1}")
        for name in methods:
            out[(name, sname)] = (spent[name], cpu[name], got[name])
    return out


def false_matches(shared: Path, n: int, seed: int, methods: dict[str, VerifyConfig]) -> None:
    """Every ordered pair of ``n`` calibration source photos of different scenes through each method
    (features once per photo, as in an entry): how many are called the same place."""
    sources = cal.load_sources(shared)
    pick = np.random.default_rng(seed).choice(len(sources), size=min(n, len(sources)), replace=False)
    chosen = [sources[i] for i in pick]
    photos = [photo(cal.read_rgb(src.path, SIDE)[0], f"s{k}") for k, src in enumerate(chosen)]
    pairs = [(i, j) for i in range(len(chosen)) for j in range(len(chosen))
             if i != j and chosen[i].group != chosen[j].group]
    print(f"\nunrelated calibration source photos: {len(chosen)} photos, {len(pairs)} ordered pairs of "
          f"different scene groups")
    print("| method | called the same place | inliers p99 / max | answered by the fallback | seconds (x before) |")
    print("|---|---|---|---|---|")
    base = None
    for name, cfg in methods.items():
        t0 = time.perf_counter()
        matches, _, _ = match_all(photos, photos, cfg)
        dt = time.perf_counter() - t0
        base = base or dt
        false = [(i, j) for i, j in pairs if matches[i][j].same_place]
        inl = sorted(matches[i][j].inliers for i, j in pairs)
        fb = sum(not matches[i][j].method.startswith(cfg.detector) for i, j in pairs)
        print(f"| {name} | {len(false)} | {inl[int(0.99 * (len(inl) - 1))]} / {inl[-1]} | {fb} | "
              f"{dt:.1f} ({dt / base:.2f}x) |")
        for i, j in false[:10]:
            m = matches[i][j]
            print(f"|  | {chosen[i].path.name} ~ {chosen[j].path.name}: {m.inliers} inliers, ratio "
                  f"{m.inlier_ratio}, {m.method} | | | |")


# ------------------------------------------------------------------ the code before issue 19, for --calibration
def _old_ratio_matches(fb, fa, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """pipeline.verify.sameplace._ratio_matches before issue 19: a Python DMatch per keypoint."""
    if len(fb) < 2 or len(fa) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    norm = cv2.NORM_L2 if fb.descriptors.dtype == np.float32 else cv2.NORM_HAMMING
    knn = cv2.BFMatcher(norm).knnMatch(fb.descriptors, fa.descriptors, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    src = np.array([fb.keypoints[m.queryIdx] for m in good], np.float32).reshape(-1, 2)
    dst = np.array([fa.keypoints[m.trainIdx] for m in good], np.float32).reshape(-1, 2)
    return src, dst


def _old_shared_region_mask(h: np.ndarray, size: tuple[int, int], size_other: tuple[int, int],
                            cells: int = geometry.GRID) -> tuple[np.ndarray, float]:
    """pipeline.verify.geometry.shared_region_mask before issue 19: every cell centre mapped as a point."""
    w0, h0 = size
    cell = max(w0, h0) / cells
    gw, gh = max(1, int(np.ceil(w0 / cell))), max(1, int(np.ceil(h0 / cell)))
    xs, ys = (np.arange(gw) + 0.5) * cell, (np.arange(gh) + 0.5) * cell
    inside = geometry.maps_inside(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), h, size_other)
    return inside.reshape(gh, gw), cell


@contextlib.contextmanager
def old_code():
    """Run the verification as it was before issue 19 inside the ``with`` block (module attributes swapped
    back afterwards)."""
    swaps = [(sameplace, "_ratio_matches", _old_ratio_matches), (geometry, "shared_region_mask", _old_shared_region_mask),
             (change, "shared_region_mask", _old_shared_region_mask)]
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in swaps]
    try:
        for mod, name, fn in swaps:
            setattr(mod, name, fn)
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def calibration_entries(root: Path, detector: str) -> list[tuple[object, list]]:
    """(truth, items) of every entry of the calibration set in ``root``: items as ``verify_entry`` takes them
    (ref, decoded photo, detections), the photos loaded the way a run loads them; detections are the truth
    boxes, or the shipped detector's (``detector == "model"``). Unreadable photos are left out, as a run does."""
    from pipeline.config import Config
    from pipeline.ingest import ingest
    from pipeline.load import PhotoError, load_photo, read_photo
    from pipeline.types import Detections

    cfg = Config()
    truths = {t.entry_id: t for t in cal.read_truth(root)}
    model = None
    if detector == "model":
        from pipeline.detect.infer import load_detector

        model = load_detector(cfg.detect)
    out = []
    for sub in ingest(root / "batch").submissions:
        truth = truths.get(sub.entry_id)
        if truth is None:
            continue
        boxes = {p.rel_path: p.boxes for p in truth.photos}
        items = []
        for ref in sub.photos:
            try:
                photo = load_photo(read_photo(ref.path, cfg.load, rel_path=ref.rel_path), cfg.load, rel_path=ref.rel_path)
            except PhotoError:
                continue
            if model is not None:
                det = model.detect([photo])[0]
            else:
                b = np.array(boxes[ref.rel_path], np.float32).reshape(-1, 4)
                det = Detections(b, np.ones(len(b)), np.zeros(len(b)), ("litter",), "ground-truth",
                                 (photo.meta.width, photo.meta.height), cfg.detect.confidence)
            items.append((ref, photo, det))
        out.append((truth, items))
    return out


def calibration_bench(root: Path, detector: str, repeat: int) -> None:
    """The whole verification of each calibration entry, the code before issue 19 (``old``) against the code
    now (``new``), interleaved entry by entry, ``repeat`` rounds; ms per before x after pair (CPU time of this
    process and wall time, means over the rounds) per part, and whether every entry came out identical."""
    from pipeline.config import VerifyConfig

    cfg = VerifyConfig()
    entries = calibration_entries(root, detector)
    runs = {"old": old_code, "new": contextlib.nullcontext}
    stats = {(name, part): [0.0, 0.0, 0] for name in runs for part in ("held out", "tuning")}
    differ: list[str] = []
    for r in range(repeat):
        for truth, items in entries:
            roles = [ref.role for ref, _, _ in items]
            pairs = roles.count("before") * roles.count("after")
            part = "held out" if truth.holdout else "tuning"
            got = {}
            for name, ctx in runs.items():
                with ctx():
                    t0, c0 = time.perf_counter(), time.process_time()
                    got[name] = verify_entry(items, cfg).to_dict()
                    s = stats[(name, part)]
                    s[0] += time.process_time() - c0
                    s[1] += time.perf_counter() - t0
                    s[2] += pairs
            if r == 0 and got["old"] != got["new"]:
                differ.append(truth.entry_id)
    n = {part: sum(1 for t, _ in entries if (part == "held out") == t.holdout) for part in ("held out", "tuning")}
    print(f"calibration set {root}: {len(entries)} entries ({n['held out']} held out, {n['tuning']} tuning), "
          f"detections: {detector}; {repeat} rounds; cv2 {cv2.__version__}, {cv2.getNumThreads()} OpenCV threads\n")
    print("| part | entries | before x after pairs | old: CPU ms per pair | new: CPU ms per pair (x old) | "
          "old: wall ms per pair | new: wall ms per pair (x old) |")
    print("|---|---|---|---|---|---|---|")
    for part in ("held out", "tuning"):
        (oc, ow, op), (nc, nw, np_) = stats[("old", part)], stats[("new", part)]
        if not op:
            continue
        print(f"| {part} | {n[part]} | {op // repeat} | {1000 * oc / op:.1f} | {1000 * nc / np_:.1f} ({nc / oc:.2f}x) | "
              f"{1000 * ow / op:.1f} | {1000 * nw / np_:.1f} ({nw / ow:.2f}x) |")
    print(f"\nentries whose verification differs between old and new: {len(differ)}"
          + (f" ({', '.join(differ[:20])})" if differ else " (identical pairs, matches, homographies and litter changes)"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=23, help="photos used (pairs per set = this)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="", help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--negatives", type=int, default=0,
                    help="instead, match every pair of this many calibration source photos (false-match check)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over every pair (the best and the mean are shown)")
    ap.add_argument("--threads", type=int, default=0, help="cv2.setNumThreads (0: OpenCV's default)")
    ap.add_argument("--calibration", type=Path, metavar="DIR",
                    help="instead, the whole verification of each entry of the calibration set in DIR "
                         "(scripts/calibrate_score.py --out), the code now against the code before issue 19")
    ap.add_argument("--detector", choices=("truth", "model"), default="truth",
                    help="with --calibration: the entries' true boxes or the shipped detector's")
    args = ap.parse_args(argv)
    if args.threads:
        cv2.setNumThreads(args.threads)
    if args.calibration:
        if not (args.calibration / "truth.jsonl").is_file():
            ap.error(f"--calibration {args.calibration}: no truth.jsonl (build it with scripts/calibrate_score.py --out)")
        calibration_bench(args.calibration, args.detector, args.repeat)
        return 0
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()] or list(METHODS)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    methods = {m: METHODS[m] for m in [BASELINE] + [c for c in chosen if c != BASELINE]}
    if args.negatives:
        false_matches(args.shared, args.negatives, args.seed, methods)
        return 0
    paths = sorted((args.shared / "perf" / "phone_photos").glob("*.jpg"))
    paths += sorted((args.shared / "scenes" / "clean_streets").glob("*.jpg"))
    paths = paths[:args.limit]
    if len(paths) < 2:
        print(f"no photos under {args.shared}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    images = [read(p) for p in paths]
    sets = {name: [(photo(im, f"p{i}"), photo(moved(im, rng, *move), f"{name}{i}")) for i, im in enumerate(images)]
            for name, move in MOVES.items()}
    frames = sorted((args.shared / "scenes" / "street_video_frames").glob("*.jpg"))
    if frames:
        by_clip: dict[str, list[Path]] = {}
        for f in frames:
            by_clip.setdefault(f.name.split("_t")[0], []).append(f)
        vid = []
        for clip, fs in sorted(by_clip.items()):
            for k in range(0, len(fs) - 3, 4):
                vid.append((photo(read(fs[k]), f"{clip}{k}"), photo(read(fs[k + 3]), f"{clip}{k + 3}")))
        sets["video frames"] = vid[:args.limit]
    sets["unrelated"] = [(photo(images[i], f"p{i}"), photo(images[(i + 1) % len(images)], f"q{i}"))
                         for i in range(len(images))]
    print(f"{len(images)} photos, {SIDE} px full size, {LoadConfig().analysis_max_side} px analysis images; "
          f"cv2 {cv2.__version__}, {cv2.getNumThreads()} OpenCV threads; pairs per set: "
          + ", ".join(f"{s} {len(p)}" for s, p in sets.items()) + "\n")
    res = run_sets(methods, sets, args.repeat)
    true_sets = [s for s in sets if s != "unrelated"]
    for title, which, stat in (
            (f"wall time, best of {args.repeat} per pair (the least disturbed by other work on the machine)", 0,
             lambda t: t.min(1).mean()),
            (f"wall time, mean of all {args.repeat} rounds", 0, lambda t: t.mean()),
            (f"CPU time of this process (all its threads), mean of all {args.repeat} rounds", 1, lambda t: t.mean())):
        print(f"\nms per pair, {title}; ratio against {BASELINE}; pairs called the same place")
        print("| method | " + " | ".join(f"{s}: ms (x {BASELINE}), same place" for s in sets)
              + f" | all true pairs: ms (x {BASELINE}) |")
        print("|---" * (len(sets) + 2) + "|")
        base_true = 1000 * stat(np.concatenate([res[(BASELINE, s)][which] for s in true_sets]))
        for name in methods:
            cells = []
            for sname in sets:
                t, got = res[(name, sname)][which], res[(name, sname)][-1]
                ms = 1000 * stat(t)
                cells.append(f"{ms:.0f} ({ms / (1000 * stat(res[(BASELINE, sname)][which])):.2f}x), "
                             f"{sum(m.same_place for m in got)}/{len(got)}")
            ms_true = 1000 * stat(np.concatenate([res[(name, s)][which] for s in true_sets]))
            print(f"| {name} | " + " | ".join(cells) + f" | {ms_true:.0f} ({ms_true / base_true:.2f}x) |")
    print("\nmedian inliers (true pairs) / max inliers (unrelated); pairs answered by the fallback detector:")
    for name, cfg in methods.items():
        parts = []
        for sname in sets:
            got = res[(name, sname)][-1]
            inl = [m.inliers for m in got]
            fb = sum(not m.method.startswith(cfg.detector) for m in got)
            parts.append(f"{sname}: {int(np.max(inl) if sname == 'unrelated' else np.median(inl))} ({fb})")
        print(f"  {name}: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
