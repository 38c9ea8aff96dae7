#!/usr/bin/env python3
"""Screenshots of the review app for docs/ (PNG, each kept under 500 KB): the ranking and an entry page, the
ranking's tiers with the provisional banner (review-tiers.png) and an entry's explained score parts
(review-score-parts.png).

Builds a small demo-like workspace with tests/wsfactory.py (or uses --workspace, e.g. the demo's: its score
cards are the pipeline's, so the score parts show their points), records two decisions, serves the app on a
free local port and drives Debian's chromium through Playwright. With --workspace it adds an account named
"screenshot" to that workspace.

    .venv/bin/python scripts/screenshots.py [--workspace WS] [--out docs]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
MAX_BYTES = 500 * 1024


def main() -> int:
    from playwright.sync_api import sync_playwright

    from pipeline.report import views
    from pipeline.review import auth, decisions
    from pipeline.review.app import BackgroundServer, create_app
    from pipeline.store import Workspace
    from pipeline.store import reviews as review_rows

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, help="an existing workspace (default: a generated one)")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--entry", help="entry id to show (default: the first with a duplicate photo, else the first)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = args.workspace
    if root is None:
        from wsfactory import make_workspace
        root = Path(tmp.name) / "ws"
        ids = make_workspace(root, 12, seed=11, thumb_side=480)
        with Workspace(root) as ws:
            decisions.decide(ws, ids[4], "lan", "override", 72.0, "the after photo shows the whole street cleaned", 0)
            decisions.decide(ws, ids[8], "minh", "accept", None, "", 0)
    with Workspace(root) as ws:
        if review_rows.get_user(ws, "screenshot") is None:
            decisions.add_user(ws, "screenshot", "judge", auth.hash_password("screenshot password"))
        rows = views.ranking_rows(ws)
        entry = args.entry or next((r.entry_id for r in rows if "DUPLICATE_PHOTO" in r.flag_codes), ws.entry_ids()[0])
        parts_entry = next((r.entry_id for r in rows if (r.score or 0) > 0 and _parts_add_up(ws, r.entry_id)),
                           entry)
    args.out.mkdir(parents=True, exist_ok=True)
    srv = BackgroundServer(create_app(root))
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1280, "height": 860})
            page.goto(srv.url + "/login")
            page.fill('input[name="username"]', "screenshot")
            page.fill('input[name="password"]', "screenshot password")
            page.click('form.login button[type="submit"]')
            page.wait_for_url(srv.url + "/")
            shots = {"review-ranking.png": "/", "review-entry.png": "/entry?" + urlencode({"id": entry})}
            for name, path in shots.items():
                page.goto(srv.url + path)
                out = args.out / name
                page.screenshot(path=str(out), full_page=name != "review-ranking.png")
                if out.stat().st_size > MAX_BYTES:  # too tall: keep the top of the page
                    page.screenshot(path=str(out), full_page=False)
                print(f"{out}: {out.stat().st_size // 1024} KB")
            page.goto(srv.url + "/")
            _shot(page.locator("main"), args.out / "review-tiers.png", clip_height=1100)
            page.goto(srv.url + "/entry?" + urlencode({"id": parts_entry}))
            _shot(page.locator("table.components").locator("xpath=.."), args.out / "review-score-parts.png")
            b.close()
    finally:
        srv.stop()
        tmp.cleanup()
    return 0


def _parts_add_up(ws, entry_id: str) -> bool:
    from pipeline.report import views

    e = views.entry_view(ws, entry_id, with_reviews=False)
    return bool(e and e.parts and e.parts[0].points is not None)


def _shot(locator, out: Path, clip_height: int | None = None) -> None:
    """A screenshot of one element (its top ``clip_height`` pixels at most), kept under MAX_BYTES."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page = locator.page
    if clip_height and box and box["height"] > clip_height:
        page.screenshot(path=str(out), full_page=True,
                        clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": clip_height})
    else:
        locator.screenshot(path=str(out))
    print(f"{out}: {out.stat().st_size // 1024} KB")
    if out.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{out} is larger than {MAX_BYTES // 1024} KB")


if __name__ == "__main__":
    sys.exit(main())
