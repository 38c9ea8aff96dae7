"""Run a batch through every stage into a workspace, resumably: plan, execute, commit.

* **plan** (read-only, this process): per entry, read each photo's bytes once for its sha256 and look up
  which results are stored under this run's keys (:class:`pipeline.keys.RunKeys`; each stage owns its
  version and key);
* **execute** (pure, on an executor: serial, a local process pool, Ray): decode each photo that misses
  something once -> hashes, quality, thumbnail, litter detections (batched per entry) -> the entry's
  same-place verification and litter change (:mod:`pipeline.work`);
* **commit** (this process, the only writer): one transaction per entry, in batch order.

Then pass 2 matches every new photo against the workspace's hash index (the pixel checks on the executor,
one transaction per chunk), and pass 3 scores each entry from the stored results.

Results are keyed by content (photo sha256, stage version, model id, config section hash), so a killed run
resumes where it stopped and a rerun of a finished batch decodes nothing. Entries are committed in id
order and photos in path order whatever executor ran them, so the export does not depend on the executor
or on where a run was interrupted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Config
from .dedup import index as dedup_index
from .dedup.flags import DUPLICATE_PHOTO, DedupResult, dedup_result
from .dedup.flags import gather as gather_dedup
from .dedup.flags import store_result as store_dedup
from .dedup.hashing import DedupHashes
from .dedup.query import query_new, unqueried
from .detect.registry import resolve_model
from .executors import make_executor
from .ingest import Batch, ingest
from .keys import RunKeys
from .load import PhotoError, read_photo
from .runguard import is_disk_full
from .score import PhotoInfo, ScoreInputs, score_entry
from .score.card import cache_key as score_cache_key
from .score.card import with_copy_notes
from .types import Detections, PhotoRef, Problem, Submission
from .verify.entry import EntryVerification
from .verify.quality import PhotoQuality
from .work import EntryOutcome, EntryTask, PhotoTask, execute_entry
from .store import Workspace, atomic_write_bytes

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


@dataclass
class EntryPlan:
    """What the plan found for one entry (read-only): photos that cannot be read now, photos whose load
    error is stored, photos whose every result is stored (``ready``), the stored hashes of its photos (to
    re-add to the index: idempotent, a killed run may have missed it), and the work left (``task``)."""

    sub: Submission
    read_problems: list[tuple[str, Problem]] = field(default_factory=list)
    known_errors: list[tuple[str, str, Problem]] = field(default_factory=list)
    ready: list[tuple[str, str]] = field(default_factory=list)
    stored_hashes: dict[str, DedupHashes] = field(default_factory=dict)
    task: EntryTask | None = None


def plan_entry(ws: Workspace, sub: Submission, batch_root: Path, cfg: Config, keys: RunKeys) -> EntryPlan:
    """Read each photo's bytes once for its sha256 and look up what is stored; writes nothing."""
    plan = EntryPlan(sub)
    readable: list[tuple[PhotoRef, str]] = []
    for ref in sub.photos:
        try:
            data = read_photo(ref.path, cfg.load, batch_root=batch_root, rel_path=ref.rel_path)
        except PhotoError as e:
            plan.read_problems.append((ref.rel_path, e.problem))
            continue
        readable.append((ref, hashlib.sha256(data).hexdigest()))
    known = {sha: ws.get_result(sha, "load_error", *keys.load_error) for _, sha in readable}
    usable = [(r.rel_path, r.role, sha) for r, sha in readable if not known[sha]]
    need_verify = ws.get_entry_result(sub.entry_id, "verify", keys.verify(usable)) is None
    photos: list[PhotoTask] = []
    for ref, sha in readable:
        if known[sha]:
            plan.known_errors.append((ref.rel_path, sha, replace(Problem.from_dict(known[sha]), path=ref.rel_path)))
            continue
        hashes = ws.get_result(sha, "hash", *keys.hash)
        det = ws.get_result(sha, "detect", *keys.detect, model_id=keys.model_id)
        need = set()
        if hashes is None:
            need.add("hash")
        else:
            plan.stored_hashes[sha] = DedupHashes.from_dict(hashes)
        if ws.get_result(sha, "quality", *keys.quality) is None:
            need.add("quality")
        if det is None:
            need.add("detect")
        if ws.photo_meta(sha) is None:
            need.add("meta")
        if not ws.thumb_path(sha).exists():
            need.add("thumb")
        if not need and not need_verify:
            plan.ready.append((ref.rel_path, sha))
        else:
            photos.append(PhotoTask(ref, sha, frozenset(need), Detections.from_dict(det) if det else None))
    if photos or need_verify:
        plan.task = EntryTask(sub.entry_id, str(batch_root), tuple(photos), need_verify)
    return plan


