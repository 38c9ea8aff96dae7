"""The intake API's queue (tables ``intake_entries``, ``intake_photos``) and where its photos lie.

Layout::

    WS/intake/photos/<sha256[:2]>/<sha256>   every photo received, named by its content (the client's file
                                             name is never a path); written atomically before the post is
                                             answered, never deleted (a replaced entry's photos stay for dedup)

An entry's life: a post stores it ``queued`` (generation 1) with its photos, in one transaction that also
records it in the workspace's ``entries`` (so judges see it arrive); the worker (pipeline.api.worker) claims
a few queued entries (``processing``), runs them through the runner, and marks them ``done`` for the
generation it scored. A replacement or an addition of photos makes a new generation and queues the entry
again; an entry that changed while it was being scored goes back to ``queued`` when the run ends. Entries
sharing photos with an entry that changed are queued again as a ``rescan`` (their dedup facts changed, their
photos did not), which does not queue others in turn. A server killed mid-run leaves entries ``processing``:
:func:`recover` puts them back in the queue when the worker starts again.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..types import IntakeEntry, IntakePhoto, Submission
from .workspace import Workspace

INTAKE_DIR = "intake"
#: outcomes of :func:`post_entry` and :func:`add_photos`
CREATED, SAME, CONFLICT, REPLACED, ADDED, NOT_FOUND, NOT_INTAKE, TOO_MANY = (
    "created", "same", "conflict", "replaced", "added", "not_found", "not_intake", "too_many")

#: builds the workspace's record of an entry from its fields and current photos (pipeline.api.entries)
SubmissionOf = Callable[[str, dict, tuple[IntakePhoto, ...]], Submission]


def intake_root(ws_root: str | Path) -> Path:
    """The folder of the intake API's files (the batch folder of its entries)."""
    return Path(ws_root) / INTAKE_DIR


