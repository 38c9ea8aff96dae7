"""Original versus copy (issue 10, item 6): of two entries sharing a photo, the one that had it first keeps
its evidence (PHOTO_COPIED_BY_LATER, info) and the later one gets DUPLICATE_PHOTO; with no order, both do.

The decision (pipeline.dedup.order.precedence) is tested directly; the behaviour end to end runs the
pipeline on photos of the bundled sample: two rounds, and one manifest batch where capture times,
submission times or nothing decide. Entry ids are chosen so that the later entry is processed first.
"""
from __future__ import annotations

import csv
import io
import itertools
import shutil
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from pipeline.config import Config
from pipeline.dedup.order import Arrival, Precedence, precedence
from pipeline.ingest import ingest
from pipeline.run.runner import run_batch
from pipeline.score.card import with_copy_notes
from pipeline.score.explain import card_words
from pipeline.score.flag_codes import make_flag
from pipeline.types import ScoreCard
from pipeline.store import Workspace

DUP, COPIED = "DUPLICATE_PHOTO", "PHOTO_COPIED_BY_LATER"


# ------------------------------------------------------------------------------------ the decision
@pytest.mark.parametrize("a,b,expected", [
    # an earlier round wins over any time
    (Arrival(1, "2024-06-09T10:00:00", "2024-06-12"), Arrival(3, "2024-06-01T10:00:00", "2024-06-01"),
     Precedence(-1, "round")),
    # one round: the earlier capture time, before any submission time
    (Arrival(2, "2024-06-08T16:02:11", "2024-06-12T08:00:00"), Arrival(2, "2024-06-09T10:00:00", "2024-06-11"),
     Precedence(-1, "taken_at")),
    # capture times with zones are compared as times, not as text
    (Arrival(None, "2024-06-08T12:00:00+07:00"), Arrival(None, "2024-06-08T06:30:00+00:00"),
     Precedence(-1, "taken_at")),
    # equal or missing capture times: the submission time
    (Arrival(2, "2024-06-08T16:02:11", "2024-06-10T09:30:00"), Arrival(2, "2024-06-08T16:02:11", "2024-06-10T08:00"),
     Precedence(1, "submitted_at")),
    (Arrival(2, None, "2024-06-10T09:30:00"), Arrival(2, "2024-06-08T16:02:11", "2024-06-10T08:00:00"),
     Precedence(1, "submitted_at")),
    # no order: same round and nothing usable, equal times, or a time that is not one
    (Arrival(2), Arrival(2), Precedence(0, None)),
    (Arrival(2, "2024-06-08T16:02:11", "2024-06-10"), Arrival(2, "2024-06-08T16:02:11", "2024-06-10"),
     Precedence(0, None)),
    (Arrival(None, "yesterday", None), Arrival(None, "2024-06-08T16:02:11", "2024-06-10"), Precedence(0, None)),
])
def test_precedence(a, b, expected):
    assert precedence(a, b) == expected
    # antisymmetric: the same facts the other way round give the other entry, for the same reason
    back = precedence(b, a)
    assert (back.sign, back.basis) == (-expected.sign, expected.basis)


def test_precedence_is_a_strict_order_over_mixed_facts():
    """Whatever the facts, 'had it first' never contradicts itself: antisymmetric and transitive."""
    values = [Arrival(r, t, s) for r in (None, 1, 2) for t in (None, "2024-06-08T10:00", "2024-06-08T11:00")
              for s in (None, "2024-06-10", "2024-06-11")]
    for a, b in itertools.product(values, repeat=2):
        assert precedence(a, b).sign == -precedence(b, a).sign
    # transitive where every step has its values (the rule is a lexicographic order then)
    full = [v for v in values if None not in (v.round, v.taken_at, v.submitted_at)]
    for a, b, c in itertools.product(full, repeat=3):
        if precedence(a, b).sign < 0 and precedence(b, c).sign < 0:
            assert precedence(a, c).sign < 0


def test_copy_notes_change_no_score():
    dup = make_flag(DUP, ("b.jpg",), photo="b.jpg", role="before", other_entry="E0", other_photo="o.jpg",
                    other_role="before", kind="exact", hash_name="sha256", distance=0, other_first=True,
                    basis="round")
    old = make_flag(COPIED, ("a.jpg",), photo="a.jpg", role="before", later_entry="E7", later_photo="x.jpg",
                    later_role="before", kind="exact", hash_name="sha256", distance=0, basis="round")
    new = make_flag(COPIED, ("a.jpg",), photo="a.jpg", role="before", later_entry="E9", later_photo="y.jpg",
                    later_role="after", kind="same_image", hash_name="phash", distance=2, basis="round")
    remains = make_flag("LITTER_REMAINS", ("a.jpg",), remaining=1, new=0)
    card = ScoreCard("E1", 61.5, "scored", {"evidence_original": 1.0}, (remains, old), "m@1", "h",
                     facts={"score": 61.5, "status": "scored"})
    out = with_copy_notes(card, [dup, new])
    assert [f.code for f in out.flags] == ["LITTER_REMAINS", COPIED]  # the high flag is not taken over
    assert out.flags[1].params["later_entry"] == "E9"
    assert (out.score, out.status, out.components, card_words(out)) == (61.5, "scored", card.components,
                                                                         card_words(card))


