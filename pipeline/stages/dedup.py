"""Entry stage ``dedup``: an entry's reused-photo flags from the stored matches of its photos
(:mod:`pipeline.dedup.flags`). Plan: :func:`pipeline.dedup.flags.gather` (reads only, once the entry's
photos were queried: :mod:`pipeline.dedup.query`); compute: :func:`pipeline.dedup.flags.dedup_result`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import Config
from ..dedup.flags import DedupFacts, DedupResult, dedup_result, gather, result_key
from ..store import Workspace
from .base import EntryStage

if TYPE_CHECKING:
    from ..run.keys import RunKeys


def _gather(ws: Workspace, entry_id: str, cfg: Config, keys: "RunKeys") -> DedupFacts:
    return gather(ws, entry_id, cfg.dedup)


def _compute(facts: DedupFacts, done: dict[str, Any], cfg: Config) -> DedupResult:
    return dedup_result(facts, cfg.dedup)


def _key(facts: DedupFacts, result: DedupResult, cfg: Config, keys: "RunKeys") -> str:
    return result_key(result, cfg.dedup)


STAGE = EntryStage("dedup", _gather, _compute, _key, DedupResult.from_dict)
