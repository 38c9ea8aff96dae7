"""Photo stage ``hash``: the dedup hashes of a photo (:mod:`pipeline.dedup.hashing`), also added to the
workspace's hash index (:mod:`pipeline.dedup.index`) when committed."""
from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..dedup import index as dedup_index
from ..dedup.hashing import DedupHashes, cache_key, compute_hashes
from ..types import LoadedPhoto
from .base import PhotoStage


def _key(cfg: Config, load_key: str) -> tuple[str, str]:
    return cache_key(load_key, cfg.dedup)


def _compute(photos: Sequence[LoadedPhoto], cfg: Config) -> list[DedupHashes]:
    return [compute_hashes(p.image, p.meta.sha256, with_pdq=cfg.dedup.use_pdq) for p in photos]


STAGE = PhotoStage("hash", _key, _compute, DedupHashes.from_dict, index=dedup_index.add)
