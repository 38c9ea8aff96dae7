#!/usr/bin/env python
"""Seeing small litter: recall on the wide val split, false detections on clean streets, and cost per
photo, for several detect set-ups, side by side in one run.

A set-up is ``MODEL@IMGSZ`` or ``MODEL@IMGSZxT`` (T > 1: sliced inference, the whole photo plus a T x T
grid of overlapping tiles, pipeline/detect/tiles.py), optionally followed by ``+BACKEND`` (torch, onnx,
openvino: the model's file for that runtime) and ``=CONF`` (that set-up's operating threshold, e.g. a
model's own card value), e.g. ``litter-v8s-640-v2@640+openvino=0.3``. The first set-up is the baseline of the cost ratios.
Each photo is decoded once and reduced to the analysis size the pipeline detects on
(``LoadConfig.analysis_max_side``); times are the detector's own (``Detector.detect_arrays``), best of
``--repeat`` passes over all photos after a warm-up.

Measured at each set-up's operating threshold (``--confidence``, default the config's), IoU >= 0.5:
recall of all items and of small items (box width under 5 % of the photo's width), precision, and false
detections per held-out clean street photo (the data.yaml's negatives list).

    python scripts/bench_small_litter.py --data build/datasets/litter2 \\
        --setup litter-v8s-416b@416 --setup litter-v8s-416b@640 --setup litter-v8s-416b@416x2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.detect.evaluate import _gt, _image_list, match_counts  # noqa: E402
from pipeline.detect.infer import load_detector  # noqa: E402

SMALL = 0.05  # small item: box width under this fraction of the photo's width


def _read(path: Path, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    im = cv2.imread(str(path))
    s = min(1.0, max_side / max(im.shape[:2]))
    if s < 1.0:
        im = cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s)), interpolation=cv2.INTER_AREA)
    return im, s


def parse_setup(text: str) -> tuple[str, int, int, str | None, float | None]:
    """``MODEL@IMGSZ[xT][+BACKEND][=CONF]`` -> (model, imgsz, tiles, backend or None, confidence or None)."""
    text, _, conf = text.partition("=")
    text, _, backend = text.partition("+")
    model, _, rest = text.rpartition("@")
    size, _, tiles = rest.partition("x")
    return model, int(size), int(tiles or 0), backend or None, float(conf) if conf else None


def run_setup(setup: str, images, gts, negatives, cfg: Config, confidence: float, repeat: int) -> dict:
    model, imgsz, tiles, backend, own_conf = parse_setup(setup)
    confidence = own_conf if own_conf is not None else confidence
    dcfg = dataclasses.replace(cfg.detect, model=model, imgsz=imgsz, tiles=tiles, confidence=confidence,
                               backend=backend or cfg.detect.backend)
    det = load_detector(dcfg)
    det.detect_arrays(images[:2])  # warm-up
    best = float("inf")
    found = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = det.detect_arrays(images)
        best = min(best, time.perf_counter() - t0)
    tp = fp = fn = tp_s = n_s = 0
    for (xyxy, conf, _), (gt, width) in zip(found, gts):
        keep = conf >= confidence
        a, b, c = match_counts(xyxy[keep], conf[keep], np.zeros(int(keep.sum()), int), gt, np.zeros(len(gt), int))
        tp, fp, fn = tp + a, fp + b, fn + c
        small = (gt[:, 2] - gt[:, 0]) < SMALL * width
        if small.any():
            ts, _, _ = match_counts(xyxy[keep], conf[keep], np.zeros(int(keep.sum()), int), gt[small],
                                    np.zeros(int(small.sum()), int))
            tp_s, n_s = tp_s + ts, n_s + int(small.sum())
    neg_found = det.detect_arrays(negatives) if negatives else []
    false_clean = sum(int((c >= confidence).sum()) for _, c, _ in neg_found)
    return {"setup": setup, "model_id": det.model_id, "imgsz": imgsz, "tiles": tiles, "confidence": confidence,
            "photos": len(images), "items": tp + fn, "recall": tp / max(1, tp + fn),
            "small_items": n_s, "recall_small": tp_s / max(1, n_s), "precision": tp / max(1, tp + fp),
            "fp_per_clean_photo": false_clean / max(1, len(negatives)), "clean_photos": len(negatives),
            "ms_per_photo": 1000 * best / max(1, len(images))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "build" / "datasets" / "litter2",
                    help="a built dataset with a wide val split (cleanup-verify dataset build litter2)")
    ap.add_argument("--split", default="val_wide", help="data.yaml key of the images to measure (default val_wide)")
    ap.add_argument("--setup", action="append", required=True, help="MODEL@IMGSZ[xTILES]; the first is the baseline")
    ap.add_argument("--confidence", type=float, help="operating threshold (default: the config's)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    import yaml

    cfg = Config()
    cfg = dataclasses.replace(cfg, detect=dataclasses.replace(cfg.detect, torch_threads=args.threads))
    data = yaml.safe_load((args.data / "data.yaml").read_text())
    paths = _image_list(data[args.split], args.data)
    neg_paths = _image_list(data["negatives"], args.data) if data.get("negatives") else []
    images, gts = [], []
    for p in paths:
        im, s = _read(p, cfg.load.analysis_max_side)
        gt, _ = _gt(p, im.shape[1], im.shape[0], True)
        images.append(im)
        gts.append((gt, im.shape[1]))
    negatives = [_read(p, cfg.load.analysis_max_side)[0] for p in neg_paths]
    conf = args.confidence if args.confidence is not None else cfg.detect.confidence
    rows = []
    for setup in args.setup:
        rows.append(run_setup(setup, images, gts, negatives, cfg, conf, args.repeat))
        r = rows[-1]
        print(f"{setup:34s} recall {r['recall']:.3f}  small {r['recall_small']:.3f} (n={r['small_items']})  "
              f"precision {r['precision']:.3f}  FP/clean {r['fp_per_clean_photo']:.2f}  "
              f"{r['ms_per_photo']:.0f} ms/photo ({r['ms_per_photo'] / rows[0]['ms_per_photo']:.2f}x baseline)",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
