"""Shared test fixtures.

``shared_data``: the real photos in ../shared/data (skips the test when that folder is absent: CI clones
have no ../shared). Tests keep ultralytics' settings in a temporary folder and never touch the network.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))

# Keep ultralytics offline and its settings out of ~/.config for every test (set before any import).
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo"))
os.environ["YOLO_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real photos in {SHARED_DATA} (absent on CI clones)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """The bundled sample batch (pipeline.demo, seed 0), drawn once per test session; read-only."""
    from pipeline.demo import make_sample

    return make_sample(tmp_path_factory.mktemp("sample") / "batch", seed=0)
