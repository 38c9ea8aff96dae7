"""This process's detector: loaded once per process (a pool worker, a Ray worker, the driver) and reused for
every photo that process detects in; and the threads this process may use.

torch and ultralytics are imported when the first detector is opened (:mod:`pipeline.detect.backends`), on
purpose: a run that needs no detection never imports them.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

from ..config import DetectConfig
from .infer import load_detector

_detectors: dict[DetectConfig, Any] = {}
_threads: int = 0  # threads this process may use (0: one per core); set by a pool's initializer


def set_process_threads(threads: int) -> None:
    """Threads this process may use for OpenCV, and for the detector when ``DetectConfig.torch_threads`` is 0
    (a pool worker gets cores / workers)."""
    global _threads
    _threads = threads
    if threads > 0:
        import cv2

        cv2.setNumThreads(threads)


def process_detector(cfg: DetectConfig) -> Any:
    """The detector of ``cfg`` in this process (a :class:`pipeline.detect.infer.Detector`), loaded on first
    use."""
    if cfg not in _detectors:
        _detectors[cfg] = load_detector(replace(cfg, torch_threads=cfg.torch_threads or _threads))
    return _detectors[cfg]


def warm_detector(cfg: DetectConfig, _item: Any = None) -> int:
    """Load this process's detector and run it once on a blank photo (imports, weights, the first forward
    pass's set-up); returns the process id. ``fn(shared, item)`` of the executors: a benchmark starts every
    worker with it before its clock, as it loads the plain detector before timing that
    (scripts/bench_pipeline.py)."""
    process_detector(cfg).detect_arrays([np.zeros((cfg.imgsz, cfg.imgsz, 3), np.uint8)])
    return os.getpid()
