"""Stored region hashes of the dedup stage (issue 22; decoded by :mod:`pipeline.dedup.region_codec`): table
``dedup_regions``, one row per photo hashed with them (migration 4 of :mod:`.schema`). Rows are plain tuples:
(sha256, version, windows, pictures JSON, picture pHashes, picture views)."""
from __future__ import annotations

from collections.abc import Iterator

from .workspace import Workspace

#: a ``dedup_regions`` row: sha256, version, windows (8-byte big-endian pHashes), pictures (JSON),
#: picture_phashes, picture_views (BLOBs as bytes)
RegionRow = tuple


def put_row(ws: Workspace, row: RegionRow) -> None:
    """Store (replace) a photo's region row, in its own transaction."""
    with ws.transaction() as c:
        c.execute("INSERT OR REPLACE INTO dedup_regions(sha256, version, windows, pictures, picture_phashes, "
                  "picture_views) VALUES (?,?,?,?,?,?)", row)


def get_row(ws: Workspace, sha256: str) -> RegionRow | None:
    """A photo's region row without its sha256 (version, windows, pictures, picture_phashes, picture_views),
    or None when it has none."""
    row = ws.conn.execute("SELECT version, windows, pictures, picture_phashes, picture_views FROM dedup_regions "
                          "WHERE sha256=?", (sha256,)).fetchone()
    return tuple(row) if row else None


def all_rows(ws: Workspace) -> Iterator[RegionRow]:
    """Every region row (:data:`RegionRow`), streamed."""
    yield from ws.conn.execute(
        "SELECT sha256, version, windows, pictures, picture_phashes, picture_views FROM dedup_regions")


def stamp(ws: Workspace) -> tuple[int, int]:
    """(row count, max rowid): changes when rows are added or replaced (the index cache's key)."""
    row = ws.conn.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM dedup_regions").fetchone()
    return (int(row[0]), int(row[1]))
