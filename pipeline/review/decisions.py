"""The review app's rules over its tables (:mod:`pipeline.store.reviews`): decisions, accounts, corrections.

Decisions are append-only: each one is a :class:`pipeline.types.Review` whose ``version`` is one more than
the entry's previous decision. :func:`decide` checks, inside one ``BEGIN IMMEDIATE`` transaction, that the
version the judge saw is still the latest; when another judge decided in between it stores nothing and
returns that decision as a conflict (no lost update). The rows double as the audit log.

Corrections of detections are stored per photo (sha256) and model id: the whole set for one photo and one
model is replaced at each save, and every save is kept in ``review_correction_log`` for audit.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..store import reviews as stored
from ..store.workspace import Workspace
from ..types import Correction, Review, User

DECISIONS: tuple[str, ...] = ("accept", "override", "disqualify")
ROLES: tuple[str, ...] = ("judge", "admin")
MAX_REASON_CHARS = 2000
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ReviewError(ValueError):
    """A decision or correction that cannot be stored as given (message safe to show to the judge)."""


@dataclass(frozen=True)
class DecisionResult:
    """Outcome of :func:`decide`: ``review`` is the stored decision, or None when ``conflict`` is set:
    the decision another judge stored after the version this judge saw."""

    review: Review | None
    conflict: Review | None = None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
    review = Review(entry_id=entry_id, judge=judge, decision=decision,  # type: ignore[arg-type]
                    score_override=score_override, reason=reason.strip(), version=base_version + 1,
                    created_at=_now())
    try:
        stored_now, latest = stored.add_review_if_latest(ws, review)
    except stored.NoSuchEntry:
        raise ReviewError(f"no entry {entry_id!r}") from None
    return DecisionResult(review=review) if stored_now else DecisionResult(review=None, conflict=latest)


# ------------------------------------------------------------------------------------------------- users
def add_user(ws: Workspace, username: str, role: str, password_hash: str) -> None:
    """Create an account; raises :class:`ReviewError` for a bad name or role or an existing account."""
    if not USERNAME_RE.match(username):
        raise ReviewError("user names are 1-64 characters: letters, digits and _ . @ -")
    if role not in ROLES:
        raise ReviewError(f"role must be one of {', '.join(ROLES)}")
    if not stored.add_user(ws, User(username, role, password_hash), _now()):
        raise ReviewError(f"user {username!r} exists already")


# ------------------------------------------------------------------------------------------- corrections
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
    stored.replace_corrections(ws, sha256, model_id, judge, out, now)
    return out


def _clip(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    return (round(min(max(x1, 0.0), w), 1), round(min(max(y1, 0.0), h), 1),
            round(min(max(x2, 0.0), w), 1), round(min(max(y2, 0.0), h), 1))
