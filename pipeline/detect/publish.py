"""Register a finished training run as ``models/<name>/``: stripped fp16 weights + a model card.

The epoch is chosen on the run's own validation split (a held-out part of the *training* folders) by
mAP50 (:func:`pipeline.detect.train.select_epoch`); the operating threshold is the confidence with the
best F1 on that same split (:func:`suggest_threshold`). The final evaluation data only ever appears in
the card's ``metrics``, measured after both choices were made.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from .evaluate import ThresholdPoint, evaluate, threshold_sweep
from .registry import ModelInfo, models_dir, resolve_model, save_card
from .train import read_curve, select_epoch
from .weights import export_checkpoint

THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 15)]  # 0.10 .. 0.70
RECIPE_KEYS = ("model", "data", "epochs", "time", "imgsz", "batch", "nbs", "optimizer", "lr0", "lrf", "cos_lr",
               "warmup_bias_lr",
               "warmup_epochs", "weight_decay", "freeze", "mosaic", "close_mosaic", "scale", "degrees", "mixup",
               "fliplr", "hsv_h", "hsv_s", "hsv_v", "translate", "seed", "deterministic", "single_cls")


def suggest_threshold(info: ModelInfo, holdout_yaml: Path, *, imgsz: int, iou: float,
                      threads: int = 0) -> tuple[float, list[ThresholdPoint]]:
    """The confidence in ``THRESHOLDS`` with the best F1 on the held-out split (ties: the higher one)."""
    sweep = threshold_sweep(info, holdout_yaml, THRESHOLDS, imgsz=imgsz, iou=iou, threads=threads)
    best = max(sweep, key=lambda p: (p.f1, p.confidence))
    return best.confidence, sweep


def publish_run(run_dir: Path, name: str, *, eval_data: list[Path], imgsz: int, iou: float,
                confidence: float | None = None, threads: int = 0, init: str = "",
                notes: str = "", licence: str = "AGPL-3.0",
                register_command: str = "", tune_data: Path | None = None) -> tuple[ModelInfo, dict[str, Any]]:
    """Export the selected epoch of ``run_dir`` to ``models/<name>/weights.pt``, measure it and write
    its card. ``confidence`` None: chosen by :func:`suggest_threshold` on the run's val split. The card
    records the commands that rebuild the data, train and register (``register_command``: the one that was
    run), with paths relative to the project or the shared data only (:func:`card_path`). ``tune_data``: a
    second tuning split (wide scenes) measured on every epoch checkpoint; the epoch is then chosen by the
    mean of both mAP50s (:func:`pipeline.detect.train.select_epoch`)."""
    run_dir = Path(run_dir)
    args = yaml.safe_load((run_dir / "args.yaml").read_text())
    tune = tune_scores(run_dir, tune_data, imgsz=imgsz, threads=threads) if tune_data else None
    row, ckpt = select_epoch(run_dir, tune)
    folder = models_dir() / name
    export_checkpoint(ckpt, folder / "weights.pt")
    info = resolve_model(name)
    holdout = Path(args["data"])
    chosen, sweep = suggest_threshold(info, holdout, imgsz=imgsz, iou=iou, threads=threads)
    conf = chosen if confidence is None else confidence
    metrics = []
    for d in [holdout, *eval_data]:
        r = evaluate(info, d, confidence=conf, imgsz=imgsz, iou=iou, threads=threads)
        metrics.append({k: card_path(v) if k == "data" else v for k, v in r.to_dict().items() if k != "model_id"})
    curve = read_curve(run_dir)
    card = {
        "name": name,
        "model_id": info.model_id,
        "date": _dt.date.today().isoformat(),
        "architecture": f"{Path(str(args.get('model', ''))).name} (ultralytics), {len(_names(info))} class(es)",
        "classes": _names(info),
        "init_weights": scrub_paths(init),
        "commands": _commands(args, holdout, register_command),
        "data": {"train_yaml": card_path(holdout), "definition": _definition(holdout)},
        "recipe": {k: card_path(args[k]) if k in ("model", "data") else args[k] for k in RECIPE_KEYS if k in args},
        "selected_epoch": {"epoch": row.epoch, "checkpoint": f"weights/{ckpt.name}",
                           "by": ("best mean of the val split's mAP50 (held out from the training folders) and "
                                  f"the tuning split's mAP50 ({card_path(tune_data)})" if tune else
                                  "best mAP50 on the data's val split (held out from the training folders)")
                           if ckpt.name.startswith("epoch") else "ultralytics' best.pt (no epoch checkpoints)",
                           "holdout_map50": row.map50, "holdout_map50_95": row.map50_95,
                           **({"tune_map50": tune[row.epoch],
                               "tune_curve": [{"epoch": e, "tune_map50": m} for e, m in tune.items()]}
                              if tune else {})},
        "operating_threshold": {"confidence": conf, "chosen_by": "max F1 on the held-out split"
                                if confidence is None else "given", "sweep": [asdict(p) for p in sweep]},
        "evaluation": {"imgsz": imgsz, "nms_iou": iou, "map": "ultralytics val, single_cls for 1 class",
                       "precision_recall": "detect stage at the operating threshold, IoU >= 0.5 matching"},
        "metrics": {k: metrics[-1][k] for k in ("map50", "map50_95", "precision", "recall",
                                                "fp_per_clean_image")} if eval_data else {},
        "metrics_data": card_path(eval_data[-1]) if eval_data else "",
        "all_metrics": metrics,
        "training": training_summary(curve, args),
        "learning_curve": [{"epoch": r.epoch, "minutes": round(r.seconds / 60, 1), "map50": round(r.map50, 4),
                            "map50_95": round(r.map50_95, 4), "box_loss": round(r.box_loss, 4),
                            "cls_loss": round(r.cls_loss, 4)} for r in curve],
        "licence": licence,
        "notes": notes,
    }
    save_card(folder, card)
    return resolve_model(name), card


def tune_scores(run_dir: Path, tune_data: Path, *, imgsz: int, threads: int = 0) -> dict[int, float]:
    """mAP50 (ultralytics val, one class) of every kept epoch checkpoint of ``run_dir`` on the ``val`` split
    of ``tune_data``: {epoch (from 1): mAP50 rounded to 4 places}. A tuning split, never the evaluation."""
    import sys

    from .evaluate import ultralytics_val
    from .train import epoch_checkpoints

    out = {}
    for epoch, ck in epoch_checkpoints(run_dir).items():
        out[epoch] = round(float(ultralytics_val(ck, tune_data, imgsz=imgsz, threads=threads).map50), 4)
        print(f"tuning split: epoch {epoch}: mAP50 {out[epoch]:.3f}", file=sys.stderr, flush=True)
    return out


def training_summary(curve, args: dict[str, Any]) -> dict[str, Any]:
    """Epochs done, wall time (minutes, in all and per epoch as ``results.csv`` times them, validation
    included) and the machine: what a card must say so the next person can plan a run."""
    import platform
    import statistics

    per_epoch = [round(s / 60, 1) for s in ([curve[0].seconds] if curve else [])
                 + [b.seconds - a.seconds for a, b in zip(curve, curve[1:])]]
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    return {"epochs_done": len(curve), "minutes": round(curve[-1].seconds / 60, 1) if curve else 0.0,
            "minutes_per_epoch": per_epoch,
            "median_minutes_per_epoch": statistics.median(per_epoch) if per_epoch else None,
            "device": str(args.get("device", "")),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
                       f"{', ' + cpu if cpu else ''}; torch threads as the train command set them "
                       "(cleanup-verify train --threads, default 2)",
            "note": "wall times from results.csv of the run (ultralytics resets them on --resume)"}


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path in it rewritten by :func:`card_path`."""
    import re

    return re.sub(r"(?<![\w.])/[^\s,;()'\"]+", lambda m: card_path(m.group(0)), text)


