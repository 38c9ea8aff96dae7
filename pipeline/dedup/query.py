"""Querying the hash index: every photo is matched against the workspace index once per matching configuration.

Matching a photo (:func:`pipeline.dedup.match.match_one`: radius searches, then the pixel check of every
hit) is the expensive part of the dedup stage, ~0.2 s per photo on 2 cores, mostly the crop alignment. The
runner therefore queries each photo ONCE, right after its batch was hashed, and stores what it verified:

* table ``dedup_matches``: one row per (queried photo, matched photo) under the matching key;
* table ``dedup_queried``: the photos already queried under that key (also those without any match)
  (both in :mod:`pipeline.store.matches`).

Plan, execute, commit: :func:`unqueried` and :func:`load_index` read; :func:`match_chunk` is pure and runs on
any executor; :func:`query_new` (the run's writer) commits each chunk. :func:`stored_matches` only reads.

A photo that arrives later is queried against everything already indexed, so a pair of photos is found
from the later one's side even when the earlier one was queried long before (matching is symmetric: the
8 variants, the crop windows in both directions and the pixel check see the same pair either way). A rerun
of a batch queries nothing again; a new round queries only its new photos. The matching key covers the
hash version and every ``[dedup]`` setting, so a change of threshold re-queries everything under the new key.

Flags then come from the stored rows of the entry's photos, reduced to one match per pair by
:func:`pipeline.dedup.match.reduce_matches`; rows found from either end count, so the result does not
depend on the order in which photos were queried (a killed and resumed run gives the same flags).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from ..config import DedupConfig
from ..digests import short_hash
from ..store import matches as stored
from ..store.matches import StoredMatch
from ..store.workspace import Workspace
from ..types import DuplicateMatch
from .hashing import STAGE_VERSION
from .index import HashIndex, load_index
from .match import KIND_RANK, VerifiedMatch, match_one, reduce_matches

#: the matcher's own version, part of the match key: a change of what the confirmation calls a copy re-queries
#: (2: keypoints spread over a grid, more lettering forgiven, the parallax of a moving camera is no copy;
#: 3: the matched region of a copy is stored with it; what is called a copy is unchanged)
MATCH_VERSION = "3"
COMMIT_EVERY = 100  # photos per transaction: a killed run loses at most this many queries


def match_key(cfg: DedupConfig) -> str:
    """Key of the stored matches: the hash version, the matcher's version and every matching setting (16 hex
    digits)."""
    blob = json.dumps({"hash": STAGE_VERSION, "match": MATCH_VERSION, "cfg": cfg.__dict__}, sort_keys=True)
    return short_hash(blob)


def unqueried(ws: Workspace, sha256s: list[str], cfg: DedupConfig) -> list[str]:
    """The photos of ``sha256s`` (deduplicated, in order) that are indexed but not yet queried under the
    key of ``cfg``."""
    key = match_key(cfg)
    index = load_index(ws)
    done = stored.queried(ws, key)
    return [s for s in dict.fromkeys(sha256s) if s not in done and index.position(s) is not None]


def match_chunk(index: HashIndex, item: tuple[DedupConfig, list[str]]) -> list[tuple[str, VerifiedMatch]]:
    """The verified matches of the photos of ``item`` (a config and indexed sha256s) against ``index``:
    pure, so that any executor can run it (``fn(shared, item)`` of :mod:`pipeline.run.executors`)."""
    cfg, shas = item
    found = []
    for sha in shas:
        h = index.hashes(sha)
        if h is not None:
            found.extend((sha, m) for m in match_one(index, h, cfg))
    return found


def _chunks(todo: list[str], workers: int) -> list[list[str]]:
    """At most COMMIT_EVERY photos per chunk, and enough chunks to keep ``workers`` busy."""
    size = max(1, min(COMMIT_EVERY, -(-len(todo) // (4 * max(1, workers)))))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def query_new(ws: Workspace, sha256s: list[str], cfg: DedupConfig,
              progress: Callable[[int], None] | None = None, executor: Any = None) -> int:
    """Match every photo of ``sha256s`` not yet queried under ``cfg`` against the whole index and store the
    verified matches, one transaction per chunk of at most ``COMMIT_EVERY`` photos (matching runs on
    ``executor``, this process by default; only this process writes). Returns how many photos were
    queried; ``progress(n)`` is called after each committed chunk with the number of photos in it."""
    todo = unqueried(ws, sha256s, cfg)
    if not todo:
        return 0
    key = match_key(cfg)
    index = load_index(ws)
    chunks = _chunks(todo, getattr(executor, "workers", 1))
    results = (executor.imap(match_chunk, [(cfg, c) for c in chunks], index) if executor is not None
               else (match_chunk(index, (cfg, c)) for c in chunks))
    for chunk, found in zip(chunks, results):
        stored.put_matches(ws, key, chunk, [StoredMatch(sha, m.other_sha256, m.kind, m.distance, m.hash_name,
                                                        float(m.difference), m.region, m.other_region)
                                            for sha, m in found])
        if progress is not None:
            progress(len(chunk))
    return len(todo)


def stored_matches(ws: Workspace, sha256s: list[str], cfg: DedupConfig,
                   same_bytes: dict[str, int] | None = None,
                   ) -> tuple[list[DuplicateMatch], dict[tuple[str, str], float]]:
    """The stored matches of the photos ``sha256s`` under ``cfg``, found from either end, one per pair (as
    :func:`pipeline.dedup.match.match_index` returns them), plus the ``exact`` self-matches of
    ``same_bytes``. Reads only: photos not yet queried (:func:`unqueried`) have no matches here; the writer
    queries them first (:func:`query_new`)."""
    key = match_key(cfg)
    shas = list(dict.fromkeys(sha256s))
    mine = set(shas)
    place = {s: i for i, s in enumerate(shas)}

    def order(r: StoredMatch) -> tuple:  # the entry's photos in order, then the best matches first
        end = r.photo if r.photo in mine else r.other
        return (place[end], r.photo not in mine, KIND_RANK[r.kind], r.difference, r.other, r.photo)

    found = [(r.photo, VerifiedMatch(r.other, r.kind, r.hash_name, r.distance, r.difference,
                                     region=r.region, other_region=r.other_region))
             for r in sorted(stored.matches_of(ws, key, shas), key=order)]
    return reduce_matches(load_index(ws), found, same_bytes)
