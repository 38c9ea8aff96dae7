"""The dedup hash index's rows: table ``dedup_hashes`` (one row per photo; hashes as big-endian BLOBs so that
``sqlite3`` shows them and unsigned 64-bit values survive) and ``dedup_reuse`` (the reuse hashes and grey
views, issue 13). Decoding the rows into hashes and arrays is :mod:`pipeline.dedup.index`'s."""
from __future__ import annotations

from ..types import PhotoHashes
from .workspace import Workspace

#: a ``dedup_hashes`` row joined with its ``dedup_reuse`` row: sha256, phash, dhash, pdq, pdq_quality,
#: phash_variants, pdq_variants, crop_phashes, thumb, inner_box, inner_phashes, rot_phashes, part_phashes,
#: view, inner_view (BLOBs as bytes, missing ones None)
HashRow = tuple
#: a row of the whole index: sha256, phash, dhash, pdq, pdq_quality, crop_phashes, photos.seq (None when the
#: photo has no row), rowid, phash_variants, pdq_variants, thumb
IndexRow = tuple
#: a ``dedup_reuse`` row: sha256, inner_box, inner_phashes, rot_phashes, part_phashes, view, inner_view
ReuseRow = tuple


def _u64(v: int) -> bytes:
    return int(v).to_bytes(8, "big")


def put_hashes(ws: Workspace, hashes: PhotoHashes, stage_version: str) -> None:
    """Store a photo's hashes in the index (idempotent): full hashes (crop windows and signature) replace an
    earlier row of the same sha256; plain :class:`PhotoHashes` only fill a missing row."""
    crops = getattr(hashes, "crop_phashes", ())
    thumb = getattr(hashes, "thumb", b"")
    verb = "INSERT OR REPLACE" if crops and thumb else "INSERT OR IGNORE"
    with ws.transaction() as c:
        c.execute(
            f"{verb} INTO dedup_hashes(sha256, stage_version, phash, dhash, pdq, pdq_quality, "
            "phash_variants, pdq_variants, crop_phashes, thumb) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (hashes.sha256, stage_version, _u64(hashes.phash), _u64(hashes.dhash), hashes.pdq,
             hashes.pdq_quality, b"".join(_u64(v) for v in hashes.phash_variants),
             b"".join(hashes.pdq_variants), b"".join(_u64(v) for v in crops), thumb or None))
        if getattr(hashes, "view", b""):
            c.execute("INSERT OR REPLACE INTO dedup_reuse(sha256, inner_box, inner_phashes, rot_phashes, "
                      "part_phashes, view, inner_view) VALUES (?,?,?,?,?,?,?)",
                      (hashes.sha256, " ".join(str(v) for v in hashes.inner_box) or None,
                       b"".join(_u64(v) for v in hashes.inner_phashes),
                       b"".join(_u64(v) for v in hashes.rot_phashes), b"".join(_u64(v) for v in hashes.part_phashes),
                       hashes.view, hashes.inner_view or None))


def hash_row(ws: Workspace, sha256: str) -> HashRow | None:
    """A photo's row (:data:`HashRow`), or None when it was never indexed."""
    row = ws.conn.execute("SELECT d.sha256, d.phash, d.dhash, d.pdq, d.pdq_quality, d.phash_variants, "
                          "d.pdq_variants, d.crop_phashes, d.thumb, r.inner_box, r.inner_phashes, r.rot_phashes, "
                          "r.part_phashes, r.view, r.inner_view FROM dedup_hashes d "
                          "LEFT JOIN dedup_reuse r ON r.sha256 = d.sha256 WHERE d.sha256=?", (sha256,)).fetchone()
    return tuple(row) if row else None


def count_hashes(ws: Workspace) -> int:
    """Photos in the index."""
    return int(ws.conn.execute("SELECT COUNT(*) FROM dedup_hashes").fetchone()[0])


def index_rows(ws: Workspace) -> list[IndexRow]:
    """Every row of the index (:data:`IndexRow`) in insertion order, with the photo's arrival order."""
    return ws.conn.execute(
        "SELECT d.sha256, d.phash, d.dhash, d.pdq, d.pdq_quality, d.crop_phashes, p.seq, d.rowid, "
        "d.phash_variants, d.pdq_variants, d.thumb "
        "FROM dedup_hashes d LEFT JOIN photos p ON p.sha256 = d.sha256 ORDER BY d.rowid").fetchall()


def reuse_rows(ws: Workspace) -> list[ReuseRow]:
    """Every ``dedup_reuse`` row (:data:`ReuseRow`) in insertion order."""
    return ws.conn.execute("SELECT sha256, inner_box, inner_phashes, rot_phashes, part_phashes, view, "
                           "inner_view FROM dedup_reuse ORDER BY rowid").fetchall()


def index_stamp(ws: Workspace) -> tuple[int, int, int, int]:
    """Numbers that change whenever the index gains or replaces a row or a photo arrives: row count, max
    rowid, photos, max reuse rowid (one cheap query)."""
    row = ws.conn.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0), (SELECT COUNT(*) FROM photos), "
                          "(SELECT COALESCE(MAX(rowid), 0) FROM dedup_reuse) FROM dedup_hashes").fetchone()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))
