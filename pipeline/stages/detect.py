"""Photo stage ``detect``: litter detections of a photo by the run's detector, on the backend the
configuration names (``[detect] model`` and ``backend``: :mod:`pipeline.detect.backends` behind
:class:`pipeline.detect.infer.Detector`). The detector is loaded once per process
(:mod:`pipeline.detect.process`) and runs on an entry's photos at once; results carry the model id."""
from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..detect.infer import cache_key
from ..detect.process import process_detector
from ..types import Detections, LoadedPhoto
from .base import PhotoStage


def _key(cfg: Config, load_key: str) -> tuple[str, str]:
    return cache_key(load_key, cfg.detect)


def _compute(photos: Sequence[LoadedPhoto], cfg: Config) -> list[Detections]:
    return list(process_detector(cfg.detect).detect(list(photos))) if photos else []


STAGE = PhotoStage("detect", _key, _compute, Detections.from_dict, uses_model=True)
