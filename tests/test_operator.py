"""An operator's failures end cleanly: a full disk, two runs on one workspace, bad paths and arguments."""
from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
import time
import pytest

from pipeline import export, runguard, runner
from pipeline.cli import main
from pipeline.workspace import Workspace

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
        assert w.conn.execute("SELECT status FROM runs").fetchall()[0][0] == "failed"
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
            assert w.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0  # nothing was done
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
