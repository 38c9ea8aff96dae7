"""Passwords (argon2id via argon2-cffi), the app's secret key, CSRF tokens and sign-in throttling.

The secret key signs session cookies; it is generated once per workspace and kept in
``WS/review_secret.key`` with mode 0600, so restarting the app keeps judges signed in.
"""
from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 8
SECRET_FILE = "review_secret.key"

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work whether or not the account exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def secret_key(ws_root: str | Path) -> bytes:
    """The workspace's session-signing key (32 random bytes), created on first use with mode 0600."""
    path = Path(ws_root) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) < 32:
            raise RuntimeError(f"{path} is damaged (shorter than 32 bytes); delete it to sign everyone out")
        return data
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class LoginThrottle:
    """Failed sign-ins counted per key (an account name, a client address): after ``limit`` failures of a
    key within ``window`` seconds the key is locked for ``lockout`` seconds, doubled for every further
    failure up to ``max_lockout``. A locked sign-in is refused before the password is checked (so a
    password-guessing run also cannot keep the server busy with argon2). A success clears its account's
    failures, not its address's. In memory, per server process; at most ``max_keys`` keys are tracked
    (the oldest are forgotten first), so random names cannot exhaust memory. ``clock``: seconds, monotonic.
    """

    def __init__(self, limit: int = 5, window: float = 900.0, lockout: float = 60.0, max_lockout: float = 900.0,
                 max_keys: int = 10_000, clock=None):
        import threading
        import time

        self.limit, self.window, self.lockout, self.max_lockout, self.max_keys = \
            limit, window, lockout, max_lockout, max_keys
        self.clock = clock or time.monotonic
        self._fails: dict[tuple[str, str, int], list[float]] = {}  # key -> failure times, oldest first
        self._lock = threading.Lock()

    def _recent(self, key, now: float) -> list[float]:
        times = [t for t in self._fails.get(key, []) if now - t < max(self.window, self.max_lockout)]
        if times:
            self._fails[key] = times
        else:
            self._fails.pop(key, None)
        return times

    def locked_for(self, *keys: tuple[str, str, int]) -> float:
        """Seconds until every key may try again (0.0 when none is locked). A key is (kind, value, limit)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                in_window = [t for t in self._recent(key, now) if now - t < self.window]
                if len(in_window) >= key[2]:  # locked from the last failure, longer for each one past the limit
                    extra = len(in_window) - key[2]
                    until = in_window[-1] + min(self.max_lockout, self.lockout * 2 ** extra)
                    wait = max(wait, until - now)
        return wait

    def failed(self, *keys: tuple[str, str, int]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._fails.setdefault(key, []).append(now)
                self._fails[key] = self._fails.pop(key)  # most recently failed last
            while len(self._fails) > self.max_keys:
                self._fails.pop(next(iter(self._fails)))

    def succeeded(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            self._fails.pop(key, None)


def throttle_keys(username: str, address: str | None, per_name: int = 5, per_address: int = 20,
                  ) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    """The two keys a sign-in is counted under: its account name (case-folded; ``per_name`` failures) and its
    client address (``per_address``: higher, since judges may share one office address)."""
    return ("name", username.casefold(), per_name), ("addr", address or "?", per_address)
