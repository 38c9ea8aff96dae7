"""Reused-photo detection: hashes (hashing), the workspace's hash index (index, mih), matching and groups
(match, pixel_check), querying the index once per photo and reading the stored matches (query), which entry
had a shared photo first (order), per-entry flags (flags) and the ``dedup`` command (cli).
Hasher, matcher and flagger are separate stages with the index and the stored matches between them.

The runner's contract::

    from pipeline.dedup import compute_hashes, add_to_index, query_new, gather, dedup_result, store_result
    h = compute_hashes(loaded.image, sha)              # during loading, per photo (pure)
    add_to_index(ws, h)                                # the writer
    ...                                                # after the whole batch is loaded
    query_new(ws, batch_sha256s, cfg.dedup)            # match each photo not matched before, once
    result = dedup_result(gather(ws, entry_id, cfg.dedup), cfg.dedup)   # per entry: read, then pure
    store_result(ws, result, cfg.dedup)                # the writer; result.flags go to the scorer

A cached ``"hash"`` result is turned back into hashes with ``DedupHashes.from_dict``.
"""
# Names resolve on first use (PEP 562), on purpose: importing a submodule such as ``pipeline.dedup.cli`` (done by
# `cleanup-verify --help`) must not import the hashing and matching stack (scipy, pdqhash, numba).
_EXPORTS = {
    "DUPLICATE_PHOTO": "flags", "PHOTO_COPIED_BY_LATER": "flags", "SAME_SPOT_PHOTO": "flags",
    "UNCHANGED_AFTER": "flags", "DedupResult": "flags", "gather": "flags",
    "dedup_result": "flags", "store_result": "flags",
    "stored_result": "flags", "STAGE_VERSION": "hashing", "DedupHashes": "hashing", "compute_hashes": "hashing",
    "add_to_index": ("index", "add"), "group_matches": "match", "match_photos": "match", "query_new": "query",
    "stored_matches": "query", "precedence": "order", "Arrival": "order",
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
