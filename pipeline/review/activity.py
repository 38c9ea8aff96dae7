"""The review app's log, ``WS/logs/review.log``: what an operator or auditor needs to follow the app.

One line per event, ``<UTC time> <LEVEL> <event> key=value ...``; values a user typed (names, entry ids,
reasons) are written with ``repr`` so that no control character or line break can forge a line. Events:

- ``sign-in-failed name= address=``: a wrong name or password;
- ``sign-in-locked name= address= seconds=``: a failure that locked the name or the address;
- ``sign-in-refused name= address= seconds=``: a sign-in refused while locked (password not checked);
- ``sign-in name= address=`` and ``sign-out``;
- ``decision judge= entry= decision= score= version= reason=``, ``decision-conflict``;
- ``corrections judge= entry= photo= model= not_litter= missed=``;
- ``account-added``, ``account-password``, ``account-removed`` (from ``cleanup-verify users``).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

LOG_NAME = "review.log"


class ReviewLog:
    """Appends events to ``WS/logs/review.log`` (the folder is created when missing)."""

    def __init__(self, ws_root: str | Path):
        self.path = Path(ws_root) / "logs" / LOG_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A logger of its own (not in logging's registry): one handler per app, never shared or propagated.
        self._log = logging.Logger(f"cleanup_verify.review:{self.path}")
        handler = logging.FileHandler(self.path, encoding="utf-8", delay=True)
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        fmt.converter = time.gmtime
        handler.setFormatter(fmt)
        self._log.addHandler(handler)
        self._handler = handler

    def event(self, event: str, level: int = logging.INFO, /, **fields: Any) -> None:
        self._log.log(level, "%s %s", event, " ".join(f"{k}={_value(v)}" for k, v in fields.items()))

    def warning(self, event: str, /, **fields: Any) -> None:
        self.event(event, logging.WARNING, **fields)

    def close(self) -> None:
        self._handler.close()


def _value(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def log_account(ws_root: str | Path, event: str, /, **fields: Any) -> None:
    """One account event from the command line."""
    log = ReviewLog(ws_root)
    try:
        log.event(event, **fields)
    finally:
        log.close()
