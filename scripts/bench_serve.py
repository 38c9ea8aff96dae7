#!/usr/bin/env python3
"""How fast the review app answers on a large workspace (issue 6: every page under 300 ms at 5,000 entries).

Builds a synthetic workspace with tests/wsfactory.py (default 5,000 entries, 500 decisions), signs in, and
times each page type with two local HTTP clients: Flask's test client (no network) and a real threaded
server on 127.0.0.1 over http.client. Baseline: a static file (/static/style.css) through the same client
in the same run; ratios are page median / baseline median. Also times the ranking right after a decision
(the cached ranking is rebuilt) and prints SQLite's query plans for the entry page's queries.

    .venv/bin/python scripts/bench_serve.py [--entries 5000] [--requests 40] [--workspace DIR]
"""
from __future__ import annotations

import argparse
import http.client
import logging
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from pipeline.review import auth  # noqa: E402
from pipeline.review.decisions import add_user, decide  # noqa: E402
from pipeline.review.app import BackgroundServer, create_app  # noqa: E402
from pipeline.store import Workspace  # noqa: E402
from wsfactory import make_workspace  # noqa: E402

PASSWORD = "bench password"
LIMIT_MS = 300.0


def build(root: Path, n: int, decisions: int, seed: int) -> list[str]:
    t = time.perf_counter()
    ids = make_workspace(root, n, seed=seed, thumb_side=160)
    rng = random.Random(seed)
    with Workspace(root) as ws:
        add_user(ws, "bench", "judge", auth.hash_password(PASSWORD))
        for eid in rng.sample(ids, min(decisions, len(ids))):
            decide(ws, eid, "bench", "override", round(rng.uniform(0, 100), 1), "bench decision", 0)
    print(f"workspace: {n} entries, {decisions} decisions, built in {time.perf_counter() - t:.1f} s")
    return ids


def page_urls(ids: list[str], rng: random.Random, k: int) -> dict[str, list[str]]:
    return {
        "static file (baseline)": ["/static/style.css"] * k,
        "ranking": ["/"] * k,
        "ranking filtered+sorted": [f"/?{urlencode({'flag': 'DUPLICATE_PHOTO', 'status': 'needs_review', 'sort': 'participant'})}"] * k,
        "ranking page 30": ["/?page=30"] * k,
        "entry": ["/entry?" + urlencode({"id": rng.choice(ids)}) for _ in range(k)],
        "audit": ["/audit"] * k,
    }


def stats(ms: list[float]) -> tuple[float, float]:
    s = sorted(ms)
    return statistics.median(s), s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def report(title: str, timings: dict[str, list[float]]) -> bool:
    base, _ = stats(timings["static file (baseline)"])
    print(f"\n{title}")
    print(f"  {'page':28s} {'median ms':>10s} {'p95 ms':>8s} {'x baseline':>11s}")
    ok = True
    for name, ms in timings.items():
        med, p95 = stats(ms)
        ok &= p95 < LIMIT_MS
        print(f"  {name:28s} {med:10.1f} {p95:8.1f} {med / base:11.1f}")
    return ok


def time_test_client(app, urls: dict[str, list[str]]) -> tuple[dict[str, list[float]], float]:
    c = app.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": tok}).status_code == 302
    for u in {v[0] for v in urls.values()}:  # warm-up (first ranking build is timed separately)
        c.get(u)
    out: dict[str, list[float]] = {}
    for name, us in urls.items():
        out[name] = []
        for u in us:
            t = time.perf_counter()
            r = c.get(u)
            out[name].append(1000 * (time.perf_counter() - t))
            assert r.status_code == 200, (u, r.status_code)
    # the ranking right after a decision: the cached rows are rebuilt
    page = c.get(urls["entry"][0]).text
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    eid = re.search(r'name="entry_id" value="([^"]+)"', page).group(1)
    ver = re.search(r'name="base_version" value="(\d+)"', page).group(1)
    c.post("/entry/decide", data={"entry_id": eid, "base_version": ver, "decision": "accept", "reason": "",
                                  "csrf_token": tok})
    t = time.perf_counter()
    assert c.get("/").status_code == 200
    return out, 1000 * (time.perf_counter() - t)


