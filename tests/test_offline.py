"""pipeline.offline imports ultralytics without side effects that reach the network or other stages."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ultralytics_import_keeps_pil_open_threads_and_settings(tmp_path):
    code = """
import os, PIL.Image
original = PIL.Image.open
from pipeline.offline import ultralytics, config_dir
ul = ultralytics(threads=2)
import torch
from ultralytics.utils import SETTINGS
from pipeline.config import LoadConfig
from pipeline.load import PhotoError, load_photo
try:
    load_photo(b"just some text, not a photo\\n" * 40, LoadConfig())
except PhotoError as e:
    code = e.problem.code
print(PIL.Image.open is original, torch.get_num_threads(), SETTINGS["sync"], code,
      os.environ["YOLO_OFFLINE"], (config_dir() / "Ultralytics" / "Arial.ttf").is_file())
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "2", "False", "PHOTO_NOT_IMAGE", "1", "True"]
    assert (tmp_path / ".cache" / "cleanup-verify" / "yolo" / "Ultralytics" / "Arial.ttf").is_file()
