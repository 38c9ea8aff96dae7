"""Index cost of issue 22's region hashes: memory, build and query time of the region-window, same-slot,
pHash and picture searches at n photos (docs/dedup-bench.md, issue 22).

Each of n photos gets a pHash, ``len(REGION_BOXES)`` window pHashes and, one photo in five, two picture
(collage panel) pHashes, drawn one of two ways (``--codes``):

- ``real`` (default): every code mixes two codes of the same kind (pHash, or window k) of two random real
  photos of ../shared/data (never litter/aquatrash/val), half the bits from each (a fresh random mask per
  code). Real window pHashes cluster (sky, road, walls: many windows share most bits), and the mix keeps
  that: two codes drawn from one cluster land in it again. The pool's hashes are computed once and kept
  in ``--pool`` (an .npz);
- ``random``: uniform random codes, which fill the buckets evenly (the best case for multi-index hashing).

1,000 photos have a planted deep crop (their window 5 within 4 bits of another photo's pHash) to check
that the search finds them. A query is what :func:`pipeline.dedup.region_index.region_candidates` asks of
the index for one indexed photo: its pHash against all n * R windows, its 16 same-slot windows each
against that slot's n windows, its R windows and its pictures against the n pHashes, its pHash against
the pictures. ``--search old`` times the search as it was before it was reworked (pipeline/dedup/mih.py
of ``--old-rev``, read with git; same codes, same queries: the same-slot windows against all n * R
windows); each run prints a digest of every hit so that two runs can be compared. Run each arm in its own
process: the peak RSS is per process.

    nice -n 19 python scripts/bench_dedup_regions.py --n 100000 1000000 [--search old] [--codes random]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.dedup.index import phash_search  # noqa: E402
from pipeline.dedup.region_index import C, EXACT_WITHIN, R, RegionIndex, cell_candidates  # noqa: E402
from pipeline.dedup.regions import SAME_SLOT  # noqa: E402

DATA = REPO.parent / "shared" / "data"
POOL_FOLDERS = ["litter/aquatrash/train/images", "litter/trash_collection/train/images",
                "litter/trash_collection/valid/images", "litter/trash_collection/test/images",
                "scenes/clean_streets", "scenes/street_video_frames", "scenes/street_pov_litter",
                "dedup/imagededup_fixtures/base_images", "perf/phone_photos"]
BLOCK = 65536  # photos drawn at a time (bounds the temporaries at 1M photos)


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


def real_pool(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """pHashes (P,) and window pHashes (P, R) of the real photos (computed once, then read from ``path``)."""
    if path.exists():
        z = np.load(path)
        return z["phash"], z["windows"]
    from pipeline.config import Config
    from pipeline.dedup.hashing import compute_hashes, crop_phashes, hash_base
    from pipeline.dedup.regions import REGION_BOXES
    from pipeline.load import PhotoError, load_photo
    cfg = Config()
    ph, win = [], []
    for folder in POOL_FOLDERS:
        for p in sorted((DATA / folder).rglob("*")):
            if p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            try:
                photo = load_photo(p.read_bytes(), cfg.load, sha256=str(p))
            except PhotoError:
                continue
            ph.append(compute_hashes(photo.image, str(p), with_views=False).phash)
            win.append(crop_phashes(hash_base(photo.image), REGION_BOXES))
    phash, windows = np.array(ph, np.uint64), np.array(win, np.uint64).reshape(-1, R)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
        np.savez(f, phash=phash, windows=windows)
    Path(f.name).replace(path)  # atomic: a half-written pool is never read back
    return phash, windows


def mixed(rng: np.random.Generator, pool: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Codes of ``shape`` (n,) or (n, R): each takes about half its bits from one random code of ``pool``
    (P,) or (P, R) (same column) and the rest from another."""
    cols = np.arange(shape[1])[None, :] if len(shape) == 2 else None
    pick = (lambda: pool[rng.integers(len(pool), size=shape), cols]) if cols is not None else \
        (lambda: pool[rng.integers(len(pool), size=shape)])
    a, b, m = pick(), pick(), rand64(rng, shape)
    return (a & m) | (b & ~m)