def time_real_server(url: str, urls: dict[str, list[str]]) -> dict[str, list[float]]:
    host, port = urlsplit(url).hostname, urlsplit(url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)

    def get(path: str, cookie: str = "") -> tuple[int, dict, bytes]:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    _, h, body = get("/login")
    cookie = h["Set-Cookie"].split(";")[0]
    tok = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    conn.request("POST", "/login", body=urlencode({"username": "bench", "password": PASSWORD, "csrf_token": tok}),
                 headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    r.read()
    assert r.status == 302, r.status
    cookie = r.getheader("Set-Cookie").split(";")[0]
    out: dict[str, list[float]] = {}
    for name, us in urls.items():
        out[name] = []
        for u in us:
            t = time.perf_counter()
            status, _, _ = get(u, cookie)
            out[name].append(1000 * (time.perf_counter() - t))
            assert status == 200, (u, status)
    conn.close()
    return out


def query_plans(root: Path, entry_id: str) -> None:
    with Workspace(root) as ws:
        sha = ws.entry_photos(entry_id)[0].sha256
        queries = [
            ("entry photos", "SELECT rel_path FROM entry_photos WHERE entry_id=? ORDER BY ord", (entry_id,)),
            ("latest detections", "SELECT result_json FROM stage_results WHERE sha256=? AND stage='detect' "
                                  "ORDER BY rowid DESC LIMIT 1", (sha,)),
            ("other uses of a photo", "SELECT ep.entry_id FROM entry_photos ep JOIN entries e USING(entry_id) "
                                      "WHERE ep.sha256=? ORDER BY e.seq, ep.ord", (sha,)),
            ("photos matched with a photo", "SELECT other FROM dedup_matches WHERE key=? AND photo IN (?)", ("k", sha)),
            ("... from the other end", "SELECT photo FROM dedup_matches WHERE key=? AND other IN (?)", ("k", sha)),
            ("entry decisions", "SELECT * FROM reviews WHERE entry_id=? ORDER BY version", (entry_id,)),
            ("corrections", "SELECT * FROM review_corrections WHERE sha256=? AND model_id=?", (sha, "m")),
            ("latest decisions", "SELECT r.* FROM reviews r JOIN (SELECT entry_id, MAX(version) AS v FROM reviews "
                                 "GROUP BY entry_id) m ON r.entry_id = m.entry_id AND r.version = m.v", ()),
            ("audit page", "SELECT * FROM reviews ORDER BY review_id DESC LIMIT 100 OFFSET 0", ()),
        ]
        print("\nquery plans (SEARCH = index lookup; the audit page SCAN walks rowids backwards and stops at LIMIT):")
        for name, sql, args in queries:
            try:
                plan = "; ".join(r[3] for r in ws.conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall())
            except sqlite3.OperationalError as e:  # dedup_matches: only in workspaces the dedup stage matched
                plan = str(e)
            print(f"  {name:28s} {plan}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=5000)
    ap.add_argument("--decisions", type=int, default=500)
    ap.add_argument("--requests", type=int, default=40, help="requests per page type and client")
    ap.add_argument("--workspace", type=Path, help="build it here (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workspace or Path(tmp) / "ws"
        ids = build(root, args.entries, args.decisions, args.seed)
        urls = page_urls(ids, random.Random(args.seed), args.requests)
        t = time.perf_counter()
        app = create_app(root)  # builds the ranking once (warm=True)
        first = 1000 * (time.perf_counter() - t)
        timings, after_write = time_test_client(app, urls)
        ok = report(f"Flask test client, {args.requests} requests per page", timings)
        print(f"  app start, ranking of all entries built: {first:.1f} ms")
        print(f"  ranking, first request after a decision (rows rebuilt): {after_write:.1f} ms")
        srv = BackgroundServer(create_app(root))
        try:
            ok &= report(f"real server on 127.0.0.1 (werkzeug, threaded) via http.client, {args.requests} "
                         f"requests per page", time_real_server(srv.url, urls))
        finally:
            srv.stop()
        query_plans(root, ids[1])
        print(f"\nevery page's p95 under {LIMIT_MS:.0f} ms: {'yes' if ok else 'NO'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
