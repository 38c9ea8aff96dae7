"""The project's short digests, used by every cache key (no other dependency, so that any module may use it)."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def short_hash(data: str | bytes) -> str:
    """The project's short hash: the first 16 hex digits of sha256 (64 bits) of ``data`` (text as UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:16]


def digest(*parts: Any) -> str:
    """:func:`short_hash` of the canonical JSON of ``parts``."""
    return short_hash(json.dumps(parts, sort_keys=True, default=str))