def draw(n: int, kind: str, pool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pHashes (n,), windows (n * R,) and picture pHashes (2 per owner, one photo in five) of n photos."""
    phash, windows = np.empty(n, np.uint64), np.empty(n * R, np.uint64)
    for s in range(0, n, BLOCK):
        e = min(n, s + BLOCK)
        if kind == "random":
            phash[s:e], windows[s * R:e * R] = rand64(rng, e - s), rand64(rng, (e - s) * R)
        else:
            phash[s:e] = mixed(rng, pool[0], (e - s,))
            windows[s * R:e * R] = mixed(rng, pool[1], (e - s, R)).reshape(-1)
    n_pics = 2 * int((rng.random(n) < 0.2).sum())
    pics = rand64(rng, n_pics) if kind == "random" else mixed(rng, pool[0], (n_pics,))
    return phash, windows, pics


def old_mih(rev: str):
    """pipeline/dedup/mih.py as it was at ``rev`` (git), as a module."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:pipeline/dedup/mih.py"], check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "mih_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("mih_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mih_old"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def draw_cells(n: int, kind: str, pool, rng: np.random.Generator) -> np.ndarray:
    """Cell codes (n * C,) of n photos, 4 % of them flat (0: no code). Real cell dHashes are not in the pool:
    the codes are mixed from its first C window columns (clustered like real hashes) or uniform random."""
    cells = np.empty(n * C, np.uint64)
    for s in range(0, n, BLOCK):
        e = min(n, s + BLOCK)
        cells[s * C:e * C] = (rand64(rng, (e - s) * C) if kind == "random"
                              else mixed(rng, pool[1][:, :C], (e - s, C)).reshape(-1))
    cells[rng.random(n * C) < 0.04] = 0
    return cells


