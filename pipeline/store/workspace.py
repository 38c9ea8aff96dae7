"""The workspace: one folder holding everything a contest has processed, across batches and rounds.

Layout::

    WS/workspace.db   SQLite in WAL mode (schema below, version in table ``meta``)
    WS/thumbs/        <sha256>.jpg thumbnails of every photo, for reports and the review app
    WS/logs/          one log file per run
    WS/runs/          per-run summaries (JSON)

Stage results are content-addressed: keyed by (photo sha256, stage, stage version, model id, config
hash of the stage's section). Every write happens in a transaction, so a killed run loses at most the
work in flight, and rerunning skips whatever is stored.

The tables are made and upgraded by :mod:`pipeline.store.schema` when the workspace is opened. The other
modules of :mod:`pipeline.store` hold the SQL of the dedup index, the stored matches, the review app and
the read-only queries of reports, exports and commands; no module outside :mod:`pipeline.store` runs SQL.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import schema
from .files import atomic_write_text
from ..types import EntryPhoto, Flag, PhotoMeta, Problem, RankingFacts, ScoreCard, Submission

#: a stage result as stored: the JSON object of its ``to_dict`` (decoded by its stage's ``from_dict``)
JsonObject = dict[str, Any]


class WorkspaceError(RuntimeError):
    pass


class Workspace:
    """A workspace folder and its database. Use as a context manager or call :meth:`close`."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root).absolute()  # never resolved later against another folder (Flask's send_file)
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is a file, not a folder")
        if not self.root.exists():
            if not create:
                raise WorkspaceError(f"workspace {self.root} does not exist")
            self.root.mkdir(parents=True)
        elif not (self.root / "workspace.db").exists() and not create:
            raise WorkspaceError(f"{self.root} is not a workspace (no workspace.db)")
        for sub in ("thumbs", "logs", "runs"):
            (self.root / sub).mkdir(exist_ok=True)
        self.db_path = self.root / "workspace.db"
        self.conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
        self._depth = 0  # nesting of transaction(): inner ones join the outer one
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            schema.migrate(self.conn)
        except schema.SchemaTooNew as e:
            self.conn.close()
            raise WorkspaceError(f"workspace {self.root} has {e}") from None
        except sqlite3.DatabaseError as e:  # not a database, a damaged one, or one that cannot be written
            self.conn.close()
            if "locked" in str(e) or "busy" in str(e):
                raise
            raise WorkspaceError(f"{self.db_path} cannot be used as a workspace database ({e})") from None

    # ------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception. A transaction opened inside
        another one joins it, so a writer can group many writes (the runner: one transaction per entry)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            self.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return schema.version(self.conn)

    def journal_mode(self) -> str:
        """SQLite's journal mode of the database (``wal`` for every workspace)."""
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])

    def relax_durability(self) -> None:
        """Stop syncing to disk for the rest of this connection (test data and throwaway workspaces only:
        a crash may lose recent writes)."""
        self.conn.execute("PRAGMA synchronous=OFF")

    # ------------------------------------------------------------------------------------------ runs
    def start_run(self, batch: str, config_json: str, config_hash: str) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO runs(started_at, batch, config_json, config_hash) VALUES (?,?,?,?)",
                            (_now(), batch, config_json, config_hash))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET finished_at=?, status=?, summary_json=? WHERE run_id=?",
                      (_now(), status, json.dumps(summary, sort_keys=True), run_id))
        atomic_write_text(self.root / "runs" / f"run-{run_id:05d}.json",
                          json.dumps({"run_id": run_id, "status": status, **summary}, indent=2, sort_keys=True))

    # --------------------------------------------------------------------------------------- entries
    def put_submission(self, sub: Submission, batch: str) -> None:
        """Insert or update an entry (its metadata, photo list and ingest problems)."""
        with self.transaction() as c:
            row = c.execute("SELECT seq FROM entries WHERE entry_id=?", (sub.entry_id,)).fetchone()
            seq = row[0] if row else _next_seq(c, "entries")
            c.execute("INSERT OR REPLACE INTO entries(entry_id, batch, seq, submission_json, problems_json) "
                      "VALUES (?,?,?,?,?)",
                      (sub.entry_id, batch, seq, json.dumps(sub.to_dict(), sort_keys=True),
                       json.dumps([p.to_dict() for p in sub.problems], sort_keys=True)))
            keep = {p.rel_path for p in sub.photos}
            for r in c.execute("SELECT rel_path FROM entry_photos WHERE entry_id=?", (sub.entry_id,)).fetchall():
                if r[0] not in keep:
                    c.execute("DELETE FROM entry_photos WHERE entry_id=? AND rel_path=?", (sub.entry_id, r[0]))
            for i, p in enumerate(sub.photos):
                c.execute("INSERT INTO entry_photos(entry_id, rel_path, role, ord) VALUES (?,?,?,?) "
                          "ON CONFLICT(entry_id, rel_path) DO UPDATE SET role=excluded.role, ord=excluded.ord",
                          (sub.entry_id, p.rel_path, p.role, i))

    def submission(self, entry_id: str) -> Submission | None:
        row = self.conn.execute("SELECT submission_json FROM entries WHERE entry_id=?", (entry_id,)).fetchone()
        return Submission.from_dict(json.loads(row[0])) if row else None

    def entry_ids(self, batch: str | None = None) -> list[str]:
        """Entry ids in arrival order (optionally of one batch)."""
        if batch is None:
            rows = self.conn.execute("SELECT entry_id FROM entries ORDER BY seq").fetchall()
        else:
            rows = self.conn.execute("SELECT entry_id FROM entries WHERE batch=? ORDER BY seq", (batch,)).fetchall()
        return [r[0] for r in rows]

    def entry_photos(self, entry_id: str) -> list[EntryPhoto]:
        """The entry's photos in input order."""
        rows = self.conn.execute("SELECT rel_path, role, sha256, error_json FROM entry_photos WHERE entry_id=? "
                                 "ORDER BY ord", (entry_id,)).fetchall()
        return [EntryPhoto(r[0], r[1], r[2], Problem.from_dict(json.loads(r[3])) if r[3] else None) for r in rows]

    def ranking_facts(self) -> list[RankingFacts]:
        """Every entry in arrival order with what the ranking needs of it, each stored entry and score card
        decoded once (the card's words are not rendered)."""
        rows = self.conn.execute(
            "SELECT e.entry_id, e.seq, e.submission_json, r.result_json FROM entries e LEFT JOIN entry_results r "
            "ON r.entry_id = e.entry_id AND r.stage = 'score' ORDER BY e.seq").fetchall()
        return [_ranking_facts(entry_id, seq, json.loads(sub), json.loads(card) if card is not None else None)
                for entry_id, seq, sub, card in rows]

    def set_entry_photo(self, entry_id: str, rel_path: str, sha256: str | None, error: Problem | None,
                        run_id: int | None = None) -> None:
        """Record what a photo of the entry turned out to be; with ``run_id``, also the run in which the entry
        first had these bytes (kept from the first time: see :meth:`arrival_round`)."""
        with self.transaction() as c:
            c.execute("UPDATE entry_photos SET sha256=?, error_json=? WHERE entry_id=? AND rel_path=?",
                      (sha256, json.dumps(error.to_dict()) if error else None, entry_id, rel_path))
            if sha256 is not None and run_id is not None:
                c.execute("INSERT OR IGNORE INTO photo_arrivals(entry_id, sha256, run_id) VALUES (?,?,?)",
                          (entry_id, sha256, run_id))

    def arrival_round(self, entry_id: str, sha256: str) -> int | None:
        """The round in which the entry first had the photo: the first run of the batch whose run brought
        it (a resumed or repeated run of one batch is one round); for a use recorded without a run (older
        workspaces), the first run of the entry's batch; None when the workspace knows no such run."""
        row = self.conn.execute(
            "SELECT MIN(r2.run_id) FROM photo_arrivals a JOIN runs r ON r.run_id=a.run_id "
            "JOIN runs r2 ON r2.batch=r.batch WHERE a.entry_id=? AND a.sha256=?", (entry_id, sha256)).fetchone()
        if row[0] is None:
            row = self.conn.execute("SELECT MIN(r.run_id) FROM runs r JOIN entries e ON r.batch=e.batch "
                                    "WHERE e.entry_id=?", (entry_id,)).fetchone()
        return int(row[0]) if row[0] is not None else None

    def photo_counts(self, batch: str | None = None) -> dict[str, int]:
        """The photo counts people read, in one vocabulary everywhere (run, status, report, demo), over the
        workspace or one batch: ``files_received`` (photo files the entries listed, each use counted),
        ``distinct_photos`` (different photos among the usable ones: a file reused by two entries is one) and
        ``unusable`` (files that could not be used: unreadable, not a photo, ...)."""
        where, args = ("JOIN entries e USING(entry_id) WHERE e.batch=?", (batch,)) if batch is not None else ("", ())
        row = self.conn.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT CASE WHEN ep.error_json IS NULL THEN ep.sha256 END), "
            f"SUM(ep.error_json IS NOT NULL) FROM entry_photos ep {where}", args).fetchone()
        return {"files_received": int(row[0]), "distinct_photos": int(row[1]), "unusable": int(row[2] or 0)}

    def entries_with_photo(self, sha256: str) -> list[tuple[str, str, str]]:
        """(entry_id, rel_path, role) of every use of a photo, in arrival order."""
        rows = self.conn.execute(
            "SELECT ep.entry_id, ep.rel_path, ep.role FROM entry_photos ep JOIN entries e USING(entry_id) "
            "WHERE ep.sha256=? ORDER BY e.seq, ep.ord", (sha256,)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # ---------------------------------------------------------------------------------------- photos
    def put_photo(self, meta: PhotoMeta, entry_id: str, rel_path: str) -> None:
        """Record a photo the first time its bytes are seen; later sightings keep the first arrival."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM photos WHERE sha256=?", (meta.sha256,)).fetchone():
                c.execute("UPDATE photos SET meta_json=? WHERE sha256=?",
                          (json.dumps(meta.to_dict(), sort_keys=True), meta.sha256))
                return
            c.execute("INSERT INTO photos(sha256, seq, size_bytes, meta_json, first_entry_id, first_rel_path) "
                      "VALUES (?,?,?,?,?,?)",
                      (meta.sha256, _next_seq(c, "photos"), meta.size_bytes,
                       json.dumps(meta.to_dict(), sort_keys=True), entry_id, rel_path))

    def photo_meta(self, sha256: str) -> PhotoMeta | None:
        row = self.conn.execute("SELECT meta_json FROM photos WHERE sha256=?", (sha256,)).fetchone()
        return PhotoMeta.from_dict(json.loads(row[0])) if row else None

    def photo_seq(self, sha256: str) -> int | None:
        row = self.conn.execute("SELECT seq FROM photos WHERE sha256=?", (sha256,)).fetchone()
        return int(row[0]) if row else None

    def thumb_path(self, sha256: str) -> Path:
        return self.root / "thumbs" / f"{sha256}.jpg"

    # --------------------------------------------------------------------------------- stage results
    def get_result(self, sha256: str, stage: str, stage_version: str, config_hash: str,
                   model_id: str = "") -> JsonObject | None:
        """A photo's stored result of ``stage`` under its full key, as stored (the stage decodes it:
        :meth:`pipeline.stages.base.PhotoStage.read`); None when there is none."""
        row = self.conn.execute(
            "SELECT result_json FROM stage_results WHERE sha256=? AND stage=? AND stage_version=? "
            "AND model_id=? AND config_hash=?", (sha256, stage, stage_version, model_id, config_hash)).fetchone()
        return json.loads(row[0]) if row else None

    def put_result(self, sha256: str, stage: str, stage_version: str, config_hash: str, result: JsonObject,
                   model_id: str = "", conn: sqlite3.Connection | None = None) -> None:
        sql = ("INSERT OR REPLACE INTO stage_results(sha256, stage, stage_version, model_id, config_hash, "
               "result_json) VALUES (?,?,?,?,?,?)")
        args = (sha256, stage, stage_version, model_id, config_hash, json.dumps(result, sort_keys=True))
        if conn is not None:
            conn.execute(sql, args)
        else:
            with self.transaction() as c:
                c.execute(sql, args)

    def latest_result(self, sha256: str, stage: str) -> JsonObject | None:
        """The most recently written result of a stage for a photo, whatever its key (for reports)."""
        row = self.conn.execute("SELECT result_json FROM stage_results WHERE sha256=? AND stage=? "
                                "ORDER BY rowid DESC LIMIT 1", (sha256, stage)).fetchone()
        return json.loads(row[0]) if row else None

    def get_entry_result(self, entry_id: str, stage: str, input_key: str | None = None) -> JsonObject | None:
        """An entry's stored result of ``stage`` (under ``input_key`` when given), as stored; None when there
        is none."""
        row = self.conn.execute("SELECT input_key, result_json FROM entry_results WHERE entry_id=? AND stage=?",
                                (entry_id, stage)).fetchone()
        if row is None or (input_key is not None and row[0] != input_key):
            return None
        return json.loads(row[1])

    def put_entry_result(self, entry_id: str, stage: str, input_key: str, result: JsonObject) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO entry_results(entry_id, stage, input_key, result_json) "
                      "VALUES (?,?,?,?)", (entry_id, stage, input_key, json.dumps(result, sort_keys=True)))

    def scorecard(self, entry_id: str) -> ScoreCard | None:
        d = self.get_entry_result(entry_id, "score")
        return ScoreCard.from_dict(d) if d else None

    def scorecards(self) -> list[ScoreCard]:
        """Score cards of every entry, in arrival order (entries not yet scored are left out)."""
        rows = self.conn.execute("SELECT r.result_json FROM entry_results r JOIN entries e USING(entry_id) "
                                 "WHERE r.stage='score' ORDER BY e.seq").fetchall()
        return [ScoreCard.from_dict(json.loads(r[0])) for r in rows]


def _ranking_facts(entry_id: str, seq: int, sub: Any, card: Any) -> RankingFacts:
    sub = sub if isinstance(sub, dict) else {}
    scored = card is not None
    card = card if isinstance(card, dict) else {}
    flags: tuple[Flag, ...] = ()
    if card.get("flags"):
        try:
            flags = tuple(Flag.from_dict(f) for f in card["flags"])
        except (KeyError, TypeError, ValueError, AttributeError):
            flags = ()
    text = lambda v: None if v is None else str(v)  # noqa: E731
    score = card.get("score")
    return RankingFacts(entry_id, int(seq), text(sub.get("participant")), text(sub.get("team")), scored,
                        None if score is None else float(score), text(card.get("status")), flags)


def _next_seq(c: sqlite3.Connection, table: str) -> int:
    row = c.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
