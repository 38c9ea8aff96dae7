"""Evaluation of a litter detector on a data.yaml's ``val`` split.

* mAP50 and mAP50-95 are ultralytics' own ``val`` (conf 0.001, NMS IoU 0.7, its letterboxing), with
  ``single_cls=True`` for a one-class model, so every class in the data counts as litter. They are the
  numbers on the model cards.
* Precision and recall are at the pipeline's operating point: predictions made as the detect stage
  makes them, by the same runtime (:mod:`pipeline.detect.backends`, the model's ``backend``;
  ``conf >= confidence``, NMS at ``iou``, ``imgsz``, images decoded by OpenCV and passed as arrays) and
  matched greedily, highest confidence first, to unmatched ground-truth boxes at IoU >= 0.5.
  For reference the summary also shows ultralytics' P and R curves read at the same confidence.
* False detections per image: boxes at the operating threshold on clean photos (the data.yaml's
  ``negatives`` list, or a folder), which must not have been trained on.
"""
from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..boxes import box_iou
from .backends import open_runtime
from .registry import ModelInfo
from .runtime import ultralytics_threads

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MATCH_IOU = 0.5


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one model on one data.yaml. Fractions in [0, 1]; ``fp_per_clean_image`` >= 0 or None
    when no clean photos were given."""

    model_id: str
    data: str
    images: int
    boxes: int
    map50: float
    map50_95: float
    confidence: float
    precision: float
    recall: float
    tp: int
    fp: int
    fn: int
    ul_precision_at_conf: float
    ul_recall_at_conf: float
    clean_images: int
    clean_false_detections: int
    fp_per_clean_image: float | None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        fpi = "n/a" if self.fp_per_clean_image is None else f"{self.fp_per_clean_image:.3f}"
        return "\n".join([
            f"model {self.model_id} on {self.data} (val: {self.images} images, {self.boxes} boxes)",
            f"  mAP50 {self.map50:.4f}   mAP50-95 {self.map50_95:.4f}   (ultralytics val)",
            f"  at confidence {self.confidence:g}: precision {self.precision:.4f}  recall {self.recall:.4f}"
            f"  (TP {self.tp}, FP {self.fp}, FN {self.fn}; ultralytics curves: P {self.ul_precision_at_conf:.4f}"
            f" R {self.ul_recall_at_conf:.4f})",
            f"  false detections per clean image: {fpi} ({self.clean_false_detections} boxes on "
            f"{self.clean_images} clean photos)",
        ])


def match_counts(pred_xyxy: np.ndarray, pred_conf: np.ndarray, pred_cls: np.ndarray, gt_xyxy: np.ndarray,
                 gt_cls: np.ndarray, iou_threshold: float = MATCH_IOU) -> tuple[int, int, int]:
    """(TP, FP, FN) of one image: predictions, highest confidence first, each take the unmatched
    ground-truth box of the same class with the highest IoU >= ``iou_threshold``."""
    order = np.argsort(-np.asarray(pred_conf), kind="stable")
    iou = box_iou(pred_xyxy, gt_xyxy)
    used = np.zeros(len(gt_xyxy), dtype=bool)
    tp = 0
    for i in order:
        if not len(gt_xyxy):
            break
        cand = np.where((~used) & (np.asarray(gt_cls) == pred_cls[i]), iou[i], -1.0)
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            used[j] = True
            tp += 1
    return tp, len(pred_xyxy) - tp, len(gt_xyxy) - tp


def _image_list(spec: str | list, base: Path) -> list[Path]:
    """Image files named by a data.yaml split entry: a folder, a list file, or a list of those."""
    out: list[Path] = []
    for s in spec if isinstance(spec, list) else [spec]:
        p = Path(s)
        if not p.is_absolute():
            p = base / p
        if p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.suffix.lower() in IMAGE_SUFFIXES)
        elif p.suffix == ".txt" and p.is_file():
            for line in p.read_text().splitlines():
                line = line.strip()
                if line:
                    q = Path(line.replace("./", str(p.parent) + "/", 1) if line.startswith("./") else line)
                    out.append(q)
        elif p.is_file():
            out.append(p)
    return out


def _label_path(img: Path) -> Path:
    parts = list(img.parts)
    i = len(parts) - 1 - parts[::-1].index("images")
    parts[i] = "labels"
    return Path(*parts).with_suffix(".txt")


def _gt(img: Path, w: int, h: int, single: bool) -> tuple[np.ndarray, np.ndarray]:
    lab = _label_path(img)
    rows = np.zeros((0, 5))
    if lab.is_file():
        vals = [ln.split() for ln in lab.read_text().splitlines() if ln.strip()]
        rows = np.array([[float(x) for x in v[:5]] for v in vals if len(v) >= 5]).reshape(-1, 5)
    c, cx, cy, bw, bh = rows.T
    xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)
    cls = np.zeros(len(rows), dtype=int) if single else c.astype(int)
    return xyxy.reshape(-1, 4), cls


def _predict(runtime, paths: list[Path], conf: float, iou: float, imgsz: int, batch: int = 8,
             desc: str | None = None):
    """Yield (path, image HxW, boxes xyxy, conf, cls) for readable images, arrays decoded by OpenCV.
    ``desc``: show a progress bar (images done, rate, time left) on standard error under that name."""
    import cv2

    bar = None
    if desc:
        import sys

        from tqdm import tqdm
        bar = tqdm(total=len(paths), unit="image", desc=desc, file=sys.stderr, mininterval=1.0)
    try:
        yield from _predict_chunks(runtime, paths, conf, iou, imgsz, batch, cv2, bar)
    finally:
        if bar is not None:
            bar.close()


def _predict_chunks(runtime, paths, conf, iou, imgsz, batch, cv2, bar):
    for i in range(0, len(paths), batch):
        chunk = [(p, cv2.imread(str(p))) for p in paths[i:i + batch]]
        chunk = [(p, im) for p, im in chunk if im is not None]
        if chunk:
            res = runtime.predict([im for _, im in chunk], conf=conf, iou=iou, imgsz=imgsz, batch=len(chunk))
            for (p, im), (xyxy, cf, cls) in zip(chunk, res):
                yield p, im.shape[:2], xyxy, cf, cls.astype(int)
        if bar is not None:
            bar.update(len(paths[i:i + batch]))


@dataclass(frozen=True)
class ThresholdPoint:
    """Precision, recall and F1 of the detect stage at one confidence threshold (fractions in [0, 1])."""

    confidence: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int


def threshold_sweep(info: ModelInfo, data_yaml: str | Path, thresholds: list[float], *, imgsz: int = 640,
                    iou: float = 0.5, threads: int = 0, batch: int = 8) -> list[ThresholdPoint]:
    """P/R/F1 on the ``val`` split of ``data_yaml`` at each threshold, from one prediction pass at the
    lowest threshold (NMS suppresses only by higher-confidence boxes, so filtering afterwards is exact).
    Use it on a held-out split of the training folders to choose the operating threshold."""
    runtime, data, base, single = _open(info, data_yaml, threads)
    counts = _counts(runtime, _image_list(data["val"], base), thresholds, iou, imgsz, batch, single)
    out = []
    for t, (tp, fp, fn) in zip(thresholds, counts):
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        pr, rc = float(pr), float(rc)
        out.append(ThresholdPoint(float(t), round(pr, 4), round(rc, 4), round(2 * pr * rc / (pr + rc), 4) if pr + rc else 0.0,
                                  int(tp), int(fp), int(fn)))
    return out


def _open(info: ModelInfo, data_yaml: str | Path, threads: int):
    """(runtime of ``info.backend``, data.yaml dict, its base folder, whether the model has one class)."""
    data_yaml = Path(data_yaml).resolve()
    data = yaml.safe_load(data_yaml.read_text())
    base = Path(data.get("path") or data_yaml.parent)
    base = base if base.is_absolute() else data_yaml.parent / base
    runtime = open_runtime(info.backend, info.path, threads=threads)
    return runtime, data, base, len(runtime.class_names) == 1


def _counts(runtime, images: list[Path], thresholds: list[float], iou: float, imgsz: int, batch: int,
            single: bool, desc: str | None = None) -> np.ndarray:
    """(TP, FP, FN) summed over ``images`` at each threshold: int array (len(thresholds), 3)."""
    counts = np.zeros((len(thresholds), 3), dtype=int)
    for p, (h, w), xyxy, conf, cls in _predict(runtime, images, min(thresholds), iou, imgsz, batch, desc):
        g_xyxy, g_cls = _gt(p, w, h, single)
        cls = np.zeros_like(cls) if single else cls
        for k, t in enumerate(thresholds):
            keep = conf >= t
            counts[k] += match_counts(xyxy[keep], conf[keep], cls[keep], g_xyxy, g_cls)
    return counts


def ultralytics_val(weights: str | Path, data_yaml: str | Path, *, imgsz: int, batch: int = 8,
                    single: bool = True, threads: int = 0) -> Any:
    """ultralytics' own ``val`` of ``weights`` (any backend's file: its AutoBackend runs it) on the ``val``
    split of ``data_yaml``: the metrics' ``box`` (``box.map50``, ``box.map`` in [0, 1], P/R curves)."""
    model = ultralytics_threads(threads).YOLO(str(weights), task="detect")
    with tempfile.TemporaryDirectory(prefix="cv-eval-") as tmp:
        m = model.val(data=str(data_yaml), split="val", imgsz=imgsz, batch=batch, single_cls=single,
                      plots=False, save_json=False, project=tmp, name="val", verbose=False, device="cpu")
    return m.box


