"""Verify one entry: pair its photos by place, then count the litter change of each same-place pair."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import VerifyConfig, section_digest
from ..digests import digest
from ..types import Detections, LitterChange, LoadedPhoto, PhotoRef, SceneMatch
from .change import litter_change
from .pairing import pair_photos
from .sameplace import unchanged

STAGE_VERSION = "verify-3"  # 2: appearance check of items missed after; 3: weighted candidates, missed before


def config_key(cfg: VerifyConfig, load_key: str) -> str:
    """The part of the verify key that is the same for every entry of a run: [verify] and the load key."""
    return digest(section_digest(cfg), load_key)


def cache_key(config: str, model_id: str, usable: list[tuple[str, str, str]]) -> str:
    """Key of an entry's stored verification: this stage's version, :func:`config_key`, the detector and
    the entry's usable photos ``(rel_path, role, sha256)`` (sorted here)."""
    return digest(STAGE_VERSION, config, model_id, sorted(usable))


@dataclass(frozen=True)
class VerifiedPair:
    """One before/after pair of the assignment. ``before``/``after`` are rel_paths; ``change`` is None
    when the pair is not the same place or a photo has no detections; ``unchanged`` is True when the after
    photo is the before photo again (see :func:`pipeline.verify.sameplace.unchanged`)."""

    before: str
    after: str
    match: SceneMatch
    change: LitterChange | None = None
    unchanged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "match": self.match.to_dict(),
                "change": self.change.to_dict() if self.change is not None else None,
                "unchanged": self.unchanged}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VerifiedPair":
        return cls(before=d["before"], after=d["after"], match=SceneMatch.from_dict(d["match"]),
                   change=LitterChange.from_dict(d["change"]) if d.get("change") else None,
                   unchanged=bool(d.get("unchanged", False)))


@dataclass(frozen=True)
class EntryVerification:
    """The verify stage's result for one entry (stored as the entry result ``verify``).

    ``pairs``: the one-to-one assignment of before to after photos, strongest first (pairs that are not
    the same place are the best candidates found); ``unpaired_before``/``unpaired_after``: rel_paths of
    usable photos without a same-place partner.
    """

    pairs: tuple[VerifiedPair, ...] = ()
    unpaired_before: tuple[str, ...] = ()
    unpaired_after: tuple[str, ...] = ()
    stage_version: str = field(default=STAGE_VERSION)

    @property
    def same_place_pairs(self) -> tuple[VerifiedPair, ...]:
        return tuple(p for p in self.pairs if p.match.same_place)

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": [p.to_dict() for p in self.pairs], "unpaired_before": list(self.unpaired_before),
                "unpaired_after": list(self.unpaired_after), "stage_version": self.stage_version}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EntryVerification":
        return cls(pairs=tuple(VerifiedPair.from_dict(p) for p in d.get("pairs", [])),
                   unpaired_before=tuple(d.get("unpaired_before", [])),
                   unpaired_after=tuple(d.get("unpaired_after", [])),
                   stage_version=d.get("stage_version", STAGE_VERSION))


def verify_entry(photos: list[tuple[PhotoRef, LoadedPhoto, Detections | None]], cfg: VerifyConfig,
                 ) -> EntryVerification:
    """Pair the entry's usable photos by place and count the litter change of each same-place pair.

    ``photos``: every usable photo of one entry (unreadable ones left out) with its detections down to the
    candidates (``Detections.operating`` is the operating threshold; None when detection failed: the pair
    is then matched but not counted).
    Features are computed once per photo.
    """
    return count_changes(photos, pair_entry([(r, p) for r, p, _ in photos], cfg), cfg)


def pair_entry(photos: list[tuple[PhotoRef, LoadedPhoto]], cfg: VerifyConfig):
    """The same-place assignment of the entry's before and after photos (pipeline.verify.pairing), the
    costly half of :func:`verify_entry`; it does not depend on the detections."""
    before = [p for r, p in photos if r.role == "before"]
    after = [p for r, p in photos if r.role == "after"]
    return pair_photos(before, after, cfg)


def count_changes(photos: list[tuple[PhotoRef, LoadedPhoto, Detections | None]], pairing,
                  cfg: VerifyConfig) -> EntryVerification:
    """The litter change of each pair of ``pairing`` (from :func:`pair_entry` over the same photos)."""
    before = [(r, p, d) for r, p, d in photos if r.role == "before"]
    after = [(r, p, d) for r, p, d in photos if r.role == "after"]
    fb, fa = pairing.before_features, pairing.after_features
    pairs = []
    for i, j, match in pairing.pairs:
        (rb, pb, db), (ra, pa, da) = before[i], after[j]
        change = (litter_change(match, db, da, cfg, pb, pa, operating=db.operating)
                  if db is not None and da is not None else None)
        pairs.append(VerifiedPair(rb.rel_path, ra.rel_path, match, change, unchanged(fb[i], fa[j], match, cfg)))
    return EntryVerification(tuple(pairs), tuple(before[i][0].rel_path for i in pairing.unpaired_before),
                             tuple(after[j][0].rel_path for j in pairing.unpaired_after))