def _commands(args: dict[str, Any], data_yaml: Path, register_command: str) -> list[str]:
    """The commands that rebuild this model: dataset build, train (from the run's args.yaml), register."""
    from .train import TrainRecipe

    out = []
    definition = _definition(data_yaml)
    if definition:
        out.append(f"cleanup-verify dataset build {definition} --out {card_path(data_yaml.parent)}")
    flags = [f"--data {card_path(data_yaml)}", "--init INIT_WEIGHTS (see init_weights)"]
    for f in TrainRecipe.__dataclass_fields__:
        key = "time" if f == "hours" else f
        if key in args and args[key] is not None:
            value = card_path(args[key]) if f == "model" else args[key]
            flags.append(f"--{f.replace('_', '-')} {value}")
    out.append("cleanup-verify train " + " ".join(flags))
    if register_command:
        out.append(scrub_paths(register_command))
    return out


def card_path(path: str | Path) -> str:
    """A path as a model card records it: relative to the project (``build/datasets/x/data.yaml``), or to
    the shared data (``../shared/data/...``); elsewhere only its last two parts, marked as outside the
    project. Never a machine's absolute path. A bare name (``yolov8s.yaml``) stays as it is."""
    from .datasets import project_root, shared_data_root

    p = Path(str(path))
    if not p.is_absolute():
        return p.as_posix()
    p = Path(os.path.normpath(p))
    root = Path(os.path.normpath(project_root().resolve()))
    for base, prefix in ((root, ""), (Path(os.path.normpath(shared_data_root().resolve())), "../shared/data/")):
        try:
            return prefix + p.relative_to(base).as_posix()
        except ValueError:
            continue
    return "<outside the project>/" + "/".join(p.parts[-2:])


def _names(info: ModelInfo) -> list[str]:
    import torch

    ck = torch.load(info.path, map_location="cpu", weights_only=False)
    names = getattr(ck["model"], "names", {0: "litter"})
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)


def _definition(data_yaml: Path) -> str:
    try:
        return str(yaml.safe_load(data_yaml.read_text()).get("cleanup_verify", {}).get("definition", ""))
    except (OSError, ValueError):
        return ""
