"""Benchmark of a whole run against the detector's own cost, per executor, in one run (docs/scale.md).

Batch: real photos from ../shared/data, one entry per photo: the photo as the before photo and a
camera-moved, re-lit copy as the after photo (a homography of a few percent, JPEG at quality 90, full
size). Sources: perf/phone_photos (3264x2448), a quarter of them upscaled to 4000x3000 (12 MP), aquatrash
val photos (416 px to 3264x2448) and street video frames.

Measured, each in a fresh process (so that peak RSS and start-up are its own), on the same files:

* ``detector``: plain ultralytics ``predict`` with the pipeline's model, size and threshold on each file
  path (ultralytics decodes the full-size file itself), model loaded before the clock starts;
* ``serial``, ``local`` (process pool) and ``ray`` (a local Ray with as many CPUs, started before the
  clock and not counted; its start-up is reported apart): ``run_batch`` into a fresh workspace, detector
  loading included (a worker loads its own);
* ``rerun``: the serial run again on the finished workspace (must decode nothing).

Reported: seconds, seconds per photo, the ratio of each run to the detector, local/serial and ray/local,
peak RSS of the driver and of the largest worker.

    python scripts/bench_pipeline.py [--entries 20] [--workers 2] [--skip-ray] [--json out.json]

On a 2-core machine shared with other work the numbers move by 10-20 % between runs; compare ratios
measured in the same run only.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("CLEANUP_VERIFY_DATA", REPO.parent / "shared" / "data"))


def build_batch(dest: Path, entries: int, seed: int = 0) -> int:
    """Entries of before/after pairs from real photos; returns the number of photos written."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    phone = sorted((DATA / "perf" / "phone_photos").glob("*.jpg"))
    val = sorted((DATA / "litter" / "aquatrash" / "val" / "images").glob("*.jpg"))
    frames = sorted((DATA / "scenes" / "street_video_frames").glob("*.jpg"))[::4]
    sources = [(p, p in phone[: max(1, len(phone) // 4)]) for p in phone]
    sources += [(p, False) for p in val] + [(p, False) for p in frames]
    rng.shuffle(sources)
    sources.sort(key=lambda s: not s[1])  # the 12 MP ones always in
    n = 0
    for i, (src, upscale) in enumerate(sources[:entries]):
        img = cv2.imread(str(src))
        if upscale:
            img = cv2.resize(img, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        d = 0.03 * min(w, h)
        quad = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        moved = quad + rng.uniform(-d, d, (4, 2)).astype(np.float32)
        after = cv2.warpPerspective(img, cv2.getPerspectiveTransform(quad, moved), (w, h),
                                    borderMode=cv2.BORDER_REFLECT)
        after = cv2.convertScaleAbs(after, alpha=float(rng.uniform(0.85, 1.15)), beta=float(rng.uniform(-12, 12)))
        entry = dest / f"e{i:04d}"
        (entry / "before").mkdir(parents=True)
        (entry / "after").mkdir()
        cv2.imwrite(str(entry / "before" / "b.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(entry / "after" / "a.jpg"), after, [cv2.IMWRITE_JPEG_QUALITY, 90])
        n += 2
    return n


def _peak() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"driver_mib": round(own, 1), "largest_child_mib": round(kids, 1)}


def one(kind: str, batch: Path, ws: Path, workers: int) -> dict:
    """One measurement in this process (called in a fresh process by :func:`main`)."""
    from pipeline.config import Config

    cfg = Config()
    photos = sorted(batch.glob("*/*/*.jpg"))
    if kind == "detector":
        from pipeline.detect.registry import resolve_model
        from pipeline.detect.runtime import ultralytics_threads

        ul = ultralytics_threads(cfg.detect.torch_threads)
        model = ul.YOLO(str(resolve_model(cfg.detect.model).path), task="detect")
        model.predict(str(photos[0]), imgsz=cfg.detect.imgsz, conf=cfg.detect.confidence, verbose=False)  # warm
        t = time.perf_counter()
        for p in photos:
            model.predict(str(p), imgsz=cfg.detect.imgsz, conf=cfg.detect.confidence, verbose=False)
        return {"seconds": time.perf_counter() - t, "photos": len(photos), **_peak()}
    from pipeline.executors import make_executor
    from pipeline.runner import run_batch
    from pipeline.workspace import Workspace

    t0 = time.perf_counter()
    ex = make_executor("ray" if kind == "ray" else ("serial" if kind == "rerun" else kind), workers=workers)
    startup = time.perf_counter() - t0
    with Workspace(ws) as w:
        t = time.perf_counter()
        s = run_batch(batch, w, cfg, quiet=True, executor=ex)
        took = time.perf_counter() - t
    ray_peak = _ray_workers_peak() if kind == "ray" else None  # not our children: ask while they live
    ex.close()  # a pool's workers count as children once they are reaped
    peak = _peak()
    if ray_peak is not None:
        peak["largest_child_mib"] = ray_peak
    return {"seconds": took, "executor_startup_s": round(startup, 2), "photos": s.photos,
            "decoded": s.photos_decoded, "matched": s.photos_matched, **peak}


def _ray_workers_peak() -> float:
    best = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "ray::" in text.split("\n", 1)[0] or "ray::" in (status.parent / "cmdline").read_text(errors="ignore"):
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024)
    return round(best, 1)


def _fresh(kind: str, batch: Path, ws: Path, workers: int) -> dict:
    r = subprocess.run([sys.executable, __file__, "--one", kind, "--batch", str(batch), "--ws", str(ws),
                        "--workers", str(workers)], capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--batch", help=argparse.SUPPRESS)
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, Path(args.batch), Path(args.ws), args.workers)))
        return
    if not DATA.is_dir():
        raise SystemExit(f"needs the real photos in {DATA}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        batch = tmp / "batch"
        n = build_batch(batch, args.entries)
        print(f"batch: {args.entries} entries, {n} photos ({tmp})", file=sys.stderr)
        res = {"entries": args.entries, "photos": n, "workers": args.workers, "cpus": os.cpu_count()}
        res["detector"] = _fresh("detector", batch, tmp / "ws-none", args.workers)
        res["serial"] = _fresh("serial", batch, tmp / "ws-serial", args.workers)
        res["rerun"] = _fresh("rerun", batch, tmp / "ws-serial", args.workers)
        res["local"] = _fresh("local", batch, tmp / "ws-local", args.workers)
        if not args.skip_ray:
            res["ray"] = _fresh("ray", batch, tmp / "ws-ray", args.workers)
        det = res["detector"]["seconds"]
        for k in ("serial", "local", "ray", "rerun"):
            if k in res:
                res[k]["x_detector"] = round(res[k]["seconds"] / det, 2)
                res[k]["s_per_photo"] = round(res[k]["seconds"] / n, 3)
        res["detector"]["s_per_photo"] = round(det / n, 3)
        res["local_speedup_vs_serial"] = round(res["serial"]["seconds"] / res["local"]["seconds"], 2)
        if "ray" in res:
            res["ray_vs_local"] = round(res["ray"]["seconds"] / res["local"]["seconds"], 2)
        print(json.dumps(res, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
