"""Stored matches: every photo is matched against the workspace index once per matching configuration.

Matching a photo (:func:`pipeline.dedup.match.match_one`: radius searches, then the pixel check of every
hit) is the expensive part of the dedup stage, ~0.2 s per photo on 2 cores, mostly the crop alignment. The
runner therefore queries each photo ONCE, right after its batch was hashed, and stores what it verified:

* table ``dedup_matches``: one row per (queried photo, matched photo) under the matching key;
* table ``dedup_queried``: the photos already queried under that key (also those without any match).

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
from ..keys import short_hash
from ..types import DuplicateMatch
from ..workspace import Workspace, register_schema
from .hashing import STAGE_VERSION
from .index import HashIndex, load_index
from .match import KIND_RANK, VerifiedMatch, match_one, reduce_matches

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup_matches (
    key TEXT NOT NULL,            -- match_key(cfg): hash version + [dedup] settings
    photo TEXT NOT NULL,          -- sha256 of the queried photo
    other TEXT NOT NULL,          -- sha256 of the matched photo
    kind TEXT NOT NULL,           -- match.KIND_RANK: a copy kind, or same_spot (not a copy)
    distance INTEGER NOT NULL,
    hash_name TEXT NOT NULL,
    difference REAL NOT NULL,     -- signature difference (pipeline.dedup.verify)
    PRIMARY KEY (key, photo, other)
);
CREATE INDEX IF NOT EXISTS dedup_matches_other ON dedup_matches(key, other);
CREATE TABLE IF NOT EXISTS dedup_queried (
    key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (key, sha256)
);
"""
register_schema(SCHEMA)

#: the matcher's own version, part of the match key: a change of what the confirmation calls a copy re-queries
#: (2: keypoints spread over a grid, more lettering forgiven, the parallax of a moving camera is no copy)
MATCH_VERSION = "2"
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
    done = {r[0] for r in ws.conn.execute("SELECT sha256 FROM dedup_queried WHERE key=?", (key,))}
    return [s for s in dict.fromkeys(sha256s) if s not in done and index.position(s) is not None]


def match_chunk(index: HashIndex, item: tuple[DedupConfig, list[str]]) -> list[tuple[str, VerifiedMatch]]:
    """The verified matches of the photos of ``item`` (a config and indexed sha256s) against ``index``:
    pure, so that any executor can run it (``fn(shared, item)`` of :mod:`pipeline.executors`)."""
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
        rows = [(key, sha, m.other_sha256, m.kind, m.distance, m.hash_name, float(m.difference))
                for sha, m in found]
        with ws.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO dedup_matches(key, photo, other, kind, distance, hash_name, "
                          "difference) VALUES (?,?,?,?,?,?,?)", rows)
            c.executemany("INSERT OR IGNORE INTO dedup_queried(key, sha256) VALUES (?,?)", [(key, s) for s in chunk])
        if progress is not None:
            progress(len(chunk))
    return len(todo)


def stored_matches(ws: Workspace, sha256s: list[str], cfg: DedupConfig,
                   same_bytes: dict[str, int] | None = None,
                   ) -> tuple[list[DuplicateMatch], dict[tuple[str, str], float]]:
    """The stored matches of the photos ``sha256s`` under ``cfg``, found from either end, one per pair (as
    :func:`pipeline.dedup.match.match_index` returns them), plus the ``exact`` self-matches of
    ``same_bytes``. Photos not yet queried are queried first."""
    query_new(ws, sha256s, cfg)
    key = match_key(cfg)
    shas = list(dict.fromkeys(sha256s))
    mine = set(shas)
    rows: list[tuple] = []
    for i in range(0, len(shas), 500):  # SQLite's limit on host parameters
        part = shas[i:i + 500]
        marks = ",".join("?" * len(part))
        rows.extend(ws.conn.execute(
            f"SELECT photo, other, kind, distance, hash_name, difference FROM dedup_matches WHERE key=? "
            f"AND (photo IN ({marks}) OR other IN ({marks}))", (key, *part, *part)).fetchall())
    rows = list(dict.fromkeys(rows))
    place = {s: i for i, s in enumerate(shas)}

    def order(r: tuple) -> tuple:  # the entry's photos in order, then the best matches first
        end = r[0] if r[0] in mine else r[1]
        return (place[end], r[0] not in mine, KIND_RANK[r[2]], r[5], r[1], r[0])

    found = [(r[0], VerifiedMatch(r[1], r[2], r[4], int(r[3]), float(r[5]))) for r in sorted(rows, key=order)]
    return reduce_matches(load_index(ws), found, same_bytes)