def photo_path(ws_root: str | Path, sha256: str) -> Path:
    """Where the photo with these bytes lies (``sha256``: 64 lowercase hex digits, checked by the caller)."""
    return intake_root(ws_root) / "photos" / sha256[:2] / sha256


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _next_seq(c: sqlite3.Connection) -> int:
    return int(c.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM intake_entries").fetchone()[0])


def _photos(c: sqlite3.Connection, entry_id: str) -> tuple[IntakePhoto, ...]:
    rows = c.execute("SELECT name, role, sha256, size_bytes, generation FROM intake_photos WHERE entry_id=? "
                     "AND active=1 ORDER BY name", (entry_id,)).fetchall()
    return tuple(IntakePhoto(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows)


def _entry(c: sqlite3.Connection, r: sqlite3.Row) -> IntakeEntry:
    return IntakeEntry(entry_id=r["entry_id"], token_name=r["token_name"], fields=json.loads(r["entry_json"]),
                       post_fingerprint=r["post_fingerprint"], generation=int(r["generation"]), state=r["state"],
                       done_generation=int(r["done_generation"]), rescan=bool(r["rescan"]),
                       received_at=r["received_at"], updated_at=r["updated_at"], photos=_photos(c, r["entry_id"]))


def _row(c: sqlite3.Connection, entry_id: str) -> sqlite3.Row | None:
    return c.execute("SELECT * FROM intake_entries WHERE entry_id=?", (entry_id,)).fetchone()


def get(ws: Workspace, entry_id: str) -> IntakeEntry | None:
    """The queue's record of an entry with its current photos, or None (never posted through the API)."""
    r = _row(ws.conn, entry_id)
    return _entry(ws.conn, r) if r else None


def _insert_photos(c: sqlite3.Connection, entry_id: str, photos: Iterable[IntakePhoto], generation: int) -> None:
    for p in photos:
        c.execute("INSERT OR REPLACE INTO intake_photos(entry_id, name, generation, role, sha256, size_bytes, active) "
                  "VALUES (?,?,?,?,?,?,1)", (entry_id, p.name, generation, p.role, p.sha256, p.size_bytes))


def post_entry(ws: Workspace, entry_id: str, token_name: str, fields: dict, fingerprint: str,
               photos: tuple[IntakePhoto, ...], replace: bool, submission_of: SubmissionOf,
               batch: str) -> tuple[str, IntakeEntry | None]:
    """Store a posted entry, in one transaction, and say what happened: ``created`` (new, queued), ``same``
    (this exact post was stored before: nothing written), ``conflict`` (the id exists with other fields or
    photos and ``replace`` is false, or the id came in a batch: nothing written), ``replaced`` (a new
    generation with these photos, queued; the old photos stay in the workspace, inactive). The workspace's
    ``entries`` record (``submission_of``, batch ``batch``) is written in the same transaction. Returns the
    outcome and the entry as stored now (None when the id came in a batch)."""
    with ws.transaction() as c:
        r = _row(c, entry_id)
        if r is None:
            if c.execute("SELECT 1 FROM entries WHERE entry_id=?", (entry_id,)).fetchone():
                return NOT_INTAKE, None
            now = _now()
            c.execute("INSERT INTO intake_entries(entry_id, token_name, entry_json, post_fingerprint, generation, "
                      "state, queue_seq, received_at, updated_at) VALUES (?,?,?,?,1,'queued',?,?,?)",
                      (entry_id, token_name, json.dumps(fields, sort_keys=True), fingerprint, _next_seq(c), now, now))
            _insert_photos(c, entry_id, photos, 1)
            outcome = CREATED
        elif r["post_fingerprint"] == fingerprint:
            return SAME, _entry(c, r)
        elif not replace:
            return CONFLICT, _entry(c, r)
        else:
            gen = int(r["generation"]) + 1
            c.execute("UPDATE intake_photos SET active=0 WHERE entry_id=?", (entry_id,))
            _insert_photos(c, entry_id, photos, gen)
            c.execute("UPDATE intake_entries SET token_name=?, entry_json=?, post_fingerprint=?, generation=?, "
                      "state=CASE WHEN state='processing' THEN 'processing' ELSE 'queued' END, rescan=0, "
                      "queue_seq=?, updated_at=? WHERE entry_id=?",
                      (token_name, json.dumps(fields, sort_keys=True), fingerprint, gen, _next_seq(c), _now(),
                       entry_id))
            outcome = REPLACED
        stored = _entry(c, _row(c, entry_id))
        ws.put_submission(submission_of(entry_id, stored.fields, stored.photos), batch)
        return outcome, stored


def add_photos(ws: Workspace, entry_id: str, token_name: str, photos: tuple[IntakePhoto, ...], max_per_role: int,
               submission_of: SubmissionOf, batch: str) -> tuple[str, IntakeEntry | None]:
    """Add photos to an entry posted earlier, in one transaction: ``added`` (a new generation, queued),
    ``same`` (every one of these photos is the entry's already: nothing written), ``too_many`` (the entry
    would have more than ``max_per_role`` photos of a role: nothing written), ``not_found`` / ``not_intake``
    (no such entry / it came in a batch). Photos the entry has already (same bytes, same role) are skipped."""
    with ws.transaction() as c:
        r = _row(c, entry_id)
        if r is None:
            exists = c.execute("SELECT 1 FROM entries WHERE entry_id=?", (entry_id,)).fetchone()
            return (NOT_INTAKE if exists else NOT_FOUND), None
        current = _entry(c, r)
        have = {(p.role, p.sha256) for p in current.photos}
        new = tuple(p for p in photos if (p.role, p.sha256) not in have)
        if not new:
            return SAME, current
        for role in {p.role for p in new}:
            if sum(p.role == role for p in current.photos) + sum(p.role == role for p in new) > max_per_role:
                return TOO_MANY, current
        gen = current.generation + 1
        _insert_photos(c, entry_id, new, gen)
        c.execute("UPDATE intake_entries SET token_name=?, generation=?, "
                  "state=CASE WHEN state='processing' THEN 'processing' ELSE 'queued' END, rescan=0, queue_seq=?, "
                  "updated_at=? WHERE entry_id=?", (token_name, gen, _next_seq(c), _now(), entry_id))
        stored = _entry(c, _row(c, entry_id))
        ws.put_submission(submission_of(entry_id, stored.fields, stored.photos), batch)
        return ADDED, stored


# ------------------------------------------------------------------------------------------- the worker
def recover(ws: Workspace) -> int:
    """Put back in the queue the entries a stopped (or killed) worker was scoring; returns how many."""
    with ws.transaction() as c:
        return c.execute("UPDATE intake_entries SET state='queued', claimed_generation=NULL "
                         "WHERE state='processing'").rowcount


def claim(ws: Workspace, limit: int) -> list[IntakeEntry]:
    """Up to ``limit`` queued entries, oldest in the queue first, marked ``processing`` (for the generation
    they have now), with their photos."""
    with ws.transaction() as c:
        rows = c.execute("SELECT * FROM intake_entries WHERE state='queued' ORDER BY queue_seq LIMIT ?",
                         (limit,)).fetchall()
        for r in rows:
            c.execute("UPDATE intake_entries SET state='processing', claimed_generation=generation WHERE entry_id=?",
                      (r["entry_id"],))
        return [_entry(c, r) for r in rows]


def finish(ws: Workspace, claimed: Iterable[IntakeEntry], rescan: Iterable[str]) -> None:
    """After a run of ``claimed``: each is ``done`` for the generation claimed, or queued again when it changed
    during the run; the entries ``rescan`` (posted through the API, done, not claimed) are queued again as
    rescans. One transaction."""
    claimed = list(claimed)
    with ws.transaction() as c:
        for e in claimed:
            c.execute("UPDATE intake_entries SET state=CASE WHEN generation=claimed_generation THEN 'done' "
                      "ELSE 'queued' END, done_generation=claimed_generation, claimed_generation=NULL, rescan=0 "
                      "WHERE entry_id=? AND state='processing'", (e.entry_id,))
        mine = {e.entry_id for e in claimed}
        for entry_id in sorted(set(rescan) - mine):
            c.execute("UPDATE intake_entries SET state='queued', rescan=1, queue_seq=? "
                      "WHERE entry_id=? AND state='done'", (_next_seq(c), entry_id))


def release(ws: Workspace, claimed: Iterable[IntakeEntry]) -> None:
    """Put claimed entries back in the queue, unchanged (their run failed as a whole)."""
    with ws.transaction() as c:
        for e in claimed:
            c.execute("UPDATE intake_entries SET state='queued', claimed_generation=NULL "
                      "WHERE entry_id=? AND state='processing'", (e.entry_id,))


def queue_length(ws: Workspace) -> int:
    """Entries queued or being scored."""
    return int(ws.conn.execute("SELECT COUNT(*) FROM intake_entries WHERE state != 'done'").fetchone()[0])


def waiting(ws: Workspace) -> dict[str, str]:
    """The state (queued | processing) of every entry not scored in its current generation, by entry id."""
    rows = ws.conn.execute("SELECT entry_id, state FROM intake_entries WHERE state != 'done'").fetchall()
    return {r[0]: r[1] for r in rows}


def posted(ws: Workspace, entry_ids: Iterable[str]) -> set[str]:
    """Those of ``entry_ids`` that came through the intake API."""
    ids = list(dict.fromkeys(entry_ids))
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        rows = ws.conn.execute(f"SELECT entry_id FROM intake_entries WHERE entry_id IN ({','.join('?' * len(part))})",
                               part).fetchall()
        out.update(r[0] for r in rows)
    return out
