"""Photo quality: sharpness and brightness, measured once per photo while it is decoded."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

STAGE_VERSION = "1"  # of the stored "quality" results
QUALITY_MAX_SIDE = 1024  # photos are measured at this longest side, so values compare across sizes


@dataclass(frozen=True)
class PhotoQuality:
    """``sharpness``: variance of the Laplacian of the grey image at longest side 1024 px (higher is
    sharper; below ~60 looks blurred). ``brightness``: mean grey level, 0-255."""

    sharpness: float
    brightness: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhotoQuality":
        return cls(sharpness=float(d["sharpness"]), brightness=float(d["brightness"]))


def cache_key(load_key: str) -> tuple[str, str]:
    """(version, key) of a photo's stored quality: it depends on the analysis image only."""
    return STAGE_VERSION, load_key


def measure_quality(image: np.ndarray) -> PhotoQuality:
    """Sharpness and brightness of an HxWx3 uint8 RGB (or HxW grey) image."""
    image = np.asarray(image)
    if image.size == 0:
        return PhotoQuality(0.0, 0.0)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image.astype(np.uint8)
    h, w = grey.shape[:2]
    f = QUALITY_MAX_SIDE / max(h, w)
    if f < 1.0:
        grey = cv2.resize(grey, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return PhotoQuality(round(sharp, 2), round(float(grey.mean()), 2))
