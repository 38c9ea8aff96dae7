"""The intake queue's worker: a thread of the server that scores queued entries through the runner.

Never in a request's thread: a post stores the entry and wakes the worker (:meth:`IntakeWorker.wake`). The
worker waits ``intake.batch_wait_s`` for more arrivals, claims up to ``intake.batch_entries`` queued entries
(:func:`pipeline.store.intake.claim`) and runs them as one batch through :func:`pipeline.run.runner.run_batch`
with the executor of ``run`` (a local process pool by default, started once and kept; Ray when configured),
holding the workspace's run lock (:func:`pipeline.run.runguard.exclusive_run`), so a ``cleanup-verify run``
on the same workspace waits for it and the other way round. Then, in one transaction, the claimed entries
are marked done and the API entries sharing photos with them are queued again as rescans, so that each
entry's dedup flags end as a batch run of all of them would make them.

A server killed mid-run leaves its claimed entries ``processing``; the next worker puts them back in the
queue (:func:`pipeline.store.intake.recover`) and the runner, content-addressed, redoes only what was not
committed: every accepted entry is scored, and none is recorded twice.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from ..config import Config
from ..dedup.flags import DedupResult
from ..ingest import Batch
from ..store import Workspace
from ..store import intake as queue
from ..store.intake import intake_root
from ..types import IntakeEntry
from .entries import submission_of

log = logging.getLogger("cleanup_verify")


class IntakeWorker:
    """Drains the intake queue of the workspace at ``ws_root``. ``executor``: ``local`` (default), ``serial``
    or ``ray``, or an executor object (the caller closes it). Call :meth:`start`, then :meth:`stop`;
    :meth:`drain_once` runs one batch in the calling thread (tests, benchmarks)."""

    def __init__(self, ws_root: str | Path, cfg: Config | None = None, *, executor: str | Any = "local",
                 workers: int | None = None, ray_address: str | None = None):
        self.root = Path(ws_root).absolute()
        self.cfg = cfg or Config()
        self._executor_spec = executor
        self._executor: Any = None if isinstance(executor, str) else executor
        self._workers, self._ray_address = workers, ray_address
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: Workspace | None = None
        self.failing = False  # the last run failed as a whole (the entries stay queued)
        self.runs = 0  # runs made (tests, the drill)

    # --------------------------------------------------------------------------------------------- life
    def start(self) -> "IntakeWorker":
        with Workspace(self.root, create=False) as ws:
            n = queue.recover(ws)
        if n:
            log.info("intake: %d entries were being scored when the server stopped; queued again", n)
        self._thread = threading.Thread(target=self._loop, name="intake-worker", daemon=True)
        self._thread.start()
        self._wake.set()  # look at the queue now: it may hold entries from before
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._executor is not None and isinstance(self._executor_spec, str):
            self._executor.close()
            self._executor = None
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    @property
    def state(self) -> str:
        """running | stopped | failing, for the health endpoint."""
        if self._thread is None or not self._thread.is_alive():
            return "stopped"
        return "failing" if self.failing else "running"

    def _loop(self) -> None:
        cfg = self.cfg.intake
        while not self._stop.is_set():
            self._wake.wait(cfg.idle_poll_s)
            if self._stop.is_set():
                break
            self._wake.clear()
            if self._stop.wait(cfg.batch_wait_s):  # let a burst gather into one run
                break
            try:
                while not self._stop.is_set() and self.drain_once():
                    pass
                self.failing = False
            except Exception:  # the run failed as a whole: its entries went back to the queue
                log.exception("intake: a run of the queue failed; retrying in %.0f s", cfg.retry_after_error_s)
                self.failing = True
                self._stop.wait(cfg.retry_after_error_s)

    # ---------------------------------------------------------------------------------------------- work
    def _workspace(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace(self.root, create=False)
        return self._ws

    def _executor_obj(self) -> Any:
        if self._executor is None:
            from ..run.executors import make_executor

            self._executor = make_executor(self._executor_spec, workers=self._workers,
                                           ray_address=self._ray_address)
        return self._executor

    def drain_once(self) -> int:
        """Claim up to ``intake.batch_entries`` queued entries and score them in one run; returns how many were
        claimed (0: the queue was empty). A run that fails as a whole puts them back and raises."""
        from ..run.runguard import exclusive_run
        from ..run.runner import run_batch

        ws = self._workspace()
        claimed = queue.claim(ws, self.cfg.intake.batch_entries)
        if not claimed:
            return 0
        try:
            changed = [e.entry_id for e in claimed if not e.rescan]
            before = _sharing(ws, changed)
            build = submission_of(self.root)
            subs = sorted((build(e.entry_id, e.fields, e.photos) for e in claimed), key=lambda s: s.entry_id)
            batch = Batch(root=intake_root(self.root), form="api", submissions=subs)
            with exclusive_run(self.root, wait=True):
                run_batch(batch.root, ws, self.cfg, quiet=True, batch=batch, executor=self._executor_obj())
            self.runs += 1
            rescan = queue.posted(ws, before | _sharing(ws, changed))
        except BaseException:
            queue.release(ws, claimed)
            raise
        queue.finish(ws, claimed, rescan)
        _log_done(claimed, rescan)
        return len(claimed)


def _sharing(ws: Workspace, entry_ids: list[str]) -> set[str]:
    """The other entries whose dedup facts the photos of ``entry_ids`` take part in: those using the same
    photos, those their stored dedup results name, and those using a photo these results matched (a copy,
    or the same spot)."""
    out: set[str] = set()
    for entry_id in entry_ids:
        shas = {p.sha256 for p in ws.entry_photos(entry_id) if p.sha256}
        stored = ws.get_entry_result(entry_id, "dedup")
        if stored:
            result = DedupResult.from_dict(stored)
            for m in result.matches:
                shas.update((m.photo_sha256, m.other_sha256))
            out.update(str(f.params["other_entry"]) for f in result.flags if f.params.get("other_entry"))
        for sha in shas:
            out.update(e for e, _, _ in ws.entries_with_photo(sha))
    return out - set(entry_ids)


def _log_done(claimed: list[IntakeEntry], rescan: set[str]) -> None:
    log.info("intake: scored %d entries (%s)%s", len(claimed), ", ".join(e.entry_id for e in claimed[:10]),
             f"; {len(rescan)} sharing their photos queued again" if rescan else "")
