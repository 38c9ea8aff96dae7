"""How many cores this process may use (no other dependency: a pool worker imports it before numpy)."""
from __future__ import annotations

import os


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
