"""Stored region hashes (:mod:`pipeline.dedup.regions`): ALL the SQL of issue 22's data, in one place.

One table, ``dedup_regions``: one row per photo hashed with them. A separate table, so that workspaces
made before issue 22 need no migration: their photos simply have no row (and are matched as before).
Windows are big-endian 8-byte pHashes; the pictures (collage panels) are JSON (kind, box) with their pHashes
and views side by side.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from ..workspace import register_schema
from .regions import Picture, RegionHashes

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup_regions (
    sha256 TEXT PRIMARY KEY,
    version TEXT NOT NULL,        -- regions.STAGE_VERSION
    windows BLOB NOT NULL,        -- len(regions.REGION_BOXES) x 8 bytes
    pictures TEXT NOT NULL,       -- JSON [{"kind": "panel", "box": [x0, y0, x1, y1]}, ...]
    picture_phashes BLOB NOT NULL,-- one 8-byte pHash per picture
    picture_views BLOB NOT NULL   -- the pictures' grey JPEG views, concatenated
);
"""
register_schema(SCHEMA)


def _u64s(values) -> bytes:
    return b"".join(int(v).to_bytes(8, "big") for v in values)


def _ints(blob: bytes | None) -> tuple[int, ...]:
    blob = blob or b""
    return tuple(int.from_bytes(blob[i:i + 8], "big") for i in range(0, len(blob), 8))


def row_values(sha256: str, r: RegionHashes) -> tuple:
    """The ``dedup_regions`` row of a photo's region hashes (for :func:`put`)."""
    from .regions import STAGE_VERSION

    meta = [{"kind": p.kind, "box": list(p.box), "view_bytes": len(p.view)} for p in r.pictures]
    return (sha256, STAGE_VERSION, _u64s(r.windows), json.dumps(meta), _u64s(p.phash for p in r.pictures),
            b"".join(p.view for p in r.pictures))


def put(conn: sqlite3.Connection, sha256: str, r: RegionHashes) -> None:
    """Store (replace) a photo's region hashes; inside the caller's transaction."""
    conn.execute("INSERT OR REPLACE INTO dedup_regions(sha256, version, windows, pictures, picture_phashes, "
                 "picture_views) VALUES (?,?,?,?,?,?)", row_values(sha256, r))


def _from_row(version: str, windows: bytes, pictures: str, phashes: bytes, views: bytes) -> RegionHashes:
    from .regions import STAGE_VERSION

    if version != STAGE_VERSION:
        return RegionHashes()
    return RegionHashes(_ints(windows), _pictures(pictures, phashes, views))


def _pictures(pictures: str, phashes: bytes, views: bytes) -> tuple[Picture, ...]:
    meta = json.loads(pictures or "[]")
    codes = _ints(phashes)
    out, at = [], 0
    for m, code in zip(meta, codes):
        n = int(m.get("view_bytes", 0))
        out.append(Picture(m["kind"], tuple(float(v) for v in m["box"]), code, (views or b"")[at:at + n]))
        at += n
    return tuple(out)


def get(conn: sqlite3.Connection, sha256: str) -> RegionHashes | None:
    """A photo's stored region hashes, or None when it has no row."""
    row = conn.execute("SELECT version, windows, pictures, picture_phashes, picture_views FROM dedup_regions "
                       "WHERE sha256=?", (sha256,)).fetchone()
    return _from_row(*row) if row else None


def load_all(conn: sqlite3.Connection) -> Iterator[tuple[str, bytes, tuple[Picture, ...]]]:
    """Every stored photo's region hashes as (sha256, windows as stored: big-endian 8-byte codes, pictures),
    rows of another version left out. Raw bytes, not Python ints: a million photos' windows are 512 MB as
    bytes, several GB as tuples of ints."""
    from .regions import STAGE_VERSION

    for sha, version, windows, pictures, phashes, views in conn.execute(
            "SELECT sha256, version, windows, pictures, picture_phashes, picture_views FROM dedup_regions"):
        if version == STAGE_VERSION:
            yield sha, windows or b"", _pictures(pictures, phashes, views) if pictures != "[]" else ()


def stamp(conn: sqlite3.Connection) -> tuple[int, int]:
    """(row count, max rowid): changes when rows are added or replaced (the index cache's key)."""
    return tuple(conn.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM dedup_regions").fetchone())
