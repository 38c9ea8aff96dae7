"""Registry and the detect stage, on the untrained placeholder model (its boxes are meaningless, but
their geometry and bookkeeping are not)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import DetectConfig
from pipeline.detect import registry
from pipeline.detect.infer import STAGE_VERSION, boxes_to_full_size, load_detector, to_bgr
from pipeline.types import Detections, LoadedPhoto, PhotoMeta

PLACEHOLDER = "placeholder-yolov8n"


def _photo(seed: int, w: int, h: int, scale: float) -> LoadedPhoto:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    meta = PhotoMeta(sha256=f"{seed:064x}", size_bytes=1, width=round(w / scale), height=round(h / scale))
    return LoadedPhoto(meta=meta, image=img, scale=scale)


@pytest.fixture(scope="module")
def detector():
    # a very low threshold so that random weights still produce boxes to check
    return load_detector(DetectConfig(model=PLACEHOLDER, confidence=0.01, batch_size=2, imgsz=320,
                                      torch_threads=1))


def test_registry_resolves_name_path_and_default():
    info = registry.resolve_model(PLACEHOLDER)
    sha = hashlib.sha256(info.path.read_bytes()).hexdigest()
    assert info.model_id == f"{PLACEHOLDER}@{sha[:12]}"
    assert "UNTRAINED" in info.card["status"]
    by_path = registry.resolve_model(str(info.path))
    assert by_path.model_id == info.model_id
    assert registry.default_model_name() in [m.name for m in registry.list_models()]
    with pytest.raises(FileNotFoundError, match="registered"):
        registry.resolve_model("no-such-model")


def test_registry_dir_overridable(tmp_path, monkeypatch):
    src = registry.resolve_model(PLACEHOLDER).path
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "weights.pt").write_bytes(src.read_bytes())
    (tmp_path / "default").write_text("# comment\nm1\n")
    monkeypatch.setenv("CLEANUP_VERIFY_MODELS", str(tmp_path))
    assert [m.name for m in registry.list_models()] == ["m1"]
    assert registry.resolve_model("default").model_id.startswith("m1@")


def test_to_bgr_flips_channels_and_rejects_bad_shapes():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 200  # red
    assert to_bgr(rgb)[0, 0].tolist() == [0, 0, 200]
    assert to_bgr(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError):
        to_bgr(np.zeros((4, 5, 2), np.uint8))


def test_boxes_scaled_back_and_clipped():
    b = boxes_to_full_size(np.array([[10, 20, 30, 40], [0, 0, 600, 10]]), 0.25, (2000, 1000))
    assert b[0].tolist() == [40, 80, 120, 160]
    assert b[1].tolist() == [0, 0, 2000, 40]


def test_detect_batch_maps_boxes_to_full_size(detector):
    photos = [_photo(1, 320, 240, 0.25), _photo(2, 200, 300, 0.5), _photo(3, 256, 256, 1.0)]
    dets = detector.detect(photos)
    assert len(dets) == 3
    for p, d in zip(photos, dets):
        assert isinstance(d, Detections)
        assert d.model_id == detector.model_id == registry.resolve_model(PLACEHOLDER).model_id
        assert d.image_size == (p.meta.width, p.meta.height)
        assert d.class_names == ("litter",)
        assert (d.confidence >= 0.01).all()
        if len(d):
            assert d.xyxy[:, [0, 2]].max() <= p.meta.width and d.xyxy.min() >= 0
    # the same photo alone gives the same boxes as in a batch, and ultralytics on the analysis image
    # (BGR array) gives these boxes times the scale
    p = photos[0]
    alone = detector.detect([p])[0]
    raw = detector.model.predict(to_bgr(p.image), conf=0.01, iou=detector.cfg.iou, imgsz=320, verbose=False)[0]
    assert len(raw.boxes) == len(alone) > 0
    np.testing.assert_allclose(alone.xyxy * p.scale, raw.boxes.xyxy.numpy(), atol=0.05)
    d = Detections.from_dict(alone.to_dict())
    assert d.model_id == alone.model_id and len(d) == len(alone)
    assert STAGE_VERSION


def test_detect_empty_list(detector):
    assert detector.detect([]) == []


_NMS_CHECK = r"""
import pickle, sys
import numpy as np
from pathlib import Path
from pipeline.config import Config, DetectConfig
from pipeline.detect.infer import load_detector, to_bgr
from pipeline.load import PhotoError, load_photo

cfg = Config()
det = load_detector(DetectConfig(confidence=0.1, torch_threads=1))
images = []
for p in sorted(Path(sys.argv[1]).rglob("*.jpg")):
    try:
        images.append(to_bgr(load_photo(p.read_bytes(), cfg.load).image))
    except PhotoError:  # the sample's broken photos
        pass
without = det.detect_arrays(images)
imported = "torchvision" in sys.modules
import torchvision  # now ultralytics' NMS is torchvision's kernel
with_tv = det.detect_arrays(images)
same = all(np.array_equal(a, b) for x, y in zip(without, with_tv) for a, b in zip(x, y))
print(imported, same, sum(len(x[1]) for x in without))
"""


@pytest.mark.slow  # the default model over every sample photo, twice, in a fresh interpreter
def test_detection_needs_no_torchvision_and_finds_the_same_bits_with_it(sample):
    """The detector's process never imports torchvision (ultralytics' CPU warm-up would, 1.5 s of every
    pool worker's start), and ultralytics' own NMS that runs instead gives the same boxes bit for bit as
    torchvision's, on the sample's photos with the default model."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", _NMS_CHECK, str(sample.root)], cwd=repo, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    imported, same, boxes = r.stdout.split()
    assert imported == "False" and same == "True" and int(boxes) > 0
