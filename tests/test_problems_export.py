"""Batch problems reach the operator: ``export --what problems`` (JSON Lines and CSV) lists every problem of
every run, the batch's own and the entries' and photos', with run id, code, path and message; the report has a
page for them; ``status`` prints the latest run's."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.report import build_report, views
from pipeline.types import Problem
from pipeline.store import Workspace
from wsfactory import make_workspace

HOSTILE = '<img src=x onerror=alert(1)>=cmd|" /C calc"!A0.csv'


@pytest.fixture()
def ws_path(tmp_path) -> Path:
    root = tmp_path / "ws"
    ids = make_workspace(root, 12, seed=6, thumb_side=48)  # entry 11 has an unreadable after photo
    with Workspace(root) as ws:
        run1 = ws.start_run("synthetic", "{}", "h")  # two runs of the batch, each met a stray file
        ws.finish_run(run1, "finished", {"batch_problems": [{"code": "UNEXPECTED_FILE", "message": "stray file notes.txt",
                                                             "path": "notes.txt"}]})
        run2 = ws.start_run("synthetic", "{}", "h")
        ws.finish_run(run2, "finished", {"batch_problems": [
            {"code": "UNEXPECTED_FILE", "message": "stray file notes.txt", "path": "notes.txt"},
            {"code": "MANIFEST_ROW_INVALID", "message": "row 7 has no entry_id", "path": HOSTILE}]})
        sub = ws.submission(ids[2])
        ws.put_submission(dataclasses.replace(sub, problems=(Problem.worded("ENTRY_JSON_INVALID", "entry.json unreadable",
                                                                     f"{ids[2]}/entry.json"),)), "synthetic")
    return root


def _problems(ws_path: Path, capsys, fmt: str = "jsonl") -> str:
    assert main(["export", "--workspace", str(ws_path), "--what", "problems", "--format", fmt]) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith("export: ") and "problems" in cap.err
    return cap.out


def test_problems_export_lists_every_run_batch_entry_and_photo_problem(ws_path, capsys):
    recs = [json.loads(line) for line in _problems(ws_path, capsys).splitlines()]
    assert all(set(r) == {"run_id", "batch", "scope", "entry_id", "code", "path", "message"} for r in recs)
    batch = [(r["run_id"], r["code"], r["path"]) for r in recs if r["scope"] == "batch"]
    assert batch == [(2, "UNEXPECTED_FILE", "notes.txt"), (3, "UNEXPECTED_FILE", "notes.txt"),
                     (3, "MANIFEST_ROW_INVALID", HOSTILE)]
    entry = [r for r in recs if r["scope"] == "entry"]
    assert [(e["entry_id"], e["code"], e["run_id"]) for e in entry] == [("E06-00002", "ENTRY_JSON_INVALID", 3)]
    photos = [r for r in recs if r["scope"] == "photo"]
    assert photos and all(p["entry_id"] and p["path"] and p["code"] and p["message"] for p in photos)
    assert [r["run_id"] for r in recs] == sorted(r["run_id"] for r in recs)  # by run

    rows = list(csv.DictReader(io.StringIO(_problems(ws_path, capsys, "csv"))))
    assert [(r["run_id"], r["scope"], r["code"]) for r in rows] == [(str(r["run_id"]), r["scope"], r["code"]) for r in recs]
    hostile = next(r for r in rows if r["code"] == "MANIFEST_ROW_INVALID")
    assert hostile["path"] == HOSTILE  # starts with '<': not a formula
    assert next(r for r in rows if r["scope"] == "entry")["entry_id"] == "E06-00002"


def test_report_has_a_problems_page(ws_path, tmp_path, capsys):
    with Workspace(ws_path) as ws:
        index = build_report(ws, tmp_path / "rep")
    assert 'href="problems.html"' in index.read_text(encoding="utf-8")
    html = (tmp_path / "rep" / "problems.html").read_text(encoding="utf-8")
    assert "MANIFEST_ROW_INVALID" in html and "UNEXPECTED_FILE" in html and "ENTRY_JSON_INVALID" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # escaped
    assert f'href="entries/{views.entry_key("E06-00002")}.html"' in html
    n = len(_problems(ws_path, capsys).splitlines())
    assert html.count('<tr class="scope-') == n


def test_status_prints_the_latest_runs_problems(ws_path, capsys):
    assert main(["status", "--workspace", str(ws_path)]) == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if line.startswith("problems of run "))
    assert head.startswith("problems of run 3 (") and "export --what problems" in head
    assert "  MANIFEST_ROW_INVALID (batch) " in out and "row 7 has no entry_id" in out
    assert "  ENTRY_JSON_INVALID (entry) entry E06-00002 E06-00002/entry.json: entry.json unreadable" in out
    assert main(["status", "--workspace", str(ws_path), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert {p["run_id"] for p in st["latest_run_problems"]} == {3}
    assert [p["code"] for p in st["latest_run_problems"] if p["scope"] == "batch"] == \
        ["UNEXPECTED_FILE", "MANIFEST_ROW_INVALID"]
