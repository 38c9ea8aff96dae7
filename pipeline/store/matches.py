"""The dedup stage's stored matches: table ``dedup_matches`` (one row per queried photo and matched photo under
a matching key) and ``dedup_queried`` (the photos already queried under a key, also those without a match).
What a match means and how the key is made is :mod:`pipeline.dedup.query`'s."""
from __future__ import annotations

from dataclasses import dataclass

from ..types import clean_region
from .workspace import Workspace

_CHUNK = 500  # SQLite's limit on host parameters, with room


@dataclass(frozen=True)
class StoredMatch:
    """One stored row: photo ``photo`` (queried) matched ``other`` as ``kind`` at Hamming ``distance`` of
    ``hash_name``, with signature ``difference`` (pipeline.dedup.pixel_check), and where they match
    (fractions x0, y0, x1, y1 of each photo: ``region`` in ``photo``, ``other_region`` in ``other``; None
    when unknown, as in rows stored before schema version 5)."""

    photo: str
    other: str
    kind: str
    distance: int
    hash_name: str
    difference: float
    region: tuple[float, ...] | None = None
    other_region: tuple[float, ...] | None = None


def _box_text(box: tuple[float, ...] | None) -> str | None:
    """A region as stored: "x0 y0 x1 y1" (NULL when unknown or malformed)."""
    box = clean_region(box)
    return None if box is None else " ".join(f"{v:g}" for v in box)


def _box(text: str | None) -> tuple[float, ...] | None:
    return clean_region(text.split()) if isinstance(text, str) else None


def queried(ws: Workspace, key: str) -> set[str]:
    """The photos already queried under ``key``."""
    return {r[0] for r in ws.conn.execute("SELECT sha256 FROM dedup_queried WHERE key=?", (key,))}


def put_matches(ws: Workspace, key: str, photos: list[str], found: list[StoredMatch],
                replace: list[str] = ()) -> None:
    """Record that ``photos`` were queried under ``key`` and found ``found``, in one transaction; the rows
    of the photos ``replace`` (queried again in full) are deleted first."""
    with ws.transaction() as c:
        c.executemany("DELETE FROM dedup_matches WHERE key=? AND photo=?", [(key, s) for s in replace])
        c.executemany("INSERT OR REPLACE INTO dedup_matches(key, photo, other, kind, distance, hash_name, "
                      "difference, region, other_region) VALUES (?,?,?,?,?,?,?,?,?)",
                      [(key, m.photo, m.other, m.kind, m.distance, m.hash_name, float(m.difference),
                        _box_text(m.region), _box_text(m.other_region)) for m in found])
        c.executemany("INSERT OR IGNORE INTO dedup_queried(key, sha256) VALUES (?,?)", [(key, s) for s in photos])


def matches_of(ws: Workspace, key: str, sha256s: list[str]) -> list[StoredMatch]:
    """The rows under ``key`` that name one of ``sha256s`` at either end, each once (in no set order)."""
    shas = list(dict.fromkeys(sha256s))
    rows: list[tuple] = []
    for i in range(0, len(shas), _CHUNK):
        part = shas[i:i + _CHUNK]
        marks = ",".join("?" * len(part))
        rows.extend(ws.conn.execute(
            f"SELECT photo, other, kind, distance, hash_name, difference, region, other_region FROM dedup_matches "
            f"WHERE key=? AND (photo IN ({marks}) OR other IN ({marks}))", (key, *part, *part)).fetchall())
    return [StoredMatch(r[0], r[1], r[2], int(r[3]), r[4], float(r[5]), _box(r[6]), _box(r[7]))
            for r in dict.fromkeys(map(tuple, rows))]


def matched_with(ws: Workspace, sha256s: list[str]) -> set[str]:
    """Every photo matched with one of ``sha256s`` from either end, under any matching key (each query
    uses an index: (key, photo, other) or (key, other))."""
    found: set[str] = set()
    shas = list(dict.fromkeys(sha256s))
    if not shas:
        return found
    keys = [r[0] for r in ws.conn.execute("SELECT DISTINCT key FROM dedup_matches")]
    for i in range(0, len(shas), _CHUNK):
        part = shas[i:i + _CHUNK]
        marks = ",".join("?" * len(part))
        for key in keys:
            for col, other in (("photo", "other"), ("other", "photo")):
                found.update(r[0] for r in ws.conn.execute(
                    f"SELECT {other} FROM dedup_matches WHERE key=? AND {col} IN ({marks})", (key, *part)))
    return found


def queried_count(ws: Workspace) -> int:
    """Rows of ``dedup_queried`` (photos queried, over every key)."""
    return int(ws.conn.execute("SELECT COUNT(*) FROM dedup_queried").fetchone()[0])


