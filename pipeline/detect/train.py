"""Offline training of the litter detector: a thin, reproducible wrapper around ultralytics.

* Offline: ultralytics comes from :mod:`pipeline.offline` (no update checks, no downloads, font present);
  the architecture is built from its YAML and initial weights are loaded from a local path only
  (``YOLO("yolov8s.yaml").load(init)``).
* Reproducible: fixed seed, ``deterministic=True``.
* Resumable: ``last.pt`` is written every epoch (and ``epoch<N>.pt`` with ``save_period=1``, N = epoch
  index from 0); :func:`train_model` with ``resume=True`` continues from ``<run>/weights/last.pt``.
* Epoch selection on the *held-out split of the training folders* (the data's ``val``), by mAP50:
  :func:`select_epoch` reads ``results.csv``; the final evaluation split is never looked at here.
"""
from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .runtime import ultralytics_threads


@dataclass(frozen=True)
class TrainRecipe:
    """Training hyper-parameters. Sizes in pixels, time in hours, learning rates per optimizer step."""

    model: str = "yolov8s.yaml"  # architecture YAML (bundled with ultralytics)
    imgsz: int = 640
    epochs: int = 30  # upper bound; ``hours`` re-plans the epochs (and the lr schedule) after epoch 1
    hours: float | None = None  # wall-clock budget in hours, None: run all epochs
    batch: int = 8
    nbs: int = 16  # nominal batch: one optimizer step per nbs images
    optimizer: str = "AdamW"
    lr0: float = 0.002
    lrf: float = 0.05  # final lr = lr0 * lrf
    cos_lr: bool = True
    warmup_epochs: float = 1.0  # ultralytics warms up for at least 100 iterations when > 0
    warmup_bias_lr: float = 0.0  # ultralytics' 0.1 suits SGD; with AdamW it wrecks the biases (measured)
    weight_decay: float = 0.0005
    freeze: int = 5  # first N layers frozen (yolov8 backbone is layers 0-9)
    mosaic: float = 1.0
    close_mosaic: int = 2  # last N epochs without mosaic
    scale: float = 0.5
    degrees: float = 0.0
    mixup: float = 0.0
    fliplr: float = 0.5
    cache: str | bool = "ram"  # decoded, resized images in RAM (phone photos are 12 MP JPEGs)
    workers: int = 2
    patience: int = 100
    seed: int = 0
    save_period: int = 1  # keep every epoch's checkpoint, for selection by held-out mAP50
    plots: bool = True

    def ultralytics_args(self) -> dict:
        """The keyword arguments for ``YOLO.train`` (``model`` and ``hours`` excluded)."""
        d = dataclasses.asdict(self)
        d.pop("model")
        hours = d.pop("hours")
        if hours:
            d["time"] = hours
        return d


def train_model(data_yaml: str | Path, *, init: str | Path | None, project: str | Path, name: str,
                recipe: TrainRecipe = TrainRecipe(), threads: int = 2, resume: bool = False,
                device: str = "cpu", progress: Callable[[str], None] | None = None) -> Path:
    """Train (or resume) and return the run folder ``project/name`` (weights in ``weights/``).

    ``init``: a local ``.pt`` whose matching layers initialise the model (None: from scratch).
    ``threads``: torch threads (0: all cores). ``progress``: called with one line after each epoch (epoch
    of epochs, held-out mAP, time so far and left). Raises FileNotFoundError for a missing data/init file.
    """
    ul = ultralytics_threads(threads)
    run_dir = Path(project).resolve() / name
    if resume:
        last = run_dir / "weights" / "last.pt"
        if not last.is_file():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
        model = ul.YOLO(str(last))
        _watch(model, progress)
        model.train(resume=True, workers=recipe.workers)
        return run_dir
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"no data.yaml at {data_yaml} (build it with: cleanup-verify dataset build)")
    model = ul.YOLO(recipe.model)
    if init is not None:
        if not Path(init).is_file():
            raise FileNotFoundError(f"no initial weights at {init}")
        model = model.load(str(init))
    _watch(model, progress)
    model.train(data=str(data_yaml), project=str(run_dir.parent), name=run_dir.name, exist_ok=True,
                device=device, deterministic=True, verbose=True, **recipe.ultralytics_args())
    return run_dir


