"""What the demo checks on each story of the bundled sample, as facts (the demo command words them).

For every entry of a :class:`pipeline.demo.SampleBatch`, given its export record:

- ``raised``: each flag the story must raise (with or without a working detector) is there;
- ``not_raised``: none of the flags the story must not raise is there;
- ``photo_error``: each broken photo of the story is listed with its problem code, and the entry is still
  scored from its other photos;
- ``below``: clean-ups that removed less score lower (full > partial > none).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Entries whose scores must come out in this order (each one below the one before).
CLEANUP_ORDER = ("01-full-cleanup", "02-partial-cleanup", "03-no-cleanup")


@dataclass(frozen=True)
class Check:
    kind: str  # raised | not_raised | photo_error | below
    subject: tuple[str, ...]  # flag codes; (path, code) for photo_error; (other entry,) for below
    ok: bool


@dataclass(frozen=True)
class StoryCheck:
    entry_id: str
    story: str
    checks: tuple[Check, ...]
    record: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


def check_stories(sample: Any, records: list[dict[str, Any]]) -> list[StoryCheck]:
    by_id = {r["entry_id"]: r for r in records}
    out = []
    for e in sample.entry_ids:
        r = by_id.get(e, {"flags": [], "problems": [], "score": None, "status": "error"})
        got = {f["code"] for f in r["flags"]}
        checks: list[Check] = []
        need = sorted(sample.expected_flags.get(e, set()) | sample.expected_with_detector.get(e, set()))
        if need:
            checks.append(Check("raised", tuple(need), set(need) <= got))
        forbid = sorted(sample.forbidden_flags.get(e, set()) | sample.forbidden_with_detector.get(e, set()))
        if forbid:
            checks.append(Check("not_raised", tuple(forbid), not (set(forbid) & got)))
        listed = {(p.get("path"), p["code"]) for p in r.get("problems", [])}
        for path, code in sorted(sample.bad_photos.items()):
            if path.split("/", 1)[0] == e:
                checks.append(Check("photo_error", (path, code), (path, code) in listed and r["score"] is not None))
        if e in CLEANUP_ORDER and CLEANUP_ORDER.index(e) > 0:
            better = CLEANUP_ORDER[CLEANUP_ORDER.index(e) - 1]
            other = by_id.get(better, {}).get("score")
            checks.append(Check("below", (better,), r["score"] is not None and other is not None
                                and r["score"] < other))
        out.append(StoryCheck(e, sample.descriptions.get(e, ""), tuple(checks), r))
    return out
