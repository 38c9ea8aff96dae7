"""Export a registered model's ``weights.pt`` for the other runtimes and record the files on its card.

* ``onnx``: ``weights.onnx``, FP32, dynamic input shapes, exported at ``imgsz`` (ultralytics' exporter).
* ``openvino``: an IR folder, FP32 (``weights_openvino_model/``) or INT8 (``weights_int8_openvino_model/``).
  INT8 is post-training quantisation by NNCF (through ultralytics' exporter) calibrated on the *training*
  images of a data.yaml (its ``train`` split, never ``val``: the split that picks epochs and thresholds
  stays unseen, and the evaluation sets are never used); measure it afterwards with ``evaluate --backend``.

The card's ``files:`` section gets ``{backend: {path, sha256, precision, imgsz, ...}}``, which the registry
checks on every load (:func:`pipeline.detect.registry.card_files`). Offline: ultralytics comes from
:mod:`pipeline.offline`; the exporter finds its requirements installed (``pip install .[export]``).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .publish import card_path, scrub_paths
from .registry import WEIGHTS, path_sha256, resolve_model, save_card
from .runtime import ultralytics_threads


def export_model(name: str, backend: str, *, imgsz: int, int8: bool = False, calib_data: str | Path | None = None,
                 calib_images: int = 300, threads: int = 0, command: str = "",
                 eval_data: list[Path] = ()) -> tuple[Path, dict[str, Any]]:
    """Export registered model ``name`` for ``backend`` (onnx | openvino) at ``imgsz`` pixels; ``int8``
    (openvino only) calibrates on at most ``calib_images`` images of ``calib_data``'s ``train`` split.
    ``eval_data``: data.yaml files to measure the exported file on (at the card's operating threshold),
    recorded in the entry's ``metrics`` beside the PyTorch ones of the card.
    Returns the written file or folder (inside the model's folder) and the card's new ``files`` entry.
    Raises ValueError for an impossible request, FileNotFoundError for a missing model or data."""
    if backend not in ("onnx", "openvino"):
        raise ValueError(f"models export: --backend must be onnx or openvino, got {backend!r}")
    if int8 and backend != "openvino":
        raise ValueError("models export: --int8 is for --backend openvino only")
    if int8 and calib_data is None:
        raise ValueError("models export: --int8 needs --calib-data DATA_YAML (its train images calibrate)")
    info = resolve_model(name)
    if info.path.name != WEIGHTS:
        raise ValueError(f"models export: {name} is not a registered model (a folder of models/ with {WEIGHTS})")
    folder = info.path.parent
    ul = ultralytics_threads(threads)
    # dynamic shapes: the runtimes letterbox as ultralytics' PyTorch predict does (minimal rectangles)
    args: dict[str, Any] = {"imgsz": imgsz, "batch": 1, "dynamic": True, "device": "cpu"}
    entry: dict[str, Any] = {"precision": "int8" if int8 else "fp32", "imgsz": imgsz}
    with tempfile.TemporaryDirectory(prefix="cv-export-") as tmp:
        src = Path(tmp) / WEIGHTS  # ultralytics writes next to its source: export from a copy, move after
        shutil.copyfile(info.path, src)
        if backend == "onnx":
            out = ul.YOLO(str(src), task="detect").export(format="onnx", simplify=False, **args)
        else:
            if int8:
                calib = _train_split_yaml(Path(calib_data), Path(tmp), calib_images)
                args.update(int8=True, data=str(calib), split="train", fraction=1.0)
                entry["calibration"] = {"data": card_path(Path(calib_data).resolve()), "split": "train",
                                        "images": calib_images, "method": "NNCF post-training quantisation "
                                        "(ultralytics exporter, preset mixed)"}
            out = ul.YOLO(str(src), task="detect").export(format="openvino", **args)
        out = Path(out)
        target = folder / out.name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        shutil.move(str(out), target)
    entry = {"path": target.name, "sha256": path_sha256(target), **entry}
    if command:
        entry["command"] = scrub_paths(command)
    card = dict(info.card)
    files = dict(card.get("files") or {})
    files[backend] = entry
    card["files"] = files
    save_card(folder, card)
    exported = resolve_model(name, backend)  # the card and the file agree
    if eval_data:
        from ..config import DetectConfig
        from .evaluate import evaluate

        conf = float((card.get("operating_threshold") or {}).get("confidence", DetectConfig().confidence))
        entry["metrics"] = [{k: card_path(v) if k == "data" else v for k, v in
                             evaluate(exported, d, confidence=conf, imgsz=imgsz, iou=DetectConfig().iou,
                                      threads=threads).to_dict().items()} for d in eval_data]
        save_card(folder, card)
    return target, entry


def _train_split_yaml(data_yaml: Path, tmp: Path, n: int) -> Path:
    """A copy of ``data_yaml`` whose ``train`` split is the first ``n`` images of its training list, in a
    seeded shuffled order (deterministic), for calibration; ``val`` is left out of it entirely."""
    import random

    if not data_yaml.is_file():
        raise FileNotFoundError(f"no data.yaml at {data_yaml} (build it with: cleanup-verify dataset build)")
    data = yaml.safe_load(data_yaml.read_text())
    base = Path(data.get("path") or data_yaml.parent)
    base = base if base.is_absolute() else data_yaml.parent / base
    from .evaluate import _image_list

    images = sorted({str(p) for p in _image_list(data["train"], base)})
    random.Random(0).shuffle(images)
    lst = tmp / "calibration.txt"
    lst.write_text("".join(f"{p}\n" for p in images[:n]))
    out = tmp / "calibration.yaml"
    out.write_text(yaml.safe_dump({"path": str(base), "train": str(lst), "val": str(lst), "nc": data["nc"],
                                   "names": data["names"]}, sort_keys=False))
    return out
