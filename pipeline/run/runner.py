"""Run a batch through every stage into a workspace, resumably: plan, execute, commit, for every pass.

Each pass has the same shape: **plan** (this process, reads only), **execute** (pure, on an executor:
serial, a local process pool, Ray; the same executor and its workers serve all three passes), **commit**
(this process, the only writer, in batch order whatever order the work finished in).

1. per entry: plan = read each photo's bytes once for its sha256 and look up which photo-stage results are
   stored under this run's keys (:class:`pipeline.run.keys.RunKeys`; the stages: :mod:`pipeline.stages`);
   execute = decode each photo that misses something once, run the photo stages it needs, verify the
   entry (:mod:`pipeline.run.work`); commit = one transaction per entry;
2. the batch's new photos against the workspace's hash index: plan = the photos not yet queried and the
   index; execute = the pixel checks (:func:`pipeline.dedup.query.query_chunk`); commit = one transaction
   per chunk;
3. per entry: plan = gather each entry stage's inputs (:data:`pipeline.stages.ENTRY_STAGES`: dedup facts,
   the score's stored results; reads only); execute = the stages' pure ``compute`` in order (dedup flags,
   then the score card); commit = every result of the entry in one transaction. Then the entries of earlier
   batches whose photos this batch copied get their dedup result again and a note on their card, the same
   way.

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
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Config
from ..dedup.flags import DUPLICATE_PHOTO, DedupResult, dedup_result
from ..dedup.flags import gather as gather_dedup
from ..dedup.flags import store_result as store_dedup
from ..dedup.query import query_new, unqueried
from ..detect.registry import resolve_model
from ..ingest import Batch, ingest
from ..load import PhotoError, read_photo
from ..score.card import cache_key as score_cache_key
from ..score.card import with_copy_notes
from ..stages import ENTRY_STAGES, PHOTO_STAGES
from ..store import Workspace, atomic_write_bytes
from ..types import PhotoRef, Problem, ScoreCard, Submission
from .executors import make_executor
from .keys import RunKeys
from .runguard import is_disk_full
from .work import VERIFY_READS, EntryOutcome, EntryTask, PhotoTask, execute_entry

log = logging.getLogger("cleanup_verify")
VERIFY = "verify"  # the entry result of pass 1's verification


@dataclass
class RunSummary:
    run_id: int
    batch: str
    entries: int = 0
    photos: int = 0
    photos_decoded: int = 0
    photos_failed: int = 0
    photos_matched: int = 0  # photos queried against the hash index in this run (pipeline.dedup.query)
    entries_scored: int = 0
    entries_needs_review: int = 0
    entries_error: int = 0
    #: entries whose pass-1 work failed (an exception in a worker: a detector that could not load, a bug);
    #: they are scored from what is stored, and the next run of the batch computes what is missing
    entries_failed: list[str] = field(default_factory=list)
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
            "entries_error": self.entries_error, "entries_failed": list(self.entries_failed),
            "elapsed_s": round(self.elapsed_s, 2),
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
    error is stored, photos whose every result is stored (``ready``), the stored results of its photos that
    the commit indexes again (idempotent: a killed run may have missed it) or the verification reads, by
    sha256 and stage name, and the work left (``task``)."""

    sub: Submission
    read_problems: list[tuple[str, Problem]] = field(default_factory=list)
    known_errors: list[tuple[str, str, Problem]] = field(default_factory=list)
    ready: list[tuple[str, str]] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    task: EntryTask | None = None


