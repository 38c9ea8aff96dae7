"""The intake API's bearer tokens (table ``api_tokens``): stored as the sha256 of the token, never the token.

A token is a long random string (:mod:`pipeline.api.tokens` makes and hashes it), so a plain sha256 is the
right hash: nothing to guess, and a request needs one indexed lookup, not a slow password hash.
"""
from __future__ import annotations

import sqlite3

from ..types import ApiToken
from .workspace import Workspace


def _token(r: sqlite3.Row) -> ApiToken:
    return ApiToken(name=r["name"], created_at=r["created_at"], revoked_at=r["revoked_at"])


def add_token(ws: Workspace, name: str, token_sha256: str, created_at: str) -> bool:
    """Store a new token under ``name``; False (nothing stored) when the name exists, revoked or not (a name
    names one token for ever, so that the queue's records of who posted stay unambiguous)."""
    with ws.transaction() as c:
        if c.execute("SELECT 1 FROM api_tokens WHERE name=?", (name,)).fetchone():
            return False
        c.execute("INSERT INTO api_tokens(name, token_sha256, created_at) VALUES (?,?,?)",
                  (name, token_sha256, created_at))
    return True


def token_by_hash(ws: Workspace, token_sha256: str) -> ApiToken | None:
    """The token whose hash is ``token_sha256`` (revoked or not), or None."""
    row = ws.conn.execute("SELECT name, created_at, revoked_at FROM api_tokens WHERE token_sha256=?",
                          (token_sha256,)).fetchone()
    return _token(row) if row else None


def list_tokens(ws: Workspace) -> list[ApiToken]:
    """Every token, oldest first."""
    rows = ws.conn.execute("SELECT name, created_at, revoked_at FROM api_tokens ORDER BY created_at, name").fetchall()
    return [_token(r) for r in rows]


def revoke_token(ws: Workspace, name: str, revoked_at: str) -> bool:
    """Revoke the token ``name`` from now on; False when there is no valid token of that name."""
    with ws.transaction() as c:
        cur = c.execute("UPDATE api_tokens SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (revoked_at, name))
        return cur.rowcount == 1


def count_active(ws: Workspace) -> int:
    return int(ws.conn.execute("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL").fetchone()[0])
