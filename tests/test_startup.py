"""`cleanup-verify --help` stays cheap: the heavy libraries are imported only by the commands that need them
(the time itself is measured by scripts/bench_pipeline.py, not here)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "ultralytics", "cv2", "ray", "scipy", "numba", "pdqhash", "imagehash", "flask", "matplotlib")


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom pipeline.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "cleanup-verify" in r.stdout and "run" in r.stdout
    assert r.stderr.strip() == "", f"imported by --help: {r.stderr.strip()}"


def test_run_help_names_the_executors():
    r = subprocess.run([sys.executable, "-m", "pipeline", "run", "--help"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0
    assert "--executor" in r.stdout and "{serial,local,ray}" in r.stdout and "--ray-address" in r.stdout
