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


def test_processes_starting_together_each_get_the_font(tmp_path):
    """Ray and pool workers start at the same moment on a fresh machine and all prepare the same config
    folder: none may fail (a shared temporary file name made the second one's rename fail, and with it
    the first entry's detection), and the font ends up whole."""
    code = """
import os, sys, time
from pipeline import offline
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # start together
offline.prepare_environment()
"""
    font = None
    for round_ in range(3):
        cfg = tmp_path / f"yolo{round_}"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "YOLO_CONFIG_DIR": str(cfg), "PYTHONPATH": str(REPO)}
        import time as _t
        start = str(_t.time() + 1.0)
        procs = [subprocess.Popen([sys.executable, "-c", code, start], cwd=REPO, env=env, stderr=subprocess.PIPE,
                                  text=True) for _ in range(6)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-2000:]
        got = sorted(x.name for x in (cfg / "Ultralytics").iterdir())
        assert got == ["Arial.Unicode.ttf", "Arial.ttf"], got  # no temporary file left behind
        font = font or (cfg / "Ultralytics" / "Arial.ttf").read_bytes()
        assert (cfg / "Ultralytics" / "Arial.ttf").read_bytes() == font
    import matplotlib
    assert font == (Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf").read_bytes()
