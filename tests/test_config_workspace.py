import sqlite3
import threading

import pytest

from pipeline.config import Config
from pipeline.types import Detections, PhotoMeta, PhotoRef, Problem, ScoreCard, Flag, Submission
from pipeline.store import SCHEMA_VERSION, Workspace, WorkspaceError, atomic_write_text, queries


def test_config_from_toml_overrides_and_hashes(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[detect]\nconfidence = 0.4\n[score.weights]\nremoved = 0.7\n")
    c = Config.from_toml(p)
    assert c.detect.confidence == 0.4 and c.score.weights.removed == 0.7
    d = Config()
    assert c.hash != d.hash
    assert c.section_hash("load") == d.section_hash("load")  # untouched stage keeps its cache key
    assert c.section_hash("detect") != d.section_hash("detect")


@pytest.mark.parametrize("text, msg", [
    ("[detect]\nconfidance = 0.4\n", "unknown setting 'detect.confidance'"),
    ("[detect]\nconfidence = 'high'\n", "must be a number"),
    ("[load]\nmax_pixels = 1.5\n", "must be an integer"),
    ("[nope]\nx = 1\n", "unknown setting 'nope'"),
])
def test_config_rejects_bad_settings(tmp_path, text, msg):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ValueError, match=msg):
        Config.from_toml(p)


def _sub(entry_id="e1", n=2):
    photos = tuple(PhotoRef(entry_id, "before" if i % 2 == 0 else "after", f"/b/{entry_id}/{i}.jpg",
                            f"{entry_id}/{i}.jpg") for i in range(n))
    return Submission(entry_id=entry_id, photos=photos, participant="<b>x</b>")


def test_workspace_schema_wal_and_roundtrips(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        assert ws.schema_version == SCHEMA_VERSION
        assert ws.journal_mode() == "wal"
        ws.put_submission(_sub("e2"), "b")
        ws.put_submission(_sub("e1", 3), "b")
        ws.put_submission(_sub("e2", 1), "b")  # update keeps arrival order, drops the vanished photo
        assert ws.entry_ids() == ["e2", "e1"]
        assert [p.rel_path for p in ws.entry_photos("e2")] == ["e2/0.jpg"]
        assert ws.submission("e1").participant == "<b>x</b>"
        ws.put_photo(PhotoMeta(sha256="aa", size_bytes=3), "e1", "e1/0.jpg")
        ws.put_photo(PhotoMeta(sha256="aa", size_bytes=3, width=5), "e2", "e2/0.jpg")
        assert ws.photo_seq("aa") == 1 and ws.photo_meta("aa").width == 5
        ws.set_entry_photo("e1", "e1/0.jpg", "aa", None)
        ws.set_entry_photo("e2", "e2/0.jpg", "aa", Problem.worded("X", "y"))
        assert [u[0] for u in ws.entries_with_photo("aa")] == ["e2", "e1"]
        d = Detections([[1, 2, 3, 4]], [0.9], [0], ("litter",), "m@1", (10, 10))
        ws.put_result("aa", "detect", "1", "cfg", d.to_dict(), model_id="m@1")
        ws.put_result("aa", "detect", "1", "cfg", d.to_dict(), model_id="m@1")  # no duplicate row
        assert queries.table_counts(ws).stage_results == {"detect": 1}
        assert ws.get_result("aa", "detect", "1", "cfg") is None  # model id is part of the key
        assert Detections.from_dict(ws.get_result("aa", "detect", "1", "cfg", "m@1")).xyxy.tolist() == [[1, 2, 3, 4]]
        card = ScoreCard("e1", 50.0, "scored", {"removed": 0.5}, (Flag.worded("X", "low", "m"),), "m@1", "h")
        ws.put_entry_result("e1", "score", "k", card.to_dict())
        assert ws.scorecard("e1") == card
        assert ws.get_entry_result("e1", "score", "other-key") is None


def test_storage_rows_are_typed_and_ranking_facts_decode_each_card_once(tmp_path):
    from dataclasses import FrozenInstanceError

    from pipeline.report import views
    from pipeline.types import EntryPhoto, RankingFacts

    with Workspace(tmp_path / "ws") as ws:
        for e in ("e1", "e2", "e3", "e4"):
            ws.put_submission(_sub(e, 2), "b")
        ws.set_entry_photo("e1", "e1/1.jpg", None, Problem.worded("UNREADABLE", "gone"))
        rows = ws.entry_photos("e1")
        assert rows == [EntryPhoto("e1/0.jpg", "before", None), EntryPhoto("e1/1.jpg", "after", None,
                                                                             Problem.worded("UNREADABLE", "gone"))]
        with pytest.raises(FrozenInstanceError):
            rows[0].sha256 = "x"  # type: ignore[misc]
        low, high = Flag("DUPLICATE_PHOTO", "low", {}), Flag("SCENE_MISMATCH", "high", {})
        ws.put_entry_result("e1", "score", "k", ScoreCard("e1", 71.5, "scored", {}, (low, high), "m", "h").to_dict())
        ws.put_entry_result("e2", "score", "k", ScoreCard("e2", None, "needs_review", {}, (), "m", "h").to_dict())
        ws.put_entry_result("e3", "score", "k", {"entry_id": "e3", "score": 10, "status": "scored",
                                                 "flags": [{"severity": "low"}]})  # unreadable flags: none
        facts = ws.ranking_facts()
        assert facts[0] == RankingFacts("e1", 1, "<b>x</b>", None, True, 71.5, "scored", (low, high))
        assert [(f.entry_id, f.scored, f.score, f.status, f.flags) for f in facts[1:]] == [
            ("e2", True, None, "needs_review", ()), ("e3", True, 10.0, "scored", ()), ("e4", False, None, None, ())]
        rows = views.pipeline_rows(ws)
        assert [(r.entry_id, r.status, r.pipeline_score) for r in rows] == [
            ("e1", "scored", 71.5), ("e2", "needs_review", None), ("e3", "scored", 10.0), ("e4", "unscored", None)]
        assert [f.code for f in rows[0].flags] == ["SCENE_MISMATCH", "DUPLICATE_PHOTO"]  # by severity


def test_workspace_refuses_newer_schema_and_missing(tmp_path):
    with pytest.raises(WorkspaceError):
        Workspace(tmp_path / "none", create=False)
    Workspace(tmp_path / "ws").close()
    c = sqlite3.connect(tmp_path / "ws" / "workspace.db")
    c.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    c.commit()
    c.close()
    with pytest.raises(WorkspaceError, match="newer"):
        Workspace(tmp_path / "ws")


def test_transaction_rolls_back(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        with pytest.raises(RuntimeError):
            with ws.transaction():
                ws.put_result("aa", "quality", "1", "cfg", {"sharp": 1.0})
                raise RuntimeError
        assert ws.get_result("aa", "quality", "1", "cfg") is None
        assert queries.table_counts(ws).stage_results == {}


def test_atomic_write_never_leaves_partial_file(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old")
    errors = []

    def reader():
        for _ in range(200):
            t = p.read_text()
            if t not in ("old", "new" * 10000):
                errors.append(len(t))

    th = threading.Thread(target=reader)
    th.start()
    for _ in range(20):
        atomic_write_text(p, "new" * 10000)
    th.join()
    assert not errors
    assert not [f for f in tmp_path.iterdir() if f.name != "out.txt"]