def plan_entry(ws: Workspace, sub: Submission, batch_root: Path, cfg: Config, keys: RunKeys) -> EntryPlan:
    """Pass 1's plan of one entry: read each photo's bytes once for its sha256 and look up what is stored
    of every photo stage; writes nothing."""
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
    need_verify = ws.get_entry_result(sub.entry_id, VERIFY, keys.verify(usable)) is None
    photos: list[PhotoTask] = []
    for ref, sha in readable:
        if known[sha]:
            plan.known_errors.append((ref.rel_path, sha, replace(Problem.from_dict(known[sha]), path=ref.rel_path)))
            continue
        need = set()
        for stage in PHOTO_STAGES:
            value = stage.read(ws, sha, keys)
            if value is None:
                need.add(stage.name)
            elif stage.index is not None or stage.name == VERIFY_READS:
                plan.stored.setdefault(sha, {})[stage.name] = value
        if ws.photo_meta(sha) is None:
            need.add("meta")
        if not ws.thumb_path(sha).exists():
            need.add("thumb")
        if not need and not need_verify:
            plan.ready.append((ref.rel_path, sha))
        else:
            photos.append(PhotoTask(ref, sha, frozenset(need), plan.stored.get(sha, {}).get(VERIFY_READS)))
    if photos or need_verify:
        plan.task = EntryTask(sub.entry_id, str(batch_root), tuple(photos), need_verify)
    return plan


def commit_entry(ws: Workspace, plan: EntryPlan, outcome: EntryOutcome | None, keys: RunKeys,
                 summary: RunSummary) -> None:
    """Pass 1's commit of one entry: thumbnails first (files), then every row in one transaction, so that a
    stored result always has its thumbnail and a killed run loses the entry in flight only."""
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
            for stage in PHOTO_STAGES:
                if stage.index is not None and stage.name in plan.stored.get(sha, {}):
                    stage.index(ws, plan.stored[sha][stage.name])
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
            for stage in PHOTO_STAGES:
                value = po.results.get(stage.name)
                if value is not None:
                    stage.write(ws, sha, keys, value)
                if stage.index is not None:
                    value = value if value is not None else plan.stored.get(sha, {}).get(stage.name)
                    if value is not None:
                        stage.index(ws, value)
            ws.set_entry_photo(entry_id, po.rel_path, sha, None, summary.run_id)
        if outcome is not None and outcome.verification is not None:
            # keyed by the photos that turned out usable, as the next run's plan will compute it
            ws.put_entry_result(entry_id, VERIFY, keys.verify(list(outcome.usable)), outcome.verification.to_dict())
    if outcome is not None:
        summary.photos_decoded += outcome.decoded
        if outcome.error:
            summary.entries_failed.append(entry_id)
            log.error("%s: processing failed; the entry will be scored from what is stored (the next run of "
                      "the batch retries what is missing):\n%s", entry_id, outcome.error)


def _execute(cfg: Config, task: EntryTask) -> EntryOutcome:
    """``fn(shared, item)`` of the executors: pass 1's work of one entry (module-level, so that it pickles)."""
    return execute_entry(task, cfg)


def _in_order(executor: Any, fn: Callable[[Any, Any], Any], plans: Iterable[Any], shared: Any,
              task_of: Callable[[Any], Any | None], commit: Callable[[Any, Any | None], None]) -> None:
    """Execute the task of each plan (None: nothing to do) on ``executor`` and commit each plan with its
    outcome in plan order, whatever order the work finishes in; plans are made as the executor asks for
    work, so at most its window of plans waits."""
    planned: deque[Any] = deque()

    def tasks() -> Iterator[Any]:
        for plan in plans:
            planned.append(plan)
            task = task_of(plan)
            if task is not None:
                yield task

    for outcome in executor.imap(fn, tasks(), shared):
        while task_of(planned[0]) is None:
            commit(planned.popleft(), None)
        commit(planned.popleft(), outcome)
    while planned:
        commit(planned.popleft(), None)


def _guarded(what: str, entry_id: str, fn: Callable[[], Any], fallback: Any = None) -> Any:
    """``fn()``, or ``fallback`` when it fails (logged): one entry never stops the batch; a full disk stops
    the run."""
    try:
        return fn()
    except Exception as e:
        if is_disk_full(e):
            raise
        log.exception("%s: %s failed", entry_id, what)
        return fallback


