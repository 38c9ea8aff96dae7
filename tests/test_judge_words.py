"""Words for judges, in English and Vietnamese: each score part with its meaning, weight and points adding up
to the score; one badge per flag code with a count and every message listed; copies named as judges say them;
the entry's problems apart from its photos'; boxes shown and items counted explained where they differ."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.report import build_report, views
from pipeline.score.flag_codes import make_flag
from pipeline.types import LitterChange, Problem, ScoreCard
from pipeline.store import Workspace, queries
from wsfactory import MODEL_ID, make_workspace

COMPONENTS = {"removed": 0.5, "amount": 0.6, "evidence": 0.6875, "evidence_match": 1.0, "evidence_quality": 1.0,
              "evidence_metadata": 0.75, "evidence_original": 0.0}
SCORE = 42.1  # 100 * 0.5 * (0.55 + 0.20 * 0.6 + 0.25 * 0.6875) with the default weights (sum 1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str, dict[str, str]]:
    root = tmp_path_factory.mktemp("words") / "ws"
    ids = make_workspace(root, 3, seed=8, thumb_side=96)
    entry = ids[1]
    with Workspace(root) as ws:
        cfg_hash = queries.first_run_config_hash(ws)
        dups = [make_flag("DUPLICATE_PHOTO", (f"before/{n}.jpg",), photo=f"before/{n}.jpg", role="before",
                          other_entry=ids[0], other_photo=f"after/{n}.jpg", other_role="after", kind=kind,
                          hash_name="phash", distance=d, other_first=True)
                for n, kind, d in (("a", "exact", 0), ("b", "same_image", 3), ("c", "screenshot", 7))]
        card = ScoreCard(entry, SCORE, "needs_review", dict(COMPONENTS), tuple(dups), MODEL_ID, cfg_hash, "x", "y")
        ws.put_entry_result(entry, "score", "words", card.to_dict())
        sub = ws.submission(entry)
        import dataclasses
        ws.put_submission(dataclasses.replace(sub, problems=(Problem.worded("ENTRY_JSON_INVALID", "entry.json unreadable",
                                                                     f"{entry}/entry.json"),)), "synthetic")
        before_sha = next(p.sha256 for p in ws.entry_photos(entry) if p.role == "before")
        after_sha = next(p.sha256 for p in ws.entry_photos(entry) if p.role == "after")
        verify = ws.get_entry_result(entry, "verify")
        verify["pairs"][0]["change"] = LitterChange(before_sha, after_sha, 9, 6, 3, 0, 0.1, 0.03).to_dict()
        ws.put_entry_result(entry, "verify", "words", verify)
        pages = {}
        for lang in ("en", "vi"):
            build_report(ws, root.parent / f"rep-{lang}", lang=lang)
            pages[lang] = (root.parent / f"rep-{lang}" / "entries" / f"{views.entry_key(entry)}.html").read_text(
                encoding="utf-8")
        pages["index"] = (root.parent / "rep-en" / "index.html").read_text(encoding="utf-8")
    return root, entry, pages


def _part_row(html: str, key: str) -> str:
    return re.search(rf'<tr class="part[^"]*" id="part-{key}">(.*?)</tr>', html, flags=re.S).group(1)


def _points(row: str) -> float:
    return float(re.findall(r'<td class="num">[^<]*?(?:<span class="muted">\()?([\d.]+)\)?(?:</span>)?</td>', row)[-1])


def test_score_parts_have_meaning_weight_and_points_adding_up_to_the_score(site):
    _, _, pages = site
    html = pages["en"]
    rows = {k: _part_row(html, k) for k in ("removed", "amount", "evidence", "evidence_match", "evidence_original")}
    assert "Litter removed" in rows["removed"] and "Share of the litter seen before" in rows["removed"]
    assert "55%" in rows["removed"] and "20% × removed" in rows["amount"] and "25% × removed" in rows["evidence"]
    assert "Original photos" in rows["evidence_original"] and "a copy of another entry" in rows["evidence_original"]
    main = [_points(rows[k]) for k in ("removed", "amount", "evidence")]
    assert main == [27.5, 6.0, 8.6]
    assert sum(main) == pytest.approx(SCORE, abs=0.1)
    assert re.search(r"<tfoot>.*42\.1", html, flags=re.S)
    assert "evidence_original 0.00" not in html and "<th>evidence_original</th>" not in html
    vi = pages["vi"]
    assert "Rác đã dọn" in _part_row(vi, "removed") and "Ảnh gốc" in _part_row(vi, "evidence_original")
    assert "× rác đã dọn" in _part_row(vi, "amount")


def test_score_parts_without_points_when_the_card_is_another_formula(tmp_path):
    make_workspace(tmp_path / "ws", 8, seed=9, thumbs=False)  # the factory's cards add their parts up another way
    seen = set()
    with Workspace(tmp_path / "ws") as ws:
        for entry_id in ws.entry_ids():
            e = views.entry_view(ws, entry_id)
            if e.card.score is None:
                continue
            c = e.card.components
            formula = 100 * c["removed"] * (0.55 + 0.2 * c["amount"] + 0.25 * c["evidence"])
            fits = abs(formula - e.card.score) <= 0.2
            seen.add(fits)
            if fits:
                assert sum(p.points for p in e.parts) == pytest.approx(e.card.score, abs=0.2)
            else:  # points that would not add up are not shown
                assert e.parts and all(p.points is None for p in e.parts)
    assert seen == {True, False}


def test_one_badge_per_flag_code_with_a_count_and_every_message_listed(site):
    _, entry, pages = site
    index = pages["index"]
    row = next(r for r in re.findall(r'<tr class="row-.*?</tr>', index, flags=re.S) if views.entry_key(entry) in r)
    assert row.count("DUPLICATE_PHOTO") == 1 and "×3" in row
    html = pages["en"]
    flags = html[html.index('<ul class="flags">'):]
    assert flags.count("DUPLICATE_PHOTO · high ×3") == 1
    for words in ("is an exact copy of the after photo", "is a resized or re-compressed copy of the after photo",
                  "is a screenshot of the after photo"):
        assert words in flags
    assert "Details: phash distance 7 bits." in flags and "phash distance 0" not in flags
    assert "là ảnh chụp màn hình của ảnh sau" in pages["vi"]


def test_copies_named_in_the_duplicate_table(tmp_path):
    ids = make_workspace(tmp_path / "ws", 5, seed=8, thumbs=False)  # entry 3 reuses entry 2's before photo
    with Workspace(tmp_path / "ws") as ws:
        for lang, words in (("en", "an exact copy"), ("vi", "bản sao y hệt")):
            build_report(ws, tmp_path / lang, lang=lang)
            html = (tmp_path / lang / "entries" / f"{views.entry_key(ids[3])}.html").read_text(encoding="utf-8")
            dups = html[html.index('<table class="dups">'):]
            assert words in dups and ">exact<" not in dups


def test_entry_problems_apart_from_photo_problems(site):
    _, _, pages = site
    html = pages["en"]
    assert "<h2>Entry problems</h2>" in html
    entry_part = html[html.index("<h2>Entry problems</h2>"):]
    assert "ENTRY_JSON_INVALID" in entry_part.split("</section>")[0]
    if "<h2>Photo problems</h2>" in html:
        assert "ENTRY_JSON_INVALID" not in html[html.index("<h2>Photo problems</h2>"):].split("</section>")[0]
    assert "<h2>Lỗi bài dự thi</h2>" in pages["vi"]


def test_boxes_shown_and_items_counted_explained_where_they_differ(site):
    _, _, pages = site
    html = pages["en"]
    assert "Litter: before 9, removed 6, remaining 3" in html
    note = re.search(r'<p class="muted counted-note">(.*?)</p>', html, flags=re.S).group(1)
    assert "the count of 9 also weighs weaker candidates" in note
    shown = int(re.search(r"The photo shows (\d+) boxes", note).group(1))
    assert shown != 9
    assert "detections shown" in html
    assert "còn tính cả các ứng viên yếu hơn" in pages["vi"]