def evaluate(info: ModelInfo, data_yaml: str | Path, *, confidence: float, imgsz: int = 640,
             iou: float = 0.5, negatives: str | Path | None = None, threads: int = 0,
             batch: int = 8, progress: bool = False) -> EvalResult:
    """Evaluate ``info`` on the ``val`` split of ``data_yaml`` (see module docstring). ``progress``: say
    each step and show progress bars (images done, time left) on standard error."""
    import sys

    def step(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    runtime, data, base, single = _open(info, data_yaml, threads)
    step(f"evaluate 1/3: mAP50 and mAP50-95 (ultralytics val) of {info.model_id} on {data_yaml}")

    box = ultralytics_val(info.path, data_yaml, imgsz=imgsz, batch=batch, single=single, threads=threads)
    px = np.linspace(0, 1, 1000)
    k = min(int(np.searchsorted(px, confidence)), 999)
    ul_p = float(np.mean(box.p_curve[:, k])) if len(box.p_curve) else 0.0
    ul_r = float(np.mean(box.r_curve[:, k])) if len(box.r_curve) else 0.0

    images = _image_list(data["val"], base)
    step(f"evaluate 2/3: precision and recall at confidence {confidence:g} on {len(images)} images")
    tp, fp, fn = (int(x) for x in _counts(runtime, images, [confidence], iou, imgsz, batch, single,
                                          "val images" if progress else None)[0])
    n_boxes = tp + fn

    neg_paths: list[Path] = []
    if negatives is not None:
        neg_paths = _image_list(str(negatives), Path.cwd())
    elif data.get("negatives"):
        neg_paths = _image_list(data["negatives"], base)
    n_neg = false_dets = 0
    step(f"evaluate 3/3: false detections on {len(neg_paths)} clean photos")
    for _, _, xyxy, _, _ in _predict(runtime, neg_paths, confidence, iou, imgsz, batch,
                                     "clean photos" if progress else None):
        n_neg += 1
        false_dets += len(xyxy)

    return EvalResult(
        model_id=info.model_id, data=str(Path(data_yaml).resolve()), images=len(images), boxes=n_boxes,
        map50=round(float(box.map50), 4), map50_95=round(float(box.map), 4), confidence=confidence,
        precision=round(tp / (tp + fp), 4) if tp + fp else 0.0,
        recall=round(tp / (tp + fn), 4) if tp + fn else 0.0, tp=tp, fp=fp, fn=fn,
        ul_precision_at_conf=round(ul_p, 4), ul_recall_at_conf=round(ul_r, 4),
        clean_images=n_neg, clean_false_detections=false_dets,
        fp_per_clean_image=round(false_dets / n_neg, 4) if n_neg else None)
