"""Index cost of issue 22's region hashes: memory and query time of the region-window and picture search
at n photos (docs/dedup-bench.md).

Each of n photos gets a random 64-bit pHash, ``len(REGION_BOXES)`` random window pHashes and, for one
photo in five, two picture (collage panel) pHashes: uniform random codes fill the buckets evenly, the best
case for multi-index hashing (real pHashes cluster, so real buckets are fuller). 1,000 photos have a
planted deep crop (their window 5 within 4 bits of another photo's pHash) to check the search finds them.
A query is what :func:`pipeline.dedup.region_index.region_candidates` asks for one photo: its pHash and 16
same-slot windows against the windows, its 64 windows against the pHashes, its pHash against the pictures.

    nice -n 19 python scripts/bench_dedup_regions.py --n 100000 1000000
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.dedup.mih import MultiIndex  # noqa: E402
from pipeline.dedup.region_index import R, RegionIndex  # noqa: E402
from pipeline.dedup.regions import SAME_SLOT  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rand64(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 2 ** 63, size=shape, dtype=np.int64).astype(np.uint64) * np.uint64(2) + \
        rng.integers(0, 2, size=shape, dtype=np.int64).astype(np.uint64)


def flip(codes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = codes.copy()
    for i in range(len(out)):
        for b in rng.choice(64, bits, replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(b))
    return out


def bench(n: int, radius: int, queries: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    phash = rand64(rng, n)
    windows = rand64(rng, n * R)
    planted = rng.choice(n, 1000, replace=False)
    targets = (planted + 1) % n
    windows[planted * R + 5] = flip(phash[targets], 4, rng)  # photo p's window 5 ~ photo p+1's pHash
    owners = np.flatnonzero(rng.random(n) < 0.2)
    pic_owner = np.repeat(owners, 2)
    ri = RegionIndex(windows, np.ones(n, bool), rand64(rng, len(pic_owner)), pic_owner.astype(np.int64),
                     np.tile(np.array([0, 1], np.int16), len(owners)))
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    ph_mi = MultiIndex(phash[:, None])
    win_mi, pic_mi = ri.mih("windows"), ri.mih("pics")
    t_build = time.perf_counter() - t0
    mem = ri.nbytes() + ph_mi.codes.nbytes + sum(o.nbytes for o in ph_mi._order) + sum(s.nbytes for s in ph_mi._starts)
    qs = rng.choice(n, queries, replace=False)
    times = []
    for q in qs:
        t = time.perf_counter()
        w = windows[q * R:(q + 1) * R]
        win_mi.query_many(np.concatenate([[phash[q]], w[list(SAME_SLOT)]])[:, None], radius)
        ph_mi.query_many(w[:, None], radius)
        pic_mi.query_many(np.array([[phash[q]]], np.uint64), radius)
        times.append(time.perf_counter() - t)
    # the planted deep crops are found (their crop's pHash against the windows)
    hit = 0
    for p, tgt in zip(planted[:100], targets[:100]):
        _, ids, _ = win_mi.query_many(np.array([[phash[tgt]]], np.uint64), radius)
        hit += int(p * R + 5 in set(ids.tolist()))
    return {"n": n, "make_s": t_make, "build_s": t_build, "index_mib": mem / 2 ** 20,
            "median_ms": 1e3 * float(np.median(times)), "p90_ms": 1e3 * float(np.percentile(times, 90)),
            "planted_found": hit, "peak_mib": peak_mib()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000], help="photos in the index")
    ap.add_argument("--radius", type=int, default=10)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args(argv)
    print(f"region windows per photo: {R}; same-slot windows queried: {len(SAME_SLOT)}; radius {args.radius}")
    for n in args.n:
        r = bench(n, args.radius, args.queries)
        print(f"n={n:,}: codes {r['make_s']:.1f} s, build {r['build_s']:.1f} s, index {r['index_mib']:,.0f} MiB "
              f"(windows, pictures, whole-photo pHash; with the radius-search tables), query of one photo: median "
              f"{r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms; planted deep crops found {r['planted_found']}/100; "
              f"peak RSS {r['peak_mib']:,.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
