"""Synthetic scenes for the verify and score tests: random texture, camera moves, drawn litter."""
from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import Detections, LoadedPhoto, PhotoMeta


def _load_calibration():
    """datasets/calibration.py as a module (``datasets`` is not a package)."""
    import importlib.util
    import sys
    from pathlib import Path

    if "calibration" in sys.modules:
        return sys.modules["calibration"]
    spec = importlib.util.spec_from_file_location(
        "calibration", Path(__file__).resolve().parents[1] / "datasets" / "calibration.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibration"] = mod
    spec.loader.exec_module(mod)
    return mod


calibration = _load_calibration()


def textured_scene(seed: int, size: tuple[int, int] = (800, 600)) -> np.ndarray:
    """An HxWx3 uint8 RGB 'ground' with multi-scale random texture and random shapes (reproducible)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.zeros((h, w, 3), np.float32)
    for cell in (4, 16, 64):
        small = rng.uniform(0, 255, (h // cell + 2, w // cell + 2, 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] / 3
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(60):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(5, 30)), c, -1)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 50)), y + int(rng.integers(5, 50))), c, -1)
    return img


def camera_move(seed: int, size: tuple[int, int], rot_deg: float = 8, zoom: float = 1.15, shift: float = 0.06) -> np.ndarray:
    """A 3x3 homography of a small camera move (rotation about the centre, zoom, shift, a little tilt)."""
    return calibration.random_move(np.random.default_rng(seed), size, rot_deg, zoom, shift, 0.2)


def loaded(image: np.ndarray, sha: str, scale: float = 1.0) -> LoadedPhoto:
    """A LoadedPhoto of ``image`` as if the full-size photo were ``1/scale`` times larger."""
    h, w = image.shape[:2]
    return LoadedPhoto(PhotoMeta(sha, 0, width=round(w / scale), height=round(h / scale)), image, scale)


def dets(boxes, size: tuple[int, int]) -> Detections:
    """Detections of ``boxes`` (xyxy full-size px) in a photo of ``size`` (width, height)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(b, np.ones(len(b)), np.zeros(len(b)), ("litter",), "synthetic@0", size)
