"""The calibration generator's building blocks (datasets/calibration.py) on drawn images."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import LoadConfig
from pipeline.load import load_photo
from verify_fixtures import calibration as cal
from verify_fixtures import textured_scene


def test_exif_time_and_gps_survive_the_project_loader():
    data = cal.jpeg_bytes(textured_scene(1, (320, 240)), 90, "2024-06-02T07:31:05", (10.0312, 105.7723))
    meta = load_photo(data, LoadConfig()).meta
    assert meta.taken_at == "2024-06-02T07:31:05"
    assert meta.gps_lat == pytest.approx(10.0312, abs=1e-5) and meta.gps_lon == pytest.approx(105.7723, abs=1e-5)
    bare = load_photo(cal.jpeg_bytes(textured_scene(1, (320, 240))), LoadConfig()).meta
    assert bare.taken_at is None and bare.gps_lat is None


def test_remove_litter_changes_only_around_the_boxes():
    img = textured_scene(2, (400, 300))
    img[100:140, 150:200] = (250, 250, 250)  # a white "item"
    out = cal.remove_litter(img, np.array([[150, 100, 200, 140]], float), np.random.default_rng(0))
    assert out[110:130, 160:190].mean() < 200  # the item is covered
    far = np.ones(img.shape[:2], bool)
    far[80:160, 130:220] = False
    assert np.array_equal(out[far], img[far])


def test_camera_move_sees_inside_the_before_photo_and_boxes_follow():
    rng = np.random.default_rng(3)
    h = cal.camera_move(rng, (800, 600))
    inv = np.linalg.inv(h)
    corners = np.array([[0, 0, 1], [800, 0, 1], [800, 600, 1], [0, 600, 1]], float) @ inv.T
    corners = corners[:, :2] / corners[:, 2:]
    assert corners.min() >= -1 and corners[:, 0].max() <= 801 and corners[:, 1].max() <= 601
    boxes = np.array([[390, 290, 410, 310], [-500, -500, -480, -480]], float)
    mapped = cal.map_boxes_clipped(boxes, h, (800, 600))
    assert len(mapped) == 1  # the box outside the view is dropped
