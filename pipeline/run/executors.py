"""Executors: where the pure work of a run happens. The driver (the runner) plans and commits; an executor
only maps a picklable function over picklable items and gives the results back **in input order**, so
that every executor commits the same things in the same order and exports the same bytes.

* ``serial``: in this process, one item after the other (tests, debugging);
* ``local`` (default): a pool of worker processes on this machine, one per core, each with its own
  detector and one torch/OpenCV thread (:mod:`pipeline.run.work`);
* ``ray``: Ray tasks on a cluster or a local Ray started for the run (:mod:`pipeline.run.ray_executor`,
  optional extra ``pip install .[ray]``).

``imap(fn, items, shared)`` calls ``fn(shared, item)``; ``shared`` (a config, the hash index) reaches each
worker once per call: Ray's object store; for the local pool a large one is pickled once into a file that
each worker loads on its first item and keeps for the call's other items (a small one goes with each item).
At most ``window`` items are in flight, so a long batch never queues all its work (or its memory) at once.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from .cores import default_workers

EXECUTORS = ("serial", "local", "ray")


class Executor(Protocol):
    name: str
    workers: int

    def imap(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any = None) -> Iterator[Any]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in the calling process."""

    name = "serial"
    workers = 1

    def imap(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any = None) -> Iterator[Any]:
        for item in items:
            yield fn(shared, item)

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: the thread-pool variables a pool worker sets to its share of the cores (OpenMP, OpenBLAS, MKL)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_limited_before_numpy: bool | None = None  # whether they were set before this worker imported numpy


def _init_worker(threads: int, parent: int) -> None:
    """A pool worker's start: its thread pools sized to its share of the cores before numpy, torch and
    OpenCV are imported (numpy's OpenBLAS would otherwise start a thread per core in every worker, whose
    spinning cost the pool ~8 % of its CPU time: 74-79 against 67-73 CPU seconds for 300 photos;
    docs/scale.md), then exit-with-parent and OpenCV's threads."""
    global _limited_before_numpy
    _limited_before_numpy = "numpy" not in sys.modules
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    from ..detect.process import set_process_threads  # after the variables above: it imports numpy

    _exit_with_parent(parent)
    set_process_threads(threads)
    atexit.register(_exit_without_teardown)


def _exit_without_teardown() -> None:
    """A pool worker's last exit handler: flush what it wrote, then end the process at once.

    Registered when the worker starts, so it runs after every exit handler registered later (torch's among
    them) and after multiprocessing's own clean-up, which precedes the interpreter's exit. What it skips is
    the interpreter's teardown of every module (torch, the model, OpenCV): a worker holding a detector took
    0.67 s to exit that way against 0.05 s without it (docs/scale.md), and closing a pool waits for its
    slowest worker. A pool worker's exit status is always 0 on this path: the pool reports a worker's
    failures through its futures, never through exit statuses."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


def worker_thread_limits(_shared: Any = None, _item: Any = None) -> tuple[dict[str, str], bool | None]:
    """This process's thread-pool variables and whether they were set before numpy was imported (None: not
    a pool worker). ``fn(shared, item)`` of the executors, for tests."""
    return {v: os.environ.get(v, "") for v in THREAD_VARS}, _limited_before_numpy


def _exit_with_parent(parent: int) -> None:
    """End this worker when the driver dies, even by SIGKILL (a killed run must leave no workers behind):
    Linux's parent-death signal, and a watchdog thread elsewhere (and for a parent that died already)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _call(fn: Callable[[Any, Any], Any], shared: Any, item: Any) -> Any:
    return fn(shared, item)


#: a pool worker's copy of the current call's large ``shared`` value: (its file, the value)
_published: tuple[str, Any] | None = None


def _call_published(fn: Callable[[Any, Any], Any], path: str, item: Any) -> Any:
    """``fn(shared, item)`` in a pool worker, ``shared`` loaded from ``path`` once per call of ``imap``."""
    global _published
    if _published is None or _published[0] != path:
        _published = None  # let the previous call's value go before loading the next
        with open(path, "rb") as f:
            _published = (path, pickle.load(f))
    return fn(_published[1], item)


#: ``shared`` values pickled larger than this go to the workers through a file, once (bytes)
PUBLISH_BYTES = 1 << 20


class LocalExecutor:
    """A pool of ``workers`` processes (started with ``spawn``: no inherited threads or locks), each using
    ``cores // workers`` threads (at least 1). Workers start in the background as soon as the pool exists."""

    name = "local"

    def __init__(self, workers: int | None = None, window: int | None = None):
        self.workers = workers or default_workers()
        threads = max(1, default_workers() // self.workers)
        self.window = window or 2 * self.workers
        self._calls = 0
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(threads, os.getpid()))

    def imap(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any = None) -> Iterator[Any]:
        pending: deque[Future] = deque()
        blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        folder = None
        if len(blob) > PUBLISH_BYTES:  # once to a file, not once per item
            folder = tempfile.mkdtemp(prefix="cleanup-verify-shared-")
            self._calls += 1  # a new name per call: a worker never takes a file for the one it holds
            path = os.path.join(folder, f"shared-{os.getpid()}-{self._calls}.pickle")
            with open(path, "wb") as f:
                f.write(blob)
            call, arg = _call_published, path
        else:
            call, arg = _call, shared
        del blob
        try:
            for item in items:
                pending.append(self.pool.submit(call, fn, arg, item))
                if len(pending) >= self.window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()
            if folder is not None:  # workers that still hold the value keep it until the next call
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_executor(name: str = "local", *, workers: int | None = None, ray_address: str | None = None) -> Any:
    """An executor by name (``serial``, ``local`` or ``ray``). Raises ValueError for an unknown name and
    RuntimeError when Ray is asked for but not installed."""
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        from .ray_executor import RayExecutor  # optional dependency, imported only when asked for

        return RayExecutor(address=ray_address, workers=workers)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
