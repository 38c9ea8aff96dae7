"""Detector runtimes behind one interface: PyTorch (ultralytics), ONNX Runtime and OpenVINO.

Every runtime takes BGR uint8 images (any size) and returns, per image, ``(xyxy, confidence, class_id)``
arrays in that image's pixels: float32 (N, 4), float32 (N,), int32 (N,). The detect stage
(:mod:`pipeline.detect.infer`), ``evaluate`` and the benchmarks call :func:`open_runtime` and never
know which one runs.

* ``torch``: ultralytics' own ``predict`` on ``weights.pt`` (minimal-rectangle letterbox, its NMS); the
  boxes every result before detector v2 was computed with.
* ``onnx`` and ``openvino``: files exported from ``weights.pt`` (``cleanup-verify models export``) at
  ``imgsz`` pixels with dynamic input shapes, run by their own runtime here with a fixed thread count (results depend on it in their last bits, as torch's do); pre- and post-processing are
  :func:`letterbox` and :func:`from_yolo_output`, ultralytics' letterbox and NMS re-done in NumPy, so
  the three agree to within the numerics of each runtime (tests/test_backends.py:
  IoU >= 0.9 with PyTorch on the bundled sample; INT8 within the documented tolerance).

Raw outputs become boxes through the converters :func:`from_ultralytics` (an ultralytics ``Results``) and
:func:`from_yolo_output` (the raw ``(1, 4 + classes, anchors)`` head output of an exported YOLOv8).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]  # xyxy float32 (N, 4), confidence (N,), class id int32 (N,)

BACKENDS = ("torch", "onnx", "openvino")
MAX_DET = 300  # boxes kept per image after NMS (ultralytics' default)
MAX_NMS = 30000  # candidates entering NMS, highest confidence first (ultralytics' default)


class Runtime(Protocol):
    """What the detect stage needs of a loaded model."""

    backend: str
    class_names: tuple[str, ...]
    input_size: int | None  # the side in pixels an exported file was made for, None: any (torch)

    def predict(self, images: list[np.ndarray], *, conf: float, iou: float, imgsz: int,
                batch: int) -> list[Boxes]: ...


# ------------------------------------------------------------------------------------------ converters
def from_ultralytics(result: Any) -> Boxes:
    """``(xyxy, confidence, class_id)`` of one ultralytics ``Results`` (pixels of the image it was given)."""
    b = result.boxes
    return (b.xyxy.cpu().numpy().astype(np.float32), b.conf.cpu().numpy().astype(np.float32),
            b.cls.cpu().numpy().astype(np.int32))


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square network input: scale ``ratio`` then ``pad`` (left, top)
    pixels; ``shape`` (height, width) of the original image."""

    ratio: float
    pad: tuple[float, float]
    shape: tuple[int, int]