def _watch(model, progress: Callable[[str], None] | None) -> None:
    """Report each finished epoch through ``progress`` (ultralytics' own bars show the batches)."""
    if progress is None:
        return
    t0 = time.monotonic()
    first: list[int] = []

    def on_fit_epoch_end(trainer) -> None:
        done = trainer.epoch + 1
        if not first:
            first.append(trainer.epoch)
        n_here = trainer.epoch - first[0] + 1
        spent = time.monotonic() - t0
        left = spent / n_here * (trainer.epochs - done)
        m = trainer.metrics or {}
        progress(f"epoch {done}/{trainer.epochs}: held-out mAP50 {m.get('metrics/mAP50(B)', 0):.4f} "
                 f"mAP50-95 {m.get('metrics/mAP50-95(B)', 0):.4f}; {spent / 60:.1f} min so far, about "
                 f"{left / 60:.1f} min left; checkpoints in {trainer.wdir}")

    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)


@dataclass(frozen=True)
class EpochRow:
    """One line of ``results.csv``: epoch (from 1), elapsed seconds, held-out metrics and train losses."""

    epoch: int
    seconds: float
    map50: float
    map50_95: float
    precision: float
    recall: float
    box_loss: float
    cls_loss: float


def read_curve(run_dir: str | Path) -> list[EpochRow]:
    """The learning curve of a run from its ``results.csv`` (empty when there is none yet)."""
    path = Path(run_dir) / "results.csv"
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            r = {k.strip(): v for k, v in r.items()}
            rows.append(EpochRow(int(float(r["epoch"])), float(r.get("time", 0) or 0),
                                 float(r["metrics/mAP50(B)"]), float(r["metrics/mAP50-95(B)"]),
                                 float(r["metrics/precision(B)"]), float(r["metrics/recall(B)"]),
                                 float(r["train/box_loss"]), float(r["train/cls_loss"])))
    return rows


def select_epoch(run_dir: str | Path) -> tuple[EpochRow, Path]:
    """The epoch with the best held-out mAP50 (ties: mAP50-95, then the earlier epoch) whose checkpoint
    exists, and that checkpoint. Epochs count from 1 as in ``results.csv``; ultralytics names epoch N's
    checkpoint ``epoch{N-1}.pt``. Without epoch checkpoints it falls back to ``best.pt``, and then names
    the epoch best.pt holds (:func:`best_pt_epoch`), not the best-mAP50 one. Raises FileNotFoundError when
    there is no checkpoint."""
    run_dir = Path(run_dir)
    curve = read_curve(run_dir)
    rows = sorted(curve, key=lambda r: (-r.map50, -r.map50_95, r.epoch))
    for r in rows:
        ck = epoch_checkpoint(run_dir, r.epoch)
        if ck.is_file():
            return r, ck
    best = run_dir / "weights" / "best.pt"
    if curve and best.is_file():
        return best_pt_epoch(curve, best), best
    raise FileNotFoundError(f"no epoch checkpoints under {run_dir / 'weights'}")


def epoch_checkpoint(run_dir: str | Path, epoch: int) -> Path:
    """The checkpoint file of ``epoch`` (counted from 1, as in results.csv)."""
    return Path(run_dir) / "weights" / f"epoch{epoch - 1}.pt"


def best_pt_epoch(curve: list[EpochRow], best: Path) -> EpochRow:
    """The row of the epoch ultralytics saved as ``best.pt``: the one its checkpoint names (early-stopping
    state), else ultralytics' rule: the first epoch with the highest fitness (mAP50-95)."""
    by_epoch = {r.epoch: r for r in curve}
    try:
        import torch

        ck = torch.load(best, map_location="cpu", weights_only=False)
        e = int(((ck.get("stopper") or {}).get("best_epoch")))  # 0-based, like the file names
        if e + 1 in by_epoch:
            return by_epoch[e + 1]
    except Exception:  # an unreadable or older checkpoint: use the rule
        pass
    return max(curve, key=lambda r: (r.map50_95, -r.epoch))
