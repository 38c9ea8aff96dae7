"""Flags of one entry from the reused-photo matches: DUPLICATE_PHOTO, PHOTO_COPIED_BY_LATER,
SAME_SPOT_PHOTO and UNCHANGED_AFTER.

The runner, after every photo of the batch was hashed, indexed and matched (pipeline.dedup.query)::

    facts = gather(ws, entry_id, cfg.dedup)       # plan: read the facts (reads only)
    result = dedup_result(facts, cfg.dedup)       # execute: pure
    store_result(ws, result, cfg.dedup)           # commit: entry result "dedup" (the writer)

The flags carry facts (entry, photos, kind, distance, which came
first and why, and where known the matched region of each photo: ``region`` in this entry's photo,
``other_region`` in the other one, fractions x0, y0, x1, y1 of each oriented photo); their words are
rendered where they are shown (:mod:`pipeline.flagtext`).

A photo of this entry that is a copy (any kind) of a photo used by ANOTHER entry of the workspace (this
batch or any earlier one) gives, per (photo, other entry's photo) pair, depending on which entry had it
first (:func:`pipeline.dedup.order.precedence`: earlier round, then capture time, then submission time):

* ``PHOTO_COPIED_BY_LATER`` (info) when this entry had it first: it names the later entry; this entry keeps
  its evidence (no DUPLICATE_PHOTO, so its score is not cut);
* ``DUPLICATE_PHOTO`` (high) when the other entry had it first (``other_first`` true) or when no order can
  be shown (``other_first`` None: both entries need review).

* ``SAME_SPOT_PHOTO`` (medium): a photo of this entry and a photo of ANOTHER entry show the same spot
  moments apart (the local features align, but something in the picture changed: frames of a fixed
  camera, or the same clean-up photographed by two entries). Not a copy; worth a judge's look. The
  message names both entries and both photos. Never raised between photos of one entry (a before and an
  after of one clean-up are the same spot by design).
* ``UNCHANGED_AFTER`` (high): a before photo and an after photo of THIS entry are the same image (exact
  bytes, re-encoded or resized, mirrored or rotated, or with a filter) with signatures differing by at most
  ``cfg.unchanged_max_difference``: stricter than a duplicate, because a true before/after pair of one
  place looks alike except where the litter was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..config import DedupConfig
from ..digests import short_hash
from ..score.flag_codes import make_flag
from ..types import DuplicateMatch, Flag
from ..store import Workspace
from .hashing import STAGE_VERSION
from .order import Arrival, Precedence, precedence
from .query import stored_matches

DUPLICATE_PHOTO = "DUPLICATE_PHOTO"
PHOTO_COPIED_BY_LATER = "PHOTO_COPIED_BY_LATER"
UNCHANGED_AFTER = "UNCHANGED_AFTER"
SAME_SPOT_PHOTO = "SAME_SPOT_PHOTO"
STAGE = "dedup"

UNCHANGED_KINDS = ("exact", "same_image", "mirrored_rotated", "filtered")  # filtered: the before photo with a filter


@dataclass(frozen=True)
class PhotoUse:
    """One use of a photo by an entry."""

    entry_id: str
    rel_path: str
    role: str


@dataclass(frozen=True)
class DedupResult:
    """What the dedup stage found for one entry: the matches of its photos and the flags raised."""

    entry_id: str
    matches: tuple[DuplicateMatch, ...]
    flags: tuple[Flag, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "matches": [m.to_dict() for m in self.matches],
                "flags": [f.to_dict() for f in self.flags]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DedupResult":
        return cls(d["entry_id"], tuple(DuplicateMatch.from_dict(m) for m in d["matches"]),
                   tuple(Flag.from_dict(f) for f in d["flags"]))


def _regions(m: DuplicateMatch, mine_sha: str) -> dict[str, list[float]]:
    """The matched region of ``m`` in this entry's photo (``region``) and in the other photo
    (``other_region``), fractions x0, y0, x1, y1 of each (pipeline.dedup.matched_part); only those known."""
    mine, other = (m.region, m.other_region) if m.photo_sha256 == mine_sha else (m.other_region, m.region)
    return {k: list(v) for k, v in (("region", mine), ("other_region", other)) if v is not None}


def _duplicate_flag(mine: PhotoUse, other: PhotoUse, m: DuplicateMatch, order: Precedence, sha: str) -> Flag:
    return make_flag(DUPLICATE_PHOTO, (mine.rel_path,), photo=mine.rel_path, role=mine.role,
                     other_entry=other.entry_id, other_photo=other.rel_path, other_role=other.role, kind=m.kind,
                     hash_name=m.hash_name, distance=m.distance, other_first=True if order.sign > 0 else None,
                     basis=order.basis, **_regions(m, sha))


def _copied_flag(mine: PhotoUse, later: PhotoUse, m: DuplicateMatch, order: Precedence, sha: str) -> Flag:
    return make_flag(PHOTO_COPIED_BY_LATER, (mine.rel_path,), photo=mine.rel_path, role=mine.role,
                     later_entry=later.entry_id, later_photo=later.rel_path, later_role=later.role, kind=m.kind,
                     hash_name=m.hash_name, distance=m.distance, basis=order.basis, **_regions(m, sha))


def _same_spot_flag(mine: PhotoUse, other: PhotoUse) -> Flag:
    return make_flag(SAME_SPOT_PHOTO, (mine.rel_path,), entry=mine.entry_id, photo=mine.rel_path, role=mine.role,
                     other_entry=other.entry_id, other_photo=other.rel_path, other_role=other.role)


def _unchanged_flag(before: PhotoUse, after: PhotoUse, m: DuplicateMatch) -> Flag:
    return make_flag(UNCHANGED_AFTER, (before.rel_path, after.rel_path), before=before.rel_path,
                     after=after.rel_path, kind=m.kind, hash_name=m.hash_name, distance=m.distance)


@dataclass(frozen=True)
class DedupFacts:
    """Everything the flags of one entry depend on, read from the workspace once (plain values).

    ``mine``: the entry's photo uses per sha256; ``matches``/``diffs``: its stored matches (one per pair)
    and their signature differences; ``uses``: every use of every photo involved, in arrival order;
    ``arrivals``: when each of those uses arrived, by (entry_id, rel_path) (round, capture and submission
    times: :class:`pipeline.dedup.order.Arrival`; a use missing here has no known time)."""

    entry_id: str
    mine: dict[str, tuple[PhotoUse, ...]]
    matches: tuple[DuplicateMatch, ...]
    diffs: dict[tuple[str, str], float]
    uses: dict[str, tuple[PhotoUse, ...]]
    arrivals: dict[tuple[str, str], Arrival] = field(default_factory=dict)


def entry_matches(ws: Workspace, entry_id: str, cfg: DedupConfig) -> tuple[list[DuplicateMatch], dict]:
    """Matches of the entry's photos against the whole workspace index as :mod:`pipeline.dedup.query` stored
    them, and the signature differences (reads only: photos not yet queried have none)."""
    shas = [p.sha256 for p in ws.entry_photos(entry_id) if p.sha256]
    uses = {s: len(ws.entries_with_photo(s)) for s in dict.fromkeys(shas)}
    return stored_matches(ws, shas, cfg, uses)


def gather(ws: Workspace, entry_id: str, cfg: DedupConfig) -> DedupFacts:
    """The facts of one entry's dedup flags, from the workspace (reads only; the entry's photos must have
    been queried first: :func:`pipeline.dedup.query.query_new`)."""
    matches, diffs = entry_matches(ws, entry_id, cfg)
    mine: dict[str, list[PhotoUse]] = {}
    for u in ws.entry_photos(entry_id):
        if u.sha256:
            mine.setdefault(u.sha256, []).append(PhotoUse(entry_id, u.rel_path, u.role))
    involved = set(mine) | {s for m in matches for s in (m.photo_sha256, m.other_sha256)}
    uses = {s: tuple(PhotoUse(*u) for u in ws.entries_with_photo(s)) for s in involved}
    return DedupFacts(entry_id, {s: tuple(v) for s, v in mine.items()}, tuple(matches), dict(diffs), uses,
                      _arrivals(ws, uses))


def _arrivals(ws: Workspace, uses: dict[str, tuple[PhotoUse, ...]]) -> dict[tuple[str, str], Arrival]:
    """When each use arrived: its round, the photo's capture time (EXIF, else the input's ``taken_at``) and
    the entry's submission time."""
    out: dict[tuple[str, str], Arrival] = {}
    subs: dict[str, Any] = {}
    for sha, us in uses.items():
        meta = ws.photo_meta(sha)
        for u in us:
            if u.entry_id not in subs:
                subs[u.entry_id] = ws.submission(u.entry_id)
            sub = subs[u.entry_id]
            ref = next((p for p in sub.photos if p.rel_path == u.rel_path), None) if sub else None
            out[(u.entry_id, u.rel_path)] = Arrival(
                round=ws.arrival_round(u.entry_id, sha),
                taken_at=(meta.taken_at if meta else None) or (ref.taken_at if ref else None),
                submitted_at=sub.submitted_at if sub else None)
    return out


