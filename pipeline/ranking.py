"""The one ranking rule: what a judge's decision does to an entry's status, score and place.

Used by the export (``final_status``, ``final_score``, ``rank`` on every record), the review app's default
order and the static report, so the three always agree.

- ``final_status``: ``disqualified``, ``overridden`` or ``accepted`` after a judge's latest decision;
  otherwise ``pending`` when the pipeline asks for a judge (status ``needs_review``: a high-severity flag;
  ``error``; or not scored yet), and ``not_needed`` for an entry scored without a high-severity flag.
- ``final_score``: the judge's override, else the pipeline's score; None when disqualified.
- order, in tiers (:data:`TIERS`): entries that may win (``not_needed``, ``accepted`` or ``overridden`` with a
  final score) by final score; then entries waiting for review by score; then errors (no score to rank by);
  then disqualified entries. Within a tier: final score descending (none last), then arrival order.
- ``rank``: the place among the entries that may win (1..k), None for the others: what may be published.
  ``provisional_rank``: the place in the whole order (1..n), what judges work through. The results are
  provisional while an entry waits for a judge (:func:`waiting`).
"""
from __future__ import annotations

from typing import Callable, Generic, Iterable, NamedTuple, TypeVar

from .types import Review

FINAL_STATUSES: tuple[str, ...] = ("not_needed", "pending", "accepted", "overridden", "disqualified")
TIERS: tuple[str, ...] = ("may_win", "pending", "error", "disqualified")

T = TypeVar("T")


def final_status(status: str, review: Review | None) -> str:
    """``status``: the pipeline's (``scored | needs_review | error``, anything else counts as not scored)."""
    if review is not None:
        return {"accept": "accepted", "override": "overridden", "disqualify": "disqualified"}[review.decision]
    return "not_needed" if status == "scored" else "pending"


def final_score(score: float | None, review: Review | None) -> float | None:
    """The score that counts: the judge's override, None when disqualified, else the pipeline's score."""
    if review is not None:
        if review.decision == "override":
            return review.score_override
        if review.decision == "disqualify":
            return None
    return score


def tier(status: str, score: float | None, review: Review | None) -> int:
    """Index in :data:`TIERS` of an entry with pipeline ``status`` and ``score`` and the latest ``review``."""
    fs = final_status(status, review)
    if fs == "disqualified":
        return 3
    if fs in ("not_needed", "accepted", "overridden") and final_score(score, review) is not None:
        return 0
    if fs == "pending" and status == "needs_review":
        return 1
    return 2


def sort_key(status: str, score: float | None, review: Review | None, seq: int) -> tuple:
    fscore = final_score(score, review)
    return (tier(status, score, review), fscore is None, -(fscore or 0.0), seq)


def ranked(items: Iterable[T], key: Callable[[T], tuple[str, float | None, Review | None, int]]) -> list[tuple[int, T]]:
    """``items`` in ranking order with their rank from 1; ``key(item)`` gives (pipeline status, pipeline
    score, latest review or None, arrival order)."""
    keyed = [(sort_key(*key(it)), it) for it in items]
    keyed.sort(key=lambda x: x[0])
    return [(i + 1, it) for i, (_, it) in enumerate(keyed)]


class Place(NamedTuple, Generic[T]):
    """An item's place: ``provisional_rank`` in the whole order (from 1), ``rank`` among the entries that may
    win (from 1; None outside that tier) and its ``tier`` (a name of :data:`TIERS`)."""

    provisional_rank: int
    rank: int | None
    tier: str
    item: T


def places(items: Iterable[T], key: Callable[[T], tuple[str, float | None, Review | None, int]]) -> list[Place[T]]:
    """``items`` in ranking order with their places (:class:`Place`); ``key`` as for :func:`ranked`."""
    keyed = [(sort_key(*key(it)), it) for it in items]
    keyed.sort(key=lambda x: x[0])
    out: list[Place[T]] = []
    for i, (k, it) in enumerate(keyed):
        out.append(Place(i + 1, i + 1 if k[0] == 0 else None, TIERS[k[0]], it))
    return out


def waiting(final_status_: str) -> bool:
    """Whether an entry with this final status waits for a judge (which makes the results provisional)."""
    return final_status_ == "pending"
