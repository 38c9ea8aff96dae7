"""Export: one record per entry, in the stable output contract of design.md.

Fields: ``entry_id, score (0-100 or null), status (scored|needs_review|error), components {...},
flags [{code, severity, message, message_vi, photos}], model_id, config_hash``; the judges' outcome:
``review`` ({decision, score_override, reason, judge, decided_at} of the latest decision, or null),
``final_status`` (not_needed|pending|accepted|overridden|disqualified), ``final_score``, ``tier``
(may_win|pending|error|disqualified), ``rank`` (the place among the entries that may win, null for the others)
and ``provisional_rank`` (the place in the whole order) (:mod:`pipeline.ranking`, the rule the review app and
the report use); ``problems`` [{code, message, path}]
(the entry's input problems and its photos' errors); plus ``participant``, ``team``, ``explanation``,
``explanation_vi`` and ``photo_errors``. Records come in entry arrival order; nothing time-dependent is
written but a decision's time, so two runs over the same input export the same bytes.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from . import ranking
from .score.explain import card_words
from .score.flag_codes import make_flag
from .types import Problem, Review, ScoreCard
from .store import Workspace, queries
from .store.reviews import latest_reviews

CONTRACT_FIELDS = ("entry_id", "score", "status", "components", "flags", "model_id", "config_hash")
DECISION_FIELDS = ("review", "final_status", "final_score", "tier", "rank", "provisional_rank")
CSV_COLUMNS = ("entry_id", "participant", "team", "score", "status", "flag_codes", "high_flags", "model_id",
               "config_hash", "components", "explanation", "explanation_vi", "photo_errors",
               "flags", "problems", "final_status", "final_score", "tier", "rank", "provisional_rank",
               "review_decision", "review_reason",
               "review_judge", "review_decided_at", "review")


def records(ws: Workspace) -> list[dict[str, Any]]:
    """Export records, one per entry in arrival order, each with its judges' outcome and rank. Entries not
    yet scored get status ``error``."""
    reviews = latest_reviews(ws)
    out: list[dict[str, Any]] = []
    for entry_id in ws.entry_ids():
        sub = ws.submission(entry_id)
        card = ws.scorecard(entry_id)
        photo_errors = [{"path": p.rel_path, "code": p.error.code, "message": p.error.message}
                        for p in ws.entry_photos(entry_id) if p.error is not None]
        rec: dict[str, Any] = card_record(card) if card else {
            "entry_id": entry_id, "score": None, "status": "error", "components": {},
            "flags": [make_flag("NOT_PROCESSED").shown()],
            "model_id": None, "config_hash": None, "explanation": "", "explanation_vi": ""}
        rec["participant"] = sub.participant if sub else None
        rec["team"] = sub.team if sub else None
        rec["photo_errors"] = photo_errors
        rec["problems"] = [{"code": p.code, "message": p.message, "path": p.path}
                           for p in (sub.problems if sub else ())] + photo_errors
        review = reviews.get(entry_id)
        rec["review"] = review_record(review)
        rec["final_status"] = ranking.final_status(rec["status"], review)
        rec["final_score"] = ranking.final_score(rec["score"], review)
        out.append(rec)
    for place in ranking.places(
            enumerate(out), key=lambda x: (x[1]["status"], x[1]["score"], reviews.get(x[1]["entry_id"]), x[0])):
        rec = place.item[1]
        rec["tier"], rec["rank"], rec["provisional_rank"] = place.tier, place.rank, place.provisional_rank
    return out


def provisional_note(recs: list[dict[str, Any]]) -> str | None:
    """One line for the operator when the results are provisional (an entry waits for a judge), else None."""
    waiting = sum(1 for r in recs if ranking.waiting(r["final_status"]))
    if not waiting:
        return None
    ranked = sum(1 for r in recs if r["rank"] is not None)
    return (f"provisional results: {waiting} {'entry waits' if waiting == 1 else 'entries wait'} for a judge; "
            f"'rank' places the {ranked} {'entry' if ranked == 1 else 'entries'} that may win, 'provisional_rank' "
            "the whole order")


def review_record(review: Review | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {"decision": review.decision, "score_override": review.score_override, "reason": review.reason,
            "judge": review.judge, "decided_at": review.created_at}


def card_record(card: ScoreCard) -> dict[str, Any]:
    """A score card as people read it: the words of its flags and explanation rendered (pipeline.flagtext,
    pipeline.score.explain), not its stored facts."""
    d = card.to_dict()
    d.pop("facts", None)
    d.pop("inputs", None)
    d["flags"] = [f.shown() for f in card.flags]
    d["explanation"], d["explanation_vi"] = card_words(card)
    return d


def to_jsonl(ws: Workspace, recs: list[dict[str, Any]] | None = None) -> str:
    """The records (``recs``, else :func:`records` of ``ws``) as JSON Lines."""
    return _jsonl(recs if recs is not None else records(ws))


def _jsonl(recs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in recs)


def to_csv(ws: Workspace, recs: list[dict[str, Any]] | None = None) -> str:
    """The records as CSV: ``flags``, ``problems`` and ``review`` hold the same JSON as JSON Lines; the other
    columns are conveniences (codes, the review's parts). User-supplied text is guarded by :func:`_cell`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in recs if recs is not None else records(ws):
        rev = r["review"] or {}
        w.writerow({
            "entry_id": _cell(r["entry_id"]),
            "participant": _cell(r.get("participant") or ""),
            "team": _cell(r.get("team") or ""),
            "score": _num(r["score"]),
            "status": r["status"],
            "flag_codes": " ".join(f["code"] for f in r["flags"]),
            "high_flags": " ".join(f["code"] for f in r["flags"] if f["severity"] == "high"),
            "model_id": r["model_id"] or "",
            "config_hash": r["config_hash"] or "",
            "components": json.dumps(r["components"], sort_keys=True),
            "explanation": _cell(r.get("explanation", "")),
            "explanation_vi": _cell(r.get("explanation_vi", "")),
            "photo_errors": _cell("; ".join(f"{e['path']}: {e['code']}" for e in r["photo_errors"])),
            "flags": _json_cell(r["flags"]),
            "problems": _json_cell(r["problems"]),
            "final_status": r["final_status"],
            "final_score": _num(r["final_score"]),
            "tier": r["tier"],
            "rank": "" if r["rank"] is None else r["rank"],
            "provisional_rank": r["provisional_rank"],
            "review_decision": rev.get("decision", ""),
            "review_reason": _cell(rev.get("reason", "")),
            "review_judge": _cell(rev.get("judge", "")),
            "review_decided_at": rev.get("decided_at", ""),
            "review": _json_cell(r["review"]) if r["review"] else "",
        })
    return buf.getvalue()


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def _json_cell(value: Any) -> str:
    return _cell(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in user-supplied text (CSV injection): a cell starting with
    ``= + - @`` or a control character is prefixed with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


PROBLEM_FIELDS = ("run_id", "batch", "scope", "entry_id", "code", "path", "message")


def problem_records(ws: Workspace) -> list[dict[str, Any]]:
    """Every input problem the workspace holds, one record each (``--what problems``): ``{run_id, batch,
    scope, entry_id, code, path, message}``. ``scope``: ``batch`` (the batch's own: a stray file, a bad
    manifest row, no entries; one record per run that met it), ``entry`` (an entry's input problem) or
    ``photo`` (a photo that could not be used). An entry's and a photo's problems are those of its latest
    ingest, under the latest run of its batch. Order: run, then entry arrival, then the entry's photos."""
    out: list[dict[str, Any]] = []
    for run_id, batch, summary in queries.run_summaries(ws):
        try:
            problems = json.loads(summary).get("batch_problems") or []
        except (TypeError, ValueError, AttributeError):
            problems = []
        for p in problems:
            if isinstance(p, dict) and "code" in p:
                out.append(_problem(run_id, batch, "batch", None, p))
    latest = queries.latest_run_of_batches(ws)
    entries: list[dict[str, Any]] = []
    for entry_id, batch, problems_json in queries.entry_problems(ws):
        for p in json.loads(problems_json or "[]"):
            entries.append(_problem(latest.get(batch), batch, "entry", entry_id, p))
        for rel_path, error_json in queries.photo_errors(ws, entry_id):
            entries.append(_problem(latest.get(batch), batch, "photo", entry_id,
                                    {"path": rel_path, **json.loads(error_json)}))
    out.extend(entries)
    out.sort(key=lambda r: -1 if r["run_id"] is None else r["run_id"])  # stable: batch first, then arrival order
    return out


def _problem(run_id: int | None, batch: str, scope: str, entry_id: str | None, p: dict[str, Any]) -> dict[str, Any]:
    try:  # the words of the stored facts (pipeline.problemtext); words stored as they are by older versions
        message = Problem.from_dict(p).message
    except (KeyError, TypeError, ValueError, AttributeError):
        message = str(p.get("message", ""))
    return {"run_id": run_id, "batch": batch, "scope": scope, "entry_id": entry_id, "code": p.get("code"),
            "path": p.get("path"), "message": message}


def problems_to_jsonl(recs: list[dict[str, Any]]) -> str:
    return _jsonl(recs)


def problems_to_csv(recs: list[dict[str, Any]]) -> str:
    """The problem records as CSV (columns :data:`PROBLEM_FIELDS`); text is guarded by :func:`_cell`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=PROBLEM_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in recs:
        w.writerow({k: "" if r[k] is None else (r[k] if k == "run_id" else _cell(str(r[k]))) for k in PROBLEM_FIELDS})
    return buf.getvalue()
