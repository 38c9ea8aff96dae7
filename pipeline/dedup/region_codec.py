"""Region hashes (:mod:`pipeline.dedup.regions`) to and from their stored rows (:mod:`pipeline.store.regions`,
table ``dedup_regions``, one row per photo hashed with them). Workspaces made before issue 22 get the table by
migration 4; their photos simply have no row and are matched as before.
Windows are big-endian 8-byte pHashes, followed in the same blob by the cell codes (big-endian 8-byte dHashes,
``dedup-regions-3``: no schema change); the pictures (collage panels) are JSON (kind, box) with their pHashes
and views side by side.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .regions import Picture, RegionHashes


def _u64s(values) -> bytes:
    return b"".join(int(v).to_bytes(8, "big") for v in values)


def _ints(blob: bytes | None) -> tuple[int, ...]:
    blob = blob or b""
    return tuple(int.from_bytes(blob[i:i + 8], "big") for i in range(0, len(blob), 8))


def row_values(sha256: str, r: RegionHashes) -> tuple:
    """The ``dedup_regions`` row of a photo's region hashes (for :func:`pipeline.store.regions.put_row`)."""
    from .regions import STAGE_VERSION

    meta = [{"kind": p.kind, "box": list(p.box), "view_bytes": len(p.view)} for p in r.pictures]
    return (sha256, STAGE_VERSION, _u64s(r.codes()), json.dumps(meta), _u64s(p.phash for p in r.pictures),
            b"".join(p.view for p in r.pictures))


def _from_row(version: str, windows: bytes, pictures: str, phashes: bytes, views: bytes) -> RegionHashes:
    from .regions import STAGE_VERSION, split_codes

    if version != STAGE_VERSION:
        return RegionHashes()
    win, cells = split_codes(_ints(windows))
    return RegionHashes(win, _pictures(pictures, phashes, views), cells)


def _pictures(pictures: str, phashes: bytes, views: bytes) -> tuple[Picture, ...]:
    meta = json.loads(pictures or "[]")
    codes = _ints(phashes)
    out, at = [], 0
    for m, code in zip(meta, codes):
        n = int(m.get("view_bytes", 0))
        out.append(Picture(m["kind"], tuple(float(v) for v in m["box"]), code, (views or b"")[at:at + n]))
        at += n
    return tuple(out)


def from_row(row: tuple | None) -> RegionHashes | None:
    """A photo's region hashes from its stored row (version, windows, pictures, picture_phashes,
    picture_views), None when it has no row."""
    return _from_row(*row) if row else None


def load_all(rows: Iterable[tuple]) -> Iterator[tuple[str, bytes, tuple[Picture, ...]]]:
    """Every stored photo's region hashes as (sha256, windows and cells as stored: big-endian 8-byte codes,
    pictures),
    rows of another version left out. Raw bytes, not Python ints: a million photos' windows are 512 MB as
    bytes, several GB as tuples of ints."""
    from .regions import STAGE_VERSION

    for sha, version, windows, pictures, phashes, views in rows:
        if version == STAGE_VERSION:
            yield sha, windows or b"", _pictures(pictures, phashes, views) if pictures != "[]" else ()
