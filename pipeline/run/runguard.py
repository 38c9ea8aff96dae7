"""What surrounds a run for an operator: one run per workspace at a time, and a clean stop on a full disk.

- :func:`exclusive_run`: an advisory lock (``fcntl.flock``) on ``WS/run.lock``. A second ``run`` on the same
  workspace waits for the first (saying so, with the first one's process id and start time) or, with
  ``wait=False``, refuses with :class:`WorkspaceBusy`. The lock is released when the process ends, however
  it ends, so a killed run never leaves a stale lock.
- :func:`is_disk_full` / :func:`disk_full_message`: a write that failed because the disk (or quota) is full,
  from the OS (``ENOSPC``, ``EDQUOT``) or from SQLite (``SQLITE_FULL``), and the one message an operator
  needs: what is full, how many bytes are free, and that a rerun resumes.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "run.lock"
_SQLITE_FULL = 13


class WorkspaceBusy(RuntimeError):
    """Another run holds the workspace (message names its process and start time)."""


@contextmanager
def exclusive_run(ws_root: str | Path, wait: bool = True,
                  notify: Callable[[str], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
    """Hold ``WS/run.lock`` for the duration of the block. When another process holds it: ``wait`` -> call
    ``notify(message)`` once and wait until it is free; otherwise raise :class:`WorkspaceBusy`."""
    import fcntl

    path = Path(ws_root) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                msg = f"another run is using workspace {ws_root} ({_holder(path)})"
                if not wait:
                    raise WorkspaceBusy(f"{msg}; wait for it to finish, or rerun without --no-wait to queue "
                                        "behind it") from None
                if not told and notify is not None:
                    notify(f"{msg}; waiting for it to finish (Ctrl-C to stop)")
                    told = True
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
                  .encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "process unknown"


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) is a write refused for lack of space."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and (
                getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or "disk is full" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def disk_full_message(exc: BaseException, ws_root: str | Path) -> str:
    """One paragraph: which file system is full, how much is free, and how to resume."""
    target = Path(ws_root)
    inner = exc
    while inner is not None and not (isinstance(inner, OSError) and inner.filename):
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    if isinstance(inner, OSError) and inner.filename:
        target = Path(os.fsdecode(inner.filename))
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = f"{shutil.disk_usage(probe).free:,} bytes free"
    except OSError:
        free = "free space unknown"
    what = f"the disk holding {target}" if target != Path(ws_root) else f"the disk holding workspace {ws_root}"
    return (f"{what} is full ({free}): the run stopped at the first write that failed ({_short(exc)}). "
            "Everything finished before it is kept; free space and rerun to resume.")


def _short(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


@contextmanager
def quiet_log_errors() -> Iterator[None]:
    """While the block runs, a log handler that cannot write (full disk) drops the record instead of
    printing a traceback per record."""
    old = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        yield
    finally:
        logging.raiseExceptions = old