def commit_entry(ws: Workspace, plan: EntryPlan, outcome: EntryOutcome | None, cfg: Config, keys: RunKeys,
                 summary: RunSummary, progress: "_Progress") -> None:
    """Store what the plan and the work found for one entry: thumbnails first (files), then every row in
    one transaction, so that a stored result always has its thumbnail and a killed run loses the entry
    in flight only."""
    entry_id = plan.sub.entry_id
    photos = outcome.photos if outcome is not None else ()
    for po in photos:
        if po.thumb is not None and po.sha256 is not None:
            atomic_write_bytes(ws.thumb_path(po.sha256), po.thumb)
    with ws.transaction():
        for rel, problem in plan.read_problems:
            ws.set_entry_photo(entry_id, rel, None, problem)
            summary.photos_failed += 1
            log.warning("%s: %s: %s", entry_id, rel, problem.message)
        for rel, sha, problem in plan.known_errors:
            ws.set_entry_photo(entry_id, rel, sha, problem, summary.run_id)
            summary.photos_failed += 1
        for rel, sha in plan.ready:
            dedup_index.add(ws, plan.stored_hashes[sha])
            ws.set_entry_photo(entry_id, rel, sha, None, summary.run_id)
        for po in photos:
            if po.problem is not None:
                if po.sha256 is not None:
                    ws.put_result(po.sha256, "load_error", *keys.load_error, po.problem.to_dict())
                ws.set_entry_photo(entry_id, po.rel_path, po.sha256, po.problem, summary.run_id)
                summary.photos_failed += 1
                log.warning("%s: %s: %s", entry_id, po.rel_path, po.problem.message)
                continue
            sha = po.sha256
            if po.meta is not None:
                ws.put_photo(po.meta, entry_id, po.rel_path)
            if po.hashes is not None:
                ws.put_result(sha, "hash", *keys.hash, po.hashes.to_dict())
            h = po.hashes or plan.stored_hashes.get(sha)
            if h is not None:
                dedup_index.add(ws, h)
            if po.quality is not None:
                ws.put_result(sha, "quality", *keys.quality, po.quality.to_dict())
            if po.detections is not None:
                ws.put_result(sha, "detect", *keys.detect, po.detections.to_dict(), model_id=keys.model_id)
            ws.set_entry_photo(entry_id, po.rel_path, sha, None, summary.run_id)
        if outcome is not None and outcome.verification is not None:
            # keyed by the photos that turned out usable, as the next run's plan will compute it
            ws.put_entry_result(entry_id, "verify", keys.verify(list(outcome.usable)),
                                outcome.verification.to_dict())
    if outcome is not None:
        summary.photos_decoded += outcome.decoded
        if outcome.error:
            log.error("%s: processing failed; the entry will be scored from what is stored:\n%s", entry_id,
                      outcome.error)
    progress.update(len(plan.sub.photos))


def _execute(cfg: Config, task: EntryTask) -> EntryOutcome:
    """``fn(shared, item)`` of the executors: the entry's work (module-level, so that it pickles)."""
    return execute_entry(task, cfg)


