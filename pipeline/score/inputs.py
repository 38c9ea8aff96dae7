"""What the score stage reads about one entry (assembled by the runner from stored stage results)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..types import Detections, Flag, PhotoMeta, Problem, Submission
from ..verify.entry import EntryVerification
from ..verify.quality import PhotoQuality


@dataclass(frozen=True, eq=False)
class PhotoInfo:
    """One photo of the entry. ``problem`` is set when the photo is unusable (then the rest may be None);
    ``detections`` at the operating threshold, boxes in full-size pixels. A photo with no problem but
    nothing known about it (no sha256, meta or detections: never processed) is not usable either."""

    role: str  # before | after
    meta: PhotoMeta | None = None
    problem: Problem | None = None
    detections: Detections | None = None
    quality: PhotoQuality | None = None
    sha256: str | None = None

    @property
    def processed(self) -> bool:
        return self.sha256 is not None or self.meta is not None or self.detections is not None

    @property
    def usable(self) -> bool:
        return self.problem is None and self.processed


@dataclass(frozen=True, eq=False)
class ScoreInputs:
    """Everything :func:`pipeline.score.score_entry` needs for one entry.

    ``photos``: keyed by rel_path (as in ``submission.photos``); ``verification``: the verify stage's
    result, None when it could not run; ``extra_flags``: flags raised by other stages (DUPLICATE_PHOTO,
    PHOTO_COPIED_BY_LATER, SAME_SPOT_PHOTO and UNCHANGED_AFTER from dedup), passed through as they are; ``model_id``: the detector that produced the
    detections; ``result_keys``: the keys of the stored results these inputs came from (recorded in the card,
    so that a report shows the very boxes that were scored).
    """

    submission: Submission
    photos: dict[str, PhotoInfo]
    verification: EntryVerification | None
    model_id: str
    config: Config = field(default_factory=Config)
    extra_flags: list[Flag] = field(default_factory=list)
    result_keys: dict[str, Any] = field(default_factory=dict)  # stage -> key of the stored results used
