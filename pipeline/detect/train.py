"""Offline training of the litter detector: a thin, reproducible wrapper around ultralytics.

* Offline: ultralytics comes from :mod:`pipeline.offline` (no update checks, no downloads, font present);
  the architecture is built from its YAML and initial weights are loaded from a local path only
  (``YOLO("yolov8s.yaml").load(init)``).
* Reproducible: fixed seed, ``deterministic=True``.
* Resumable: ``last.pt`` is written every epoch; :func:`train_model` with ``resume=True`` continues from
  ``<run>/weights/last.pt``. Without ``resume`` a run folder that already holds ``last.pt`` is refused, so a
  repeated command never overwrites a run's checkpoints.
* Small on disk: only ``last.pt`` and ``best.pt`` by default (``save_period=N`` also keeps ``epoch<K>.pt``
  every N epochs, K = epoch index from 0), and ``best.pt`` is written without the optimizer state.
* Refused up front, before anything is created: a data set without training images (an evaluation-only one
  such as ``aquatrash-val``), a data.yaml that is not one.
* Epoch selection on the *held-out split of the training folders* (the data's ``val``), by mAP50:
  :func:`select_epoch` reads ``results.csv``; the final evaluation split is never looked at here.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .runtime import ultralytics_threads


def _opt(default, help_: str):
    """A recipe field with its help text (``cleanup-verify train --help`` shows it with the default)."""
    return field(default=default, metadata={"help": help_})


@dataclass(frozen=True)
class TrainRecipe:
    """Training hyper-parameters. Sizes in pixels, time in hours, learning rates per optimizer step."""

    model: str = _opt("yolov8s.yaml", "architecture: a model YAML bundled with ultralytics")
    imgsz: int = _opt(640, "training image size in pixels (longest side)")
    epochs: int = _opt(30, "number of epochs; with --hours an upper bound, re-planned after epoch 1")
    hours: float | None = _opt(None, "wall-clock budget in hours; none: run all epochs")
    batch: int = _opt(8, "images per batch")
    nbs: int = _opt(16, "nominal batch: one optimizer step per this many images")
    optimizer: str = _opt("AdamW", "optimizer (ultralytics' names: AdamW, SGD, ...)")
    lr0: float = _opt(0.002, "initial learning rate")
    lrf: float = _opt(0.05, "final learning rate as a fraction of --lr0")
    cos_lr: bool = _opt(True, "cosine learning-rate schedule (false: linear)")
    warmup_epochs: float = _opt(1.0, "warm-up epochs (ultralytics warms up for at least 100 batches when > 0)")
    warmup_bias_lr: float = _opt(0.0, "warm-up learning rate of the biases (ultralytics' 0.1 suits SGD, not AdamW)")
    weight_decay: float = _opt(0.0005, "weight decay")
    freeze: int = _opt(5, "freeze the first N layers (the yolov8 backbone is layers 0-9)")
    mosaic: float = _opt(1.0, "probability of a mosaic of four images")
    close_mosaic: int = _opt(2, "last N epochs without mosaic")
    scale: float = _opt(0.5, "random scaling, +/- this fraction")
    degrees: float = _opt(0.0, "random rotation, +/- degrees")
    mixup: float = _opt(0.0, "probability of mixing two images")
    fliplr: float = _opt(0.5, "probability of a left-right flip")
    cache: str | bool = _opt("ram", "keep decoded, resized images in ram, on disk, or false (phone photos are 12 MP)")
    workers: int = _opt(2, "data loader processes")
    patience: int = _opt(100, "stop after this many epochs without a better held-out fitness")
    seed: int = _opt(0, "random seed")
    save_period: int = _opt(-1, "also keep every Nth epoch's checkpoint (epoch<K>.pt, about 110 MB each) for "
                                "selection by held-out mAP50; -1: only last.pt and best.pt")
    plots: bool = _opt(True, "write ultralytics' plots into the run folder")

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
    ``threads``: torch threads (0: all cores). ``progress``: called with one line at each epoch's start,
    every 30 s within it (batches done, time left in the epoch) and after it (held-out mAP, time so far and
    left), whether or not the output is a terminal (:class:`TrainProgress`). Raises FileNotFoundError for
    a missing data/init file or nothing to resume, ValueError for data that cannot be trained on, and
    FileExistsError when the run already has checkpoints (and ``resume`` is not set); all before anything is
    created.
    """
    run_dir = Path(project).resolve() / name
    last = run_dir / "weights" / "last.pt"
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
    else:
        check_training_data(data_yaml)
        if init is not None and not Path(init).is_file():
            raise FileNotFoundError(f"no initial weights at {init}")
        if last.is_file():
            raise FileExistsError(f"run {run_dir} already has checkpoints ({last}); continue it with --resume, "
                                  "or choose another --name")
    ul = ultralytics_threads(threads)
    if resume:
        model = ul.YOLO(str(last))
        _watch(model, progress)
        model.train(resume=True, workers=recipe.workers)
        return run_dir
    model = ul.YOLO(recipe.model)
    if init is not None:
        model = model.load(str(init))
    _watch(model, progress)
    model.train(data=str(data_yaml), project=str(run_dir.parent), name=run_dir.name, exist_ok=True,
                device=device, deterministic=True, verbose=True, **recipe.ultralytics_args())
    return run_dir


