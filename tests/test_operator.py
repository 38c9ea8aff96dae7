"""An operator's failures end cleanly: a full disk, two runs on one workspace, bad paths and arguments."""
from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
from pathlib import Path
import time
import pytest

from pipeline import export
from pipeline.run import runguard, runner
from pipeline.cli import main
from pipeline.store import Workspace, queries

ENTRIES = ("01-full-cleanup", "04-shared-photo-a", "05-shared-photo-b", "09-corrupt-file")


@pytest.fixture(scope="module")
def small_batch(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "batch"
    for e in ENTRIES:
        shutil.copytree(sample.root / e, root / e)
    return root


@pytest.fixture(scope="module")
def clean_export(small_batch, tmp_path_factory):
    ws = tmp_path_factory.mktemp("clean") / "ws"
    assert main(["run", str(small_batch), "--workspace", str(ws), "--quiet"]) == 0
    with Workspace(ws) as w:
        return export.to_jsonl(w)


def _fail_after(monkeypatch, owner: object, attr: str, n: int, exc: BaseException) -> dict:
    """Patch ``owner.attr`` so that its call number n+1 and every later one raise ``exc``."""
    real = getattr(owner, attr)
    calls = {"ok": 0, "failed": 0}

    def patched(*a, **kw):
        if calls["ok"] >= n:
            calls["failed"] += 1
            raise exc
        calls["ok"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(owner, attr, patched)
    return calls


@pytest.mark.parametrize("target, exc", [
    ((Workspace, "put_result"), sqlite3.OperationalError("database or disk is full")),
    ((runner, "atomic_write_bytes"), OSError(errno.ENOSPC, "No space left on device", "thumbs/x.jpg")),
], ids=["sqlite", "thumbnail"])
@pytest.mark.slow
def test_disk_full_stops_at_first_failed_write_and_rerun_resumes(small_batch, clean_export, tmp_path,
                                                                 monkeypatch, capsys, target, exc):
    ws = tmp_path / "ws"
    calls = _fail_after(monkeypatch, *target, 3, exc)
    assert main(["run", str(small_batch), "--workspace", str(ws), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert calls["failed"] == 1  # nothing was tried after the first failed write
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # one message, no traceback
    assert "is full (" in lines[0] and "bytes free" in lines[0] and "free space and rerun to resume" in lines[0]
    assert "Traceback" not in err
    with Workspace(ws) as w:
        assert queries.run_statuses(w)[0] == "failed"
    monkeypatch.undo()
    assert main(["run", str(small_batch), "--workspace", str(ws), "--quiet"]) == 0
    with Workspace(ws) as w:
        assert export.to_jsonl(w) == clean_export


def test_disk_full_is_recognised_through_causes():
    assert runguard.is_disk_full(OSError(errno.ENOSPC, "full"))
    assert runguard.is_disk_full(sqlite3.OperationalError("database or disk is full"))
    try:
        try:
            raise OSError(errno.EDQUOT, "quota")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert runguard.is_disk_full(outer)
    assert not runguard.is_disk_full(OSError(errno.EACCES, "denied"))
    assert not runguard.is_disk_full(sqlite3.OperationalError("database is locked"))


@pytest.mark.slow
def test_second_run_refuses_or_waits(small_batch, clean_export, tmp_path, capsys):
    ws = tmp_path / "ws"
    Workspace(ws).close()
    release = threading.Event()
    held = threading.Event()

    def first_run():  # stands in for a run in another process: it holds the workspace's run lock
        with runguard.exclusive_run(ws):
            held.set()
            release.wait(30)

    t = threading.Thread(target=first_run)
    t.start()
    try:
        assert held.wait(10)
        assert main(["run", str(small_batch), "--workspace", str(ws), "--quiet", "--no-wait"]) == 1
        err = capsys.readouterr().err
        assert "another run is using workspace" in err and "pid " in err and "--no-wait" in err
        with Workspace(ws) as w:
            assert queries.run_statuses(w) == []  # nothing was done
        threading.Timer(1.0, release.set).start()
        t0 = time.monotonic()
        assert main(["run", str(small_batch), "--workspace", str(ws), "--quiet"]) == 0
        assert time.monotonic() - t0 >= 0.9  # it waited for the first run
        assert "waiting for it to finish" in capsys.readouterr().err
    finally:
        release.set()
        t.join()
    with Workspace(ws) as w:
        assert export.to_jsonl(w) == clean_export


# --------------------------------------------------------------------------------------- smaller things
@pytest.mark.parametrize("make", ["missing", "empty", "file", "folder_of_files"])
def test_bad_batch_path_exits_2_and_creates_no_workspace(tmp_path, capsys, make):
    batch = tmp_path / "batch"
    if make == "empty":
        batch.mkdir()
    elif make == "file":
        batch = tmp_path / "notes.txt"
        batch.write_text("hello")
    elif make == "folder_of_files":
        batch.mkdir()
        (batch / "a.jpg").write_bytes(b"x")
    ws = tmp_path / "ws"
    assert main(["run", str(batch), "--workspace", str(ws)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(batch.name) in err
    assert not ws.exists()


def test_unknown_option_prints_the_commands_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", str(tmp_path), "-w", str(tmp_path / "ws"), "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: cleanup-verify run ") and "unrecognized arguments: --bogus" in err


def test_toml_syntax_error_names_the_file(tmp_path, capsys):
    bad = tmp_path / "settings.toml"
    bad.write_text("[detect\nconfidence = 0.3\n")
    assert main(["run", str(tmp_path), "-w", str(tmp_path / "ws"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "TOML" in err


def test_export_and_status_help_do_not_promise_to_create(capsys):
    for cmd in ("export", "status"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "created if missing" not in out and "must exist" in out


def test_avif_photos_are_accepted(tmp_path):
    import io

    from PIL import Image, features

    from pipeline.config import LoadConfig
    from pipeline.ingest import ingest
    from pipeline.load import load_photo

    entry = tmp_path / "batch" / "E1"
    for role in ("before", "after"):
        (entry / role).mkdir(parents=True)
        if features.check("avif"):
            buf = io.BytesIO()
            Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "AVIF")
            (entry / role / "1.avif").write_bytes(buf.getvalue())
        else:
            (entry / role / "1.avif").write_bytes(b"")
    batch = ingest(tmp_path / "batch")
    sub = batch.submissions[0]
    assert sorted(p.rel_path for p in sub.photos) == ["E1/after/1.avif", "E1/before/1.avif"]
    assert not sub.problems
    if features.check("avif"):
        photo = load_photo((entry / "before" / "1.avif").read_bytes(), LoadConfig(), sha256="x" * 64,
                           rel_path="E1/before/1.avif")
        assert photo.meta.format == "AVIF" and photo.image.shape[:2] == (48, 64)


def test_dedup_text_output_counts_and_paths(tmp_path, capsys):
    import io

    import numpy as np
    from PIL import Image

    from pipeline.types import PhotoRef, Submission

    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    Image.fromarray((rng.random((96, 128, 3)) * 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.jpg").write_bytes(buf.getvalue())
    assert main(["dedup", str(tmp_path / "p" / "a.jpg")]) == 0
    assert capsys.readouterr().out.startswith("1 file checked, 0 groups of copies")
    (tmp_path / "p" / "b.jpg").write_bytes(buf.getvalue())
    assert main(["dedup", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 files checked (1 distinct photo), 1 group of copies")
    assert "1 photos" not in out and "(2 copies of 1 distinct photo)" in out
    # a workspace photo is named by its batch path once, not with its entry id repeated
    from pipeline.dedup import index as dindex
    from pipeline.dedup.hashing import compute_hashes
    from pipeline.load import load_photo
    from pipeline.config import LoadConfig
    import hashlib

    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    with Workspace(tmp_path / "ws") as ws:
        ref = PhotoRef("E1", "before", tmp_path / "b" / "E1" / "before" / "1.jpg", "E1/before/1.jpg")
        ws.put_submission(Submission("E1", photos=(ref,)), "b")
        photo = load_photo(buf.getvalue(), LoadConfig(), sha256=sha, rel_path=ref.rel_path)
        ws.put_photo(photo.meta, "E1", ref.rel_path)
        ws.set_entry_photo("E1", ref.rel_path, sha, None)
        dindex.add(ws, compute_hashes(photo.image, sha))
    assert main(["dedup", str(tmp_path / "p" / "a.jpg"), "--workspace", str(tmp_path / "ws")]) == 0
    out = capsys.readouterr().out
    assert "workspace:E1/before/1.jpg" in out and "E1/E1/" not in out


def test_demo_checks_each_story(sample, capsys):
    from pipeline.commands import _print_story
    from pipeline.demo.checks import check_stories

    def record(e, score):
        codes = sample.expected_flags[e] | sample.expected_with_detector[e]
        probs = [{"code": c, "path": p, "message": ""} for p, c in sample.bad_photos.items() if p.startswith(e + "/")]
        return {"entry_id": e, "score": score, "status": "scored", "rank": 1, "problems": probs,
                "flags": [{"code": c} for c in sorted(codes)]}

    scores = {e: 90.0 - 5 * i for i, e in enumerate(sample.entry_ids)}
    recs = [record(e, scores[e]) for e in sample.entry_ids]
    assert all(st.passed for st in check_stories(sample, recs))
    by_id = {r["entry_id"]: r for r in recs}
    by_id["03-no-cleanup"]["score"] = 95.0  # no clean-up scoring above the partial one
    by_id["09-corrupt-file"]["problems"] = []  # the truncated photo not listed
    by_id["07-unrelated-after"]["flags"] = []  # the scene mismatch missed
    checks = {st.entry_id: st for st in check_stories(sample, recs)}
    assert {e for e, st in checks.items() if not st.passed} == {"03-no-cleanup", "09-corrupt-file",
                                                                 "07-unrelated-after"}
    _print_story(checks["03-no-cleanup"])
    _print_story(checks["01-full-cleanup"])
    out = capsys.readouterr().out
    assert out.startswith("FAIL  03-no-cleanup: ") and "FAIL scores below 02-partial-cleanup" in out
    assert "PASS  01-full-cleanup: " in out and "ok   none of DUPLICATE_PHOTO" in out


def test_dataset_build_writes_under_the_project_by_default(capsys):
    from pipeline.detect.datasets import default_out_dir, project_root

    out = default_out_dir("litter1s")
    assert out == project_root() / "build" / "datasets" / "litter1s"
    assert Path.home() / ".cache" not in out.parents
    with pytest.raises(SystemExit):
        main(["dataset", "build", "--help"])
    assert "build/datasets/NAME" in " ".join(capsys.readouterr().out.split())