def bench(n: int, radius: int, exact: int, queries: int, kind: str, pool, search: str, old_rev: str,
          seed: int = 0, with_cells: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    phash, windows, pics = draw(n, kind, pool, rng)
    planted = rng.choice(n, 1000, replace=False)
    targets = (planted + 1) % n
    windows[planted * R + 5] = flip(phash[targets], 4, rng)  # photo p's window 5 ~ photo p+1's pHash
    pic_owner = np.repeat(np.sort(rng.choice(n, len(pics) // 2, replace=False)), 2)
    pics_of = {int(o): pics[2 * k:2 * k + 2] for k, o in enumerate(pic_owner[::2])}
    t_make = time.perf_counter() - t0
    if search == "new":  # numba compiles on first use (then from its cache): not part of the build
        tiny = RegionIndex(windows[:4 * R], np.ones(4, bool), pics[:2], pic_owner[:2] % 4, np.zeros(2, np.int16))
        tiny.mih("windows").query_many(windows[:1, None], radius, exact), tiny.slots_mih(), phash_search(phash[:4])
    t0 = time.perf_counter()
    c0 = time.process_time()
    if search == "old":
        mod = old_mih(old_rev)
        win_mi, ph_mi, pic_mi = mod.MultiIndex(windows[:, None]), mod.MultiIndex(phash[:, None]), \
            mod.MultiIndex(pics[:, None])
        mem = sum(mi.codes.nbytes + sum(o.nbytes for o in mi._order) + sum(s.nbytes for s in mi._starts)
                  for mi in (win_mi, ph_mi, pic_mi))

        def one(q: int) -> list:
            w = windows[q * R:(q + 1) * R]
            qw = np.concatenate([[phash[q]], w[list(SAME_SLOT)]])[:, None]
            a = win_mi.query_many(qw, radius)
            keep = (a[0] == 0) | (np.array(SAME_SLOT)[np.maximum(a[0] - 1, 0)] == a[1] % R)  # same slot only
            out = [tuple(x[keep] for x in a), ph_mi.query_many(w[:, None], radius)]
            p = pics_of.get(q)
            out.append(ph_mi.query_many(p[:, None], radius) if p is not None else ())
            out.append(pic_mi.query_many(np.array([[phash[q]]], np.uint64), radius))
            return out

        def crop_hits(code: int) -> np.ndarray:
            return win_mi.query_many(np.array([[code]], np.uint64), radius)[1]
    else:
        cells = draw_cells(n, kind, pool, rng) if with_cells else np.zeros(0, np.uint64)
        ri = RegionIndex(windows, np.ones(n, bool), pics, pic_owner.astype(np.int64),
                         np.tile(np.array([0, 1], np.int16), len(pic_owner) // 2), cells=cells)
        ph_mi = phash_search(phash)
        ri.mih("windows"), ri.mih("pics"), ri.slots_mih()
        if with_cells:
            ri.mih("cells")
        mem = ri.nbytes() + ph_mi.nbytes()
        groups = np.arange(len(SAME_SLOT))

        def one(q: int) -> list:  # the searches of region_candidates
            w = windows[q * R:(q + 1) * R]
            a = ri.mih("windows").query_many(np.array([[phash[q]]], np.uint64), radius, exact)
            s = ri.slots_mih().query_many(w[list(SAME_SLOT), None], radius, exact, groups)
            # the old search's answer: (query row: 0 the pHash, 1 + j same-slot window j; window id; distance)
            old_ids = (s[1] % n) * R + np.array(SAME_SLOT)[s[0]]
            out = [tuple(np.concatenate(x) for x in zip(a, (s[0] + 1, old_ids, s[2]))),
                   ph_mi.query_many(w[:, None], radius, exact)]
            p = pics_of.get(q)
            out.append(ph_mi.query_many(p[:, None], radius) if p is not None else ())
            out.append(ri.mih("pics").query_many(np.array([[phash[q]]], np.uint64), radius))
            if with_cells:  # stickers anywhere: the query's coded cells against the same cells of the others
                found = cell_candidates(ri, tuple(int(v) for v in cells[q * C:(q + 1) * C]), radius)
                out.append((np.array([c.other for c in found], np.int64),))
            return out

        def crop_hits(code: int) -> np.ndarray:
            return ri.mih("windows").query_many(np.array([[code]], np.uint64), radius, exact)[1]
    t_build = time.perf_counter() - t0
    c_build = time.process_time() - c0
    one(0)  # compiled on first use (numba), not timed
    qs = rng.choice(n, queries, replace=False)
    qs[: queries // 5] = pic_owner[::2][: queries // 5]  # a fifth of the queries have pictures
    times, cpu, digest, hits = [], [], hashlib.sha256(), 0
    for q in qs:
        t, c = time.perf_counter(), time.thread_time()
        out = one(int(q))
        cpu.append(time.thread_time() - c)
        times.append(time.perf_counter() - t)
        for part in out:
            for x in part:
                digest.update(np.ascontiguousarray(np.asarray(x, np.int64)).tobytes())
            hits += len(part[0]) if len(part) else 0
    found = sum(int(p * R + 5 in set(crop_hits(int(phash[t])).tolist())) for p, t in zip(planted[:100], targets[:100]))
    return {"n": n, "make_s": t_make, "build_s": t_build, "build_cpu_s": c_build, "index_mib": mem / 2 ** 20,
            "median_ms": 1e3 * float(np.median(times)), "p90_ms": 1e3 * float(np.percentile(times, 90)),
            "cpu_median_ms": 1e3 * float(np.median(cpu)), "hits": hits, "digest": digest.hexdigest()[:12],
            "planted_found": found, "peak_mib": peak_mib()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000], help="photos in the index")
    ap.add_argument("--radius", type=int, default=10)
    ap.add_argument("--exact", type=int, default=EXACT_WITHIN,
                    help="the window searches probe as exact within this many bits (as region_candidates; "
                         "--exact 10 = exact within the radius, as the old search)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--codes", choices=["real", "random"], default="real",
                    help="codes mixed from real photos' hashes (default) or uniform random")
    ap.add_argument("--pool", default=str(Path(tempfile.gettempdir()) / "cleanup_verify_region_pool.npz"),
                    help="cache of the real photos' hashes (.npz; made on first use)")
    ap.add_argument("--search", choices=["new", "old"], default="new", help="old: the search before issue 22's rework")
    ap.add_argument("--old-rev", default="f0e366b", help="git revision whose mih.py is the old search")
    ap.add_argument("--cells", action="store_true",
                    help="also the cell codes (25 a photo) and their search, as region_candidates asks them")
    args = ap.parse_args(argv)
    pool = None
    if args.codes == "real":
        if not DATA.is_dir():
            print(f"--codes real needs the real photos in {DATA}", file=sys.stderr)
            return 2
        pool = real_pool(Path(args.pool))
    print(f"region windows per photo: {R}; same-slot windows: {len(SAME_SLOT)}; radius {args.radius}"
          + (f" (windows exact within {args.exact})" if args.search == "new" and args.exact < args.radius else "")
          + "; codes: "
          f"{args.codes}" + (f" (mixed from {len(pool[0])} real photos)" if pool is not None else "") +
          f"; search: {args.search}")
    for n in args.n:
        r = bench(n, args.radius, args.exact, args.queries, args.codes, pool, args.search, args.old_rev,
                  with_cells=args.cells)
        print(f"n={n:,}: codes {r['make_s']:.1f} s, build {r['build_s']:.1f} s ({r['build_cpu_s']:.1f} s CPU), "
              f"index {r['index_mib']:,.0f} MiB (windows, pictures, pHash{', cells' if args.cells else ''}; with the search tables); query of one "
              f"photo: median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms (CPU median {r['cpu_median_ms']:.2f} "
              f"ms); hits {r['hits']:,} (digest {r['digest']}); planted deep crops found {r['planted_found']}/100; "
              f"peak RSS {r['peak_mib']:,.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
