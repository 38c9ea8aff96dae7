"""Reused-photo detection: hashes (hashing), the workspace's hash index (index, mih), matching and groups
(match, verify), the stored matches (store), which entry had a shared photo first (order), per-entry
flags (flags) and the ``dedup`` command (cli).
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
# Names resolve on first use (PEP 562), on purpose: importing a submodule such as ``pipeline.dedup.cli`` (done by
# `cleanup-verify --help`) must not import the hashing and matching stack (scipy, pdqhash, numba).
_EXPORTS = {
    "DUPLICATE_PHOTO": "flags", "PHOTO_COPIED_BY_LATER": "flags", "SAME_SPOT_PHOTO": "flags",
    "UNCHANGED_AFTER": "flags", "DedupResult": "flags", "duplicate_flags": "flags",
    "stored_result": "flags", "STAGE_VERSION": "hashing", "DedupHashes": "hashing", "compute_hashes": "hashing",
    "add_to_index": ("index", "add"), "group_matches": "match", "match_photos": "match", "query_new": "store",
    "stored_matches": "store", "precedence": "order", "Arrival": "order",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    where = _EXPORTS[name]
    module, attr = where if isinstance(where, tuple) else (where, name)
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value
