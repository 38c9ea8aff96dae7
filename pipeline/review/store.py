"""Tables of the review app and the operations on them, all transactional.

Decisions are append-only: each one is a :class:`pipeline.types.Review` whose ``version`` is one more than
the entry's previous decision. :func:`decide` checks, inside one ``BEGIN IMMEDIATE`` transaction, that the
version the judge saw is still the latest; when another judge decided in between it stores nothing and
returns that decision as a conflict (no lost update). The rows double as the audit log.

Corrections of detections are stored per photo (sha256) and model id: the whole set for one photo and one
model is replaced at each save, and every save is kept in ``review_correction_log`` for audit.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..types import Review
from ..workspace import Workspace, register_schema

DECISIONS: tuple[str, ...] = ("accept", "override", "disqualify")
ROLES: tuple[str, ...] = ("judge", "admin")
MAX_REASON_CHARS = 2000
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    judge TEXT NOT NULL,
    decision TEXT NOT NULL,                 -- accept | override | disqualify
    score_override REAL,                    -- 0-100, only for override
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (entry_id, version)
);
CREATE TABLE IF NOT EXISTS review_users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,                     -- judge | admin
    password_hash TEXT NOT NULL,            -- argon2id, PHC string
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_corrections (
    correction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,                     -- not_litter | missed
    det_index INTEGER,                      -- index in the stored detections (not_litter only)
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,  -- full-size pixels
    judge TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_corrections_photo ON review_corrections(sha256, model_id);
-- the entry page looks up other entries' dedup results naming its photos (stage = 'dedup')
CREATE INDEX IF NOT EXISTS entry_results_stage ON entry_results(stage);
CREATE TABLE IF NOT EXISTS review_correction_log (
    log_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    created_at TEXT NOT NULL,
    corrections_json TEXT NOT NULL
);
"""
register_schema(SCHEMA)


class ReviewError(ValueError):
    """A decision or correction that cannot be stored as given (message safe to show to the judge)."""


@dataclass(frozen=True)
class Correction:
    """A judge's correction of one photo's detections for one model.

    ``kind``: ``not_litter`` (detection ``det_index`` is a false positive) or ``missed`` (litter the model
    did not box). ``box``: xyxy in pixels of the oriented full-size photo.
    """

    sha256: str
    model_id: str
    kind: Literal["not_litter", "missed"]
    box: tuple[float, float, float, float]
    det_index: int | None
    judge: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "model_id": self.model_id, "kind": self.kind, "box": list(self.box),
                "det_index": self.det_index, "judge": self.judge, "created_at": self.created_at}


@dataclass(frozen=True)
class User:
    username: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class DecisionResult:
    """Outcome of :func:`decide`: ``review`` is the stored decision, or None when ``conflict`` is set:
    the decision another judge stored after the version this judge saw."""

    review: Review | None
    conflict: Review | None = None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _review(row: Any) -> Review:
    return Review(entry_id=row["entry_id"], judge=row["judge"], decision=row["decision"],
                  score_override=row["score_override"], reason=row["reason"], version=int(row["version"]),
                  created_at=row["created_at"])


