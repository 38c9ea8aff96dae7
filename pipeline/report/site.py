"""The static report: ``index.html`` (the ranking), ``entries/<key>.html`` per entry, ``problems.html`` (every
input problem of every run: pipeline.export.problem_records), ``thumbs/``, ``static/``.

The site is written into a temporary folder next to ``out`` and then swapped in with renames, so a reader
sees the old report or the new one, never half of one. ``out`` must be missing, empty, or a previous
report (it carries a marker file); anything else is refused rather than deleted.

Entry pages are named by :func:`pipeline.report.views.entry_key` (a hash of the id), never by the
entry id itself, which is user-supplied.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable

from ..export import problem_records
from ..store import Workspace
from . import views
from .render import StaticUrls, render

MARKER = ".cleanup-verify-report"
STATIC_FILES = ("style.css", "review.js")


class ReportError(RuntimeError):
    pass


def build_report(ws: Workspace, out: str | Path, lang: str = "en") -> Path:
    """Write the static report of ``ws`` to folder ``out``; returns the path of ``index.html``."""
    out = write_folder_atomically(out, lambda tmp: _write_site(ws, tmp, lang))
    return out / "index.html"


def write_folder_atomically(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Fill a fresh temporary folder with ``fill(tmp)``, then swap it in for ``out`` with renames.

    ``out`` must be missing, empty, or written by this function before (it carries :data:`MARKER`);
    anything else raises :class:`ReportError` and is left untouched. Returns the resolved ``out``.
    """
    out = Path(out).resolve()
    if out.exists():
        if not out.is_dir():
            raise ReportError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise ReportError(f"{out} is not empty and was not written by cleanup-verify; choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        (tmp / MARKER).write_text("written by cleanup-verify; this folder is replaced on each run\n")
        fill(tmp)
        os.chmod(tmp, 0o755)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_site(ws: Workspace, root: Path, lang: str) -> None:
    (root / "entries").mkdir()
    (root / "thumbs").mkdir()
    (root / "static").mkdir()
    pkg = resources.files("pipeline.report") / "static"
    for name in STATIC_FILES:
        (root / "static" / name).write_bytes((pkg / name).read_bytes())
    rows = views.ranking_rows(ws)
    (root / "index.html").write_text(
        render("ranking.html", lang=lang, urls=StaticUrls(0), rows=rows, groups=views.tier_groups(rows),
               summary=views.ranking_summary(rows), photos=ws.photo_counts()), encoding="utf-8")
    problems = [{**p, "key": views.entry_key(p["entry_id"]) if p["entry_id"] is not None else ""}
                for p in problem_records(ws)]
    (root / "problems.html").write_text(render("problems.html", lang=lang, urls=StaticUrls(0), problems=problems),
                                        encoding="utf-8")
    conf = views.operating_confidence(ws)
    copied: set[str] = set()
    entry_urls = StaticUrls(1)
    for r in rows:
        e = views.entry_view(ws, r.entry_id, min_confidence=conf)
        if e is None:
            continue
        shas = {p.sha256 for p in e.photos if p.sha256 and p.has_thumb}
        shas |= {d.other_sha256 for d in e.duplicates if d.other_has_thumb}
        for sha in shas - copied:
            _copy_thumb(ws.thumb_path(sha), root / "thumbs" / f"{sha}.jpg")
            copied.add(sha)
        (root / "entries" / f"{e.key}.html").write_text(
            render("entry.html", lang=lang, urls=entry_urls, e=e), encoding="utf-8")


def _copy_thumb(src: Path, dst: Path) -> None:
    if not views.is_sha256(src.stem):
        return
    try:
        shutil.copyfile(src, dst)
    except OSError:
        pass  # a thumbnail that vanished meanwhile: the page shows a broken image, nothing else breaks


def _swap(new: Path, out: Path) -> None:
    """Replace folder ``out`` by folder ``new`` (same parent) with renames."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rmdir(old)
    os.replace(out, old)
    try:
        os.replace(new, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
