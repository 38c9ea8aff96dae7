"""Querying the hash index: every photo is matched against the workspace index once per matching configuration.

Matching a photo (:func:`pipeline.dedup.match.match_one`: radius searches, then the pixel check of every
hit) is the expensive part of the dedup stage, ~0.2 s per photo on 2 cores, mostly the crop alignment. The
runner therefore queries each photo ONCE, right after its batch was hashed, and stores what it verified:

* table ``dedup_matches``: one row per (queried photo, matched photo) under the matching key;
* table ``dedup_queried``: the photos already queried under that key (also those without any match)
  (both in :mod:`pipeline.store.matches`).

Plan, execute, commit: :func:`unqueried` and :func:`load_index` read; :func:`query_chunk` (and
:func:`match_chunk`) is pure and runs on any executor; :func:`query_new` (the run's writer) commits each
chunk. :func:`stored_matches` only reads.

A photo that arrives later is queried against everything already indexed, and then every photo queried
before that it found among its candidates answers back: that earlier photo's own verdict on the new one is
matched and stored too (:func:`query_chunk`), as if the two had been queried in one batch. Matching is
not symmetric (the local features are matched and compared in the queried photo's frame and the
signature difference is measured from the queried photo's side, so the two ends' facts differ and their
verdicts can), so without the second end a pair would be decided from both ends inside a batch but from
the later end only across batches, and the flags (their order, and their facts) would depend on how the
entries were split into batches (issue 21: the intake API's small batches). When an earlier photo's
candidates reach a cap (``max_confirm``, ``max_candidates``), the new photo may push another one out of its
checks, so that photo is queried again in full instead. So the stored rows, and the flags, are those of one
batch of every photo, whatever the batches and their order (measured in docs/api.md). Not covered: a pair
that only the earlier photo's hashes find (a dihedral variant or crop window of it near the new photo, but
none of the new photo's near it) is found only when both photos are queried in one run. A rerun of a batch
queries nothing again; a new round queries its new photos and the answers of the earlier photos they meet.
The matching key covers the hash version and every ``[dedup]`` setting, so a change of threshold
re-queries everything under the new key.

Flags then come from the stored rows of the entry's photos, reduced to one match per pair by
:func:`pipeline.dedup.match.reduce_matches`; rows found from either end count, so the result does not
depend on the order in which photos were queried (a killed and resumed run gives the same flags).
"""
from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

from ..config import DedupConfig
from ..digests import short_hash
from ..store import matches as stored
from ..store.matches import StoredMatch
from ..store.workspace import Workspace
from ..types import DuplicateMatch
from .hashing import STAGE_VERSION
from .index import HashIndex, load_index
from .match import KIND_RANK, VerifiedMatch, candidates, capped, match_one, reduce_matches

#: the matcher's own version, part of the match key: a change of what the confirmation calls a copy re-queries
#: (2: keypoints spread over a grid, more lettering forgiven, the parallax of a moving camera is no copy;
#: 3: the matched region of a copy is stored with it; earlier photos answer back the photos that arrive
#: later, candidates tie by sha256, not arrival; 4: photos of a screen, confirmed through a homography)
MATCH_VERSION = "4"
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


def query_chunk(shared: tuple[HashIndex, np.ndarray], item: tuple[DedupConfig, list[str]],
                ) -> tuple[list[tuple[str, VerifiedMatch]], list[str]]:
    """The verified matches of the new photos of ``item`` (a config and indexed sha256s) against the index
    (:func:`match_chunk`), and the answers of the photos queried before (``shared``: the index and a bool
    per index position, True for those) that these new photos found among their candidates: each such
    earlier photo's matches with them, or, when its candidates are :func:`pipeline.dedup.match.capped`,
    all its matches, queried again in full; those photos are listed second (their stored rows are to be
    replaced). Pure, so that any executor can run it."""
    index, earlier = shared
    cfg, shas = item
    found = match_chunk(index, item)
    asks: dict[int, set[int]] = {}
    for sha in shas:
        h, me = index.hashes(sha), index.position(sha)
        if h is None or me is None:
            continue
        for c in candidates(index, h, cfg):
            if earlier[c.other]:
                asks.setdefault(c.other, set()).add(me)
    full = []
    for o, new in sorted(asks.items(), key=lambda kv: index.shas[kv[0]]):
        sha = index.shas[o]
        h = index.hashes(sha)
        if h is None:
            continue
        if capped(candidates(index, h, cfg), cfg):
            full.append(sha)
            found.extend((sha, m) for m in match_one(index, h, cfg))
        else:
            found.extend((sha, m) for m in match_one(index, h, cfg, only=new))
    return found, full


def _chunks(todo: list[str], workers: int) -> list[list[str]]:
    """At most COMMIT_EVERY photos per chunk, and enough chunks to keep ``workers`` busy."""
    size = max(1, min(COMMIT_EVERY, -(-len(todo) // (4 * max(1, workers)))))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def query_new(ws: Workspace, sha256s: list[str], cfg: DedupConfig,
              progress: Callable[[int], None] | None = None, executor: Any = None) -> int:
    """Match every photo of ``sha256s`` not yet queried under ``cfg`` against the whole index, and the
    photos queried before against those of them they meet (:func:`query_chunk`), and store the verified
    matches, one transaction per chunk of at most ``COMMIT_EVERY`` new photos (matching runs on
    ``executor``, this process by default; only this process writes; a killed run loses at most a chunk,
    its answers included). Returns how many photos were queried; ``progress(n)`` is called after each
    committed chunk with the number of new photos in it."""
    todo = unqueried(ws, sha256s, cfg)
    if not todo:
        return 0
    key = match_key(cfg)
    index = load_index(ws)
    earlier = np.zeros(len(index), bool)
    done = [index.position(s) for s in stored.queried(ws, key)]
    earlier[[p for p in done if p is not None]] = True
    chunks = _chunks(todo, getattr(executor, "workers", 1))
    shared = (index, earlier)
    results = (executor.imap(query_chunk, [(cfg, c) for c in chunks], shared) if executor is not None
               else (query_chunk(shared, (cfg, c)) for c in chunks))
    for chunk, (found, full) in zip(chunks, results):
        stored.put_matches(ws, key, chunk, [StoredMatch(sha, m.other_sha256, m.kind, m.distance, m.hash_name,
                                                        float(m.difference), m.region, m.other_region)
                                            for sha, m in found], replace=full)
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
