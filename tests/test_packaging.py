"""Installing prints no setuptools deprecation warning: the project metadata is built the way ``pip install``
builds it (setuptools' PEP 517 hook), from a copy of the files it reads, with warnings recorded."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys, tempfile, warnings
from setuptools import build_meta
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    build_meta.prepare_metadata_for_build_wheel(tempfile.mkdtemp())
for w in caught:
    print("WARNING", w.category.__name__, str(w.message).splitlines()[0], file=sys.stderr)
"""


def test_licence_is_an_spdx_expression():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["license"] == "AGPL-3.0-or-later"
    assert not any(c.startswith("License ::") for c in meta["project"].get("classifiers", []))
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])


@pytest.mark.timeout(300)
def test_metadata_builds_without_deprecation_warnings(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} predates SPDX licence strings (pip builds with >= 77)")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    warnings = [line for line in p.stderr.splitlines() if line.startswith("WARNING")]
    assert not [w for w in warnings if "eprecat" in w], warnings