def _process_entries(ws: Workspace, batch: Batch, cfg: Config, keys: RunKeys, executor: Any,
                     summary: RunSummary, progress: "_Progress") -> None:
    """Pass 1: plan each entry (read-only), run the work on ``executor``, commit each entry in batch order."""
    def plans() -> Iterator[EntryPlan]:
        for sub in batch.submissions:
            yield _guarded("planning (the entry will be scored from what is stored)", sub.entry_id,
                           lambda: plan_entry(ws, sub, batch.root, cfg, keys), EntryPlan(sub))

    def commit(plan: EntryPlan, outcome: EntryOutcome | None) -> None:
        _guarded("storing the results (the entry will be scored from what is stored)", plan.sub.entry_id,
                 lambda: commit_entry(ws, plan, outcome, keys, summary))
        progress.update(len(plan.sub.photos))

    _in_order(executor, _execute, plans(), cfg, lambda p: p.task, commit)


def _entry_shas(ws: Workspace, entry_id: str) -> list[str]:
    return [p.sha256 for p in ws.entry_photos(entry_id) if p.sha256]


def _match_new_photos(ws: Workspace, batch: Batch, cfg: Config, summary: RunSummary, quiet: bool,
                      executor: Any) -> bool:
    """Pass 2: query every photo of the batch not yet matched (under this [dedup] configuration) against the
    whole hash index and store the matches (:func:`pipeline.dedup.query.query_new`: plan, the pixel checks on
    the executor, a transaction per chunk), before any entry's flags are made, so that the flags do not
    depend on the order of the entries. A rerun queries nothing. False when matching failed (pass 3 then
    queries what is missing, entry by entry)."""
    shas = [s for sub in batch.submissions for s in _entry_shas(ws, sub.entry_id)]
    todo = unqueried(ws, shas, cfg.dedup)
    if not todo:
        return True
    log.info("matching %d new photos against the hash index of the workspace", len(todo))
    bar = _Progress(len(todo), quiet, desc="matching")
    try:
        summary.photos_matched = query_new(ws, todo, cfg.dedup, progress=bar.update, executor=executor)
        return True
    except Exception as e:
        if is_disk_full(e):
            raise
        log.exception("matching photos against the hash index failed")
        return False
    finally:
        bar.close()


@dataclass(frozen=True)
class ScorePlan:
    """Pass 3's plan of one entry: the inputs of each entry stage by name (gathered, read-only); ``error``:
    the gathering failed (the entry counts as an error)."""

    entry_id: str
    inputs: dict[str, Any]
    error: bool = False


@dataclass(frozen=True)
class ScoreOutcome:
    """The results of an entry's stages by name, or the traceback of the computation that failed."""

    results: dict[str, Any]
    error: str | None = None


def _score_compute(cfg: Config, plan: ScorePlan) -> ScoreOutcome:
    """``fn(shared, item)`` of the executors: the entry stages' pure ``compute``, in registry order."""
    done: dict[str, Any] = {}
    try:
        for stage in ENTRY_STAGES:
            done[stage.name] = stage.compute(plan.inputs[stage.name], done, cfg)
    except Exception:
        return ScoreOutcome({}, traceback.format_exc(limit=8))
    return ScoreOutcome(done)