def letterbox(image: np.ndarray, size: int, *, auto: bool = False, stride: int = 32) -> tuple[np.ndarray, Letterbox]:
    """``image`` (BGR uint8 HxWx3) resized to fit ``size`` x ``size`` keeping its aspect, centred on grey
    114 padding: ultralytics' ``LetterBox`` step for step (bilinear resize, the padding split as
    ``round(d -/+ 0.1)``). ``auto``: pad only up to the next multiple of ``stride`` (the minimal rectangle
    ultralytics' PyTorch predict uses when every image of a batch has one shape), else to the full square.
    Returns the network input (1, 3, H, W) float32 RGB in [0, 1] and the :class:`Letterbox` to map boxes
    back."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = size - nw, size - nh
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    im = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (w, h) != (nw, nh) else image
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    im = cv2.copyMakeBorder(im, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    x = np.ascontiguousarray(im[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
    return x, Letterbox(r, (float(left), float(top)), (h, w))


def from_yolo_output(output: np.ndarray, lb: Letterbox, *, conf: float, iou: float,
                     max_det: int = MAX_DET) -> Boxes:
    """Boxes of one image from an exported YOLOv8 head's raw output ``(1, 4 + classes, anchors)`` (centre
    x, y, width, height in input pixels, then one score per class): best class per anchor, scores >
    ``conf``, per-class NMS at ``iou`` (:func:`nms`), at most ``max_det``, mapped back through ``lb`` to
    the original image's pixels and clipped to it."""
    p = np.asarray(output, dtype=np.float32)[0].T  # (anchors, 4 + nc)
    scores = p[:, 4:]
    cls = scores.argmax(1)
    best = scores[np.arange(len(p)), cls]
    keep = best > conf  # ultralytics keeps scores strictly above the threshold
    p, cls, best = p[keep], cls[keep], best[keep]
    if len(p) > MAX_NMS:
        top = np.argsort(-best, kind="stable")[:MAX_NMS]
        p, cls, best = p[top], cls[top], best[top]
    xy, wh = p[:, :2], p[:, 2:4] / 2
    xyxy = np.concatenate([xy - wh, xy + wh], 1)
    if len(xyxy):
        off = cls[:, None].astype(np.float32) * 7680.0  # ultralytics' per-class offset (max_wh)
        k = nms(xyxy + off, best, iou)[:max_det]
        xyxy, best, cls = xyxy[k], best[k], cls[k]
    xyxy = xyxy.reshape(-1, 4)
    xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - lb.pad[0]) / lb.ratio
    xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - lb.pad[1]) / lb.ratio
    h, w = lb.shape
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    return xyxy.astype(np.float32), best.astype(np.float32), cls.astype(np.int32)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, highest score first; a box is dropped
    when its IoU with a kept, higher-scoring box exceeds ``iou`` (torchvision's rule, without importing
    torchvision: 1.5 s of every worker's start)."""
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = (xyxy[:, i].astype(np.float64) for i in range(4))
    area = (x1 - x0).clip(0) * (y1 - y0).clip(0)
    keep: list[int] = []
    while len(order):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = (np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest])).clip(0)
        h = (np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest])).clip(0)
        inter = w * h
        union = area[i] + area[rest] - inter
        o = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[o <= iou]
    return np.asarray(keep, dtype=np.int64)


# ------------------------------------------------------------------------------------------- runtimes
class TorchRuntime:
    """``weights.pt`` through ultralytics (boxes identical to every earlier detect-stage result)."""

    backend = "torch"
    input_size = None

    def __init__(self, path: Path, threads: int, device: str = "cpu"):
        from .runtime import skip_cpu_warmup, ultralytics_threads

        ul = ultralytics_threads(threads)
        skip_cpu_warmup()
        self.model = ul.YOLO(str(path), task="detect")
        self.device = device
        names = self.model.names
        self.class_names = tuple(names[i] for i in sorted(names)) if isinstance(names, dict) else tuple(names)

    def predict(self, images, *, conf, iou, imgsz, batch):
        out: list[Boxes] = []
        for i in range(0, len(images), max(1, batch)):
            chunk = images[i:i + max(1, batch)]
            out += [from_ultralytics(r) for r in self.model.predict(chunk, conf=conf, iou=iou, imgsz=imgsz,
                                                                    device=self.device, verbose=False,
                                                                    batch=len(chunk))]
        return out


class _ExportedRuntime:
    """Shared by ONNX Runtime and OpenVINO: files exported with dynamic input shapes at ``input_size``;
    images go in one at a time, letterboxed as ultralytics' PyTorch predict letterboxes them (the minimal
    rectangle when every image of a ``batch``-sized chunk has one shape, else the full square), so the
    runtimes see the same pixels and give the same boxes up to their numerics."""

    backend: str
    input_size: int

    def _run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def predict(self, images, *, conf, iou, imgsz, batch):
        if imgsz != self.input_size:
            raise ValueError(f"the {self.backend} file was exported at {self.input_size} px, not {imgsz} "
                             f"(set detect.imgsz = {self.input_size}, or export again at {imgsz})")
        out: list[Boxes] = []
        step = max(1, batch)
        for i in range(0, len(images), step):
            chunk = images[i:i + step]
            auto = len({im.shape for im in chunk}) == 1
            for im in chunk:
                x, lb = letterbox(im, self.input_size, auto=auto)
                out.append(from_yolo_output(self._run(x), lb, conf=conf, iou=iou))
        return out


