"""Reused-photo detection: hashes (hashing), the workspace's hash index (index, mih), matching and groups
(match, verify), per-entry flags (flags) and the ``dedup`` command (cli).

The runner's contract::

    from pipeline.dedup import compute_hashes, add_to_index, duplicate_flags, STAGE_VERSION
    h = compute_hashes(loaded.image, sha)              # during loading, per photo
    ws.put_result(sha, "hash", STAGE_VERSION, cfg.section_hash("dedup"), h.to_dict())
    add_to_index(ws, h)
    ...                                                # after the whole batch is loaded
    flags = duplicate_flags(ws, entry_id, cfg.dedup)   # per entry, for the scorer

A cached ``"hash"`` result is turned back into hashes with ``DedupHashes.from_dict``.
"""
from .flags import DUPLICATE_PHOTO, UNCHANGED_AFTER, DedupResult, duplicate_flags, stored_result
from .hashing import STAGE_VERSION, DedupHashes, compute_hashes
from .index import add as add_to_index
from .match import group_matches, match_photos

__all__ = ["DUPLICATE_PHOTO", "UNCHANGED_AFTER", "STAGE_VERSION", "DedupHashes", "DedupResult", "add_to_index",
           "compute_hashes", "duplicate_flags", "group_matches", "match_photos", "stored_result"]
