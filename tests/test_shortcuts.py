"""Judging at speed: the review app's keyboard shortcuts are listed on its pages, and the links they follow
are there (the keys themselves are driven in a real browser: tests/test_browser.py)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from pipeline.report import views
from pipeline.review import auth, decisions
from pipeline.review.app import create_app
from pipeline.store import Workspace
from wsfactory import make_workspace

PASSWORD = "correct horse battery"
JS = Path(__file__).resolve().parents[1] / "pipeline" / "report" / "static" / "review.js"


@pytest.fixture()
def client(tmp_path):
    make_workspace(tmp_path / "ws", 9, seed=12, thumbs=False)
    with Workspace(tmp_path / "ws") as ws:
        decisions.add_user(ws, "ann", "judge", auth.hash_password(PASSWORD))
        rows = views.ranking_rows(ws)
    c = create_app(tmp_path / "ws").test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": tok}).status_code == 302
    return c, rows


def _href(html: str, id_: str) -> str | None:
    m = re.search(rf'<a [^>]*href="/entry\?id=([^"]+)"[^>]*id="{id_}"|<a id="{id_}"[^>]*href="/entry\?id=([^"]+)"', html)
    return unquote_plus(m.group(1) or m.group(2)) if m else None


def test_entry_page_lists_the_keys_and_links_its_neighbours(client):
    c, rows = client
    order = [r.entry_id for r in rows]
    html = c.get("/entry", query_string={"id": order[3]}).text
    legend = re.search(r'<p class="shortcuts muted" id="shortcuts">(.*?)</p>', html, flags=re.S).group(1)
    for key in ("n", "p", "u", "a", "o", "d", "Enter", "Esc"):
        assert f"<kbd>{key}</kbd>" in legend, key
    assert _href(html, "nav-prev") == order[2] and _href(html, "nav-next") == order[4]
    assert _href(html, "nav-next-unreviewed") == order[4]
    first = c.get("/entry", query_string={"id": order[0]}).text
    assert _href(first, "nav-prev") is None and _href(first, "nav-next") == order[1]
    c.get("/lang/vi")
    assert "Phím tắt" in c.get("/entry", query_string={"id": order[3]}).text


def test_ranking_page_points_u_at_the_first_entry_waiting_for_a_judge(client):
    c, rows = client
    waiting = next(r.entry_id for r in rows if r.status != "scored")
    html = c.get("/").text
    m = re.search(r'id="shortcuts" data-nav-next-unreviewed="/entry\?id=([^"]+)"', html)
    assert m and unquote_plus(m.group(1)) == waiting


def test_the_script_binds_every_listed_key_and_leaves_typing_alone():
    js = JS.read_text(encoding="utf-8")
    for key in ("n", "p", "u", "a", "o", "d"):
        assert re.search(rf"\b{key}: function", js), key
    assert '"TEXTAREA"' in js and "Escape" in js and "requestSubmit" in js
