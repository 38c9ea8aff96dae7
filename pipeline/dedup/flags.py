"""Flags of one entry from the reused-photo matches: DUPLICATE_PHOTO, SAME_SPOT_PHOTO and UNCHANGED_AFTER.

The runner, after every photo of the batch was hashed and added to the index::

    flags = duplicate_flags(ws, entry_id, cfg.dedup)

which also stores the entry's matches and flags as entry result ``"dedup"`` (``DedupResult.to_dict()``)
for reports and exports.

* ``DUPLICATE_PHOTO`` (high): a photo of this entry is a copy (any kind) of a photo used by ANOTHER entry of
  the workspace (this batch or any earlier one). One flag per (photo, other entry's photo) pair; the message
  names the other entry, its photo, the kind of copy and which was seen first.
* ``SAME_SPOT_PHOTO`` (medium): a photo of this entry and a photo of ANOTHER entry show the same spot
  moments apart (the local features align, but something in the picture changed: frames of a fixed
  camera, or the same clean-up photographed by two entries). Not a copy; worth a judge's look. The
  message names both entries and both photos. Never raised between photos of one entry (a before and an
  after of one clean-up are the same spot by design).
* ``UNCHANGED_AFTER`` (high): a before photo and an after photo of THIS entry are the same image (exact
  bytes, re-encoded or resized, mirrored or rotated) with signatures differing by at most
  ``cfg.unchanged_max_difference``: stricter than a duplicate, because a true before/after pair of one
  place looks alike except where the litter was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config import DedupConfig
from ..keys import short_hash
from ..score.flags import make_flag
from ..types import DuplicateMatch, Flag
from ..workspace import Workspace
from .hashing import STAGE_VERSION
from .store import stored_matches

DUPLICATE_PHOTO = "DUPLICATE_PHOTO"
UNCHANGED_AFTER = "UNCHANGED_AFTER"
SAME_SPOT_PHOTO = "SAME_SPOT_PHOTO"
STAGE = "dedup"

UNCHANGED_KINDS = ("exact", "same_image", "mirrored_rotated")


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


def _uses(ws: Workspace, sha: str) -> list[PhotoUse]:
    return [PhotoUse(*u) for u in ws.entries_with_photo(sha)]


def _duplicate_flag(mine: PhotoUse, other: PhotoUse, m: DuplicateMatch, other_first: bool) -> Flag:
    return make_flag(DUPLICATE_PHOTO, (mine.rel_path,), photo=mine.rel_path, role=mine.role,
                     other_entry=other.entry_id, other_photo=other.rel_path, other_role=other.role, kind=m.kind,
                     hash_name=m.hash_name, distance=m.distance, other_first=other_first)


def _same_spot_flag(mine: PhotoUse, other: PhotoUse) -> Flag:
    return make_flag(SAME_SPOT_PHOTO, (mine.rel_path,), entry=mine.entry_id, photo=mine.rel_path, role=mine.role,
                     other_entry=other.entry_id, other_photo=other.rel_path, other_role=other.role)


def _unchanged_flag(before: PhotoUse, after: PhotoUse, m: DuplicateMatch) -> Flag:
    return make_flag(UNCHANGED_AFTER, (before.rel_path, after.rel_path), before=before.rel_path,
                     after=after.rel_path, kind=m.kind, hash_name=m.hash_name, distance=m.distance)


def entry_matches(ws: Workspace, entry_id: str, cfg: DedupConfig) -> tuple[list[DuplicateMatch], dict]:
    """Matches of the entry's photos against the whole workspace index (stored by
    :mod:`pipeline.dedup.store`; photos not yet queried are queried now), and the signature differences."""
    shas = [p["sha256"] for p in ws.entry_photos(entry_id) if p["sha256"]]
    uses = {s: len(ws.entries_with_photo(s)) for s in dict.fromkeys(shas)}
    return stored_matches(ws, shas, cfg, uses)


def duplicate_flags(ws: Workspace, entry_id: str, cfg: DedupConfig) -> list[Flag]:
    """DUPLICATE_PHOTO and UNCHANGED_AFTER flags of one entry (see the module docstring), stored with its
    matches as entry result ``"dedup"``. Photos that were never added to the index are ignored."""
    matches, diffs = entry_matches(ws, entry_id, cfg)
    flags: list[Flag] = []
    seen: set[tuple] = set()
    mine_by_sha: dict[str, list[PhotoUse]] = {}
    for u in ws.entry_photos(entry_id):
        if u["sha256"]:
            mine_by_sha.setdefault(u["sha256"], []).append(PhotoUse(entry_id, u["rel_path"], u["role"]))
    order = {e: i for i, e in enumerate(ws.entry_ids())}
    for m in matches:
        # orient the match: `a` is this entry's photo
        for a, b in ((m.photo_sha256, m.other_sha256), (m.other_sha256, m.photo_sha256)):
            if a not in mine_by_sha:
                continue
            other_uses = _uses(ws, b)
            for mine in mine_by_sha[a]:
                for other in other_uses:
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
                        flags.append(_duplicate_flag(mine, other, m, _other_first(ws, m, a, b, order, other)))
                    elif {mine.role, other.role} == {"before", "after"} and m.kind in UNCHANGED_KINDS \
                            and diffs.get((a, b), 0.0) <= cfg.unchanged_max_difference:
                        before, after = (mine, other) if mine.role == "before" else (other, mine)
                        key = (UNCHANGED_AFTER, before.rel_path, after.rel_path)
                        if key in seen:
                            continue
                        seen.add(key)
                        flags.append(_unchanged_flag(before, after, m))
            if a == b:
                break
    result = DedupResult(entry_id, tuple(matches), tuple(flags))
    ws.put_entry_result(entry_id, STAGE, _input_key(matches, cfg), result.to_dict())
    return flags


def _other_first(ws: Workspace, m: DuplicateMatch, mine_sha: str, other_sha: str, order: dict[str, int],
                 other: PhotoUse) -> bool:
    """Whether the other entry's photo arrived in the workspace before this entry's photo."""
    if mine_sha == other_sha:  # the same file: the entry that arrived first had it first
        first = ws.entries_with_photo(mine_sha)[0][0]
        return first == other.entry_id
    a, b = ws.photo_seq(mine_sha), ws.photo_seq(other_sha)
    if a is None or b is None:
        return m.first_seen == ("other" if m.photo_sha256 == mine_sha else "this")
    return b < a


def _input_key(matches: list[DuplicateMatch], cfg: DedupConfig) -> str:
    blob = json.dumps({"v": STAGE_VERSION, "cfg": cfg.__dict__, "m": sorted(json.dumps(x.to_dict(), sort_keys=True)
                                                                              for x in matches)}, sort_keys=True)
    return short_hash(blob)


def stored_result(ws: Workspace, entry_id: str) -> DedupResult | None:
    """The dedup result last stored for an entry by :func:`duplicate_flags`, or None."""
    d = ws.get_entry_result(entry_id, STAGE)
    return DedupResult.from_dict(d) if d else None
