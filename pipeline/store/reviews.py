"""The review app's tables: decisions (append-only, the audit log), accounts, and corrections of detections
with their log. The rules (what a well-formed decision is, clipping of boxes) are :mod:`pipeline.review.decisions`'."""
from __future__ import annotations

import json
import sqlite3

from ..types import Correction, Review, User
from .workspace import Workspace


class NoSuchEntry(LookupError):
    """A decision names an entry the workspace does not hold."""


def _review(row: sqlite3.Row) -> Review:
    return Review(entry_id=row["entry_id"], judge=row["judge"], decision=row["decision"],
                  score_override=row["score_override"], reason=row["reason"], version=int(row["version"]),
                  created_at=row["created_at"])


def _correction(r: sqlite3.Row) -> Correction:
    return Correction(sha256=r["sha256"], model_id=r["model_id"], kind=r["kind"],
                      box=(r["x1"], r["y1"], r["x2"], r["y2"]),
                      det_index=r["det_index"], judge=r["judge"], created_at=r["created_at"])


# --------------------------------------------------------------------------------------------- decisions
def add_review_if_latest(ws: Workspace, review: Review) -> tuple[bool, Review | None]:
    """Store ``review`` when ``review.version - 1`` is still the entry's latest version, in one ``BEGIN
    IMMEDIATE`` transaction: ``(True, None)``; otherwise store nothing: ``(False, the latest decision or
    None)``. Raises :class:`NoSuchEntry`."""
    with ws.transaction() as c:
        if c.execute("SELECT 1 FROM entries WHERE entry_id=?", (review.entry_id,)).fetchone() is None:
            raise NoSuchEntry(review.entry_id)
        row = c.execute("SELECT * FROM reviews WHERE entry_id=? ORDER BY version DESC LIMIT 1",
                        (review.entry_id,)).fetchone()
        current = int(row["version"]) if row else 0
        if current != review.version - 1:
            return False, (_review(row) if row else None)
        c.execute("INSERT INTO reviews(entry_id, version, judge, decision, score_override, reason, created_at) "
                  "VALUES (?,?,?,?,?,?,?)", (review.entry_id, review.version, review.judge, review.decision,
                                             review.score_override, review.reason, review.created_at))
    return True, None


def entry_reviews(ws: Workspace, entry_id: str) -> list[Review]:
    """Every decision on an entry, oldest first."""
    rows = ws.conn.execute("SELECT * FROM reviews WHERE entry_id=? ORDER BY version", (entry_id,)).fetchall()
    return [_review(r) for r in rows]


def latest_reviews(ws: Workspace) -> dict[str, Review]:
    """The latest decision of every reviewed entry, by entry id."""
    rows = ws.conn.execute(
        "SELECT r.* FROM reviews r JOIN (SELECT entry_id, MAX(version) AS v FROM reviews GROUP BY entry_id) m "
        "ON r.entry_id = m.entry_id AND r.version = m.v").fetchall()
    return {r["entry_id"]: _review(r) for r in rows}


def audit_log(ws: Workspace, limit: int = 100, offset: int = 0) -> tuple[list[Review], int]:
    """Decisions newest first (a page of them) and the total number of decisions."""
    rows = ws.conn.execute("SELECT * FROM reviews ORDER BY review_id DESC LIMIT ? OFFSET ?",
                           (limit, offset)).fetchall()
    total = int(ws.conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0])
    return [_review(r) for r in rows], total


def change_marker(ws: Workspace) -> tuple[int, ...]:
    """Numbers that change whenever entries, entry results or reviews change (cache key for rankings).

    ``INSERT OR REPLACE`` gives a replaced row a new rowid, so max rowid plus row count detect every
    insert, replace and delete in those tables.
    """
    row = ws.conn.execute(
        "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM entries), (SELECT COUNT(*) FROM entries), "
        "(SELECT COALESCE(MAX(rowid), 0) FROM entry_results), (SELECT COUNT(*) FROM entry_results), "
        "(SELECT COALESCE(MAX(review_id), 0) FROM reviews)").fetchone()
    return tuple(int(v) for v in row)


# ------------------------------------------------------------------------------------------------- users
def add_user(ws: Workspace, user: User, created_at: str) -> bool:
    """Create an account; False (nothing stored) when the name exists already."""
    with ws.transaction() as c:
        if c.execute("SELECT 1 FROM review_users WHERE username=?", (user.username,)).fetchone():
            return False
        c.execute("INSERT INTO review_users(username, role, password_hash, created_at) VALUES (?,?,?,?)",
                  (user.username, user.role, user.password_hash, created_at))
    return True


def get_user(ws: Workspace, username: str) -> User | None:
    row = ws.conn.execute("SELECT username, role, password_hash FROM review_users WHERE username=?",
                          (username,)).fetchone()
    return User(row[0], row[1], row[2]) if row else None


def set_password_hash(ws: Workspace, username: str, password_hash: str) -> bool:
    """Replace an account's password hash; False when there is no such account."""
    with ws.transaction() as c:
        cur = c.execute("UPDATE review_users SET password_hash=? WHERE username=?", (password_hash, username))
        return cur.rowcount == 1


def list_users(ws: Workspace) -> list[tuple[str, str, str]]:
    """(name, role, created_at) of every account, by name."""
    rows = ws.conn.execute("SELECT username, role, created_at FROM review_users ORDER BY username").fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def remove_user(ws: Workspace, username: str) -> bool:
    """Delete an account (its decisions stay in the audit log; its sessions end at their next request);
    False when there is no such account."""
    with ws.transaction() as c:
        return c.execute("DELETE FROM review_users WHERE username=?", (username,)).rowcount == 1


# ------------------------------------------------------------------------------------------- corrections
def photo_corrections(ws: Workspace, sha256: str, model_id: str) -> list[Correction]:
    rows = ws.conn.execute("SELECT * FROM review_corrections WHERE sha256=? AND model_id=? ORDER BY correction_id",
                           (sha256, model_id)).fetchall()
    return [_correction(r) for r in rows]


def all_corrections(ws: Workspace) -> list[Correction]:
    rows = ws.conn.execute("SELECT * FROM review_corrections ORDER BY sha256, model_id, correction_id").fetchall()
    return [_correction(r) for r in rows]


def replace_corrections(ws: Workspace, sha256: str, model_id: str, judge: str, corrections: list[Correction],
                        created_at: str) -> None:
    """Replace the corrections of one photo and model by ``corrections`` and log the save, in one
    transaction."""
    with ws.transaction() as c:
        c.execute("DELETE FROM review_corrections WHERE sha256=? AND model_id=?", (sha256, model_id))
        for k in corrections:
            c.execute("INSERT INTO review_corrections(sha256, model_id, kind, det_index, x1, y1, x2, y2, judge, "
                      "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (k.sha256, k.model_id, k.kind, k.det_index, *k.box, k.judge, k.created_at))
        c.execute("INSERT INTO review_correction_log(sha256, model_id, judge, created_at, corrections_json) "
                  "VALUES (?,?,?,?,?)", (sha256, model_id, judge, created_at,
                                         json.dumps([k.to_dict() for k in corrections])))
