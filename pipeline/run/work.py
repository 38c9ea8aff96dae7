"""The pure per-entry work of pass 1: what an executor runs, anywhere (this process, a pool, Ray).

:func:`execute_entry` takes an :class:`EntryTask` (what the plan found missing for one entry) and returns an
:class:`EntryOutcome` (facts: decoded metadata, thumbnail bytes, the result of each photo stage of the
registry that was asked for (:data:`pipeline.stages.PHOTO_STAGES`: hashes, quality, detections), the entry's
verification). It reads the entry's photo files itself (the batch folder is shared storage) and never
touches a workspace: the runner's single writer commits the outcome. Both are plain picklable values.

The detector is loaded once per process (:func:`pipeline.detect.process.process_detector`) and reused for
every entry that process handles: one detector per worker.
"""
from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..load import PhotoError, load_photo, make_thumbnail, read_photo
from ..stages import PHOTO_STAGES
from ..types import Detections, LoadedPhoto, PhotoMeta, PhotoRef, Problem
from ..verify.entry import EntryVerification, verify_entry

#: the photo stage whose results the entry's verification reads
VERIFY_READS = "detect"
#: what a photo may need besides its stage results: its metadata (always decoded) and its thumbnail
EVERYTHING = frozenset({"meta", "thumb", *(s.name for s in PHOTO_STAGES)})


@dataclass(frozen=True)
class PhotoTask:
    """One photo of an entry that must be decoded. ``sha256``: what the plan read; ``need``: what to compute
    (photo stage names, ``thumb``, ``meta``; empty when the photo is decoded only for the entry's
    verification); ``detections``: the stored ones, when ``detect`` is not needed."""

    ref: PhotoRef
    sha256: str
    need: frozenset[str] = frozenset()
    detections: Detections | None = None


@dataclass(frozen=True)
class EntryTask:
    entry_id: str
    batch_root: str
    photos: tuple[PhotoTask, ...]
    verify: bool  # compute the entry's verification


@dataclass(frozen=True)
class PhotoOutcome:
    """What was found for one photo. ``problem``: it could not be read or decoded (the rest is None);
    ``results``: the photo stages' results computed now, by stage name (those asked for)."""

    rel_path: str
    sha256: str | None
    problem: Problem | None = None
    meta: PhotoMeta | None = None
    thumb: bytes | None = None
    results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryOutcome:
    entry_id: str
    photos: tuple[PhotoOutcome, ...] = ()
    verification: EntryVerification | None = None
    usable: tuple[tuple[str, str, str], ...] = ()  # (rel_path, role, sha256) the verification used
    decoded: int = 0
    error: str | None = None  # the work failed (message); what the outcome holds is still valid


def execute_entry(task: EntryTask, cfg: Config) -> EntryOutcome:
    """Decode each photo of ``task`` once, run each photo stage it needs (a stage runs once on all the
    entry's photos that need it); then, if asked, verify the entry with every usable photo's detections.
    Never raises for a photo: failures become problems; an unexpected error ends the work with ``error``
    set."""
    loaded: dict[str, LoadedPhoto] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    wanted: dict[str, list[tuple[str, str]]] = {s.name: [] for s in PHOTO_STAGES}  # stage -> (rel_path, sha)
    known: dict[str, Any] = {}  # sha -> detections, for the verification
    decoded = 0
    try:
        for pt in task.photos:
            ref = pt.ref
            out: dict[str, Any] = {"rel_path": ref.rel_path, "sha256": pt.sha256, "results": {}}
            outcomes[ref.rel_path] = out
            try:  # read again: the file may have changed since the plan, or this is another machine
                data = read_photo(ref.path, cfg.load, batch_root=task.batch_root, rel_path=ref.rel_path)
            except PhotoError as e:
                out.update(sha256=None, problem=e.problem)
                continue
            sha = out["sha256"] = hashlib.sha256(data).hexdigest()
            try:
                if sha not in loaded:
                    loaded[sha] = load_photo(data, cfg.load, sha256=sha, rel_path=ref.rel_path)
                    decoded += 1
            except PhotoError as e:
                out["problem"] = e.problem
                continue
            photo = loaded[sha]
            same = sha == pt.sha256
            need = pt.need if same else EVERYTHING
            out["meta"] = photo.meta  # always: the commit records the photo's first sighting
            if "thumb" in need:
                out["thumb"] = make_thumbnail(photo.image, cfg.load.thumb_max_side)
            if same and pt.detections is not None:
                known.setdefault(sha, pt.detections)
            for s in PHOTO_STAGES:
                if s.name in need or (s.name == VERIFY_READS and not (same and pt.detections is not None)):
                    wanted[s.name].append((ref.rel_path, sha))
        for s in PHOTO_STAGES:
            shas = list(dict.fromkeys(sha for _, sha in wanted[s.name]))
            if not shas:
                continue
            found = dict(zip(shas, s.compute([loaded[x] for x in shas], cfg)))
            for rel, sha in wanted[s.name]:
                outcomes[rel]["results"][s.name] = found[sha]
            if s.name == VERIFY_READS:
                known.update(found)
        verification, usable = None, ()
        if task.verify:
            items, usable_l = [], []
            for pt in task.photos:
                out = outcomes[pt.ref.rel_path]
                sha = out["sha256"]
                if out.get("problem") is None and sha in loaded:
                    usable_l.append((pt.ref.rel_path, pt.ref.role, sha))
                    if sha in known:
                        items.append((pt.ref, loaded[sha], known[sha]))
            verification = verify_entry(items, cfg.verify)
            usable = tuple(usable_l)
        return EntryOutcome(task.entry_id, tuple(PhotoOutcome(**o) for o in outcomes.values()), verification,
                            usable, decoded)
    except Exception:  # one entry must never stop the batch: what was computed so far is kept
        return EntryOutcome(task.entry_id, tuple(PhotoOutcome(**o) for o in outcomes.values()), None, (),
                            decoded, error=traceback.format_exc(limit=8))
