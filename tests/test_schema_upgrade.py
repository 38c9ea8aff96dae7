"""A workspace written by an older cleanup-verify is upgraded in place when opened; its data stays readable."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pipeline.dedup import index as dindex
from pipeline.store import SCHEMA_VERSION, Workspace, WorkspaceError, matches, queries, reviews, schema
from pipeline.types import Detections, PhotoHashes, Submission

V1_SQL = (Path(__file__).parent / "fixtures" / "schema_v1.sql").read_text(encoding="utf-8")
CORE_V1 = V1_SQL[:V1_SQL.index("CREATE TABLE IF NOT EXISTS dedup_hashes")]
SHA = "ab" * 32


def _old_workspace(root: Path, sql: str) -> None:
    """A workspace as the version-1 code left it: its tables, its version, a run, an entry, a photo, a
    detection result and, where the old modules had registered their tables, an index row, a match and a
    decision."""
    root.mkdir(parents=True)
    c = sqlite3.connect(root / "workspace.db")
    c.executescript(sql)
    c.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    c.execute("INSERT INTO runs(started_at, batch, config_json, config_hash, status, summary_json) VALUES "
              "('2026-01-01T00:00:00Z', 'b1', '{}', 'cfg', 'finished', ?)",
              (json.dumps({"batch_problems": [{"code": "EMPTY_BATCH", "message": "m", "path": None}]}),))
    c.execute("INSERT INTO entries(entry_id, batch, seq, submission_json) VALUES ('E1', 'b1', 1, ?)",
              (json.dumps(Submission("E1", participant="Ann").to_dict()),))
    c.execute("INSERT INTO entry_photos(entry_id, rel_path, role, ord, sha256) VALUES ('E1', 'before/1.jpg', "
              "'before', 0, ?)", (SHA,))
    det = Detections([[1, 2, 3, 4]], [0.9], [0], ("litter",), "m@1", (10, 10))
    c.execute("INSERT INTO stage_results(sha256, stage, stage_version, model_id, config_hash, result_json) "
              "VALUES (?, 'detect', '1', 'm@1', 'k', ?)", (SHA, json.dumps(det.to_dict())))
    if "dedup_hashes" in sql:
        c.execute("INSERT INTO dedup_hashes(sha256, stage_version, phash, dhash) VALUES (?, '1', ?, ?)",
                  (SHA, (5).to_bytes(8, "big"), (7).to_bytes(8, "big")))
        c.execute("INSERT INTO dedup_matches(key, photo, other, kind, distance, hash_name, difference) VALUES "
                  "('k', ?, ?, 'exact', 0, 'phash', 0.0)", (SHA, "cd" * 32))
        c.execute("INSERT INTO reviews(entry_id, version, judge, decision, reason, created_at) VALUES "
                  "('E1', 1, 'ann', 'accept', '', '2026-01-02T00:00:00Z')")
    c.commit()
    c.close()


def _core_data_intact(ws: Workspace) -> None:
    assert ws.schema_version == SCHEMA_VERSION
    assert ws.entry_ids() == ["E1"] and ws.submission("E1").participant == "Ann"
    assert [(p.rel_path, p.sha256) for p in ws.entry_photos("E1")] == [("before/1.jpg", SHA)]
    stored = ws.get_result(SHA, "detect", "1", "k", model_id="m@1")
    assert Detections.from_dict(stored).xyxy.tolist() == [[1, 2, 3, 4]]
    assert queries.recent_runs(ws)[0].status == "finished"
    assert queries.table_counts(ws).entries == 1


def test_version_1_workspace_with_every_table_is_upgraded_in_place(tmp_path):
    _old_workspace(tmp_path / "ws", V1_SQL)
    with Workspace(tmp_path / "ws", create=False) as ws:
        _core_data_intact(ws)
        assert dindex.count(ws) == 1 and dindex.get(ws, SHA).phash == 5
        assert [(m.photo, m.other, m.kind) for m in matches.matches_of(ws, "k", [SHA])] == [(SHA, "cd" * 32, "exact")]
        assert [r.judge for r in reviews.entry_reviews(ws, "E1")] == ["ann"]
    with Workspace(tmp_path / "ws") as ws:  # opened again: nothing left to do, nothing lost
        _core_data_intact(ws)
        assert dindex.count(ws) == 1


def test_version_1_workspace_without_the_dedup_and_review_tables_gets_them(tmp_path):
    """Version 1 made the dedup and review tables when their modules were imported: a workspace only ever
    opened without them has the core tables alone."""
    _old_workspace(tmp_path / "ws", CORE_V1)
    with Workspace(tmp_path / "ws", create=False) as ws:
        _core_data_intact(ws)
        assert dindex.count(ws) == 0 and reviews.entry_reviews(ws, "E1") == []
        dindex.add(ws, PhotoHashes(SHA, 1, 2))
        assert dindex.count(ws) == 1


def test_schema_is_made_on_open_never_on_import(tmp_path):
    import importlib

    for name in ("pipeline.dedup.index", "pipeline.dedup.query", "pipeline.review.decisions", "pipeline.store.hash_index"):
        module = importlib.import_module(name)
        assert not hasattr(module, "register_schema") and not hasattr(module, "SCHEMA"), name
    c = sqlite3.connect(":memory:", isolation_level=None)
    assert schema.migrate(c) == 0 and schema.version(c) == SCHEMA_VERSION
    assert schema.migrate(c) == SCHEMA_VERSION  # applied once
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"entries", "dedup_hashes", "dedup_matches", "dedup_queried", "dedup_reuse", "reviews",
            "review_users", "review_corrections", "review_correction_log"} <= tables


def test_newer_schema_is_refused_with_both_versions(tmp_path):
    Workspace(tmp_path / "ws").close()
    c = sqlite3.connect(tmp_path / "ws" / "workspace.db")
    c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    c.commit()
    c.close()
    with pytest.raises(WorkspaceError, match=f"schema version {SCHEMA_VERSION + 1}.*{SCHEMA_VERSION}"):
        Workspace(tmp_path / "ws")


def test_version_4_workspace_gets_match_regions_and_reads_old_matches_without_one(tmp_path):
    """Version 5 adds the matched region of a copy to ``dedup_matches``: rows stored before read as no
    region, new rows keep theirs."""
    root = tmp_path / "ws"
    root.mkdir()
    c = sqlite3.connect(root / "workspace.db", isolation_level=None)
    for v, sql in schema.MIGRATIONS:
        if v <= 4:
            for stmt in schema.statements(sql):
                c.execute(stmt)
    c.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '4')")
    c.execute("INSERT INTO dedup_matches(key, photo, other, kind, distance, hash_name, difference) VALUES "
              "('k', ?, ?, 'cropped', 4, 'phash_crop', 0.02)", (SHA, "cd" * 32))
    c.close()
    with Workspace(root, create=False) as ws:
        assert ws.schema_version == SCHEMA_VERSION >= 5
        [old] = matches.matches_of(ws, "k", [SHA])
        assert (old.kind, old.region, old.other_region) == ("cropped", None, None)
        matches.put_matches(ws, "k", ["ef" * 32], [matches.StoredMatch("ef" * 32, SHA, "collage", 5, "phash", 0.0,
                                                                       (0.0, 0.0, 1.0, 1.0), (0.5, 0.1, 1.0, 0.6))])
        new = [m for m in matches.matches_of(ws, "k", ["ef" * 32])]
        assert [(m.region, m.other_region) for m in new] == [((0.0, 0.0, 1.0, 1.0), (0.5, 0.1, 1.0, 0.6))]
