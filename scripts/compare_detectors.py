#!/usr/bin/env python
"""A judge's look at two detect set-ups: the same photos annotated side by side.

For each photo, the left half shows set-up A's litter items (boxes at its operating threshold, with
confidences), the right half set-up B's; one JPEG per photo in ``--out``, and one line per photo printed
(items each side) for the write-up in docs/detector.md. Photos are decoded and reduced to the analysis
size the pipeline detects on, as in a run.

A set-up is ``MODEL@IMGSZ[+BACKEND][=CONF]`` (as in scripts/bench_small_litter.py).

    python scripts/compare_detectors.py --a litter-v8s-416b@416 --b litter-v8s-640-v2@640+openvino=0.3 \\
        --photos ../shared/data/scenes/street_pov_litter --photos build/datasets/litter3/composite/val \\
        --pick 3 --out docs/judge-look
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_small_litter import _read, parse_setup  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.detect.infer import load_detector  # noqa: E402

PANEL_W = 640  # width of each half in the output image (pixels)


def _detector(setup: str, cfg: Config):
    model, imgsz, tiles, backend, conf = parse_setup(setup)
    d = dataclasses.replace(cfg.detect, model=model, imgsz=imgsz, tiles=tiles, backend=backend or cfg.detect.backend,
                            confidence=conf if conf is not None else cfg.detect.confidence)
    return load_detector(d)


def _panel(im: np.ndarray, boxes, conf, title: str) -> np.ndarray:
    s = PANEL_W / im.shape[1]
    out = cv2.resize(im, (PANEL_W, round(im.shape[0] * s)), interpolation=cv2.INTER_AREA)
    for (x0, y0, x1, y1), c in zip(boxes * s, conf):
        p0, p1 = (int(x0), int(y0)), (int(x1), int(y1))
        cv2.rectangle(out, p0, p1, (0, 0, 0), 3)
        cv2.rectangle(out, p0, p1, (0, 230, 255), 1)
        cv2.putText(out, f"{c:.2f}", (p0[0], max(10, p0[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 230, 255), 1,
                    cv2.LINE_AA)
    bar = np.full((26, PANEL_W, 3), 255, np.uint8)
    cv2.putText(bar, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, out])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="left set-up MODEL@IMGSZ[+BACKEND][=CONF]")
    ap.add_argument("--b", required=True, help="right set-up")
    ap.add_argument("--photos", type=Path, action="append", required=True, help="folder of photos (repeatable)")
    ap.add_argument("--pick", type=int, default=0, help="from each folder after the first, this many photos "
                                                        "spread over it (0: all)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    cfg = Config()
    da, db = _detector(args.a, cfg), _detector(args.b, cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    for k, folder in enumerate(args.photos):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if k > 0 and args.pick:
            files = [files[i] for i in np.linspace(0, len(files) - 1, args.pick).round().astype(int)]
        for f in files:
            im, _ = _read(f, cfg.load.analysis_max_side)
            halves, counts = [], []
            for d, name in ((da, args.a), (db, args.b)):
                xyxy, conf, _ = d.detect_arrays([im])[0]
                keep = conf >= d.cfg.confidence
                counts.append(int(keep.sum()))
                halves.append(_panel(im, xyxy[keep], conf[keep], f"{name}: {int(keep.sum())} item(s)"))
            h = max(x.shape[0] for x in halves)
            halves = [np.vstack([x, np.full((h - x.shape[0], PANEL_W, 3), 255, np.uint8)]) for x in halves]
            target = args.out / f"{folder.name}__{f.stem}.jpg"
            cv2.imwrite(str(target), np.hstack([halves[0], np.full((h, 6, 3), 255, np.uint8), halves[1]]),
                        [cv2.IMWRITE_JPEG_QUALITY, 82])
            print(f"{folder.name}/{f.name}: A {counts[0]} item(s), B {counts[1]} item(s) -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