# --------------------------------------------------------------------------------------------- decisions
def validate_decision(decision: str, score_override: float | None, reason: str) -> None:
    """Raise :class:`ReviewError` unless the decision is well formed (override: score 0-100 and a reason)."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}")
    if len(reason) > MAX_REASON_CHARS:
        raise ReviewError(f"reason is longer than {MAX_REASON_CHARS} characters")
    if decision == "override":
        if score_override is None or not (0.0 <= score_override <= 100.0):
            raise ReviewError("an override needs a score between 0 and 100")
        if not reason.strip():
            raise ReviewError("an override needs a reason")
    elif score_override is not None:
        raise ReviewError("only an override carries a score")
    if decision == "disqualify" and not reason.strip():
        raise ReviewError("a disqualification needs a reason")


def decide(ws: Workspace, entry_id: str, judge: str, decision: str, score_override: float | None,
           reason: str, base_version: int) -> DecisionResult:
    """Store a decision if ``base_version`` (the latest version the judge saw, 0 for none) is still the
    latest; otherwise store nothing and return the newer decision as ``conflict``."""
    validate_decision(decision, score_override, reason)
    with ws.transaction() as c:
        if c.execute("SELECT 1 FROM entries WHERE entry_id=?", (entry_id,)).fetchone() is None:
            raise ReviewError(f"no entry {entry_id!r}")
        row = c.execute("SELECT * FROM reviews WHERE entry_id=? ORDER BY version DESC LIMIT 1",
                        (entry_id,)).fetchone()
        current = int(row["version"]) if row else 0
        if current != base_version:
            return DecisionResult(review=None, conflict=_review(row) if row else None)
        review = Review(entry_id=entry_id, judge=judge, decision=decision,  # type: ignore[arg-type]
                        score_override=score_override, reason=reason.strip(), version=current + 1,
                        created_at=_now())
        c.execute("INSERT INTO reviews(entry_id, version, judge, decision, score_override, reason, created_at) "
                  "VALUES (?,?,?,?,?,?,?)", (review.entry_id, review.version, review.judge, review.decision,
                                             review.score_override, review.reason, review.created_at))
    return DecisionResult(review=review)


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
def add_user(ws: Workspace, username: str, role: str, password_hash: str) -> None:
    """Create an account; raises :class:`ReviewError` for a bad name or role or an existing account."""
    if not USERNAME_RE.match(username):
        raise ReviewError("user names are 1-64 characters: letters, digits and _ . @ -")
    if role not in ROLES:
        raise ReviewError(f"role must be one of {', '.join(ROLES)}")
    with ws.transaction() as c:
        if c.execute("SELECT 1 FROM review_users WHERE username=?", (username,)).fetchone():
            raise ReviewError(f"user {username!r} exists already")
        c.execute("INSERT INTO review_users(username, role, password_hash, created_at) VALUES (?,?,?,?)",
                  (username, role, password_hash, _now()))


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


def _correction(r: Any) -> Correction:
    return Correction(sha256=r["sha256"], model_id=r["model_id"], kind=r["kind"],
                      box=(r["x1"], r["y1"], r["x2"], r["y2"]),
                      det_index=r["det_index"], judge=r["judge"], created_at=r["created_at"])


def replace_corrections(ws: Workspace, sha256: str, model_id: str, judge: str,
                        not_litter: list[tuple[int, tuple[float, float, float, float]]],
                        missed: list[tuple[float, float, float, float]],
                        image_size: tuple[int, int]) -> list[Correction]:
    """Replace the corrections of one photo and model: ``not_litter`` as (detection index, its box),
    ``missed`` as boxes; boxes in full-size pixels, clipped to ``image_size`` (width, height); boxes
    smaller than 2 pixels a side are dropped."""
    w, h = image_size
    now = _now()
    out: list[Correction] = []
    for idx, box in not_litter:
        out.append(Correction(sha256, model_id, "not_litter", _clip(box, w, h), int(idx), judge, now))
    for box in missed:
        b = _clip(box, w, h)
        if b[2] - b[0] >= 2 and b[3] - b[1] >= 2:
            out.append(Correction(sha256, model_id, "missed", b, None, judge, now))
    with ws.transaction() as c:
        c.execute("DELETE FROM review_corrections WHERE sha256=? AND model_id=?", (sha256, model_id))
        for k in out:
            c.execute("INSERT INTO review_corrections(sha256, model_id, kind, det_index, x1, y1, x2, y2, judge, "
                      "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (k.sha256, k.model_id, k.kind, k.det_index, *k.box, k.judge, k.created_at))
        c.execute("INSERT INTO review_correction_log(sha256, model_id, judge, created_at, corrections_json) "
                  "VALUES (?,?,?,?,?)", (sha256, model_id, judge, now, json.dumps([k.to_dict() for k in out])))
    return out


def _clip(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    return (round(min(max(x1, 0.0), w), 1), round(min(max(y1, 0.0), h), 1),
            round(min(max(x2, 0.0), w), 1), round(min(max(y2, 0.0), h), 1))
