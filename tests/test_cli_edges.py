"""The command line's edges: paths a user types are resolved against the caller's folder once, and every
failure a user can cause ends in one line on standard error (exit 2 for bad usage, 1 for a failed command),
never a traceback."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.review import auth, decisions
from pipeline.store import Workspace
from wsfactory import make_workspace

PASSWORD = "correct horse battery"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("edges") / "ws"
    make_workspace(root, 3, seed=2, thumb_side=96)
    with Workspace(root) as ws:
        decisions.add_user(ws, "ann", "judge", auth.hash_password(PASSWORD))
    return root


@pytest.fixture()
def here(ws_template, tmp_path, monkeypatch) -> Path:
    """A fresh folder holding ``ws/`` (a copy of the template), a file ``afile`` and a folder ``adir``, made the
    working folder."""
    import shutil

    shutil.copytree(ws_template, tmp_path / "ws")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------- paths
def test_serve_with_a_relative_workspace_shows_thumbnails_and_boxed_photos(here, monkeypatch):
    import waitress

    served = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.append(app))
    assert main(["serve", "--workspace", "ws", "--port", str(_free_port())]) == 0
    monkeypatch.chdir(here / "adir")  # the app must not depend on the folder it was started from
    c = served[0].test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": tok}).status_code == 302
    entry = re.search(r'href="(/entry\?id=[^"]+)"', c.get("/").text).group(1)
    page = c.get(entry.replace("&amp;", "&"))
    assert page.status_code == 200
    assert 'class="box box-det"' in page.text  # the photo is shown with its detections boxed
    thumbs = set(re.findall(r'src="(/thumbs/[0-9a-f]{64}\.jpg)"', page.text))
    assert thumbs
    for src in thumbs:
        r = c.get(src)
        assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:2] == b"\xff\xd8", src


def test_relative_out_and_workspace_land_in_the_callers_folder(here):
    assert main(["export", "--workspace", "ws", "--out", "res.jsonl"]) == 0
    assert len((here / "res.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert main(["report", "--workspace", "ws", "--out", "rep"]) == 0
    assert (here / "rep" / "index.html").is_file() and len(list((here / "rep" / "thumbs").iterdir())) >= 6


def test_workspace_paths_are_absolute_once_opened(here):
    with Workspace("ws", create=False) as ws:
        assert ws.root == here / "ws" and ws.root.is_absolute()
        assert ws.thumb_path("0" * 64).is_absolute()


# -------------------------------------------------------------------------------- one-line errors, walked
def _batch(root: Path) -> Path:
    """A one-entry batch folder (the files need not be valid photos: the walk fails before they are read)."""
    for role in ("before", "after"):
        (root / "e1" / role).mkdir(parents=True)
        (root / "e1" / role / "a.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    return root


def _data_yaml(root: Path, eval_only: bool) -> Path:
    root.mkdir()
    (root / "train.txt").write_text("" if eval_only else "x.jpg\n")
    (root / "val.txt").write_text("x.jpg\n")
    y = root / "data.yaml"
    y.write_text(f"path: {root}\ntrain: {root / 'train.txt'}\nval: {root / 'val.txt'}\nnc: 1\nnames: {{0: litter}}\n"
                 f"cleanup_verify: {{definition: aquatrash-val, eval_only: {str(eval_only).lower()}}}\n")
    return y


def _bogus_workspace(root: Path) -> Path:
    """A folder whose workspace.db is not a database (a damaged or foreign file)."""
    root.mkdir()
    (root / "workspace.db").write_bytes(b"this is not an SQLite database, just text" * 100)
    return root


# (arguments, expected exit status, words the message must hold); "{...}" is filled from the test's folder
WALK = [
    ([], 2, "usage"),
    (["run", "nosuch", "--workspace", "w2"], 2, "not found"),
    (["run", "{batch}", "--workspace", "afile"], 2, "is a file, not a folder"),
    (["run", "{batch}", "--workspace", "w2", "--config", "nosuch.toml"], 2, "not found"),
    (["run", "{batch}", "--workspace", "w2", "--workers", "0"], 2, "--workers"),
    (["run", "{batch}", "--workspace", "w2", "--ray-address", "auto"], 2, "--executor ray"),
    (["run", "afile", "--workspace", "w2"], 2, "manifest"),
    (["export", "--workspace", "nosuch"], 2, "does not exist"),
    (["export", "--workspace", "afile"], 2, "not a folder"),
    (["export", "--workspace", "ws", "--out", "adir"], 2, "is a folder"),
    (["export", "--workspace", "ws", "--out", "afile/x.jsonl"], 2, "is a file"),
    (["export", "--workspace", "ws", "--format", "xml"], 2, "--format"),
    (["status", "--workspace", "nosuch"], 2, "does not exist"),
    (["status", "--workspace", "{bogus_ws}"], 2, "cannot be used as a workspace database"),
    (["serve", "--workspace", "{bogus_ws}"], 2, "cannot be used as a workspace database"),
    (["report", "--workspace", "ws", "--out", "afile"], 2, "not a folder"),
    (["report", "--workspace", "adir", "--out", "r"], 2, "not a workspace"),
    (["serve", "--workspace", "ws", "--port", "99999"], 2, "--port"),
    (["serve", "--workspace", "ws", "--port", "{busy}"], 1, "in use"),
    (["serve", "--workspace", "ws", "--host", "no-such-host.invalid", "--port", "{free}"], 2, "--host"),
    (["serve", "--workspace", "ws", "--threads", "0"], 2, "--threads"),
    (["users", "list", "--workspace", "nosuch"], 2, "does not exist"),
    (["users", "remove", "nobody", "--workspace", "ws"], 2, "no account"),
    (["users", "passwd", "nobody", "--workspace", "ws"], 2, "no account"),
    (["users", "add", "bo", "--workspace", "ws"], 2, "at least"),
    (["dedup", "nosuch.jpg"], 2, "no such file"),
    (["dedup", "afile", "--workspace", "adir"], 2, "not a workspace"),
    (["demo", "--out", "afile"], 2, "is a file"),
    (["dataset", "build", "nosuch-definition"], 2, "no dataset definition"),
    (["dataset", "build", "litter1s", "--data-root", "nosuch"], 2, "--data-root"),
    (["dataset", "export-corrections", "--workspace", "ws", "--out", "afile"], 2, "not a folder"),
    (["train", "--data", "nosuch.yaml"], 2, "no data.yaml"),
    (["train", "--data", "afile"], 2, "not a data.yaml"),
    (["train", "--data", "{eval_yaml}"], 2, "evaluation-only"),
    (["train", "--resume", "--name", "nothing-here"], 2, "nothing to resume"),
    (["train", "--epochs", "many"], 2, "--epochs"),
    (["evaluate", "--model", "no-such-model", "--data", "nosuch.yaml"], 2, "no-such-model"),
    (["models", "register", "adir", "--name", "x"], 2, "not a training run"),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("argv, status, words", WALK, ids=[" ".join(w[0][:2]) + f" #{i}" for i, w in enumerate(WALK)])
def test_bad_usage_ends_in_one_line_without_traceback(here, capsys, monkeypatch, argv, status, words):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))  # a password read from standard input
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        fill = {"batch": str(_batch(here / "batch")), "busy": str(busy.getsockname()[1]),
                "free": str(_free_port()), "eval_yaml": str(_data_yaml(here / "evalset", eval_only=True)),
                "bogus_ws": str(_bogus_workspace(here / "bogus"))}
        args = [a.format(**fill) if "{" in a else a for a in argv]
        try:
            code = main(args)
        except SystemExit as e:  # argparse: usage and one error line
            code = e.code
        err = capsys.readouterr().err
    assert code == status, err
    assert "Traceback" not in err
    if not argv:  # no command: the help, on standard error
        assert err.startswith("usage: cleanup-verify")
        return
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("cleanup-verify"), err
    if not lines[-1].startswith(("usage", "cleanup-verify ")) or ": error:" not in lines[-1]:
        assert len(lines) == 1, err  # our own messages: exactly one line
    assert words in lines[-1], err
    assert not (here / "runs").exists()  # nothing half-made (train refuses before ultralytics starts)


def test_a_real_process_prints_no_traceback(here):
    """The same through the interpreter, as a user runs it: a workspace that is a file."""
    _batch(here / "batch")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(REPO / ".yolo")}
    p = subprocess.run([sys.executable, "-m", "pipeline", "run", "batch", "--workspace", "afile", "--quiet"],
                       cwd=here, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == f"cleanup-verify: error: workspace {here / 'afile'} is a file, not a folder"