def dedup_result(facts: DedupFacts, cfg: DedupConfig) -> DedupResult:
    """DUPLICATE_PHOTO, PHOTO_COPIED_BY_LATER, SAME_SPOT_PHOTO and UNCHANGED_AFTER flags of one entry (module
    docstring) from its facts: pure. Photos that were never added to the index are ignored."""
    entry_id = facts.entry_id
    flags: list[Flag] = []
    seen: set[tuple] = set()
    for m in facts.matches:
        # orient the match: `a` is this entry's photo
        for a, b in ((m.photo_sha256, m.other_sha256), (m.other_sha256, m.photo_sha256)):
            if a not in facts.mine:
                continue
            for mine in facts.mine[a]:
                for other in facts.uses.get(b, ()):
                    if other.entry_id == entry_id and other.rel_path == mine.rel_path:
                        continue
                    if m.kind == "same_spot":
                        if other.entry_id == entry_id:
                            continue  # before and after of one clean-up: the same spot by design
                        key = (SAME_SPOT_PHOTO, mine.rel_path, other.entry_id, other.rel_path)
                        if key not in seen:
                            seen.add(key)
                            flags.append(_same_spot_flag(mine, other))
                        continue
                    if other.entry_id != entry_id:
                        key = (DUPLICATE_PHOTO, mine.rel_path, other.entry_id, other.rel_path)
                        if key in seen:
                            continue
                        seen.add(key)
                        order = precedence(facts.arrivals.get((mine.entry_id, mine.rel_path), Arrival()),
                                           facts.arrivals.get((other.entry_id, other.rel_path), Arrival()))
                        flags.append(_copied_flag(mine, other, m, order, a) if order.sign < 0
                                     else _duplicate_flag(mine, other, m, order, a))
                    elif {mine.role, other.role} == {"before", "after"} and m.kind in UNCHANGED_KINDS \
                            and facts.diffs.get((a, b), 0.0) <= cfg.unchanged_max_difference:
                        before, after = (mine, other) if mine.role == "before" else (other, mine)
                        key = (UNCHANGED_AFTER, before.rel_path, after.rel_path)
                        if key in seen:
                            continue
                        seen.add(key)
                        flags.append(_unchanged_flag(before, after, m))
            if a == b:
                break
    return DedupResult(entry_id, facts.matches, tuple(flags))


def store_result(ws: Workspace, result: DedupResult, cfg: DedupConfig) -> None:
    """Store an entry's dedup result (entry result ``"dedup"``) for reports and exports."""
    ws.put_entry_result(result.entry_id, STAGE, result_key(result, cfg), result.to_dict())


def result_key(result: DedupResult, cfg: DedupConfig) -> str:
    """The input key of an entry's stored dedup result: the hash version, ``[dedup]`` and its matches."""
    matches = list(result.matches)
    blob = json.dumps({"v": STAGE_VERSION, "cfg": cfg.__dict__, "m": sorted(json.dumps(x.to_dict(), sort_keys=True)
                                                                              for x in matches)}, sort_keys=True)
    return short_hash(blob)


def stored_result(ws: Workspace, entry_id: str) -> DedupResult | None:
    """The dedup result last stored for an entry by :func:`store_result`, or None."""
    d = ws.get_entry_result(entry_id, STAGE)
    return DedupResult.from_dict(d) if d else None
