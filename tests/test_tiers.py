"""A ranking people can publish: ``rank`` only among the entries that may win, ``provisional_rank`` for the whole
order, the tiers under their own headings with a sentence each, and "provisional" said wherever results are
shown (report, app, export's standard error, status) while an entry waits for a judge."""
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
from pipeline.report import build_report, views
from pipeline.review import auth, decisions
from pipeline.review.app import create_app
from pipeline.types import Review
from pipeline.store import Workspace
from wsfactory import make_workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiers") / "ws"
    make_workspace(root, 23, seed=4, thumb_side=64)  # every 7th a copy (needs review), every 11th an error
    with Workspace(root) as ws:
        decisions.add_user(ws, "ann", "judge", auth.hash_password(PASSWORD))
    return root


@pytest.fixture()
def ws_path(ws_template, tmp_path) -> Path:
    return Path(shutil.copytree(ws_template, tmp_path / "ws"))


def _records(ws_path: Path) -> list[dict]:
    with Workspace(ws_path, create=False) as ws:
        return export.records(ws)


def _review(decision: str, score: float | None = None) -> Review:
    return Review("e", "ann", decision, score, "why", 1, "2026-01-01T00:00:00Z")  # type: ignore[arg-type]


def test_places_rank_only_entries_that_may_win():
    items = [("pending_high", "needs_review", 95.0, None, 1), ("clean_zero", "scored", 0.0, None, 2),
             ("clean_high", "scored", 80.0, None, 3), ("error", "error", None, None, 4),
             ("disq", "scored", 99.0, _review("disqualify"), 5), ("override", "needs_review", 10.0, _review("override", 70.0), 6)]
    got = [(p.item[0], p.rank, p.provisional_rank, p.tier) for p in ranking.places(items, key=lambda x: x[1:])]
    assert got == [("clean_high", 1, 1, "may_win"), ("override", 2, 2, "may_win"), ("clean_zero", 3, 3, "may_win"),
                   ("pending_high", None, 4, "pending"), ("error", None, 5, "error"), ("disq", None, 6, "disqualified")]


def test_export_rank_fields_and_csv(ws_path):
    recs = _records(ws_path)
    may_win = [r for r in recs if r["tier"] == "may_win"]
    others = [r for r in recs if r["tier"] != "may_win"]
    assert may_win and others and {r["tier"] for r in others} >= {"pending", "error"}
    assert sorted(r["rank"] for r in may_win) == list(range(1, len(may_win) + 1))
    assert all(r["rank"] is None for r in others)
    assert sorted(r["provisional_rank"] for r in recs) == list(range(1, len(recs) + 1))
    assert max(r["provisional_rank"] for r in may_win) < min(r["provisional_rank"] for r in others)
    with Workspace(ws_path, create=False) as ws:
        rows = list(csv.DictReader(io.StringIO(export.to_csv(ws))))
    by_id = {r["entry_id"]: r for r in recs}
    for row in rows:
        r = by_id[row["entry_id"]]
        assert row["rank"] == ("" if r["rank"] is None else str(r["rank"]))
        assert row["provisional_rank"] == str(r["provisional_rank"]) and row["tier"] == r["tier"]