# ------------------------------------------------------------------------------------- end to end
def _photo(sample, entry: str, role: str, i: int = 0) -> Path:
    return sorted((p for p in (sample.root / entry / role).iterdir() if p.suffix.lower() in (".jpg", ".jpeg")),
                  key=lambda p: p.name.lower())[i]


def _reencode(data: bytes, taken_at: str | None, quality: int = 88) -> bytes:
    """The same picture in a new JPEG: with an EXIF capture time, or with no EXIF at all."""
    im = Image.open(io.BytesIO(data))
    im.load()
    kw = {}
    if taken_at:
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken_at
        kw["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def _entry_folder(root: Path, entry: str, before: bytes, after: bytes) -> None:
    for role, data in (("before", before), ("after", after)):
        (root / entry / role).mkdir(parents=True)
        (root / entry / role / "1.jpg").write_bytes(data)


def _cards(ws: Workspace) -> dict:
    return {c.entry_id: c for c in ws.scorecards()}


def _by_code(card, code):
    return [f for f in card.flags if f.code == code]


@pytest.mark.slow
def test_two_rounds_the_earlier_entry_keeps_its_score_and_names_the_later_one(sample, tmp_path):
    orig_before = _photo(sample, "01-full-cleanup", "before").read_bytes()
    r1, r2 = tmp_path / "round1", tmp_path / "round2"
    _entry_folder(r1, "Z-orig", orig_before, _photo(sample, "01-full-cleanup", "after").read_bytes())
    # round 2: entry A-copy (processed first in any batch order) reuses Z-orig's before photo, byte for byte
    _entry_folder(r2, "A-copy", orig_before, _photo(sample, "07-unrelated-after", "after").read_bytes())
    with Workspace(tmp_path / "ws") as ws:
        run_batch(r1, ws, Config(), quiet=True, executor="serial")
        first = _cards(ws)["Z-orig"]
        assert first.score and first.score > 0 and first.components["evidence_original"] == 1.0
        run_batch(r2, ws, Config(), quiet=True, executor="serial")
        cards = _cards(ws)
        orig, copy = cards["Z-orig"], cards["A-copy"]
        assert not _by_code(orig, DUP)
        (note,) = _by_code(orig, COPIED)
        assert note.severity == "info" and note.params["later_entry"] == "A-copy" and note.params["basis"] == "round"
        assert "Entry A-copy later used" in note.message and "an earlier round" in note.message
        # the original's judgement is untouched by the copy: same score, evidence and status
        assert (orig.score, orig.status, orig.components) == (first.score, first.status, first.components)
        (dup,) = _by_code(copy, DUP)
        assert dup.severity == "high" and dup.params["other_entry"] == "Z-orig" and dup.params["other_first"] is True
        assert copy.status == "needs_review" and copy.components["evidence_original"] == 0.0
        # rerunning round 1 (e.g. after a config change) gives the original the same flags
        run_batch(r1, ws, Config(), quiet=True, executor="serial")
        again = _cards(ws)["Z-orig"]
        assert [f.to_dict() for f in again.flags] == [f.to_dict() for f in orig.flags]
        assert again.score == first.score


@pytest.fixture(scope="module")
def one_batch(sample, tmp_path_factory):
    """One manifest batch, three shared photos; in each pair the later entry's id sorts first."""
    root = tmp_path_factory.mktemp("one") / "batch"
    (root / "p").mkdir(parents=True)
    files: dict[str, bytes] = {
        # capture times decide (the copy was submitted earlier, which does not matter then)
        "b-orig-before.jpg": _photo(sample, "02-partial-cleanup", "before").read_bytes(),  # EXIF 2024-06-08 16:02
        "b-orig-after.jpg": _photo(sample, "02-partial-cleanup", "after").read_bytes(),
        "b-copy-before.jpg": _reencode(_photo(sample, "02-partial-cleanup", "before").read_bytes(),
                                       "2024:06:09 10:00:00"),
        "b-copy-after.jpg": _photo(sample, "11-two-spots-shuffled", "after", 0).read_bytes(),
        # no capture times anywhere: the manifest's submission times decide
        "c-shared.jpg": _reencode(_photo(sample, "03-no-cleanup", "before").read_bytes(), None),
        "c-orig-after.jpg": _photo(sample, "03-no-cleanup", "after").read_bytes(),
        "c-copy-after.jpg": _photo(sample, "11-two-spots-shuffled", "after", 1).read_bytes(),
        # no times at all: no order
        "d-shared.jpg": _reencode(_photo(sample, "12-exif-time-order", "before").read_bytes(), None),
        "d-one-after.jpg": _photo(sample, "12-exif-time-order", "after").read_bytes(),
        "d-two-after.jpg": _photo(sample, "10-missing-after", "before").read_bytes(),
    }
    for name, data in files.items():
        (root / "p" / name).write_bytes(data)
    rows = [("b-orig", "before", "b-orig-before.jpg", "2024-06-12T08:00:00"),
            ("b-orig", "after", "b-orig-after.jpg", "2024-06-12T08:00:00"),
            ("b-copy", "before", "b-copy-before.jpg", "2024-06-11T08:00:00"),
            ("b-copy", "after", "b-copy-after.jpg", "2024-06-11T08:00:00"),
            ("c-orig", "before", "c-shared.jpg", "2024-06-10T08:00:00"),
            ("c-orig", "after", "c-orig-after.jpg", "2024-06-10T08:00:00"),
            ("c-copy", "before", "c-shared.jpg", "2024-06-10T09:30:00"),
            ("c-copy", "after", "c-copy-after.jpg", "2024-06-10T09:30:00"),
            ("d-one", "before", "d-shared.jpg", ""), ("d-one", "after", "d-one-after.jpg", ""),
            ("d-two", "before", "d-shared.jpg", ""), ("d-two", "after", "d-two-after.jpg", "")]
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["entry_id", "role", "path", "taken_at", "submitted_at"])
        w.writerows((e, role, f"p/{name}", "", sub) for e, role, name, sub in rows)
    ws_root = tmp_path_factory.mktemp("one-ws") / "ws"
    with Workspace(ws_root) as ws:
        run_batch(root / "manifest.csv", ws, Config(), quiet=True, executor="serial")
        cards = _cards(ws)
    return root, cards


