"""Values passed between stages.

Every stage takes and returns these frozen dataclasses; no ad-hoc dicts cross a module boundary.
Each value that is stored in the workspace has ``to_dict``/``from_dict`` so that the storage format is
plain JSON and stays readable with ``sqlite3`` alone.

Coordinates: boxes are ``xyxy`` in pixels of the *oriented* (EXIF rotation applied) full-size photo,
with (0, 0) at the top-left corner. ``image_size`` is ``(width, height)`` of that oriented photo.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Role = Literal["before", "after"]
ROLES: tuple[str, ...] = ("before", "after")
Severity = Literal["high", "medium", "low", "info"]
SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
Status = Literal["scored", "needs_review", "error"]


# --------------------------------------------------------------------------------------------- words
class Worded:
    """A finding whose words (English, Vietnamese) are rendered from its ``code`` and ``params`` where it is
    shown (:meth:`_render`), unless it holds words given as they are (``text``)."""

    code: str
    params: dict[str, Any]
    text: tuple[str, str] | None

    def _render(self) -> tuple[str, str]:
        raise NotImplementedError

    def words(self) -> tuple[str, str]:
        return self.text if self.text is not None else self._render()

    @property
    def message(self) -> str:
        return self.words()[0]

    @property
    def message_vi(self) -> str:
        return self.words()[1]


# --------------------------------------------------------------------------------------------- ingest
@dataclass(frozen=True)
class Problem(Worded):
    """Something wrong with an entry or a photo. Recorded, shown, never fatal for the batch.

    ``code`` is UPPER_SNAKE_CASE and stable (e.g. ``PHOTO_TRUNCATED``); ``params``: the facts behind it (plain
    JSON values; ``case`` tells apart the situations one code covers); ``path`` is the photo's path relative
    to the batch folder when the problem concerns one photo. Like :class:`Flag`, the words are not stored:
    :attr:`message` and :attr:`message_vi` render ``code`` and ``params`` (:mod:`pipeline.problemtext`)
    where the problem is shown. ``text`` holds words given as they are: by :meth:`worded`, or read from a
    workspace written before problems carried parameters.
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    text: tuple[str, str] | None = None

    @classmethod
    def worded(cls, code: str, message: str, path: str | None = None, message_vi: str = "") -> "Problem":
        """A problem with fixed words (no parameters)."""
        return cls(code, {}, path, (message, message_vi))

    def _render(self) -> tuple[str, str]:
        from .problemtext import render  # the words are looked up only where a problem is shown

        return render(self.code, self.params)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: facts only (words too for a problem with fixed words)."""
        d: dict[str, Any] = {"code": self.code, "params": dict(self.params), "path": self.path}
        if self.text is not None:
            d["message"], d["message_vi"] = self.text
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        text = (d["message"], d.get("message_vi", "")) if "message" in d else None
        return cls(code=d["code"], params=dict(d.get("params") or {}), path=d.get("path"), text=text)


@dataclass(frozen=True)
class PhotoRef:
    """One photo of an entry as the input names it (not yet read).

    ``path`` is absolute and guaranteed to lie inside the batch folder; ``rel_path`` is relative to
    the batch folder with forward slashes. ``taken_at``/``lat``/``lon`` come from a manifest, when given,
    and override nothing: EXIF values are kept separately in :class:`PhotoMeta`.
    """

    entry_id: str
    role: Role
    path: Path
    rel_path: str
    taken_at: str | None = None
    lat: float | None = None
    lon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhotoRef":
        return cls(entry_id=d["entry_id"], role=d["role"], path=Path(d["path"]), rel_path=d["rel_path"],
                   taken_at=d.get("taken_at"), lat=d.get("lat"), lon=d.get("lon"))


@dataclass(frozen=True)
class Location:
    lat: float | None = None
    lon: float | None = None
    address: str | None = None


@dataclass(frozen=True)
class Reported:
    """What the entrant reported: number of participants and kilograms collected."""

    participants: int | None = None
    kg: float | None = None


@dataclass(frozen=True)
class Submission:
    """One contest entry: its metadata, its photos and the problems found while reading it."""

    entry_id: str
    photos: tuple[PhotoRef, ...] = ()
    participant: str | None = None
    team: str | None = None
    kind: str | None = None  # individual | collective
    event_date: str | None = None
    submitted_at: str | None = None  # when the entrant submitted the entry (ISO 8601), when the input says
    location: Location = field(default_factory=Location)
    reported: Reported = field(default_factory=Reported)
    problems: tuple[Problem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "participant": self.participant,
            "team": self.team,
            "kind": self.kind,
            "event_date": self.event_date,
            "submitted_at": self.submitted_at,
            "location": asdict(self.location),
            "reported": asdict(self.reported),
            "photos": [p.to_dict() for p in self.photos],
            "problems": [p.to_dict() for p in self.problems],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Submission":
        return cls(
            entry_id=d["entry_id"],
            participant=d.get("participant"),
            team=d.get("team"),
            kind=d.get("kind"),
            event_date=d.get("event_date"),
            submitted_at=d.get("submitted_at"),
            location=Location(**(d.get("location") or {})),
            reported=Reported(**(d.get("reported") or {})),
            photos=tuple(PhotoRef.from_dict(p) for p in d.get("photos", [])),
            problems=tuple(Problem.from_dict(p) for p in d.get("problems", [])),
        )


# ----------------------------------------------------------------------------------------------- load
@dataclass(frozen=True)
class PhotoMeta:
    """What is known about a photo's file, independent of any analysis.

    ``width``/``height``: the oriented full-size photo in pixels. ``taken_at``: EXIF DateTimeOriginal as
    ISO 8601 without time zone (``2024-06-02T07:31:05``) or None. ``gps``: (lat, lon) in decimal degrees.
    """

    sha256: str
    size_bytes: int
    format: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    exif_orientation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhotoMeta":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True, eq=False)
class LoadedPhoto:
    """A photo decoded once for analysis.

    ``image``: HxWx3 uint8 RGB, EXIF orientation applied, longest side at most the configured
    analysis size. ``scale``: analysis pixels per full-size pixel (<= 1), so a box in full-size pixels
    is ``box * scale`` in ``image`` pixels.
    """

    meta: PhotoMeta
    image: np.ndarray
    scale: float


# ----------------------------------------------------------------------------------------------- hash
@dataclass(frozen=True)
class PhotoHashes:
    """Perceptual hashes of one photo. 64-bit hashes are Python ints; PDQ is 32 bytes (256 bits).

    ``*_variants`` hold the hashes of the 8 dihedral transforms (rotations by 0/90/180/270 degrees, then
    the same mirrored), index 0 being the photo as it is.
    """

    sha256: str
    phash: int
    dhash: int
    pdq: bytes | None = None
    pdq_quality: int | None = None
    phash_variants: tuple[int, ...] = ()
    pdq_variants: tuple[bytes, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "phash": f"{self.phash:016x}",
            "dhash": f"{self.dhash:016x}",
            "pdq": self.pdq.hex() if self.pdq is not None else None,
            "pdq_quality": self.pdq_quality,
            "phash_variants": [f"{v:016x}" for v in self.phash_variants],
            "pdq_variants": [v.hex() for v in self.pdq_variants],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhotoHashes":
        return cls(
            sha256=d["sha256"],
            phash=int(d["phash"], 16),
            dhash=int(d["dhash"], 16),
            pdq=bytes.fromhex(d["pdq"]) if d.get("pdq") else None,
            pdq_quality=d.get("pdq_quality"),
            phash_variants=tuple(int(v, 16) for v in d.get("phash_variants", [])),
            pdq_variants=tuple(bytes.fromhex(v) for v in d.get("pdq_variants", [])),
        )


MatchKind = Literal["exact", "same_image", "mirrored_rotated", "cropped", "straightened", "screenshot", "captioned",
                    "filtered", "overlaid", "collage", "screen_photo", "same_spot"]  # same_spot: the same place moments apart, NOT a copy


REGION_DIGITS = 3  # decimals of a stored region's fractions (0.1 % of a side)


def clean_region(value: Any) -> tuple[float, float, float, float] | None:
    """A matched region (:class:`DuplicateMatch`): four fractions in [0, 1] with x0 < x1 and y0 < y1,
    rounded to ``REGION_DIGITS``; None for anything else (missing, malformed, degenerate)."""
    try:
        box = tuple(round(float(v), REGION_DIGITS) for v in value)
    except (TypeError, ValueError):
        return None
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return box  # type: ignore[return-value]


@dataclass(frozen=True)
class DuplicateMatch:
    """``photo`` (a photo of this batch) matches ``other`` (any photo in the workspace).

    ``first_seen`` is ``"other"`` when the other photo entered the workspace first, else ``"this"``.
    ``distance`` is the Hamming distance of the hash named by ``hash_name`` (0 for exact bytes).
    """

    photo_sha256: str
    other_sha256: str
    kind: MatchKind
    distance: int
    hash_name: str
    first_seen: Literal["this", "other"]
    #: where the two photos match (issue 22), as fractions (x0, y0, x1, y1) of each oriented full photo:
    #: ``region`` in ``photo_sha256``, ``other_region`` in ``other_sha256``; None when not known (a match
    #: stored before regions were, a signature-only match, a box that could not be mapped)
    region: tuple[float, ...] | None = None
    other_region: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON values; the regions only when known (a match without them reads as it always did)."""
        d = asdict(self)
        for k in ("region", "other_region"):
            if d[k] is None:
                del d[k]
            else:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DuplicateMatch":
        """From :meth:`to_dict`; a region that is not four fractions in order reads as None."""
        return cls(**{**d, "region": clean_region(d.get("region")), "other_region": clean_region(d.get("other_region"))})


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos (by sha256) that are copies of one another, with the pairwise matches that joined them."""

    group_id: int
    members: tuple[str, ...]
    matches: tuple[DuplicateMatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"group_id": self.group_id, "members": list(self.members),
                "matches": [m.to_dict() for m in self.matches]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DuplicateGroup":
        return cls(group_id=d["group_id"], members=tuple(d["members"]),
                   matches=tuple(DuplicateMatch.from_dict(m) for m in d.get("matches", [])))


# --------------------------------------------------------------------------------------------- detect
@dataclass(frozen=True, eq=False)
class Detections:
    """Litter detections in one photo (after the supervision library's ``Detections``).

    ``xyxy``: float32 (N, 4) in pixels of the oriented full-size photo; ``confidence``: float32 (N,) in
    [0, 1]; ``class_id``: int32 (N,) indexing ``class_names``. ``model_id`` names the model that produced
    them (``<registry name>@<sha256[:12] of weights>``).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_names: tuple[str, ...]
    model_id: str
    image_size: tuple[int, int]  # (width, height) of the oriented full-size photo
    # the operating threshold in [0, 1]: detections below it are weaker *candidates*, kept for the
    # litter-change rule only (pipeline.verify.change); everything shown or counted uses :meth:`items`
    operating: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "confidence", np.asarray(self.confidence, dtype=np.float32).reshape(-1))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, dtype=np.int32).reshape(-1))
        n = len(self.xyxy)
        if len(self.confidence) != n or len(self.class_id) != n:
            raise ValueError("xyxy, confidence and class_id must have the same length")

    def __len__(self) -> int:
        return len(self.xyxy)

    def above(self, min_confidence: float) -> "Detections":
        """The detections with confidence >= ``min_confidence``."""
        keep = self.confidence >= min_confidence
        return Detections(self.xyxy[keep], self.confidence[keep], self.class_id[keep], self.class_names,
                          self.model_id, self.image_size, self.operating)

    def items(self) -> "Detections":
        """The litter items: detections at or above the operating threshold (what is shown and counted)."""
        return self.above(self.operating) if self.operating > 0 else self

    def to_dict(self) -> dict[str, Any]:
        return {
            "xyxy": np.round(self.xyxy, 2).tolist(),
            "confidence": np.round(self.confidence, 4).tolist(),
            "class_id": self.class_id.tolist(),
            "class_names": list(self.class_names),
            "model_id": self.model_id,
            "image_size": list(self.image_size),
            "operating": self.operating,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Detections":
        return cls(np.array(d["xyxy"], dtype=np.float32).reshape(-1, 4), np.array(d["confidence"]),
                   np.array(d["class_id"]), tuple(d["class_names"]), d["model_id"], tuple(d["image_size"]),
                   float(d.get("operating", 0.0)))


# --------------------------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class SceneMatch:
    """Same-place check of one before/after pair.

    ``homography``: 3x3 row-major mapping before-photo full-size pixels to after-photo full-size pixels,
    or None when no model could be fitted. ``inliers``: RANSAC inlier count; ``inlier_ratio`` in [0, 1].
    ``overlap``: fraction of the before photo visible in the after photo, in [0, 1].
    """

    before_sha256: str
    after_sha256: str
    same_place: bool
    inliers: int
    matches: int
    inlier_ratio: float
    overlap: float = 0.0
    homography: tuple[float, ...] | None = None
    method: str = "orb+ransac"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["homography"] = list(self.homography) if self.homography is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SceneMatch":
        h = d.get("homography")
        return cls(**{**d, "homography": tuple(h) if h is not None else None})


@dataclass(frozen=True)
class LitterChange:
    """Litter counted across one aligned before/after pair (see :func:`pipeline.verify.change.litter_change`).
    Counts are of items in the ground both photos show; weights and shares are in [0, 1] per item."""

    before_sha256: str
    after_sha256: str
    before_count: int
    removed: int
    remaining: int
    new: int
    area_before: float  # fraction of the ground seen in both photos covered by litter, before
    area_after: float
    still_visible: int = 0  # of ``remaining``: items the detector missed in the after photo but whose
    #                         spot still looks the same there (appearance check)
    # litter-change rule 3 (verify-3): before candidates down to DetectConfig.candidate_confidence, each
    # weighted by min(1, confidence / operating threshold); 0.0 in results of older versions
    before_weight: float = 0.0  # sum of the weights of the before candidates (and of items missed before)
    removed_weight: float = 0.0  # sum of the weights of those judged removed
    removed_area_share: float = 0.0  # the same share weighted by each item's area too, in [0, 1]
    missed_before: int = 0  # after items the detector missed in the before photo whose spot looked the same

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LitterChange":
        return cls(**d)


# ---------------------------------------------------------------------------------------------- score
@dataclass(frozen=True)
class Flag(Worded):
    """A finding a judge should see: a stable ``code`` (README table), its severity, the facts behind it
    (``params``: plain JSON values) and the photos (rel_paths) it concerns.

    The words are not stored: :attr:`message` and :attr:`message_vi` render ``code`` and ``params``
    (:mod:`pipeline.flagtext`) where the flag is shown. ``text`` holds words given as they are: by
    :meth:`worded`, or read from a workspace written before flags carried parameters."""

    code: str
    severity: Severity
    params: dict[str, Any] = field(default_factory=dict)
    photos: tuple[str, ...] = ()
    text: tuple[str, str] | None = None

    @classmethod
    def worded(cls, code: str, severity: Severity, message: str, message_vi: str = "",
               photos: tuple[str, ...] = ()) -> "Flag":
        """A flag with fixed words (no parameters)."""
        return cls(code, severity, {}, tuple(photos), (message, message_vi))

    def _render(self) -> tuple[str, str]:
        from .flagtext import render  # the words are looked up only where a flag is shown

        return render(self.code, self.params)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: facts only (words too for a flag that has no parameters but fixed words)."""
        d: dict[str, Any] = {"code": self.code, "severity": self.severity, "params": dict(self.params),
                             "photos": list(self.photos)}
        if self.text is not None:
            d["message"], d["message_vi"] = self.text
        return d

    def shown(self) -> dict[str, Any]:
        """The form people read (export): code, severity, the words in both languages, photos."""
        en, vi = self.words()
        return {"code": self.code, "severity": self.severity, "message": en, "message_vi": vi,
                "photos": list(self.photos)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Flag":
        text = (d["message"], d.get("message_vi", "")) if "message" in d else None
        return cls(code=d["code"], severity=d["severity"], params=dict(d.get("params") or {}),
                   photos=tuple(d.get("photos", ())), text=text)


@dataclass(frozen=True)
class ScoreCard:
    """The pipeline's judgement of one entry: 0-100 score (None when it cannot be scored), its parts,
    flags, and the facts its plain-language explanation cites. The explanation's words are rendered where
    they are shown (:func:`pipeline.score.explain.card_words`); ``explanation``/``explanation_vi`` hold
    words given as they are (a card stored before cards carried facts), "" otherwise."""

    entry_id: str
    score: float | None
    status: Status
    components: dict[str, float]
    flags: tuple[Flag, ...]
    model_id: str
    config_hash: str
    explanation: str = ""
    explanation_vi: str = ""
    facts: dict[str, Any] | None = None  # the numbers the explanation cites (pipeline.score.explain.ScoreFacts)
    inputs: dict[str, Any] | None = None  # keys of the stored results it was made from (stage -> key)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: with ``facts``, the explanation's words are not stored but rendered where the card
        is shown, like the flags' words."""
        d = {
            "entry_id": self.entry_id,
            "score": self.score,
            "status": self.status,
            "components": dict(self.components),
            "flags": [f.to_dict() for f in self.flags],
            "model_id": self.model_id,
            "config_hash": self.config_hash,
        }
        if self.inputs is not None:
            d["inputs"] = dict(self.inputs)
        if self.facts is not None:
            d["facts"] = dict(self.facts)
        else:
            d["explanation"], d["explanation_vi"] = self.explanation, self.explanation_vi
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScoreCard":
        """The stored card as it is: nothing is rendered."""
        flags = tuple(Flag.from_dict(f) for f in d["flags"])
        facts = d.get("facts")
        en, vi = d.get("explanation", ""), d.get("explanation_vi", "")
        return cls(entry_id=d["entry_id"], score=d["score"], status=d["status"],
                   components=dict(d["components"]), flags=flags, model_id=d["model_id"],
                   config_hash=d["config_hash"], explanation=en, explanation_vi=vi, facts=facts,
                   inputs=d.get("inputs"))


# -------------------------------------------------------------------------------------------- storage
@dataclass(frozen=True)
class EntryPhoto:
    """One photo of an entry as the workspace stores it (:meth:`pipeline.store.Workspace.entry_photos`):
    ``sha256`` is None when the file could not be read at all; ``error``: why the photo cannot be used."""

    rel_path: str
    role: str
    sha256: str | None
    error: Problem | None = None


@dataclass(frozen=True)
class RankingFacts:
    """What the ranking needs of one entry, decoded once from the stored entry and score card
    (:meth:`pipeline.store.Workspace.ranking_facts`). ``scored``: a score card is stored; ``flags``:
    the card's flags (empty when it has none or they cannot be read)."""

    entry_id: str
    seq: int  # arrival order, from 1
    participant: str | None
    team: str | None
    scored: bool
    score: float | None
    status: str | None
    flags: tuple[Flag, ...] = ()


# --------------------------------------------------------------------------------------------- review
@dataclass(frozen=True)
class Review:
    """A judge's decision on an entry. ``version`` increases by one per decision on that entry."""

    entry_id: str
    judge: str
    decision: Literal["accept", "override", "disqualify"]
    score_override: float | None
    reason: str
    version: int
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """A review app account (``password_hash``: argon2id, PHC string)."""

    username: str
    role: str
    password_hash: str


# ----------------------------------------------------------------------------------------- intake API
@dataclass(frozen=True)
class ApiToken:
    """A bearer token of the intake API, as stored: its name and times (ISO 8601 UTC), never the token."""

    name: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IntakePhoto:
    """A photo an entry received through the intake API. ``name``: its path as the entry shows it
    (``ENTRY_ID/ROLE/FILE``, the client's file name reduced to a safe base name, never used as a path);
    ``size_bytes``: the file's size; ``generation``: the post that added it."""

    name: str
    role: Role
    sha256: str
    size_bytes: int
    generation: int = 1


@dataclass(frozen=True)
class IntakeEntry:
    """An entry in the intake API's queue. ``fields``: the validated ``entry`` part (entry.json's fields);
    ``state``: queued | processing | done; ``generation``: 1 at the first post, +1 at each replacement or
    photo addition; ``done_generation``: the last generation scored; ``photos``: its current photos."""

    entry_id: str
    token_name: str
    fields: dict[str, Any]
    post_fingerprint: str
    generation: int
    state: str
    done_generation: int
    rescan: bool
    received_at: str
    updated_at: str
    photos: tuple[IntakePhoto, ...] = ()
