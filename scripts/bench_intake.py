#!/usr/bin/env python3
"""Load drill of the intake API on loopback (issue 21; figures in docs/api.md).

Builds a batch of ``--entries`` entries (default 60) of real photos from ../shared/data with 2 to 4 photos
each (scripts/bench_pipeline.py's before/after pairs: a real photo and a camera-moved, cleaned-up copy; every
third entry gets a second before view, every third a second after view), starts ``cleanup-verify serve`` (the
real server: waitress, the intake worker with the ``--executor`` of ``run``) on a fresh workspace with a
token, and posts every entry from ``--clients`` concurrent clients (requests, multipart, as an app would)
while the worker scores. Then:

* checks every post was answered 202 (or 200), every entry is scored (the export has one record each, all
  with a model), none lost or twice, the queue is empty;
* reports the median and 95th percentile of the time to accept an upload (the request's round trip), the
  peak memory of the server (its own RSS, and with its worker processes), and the time from the first post
  until the last entry is scored;
* runs ``cleanup-verify run`` on the same batch into another fresh workspace with the same executor and
  reports its wall time beside the API's, and whether the two exports hold the same records (all fields but
  the ranks, which follow arrival order: concurrent clients post in no fixed order).

    nice -n 19 .venv/bin/python scripts/bench_intake.py [--entries 60] [--clients 8] [--executor local]
        [--workers N] [--keep DIR] [--json out.json]

Needs ../shared/data (or CLEANUP_VERIFY_DATA). On a machine shared with other work the times are not the
machine's: say so beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

RANK_FIELDS = ("rank", "provisional_rank")


def build(dest: Path, entries: int, seed: int = 0) -> int:
    """The batch: bench_pipeline's pairs plus extra views (2-4 photos an entry); returns the photo count."""
    import cv2
    import numpy as np
    from bench_pipeline import _moved, build_batch

    build_batch(dest, entries, seed=seed)
    rng = np.random.default_rng(seed + 1)
    n = 0
    for i, entry in enumerate(sorted(p for p in dest.iterdir() if p.is_dir())):
        for role, name, extra in (("before", "b.jpg", i % 3 == 1), ("after", "a.jpg", i % 3 == 2)):
            if extra:
                img = cv2.imread(str(entry / role / name))
                cv2.imwrite(str(entry / role / f"{name[0]}2.jpg"), _moved(img, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        n += sum(1 for _ in entry.rglob("*.jpg"))
    return n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MemorySampler(threading.Thread):
    """Peak RSS (bytes) of a process alone and with its children, sampled every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_own = self.peak_tree = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            try:
                own = proc.memory_info().rss
                tree = own + sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.Error:
                break
            self.peak_own, self.peak_tree = max(self.peak_own, own), max(self.peak_tree, tree)
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def drill(batch: Path, work: Path, clients: int, executor: str, workers: int | None) -> dict:
    import requests
    from intake_helpers import folder_entry, http_post_entry  # tests/intake_helpers.py

    from pipeline.api.tokens import new_token, token_hash
    from pipeline.store import Workspace
    from pipeline.store.tokens import add_token

    root = work / "ws-api"
    token = new_token()
    with Workspace(root) as ws:
        add_token(ws, "drill", token_hash(token), "2026-06-01T00:00:00Z")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "pipeline", "serve", "--workspace", str(root), "--port", str(port),
           "--executor", executor, "--threads", str(max(8, clients))]
    if workers:
        cmd += ["--workers", str(workers)]
    log = open(work / "serve.log", "w")
    server = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    sampler = MemorySampler(server.pid)
    sampler.start()
    try:
        deadline = time.time() + 600
        while True:
            try:
                if requests.get(f"{base}/api/v1/health", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start; see {work / 'serve.log'}")
            time.sleep(0.2)
        folders = sorted(p for p in batch.iterdir() if p.is_dir())
        posts = [folder_entry(f) for f in folders]
        answers: list[tuple[str, int, float]] = []
        lock = threading.Lock()

        def client(mine: list[tuple]) -> None:
            for entry, before, after in mine:
                t = time.perf_counter()
                r = http_post_entry(base, token, entry, before, after, timeout=600)
                with lock:
                    answers.append((entry["entry_id"], r.status_code, time.perf_counter() - t))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(posts[i::clients],)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        accepted_s = time.perf_counter() - t0
        while requests.get(f"{base}/api/v1/health", timeout=60).json()["queue"]:
            time.sleep(0.25)
        scored_s = time.perf_counter() - t0
        export = requests.get(f"{base}/api/v1/results", headers={"Authorization": f"Bearer {token}"}, timeout=600).text
    finally:
        sampler.stop()
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    lat = sorted(a[2] for a in answers)
    recs = [json.loads(x) for x in export.splitlines()]
    ids = [r["entry_id"] for r in recs]
    return {"entries": len(folders), "photos": sum(len(b) + len(a) for _, b, a in posts), "clients": clients,
            "answers": {str(c): sum(1 for a in answers if a[1] == c) for c in sorted({a[1] for a in answers})},
            "accept_median_s": round(statistics.median(lat), 3),
            "accept_p95_s": round(lat[max(0, int(round(0.95 * len(lat))) - 1)], 3),
            "all_posted_s": round(accepted_s, 1), "last_scored_s": round(scored_s, 1),
            "server_peak_rss_mb": round(sampler.peak_own / 2**20), "server_tree_peak_rss_mb": round(sampler.peak_tree / 2**20),
            "exported": len(ids), "distinct": len(set(ids)), "all_scored": all(r["model_id"] for r in recs),
            "lost": sorted(set(f.name for f in folders) - set(ids)), "export": export}


def batch_run(batch: Path, work: Path, executor: str, workers: int | None) -> tuple[float, str]:
    root = work / "ws-run"
    cmd = [sys.executable, "-m", "pipeline", "run", str(batch), "--workspace", str(root), "--executor", executor, "-q"]
    if workers:
        cmd += ["--workers", str(workers)]
    t = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    out = subprocess.run([sys.executable, "-m", "pipeline", "export", "--workspace", str(root)], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return wall, out


def _without_ranks(text: str) -> list[dict]:
    recs = [{k: v for k, v in json.loads(x).items() if k not in RANK_FIELDS} for x in text.splitlines()]
    return sorted(recs, key=lambda r: r["entry_id"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--executor", choices=("serial", "local", "ray"), default="local")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--keep", type=Path, help="build and keep the batch and workspaces here")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-intake-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        batch = work / "batch"
        if not batch.is_dir():
            t = time.perf_counter()
            n = build(batch, args.entries)
            print(f"batch: {args.entries} entries, {n} photos, built in {time.perf_counter() - t:.0f} s", flush=True)
        load_before = os.getloadavg()[0]
        d = drill(batch, work, args.clients, args.executor, args.workers)
        run_s, run_export = batch_run(batch, work, args.executor, args.workers)
        same = _without_ranks(d.pop("export")) == _without_ranks(run_export)
        d.update(run_s=round(run_s, 1), api_over_run=round(d["last_scored_s"] / run_s, 2),
                 same_records_as_run=same, executor=args.executor, load_before=round(load_before, 2),
                 load_after=round(os.getloadavg()[0], 2))
        print(f"{d['entries']} entries, {d['photos']} photos, {d['clients']} clients: answers {d['answers']}; "
              f"accept median {d['accept_median_s']} s, p95 {d['accept_p95_s']} s; all posted in "
              f"{d['all_posted_s']} s, last scored at {d['last_scored_s']} s; 'run' on the same batch "
              f"{d['run_s']} s (API/run {d['api_over_run']}); server peak RSS {d['server_peak_rss_mb']} MB "
              f"({d['server_tree_peak_rss_mb']} MB with its workers); exported {d['exported']} "
              f"({d['distinct']} distinct, all scored: {d['all_scored']}, lost: {d['lost'] or 'none'}); same records "
              f"as 'run' (ranks aside): {same}; load {d['load_before']} -> {d['load_after']}")
        if args.json:
            args.json.write_text(json.dumps(d, indent=2) + "\n")
        ok = (d["exported"] == d["distinct"] == d["entries"] and d["all_scored"] and not d["lost"]
              and set(d["answers"]) <= {"200", "202"})
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