def test_export_and_status_say_the_results_are_provisional_until_no_entry_waits(ws_path, tmp_path, capsys):
    recs = _records(ws_path)
    waiting = [r["entry_id"] for r in recs if r["final_status"] == "pending"]
    assert main(["export", "--workspace", str(ws_path), "--out", str(tmp_path / "r.jsonl")]) == 0
    err = capsys.readouterr().err.strip()
    assert err == (f"export: provisional results: {len(waiting)} entries wait for a judge; 'rank' places the "
                   f"{sum(r['rank'] is not None for r in recs)} entries that may win, 'provisional_rank' the whole order")
    assert main(["status", "--workspace", str(ws_path)]) == 0
    out = capsys.readouterr().out
    t = {k: sum(r["tier"] == k for r in recs) for k in ranking.TIERS}
    assert (f"ranking: {t['may_win']} may win (ranked), {t['pending']} flagged for a judge, {t['error']} could not "
            f"be scored, {t['disqualified']} disqualified") in out
    assert f"results are provisional: {len(waiting)} entries wait for a judge" in out
    assert main(["status", "--workspace", str(ws_path), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entries_by_tier"] == t and st["waiting_for_a_judge"] == len(waiting)

    with Workspace(ws_path) as ws:  # judges decide every waiting entry: the results are final
        for e in waiting:
            decisions.decide(ws, e, "ann", "disqualify", None, "checked", 0)
    assert main(["export", "--workspace", str(ws_path), "--out", str(tmp_path / "r.jsonl")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["status", "--workspace", str(ws_path)]) == 0
    assert "provisional" not in capsys.readouterr().out


def _sections(html: str) -> list[tuple[str, list[str]]]:
    """(heading, linked entry keys or ids) of each tier section, in page order."""
    out = []
    for m in re.finditer(r'<section class="tier tier-(\w+)">(.*?)</section>', html, flags=re.S):
        out.append((m.group(1), re.findall(r'href="(?:entries/([0-9a-f]{16})\.html|/entry\?id=([^"&]+))"', m.group(2))))
    return out


@pytest.mark.parametrize("lang, banner, heading", [
    ("en", "Provisional results: {n} entries wait for a judge.", "Waiting for a judge"),
    ("vi", "Kết quả tạm thời: {n} bài dự thi đang chờ giám khảo.", "Chờ giám khảo")])
def test_report_puts_each_tier_under_its_heading_with_the_banner(ws_path, tmp_path, lang, banner, heading):
    recs = _records(ws_path)
    with Workspace(ws_path) as ws:
        html = build_report(ws, tmp_path / "rep", lang=lang).read_text(encoding="utf-8")
    n = sum(r["final_status"] == "pending" for r in recs)
    assert banner.format(n=n) in html
    assert html.index(banner.format(n=n)) < html.index("<table")
    assert f"<h2>{heading} " in html
    sections = _sections(html)
    assert [s for s, _ in sections] == [t for t in ranking.TIERS if any(r["tier"] == t for r in recs)]
    for tier, links in sections:
        keys = [k for k, _ in links]
        assert keys == [views.entry_key(r["entry_id"]) for r in sorted(recs, key=lambda r: r["provisional_rank"])
                        if r["tier"] == tier]
    may_win = html[html.index('<section class="tier tier-may_win">'):html.index('<section class="tier tier-pending">')]
    assert [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', may_win)] == \
        list(range(1, sum(r["tier"] == "may_win" for r in recs) + 1))
    pending = html[html.index('<section class="tier tier-pending">'):]
    assert not re.findall(r'<td class="num">\d+</td>', pending)  # no rank outside the entries that may win


def _signed_in(app):
    c = app.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": tok}).status_code == 302
    return c, re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def test_app_shows_tiers_banner_and_the_status_a_decision_leaves(ws_path):
    recs = _records(ws_path)
    c, tok = _signed_in(create_app(ws_path))
    html = c.get("/").text
    waiting = [r for r in recs if r["final_status"] == "pending"]
    assert f"Provisional results: {len(waiting)} entries wait for a judge." in html
    assert [s for s, _ in _sections(html)] == [t for t in ranking.TIERS if any(r["tier"] == t for r in recs)]
    need = [r for r in recs if r["status"] != "scored"]
    assert f"0 of {len(need)} entries that need a judge decided" in html
    flagged = next(r for r in recs if r["status"] == "needs_review")
    page = c.get("/entry", query_string={"id": flagged["entry_id"]}).text
    assert "Waiting for a judge" in page and 'class="status st-needs_review"' in page
    r = c.post("/entry/decide", data={"entry_id": flagged["entry_id"], "base_version": "0", "decision": "override",
                                      "score_override": "55", "reason": "checked", "csrf_token": tok})
    assert r.status_code == 302
    page = c.get("/entry", query_string={"id": flagged["entry_id"]}).text
    assert 'class="status st-overridden">score set by a judge<' in page and "needs review" not in page
    html = c.get("/").text
    assert f"1 of {len(need)} entries that need a judge decided" in html
    assert f"Provisional results: {len(waiting) - 1} entries wait for a judge." in html
    # not grouped when sorted another way
    assert "<section" not in c.get("/?sort=entry").text