def _score_entries(ws: Workspace, batch: Batch, cfg: Config, keys: RunKeys, executor: Any, summary: RunSummary,
                   matched: bool) -> set[str]:
    """Pass 3: per entry, gather each entry stage's inputs (the writer first queries the entry's photos
    that pass 2 could not match), compute on ``executor``, store every result of the entry in one
    transaction. Returns the entries of the workspace that had one of this batch's photos first."""
    originals: set[str] = set()

    def gather(entry_id: str) -> ScorePlan:
        if not matched:
            query_new(ws, _entry_shas(ws, entry_id), cfg.dedup)
        return ScorePlan(entry_id, {s.name: s.gather(ws, entry_id, cfg, keys) for s in ENTRY_STAGES})

    def plans() -> Iterator[ScorePlan]:
        for sub in batch.submissions:
            yield _guarded("scoring", sub.entry_id, lambda: gather(sub.entry_id), ScorePlan(sub.entry_id, {}, True))

    def commit(plan: ScorePlan, outcome: ScoreOutcome | None) -> None:
        if outcome is None or outcome.error:
            if outcome is not None:
                log.error("%s: scoring failed:\n%s", plan.entry_id, outcome.error)
            summary.entries_error += 1
            return

        def store() -> ScoreCard:
            with ws.transaction():
                for s in ENTRY_STAGES:
                    result = outcome.results[s.name]
                    s.write(ws, plan.entry_id, s.key(plan.inputs[s.name], result, cfg, keys), result)
            return outcome.results["score"]

        card = _guarded("storing the score", plan.entry_id, store)
        if card is None:
            summary.entries_error += 1
            return
        originals.update(earlier_originals(outcome.results["dedup"]))
        if card.status == "scored":
            summary.entries_scored += 1
        elif card.status == "needs_review":
            summary.entries_needs_review += 1
        else:
            summary.entries_error += 1

    _in_order(executor, _score_compute, plans(), cfg, lambda p: None if p.error else p, commit)
    return originals


def earlier_originals(dedup: DedupResult) -> set[str]:
    """The entries that, by the dedup result of one entry, had one of its photos first (pure)."""
    return {f.params["other_entry"] for f in dedup.flags if f.code == DUPLICATE_PHOTO and f.params.get("other_first")}


def _note_copies(ws: Workspace, entry_ids: list[str], cfg: Config) -> None:
    """Entries of earlier batches whose photos this batch's entries copied: their dedup result again, and
    PHOTO_COPIED_BY_LATER (info) added to their stored score card; nothing else of the card changes, and the
    entry is not scored again (its card may come from another configuration or model). Per entry: the
    writer queries its photos not matched under this [dedup] yet; plan (reads), compute (pure), one
    transaction."""
    for entry_id in entry_ids:
        def note() -> None:
            query_new(ws, _entry_shas(ws, entry_id), cfg.dedup)
            facts, card = gather_dedup(ws, entry_id, cfg.dedup), ws.scorecard(entry_id)
            dedup = dedup_result(facts, cfg.dedup)
            noted = with_copy_notes(card, dedup.flags) if card is not None else None
            with ws.transaction():
                store_dedup(ws, dedup, cfg.dedup)
                if noted is not None:
                    ws.put_entry_result(entry_id, "score", score_cache_key(noted.config_hash, noted.model_id),
                                        noted.to_dict())

        _guarded("noting the later copies of its photos", entry_id, note)


def run_batch(batch_path: str | Path, ws: Workspace, cfg: Config | None = None, *, quiet: bool = False,
              batch: Batch | None = None, executor: str | Any = "local", workers: int | None = None,
              ray_address: str | None = None) -> RunSummary:
    """Process a batch (folder or manifest file) into workspace ``ws``; returns what was done.

    ``executor``: ``serial``, ``local`` (a process pool of ``workers`` processes, one per core by default)
    or ``ray`` (``ray_address``: ``auto``, ``HOST:PORT``, or None to start a local Ray for the run), or an
    executor object (:mod:`pipeline.run.executors`; the caller closes it, and may pass it to many runs: its
    workers start once). One executor serves the three passes. Every executor gives the same results.
    Per-entry and per-photo problems are recorded, never raised. Raises only when the run itself cannot
    proceed (batch not found, model missing, workspace unwritable).
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
        matched = _match_new_photos(ws, batch, cfg, summary, quiet, ex)
        originals = _score_entries(ws, batch, cfg, keys, ex, summary, matched)
        if own:
            ex.close()  # what is left runs here
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
