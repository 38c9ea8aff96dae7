"""Detector backends (pipeline/detect/backends.py): one interface, PyTorch, ONNX Runtime and OpenVINO, and
the registry's record of which files a model has.

Agreement with PyTorch is measured on the bundled sample's photos with the default model: every box either
side at least ``MARGIN`` above the operating threshold has a partner on the other side with IoU >= 0.9
(FP32 exports). INT8 (the shipped OpenVINO file when the default model has one) is held to the documented
tolerance: IoU >= 0.8 and a margin of 0.1 (docs/detector.md, "Backends")."""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.boxes import box_iou
from pipeline.config import Config, DetectConfig
from pipeline.detect import registry
from pipeline.detect.backends import Letterbox, from_yolo_output, letterbox, nms
from pipeline.detect.infer import load_detector, to_bgr

PLACEHOLDER = "placeholder-yolov8n"
MARGIN = 0.05  # boxes this close to the operating threshold may fall either side of it on another runtime
FP32_IOU = 0.9
INT8_IOU, INT8_MARGIN = 0.8, 0.1


def test_nms_keeps_what_torchvision_keeps():
    import torch
    import torchvision

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 200))
        xy = rng.uniform(0, 300, (n, 2))
        wh = rng.uniform(5, 80, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        scores = rng.uniform(0, 1, n).astype(np.float32)
        want = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
        assert nms(boxes, scores, 0.5).tolist() == want.tolist()


def test_letterbox_is_ultralytics_letterbox():
    from pipeline.detect.runtime import ultralytics_threads

    ultralytics_threads(1)
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(1)
    for (h, w), auto in itertools.product(((480, 640), (1000, 333), (320, 320), (77, 501)), (False, True)):
        im = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        x, lb = letterbox(im, 320, auto=auto)
        ref = LetterBox(new_shape=(320, 320), auto=auto, stride=32)(image=im)
        assert x.shape == (1, 3, *ref.shape[:2])
        assert np.array_equal((x[0].transpose(1, 2, 0)[:, :, ::-1] * 255).round().astype(np.uint8), ref)
        assert lb.shape == (h, w)
    assert letterbox(np.zeros((480, 640, 3), np.uint8), 320, auto=True)[0].shape == (1, 3, 256, 320)


def test_from_yolo_output_maps_boxes_back_and_suppresses():
    # one 100x50 image letterboxed into 200x200: ratio 2, padding 50 on top and bottom
    lb = Letterbox(ratio=2.0, pad=(0.0, 50.0), shape=(50, 100))
    out = np.zeros((1, 5, 4), np.float32)  # (1, 4 + 1 class, 4 anchors): cx, cy, w, h, score
    out[0, :, 0] = [100, 100, 40, 20, 0.9]  # -> (40, 20, 60, 30) in the image
    out[0, :, 1] = [101, 100, 40, 20, 0.8]  # overlaps the first: suppressed
    out[0, :, 2] = [20, 60, 20, 20, 0.05]  # under the threshold
    out[0, :, 3] = [190, 140, 40, 20, 0.6]  # runs past the right edge: clipped
    xyxy, conf, cls = from_yolo_output(out, lb, conf=0.1, iou=0.5)
    assert conf.tolist() == pytest.approx([0.9, 0.6])
    assert xyxy[0].tolist() == pytest.approx([40, 20, 60, 30])
    assert xyxy[1].tolist() == pytest.approx([85, 40, 100, 50])
    assert cls.tolist() == [0, 0]


def test_config_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="detect.backend"):
        Config.from_dict({"detect": {"backend": "tensorrt"}})


# ------------------------------------------------------------------------------------------ registry
def _copy_model(src_name: str, dst: Path, name: str) -> Path:
    folder = dst / name
    shutil.copytree(registry.resolve_model(src_name).path.parent, folder)
    return folder


def test_registry_refuses_a_model_whose_files_are_missing_or_changed(tmp_path, monkeypatch):
    folder = _copy_model(PLACEHOLDER, tmp_path, "m1")
    card = registry.resolve_model(str(folder)).card
    (folder / "weights.onnx").write_bytes(b"not really onnx")
    card["files"] = {"onnx": {"path": "weights.onnx", "sha256": registry.path_sha256(folder / "weights.onnx")},
                     "openvino": {"path": "weights_openvino_model", "sha256": "0" * 64}}
    registry.save_card(folder, card)
    (tmp_path / "default").write_text("m1\n")
    monkeypatch.setenv("CLEANUP_VERIFY_MODELS", str(tmp_path))

    with pytest.raises(FileNotFoundError, match="incomplete.*weights_openvino_model"):
        registry.resolve_model("m1")
    assert registry.list_models() == []
    assert [n for n, _ in registry.broken_models()] == ["m1"]

    (folder / "weights_openvino_model").mkdir()
    (folder / "weights_openvino_model" / "weights.xml").write_text("<net/>")
    info = registry.resolve_model("m1", "onnx")  # the onnx file is the one the card lists
    assert info.backend == "onnx" and info.model_id.startswith("m1+onnx@") and info.path.name == "weights.onnx"
    assert set(info.files) == {"torch", "onnx", "openvino"}
    assert registry.resolve_model("m1").model_id.startswith("m1@")  # torch ids are as before
    with pytest.raises(ValueError, match="sha256 differs"):
        registry.resolve_model("m1", "openvino")
    (folder / "weights.onnx").write_bytes(b"changed")
    with pytest.raises(ValueError, match="sha256 differs"):
        registry.resolve_model("m1", "onnx")


