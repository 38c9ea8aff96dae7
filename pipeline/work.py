"""The pure per-entry work of a run: what an executor runs, anywhere (this process, a pool, Ray).

:func:`execute_entry` takes an :class:`EntryTask` (what the plan found missing for one entry) and returns an
:class:`EntryOutcome` (facts: decoded metadata, hashes, quality, thumbnail bytes, detections, the entry's
verification). It reads the entry's photo files itself (the batch folder is shared storage) and never
touches a workspace: the runner's single writer commits the outcome. Both are plain picklable values.

The detector is loaded once per process (:func:`process_detector`) and reused for every entry that process
handles: one detector per worker.
"""
from __future__ import annotations

import hashlib
import os
import traceback
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .config import Config, DetectConfig
from .dedup.hashing import DedupHashes, compute_hashes
from .load import PhotoError, load_photo, make_thumbnail, read_photo
from .types import Detections, LoadedPhoto, PhotoMeta, PhotoRef, Problem
from .verify.entry import EntryVerification, verify_entry
from .verify.quality import PhotoQuality, measure_quality


@dataclass(frozen=True)
class PhotoTask:
    """One photo of an entry that must be decoded. ``sha256``: what the plan read; ``need``: the results to
    compute (``meta``, ``hash``, ``quality``, ``thumb``, ``detect``; empty when the photo is decoded only for
    the entry's verification); ``detections``: the stored ones, when ``detect`` is not needed."""

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
    fields left None were not asked for."""

    rel_path: str
    sha256: str | None
    problem: Problem | None = None
    meta: PhotoMeta | None = None
    hashes: DedupHashes | None = None
    quality: PhotoQuality | None = None
    thumb: bytes | None = None
    detections: Detections | None = None  # computed now


@dataclass(frozen=True)
class EntryOutcome:
    entry_id: str
    photos: tuple[PhotoOutcome, ...] = ()
    verification: EntryVerification | None = None
    usable: tuple[tuple[str, str, str], ...] = ()  # (rel_path, role, sha256) the verification used
    decoded: int = 0
    error: str | None = None  # the work failed (message); what the outcome holds is still valid


_detectors: dict[Any, Any] = {}
_threads: int = 0  # threads this process may use (0: one per core); set by a pool's initializer


def set_process_threads(threads: int) -> None:
    """Threads this process may use for OpenCV, and for torch when ``DetectConfig.torch_threads`` is 0 (a
    pool worker gets cores / workers)."""
    global _threads
    _threads = threads
    if threads > 0:
        import cv2  # already imported by the verify stage

        cv2.setNumThreads(threads)


def process_detector(cfg: DetectConfig) -> Any:
    """The detector of ``cfg`` in this process, loaded on first use (torch and ultralytics are imported
    here, on purpose: a run that needs no detection never imports them)."""
    from .detect.infer import load_detector

    key = cfg
    if key not in _detectors:
        _detectors[key] = load_detector(replace(cfg, torch_threads=cfg.torch_threads or _threads))
    return _detectors[key]


def warm_detector(cfg: DetectConfig, _item: Any = None) -> int:
    """Load this process's detector and run it once on a blank photo (imports, weights, the first forward
    pass's set-up); returns the process id. ``fn(shared, item)`` of the executors: a benchmark starts every
    worker with it before its clock, as it loads the plain detector before timing that
    (scripts/bench_pipeline.py)."""
    process_detector(cfg).detect_arrays([np.zeros((cfg.imgsz, cfg.imgsz, 3), np.uint8)])
    return os.getpid()


def execute_entry(task: EntryTask, cfg: Config) -> EntryOutcome:
    """Decode each photo of ``task`` once and compute what it needs; then, if asked, verify the entry with
    every usable photo's detections. Never raises for a photo: failures become problems; an unexpected
    error ends the work with ``error`` set."""
    loaded: dict[str, LoadedPhoto] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    dets: dict[str, Detections] = {}
    to_detect: list[str] = []
    decoded = 0
    try:
        for pt in task.photos:
            ref = pt.ref
            out: dict[str, Any] = {"rel_path": ref.rel_path, "sha256": pt.sha256}
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
            need = pt.need if sha == pt.sha256 else frozenset({"meta", "hash", "quality", "thumb", "detect"})
            out["meta"] = photo.meta  # always: the commit records the photo's first sighting
            if "hash" in need:
                out["hashes"] = compute_hashes(photo.image, sha, with_pdq=cfg.dedup.use_pdq)
            if "quality" in need:
                out["quality"] = measure_quality(photo.image)
            if "thumb" in need:
                out["thumb"] = make_thumbnail(photo.image, cfg.load.thumb_max_side)
            if "detect" in need or pt.detections is None or sha != pt.sha256:
                if sha not in to_detect and sha not in dets:
                    to_detect.append(sha)
            else:
                dets[sha] = pt.detections
        if to_detect:
            found = dict(zip(to_detect, process_detector(cfg.detect).detect([loaded[s] for s in to_detect])))
            dets.update(found)
            for out in outcomes.values():
                if out.get("problem") is None and out["sha256"] in found:
                    out["detections"] = found[out["sha256"]]
        verification, usable = None, ()
        if task.verify:
            items, usable_l = [], []
            for pt in task.photos:
                out = outcomes[pt.ref.rel_path]
                sha = out["sha256"]
                if out.get("problem") is None and sha in loaded:
                    usable_l.append((pt.ref.rel_path, pt.ref.role, sha))
                    if sha in dets:
                        items.append((pt.ref, loaded[sha], dets[sha]))
            verification = verify_entry(items, cfg.verify)
            usable = tuple(usable_l)
        return EntryOutcome(task.entry_id, tuple(PhotoOutcome(**o) for o in outcomes.values()), verification,
                            usable, decoded)
    except Exception:  # one entry must never stop the batch: what was computed so far is kept
        return EntryOutcome(task.entry_id, tuple(PhotoOutcome(**o) for o in outcomes.values()), None, (),
                            decoded, error=traceback.format_exc(limit=8))
