"""Static HTML report: escaping, safe file names, boxes, overlay, duplicates, atomic replacement, CLI."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.report import build_report, views
from pipeline.report.site import MARKER, ReportError
from pipeline.types import SceneMatch
from pipeline.store import Workspace, matches
from wsfactory import HOSTILE_ENTRY_ID, HOSTILE_PARTICIPANT, make_workspace


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    make_workspace(root, 16, seed=3, hostile=True, thumb_side=160)
    return root


@pytest.fixture(scope="module")
def report(ws_path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "site"
    with Workspace(ws_path) as ws:
        build_report(ws, out)
    return out


def test_hostile_text_is_escaped_everywhere(report):
    pages = [report / "index.html", *sorted((report / "entries").glob("*.html"))]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html, page
        assert "<img src=x" not in html, page
        assert "<svg" not in html, page
        assert "<b>bold</b>" not in html, page
    index = (report / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    hostile = (report / "entries" / f"{views.entry_key(HOSTILE_ENTRY_ID)}.html").read_text(encoding="utf-8")
    assert "before/&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.jpg" in hostile
    assert "&lt;b&gt;bold&lt;/b&gt; claim &amp; &lt;i&gt;more&lt;/i&gt;" in hostile


def test_entry_pages_have_safe_names_and_every_entry_has_one(report, ws_path):
    names = sorted(p.name for p in (report / "entries").iterdir())
    assert all(re.fullmatch(r"[0-9a-f]{16}\.html", n) for n in names)
    with Workspace(ws_path) as ws:
        assert sorted(f"{views.entry_key(e)}.html" for e in ws.entry_ids()) == names
    index = (report / "index.html").read_text(encoding="utf-8")
    assert all(f'href="entries/{n}"' in index for n in names)


def test_ranking_order_follows_the_ranking_rule(ws_path):
    from pipeline import ranking
    with Workspace(ws_path) as ws:
        rows = views.ranking_rows(ws)
    tiers = [ranking.tier(r.status, r.pipeline_score, r.review) for r in rows]
    assert tiers == sorted(tiers) and set(tiers) >= {0, 1, 2}  # may win, then pending, then errors
    for t in set(tiers):  # by score within a tier, entries without one last
        scores = [r.score for r, k in zip(rows, tiers) if k == t]
        known = [s for s in scores if s is not None]
        assert scores[:len(known)] == sorted(known, reverse=True)
    assert all(r.status == "scored" for r, k in zip(rows, tiers) if k == 0)
    assert [r.provisional_rank for r in rows] == list(range(1, len(rows) + 1))
    k = tiers.count(0)  # rank: the place among the entries that may win, none for the others
    assert [r.rank for r in rows] == list(range(1, k + 1)) + [None] * (len(rows) - k)
    assert [r.tier for r in rows] == [ranking.TIERS[t] for t in tiers]


def test_entry_page_draws_boxes_above_threshold_and_copies_thumbs(report, ws_path):
    with Workspace(ws_path) as ws:
        eid = ws.entry_ids()[1]
        e = views.entry_view(ws, eid)
        det = ws.latest_result(e.photos[0].sha256, "detect")
    n_above = sum(1 for c in det["confidence"] if c >= e.min_confidence)
    assert n_above == len(det["confidence"]) - 1  # the factory adds one box under the threshold
    html = (report / "entries" / f"{e.key}.html").read_text(encoding="utf-8")
    before_html = html.split('<div class="side">')[1]
    assert before_html.count('class="box box-det"') == n_above
    for p in e.photos:
        if p.sha256:
            assert (report / "thumbs" / f"{p.sha256}.jpg").is_file()
            assert f"../thumbs/{p.sha256}.jpg" in html


def test_box_percentages_match_full_size_pixels(ws_path):
    with Workspace(ws_path) as ws:
        e = views.entry_view(ws, ws.entry_ids()[2])
    p = e.photos[0]
    for b in p.boxes:
        x1, y1, x2, y2 = b.xyxy
        assert b.left == pytest.approx(100 * x1 / p.full_size[0], abs=0.01)
        assert b.width == pytest.approx(100 * (x2 - x1) / p.full_size[0], abs=0.02)
        assert b.top == pytest.approx(100 * y1 / p.full_size[1], abs=0.01)


def test_matrix3d_maps_thumbnail_corners_like_the_homography():
    h = np.array([[1.1, 0.05, 120.0], [-0.02, 0.95, -40.0], [1e-5, 2e-5, 1.0]])
    scene = SceneMatch("a" * 64, "b" * 64, True, 100, 200, 0.5, 0.9, tuple(h.reshape(-1)))
    before = views.PhotoView("b.jpg", "before", "a" * 64, None, True, (400, 300), (4000, 3000))
    after = views.PhotoView("a.jpg", "after", "b" * 64, None, True, (300, 200), (3000, 2000))
    css = views._matrix3d(scene, before, after)
    vals = [float(v) for v in css[len("matrix3d("):-1].split(",")]
    m4 = np.array(vals).reshape(4, 4).T  # CSS is column-major
    for x, y in [(0, 0), (400, 0), (0, 300), (400, 300), (123, 77)]:
        p = m4 @ np.array([x, y, 0, 1.0])
        got = p[:2] / p[3]
        full = h @ np.array([x * 10, y * 10, 1.0])
        want = full[:2] / full[2] / 10  # after thumbnail is 1/10 of full size
        assert got == pytest.approx(want, rel=1e-5, abs=1e-4)


def test_overlay_and_duplicate_evidence_rendered(report, ws_path):
    with Workspace(ws_path) as ws:
        ids = ws.entry_ids()
        dup = views.entry_view(ws, ids[3])  # the factory reuses entry 2's before photo in entry 3
    assert dup.duplicates and dup.duplicates[0].other_entry_id == ids[2]
    html = (report / "entries" / f"{dup.key}.html").read_text(encoding="utf-8")
    assert f'href="../entries/{views.entry_key(ids[2])}.html"' in html
    assert "DUPLICATE_PHOTO" in html
    assert "transform:matrix3d(" in html


def test_photo_errors_are_listed_with_reason(report, ws_path):
    with Workspace(ws_path) as ws:
        eid = ws.entry_ids()[5]  # every 11th entry from 5 has an unreadable after photo
    html = (report / "entries" / f"{views.entry_key(eid)}.html").read_text(encoding="utf-8")
    assert "PHOTO_TRUNCATED" in html and "the file ends before the image data does" in html


def test_rebuild_replaces_the_site_and_refuses_foreign_folders(ws_path, tmp_path):
    out = tmp_path / "site"
    with Workspace(ws_path) as ws:
        build_report(ws, out)
        (out / "entries" / "stale.html").write_text("old")
        build_report(ws, out, lang="vi")
        assert not (out / "entries" / "stale.html").exists()
        assert (out / MARKER).exists()
        assert "Bảng xếp hạng" in (out / "index.html").read_text(encoding="utf-8")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]  # no temp folders left
        foreign = tmp_path / "home"
        foreign.mkdir()
        (foreign / "thesis.txt").write_text("precious")
        with pytest.raises(ReportError):
            build_report(ws, foreign)
        assert (foreign / "thesis.txt").read_text() == "precious"


def test_report_command(ws_path, tmp_path, capsys):
    from pipeline.cli import main
    out = tmp_path / "r"
    assert main(["report", "--workspace", str(ws_path), "--out", str(out), "--lang", "en"]) == 0
    assert (out / "index.html").is_file()
    assert "report written" in capsys.readouterr().out
    assert main(["report", "--workspace", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_participant_shown_verbatim(ws_path):
    with Workspace(ws_path) as ws:
        rows = views.ranking_rows(ws)
    assert any(r.participant == HOSTILE_PARTICIPANT for r in rows)


def test_near_duplicates_from_the_dedup_stage_are_shown_on_both_entries(tmp_path):
    from pipeline.types import DuplicateMatch
    ids = make_workspace(tmp_path / "ws", 4, seed=9, thumb_side=64)
    with Workspace(tmp_path / "ws") as ws:
        a = ws.entry_photos(ids[0])[0].sha256
        b = ws.entry_photos(ids[1])[1].sha256
        m = DuplicateMatch(b, a, "mirrored_rotated", 3, "phash", "other")
        # as the dedup stage records it: the match (pipeline.store.matches) and the later entry's result
        matches.put_matches(ws, "k", [b], [matches.StoredMatch(b, a, "mirrored_rotated", 3, "phash", 0.01)])
        ws.put_entry_result(ids[1], "dedup", "k", {"entry_id": ids[1], "matches": [m.to_dict()], "flags": []})
        assert "mirrored_rotated" not in {d.kind for d in views.entry_view(ws, ids[2]).duplicates}  # not involved
        later = views.entry_view(ws, ids[1])
        assert [(d.other_entry_id, d.kind, d.distance) for d in later.duplicates] == \
            [(ids[0], "mirrored_rotated", 3)]
        # the earlier entry learns of it through the later entry's stored result
        earlier = views.entry_view(ws, ids[0])
        assert [(d.other_entry_id, d.first_seen) for d in earlier.duplicates] == [(ids[1], "this")]


def test_no_overlay_when_not_the_same_place():
    h = tuple(np.eye(3).reshape(-1))
    before = views.PhotoView("b.jpg", "before", "a" * 64, None, True, (400, 300), (4000, 3000))
    after = views.PhotoView("a.jpg", "after", "b" * 64, None, True, (400, 300), (4000, 3000))
    same = SceneMatch("a" * 64, "b" * 64, True, 100, 200, 0.5, 0.9, h)
    other = SceneMatch("a" * 64, "b" * 64, False, 12, 200, 0.06, 0.1, h)
    assert views._matrix3d(same, before, after) is not None
    assert views._matrix3d(other, before, after) is None


def test_the_matched_part_of_a_copy_is_drawn_on_both_photos(tmp_path):
    """A copy's matched region (issue 22) is drawn over both thumbnails, each in its own photo's frame,
    with a legend; a region that is not four fractions in order is not drawn (stored results are data)."""
    from pipeline.types import DuplicateMatch
    ids = make_workspace(tmp_path / "ws", 4, seed=9, thumb_side=64)
    with Workspace(tmp_path / "ws") as ws:
        a = ws.entry_photos(ids[0])[0].sha256
        b = ws.entry_photos(ids[1])[1].sha256
        c = ws.entry_photos(ids[2])[1].sha256
        m = DuplicateMatch(b, a, "cropped", 4, "phash_crop", "other", (0.0, 0.0, 1.0, 1.0), (0.1, 0.2, 0.7, 0.9))
        bad = {**DuplicateMatch(c, a, "collage", 5, "phash", "other").to_dict(),
               "region": ['1;background:url(x)', 0, 1, 1], "other_region": [0.5, 0.5, 0.2, 0.9]}
        matches.put_matches(ws, "k", [b, c], [matches.StoredMatch(b, a, "cropped", 4, "phash_crop", 0.01),
                                              matches.StoredMatch(c, a, "collage", 5, "phash", 0.0)])
        ws.put_entry_result(ids[1], "dedup", "k", {"entry_id": ids[1], "matches": [m.to_dict()], "flags": []})
        ws.put_entry_result(ids[2], "dedup", "k", {"entry_id": ids[2], "matches": [bad], "flags": []})
        later = views.entry_view(ws, ids[1]).duplicates
        assert [(d.region, d.other_region) for d in later] == \
            [(views.RegionView(0.0, 0.0, 100.0, 100.0), views.RegionView(10.0, 20.0, 60.0, 70.0))]
        earlier = {d.other_entry_id: d for d in views.entry_view(ws, ids[0]).duplicates}
        assert (earlier[ids[1]].region, earlier[ids[1]].other_region) == \
            (views.RegionView(10.0, 20.0, 60.0, 70.0), views.RegionView(0.0, 0.0, 100.0, 100.0))
        assert (earlier[ids[2]].region, earlier[ids[2]].other_region) == (None, None)
        build_report(ws, tmp_path / "site")
    page = lambda e: (tmp_path / "site" / "entries" / f"{views.entry_key(e)}.html").read_text(encoding="utf-8")  # noqa: E731
    drawn = re.compile(r'<span class="region" style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%"')
    assert drawn.findall(page(ids[1])) == [("0.0", "0.0", "100.0", "100.0"), ("10.0", "20.0", "60.0", "70.0")]
    assert drawn.findall(page(ids[0])) == [("10.0", "20.0", "60.0", "70.0"), ("0.0", "0.0", "100.0", "100.0")]
    assert "the matched part" in page(ids[1]) and 'class="region-key"' in page(ids[1])
    assert drawn.findall(page(ids[2])) == [] and "background:url" not in page(ids[2])
    assert 'class="region-key"' not in page(ids[2])  # no legend without a region
