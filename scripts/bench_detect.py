#!/usr/bin/env python
"""Photos per second of the detect stage against plain ultralytics ``predict`` on the same photos.

Measured in one run, same model, same threads, same imgsz/conf/iou:

* baseline: ``YOLO(weights).predict(list of file paths)`` in batches of ``--batch`` (ultralytics decodes
  each full-size file itself);
* stage: ``Detector.detect(LoadedPhoto batch)`` on photos already decoded by the loader (what the runner
  does: it decodes each photo once for all stages);
* stage + load: the loader's ``read_photo`` + ``load_photo`` (draft decode to the analysis size) followed by
  ``Detector.detect``.

Then detect-stage set-ups side by side (``--arm MODEL:BACKEND:IMGSZ``, repeatable; default: today's
shipped configuration against ``litter-v8s-416b:torch:416``, issue 18's baseline): each arm's detect stage
on the same decoded photos, the arms interleaved round by round (``--rounds``), median ms per photo and
the ratio to the first arm, measured in the same run.

Photos: ../shared/data/perf/phone_photos when present (3264x2448 phone JPEGs), else generated ones.
Usage: python scripts/bench_detect.py [--model NAME|PATH] [--photos DIR] [--repeat 2] [--threads 0]
           [--arm litter-v8s-416b:torch:416 --arm litter-v8s-640-v2:openvino:640 ...] [--rounds 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.detect.infer import load_detector  # noqa: E402
from pipeline.load import load_photo, read_photo  # noqa: E402


def generated_photos(folder: Path, n: int = 8) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = (rng.random((1536, 2048, 3)) * 255).astype(np.uint8)
        p = folder / f"gen{i}.jpg"
        Image.fromarray(img).save(p, quality=90)
        out.append(p)
    return out


def timed(fn, repeat: int) -> float:
    """Best wall-clock seconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "data" / "perf" / "phone_photos")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--arm", action="append", default=[], metavar="MODEL:BACKEND:IMGSZ",
                    help="a detect-stage set-up to time (repeatable; the first is the baseline of the ratios)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the arms (median reported)")
    args = ap.parse_args()

    base = Config()
    cfg = dataclasses.replace(base.detect, model=args.model, torch_threads=args.threads, batch_size=args.batch)
    tmp = tempfile.TemporaryDirectory()
    if args.photos.is_dir():
        paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        source = str(args.photos)
    else:
        paths = generated_photos(Path(tmp.name))
        source = "generated 2048x1536 JPEGs"
    det = load_detector(cfg)
    model = det.model

    def baseline():
        for i in range(0, len(paths), args.batch):
            model.predict([str(p) for p in paths[i:i + args.batch]], conf=cfg.confidence, iou=cfg.iou,
                          imgsz=cfg.imgsz, verbose=False, batch=args.batch)

    def load_all():
        return [load_photo(read_photo(p, base.load), base.load) for p in paths]

    loaded = load_all()

    def stage():
        det.detect(loaded)

    def stage_and_load():
        det.detect(load_all())

    n = len(paths)
    t_base = timed(baseline, args.repeat)
    t_stage = timed(stage, args.repeat)
    t_full = timed(stage_and_load, args.repeat)
    print(f"model {det.model_id}, {n} photos from {source}, imgsz {cfg.imgsz}, batch {args.batch}, "
          f"threads {args.threads or 'all'}, best of {args.repeat}")
    print(f"  baseline ultralytics predict(paths): {n / t_base:6.2f} photos/s")
    print(f"  detect stage (decoded photos):       {n / t_stage:6.2f} photos/s  ({t_base / t_stage:.2f}x baseline)")
    print(f"  load + detect stage:                 {n / t_full:6.2f} photos/s  ({t_base / t_full:.2f}x baseline)")
    del det, model
    arms = args.arm or ["litter-v8s-416b:torch:416", f"{base.detect.model}:{base.detect.backend}:{base.detect.imgsz}"]
    compare_arms(arms, loaded, cfg, args.rounds)
    tmp.cleanup()
    return 0


def compare_arms(arms: list[str], loaded, cfg, rounds: int) -> None:
    """Median detect-stage ms per photo of each arm, arms interleaved in every round; ratios to arm 0."""
    dets = []
    for a in arms:
        model, backend, imgsz = a.rsplit(":", 2)
        d = load_detector(dataclasses.replace(cfg, model=model, backend=backend, imgsz=int(imgsz)))
        d.detect(loaded[:1])  # warm: first-call allocations and compilation
        dets.append(d)
    times = np.zeros((rounds, len(arms)))
    for r in range(rounds):
        for k, d in enumerate(dets):
            t = time.perf_counter()
            d.detect(loaded)
            times[r, k] = (time.perf_counter() - t) / len(loaded) * 1000
    med = np.median(times, 0)
    print(f"detect stage per photo, {len(loaded)} decoded photos, median of {rounds} interleaved rounds "
          f"(threads {cfg.torch_threads or 'all'}):")
    for k, (a, d) in enumerate(zip(arms, dets)):
        per_round = ", ".join(f"{x / times[r, 0]:.2f}" for r, x in enumerate(times[:, k]))
        print(f"  {a:40s} {d.model_id:44s} {med[k]:7.1f} ms  {med[k] / med[0]:.2f}x arm 1 (rounds: {per_round})")


if __name__ == "__main__":
    sys.exit(main())