@pytest.mark.slow
def test_manifest_submitted_at_is_read(one_batch):
    root, _ = one_batch
    subs = {s.entry_id: s for s in ingest(root / "manifest.csv").submissions}
    assert subs["c-orig"].submitted_at == "2024-06-10T08:00:00" and subs["d-one"].submitted_at is None


@pytest.mark.slow
def test_same_batch_earlier_capture_time_wins(one_batch):
    _, cards = one_batch
    orig, copy = cards["b-orig"], cards["b-copy"]
    assert not _by_code(orig, DUP) and orig.components["evidence_original"] == 1.0
    (note,) = _by_code(orig, COPIED)
    assert note.params["later_entry"] == "b-copy" and note.params["basis"] == "taken_at"
    assert note.params["kind"] != "exact"  # a re-encoded copy
    (dup,) = _by_code(copy, DUP)
    assert dup.params["other_entry"] == "b-orig" and dup.params["other_first"] is True
    assert "an earlier capture time" in dup.message and copy.status == "needs_review"


@pytest.mark.slow
def test_same_batch_without_times_earlier_submission_wins(one_batch):
    _, cards = one_batch
    orig, copy = cards["c-orig"], cards["c-copy"]
    assert not _by_code(orig, DUP) and orig.components["evidence_original"] == 1.0
    assert [(f.params["later_entry"], f.params["basis"]) for f in _by_code(orig, COPIED)] == [("c-copy", "submitted_at")]
    assert [f.params["other_entry"] for f in _by_code(copy, DUP)] == ["c-orig"]
    assert copy.status == "needs_review" and copy.components["evidence_original"] == 0.0


@pytest.mark.slow
def test_no_order_both_need_review(one_batch):
    _, cards = one_batch
    for me, other in (("d-one", "d-two"), ("d-two", "d-one")):
        card = cards[me]
        assert not _by_code(card, COPIED)
        (dup,) = _by_code(card, DUP)
        assert dup.params["other_entry"] == other and dup.params["other_first"] is None
        assert card.status == "needs_review" and card.components["evidence_original"] == 0.0


@pytest.mark.slow
def test_flags_do_not_depend_on_the_order_entries_are_processed(one_batch, tmp_path):
    """The same batch with the entries renamed so that every original sorts (and is processed) first."""
    root, cards = one_batch
    flipped = tmp_path / "flipped"
    shutil.copytree(root, flipped)
    rename = {"b-orig": "a-orig", "c-orig": "a2-orig", "d-two": "a3-two"}
    text = (flipped / "manifest.csv").read_text(encoding="utf-8")
    for old, new in rename.items():
        text = text.replace(f"{old},", f"{new},")
    (flipped / "manifest.csv").write_text(text, encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        run_batch(flipped / "manifest.csv", ws, Config(), quiet=True, executor="serial")
        got = _cards(ws)
    back = {v: k for k, v in rename.items()}

    def shape(card) -> list:
        return sorted((f.code, back.get(f.params.get("other_entry") or f.params.get("later_entry"),
                                        f.params.get("other_entry") or f.params.get("later_entry")),
                       f.params.get("basis")) for f in card.flags if f.code in (DUP, COPIED))

    for new_id, card in got.items():
        old = cards[back.get(new_id, new_id)]
        assert shape(card) == shape(old), new_id
        assert card.components["evidence_original"] == old.components["evidence_original"]
