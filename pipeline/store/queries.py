"""Read-only questions of the reports, the exports and the operator's commands. JSON columns come back as
the stored text; decoding them (and forgiving damaged ones) is the caller's business."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .workspace import Workspace


@dataclass(frozen=True)
class RunRow:
    """One row of table ``runs`` as ``status`` lists it (times ISO 8601 UTC; ``finished_at`` None while
    running)."""

    run_id: int
    started_at: str
    finished_at: str | None
    status: str
    batch: str

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at, "finished_at": self.finished_at,
                "status": self.status, "batch": self.batch}


def run_config_json(ws: Workspace, config_hash: str | None = None) -> str | None:
    """The configuration (JSON text) of the latest run, of the latest run with ``config_hash`` when given;
    None when there is no such run."""
    if config_hash is None:
        row = ws.conn.execute("SELECT config_json FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    else:
        row = ws.conn.execute("SELECT config_json FROM runs WHERE config_hash=? ORDER BY run_id DESC LIMIT 1",
                              (config_hash,)).fetchone()
    return row[0] if row is not None else None


def first_run_of_batch(ws: Workspace, batch: str) -> int | None:
    """The id of the first run of ``batch`` (its round), None when it never ran."""
    row = ws.conn.execute("SELECT MIN(run_id) FROM runs WHERE batch=?", (batch,)).fetchone()
    return int(row[0]) if row[0] is not None else None


def first_run_config_hash(ws: Workspace) -> str | None:
    """The configuration hash of the workspace's first run."""
    row = ws.conn.execute("SELECT config_hash FROM runs ORDER BY run_id LIMIT 1").fetchone()
    return row[0] if row is not None else None


def latest_result_json(ws: Workspace, sha256: str, stage: str, model_id: str) -> str | None:
    """The most recently written result (JSON text) of ``stage`` by ``model_id`` for a photo, whatever its
    other keys."""
    row = ws.conn.execute("SELECT result_json FROM stage_results WHERE sha256=? AND stage=? AND model_id=? "
                          "ORDER BY rowid DESC LIMIT 1", (sha256, stage, model_id)).fetchone()
    return row[0] if row is not None else None


def run_summaries(ws: Workspace) -> list[tuple[int, str, str]]:
    """(run_id, batch, summary JSON) of every run that wrote a summary, oldest first."""
    return [(int(r[0]), r[1], r[2]) for r in ws.conn.execute(
        "SELECT run_id, batch, summary_json FROM runs WHERE summary_json IS NOT NULL ORDER BY run_id")]


def latest_run_of_batches(ws: Workspace) -> dict[str, int]:
    """The latest run of each batch, by batch."""
    return {b: int(r) for b, r in ws.conn.execute("SELECT batch, MAX(run_id) FROM runs GROUP BY batch")}


def latest_summaries_per_batch(ws: Workspace) -> list[str]:
    """The summary JSON of the latest summarised run of each batch."""
    return [r[0] for r in ws.conn.execute(
        "SELECT summary_json FROM runs WHERE run_id IN "
        "(SELECT MAX(run_id) FROM runs WHERE summary_json IS NOT NULL GROUP BY batch)")]


def latest_summarised_run(ws: Workspace) -> int | None:
    """The id of the latest run that wrote a summary."""
    row = ws.conn.execute("SELECT MAX(run_id) FROM runs WHERE summary_json IS NOT NULL").fetchone()
    return int(row[0]) if row[0] is not None else None


def recent_runs(ws: Workspace, n: int = 10) -> list[RunRow]:
    """The ``n`` latest runs, newest first."""
    return [RunRow(int(r[0]), r[1], r[2], r[3], r[4]) for r in ws.conn.execute(
        "SELECT run_id, started_at, finished_at, status, batch FROM runs ORDER BY run_id DESC LIMIT ?", (n,))]


def run_statuses(ws: Workspace) -> list[str]:
    """The status of every run, oldest first."""
    return [r[0] for r in ws.conn.execute("SELECT status FROM runs ORDER BY run_id")]


def entry_problems(ws: Workspace) -> list[tuple[str, str, str]]:
    """(entry_id, batch, problems JSON) of every entry, in arrival order."""
    return [(r[0], r[1], r[2]) for r in ws.conn.execute(
        "SELECT entry_id, batch, problems_json FROM entries ORDER BY seq")]


def photo_errors(ws: Workspace, entry_id: str | None = None) -> list[tuple[str, str]]:
    """(rel_path, error JSON) of the photos that could not be used, of one entry in its order, or of the
    whole workspace."""
    if entry_id is None:
        return [(r[0], r[1]) for r in ws.conn.execute(
            "SELECT rel_path, error_json FROM entry_photos WHERE error_json IS NOT NULL")]
    return [(r[0], r[1]) for r in ws.conn.execute(
        "SELECT rel_path, error_json FROM entry_photos WHERE entry_id=? AND error_json IS NOT NULL ORDER BY ord",
        (entry_id,))]


@dataclass(frozen=True)
class TableCounts:
    """Rows of the main tables: entries, distinct photos, photo uses, per-photo stage results (by stage),
    score cards, runs (by status)."""

    entries: int
    photos: int
    photo_uses: int
    stage_results: dict[str, int]
    entry_results: dict[str, int]
    runs: dict[str, int]


def table_counts(ws: Workspace) -> TableCounts:
    """:class:`TableCounts` of the workspace."""
    one = lambda sql: int(ws.conn.execute(sql).fetchone()[0])  # noqa: E731
    by = lambda sql: {r[0]: int(r[1]) for r in ws.conn.execute(sql)}  # noqa: E731
    return TableCounts(entries=one("SELECT COUNT(*) FROM entries"), photos=one("SELECT COUNT(*) FROM photos"),
                       photo_uses=one("SELECT COUNT(*) FROM entry_photos"),
                       stage_results=by("SELECT stage, COUNT(*) FROM stage_results GROUP BY stage"),
                       entry_results=by("SELECT stage, COUNT(*) FROM entry_results GROUP BY stage"),
                       runs=by("SELECT status, COUNT(*) FROM runs GROUP BY status"))


def distinct_photos_used(ws: Workspace) -> int:
    """Distinct photos (sha256) the entries use, unusable ones included."""
    return int(ws.conn.execute("SELECT COUNT(DISTINCT sha256) FROM entry_photos WHERE sha256 IS NOT NULL")
               .fetchone()[0])


def duplicate_keys(ws: Workspace) -> dict[str, int]:
    """Per table, the number of primary keys stored more than once (0 everywhere in a sound workspace)."""
    out = {}
    for table, key in (("stage_results", "sha256, stage, stage_version, model_id, config_hash"),
                       ("entry_results", "entry_id, stage"), ("entry_photos", "entry_id, rel_path"),
                       ("photos", "sha256"), ("entries", "entry_id")):
        out[table] = len(ws.conn.execute(
            f"SELECT {key}, COUNT(*) c FROM {table} GROUP BY {key} HAVING c > 1").fetchall())
    return out