def score_entry_from_store(ws: Workspace, entry_id: str, dup_flags: list[Any], cfg: Config,
                           keys: RunKeys) -> Any:
    """Pass 3: the entry's score card from its stored results (the results of THIS run's keys)."""
    photos: dict[str, PhotoInfo] = {}
    for p in ws.entry_photos(entry_id):
        sha = p.sha256
        det = q = meta = None
        if sha and p.error is None:
            meta = ws.photo_meta(sha)
            d = ws.get_result(sha, "detect", *keys.detect, model_id=keys.model_id)
            det = Detections.from_dict(d) if d else None
            qd = ws.get_result(sha, "quality", *keys.quality)
            q = PhotoQuality.from_dict(qd) if qd else None
        photos[p.rel_path] = PhotoInfo(role=p.role, sha256=sha, meta=meta, problem=p.error,
                                          detections=det, quality=q)
    usable = [(rel, p.role, p.sha256) for rel, p in photos.items() if p.sha256 and p.problem is None]
    verify_key = keys.verify(usable)
    vd = ws.get_entry_result(entry_id, "verify", verify_key)
    sub = ws.submission(entry_id)
    assert sub is not None
    inputs = ScoreInputs(submission=sub, photos=photos, verification=EntryVerification.from_dict(vd) if vd else None,
                         extra_flags=list(dup_flags), model_id=keys.model_id, config=cfg,
                         result_keys={"detect": list(keys.detect), "quality": list(keys.quality),
                                      "verify": verify_key if vd else None})
    card = score_entry(inputs)
    ws.put_entry_result(entry_id, "score", score_cache_key(cfg.hash, keys.model_id), card.to_dict())
    return card


def earlier_originals(dedup: DedupResult) -> set[str]:
    """The entries that, by the dedup result of one entry, had one of its photos first (pure)."""
    return {f.params["other_entry"] for f in dedup.flags if f.code == DUPLICATE_PHOTO and f.params.get("other_first")}


def _note_copies(ws: Workspace, entry_ids: list[str], cfg: Config) -> None:
    """Entries of earlier batches whose photos this batch's entries copied: their dedup result again, and
    PHOTO_COPIED_BY_LATER (info) added to their stored score card; nothing else of the card changes, and the
    entry is not scored again (its card may come from another configuration or model)."""
    for entry_id in entry_ids:
        try:
            query_new(ws, _entry_shas(ws, entry_id), cfg.dedup)  # photos not matched under this [dedup] yet
            dedup = dedup_result(gather_dedup(ws, entry_id, cfg.dedup), cfg.dedup)
            with ws.transaction():
                store_dedup(ws, dedup, cfg.dedup)
                card = ws.scorecard(entry_id)
                if card is not None:
                    ws.put_entry_result(entry_id, "score", score_cache_key(card.config_hash, card.model_id),
                                        with_copy_notes(card, dedup.flags).to_dict())
        except Exception as e:
            if is_disk_full(e):
                raise
            log.exception("%s: noting the later copies of its photos failed", entry_id)


def _entry_shas(ws: Workspace, entry_id: str) -> list[str]:
    return [p.sha256 for p in ws.entry_photos(entry_id) if p.sha256]


def _match_new_photos(ws: Workspace, batch: Batch, cfg: Config, summary: RunSummary, quiet: bool,
                      executor: Any) -> None:
    """Pass 2: query every photo of the batch not yet matched (under this [dedup] configuration) against the
    whole hash index and store the matches (pipeline.dedup.query), before any entry's flags are made, so
    that the flags do not depend on the order of the entries. A rerun queries nothing."""
    shas = [p.sha256 for sub in batch.submissions for p in ws.entry_photos(sub.entry_id) if p.sha256]
    todo = unqueried(ws, shas, cfg.dedup)
    if not todo:
        return
    log.info("matching %d new photos against the hash index of the workspace", len(todo))
    bar = _Progress(len(todo), quiet, desc="matching")
    try:
        summary.photos_matched = query_new(ws, todo, cfg.dedup, progress=bar.update, executor=executor)
    except Exception as e:  # matching failed: flags will query what is missing, entry by entry
        if is_disk_full(e):
            raise
        log.exception("matching photos against the hash index failed")
    finally:
        bar.close()