def test_registry_takes_the_torch_weights_the_card_lists(tmp_path, monkeypatch):
    folder = _copy_model(PLACEHOLDER, tmp_path, "m3")
    before = registry.resolve_model(str(folder)).model_id.split("@")[1]
    (folder / "weights.pt").rename(folder / "best.pt")
    monkeypatch.setenv("CLEANUP_VERIFY_MODELS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="unknown model 'm3'"):
        registry.resolve_model("m3")  # neither weights.pt nor a card naming another file
    card = registry.resolve_model(str(folder / "best.pt")).card
    card["files"] = {"torch": {"path": "best.pt"}}
    registry.save_card(folder, card)
    info = registry.resolve_model("m3")
    assert info.path.name == "best.pt" and info.model_id == f"m3@{before}"  # same bytes, same id
    assert [m.name for m in registry.list_models()] == ["m3"]
    card["files"] = {"torch": {"path": "../elsewhere.pt"}}
    registry.save_card(folder, card)
    with pytest.raises(ValueError, match="relative 'path'"):
        registry.resolve_model("m3")


def test_registry_names_the_missing_backend(tmp_path, monkeypatch):
    _copy_model(PLACEHOLDER, tmp_path, "m2")
    monkeypatch.setenv("CLEANUP_VERIFY_MODELS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no openvino file.*models export m2 --backend openvino"):
        registry.resolve_model("m2", "openvino")
    with pytest.raises(FileNotFoundError, match="no onnx file"):
        load_detector(DetectConfig(model="m2", backend="onnx"))


# ------------------------------------------------------------------------------------ agreement on photos
@pytest.fixture(scope="module")
def sample_images(sample):
    from pipeline.load import PhotoError, load_photo

    cfg = Config()
    images = []
    for p in sorted(Path(sample.root).rglob("*.jpg")):
        try:
            images.append(to_bgr(load_photo(p.read_bytes(), cfg.load).image))
        except PhotoError:  # the sample's broken photos
            pass
    assert len(images) >= 8
    return images


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A copy of the default model in a registry of its own, with an ONNX and an OpenVINO FP32 file exported
    at the default detect.imgsz (besides any files it ships with)."""
    from pipeline.detect.convert import export_model

    root = tmp_path_factory.mktemp("registry")
    name = registry.default_model_name()
    _copy_model("default", root, name)
    (root / "default").write_text(f"{name}\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("CLEANUP_VERIFY_MODELS", str(root))
    imgsz = DetectConfig().imgsz
    export_model(name, "onnx", imgsz=imgsz, threads=1)
    fp32, _ = export_model(name, "openvino", imgsz=imgsz, threads=1)
    yield name, imgsz, fp32
    mp.undo()


def _agree(a, b, op: float, margin: float, min_iou: float) -> list[str]:
    """Boxes of one photo clearly above ``op`` on one side without a partner (IoU >= min_iou) on the other."""
    bad = []
    for (xa, ca, _), (xb, cb, _), side in ((a, b, "reference"), (b, a, "backend")):
        strong = xa[ca >= op + margin]
        if len(strong):
            iou = box_iou(strong, xb[cb >= op - margin]) if (cb >= op - margin).any() else np.zeros((len(strong), 1))
            bad += [f"{side} box {x.tolist()} best IoU {m:.3f}" for x, m in zip(strong, iou.max(1)) if m < min_iou]
    return bad


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
@pytest.mark.slow
def test_fp32_backends_find_the_boxes_pytorch_finds(exported, sample_images, backend):
    name, imgsz, _ = exported
    op = DetectConfig().confidence
    ref = load_detector(DetectConfig(model=name, imgsz=imgsz, torch_threads=1, backend="torch")
                        ).detect_arrays(sample_images)
    other = load_detector(DetectConfig(model=name, imgsz=imgsz, torch_threads=1, backend=backend))
    assert other.model_id.startswith(f"{name}+{backend}@")
    got = other.detect_arrays(sample_images)
    assert sum(int((c >= op).sum()) for _, c, _ in ref) > 0, "the default model finds litter in the sample"
    problems = [p for a, b in zip(ref, got) for p in _agree(a, b, op, MARGIN, FP32_IOU)]
    assert not problems, problems


def test_shipped_int8_finds_the_boxes_pytorch_finds(sample_images):
    info = registry.resolve_model("default")
    entry = (info.card.get("files") or {}).get("openvino")
    if not entry or entry.get("precision") != "int8":
        pytest.skip(f"the default model {info.name} ships no OpenVINO INT8 file")
    op = DetectConfig().confidence
    base = dict(model="default", imgsz=int(entry["imgsz"]), torch_threads=1)
    ref = load_detector(DetectConfig(**base, backend="torch")).detect_arrays(sample_images)
    got = load_detector(DetectConfig(**base, backend="openvino")).detect_arrays(sample_images)
    problems = [p for a, b in zip(ref, got) for p in _agree(a, b, op, INT8_MARGIN, INT8_IOU)]
    assert not problems, problems


@pytest.mark.slow
def test_an_exported_file_refuses_another_input_size(exported, sample_images):
    name, imgsz, _ = exported
    det = load_detector(DetectConfig(model=name, imgsz=imgsz + 32, backend="onnx", torch_threads=1))
    with pytest.raises(ValueError, match=f"exported at {imgsz} px"):
        det.detect_arrays(sample_images[:1])
