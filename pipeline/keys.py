"""Cache keys: one digest function, and the keys of every per-photo stage for one run.

Each stage owns its version and the way its key is made (``cache_key`` next to its ``STAGE_VERSION``:
:mod:`pipeline.load`, :mod:`pipeline.dedup.hashing`, :mod:`pipeline.detect.infer`,
:mod:`pipeline.verify.quality`, :mod:`pipeline.verify.entry`, :mod:`pipeline.score.card`); :class:`RunKeys`
only gathers them once per run so that plan and commit use the very same keys.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


def short_hash(data: str | bytes) -> str:
    """The project's short hash: the first 16 hex digits of sha256 (64 bits) of ``data`` (text as UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:16]


def digest(*parts: Any) -> str:
    """:func:`short_hash` of the canonical JSON of ``parts``."""
    return short_hash(json.dumps(parts, sort_keys=True, default=str))


@dataclass(frozen=True)
class RunKeys:
    """(stage version, config key) of each per-photo stage, the model id, and the verify key's config part."""

    model_id: str
    load_error: tuple[str, str]
    hash: tuple[str, str]
    quality: tuple[str, str]
    detect: tuple[str, str]
    verify_config: str

    @classmethod
    def of(cls, cfg: Any, model_id: str) -> "RunKeys":
        from . import load
        from .dedup import hashing
        from .detect import infer
        from .verify import entry, quality

        load_key = load.cache_key(cfg.load)
        return cls(model_id=model_id, load_error=(load.ERROR_STAGE_VERSION, load_key),
                   hash=hashing.cache_key(load_key, cfg.dedup), quality=quality.cache_key(load_key),
                   detect=infer.cache_key(load_key, cfg.detect),
                   verify_config=entry.config_key(cfg.verify, load_key))

    def verify(self, usable: list[tuple[str, str, str]]) -> str:
        """The verify result's key for the entry's usable photos ``(rel_path, role, sha256)``, sorted."""
        from .verify.entry import cache_key

        return cache_key(self.verify_config, self.model_id, usable)