def check_training_data(data_yaml: str | Path) -> None:
    """Refuse, with one line, what ultralytics would fail on after creating the run folder: a missing file,
    one that is not a data.yaml, and a data set without training images (an evaluation-only one such as
    ``aquatrash-val``: ``dataset build`` marks it ``cleanup_verify.eval_only``). FileNotFoundError or
    ValueError."""
    import yaml

    path = Path(data_yaml)
    if not path.is_file():
        raise FileNotFoundError(f"no data.yaml at {path} (build it with: cleanup-verify dataset build NAME)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path} is not a readable data.yaml: {type(e).__name__}") from None
    if not isinstance(data, dict) or "val" not in data:
        raise ValueError(f"{path} is not a data.yaml (no 'train' and 'val'); build one with: "
                         "cleanup-verify dataset build NAME")
    meta = data.get("cleanup_verify") if isinstance(data.get("cleanup_verify"), dict) else {}
    if meta.get("eval_only") or not data.get("train") or _empty_list(path.parent, data.get("train")):
        which = f" ({meta['definition']})" if meta.get("definition") else ""
        raise ValueError(f"{path}{which} is an evaluation-only data set with no training images; train on a "
                         "training set (e.g. cleanup-verify dataset build litter1s) and measure on this one "
                         f"with: cleanup-verify evaluate --data {path}")


def _empty_list(base: Path, train) -> bool:
    """True when ``train`` names an image-list file (.txt) with no line in it."""
    if not isinstance(train, str) or not train.endswith(".txt"):
        return False
    f = Path(train) if Path(train).is_absolute() else base / train
    try:
        return f.is_file() and not f.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False


