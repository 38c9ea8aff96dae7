"""Reused-photo detection: hashes (hashing), the workspace's hash index (index, mih), matching and groups
(match, verify), the stored matches (store), per-entry flags (flags) and the ``dedup`` command (cli).
Hasher, matcher and flagger are separate stages with the index and the stored matches between them.

The runner's contract::

    from pipeline.dedup import compute_hashes, add_to_index, duplicate_flags, STAGE_VERSION
    h = compute_hashes(loaded.image, sha)              # during loading, per photo
    ws.put_result(sha, "hash", STAGE_VERSION, cfg.section_hash("dedup"), h.to_dict())
    add_to_index(ws, h)
    ...                                                # after the whole batch is loaded
    query_new(ws, batch_sha256s, cfg.dedup)            # match each photo not matched before, once
    flags = duplicate_flags(ws, entry_id, cfg.dedup)   # per entry, for the scorer

A cached ``"hash"`` result is turned back into hashes with ``DedupHashes.from_dict``.
"""
from .flags import DUPLICATE_PHOTO, SAME_SPOT_PHOTO, UNCHANGED_AFTER, DedupResult, duplicate_flags, stored_result
from .hashing import STAGE_VERSION, DedupHashes, compute_hashes
from .index import add as add_to_index
from .match import group_matches, match_photos
from .store import query_new, stored_matches

__all__ = ["DUPLICATE_PHOTO", "SAME_SPOT_PHOTO", "UNCHANGED_AFTER", "STAGE_VERSION", "DedupHashes", "DedupResult", "add_to_index",
           "compute_hashes", "duplicate_flags", "group_matches", "match_photos", "query_new", "stored_matches",
           "stored_result"]
