"""Which of two entries sharing a photo had it first: a pure decision over facts.

The rule (docs/design.md, "A photo shared by two entries"), in this order:

1. **round**: the use that arrived in an earlier round of the workspace had it first. A round is a batch
   folder; its rank is the first run of that batch (a resumed or repeated run of the same batch is the
   same round, so an interrupted run gives the flags of an uninterrupted one);
2. within one round (or when a round is unknown), the earlier **capture time** of the photo: its EXIF
   time, else the manifest's ``taken_at`` for that photo;
3. then the earlier **submission time** of the entry (manifest column / entry.json field ``submitted_at``).

A step decides only when both sides have a value and the values differ; otherwise the next step is tried.
When no step decides, no order can be shown (both entries stay ``needs_review``). The decision is
antisymmetric (``precedence(a, b).sign == -precedence(b, a).sign``) and depends on nothing but the two
:class:`Arrival` values, never on the order in which entries were processed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..times import parse_time

BASES = ("round", "taken_at", "submitted_at")


@dataclass(frozen=True)
class Arrival:
    """When an entry had one photo. ``round``: rank of the round the use arrived in (lower is earlier;
    None when unknown); ``taken_at``: the photo's capture time (EXIF, else the manifest's), ISO 8601;
    ``submitted_at``: the entry's submission time, ISO 8601. Plain values."""

    round: int | None = None
    taken_at: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class Precedence:
    """``sign`` < 0: the first use had the photo first; > 0: the second did; 0: no order can be shown.
    ``basis``: the step that decided (``round``, ``taken_at``, ``submitted_at``), None when none did."""

    sign: int
    basis: str | None = None


def _cmp(a: Any, b: Any) -> int:
    if a is None or b is None or a == b:
        return 0
    return -1 if a < b else 1


def precedence(a: Arrival, b: Arrival) -> Precedence:
    """Which of two uses of a shared photo (or of a photo and its copy) came first (see the module)."""
    steps = (("round", a.round, b.round),
             ("taken_at", parse_time(a.taken_at), parse_time(b.taken_at)),
             ("submitted_at", parse_time(a.submitted_at), parse_time(b.submitted_at)))
    for basis, x, y in steps:
        sign = _cmp(x, y)
        if sign:
            return Precedence(sign, basis)
    return Precedence(0, None)