class TrainProgress:
    """Lines for a person watching a training run, written the same whether or not the output is a terminal
    (a log file sees them too): one when an epoch starts, one every ``every_s`` seconds within it (batches
    done, time left in the epoch), and one after it (held-out mAP, time so far and left).

    Epoch counts stay true after a resume (the first epoch of this process may be epoch 4, and ultralytics'
    ``--hours`` re-planning may leave fewer planned epochs than are done: the count is never below the epoch
    being run), and the time left is estimated from the epochs run in this process, never negative.
    ``clock``: seconds (a test passes its own)."""

    def __init__(self, emit: Callable[[str], None], every_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.emit, self.every_s, self.clock = emit, every_s, clock
        self.t0 = clock()
        self.first_epoch: int | None = None  # index (from 0) of the first epoch run by this process
        self.epoch = 0
        self.epochs = 0
        self.batches = 0
        self.done_batches = 0
        self.epoch_t0 = self.t0
        self.last_line = self.t0

    def _total(self, epoch: int, epochs: int) -> int:
        return max(int(epochs), epoch + 1)

    def epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        """Epoch ``epoch`` (from 0) of ``epochs`` begins, with ``batches`` batches."""
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.epoch, self.epochs, self.batches, self.done_batches = epoch, epochs, batches, 0
        self.epoch_t0 = self.last_line = self.clock()
        self.emit(f"epoch {epoch + 1}/{self._total(epoch, epochs)}: started, {batches} batches")

    def batch_end(self) -> None:
        self.done_batches += 1
        now = self.clock()
        if now - self.last_line < self.every_s or self.done_batches >= self.batches:
            return
        self.last_line = now
        spent = now - self.epoch_t0
        left = spent / self.done_batches * (self.batches - self.done_batches)
        self.emit(f"epoch {self.epoch + 1}/{self._total(self.epoch, self.epochs)}: batch {self.done_batches}/"
                  f"{self.batches}, {spent / 60:.1f} min in, about {left / 60:.1f} min left in this epoch")

    def epoch_end(self, epoch: int, epochs: int, map50: float, map50_95: float, wdir: str | Path) -> None:
        done = epoch + 1
        total = self._total(epoch, epochs)
        first = epoch if self.first_epoch is None else self.first_epoch
        spent = self.clock() - self.t0
        left = max(0.0, spent / max(1, done - first) * (total - done))
        self.emit(f"epoch {done}/{total}: held-out mAP50 {map50:.4f} mAP50-95 {map50_95:.4f}; {spent / 60:.1f} "
                  f"min so far, about {left / 60:.1f} min left; checkpoints in {wdir}")


def strip_optimizer_state(path: str | Path) -> bool:
    """Rewrite checkpoint ``path`` without its optimizer state (about 60 % of a yolov8s checkpoint; only
    ``last.pt`` needs it, to resume). Atomic; True when something was removed."""
    import torch

    path = Path(path)
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or ck.get("optimizer") is None:
        return False
    ck["optimizer"] = None
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(ck, tmp)
    os.replace(tmp, path)
    return True


def _watch(model, progress: Callable[[str], None] | None) -> None:
    """Report progress through ``progress`` (:class:`TrainProgress`) and keep ``best.pt`` without the
    optimizer state each time ultralytics writes it."""

    def on_model_save(trainer) -> None:
        best = Path(trainer.best)
        if trainer.best_fitness == trainer.fitness and best.is_file():
            strip_optimizer_state(best)

    model.add_callback("on_model_save", on_model_save)
    if progress is None:
        return
    watch = TrainProgress(progress)

    def on_train_epoch_start(trainer) -> None:
        watch.epoch_start(trainer.epoch, trainer.epochs, len(trainer.train_loader))

    def on_train_batch_end(trainer) -> None:  # noqa: ARG001
        watch.batch_end()

    def on_fit_epoch_end(trainer) -> None:
        m = trainer.metrics or {}
        watch.epoch_end(trainer.epoch, trainer.epochs, m.get("metrics/mAP50(B)", 0), m.get("metrics/mAP50-95(B)", 0),
                        trainer.wdir)

    model.add_callback("on_train_epoch_start", on_train_epoch_start)
    model.add_callback("on_train_batch_end", on_train_batch_end)
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


def select_epoch(run_dir: str | Path, tune_map50: dict[int, float] | None = None) -> tuple[EpochRow, Path]:
    """The epoch with the best held-out mAP50 (ties: mAP50-95, then the earlier epoch) whose checkpoint
    exists, and that checkpoint. Epochs count from 1 as in ``results.csv``; ultralytics names epoch N's
    checkpoint ``epoch{N-1}.pt``. Without epoch checkpoints it falls back to ``best.pt``, and then names
    the epoch best.pt holds (:func:`best_pt_epoch`), not the best-mAP50 one. Raises FileNotFoundError when
    there is no checkpoint.

    ``tune_map50``: mAP50 (0-1) per epoch on a second tuning split (the wide one, :func:`tune_scores`); the
    epoch is then the best by the mean of the two mAP50s, among the epochs measured on both."""
    run_dir = Path(run_dir)
    curve = read_curve(run_dir)
    if tune_map50:
        rows = sorted((r for r in curve if r.epoch in tune_map50),
                      key=lambda r: (-selection_score(r, tune_map50), -r.map50_95, r.epoch))
    else:
        rows = sorted(curve, key=lambda r: (-r.map50, -r.map50_95, r.epoch))
    for r in rows:
        ck = epoch_checkpoint(run_dir, r.epoch)
        if ck.is_file():
            return r, ck
    best = run_dir / "weights" / "best.pt"
    if curve and best.is_file():
        return best_pt_epoch(curve, best), best
    raise FileNotFoundError(f"no epoch checkpoints under {run_dir / 'weights'}")


def selection_score(row: EpochRow, tune_map50: dict[int, float]) -> float:
    """The mean of the close-up held-out mAP50 (``results.csv``) and the wide tuning split's mAP50."""
    return (row.map50 + tune_map50[row.epoch]) / 2


def epoch_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """Every epoch checkpoint the run kept: {epoch (from 1): path}."""
    out = {}
    for p in (Path(run_dir) / "weights").glob("epoch*.pt"):
        try:
            out[int(p.stem[len("epoch"):]) + 1] = p
        except ValueError:
            continue
    return dict(sorted(out.items()))


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
