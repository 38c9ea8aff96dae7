"""Entry stage ``score``: an entry's score card (:func:`pipeline.score.score_entry`) from the stored results
of this run's keys (photo metadata, detections, quality, the entry's verification) and the flags of the
entry's earlier stages of the pass (dedup)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..score import PhotoInfo, ScoreInputs, score_entry
from ..score.card import cache_key
from ..store import Workspace
from ..types import ScoreCard
from ..verify.entry import EntryVerification
from . import detect, quality
from .base import EntryStage

if TYPE_CHECKING:
    from ..run.keys import RunKeys

VERIFY = "verify"  # the entry result of pass 1's verification (pipeline.run.work)


def _gather(ws: Workspace, entry_id: str, cfg: Config, keys: "RunKeys") -> ScoreInputs:
    """What the score reads about one entry: its photos with their stored results, its verification (under
    the key of the photos that turned out usable) and its submission; no flags of other stages yet."""
    photos: dict[str, PhotoInfo] = {}
    for p in ws.entry_photos(entry_id):
        sha = p.sha256
        det = q = meta = None
        if sha and p.error is None:
            meta = ws.photo_meta(sha)
            det = detect.STAGE.read(ws, sha, keys)
            q = quality.STAGE.read(ws, sha, keys)
        photos[p.rel_path] = PhotoInfo(role=p.role, sha256=sha, meta=meta, problem=p.error, detections=det,
                                       quality=q)
    usable = [(rel, p.role, p.sha256) for rel, p in photos.items() if p.sha256 and p.problem is None]
    verify_key = keys.verify(usable)
    vd = ws.get_entry_result(entry_id, VERIFY, verify_key)
    sub = ws.submission(entry_id)
    if sub is None:
        raise LookupError(f"entry {entry_id!r} is not in the workspace")
    return ScoreInputs(submission=sub, photos=photos, verification=EntryVerification.from_dict(vd) if vd else None,
                       model_id=keys.model_id, config=cfg,
                       result_keys={"detect": list(keys.photo["detect"]), "quality": list(keys.photo["quality"]),
                                    "verify": verify_key if vd else None})


def _compute(inputs: ScoreInputs, done: dict[str, Any], cfg: Config) -> ScoreCard:
    dedup = done.get("dedup")
    return score_entry(replace(inputs, extra_flags=list(dedup.flags) if dedup is not None else []))


def _key(inputs: ScoreInputs, card: ScoreCard, cfg: Config, keys: "RunKeys") -> str:
    return cache_key(cfg.hash, keys.model_id)


STAGE = EntryStage("score", _gather, _compute, _key, ScoreCard.from_dict)
