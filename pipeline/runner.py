"""Run a batch through every stage into a workspace, resumably.

Three passes:

1. **per entry**: read each photo's bytes once -> sha256 -> (only if some result is missing) decode once
   -> hashes (indexed workspace-wide), photo quality, thumbnail, litter detections (batched per entry)
   -> same-place verification and litter change for the entry's before/after pairs;
2. **match**: every photo of the batch against the workspace's hash index -> duplicate flags per entry;
3. **score**: each entry's score card from the stored results.

Every result is stored as soon as it exists, keyed by content (photo sha256, stage version, model id,
config section hash), so a killed run resumes where it stopped and a rerun of a finished batch decodes
nothing. Entries are processed in id order and photos in path order, so the export does not depend on
where a run was interrupted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Config
from .ingest import Batch, ingest
from .runguard import is_disk_full
from .types import Detections, LoadedPhoto, PhotoRef, Problem, Submission
from .workspace import Workspace, atomic_write_bytes

log = logging.getLogger("cleanup_verify")



@dataclass
class RunSummary:
    run_id: int
    batch: str
    entries: int = 0
    photos: int = 0
    photos_decoded: int = 0
    photos_failed: int = 0
    photos_matched: int = 0  # photos queried against the hash index in this run (dedup.store)
    entries_scored: int = 0
    entries_needs_review: int = 0
    entries_error: int = 0
    batch_problems: list[Problem] = field(default_factory=list)
    elapsed_s: float = 0.0
    model_id: str = ""
    config_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "batch": self.batch, "entries": self.entries, "photos": self.photos,
            "photos_decoded": self.photos_decoded, "photos_failed": self.photos_failed,
            "photos_matched": self.photos_matched,
            "entries_scored": self.entries_scored, "entries_needs_review": self.entries_needs_review,
            "entries_error": self.entries_error, "elapsed_s": round(self.elapsed_s, 2),
            "batch_problems": [p.to_dict() for p in self.batch_problems],
            "model_id": self.model_id, "config_hash": self.config_hash,
        }


class _Progress:
    """Photos done of total, rate and time left (tqdm), or nothing when quiet."""

    def __init__(self, total: int, quiet: bool, desc: str = "photos"):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="photo", desc=desc, file=sys.stderr, mininterval=0.5,
                            dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Runner:
    """Holds what one run shares across entries: workspace, config, detector (loaded lazily)."""

    def __init__(self, ws: Workspace, cfg: Config):
        from .dedup import hashing
        from .detect import infer, registry

        self.ws = ws
        self.cfg = cfg
        self.model = registry.resolve_model(cfg.detect.model)
        self.model_id = self.model.model_id
        self._detector: Any = None
        from .load import STAGE_VERSION as LOAD_STAGE_VERSION

        self.load_key = _digest(LOAD_STAGE_VERSION, cfg.section_hash("load"))
        self.hash_key = (hashing.STAGE_VERSION, _digest(self.load_key, f"pdq={cfg.dedup.use_pdq}"))
        self.detect_key = (infer.STAGE_VERSION, _digest(self.load_key, cfg.section_hash("detect")))
        self.quality_key = ("1", self.load_key)
        self.verify_config = _digest(cfg.section_hash("verify"), self.load_key)

    @property
    def detector(self) -> Any:
        if self._detector is None:
            from .detect.infer import load_detector

            log.info("loading detector %s", self.model_id)
            self._detector = load_detector(self.cfg.detect)
        return self._detector

    # ------------------------------------------------------------------------------------ pass 1
    def process_entry(self, sub: Submission, batch_root: Path, summary: RunSummary, progress: _Progress) -> None:
        from .dedup import index
        from .load import PhotoError, load_photo, make_thumbnail, read_photo
        from .dedup.hashing import DedupHashes
        from .verify.entry import STAGE_VERSION as VERIFY_VERSION
        from .verify.entry import verify_entry
        from .verify.quality import measure_quality

        ws, cfg = self.ws, self.cfg
        readable: list[tuple[PhotoRef, str, bytes]] = []
        for ref in sub.photos:
            try:
                data = read_photo(ref.path, cfg.load, batch_root=batch_root, rel_path=ref.rel_path)
            except PhotoError as e:
                ws.set_entry_photo(sub.entry_id, ref.rel_path, None, e.problem)
                summary.photos_failed += 1
                progress.update()
                log.warning("%s: %s: %s", sub.entry_id, ref.rel_path, e.problem.message)
                continue
            readable.append((ref, hashlib.sha256(data).hexdigest(), data))

        # Which photos could be used, as far as earlier runs know, and is the entry's verification stored?
        known_error = {sha: ws.get_result(sha, "load_error", "1", self.load_key)
                       for _, sha, _ in readable}
        usable_keys = sorted((r.rel_path, r.role, sha) for r, sha, _ in readable if not known_error[sha])
        verify_key = _digest(VERIFY_VERSION, self.verify_config, self.model_id, usable_keys)
        need_verify = ws.get_entry_result(sub.entry_id, "verify", verify_key) is None

        loaded: dict[str, LoadedPhoto] = {}
        dets: dict[str, Detections] = {}
        to_detect: list[str] = []
        for ref, sha, data in readable:
            if known_error[sha]:
                ws.set_entry_photo(sub.entry_id, ref.rel_path, sha,
                                  replace(Problem.from_dict(known_error[sha]), path=ref.rel_path))
                summary.photos_failed += 1
                progress.update()
                continue
            hashes = ws.get_result(sha, "hash", *self.hash_key)
            quality = ws.get_result(sha, "quality", *self.quality_key)
            det = ws.get_result(sha, "detect", *self.detect_key, model_id=self.model_id)
            complete = (hashes is not None and quality is not None and det is not None
                        and ws.photo_meta(sha) is not None and ws.thumb_path(sha).exists())
            if complete and not need_verify:
                index.add(ws, DedupHashes.from_dict(hashes))  # idempotent: a killed run may have missed it
                ws.set_entry_photo(sub.entry_id, ref.rel_path, sha, None)
                progress.update()
                continue
            if sha not in loaded:
                try:
                    photo = load_photo(data, cfg.load, sha256=sha, rel_path=ref.rel_path)
                except PhotoError as e:
                    ws.put_result(sha, "load_error", "1", self.load_key, e.problem.to_dict())
                    ws.set_entry_photo(sub.entry_id, ref.rel_path, sha, e.problem)
                    summary.photos_failed += 1
                    progress.update()
                    log.warning("%s: %s: %s", sub.entry_id, ref.rel_path, e.problem.message)
                    continue
                summary.photos_decoded += 1
                loaded[sha] = photo
            photo = loaded[sha]
            ws.put_photo(photo.meta, sub.entry_id, ref.rel_path)
            if hashes is None:
                from .dedup.hashing import compute_hashes

                h = compute_hashes(photo.image, sha, with_pdq=cfg.dedup.use_pdq)
                ws.put_result(sha, "hash", *self.hash_key, h.to_dict())
            else:
                h = DedupHashes.from_dict(hashes)
            index.add(ws, h)
            if quality is None:
                ws.put_result(sha, "quality", *self.quality_key, measure_quality(photo.image).to_dict())
            if not ws.thumb_path(sha).exists():
                atomic_write_bytes(ws.thumb_path(sha), make_thumbnail(photo.image, cfg.load.thumb_max_side))
            if det is None:
                if sha not in to_detect:
                    to_detect.append(sha)
            else:
                dets[sha] = Detections.from_dict(det)
            ws.set_entry_photo(sub.entry_id, ref.rel_path, sha, None)
            progress.update()

        if to_detect:
            for sha, d in zip(to_detect, self.detector.detect([loaded[s] for s in to_detect])):
                ws.put_result(sha, "detect", *self.detect_key, d.to_dict(), model_id=self.model_id)
                dets[sha] = d

        if need_verify:
            items = [(ref, loaded[sha], dets[sha]) for ref, sha, _ in readable if sha in loaded and sha in dets]
            result = verify_entry(items, cfg.verify)
            # Key by the photos that turned out usable, as the next run will compute it up front.
            usable_keys = sorted((r.rel_path, r.role, sha) for r, sha, _ in readable if sha in loaded)
            verify_key = _digest(VERIFY_VERSION, self.verify_config, self.model_id, usable_keys)
            ws.put_entry_result(sub.entry_id, "verify", verify_key, result.to_dict())

    # ------------------------------------------------------------------------------------ pass 3
    def score_entry(self, entry_id: str, dup_flags: list[Any]) -> Any:
        from .score import PhotoInfo, ScoreInputs, score_entry
        from .verify.entry import EntryVerification
        from .verify.quality import PhotoQuality

        ws = self.ws
        sub = ws.submission(entry_id)
        assert sub is not None
        photos: dict[str, PhotoInfo] = {}
        for p in ws.entry_photos(entry_id):
            sha = p["sha256"]
            det = q = meta = None
            if sha and p["error"] is None:
                meta = ws.photo_meta(sha)
                d = ws.get_result(sha, "detect", *self.detect_key, model_id=self.model_id)
                det = Detections.from_dict(d) if d else None
                qd = ws.get_result(sha, "quality", *self.quality_key)
                q = PhotoQuality.from_dict(qd) if qd else None
            photos[p["rel_path"]] = PhotoInfo(role=p["role"], sha256=sha, meta=meta, problem=p["error"],
                                              detections=det, quality=q)
        vd = ws.get_entry_result(entry_id, "verify")
        verification = EntryVerification.from_dict(vd) if vd else None
        inputs = ScoreInputs(submission=sub, photos=photos, verification=verification,
                             extra_flags=list(dup_flags), model_id=self.model_id, config=self.cfg)
        card = score_entry(inputs)
        ws.put_entry_result(entry_id, "score", _digest(self.cfg.hash, self.model_id), card.to_dict())
        return card


def _match_new_photos(ws: Workspace, batch: Batch, cfg: Config, summary: RunSummary, quiet: bool) -> None:
    """Pass 2: query every photo of the batch not yet matched (under this [dedup] configuration) against the
    whole hash index and store the matches (pipeline.dedup.store), before any entry's flags are made, so
    that the flags do not depend on the order of the entries. A rerun queries nothing."""
    from .dedup.store import query_new, unqueried

    shas = [p["sha256"] for sub in batch.submissions for p in ws.entry_photos(sub.entry_id) if p["sha256"]]
    todo = unqueried(ws, shas, cfg.dedup)
    if not todo:
        return
    log.info("matching %d new photos against the hash index of the workspace", len(todo))
    bar = _Progress(len(todo), quiet, desc="matching")
    try:
        summary.photos_matched = query_new(ws, todo, cfg.dedup, progress=bar.update)
    except Exception as e:  # matching failed: flags will query what is missing, entry by entry
        if is_disk_full(e):
            raise
        log.exception("matching photos against the hash index failed")
    finally:
        bar.close()


def run_batch(batch_path: str | Path, ws: Workspace, cfg: Config | None = None, *, quiet: bool = False,
              batch: Batch | None = None) -> RunSummary:
    """Process a batch (folder or manifest file) into workspace ``ws``; returns what was done.

    Per-entry and per-photo problems are recorded, never raised. Raises only when the run itself cannot
    proceed (batch not found, model missing, workspace unwritable).
    """
    from .dedup.flags import duplicate_flags

    cfg = cfg or Config()
    t0 = time.perf_counter()
    batch = batch or ingest(batch_path)
    batch_name = str(batch.root)
    runner = Runner(ws, cfg)
    run_id = ws.start_run(batch_name, json.dumps(cfg.to_dict(), sort_keys=True), cfg.hash)
    handler = _attach_log(ws, run_id)
    summary = RunSummary(run_id=run_id, batch=batch_name, entries=len(batch.submissions),
                         photos=batch.photo_count, batch_problems=list(batch.problems),
                         model_id=runner.model_id, config_hash=cfg.hash)
    try:
        log.info("run %d: batch %s (%s form): %d entries, %d photos; model %s; config %s", run_id, batch_name,
                 batch.form, summary.entries, summary.photos, runner.model_id, cfg.hash)
        for p in batch.problems:
            log.warning("batch: %s: %s", p.code, p.message)
        for sub in batch.submissions:
            ws.put_submission(sub, batch_name)
            for p in sub.problems:
                log.warning("%s: %s: %s", sub.entry_id, p.code, p.message)
        progress = _Progress(summary.photos, quiet)
        try:
            for sub in batch.submissions:
                try:
                    runner.process_entry(sub, batch.root, summary, progress)
                except Exception as e:  # one entry must never stop the batch; a full disk stops the run
                    if is_disk_full(e):
                        raise
                    log.exception("%s: processing failed; the entry will be scored from what is stored",
                                  sub.entry_id)
        finally:
            progress.close()
        _match_new_photos(ws, batch, cfg, summary, quiet)
        for sub in batch.submissions:
            try:
                card = runner.score_entry(sub.entry_id, duplicate_flags(ws, sub.entry_id, cfg.dedup))
            except Exception as e:
                if is_disk_full(e):
                    raise
                log.exception("%s: scoring failed", sub.entry_id)
                summary.entries_error += 1
                continue
            if card.status == "scored":
                summary.entries_scored += 1
            elif card.status == "needs_review":
                summary.entries_needs_review += 1
            else:
                summary.entries_error += 1
        summary.elapsed_s = time.perf_counter() - t0
        ws.finish_run(run_id, "finished", summary.to_dict())
        log.info("run %d finished in %.1f s: %d scored, %d need review, %d errors, %d photos unusable",
                 run_id, summary.elapsed_s, summary.entries_scored, summary.entries_needs_review,
                 summary.entries_error, summary.photos_failed)
        return summary
    except BaseException:
        summary.elapsed_s = time.perf_counter() - t0
        try:
            ws.finish_run(run_id, "failed", summary.to_dict())
        except Exception:
            pass
        raise
    finally:
        log.removeHandler(handler)
        handler.close()


def _attach_log(ws: Workspace, run_id: int) -> logging.Handler:
    handler = logging.FileHandler(ws.root / "logs" / f"run-{run_id:05d}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler
