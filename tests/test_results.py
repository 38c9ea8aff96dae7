"""From the judges' decisions to the published results: run the sample, decide in the review app, export.

Also the ranking rule (pipeline.ranking) shared by export, app and report, input problems on their entry and
in ``status``, and the CSV ``flags`` column.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from pipeline import export, ranking
from pipeline.cli import main
from pipeline.config import Config
from pipeline.review import auth, decisions
from pipeline.review.app import create_app
from pipeline.run.runner import run_batch
from pipeline.types import Review
from pipeline.store import Workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def sample_ws(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("ws") / "ws"
    with Workspace(root) as ws:
        run_batch(sample.root, ws, Config(), quiet=True)
        decisions.add_user(ws, "ann", "judge", auth.hash_password(PASSWORD))
    return root


@pytest.fixture()
def ws_path(sample_ws, tmp_path):
    return Path(shutil.copytree(sample_ws, tmp_path / "ws"))


def _export(ws_root: Path, fmt: str = "jsonl") -> str:
    with Workspace(ws_root, create=False) as ws:
        return export.to_jsonl(ws) if fmt == "jsonl" else export.to_csv(ws)


def _by_id(text: str) -> dict[str, dict]:
    return {r["entry_id"]: r for r in map(json.loads, text.splitlines())}


def _signed_in(app):
    c = app.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": tok}).status_code == 302
    return c, re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def _app_order(client) -> list[str]:
    return re.findall(r'href="/entry\?id=([^"&]+)"', client.get("/").text)


# ------------------------------------------------------------------------------------ decisions in results
@pytest.mark.slow
def test_decisions_reach_the_export_and_move_the_rank(ws_path, tmp_path):
    before = _by_id(_export(ws_path))
    dup = before["05-shared-photo-b"]  # reused photo (04 had it first): needs review
    assert dup["status"] == "needs_review" and dup["final_status"] == "pending" and dup["review"] is None
    assert dup["final_score"] == dup["score"] is not None
    clean = [r for r in before.values() if r["final_status"] == "not_needed"]
    # entries that may win come first: the copied photo comes after every clean entry, whatever its score, and
    # has no rank (rank: the place among the entries that may win; provisional_rank: the whole order)
    assert dup["provisional_rank"] > max(r["provisional_rank"] for r in clean)
    assert dup["rank"] is None and dup["tier"] == "pending"
    assert sorted(r["provisional_rank"] for r in before.values()) == list(range(1, len(before) + 1))
    assert sorted(r["rank"] for r in clean) == list(range(1, len(clean) + 1))
    assert all(r["rank"] is None for r in before.values() if r["final_status"] != "not_needed")

    c, tok = _signed_in(create_app(ws_path))
    assert _app_order(c) == sorted(before, key=lambda e: before[e]["provisional_rank"])  # one rule: app == export
    for entry_id, decision, score, reason in (
            ("05-shared-photo-b", "disqualify", "", "same photo as entry 04"),
            ("12-exif-time-order", "override", "99", "phone clock was wrong; checked by hand"),
            ("06-mirrored-reupload", "accept", "", "")):
        r = c.post("/entry/decide", data={"entry_id": entry_id, "base_version": "0", "decision": decision,
                                          "score_override": score, "reason": reason, "csrf_token": tok})
        assert r.status_code == 302, r.text

    assert main(["export", "--workspace", str(ws_path), "--out", str(tmp_path / "after.jsonl")]) == 0
    after = _by_id((tmp_path / "after.jsonl").read_text(encoding="utf-8"))
    d = after["05-shared-photo-b"]
    assert d["final_status"] == "disqualified" and d["final_score"] is None and d["score"] == dup["score"]
    assert d["review"]["decision"] == "disqualify" and d["review"]["judge"] == "ann"
    assert d["review"]["reason"] == "same photo as entry 04" and d["review"]["decided_at"]
    assert d["provisional_rank"] == len(after) and d["rank"] is None and d["tier"] == "disqualified"  # last
    o = after["12-exif-time-order"]
    assert (o["final_status"], o["final_score"], o["rank"]) == ("overridden", 99.0, 1)
    a = after["06-mirrored-reupload"]
    assert a["final_status"] == "accepted" and a["final_score"] == a["score"]
    assert a["rank"] is not None and before["06-mirrored-reupload"]["rank"] is None  # accepted: may win now
    assert _app_order(c) == sorted(after, key=lambda e: after[e]["provisional_rank"])

    rows = list(csv.DictReader(io.StringIO(_export(ws_path, "csv"))))
    row = next(r for r in rows if r["entry_id"] == "05-shared-photo-b")
    assert (row["final_status"], row["final_score"], row["rank"], row["provisional_rank"], row["tier"],
            row["review_decision"]) == ("disqualified", "", "", str(len(after)), "disqualified", "disqualify")
    assert json.loads(row["review"]) == d["review"]

    from pipeline.report import build_report
    with Workspace(ws_path) as ws:
        index = build_report(ws, tmp_path / "report").read_text(encoding="utf-8")
    from pipeline.report.views import entry_key
    order = [m for m in re.findall(r'href="entries/([0-9a-f]{16})\.html"', index)]
    assert list(dict.fromkeys(order)) == [entry_key(e) for e in sorted(after, key=lambda e: after[e]["provisional_rank"])]


def _review(decision: str, score: float | None = None) -> Review:
    return Review("e", "ann", decision, score, "why", 1, "2026-01-01T00:00:00Z")  # type: ignore[arg-type]


def test_ranking_rule_tiers():
    items = [  # (name, status, score, review, seq)
        ("error", "error", None, None, 1),
        ("pending_high", "needs_review", 95.0, None, 2),
        ("clean_low", "scored", 40.0, None, 3),
        ("disq", "scored", 99.0, _review("disqualify"), 4),
        ("override", "needs_review", 10.0, _review("override", 70.0), 5),
        ("accepted", "needs_review", 60.0, _review("accept"), 6),
        ("clean_high", "scored", 80.0, None, 7),
        ("pending_low", "needs_review", 20.0, None, 8),
        ("error_overridden", "error", None, _review("override", 50.0), 9),
        ("error_accepted", "error", None, _review("accept"), 10),
        ("tie", "scored", 40.0, None, 11),
    ]
    order = [it[0] for _, it in ranking.ranked(items, key=lambda x: x[1:])]
    assert order == ["clean_high", "override", "accepted", "error_overridden", "clean_low", "tie",
                     "pending_high", "pending_low", "error", "error_accepted", "disq"]
    assert ranking.final_status("scored", None) == "not_needed"
    assert ranking.final_status("needs_review", None) == "pending"
    assert ranking.final_status("error", None) == "pending"
    assert ranking.final_score(88.0, _review("disqualify")) is None
    assert ranking.final_score(88.0, _review("override", 12.5)) == 12.5


# ------------------------------------------------------------------------------------ problems on entries
@pytest.mark.slow
def test_problems_on_their_entry_and_in_status(sample, tmp_path, capsys):
    batch = tmp_path / "batch"
    for e in ("01-full-cleanup", "02-partial-cleanup", "03-no-cleanup", "09-corrupt-file", "10-missing-after"):
        shutil.copytree(sample.root / e, batch / e)
    (batch / "01-full-cleanup" / "entry.json").write_text("{not json", encoding="utf-8")
    (batch / "02-partial-cleanup" / "after" / "notes.txt").write_text("hello", encoding="utf-8")
    (batch / "03-no-cleanup" / "during").mkdir()
    (batch / "stray.csv").write_text("a,b", encoding="utf-8")
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert main(["run", str(batch), "--workspace", str(ws), "--quiet"]) == 0
    run_line = capsys.readouterr().out.splitlines()[0]
    # one vocabulary for photos, the same numbers in run, status and report
    files = len([f for f in batch.rglob("*.jpg")])
    counts = f"{files} photo files received, {files - 1} distinct photos, 1 unusable"
    assert run_line.startswith(f"run 1: 5 entries, {counts}; ")
    from pipeline.report import build_report
    with Workspace(ws) as w:
        index = build_report(w, tmp_path / "rep").read_text(encoding="utf-8")
    assert counts in index
    recs = _by_id(_export(ws))
    codes = {e: [p["code"] for p in r["problems"]] for e, r in recs.items()}
    assert codes["01-full-cleanup"] == ["ENTRY_JSON_INVALID"]
    assert codes["02-partial-cleanup"] == ["NOT_A_PHOTO"]
    assert recs["02-partial-cleanup"]["problems"][0]["path"] == "02-partial-cleanup/after/notes.txt"
    assert codes["03-no-cleanup"] == ["UNKNOWN_ROLE"]
    assert codes["10-missing-after"] == ["NO_AFTER_PHOTOS"]
    assert codes["09-corrupt-file"] == ["PHOTO_TRUNCATED"]  # photo errors too
    assert recs["09-corrupt-file"]["problems"][0]["path"].startswith("09-corrupt-file/")
    capsys.readouterr()
    assert main(["status", "--workspace", str(ws), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entry_problems_by_code"] == {"ENTRY_JSON_INVALID": 1, "NOT_A_PHOTO": 1, "UNKNOWN_ROLE": 1,
                                            "NO_AFTER_PHOTOS": 1}
    assert st["unusable_photos_by_code"] == {"PHOTO_TRUNCATED": 1}
    assert st["batch_problems_by_code"] == {"UNEXPECTED_FILE": 1}
    assert sum(st["entries_by_final_status"].values()) == st["entries"] == 5
    assert main(["status", "--workspace", str(ws)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"5 entries, {counts}\n")
    assert "entry problems: ENTRY_JSON_INVALID 1, NOT_A_PHOTO 1, NO_AFTER_PHOTOS 1, UNKNOWN_ROLE 1" in text
    assert "unusable photos: PHOTO_TRUNCATED 1" in text and "batch problems: UNEXPECTED_FILE 1" in text
    assert "  UNEXPECTED_FILE (batch) stray.csv: " in text  # the latest run's problems, each on its line
    assert main(["export", "--workspace", str(ws), "--what", "problems"]) == 0
    probs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((p["scope"], p["code"]) for p in probs) == [
        ("batch", "UNEXPECTED_FILE"), ("entry", "ENTRY_JSON_INVALID"), ("entry", "NOT_A_PHOTO"),
        ("entry", "NO_AFTER_PHOTOS"), ("entry", "UNKNOWN_ROLE"), ("photo", "PHOTO_TRUNCATED")]
    assert {p["run_id"] for p in probs} == {1}


# -------------------------------------------------------------------------------------------- CSV contract
@pytest.mark.slow
def test_csv_flags_column_holds_the_jsonl_flags(ws_path):
    jl = _by_id(_export(ws_path))
    rows = {r["entry_id"]: r for r in csv.DictReader(io.StringIO(_export(ws_path, "csv")))}
    assert set(rows) == set(jl)
    for e, r in rows.items():
        assert json.loads(r["flags"]) == jl[e]["flags"]
        assert json.loads(r["problems"]) == jl[e]["problems"]
        assert r["flag_codes"].split() == [f["code"] for f in jl[e]["flags"]]  # convenience columns kept
        assert r["rank"] == ("" if jl[e]["rank"] is None else str(jl[e]["rank"]))
        assert r["provisional_rank"] == str(jl[e]["provisional_rank"]) and r["final_status"] == jl[e]["final_status"]
    assert any(json.loads(r["flags"]) and json.loads(r["flags"])[0]["severity"] for r in rows.values())


@pytest.mark.slow
def test_csv_guards_formulas_in_decisions(ws_path):
    with Workspace(ws_path) as ws:
        decisions.decide(ws, "01-full-cleanup", "ann", "disqualify", None, "=HYPERLINK(\"http://x\")", 0)
        text = export.to_csv(ws)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["entry_id"] == "01-full-cleanup")
    assert row["review_reason"].startswith("'=")
    assert json.loads(row["review"])["reason"].startswith("=")  # the JSON cell starts with '{', never a formula


@pytest.mark.slow
def test_demo_original_keeps_its_evidence_and_may_win(ws_path):
    """Demo entry 04 submitted first: 05 (an exact copy of its before photo) and 06 (mirrored copies) reused
    its photos later, so 04 keeps its evidence, is told who copied it, and ranks among the entries that may win."""
    recs = _by_id(_export(ws_path))
    orig = recs["04-shared-photo-a"]
    codes = [f["code"] for f in orig["flags"]]
    assert "DUPLICATE_PHOTO" not in codes and "PHOTO_COPIED_BY_LATER" in codes
    later = {f["message"].split()[1] for f in orig["flags"] if f["code"] == "PHOTO_COPIED_BY_LATER"}
    assert later == {"05-shared-photo-b", "06-mirrored-reupload"}
    assert orig["components"]["evidence_original"] == 1.0
    assert orig["status"] == "scored" and orig["tier"] == "may_win" and orig["rank"] is not None
    for e in ("05-shared-photo-b", "06-mirrored-reupload"):
        dup = [f for f in recs[e]["flags"] if f["code"] == "DUPLICATE_PHOTO"]
        assert dup and any("entry 04-shared-photo-a had it first (an earlier submission time)" in f["message"]
                           for f in dup), e
        assert recs[e]["tier"] == "pending" and recs[e]["rank"] is None
