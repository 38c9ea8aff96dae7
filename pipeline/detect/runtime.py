"""ultralytics, offline, with the number of torch threads we ask for.

:func:`pipeline.offline.ultralytics` sets torch's threads, but ultralytics' ``select_device`` (called by
every ``train``/``val``/``predict``) resets them to ``min(8, cpu_count - 1)``, i.e. 1 on a 2-core
machine, which is 1.7-1.9x slower than 2 (docs/research.md). :func:`ultralytics_threads` also changes
the value ``select_device`` applies.
"""
from __future__ import annotations

import os
from types import ModuleType

from .. import offline


def resolve_threads(threads: int) -> int:
    """``threads`` if > 0, else one per CPU core."""
    return threads if threads > 0 else max(1, os.cpu_count() or 1)


def ultralytics_threads(threads: int = 0) -> ModuleType:
    """The ultralytics module (offline), with torch on ``threads`` threads (0: all cores) that stick."""
    n = resolve_threads(threads)
    ul = offline.ultralytics(n)
    from ultralytics.utils import torch_utils

    torch_utils.NUM_THREADS = n
    return ul


def skip_cpu_warmup() -> None:
    """Skip ultralytics' warm-up of a PyTorch model on the CPU, which runs no forward pass there and only
    imports torchvision (about 1.5 s, once per process: a pool worker's start-up) so that its NMS uses
    torchvision's kernel. Without it ultralytics' own NMS runs, which gives the same boxes: all 144 photos
    of scripts/bench_pipeline.py's batch bit for bit (279 boxes), and tests/test_detect_infer.py checks the
    sample. Other devices and formats warm up as before. Idempotent."""
    from ultralytics.nn.autobackend import AutoBackend

    original = AutoBackend.warmup
    if getattr(original, "skips_cpu", False):
        return

    def warmup(self, *args, **kwargs):
        if self.device.type == "cpu" and getattr(self, "format", "") not in ("torchscript", "triton"):
            return None
        return original(self, *args, **kwargs)

    warmup.skips_cpu = True
    AutoBackend.warmup = warmup