def _process_entries(ws: Workspace, batch: Batch, cfg: Config, keys: RunKeys, executor: Any,
                     summary: RunSummary, progress: _Progress) -> None:
    """Pass 1: plan each entry (read-only), run the work on ``executor``, commit each entry in batch order
    (whatever order the work finishes in), so every executor stores the same rows in the same order."""
    planned: deque[EntryPlan] = deque()

    def tasks() -> Iterator[EntryTask]:
        for sub in batch.submissions:
            try:
                plan = plan_entry(ws, sub, batch.root, cfg, keys)
            except Exception as e:  # one entry must never stop the batch; a full disk stops the run
                if is_disk_full(e):
                    raise
                log.exception("%s: planning failed; the entry will be scored from what is stored", sub.entry_id)
                plan = EntryPlan(sub)
            planned.append(plan)
            if plan.task is not None:
                yield plan.task

    def commit(plan: EntryPlan, outcome: EntryOutcome | None) -> None:
        try:
            commit_entry(ws, plan, outcome, cfg, keys, summary, progress)
        except Exception as e:
            if is_disk_full(e):
                raise
            log.exception("%s: storing the results failed; the entry will be scored from what is stored",
                          plan.sub.entry_id)

    for outcome in executor.imap(_execute, tasks(), cfg):
        while planned[0].task is None:
            commit(planned.popleft(), None)
        commit(planned.popleft(), outcome)
    while planned:
        commit(planned.popleft(), None)


def run_batch(batch_path: str | Path, ws: Workspace, cfg: Config | None = None, *, quiet: bool = False,
              batch: Batch | None = None, executor: str | Any = "local", workers: int | None = None,
              ray_address: str | None = None) -> RunSummary:
    """Process a batch (folder or manifest file) into workspace ``ws``; returns what was done.

    ``executor``: ``serial``, ``local`` (a process pool of ``workers`` processes, one per core by default)
    or ``ray`` (``ray_address``: ``auto``, ``HOST:PORT``, or None to start a local Ray for the run), or an
    executor object (:mod:`pipeline.executors`; the caller closes it). Every executor gives the same
    results. Per-entry and per-photo problems are recorded, never raised. Raises only when the run itself
    cannot proceed (batch not found, model missing, workspace unwritable).
    """
    cfg = cfg or Config()
    t0 = time.perf_counter()
    batch = batch or ingest(batch_path)
    batch_name = str(batch.root)
    keys = RunKeys.of(cfg, resolve_model(cfg.detect.model).model_id)
    run_id = ws.start_run(batch_name, json.dumps(cfg.to_dict(), sort_keys=True), cfg.hash)
    handler = _attach_log(ws, run_id)
    summary = RunSummary(run_id=run_id, batch=batch_name, entries=len(batch.submissions),
                         photos=batch.photo_count, batch_problems=list(batch.problems),
                         model_id=keys.model_id, config_hash=cfg.hash)
    own = isinstance(executor, str)
    ex = make_executor(executor, workers=workers, ray_address=ray_address) if own else executor
    try:
        log.info("run %d: batch %s (%s form): %d entries, %d photos; model %s; config %s; executor %s (%d "
                 "workers)", run_id, batch_name, batch.form, summary.entries, summary.photos, keys.model_id,
                 cfg.hash, ex.name, ex.workers)
        for p in batch.problems:
            log.warning("batch: %s: %s", p.code, p.message)
        for sub in batch.submissions:
            ws.put_submission(sub, batch_name)
            for p in sub.problems:
                log.warning("%s: %s: %s", sub.entry_id, p.code, p.message)
        progress = _Progress(summary.photos, quiet)
        try:
            _process_entries(ws, batch, cfg, keys, ex, summary, progress)
        finally:
            progress.close()
        _match_new_photos(ws, batch, cfg, summary, quiet, ex)
        if own:
            ex.close()  # scoring needs no workers
        originals: set[str] = set()
        for sub in batch.submissions:
            try:
                query_new(ws, _entry_shas(ws, sub.entry_id), cfg.dedup)  # what pass 2 could not match
                dedup = dedup_result(gather_dedup(ws, sub.entry_id, cfg.dedup), cfg.dedup)
                store_dedup(ws, dedup, cfg.dedup)
                originals |= earlier_originals(dedup)
                card = score_entry_from_store(ws, sub.entry_id, list(dedup.flags), cfg, keys)
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
        _note_copies(ws, sorted(originals - {sub.entry_id for sub in batch.submissions}), cfg)
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
        if own:
            ex.close()
        log.removeHandler(handler)
        handler.close()


def _attach_log(ws: Workspace, run_id: int) -> logging.Handler:
    handler = logging.FileHandler(ws.root / "logs" / f"run-{run_id:05d}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler
