"""The detect stage: litter boxes in decoded photos, batched, at the operating threshold.

Usage (the runner)::

    detector = load_detector(cfg.detect)          # once per run
    dets = detector.detect([photo1, photo2, ...])  # LoadedPhoto -> Detections, same order
    ws.put_result(sha, "detect", STAGE_VERSION, ..., dets[i].to_dict(), model_id=detector.model_id)

Photos are passed to the runtime (``detect.backend``: PyTorch through ultralytics, ONNX Runtime or
OpenVINO, :mod:`pipeline.detect.backends`) as in-memory arrays (the analysis image, EXIF orientation
already applied by the loader; ultralytics' own path loading has orientation bugs, docs/research.md).
The runtimes take arrays as **BGR** (OpenCV order), as ultralytics does, so the RGB analysis image is
flipped here first. Boxes come back in analysis-image pixels and are divided by ``photo.scale`` into
pixels of the oriented full-size photo, clipped to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import DetectConfig, section_digest
from ..digests import digest
from ..types import Detections, LoadedPhoto
from .backends import Runtime, open_runtime
from .registry import ModelInfo, resolve_model

STAGE_VERSION = "detect-2"  # 2: candidates down to candidate_confidence, operating threshold recorded


def cache_key(load_key: str, cfg: DetectConfig) -> tuple[str, str]:
    """(version, key) of a photo's stored detections (stored with the model id besides)."""
    return STAGE_VERSION, digest(load_key, section_digest(cfg))


def full_size(photo: LoadedPhoto) -> tuple[int, int]:
    """(width, height) of the oriented full-size photo: from its metadata, else from image / scale."""
    if photo.meta.width and photo.meta.height:
        return int(photo.meta.width), int(photo.meta.height)
    h, w = photo.image.shape[:2]
    s = photo.scale if photo.scale > 0 else 1.0
    return int(round(w / s)), int(round(h / s))


def to_bgr(image: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 BGR copy of an RGB(A) or grey analysis image. Raises ValueError otherwise."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    return np.ascontiguousarray(a[:, :, 2::-1])


def boxes_to_full_size(xyxy: np.ndarray, scale: float, image_size: tuple[int, int]) -> np.ndarray:
    """Boxes (N, 4) in analysis pixels -> pixels of the full-size photo (``/ scale``), clipped to it."""
    s = scale if scale > 0 else 1.0
    out = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4) / s
    w, h = image_size
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out.astype(np.float32)


@dataclass
class Detector:
    """A loaded detector. ``model_id`` is recorded with every result; ``class_names`` come from the model;
    ``runtime`` is the backend that runs it."""

    info: ModelInfo
    cfg: DetectConfig
    runtime: Runtime

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.runtime.class_names

    @property
    def model(self) -> Any:
        """The ultralytics model of the torch backend (benchmarks compare against its own predict)."""
        return getattr(self.runtime, "model", None)

    def detect(self, photos: list[LoadedPhoto]) -> list[Detections]:
        """Detections for each photo, in order, in full-size pixels: every box down to
        ``cfg.candidate_confidence``, with ``operating = cfg.confidence`` (``Detections.items()`` are the
        litter items shown and counted). Runs in batches of ``cfg.batch_size``; with ``cfg.tiles`` > 1 each
        photo is also run as overlapping tiles (:mod:`pipeline.detect.tiles`)."""
        out: list[Detections] = []
        for photo, (xyxy, conf, cls) in zip(photos, self.detect_arrays([to_bgr(p.image) for p in photos])):
            size = full_size(photo)
            out.append(Detections(xyxy=boxes_to_full_size(xyxy, photo.scale, size), confidence=conf,
                                  class_id=cls, class_names=self.class_names, model_id=self.model_id,
                                  image_size=size, operating=self.cfg.confidence))
        return out

    def detect_arrays(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(xyxy, confidence, class id) in pixels of each BGR image, down to the candidate threshold."""
        from .tiles import merge_detections, tile_windows

        conf = min(self.cfg.confidence, self.cfg.candidate_confidence)
        jobs: list[tuple[int, np.ndarray]] = []  # (image index, crop)
        layouts = []
        for i, im in enumerate(images):
            wins = tile_windows(im.shape[1], im.shape[0], self.cfg.tiles, self.cfg.tile_overlap)
            layouts.append(wins)
            jobs += [(i, im if k == 0 else np.ascontiguousarray(im[y1:y2, x1:x2]))
                     for k, (x1, y1, x2, y2) in enumerate(wins)]
        found = self.runtime.predict([c for _, c in jobs], conf=conf, iou=self.cfg.iou, imgsz=self.cfg.imgsz,
                                     batch=max(1, self.cfg.batch_size))
        out, k = [], 0
        for wins in layouts:
            parts = found[k:k + len(wins)]
            k += len(wins)
            if len(wins) == 1:
                out.append(parts[0])
            else:
                out.append(merge_detections(wins, [p[0] for p in parts], [p[1] for p in parts],
                                            [p[2] for p in parts], self.cfg.iou))
        return out


def load_detector(cfg: DetectConfig) -> Detector:
    """Load ``cfg.model`` (registry name, ``default``, or a path to weights) on ``cfg.backend`` with
    ``cfg.torch_threads`` threads (0: all cores; the name is historical, every backend uses it). Raises
    FileNotFoundError for an unknown model or one without a file of that backend."""
    info = resolve_model(cfg.model, cfg.backend)
    return Detector(info=info, cfg=cfg, runtime=open_runtime(info.backend, info.path, threads=cfg.torch_threads,
                                                             device=cfg.device))
