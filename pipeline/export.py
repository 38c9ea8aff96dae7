"""Export: one record per entry, in the stable output contract of design.md.

Fields: ``entry_id, score (0-100 or null), status (scored|needs_review|error), components {...},
flags [{code, severity, message, photos}], model_id, config_hash``; plus ``participant``, ``team``,
``explanation``, ``explanation_vi``, ``photo_errors`` and, when judges have decided, ``review``.
Records come in entry arrival order; nothing time-dependent is written, so two runs over the same input
export the same bytes.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from .types import ScoreCard
from .workspace import Workspace

CONTRACT_FIELDS = ("entry_id", "score", "status", "components", "flags", "model_id", "config_hash")
CSV_COLUMNS = ("entry_id", "participant", "team", "score", "status", "flag_codes", "high_flags", "model_id",
               "config_hash", "components", "explanation", "explanation_vi", "photo_errors")


def records(ws: Workspace) -> Iterator[dict[str, Any]]:
    """Export records, one per entry in arrival order. Entries not yet scored get status ``error``."""
    for entry_id in ws.entry_ids():
        sub = ws.submission(entry_id)
        card = ws.scorecard(entry_id)
        photo_errors = [{"path": p["rel_path"], "code": p["error"].code, "message": p["error"].message}
                        for p in ws.entry_photos(entry_id) if p["error"] is not None]
        rec: dict[str, Any] = card_record(card) if card else {
            "entry_id": entry_id, "score": None, "status": "error", "components": {},
            "flags": [{"code": "NOT_PROCESSED", "severity": "high",
                       "message": "the entry has not been scored yet; run the batch again", "photos": []}],
            "model_id": None, "config_hash": None, "explanation": "", "explanation_vi": ""}
        rec["participant"] = sub.participant if sub else None
        rec["team"] = sub.team if sub else None
        rec["photo_errors"] = photo_errors
        yield rec


def card_record(card: ScoreCard) -> dict[str, Any]:
    d = card.to_dict()
    d["flags"] = [{"code": f["code"], "severity": f["severity"], "message": f["message"],
                   "message_vi": f.get("message_vi", ""), "photos": f["photos"]} for f in d["flags"]]
    return d


def to_jsonl(ws: Workspace) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records(ws))


def to_csv(ws: Workspace) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in records(ws):
        w.writerow({
            "entry_id": _cell(r["entry_id"]),
            "participant": _cell(r.get("participant") or ""),
            "team": _cell(r.get("team") or ""),
            "score": "" if r["score"] is None else f"{r['score']:.1f}",
            "status": r["status"],
            "flag_codes": " ".join(f["code"] for f in r["flags"]),
            "high_flags": " ".join(f["code"] for f in r["flags"] if f["severity"] == "high"),
            "model_id": r["model_id"] or "",
            "config_hash": r["config_hash"] or "",
            "components": json.dumps(r["components"], sort_keys=True),
            "explanation": r.get("explanation", ""),
            "explanation_vi": r.get("explanation_vi", ""),
            "photo_errors": _cell("; ".join(f"{e['path']}: {e['code']}" for e in r["photo_errors"])),
        })
    return buf.getvalue()


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in user-supplied text (CSV injection): a cell starting with
    ``= + - @`` or a control character is prefixed with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
