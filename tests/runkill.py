"""Kill a ``cleanup-verify run`` mid-way (SIGKILL), for the resume tests."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def kill_mid_run(run_args: list[str], ws: Path, env: dict[str, str] | None = None, min_detections: int = 3,
                 timeout: float = 300) -> list[str]:
    """Start ``cleanup-verify run RUN_ARGS --workspace WS`` and SIGKILL it as soon as ``min_detections``
    photos have stored detections. Returns the pids of the child processes it had (they must not survive
    it); fails the test when the run ends first."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", *run_args, "--workspace", str(ws)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, kids = time.time() + timeout, None
    while time.time() < deadline and proc.poll() is None:
        try:
            c = sqlite3.connect(ws / "workspace.db", timeout=1)
            n = c.execute("SELECT COUNT(*) FROM stage_results WHERE stage='detect'").fetchone()[0]
            c.close()
        except sqlite3.Error:
            n = 0
        if n >= min_detections:
            kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert kids is not None, "the run ended before it could be killed"
    return kids


def wait_gone(pids: list[str], timeout: float = 30) -> list[str]:
    """The pids of ``pids`` still alive after up to ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    return [p for p in pids if Path(f"/proc/{p}").exists()]
