"""What the intake API says about an entry, and how a posted entry becomes the workspace's record of it.

:func:`submission_of` builds the :class:`pipeline.types.Submission` of an entry posted through the API the
way :func:`pipeline.ingest.ingest_folder` builds a folder's (the same fields, photos ordered by path, the
same missing-photo problems), so that its results equal a batch run of the same entry. The batch of every
API entry is the folder ``WS/intake``: one round of the workspace (pipeline.dedup.order), in which the capture
time, then ``submitted_at``, decide who had a shared photo first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..ingest import entry_fields, missing_role_problems
from ..store import Workspace
from ..store import intake as queue
from ..store.intake import SubmissionOf, intake_root, photo_path
from ..types import IntakeEntry, IntakePhoto, PhotoRef, Submission

API_PREFIX = "/api/v1"
#: the states of an entry the API reports
STATUSES = ("queued", "processing", "scored", "needs_review", "error")


def batch_name(ws_root: str | Path) -> str:
    """The batch every API entry belongs to (the runner names a batch by its folder's absolute path)."""
    return str(intake_root(Path(ws_root).absolute()))


def submission_of(ws_root: str | Path) -> SubmissionOf:
    """The builder of an API entry's workspace record in the workspace at ``ws_root``."""
    root = Path(ws_root).absolute()

    def build(entry_id: str, fields: dict[str, Any], photos: tuple[IntakePhoto, ...]) -> Submission:
        refs = tuple(PhotoRef(entry_id=entry_id, role=p.role, path=photo_path(root, p.sha256), rel_path=p.name)
                     for p in sorted(photos, key=lambda p: p.name))
        return Submission(entry_id=entry_id, photos=refs, problems=tuple(missing_role_problems(list(refs))),
                          **entry_fields(fields))

    return build


def entry_url(entry_id: str) -> str:
    return f"{API_PREFIX}/entries/{quote(entry_id, safe='')}"


def status_of(entry: IntakeEntry | None, card_status: str | None) -> str:
    """The status the API reports: queued / processing while the entry's current photos wait for a score,
    else its score card's status (scored, needs_review, error; error when no card could be made)."""
    if entry is not None and entry.state != "done":
        return entry.state
    return card_status or "error"


def entry_resource(ws: Workspace, entry_id: str, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON of ``GET /entries/{id}``: status, the photos received, times, and the export record once the
    entry is processed (None: no such entry)."""
    entry = queue.get(ws, entry_id)
    card = ws.scorecard(entry_id)
    if entry is None and ws.submission(entry_id) is None:
        return None
    status = status_of(entry, card.status if card else None)
    out: dict[str, Any] = {"entry_id": entry_id, "status": status, "url": entry_url(entry_id)}
    if entry is not None:
        out.update(received_at=entry.received_at, updated_at=entry.updated_at, generation=entry.generation,
                   photos=[{"name": p.name, "role": p.role, "sha256": p.sha256, "size_bytes": p.size_bytes}
                           for p in entry.photos],
                   awaiting_after=not any(p.role == "after" for p in entry.photos))
    out["record"] = record if status not in ("queued", "processing") else None
    return out


def accepted(entry: IntakeEntry) -> dict[str, Any]:
    """The JSON of a ``202`` (or of the ``200`` of a repeated post): id, status, url."""
    status = entry.state if entry.state != "done" else "processing"
    return {"entry_id": entry.entry_id, "status": status, "url": entry_url(entry.entry_id),
            "generation": entry.generation}
