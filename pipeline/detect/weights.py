"""Writing weight files that ``YOLO(path)`` loads: a seeded untrained model, or a stripped checkpoint."""
from __future__ import annotations

import copy
import datetime as _dt
from pathlib import Path

from .runtime import ultralytics_threads


def save_untrained(arch_yaml: str, names: tuple[str, ...], path: Path, seed: int = 0) -> Path:
    """Build ``arch_yaml`` (e.g. ``yolov8n.yaml``) with ``len(names)`` classes from a seeded random
    initialisation and save it, fp16, as an ultralytics checkpoint at ``path``."""
    ultralytics_threads(1)
    import torch
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    model = DetectionModel(arch_yaml, nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    model.args = {"imgsz": 640, "task": "detect"}
    ckpt = {"model": copy.deepcopy(model).half().eval(), "epoch": -1, "date": _dt.date.today().isoformat(),
            "train_args": {"model": arch_yaml, "task": "detect", "seed": seed, "untrained": True}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path


def export_checkpoint(src: Path, dst: Path) -> Path:
    """Copy a training checkpoint to ``dst`` stripped of optimizer state, EMA kept as the model, fp16
    (ultralytics ``strip_optimizer``); ``src`` is not modified."""
    ultralytics_threads(1)
    from ultralytics.utils.torch_utils import strip_optimizer

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    strip_optimizer(str(src), str(dst))
    return dst
