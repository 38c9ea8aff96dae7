"""Bearer tokens of the intake API: made, hashed, checked, and limited in rate.

A token is ``cvt_`` + 43 URL-safe characters (256 random bits), shown once by ``cleanup-verify tokens add``
and stored as its sha256 (:mod:`pipeline.store.tokens`). A request carries it as ``Authorization: Bearer
TOKEN``. Tokens and the review app's accounts are separate: the app never reads this header, the API never
reads the app's session cookie.
"""
from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from dataclasses import dataclass

from ..store import Workspace
from ..store.tokens import token_by_hash
from ..types import ApiToken
from .errors import ApiError

PREFIX = "cvt_"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cleanup-verify"'}


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(ws: Workspace, authorization: str | None) -> ApiToken:
    """The valid token named by an ``Authorization`` header, or :class:`ApiError` 401 (none, malformed,
    unknown or revoked: the message says which, never whose)."""
    scheme, _, value = (authorization or "").partition(" ")
    if not authorization:
        raise ApiError(401, "a token is required: Authorization: Bearer TOKEN (cleanup-verify tokens add)",
                       headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "the Authorization header must be 'Bearer TOKEN'", headers=_CHALLENGE)
    token = token_by_hash(ws, token_hash(value.strip()))
    if token is None:
        raise ApiError(401, "unknown token", headers=_CHALLENGE)
    if not token.active:
        raise ApiError(401, "this token was revoked; ask the contest's operator for a new one", headers=_CHALLENGE)
    return token


@dataclass
class _Bucket:
    level: float
    at: float


class RateLimit:
    """A token bucket per token name: ``burst`` requests at once, refilled at ``per_minute`` a minute.
    :meth:`take` spends one request or raises 429 with ``Retry-After`` (whole seconds until one is back).
    Kept in the server's memory (a restart refills every bucket)."""

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> None:
        now = self.clock()
        with self._lock:
            b = self._buckets.setdefault(name, _Bucket(float(self.burst), now))
            b.level = min(float(self.burst), b.level + (now - b.at) * self.rate)
            b.at = now
            if b.level < 1.0:
                wait = max(1, math.ceil((1.0 - b.level) / self.rate))
                raise ApiError(429, f"too many requests for this token; retry in {wait} s "
                               "(intake.rate_per_minute, intake.rate_burst)", headers={"Retry-After": str(wait)},
                               retry_after_s=wait)
            b.level -= 1.0
