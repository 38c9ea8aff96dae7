"""Photo stage ``quality``: sharpness and brightness of the analysis image (:mod:`pipeline.verify.quality`)."""
from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..types import LoadedPhoto
from ..verify.quality import PhotoQuality, cache_key, measure_quality
from .base import PhotoStage


def _key(cfg: Config, load_key: str) -> tuple[str, str]:
    return cache_key(load_key)


def _compute(photos: Sequence[LoadedPhoto], cfg: Config) -> list[PhotoQuality]:
    return [measure_quality(p.image) for p in photos]


STAGE = PhotoStage("quality", _key, _compute, PhotoQuality.from_dict)
