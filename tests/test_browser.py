"""The review app in a real browser: Playwright for Python driving Debian's chromium, headless.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python package; no
``playwright install`` (no browser download). Skipped with a reason when either is missing.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from pipeline.review import auth, decisions
    from pipeline.review.app import BackgroundServer, create_app
    from pipeline.store import Workspace
    from wsfactory import make_workspace

    root = tmp_path_factory.mktemp("ws")
    make_workspace(root, 14, seed=7, hostile=True, thumb_side=200)
    with Workspace(root) as ws:
        decisions.add_user(ws, "ann", "judge", auth.hash_password(PASSWORD))
    srv = BackgroundServer(create_app(root))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.dialogs = []  # every alert/confirm/prompt the page opens (there must be none)
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    ctx.close()


def sign_in(page, server) -> None:
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', "ann")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login button[type="submit"]')
    page.wait_for_url(server.url + "/")


def test_signed_out_user_is_sent_to_login(page, server):
    for path in ("/", "/audit", "/entry?id=E07-00001"):
        page.goto(server.url + path)
        assert urlpath(page.url) == "/login", path
    assert page.locator('form.login input[name="csrf_token"]').count() == 1


def test_sign_in_override_score_and_ranking_changes(page, server):
    sign_in(page, server)
    rows = page.locator("table.ranking tbody tr")
    last = rows.nth(rows.count() - 1)
    entry_id = last.locator("td").nth(1).inner_text().strip()
    assert last.locator("td").nth(0).inner_text().strip() != "1"
    last.locator("td a").first.click()
    page.wait_for_url(re.compile(r".*/entry\?id=.*"))
    assert entry_id in page.locator("h1").inner_text()
    page.check('input[name="decision"][value="override"]')
    page.fill('input[name="score_override"]', "100")
    page.fill('textarea[name="reason"]', "checked the photos by hand")
    page.click('button[name="save"]')
    page.wait_for_url(re.compile(r".*saved=decision.*"))
    assert "Decision saved" in page.content()
    page.goto(server.url + "/")
    first = page.locator("table.ranking tbody tr").first
    assert first.locator("td").nth(1).inner_text().strip() == entry_id
    assert first.locator("td").nth(3).inner_text().startswith("100.0")
    assert page.dialogs == []


def test_hostile_participant_is_text_and_runs_no_script(page, server):
    sign_in(page, server)
    names = page.locator("table.ranking span.participant").all_inner_texts()
    assert "<script>alert(1)</script>" in names
    assert page.get_by_text("<script>alert(1)</script>", exact=True).is_visible()
    link = page.locator("table.ranking a", has_text="svg onload")
    link.click()
    page.wait_for_load_state("load")
    assert page.get_by_text("<script>alert(1)</script>", exact=True).count() == 1
    assert page.locator("svg").count() == 0 and page.locator('img[src="x"]').count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_post_without_valid_csrf_token_is_refused(page, server):
    sign_in(page, server)
    form = {"entry_id": "E07-00002", "base_version": "0", "decision": "accept", "reason": ""}
    r = page.request.post(server.url + "/entry/decide", form=form, max_redirects=0)
    assert r.status in (400, 403)
    r = page.request.post(server.url + "/entry/decide", form={**form, "csrf_token": "forged"}, max_redirects=0)
    assert r.status in (400, 403)
    page.goto(server.url + "/audit")
    assert "E07-00002" not in page.locator("main").inner_text()


def test_draw_a_missed_litter_box(page, server):
    sign_in(page, server)
    page.goto(server.url + "/entry?id=E07-00003")
    frame = page.locator(".frame.drawable").first
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 50, steps=5)
    page.mouse.up()
    form = page.locator("form.corr").first
    assert form.locator('input[name="missed"]').count() == 1
    form.locator("summary").click()
    form.locator('button[type="submit"]').click()
    page.wait_for_url(re.compile(r".*saved=corrections.*"))
    assert page.locator(".frame.drawable").first.locator(".box-missed").count() == 1


def urlpath(url: str) -> str:
    from urllib.parse import urlsplit
    return urlsplit(url).path


def test_a_judge_clears_every_entry_with_the_keyboard(page, server):
    """Keys only, no mouse: u opens the next entry nobody decided, o/Tab/Ctrl+Enter override with a reason,
    a accepts, n/p move in ranking order; the queue ends empty. (Runs last: it decides every entry.)"""
    sign_in(page, server)
    assert page.locator("#shortcuts kbd").count() >= 1
    not_saved = lambda url: "saved=" not in url  # noqa: E731
    page.keyboard.press("u")
    page.wait_for_url(re.compile(r".*/entry\?id=.*"))
    first = page.url
    page.keyboard.press("n")
    page.wait_for_url(lambda url: url != first)
    page.keyboard.press("p")
    page.wait_for_url(first)
    page.keyboard.press("o")
    assert page.evaluate("document.activeElement.name") == "score_override"
    page.keyboard.type("55")
    page.keyboard.press("Tab")
    page.keyboard.type("checked with the keyboard")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*saved=decision.*"))
    assert "Decision saved" in page.content()
    for _ in range(60):
        if page.locator("#nav-next-unreviewed").count() == 0:
            break
        page.keyboard.press("u")
        page.wait_for_url(not_saved)
        page.keyboard.press("a")
        page.wait_for_url(re.compile(r".*saved=decision.*"))
    assert page.locator("#nav-next-unreviewed").count() == 0
    page.goto(server.url + "/")
    progress = page.locator("p.progress").inner_text()
    m = re.search(r"(\d+) of (\d+) entries that need a judge decided", progress)
    assert m and m.group(1) == m.group(2), progress
    assert "Final results" in page.locator("main").inner_text()
    assert page.dialogs == []