def _metadata_imgsz(meta: dict) -> int:
    """The export size ultralytics records in a file's metadata (``imgsz: [h, w]``, ONNX: its repr)."""
    v = meta.get("imgsz")
    if isinstance(v, str):
        import ast

        v = ast.literal_eval(v)
    if not v:
        raise ValueError("the exported file records no imgsz in its metadata")
    return int(max(v) if isinstance(v, (list, tuple)) else v)


def _names_from_metadata(meta: dict) -> tuple[str, ...]:
    names = meta.get("names") or {0: "litter"}
    if isinstance(names, str):  # ONNX metadata stores the dict as its Python repr
        import ast

        names = ast.literal_eval(names)
    return tuple(names[k] for k in sorted(names)) if isinstance(names, dict) else tuple(names)


class OnnxRuntime(_ExportedRuntime):
    """An exported ``.onnx`` file on ONNX Runtime's CPU provider, ``threads`` intra-op threads."""

    backend = "onnx"

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        from .runtime import resolve_threads

        so = ort.SessionOptions()
        so.intra_op_num_threads = resolve_threads(threads)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.input_size = _metadata_imgsz(meta)
        self.class_names = _names_from_metadata(meta)

    def _run(self, x):
        return self.session.run(None, {self.input_name: x})[0]


class OpenVinoRuntime(_ExportedRuntime):
    """An exported OpenVINO IR folder (``*.xml`` + ``*.bin`` + ``metadata.yaml``, FP32 or INT8) on the
    CPU plugin, ``threads`` inference threads, latency mode. A dynamic-shape model is compiled once per
    input shape it meets (a few: landscape, portrait, square), never run with dynamic shapes: OpenVINO's
    CPU plugin crashes on dynamic INT8 models on CPUs with AMX (ultralytics notes openvino#37577)."""

    backend = "openvino"

    def __init__(self, path: Path, threads: int):
        import openvino as ov
        import yaml

        from .runtime import resolve_threads

        path = Path(path)
        xml = path if path.suffix == ".xml" else next(iter(sorted(path.glob("*.xml"))), None)
        if xml is None:
            raise FileNotFoundError(f"no OpenVINO .xml file in {path}")
        self._core = ov.Core()
        self._xml = xml
        # f32: on CPUs with bf16 (AVX512-BF16, AMX) the plugin otherwise runs FP32 layers in bf16, which moved
        # a box to IoU 0.88 with PyTorch on the sample and would make results depend on the CPU model
        self._config = {"INFERENCE_NUM_THREADS": resolve_threads(threads), "PERFORMANCE_HINT": "LATENCY",
                        "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"}
        self._requests: dict[tuple[int, ...], Any] = {}
        meta_file = xml.parent / "metadata.yaml"
        meta = (yaml.safe_load(meta_file.read_text()) or {}) if meta_file.is_file() else {}
        self.input_size = _metadata_imgsz(meta)
        self.class_names = _names_from_metadata(meta)

    def _run(self, x):
        req = self._requests.get(x.shape)
        if req is None:
            model = self._core.read_model(str(self._xml))
            if model.input(0).get_partial_shape().is_dynamic:
                model.reshape({model.input(0).get_any_name(): list(x.shape)})
            req = self._requests[x.shape] = self._core.compile_model(model, "CPU", self._config).create_infer_request()
        return req.infer({0: x})[0]


def open_runtime(backend: str, path: Path, *, threads: int, device: str = "cpu") -> Runtime:
    """Load ``path`` (the model file of ``backend``) on ``threads`` threads (0: all cores)."""
    if backend == "torch":
        return TorchRuntime(path, threads, device)
    if device != "cpu":
        raise ValueError(f"the {backend} backend runs on the CPU only (detect.device = {device!r})")
    if backend == "onnx":
        return OnnxRuntime(path, threads)
    if backend == "openvino":
        return OpenVinoRuntime(path, threads)
    raise ValueError(f"unknown detector backend {backend!r} (one of: {', '.join(BACKENDS)})")
