"""Import ultralytics without it ever touching the network.

ultralytics probes the network at import, sends analytics, checks PyPI for updates and downloads
Arial.ttf in ``train()``; behind a firewall each try blocks for seconds, and nothing may be downloaded
anyway. Measured fix (zero connection attempts): set ``YOLO_OFFLINE=1`` and ``YOLO_CONFIG_DIR`` to a
folder of ours *before* the first import, put a TrueType font at
``$YOLO_CONFIG_DIR/Ultralytics/Arial.ttf`` (matplotlib ships DejaVuSans.ttf), turn settings sync off,
and load weights by path only.

ultralytics also sets torch to one thread on small machines, and patches ``PIL.Image.open``;
:func:`ultralytics` undoes both.

Always get ultralytics through :func:`ultralytics`, never ``import ultralytics`` directly.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

_DEFAULT_DIR = Path(os.environ.get("CLEANUP_VERIFY_HOME", Path.home() / ".cache" / "cleanup-verify")) / "yolo"
_ready = False


def config_dir() -> Path:
    return Path(os.environ.get("YOLO_CONFIG_DIR") or _DEFAULT_DIR)


def prepare_environment() -> Path:
    """Set the environment variables and the font ultralytics needs to stay offline. Idempotent."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(_DEFAULT_DIR))
    os.environ.setdefault("YOLO_VERBOSE", "False")
    cfg = Path(os.environ["YOLO_CONFIG_DIR"])
    font_dir = cfg / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = font_dir / name
        if not target.exists():
            src = _bundled_font()
            if src is not None:
                _copy_atomically(src, target)
    return cfg


def _copy_atomically(src: Path, target: Path) -> None:
    """Copy ``src`` to ``target`` through a temporary file of this call's own (processes that start together,
    such as a pool's or Ray's workers on a fresh machine, each write their own and the last rename wins;
    a shared temporary name made the others' renames fail)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bundled_font() -> Path | None:
    try:
        import matplotlib

        p = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return p if p.exists() else None
    except Exception:  # pragma: no cover - matplotlib is a dependency
        return None


def ultralytics(threads: int = 0) -> ModuleType:
    """Import and return the ``ultralytics`` module, offline, with torch using ``threads`` threads
    (0: one per CPU core)."""
    global _ready
    prepare_environment()
    import torch
    import ultralytics as ul

    if not _ready:
        try:
            from ultralytics.utils import SETTINGS

            off = {k: False for k in ("sync", "hub", "clearml", "comet", "dvc", "mlflow", "neptune", "raytune",
                                      "wandb", "tensorboard", "vscode_msg", "openvino_msg") if k in SETTINGS}
            if any(SETTINGS.get(k) for k in off):
                SETTINGS.update(off)  # no analytics, no logger integrations that could phone home
        except Exception:
            pass
        _ready = True
    _undo_pil_patch()
    torch.set_num_threads(threads if threads > 0 else max(1, os.cpu_count() or 1))
    return ul


def _undo_pil_patch() -> None:
    """ultralytics replaces ``PIL.Image.open`` with a wrapper that, on any unidentified file, tries to
    pip-install and import ``pi-heif``: a network attempt, and a ModuleNotFoundError that turns a text file
    named .jpg into a "corrupt" photo. We decode HEIC with pillow-heif ourselves (pipeline.load) and pass
    arrays to ultralytics, so the original ``Image.open`` is put back."""
    try:
        from PIL import Image
        from ultralytics.utils import patches

        original = getattr(patches, "_image_open", None)
        if original is not None and Image.open is not original:
            Image.open = original
        patches._pil_plugins_registered = True
    except Exception:  # pragma: no cover - a future ultralytics without the patch
        pass
