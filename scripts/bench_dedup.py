"""Benchmark of the dedup stage, every number against a baseline measured in the same run.

1. Hashing throughput from 12-megapixel JPEGs: our path (sha256 + pipeline.load reduced decode +
   pipeline.dedup.hashing.compute_hashes: pHash, dHash, 8 variants, 27 crop windows, signature; and PDQ
   with its 8 variants when dedup.use_pdq is on, timed both ways)
   against imagehash pHash + dHash on a full PIL decode (target >= 4x), timed interleaved photo by photo.
   Photo sets: generated phone-like 12 MP (~3.2 MB: 1/f structure plus sensor grain), real phone photos
   upscaled to 12 MP (when ../shared/data is present), the real 8 MP photos as they are, and a
   noise-heavy 12 MP worst case (~5.5 MB of i.i.d. noise, where entropy decoding, which no reduced decode
   can skip, caps the speed-up: the "ceiling" line is the speed-up if hashing cost nothing).
2. An index of N (default 1,000,000) random 64-bit pHashes with planted near-duplicates:
   - building it from the workspace table (SQLite) and in memory;
   - median query time at the pHash threshold (target <= 1 ms) against a brute-force NumPy scan and
     against imagededup's BK-tree and Cython brute force on the same hashes;
   - all pairs within the threshold (target <= 30 s) against brute-force NumPy (extrapolated from a slice
     of queries) and imagededup (extrapolated from a subsample: their per-query cost grows linearly with
     the database, so all-pairs time grows with its square);
   - the same queries on 256-bit PDQ at radius 31.
3. Peak memory of the process (target < 2 GB).

    .venv/bin/python scripts/bench_dedup.py [--n 1000000] [--photos 8]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.dedup.hashing import compute_hashes  # noqa: E402
from pipeline.dedup.index import HashIndex, load_index  # noqa: E402
from pipeline.dedup.mih import MultiIndex, best_join_layout, brute_force, join_cost  # noqa: E402
from pipeline.load import load_photo  # noqa: E402
from pipeline.store import Workspace  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _save_jpeg(arr: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_phone_jpeg(seed: int, size=(4000, 3000), grain: float = 2.0) -> bytes:
    """A 12-megapixel JPEG with the statistics of a phone photo: structure at every scale with amplitude
    falling with frequency (natural images have a ~1/f spectrum), colour, and sensor grain of ``grain``
    grey levels after the phone's denoising; quality 92 gives ~3.2 MB, a typical 12 MP phone JPEG."""
    rng = np.random.default_rng(seed)
    w, h = size
    acc = np.full((h, w, 3), 128.0, np.float32)
    for cells, amp in ((8, 80), (32, 40), (128, 22), (512, 12), (2048, 7)):
        field = rng.normal(0, 1, (max(2, h * cells // w), cells, 3)).astype(np.float32)
        acc += amp * np.stack([np.asarray(Image.fromarray(field[..., c], "F").resize((w, h), Image.BICUBIC))
                               for c in range(3)], -1)
    acc += rng.normal(0, grain, (h, w, 1)).astype(np.float32)
    return _save_jpeg(acc)


def make_noisy_jpeg(seed: int, size=(4000, 3000)) -> bytes:
    """A 12-megapixel worst case for entropy decoding: smooth structure plus i.i.d. noise of +-20 grey levels
    on every pixel (~5.5 MB at quality 92, far noisier than a phone's denoised output)."""
    rng = np.random.default_rng(seed)
    w, h = size
    low = Image.fromarray(rng.integers(0, 255, (h // 100, w // 100, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    return _save_jpeg(np.asarray(low, np.int16) + rng.integers(-20, 21, (h, w, 1), dtype=np.int16))


def upscale_to_12mp(data: bytes, grain: float = 2.0, size=(4000, 3000)) -> bytes:
    """A real photo resized (LANCZOS) to 12 megapixels with sensor grain added back, quality 92."""
    rng = np.random.default_rng(len(data))
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    im = im.resize(size if im.width >= im.height else size[::-1], Image.LANCZOS)
    return _save_jpeg(np.asarray(im, np.float32) + rng.normal(0, grain, (im.height, im.width, 1)).astype(np.float32))


def bench_hashing(photos: list[bytes], label: str) -> float:
    """Photos per second of our path against the imagehash baseline, interleaved photo by photo over
    ``rounds`` rounds (so that a background load hits both alike); returns the speed-up."""
    import imagehash

    cfg = Config()
    n_photos, rounds = len(photos), 4
    print(f"\n== hashing: {n_photos} {label} ({np.mean([len(p) for p in photos]) / 1e6:.1f} MB each)")

    def ours(data: bytes, with_pdq: bool = cfg.dedup.use_pdq):
        sha = hashlib.sha256(data).hexdigest()
        return compute_hashes(load_photo(data, cfg.load, sha256=sha).image, sha, with_pdq=with_pdq)

    def baseline(data: bytes):
        im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        return imagehash.phash(im), imagehash.dhash(im)

    def decode_only(data: bytes):  # the reduced decode alone: the floor of our path
        return load_photo(data, cfg.load, sha256="-")

    fns = {"ours (sha256 + reduced decode + all hashes)": ours, "imagehash pHash+dHash on full PIL decode": baseline,
           "  of which our reduced decode alone": decode_only,
           "ours with PDQ too (dedup.use_pdq = true)": lambda d: ours(d, True)}
    for fn in fns.values():
        fn(photos[0])  # warm up
    spent = dict.fromkeys(fns, 0.0)
    pairs = []  # (ours, baseline) seconds per photo and round
    for _ in range(rounds):
        for p in photos:
            took = []
            for name, fn in fns.items():
                t = time.perf_counter()
                fn(p)
                took.append(time.perf_counter() - t)
                spent[name] += took[-1]
            pairs.append((took[0], took[1]))
    ms = {k: v / (n_photos * rounds) * 1000 for k, v in spent.items()}
    for name, v in ms.items():
        print(f"{name:45s} {v:7.1f} ms/photo ({1000 / v:5.2f} photos/s)")
    a, b, dec, a_pdq = ms.values()
    print(f"speed-up: {b / a:.2f}x (target >= 4x; median over photos and rounds "
          f"{np.median([y / x for x, y in pairs]):.2f}x); with PDQ too: {b / a_pdq:.2f}x; ceiling with hashing "
          f"free: {b / dec:.2f}x")
    img = load_photo(photos[0], cfg.load).image
    for with_pdq in (False, True):
        t = time.perf_counter()
        for _ in range(20):
            compute_hashes(img, "x", with_pdq=with_pdq)
        print(f"compute_hashes alone on the {img.shape[1]}x{img.shape[0]} analysis image{' with PDQ' * with_pdq}: "
              f"{(time.perf_counter() - t) / 20 * 1000:.1f} ms")
    return b / a


def bench_draft_bits(photos: list[bytes], label: str) -> None:
    """Bits each hash moves when the analysis image comes from the reduced (DCT-scaled, draft) decode
    instead of a full decode resized the same way (BOX, same size), and pHash against imagehash on the
    full-size decode."""
    import imagehash

    from pipeline.load import RESIZE_FILTER

    cfg = Config()
    moved = {"phash": [], "dhash": [], "pdq": [], "phash vs imagehash(full-size)": []}
    for data in photos:
        reduced = load_photo(data, cfg.load).image
        full = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        same = np.asarray(full.resize((reduced.shape[1], reduced.shape[0]), RESIZE_FILTER, reducing_gap=None))
        a, b = compute_hashes(reduced, "r", with_pdq=True), compute_hashes(same, "f", with_pdq=True)
        moved["phash"].append((a.phash ^ b.phash).bit_count())
        moved["dhash"].append((a.dhash ^ b.dhash).bit_count())
        moved["pdq"].append((int.from_bytes(a.pdq, "big") ^ int.from_bytes(b.pdq, "big")).bit_count())
        moved["phash vs imagehash(full-size)"].append((a.phash ^ int(str(imagehash.phash(full)), 16)).bit_count())
    print(f"\n== bits moved by the reduced decode, {len(photos)} {label}")
    for k, v in moved.items():
        print(f"{k:32s} mean {np.mean(v):.2f}, max {max(v)} bits ({'of 256' if k == 'pdq' else 'of 64'})")


def planted_codes(n: int, words: int, radius: int, planted: int, rng) -> tuple[np.ndarray, np.ndarray]:
    codes = rng.integers(0, np.iinfo(np.uint64).max, size=(n, words), dtype=np.uint64, endpoint=True)
    src = rng.choice(n, planted, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), planted, replace=False)
    for s, d in zip(src, dst):
        c = codes[s].copy()
        for b in rng.choice(64 * words, int(rng.integers(0, radius + 1)), replace=False):
            c[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
        codes[d] = c
    return codes, np.stack([np.minimum(src, dst), np.maximum(src, dst)], 1)


def median_ms(fn, queries) -> float:
    ts = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1000)


def bench_index(n: int, radius: int, pdq_radius: int, sub: int) -> None:
    rng = np.random.default_rng(0)
    print(f"\n== index: {n:,} random 64-bit pHashes, {n // 1000:,} planted near-duplicate pairs, radius {radius}")
    codes, planted = planted_codes(n, 1, radius, n // 1000, rng)

    # persistence: the workspace table -> in-memory index
    with tempfile.TemporaryDirectory() as tmp, Workspace(Path(tmp) / "ws") as ws:
        t = time.perf_counter()
        with ws.transaction() as c:
            c.executemany("INSERT INTO dedup_hashes(sha256, stage_version, phash, dhash) VALUES (?,?,?,?)",
                          ((f"{i:064x}", "bench", int(v).to_bytes(8, "big"), bytes(8)) for i, v in enumerate(codes[:, 0])))
        t_insert = time.perf_counter() - t
        t = time.perf_counter()
        idx = load_index(ws)
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        idx.mih("phash")
        t_build = time.perf_counter() - t
        assert np.array_equal(idx.phash, codes[:, 0])
        print(f"table insert {t_insert:.1f} s; load table -> arrays {t_load:.2f} s; build MIH {t_build:.2f} s "
              f"({len(idx.mih('phash').chunks)} chunks)")
        del idx
    load_index.__globals__["_cache"].clear()

    mih = MultiIndex(codes)
    queries = [codes[i] for i in rng.integers(n, size=300)] + [codes[i] for i in planted[:200, 1]]
    q_mih = median_ms(lambda q: mih.query(q, radius), queries)
    q_bf = median_ms(lambda q: brute_force(codes, q, radius), queries[:30])
    print(f"median query: MIH {q_mih:.3f} ms (target <= 1 ms); brute-force NumPy {q_bf:.2f} ms "
          f"({q_bf / q_mih:.0f}x slower)")
    for q in queries[:50]:
        a, b = mih.query(q, radius), brute_force(codes, q, radius)
        assert np.array_equal(a[0], b[0]), "MIH and brute force disagree"

    t = time.perf_counter()
    MultiIndex(codes[:1000]).pairs_within(radius)  # numba: compiled on the first call (or loaded from cache)
    t_jit = time.perf_counter() - t
    layout = best_join_layout(n, 1, radius)
    t = time.perf_counter()
    i, j, d = mih.pairs_within(radius)
    t_all = time.perf_counter() - t
    found = set(zip(i.tolist(), j.tolist()))
    missed = sum((int(a), int(b)) not in found for a, b in planted)
    print(f"all pairs within {radius}: MIH join {t_all:.1f} s (target <= 30 s; {layout} chunks of "
          f"{64 // layout}-{-(-64 // layout)} bits, cost model {join_cost(n, 1, radius, layout) / 1e9:.1f} s; "
          f"compile/load {t_jit:.1f} s before), {len(i):,} pairs, planted missed: {missed}")
    for r in sorted({radius - 2, radius + 2}):
        t = time.perf_counter()
        k = len(mih.pairs_within(r)[0])
        print(f"  at radius {r}: {time.perf_counter() - t:.1f} s, {k:,} pairs")
    print(f"  brute-force NumPy all pairs (n queries x {q_bf:.2f} ms / 2, extrapolated): ~{n * q_bf / 2000:.0f} s "
          f"({n * q_bf / 2000 / t_all:.0f}x slower)")

    # imagededup on a subsample, extrapolated
    try:
        from imagededup.handlers.search.bktree import BKTree
        from imagededup.handlers.search.brute_force_cython import BruteForceCython
        from imagededup.methods.hashing import Hashing
    except ImportError:
        print("  imagededup not installed (pip install -e .[bench]): skipped")
    else:
        hd = {str(k): f"{int(v):016x}" for k, v in enumerate(codes[:sub, 0])}
        qs = [f"{int(codes[k, 0]):016x}" for k in rng.integers(sub, size=20)]
        t = time.perf_counter()
        tree = BKTree(hd, Hashing.hamming_distance)
        t_tree = time.perf_counter() - t
        q_tree = median_ms(lambda q: tree.search(q, radius), qs)
        bfc = BruteForceCython(hd, Hashing.hamming_distance)
        q_bfc = median_ms(lambda q: bfc.search(q, radius), qs[:5])
        scale = n / sub
        print(f"  imagededup on {sub:,} hashes: BK-tree build {t_tree:.1f} s, query {q_tree:.1f} ms; Cython brute "
              f"force query {q_bfc:.1f} ms (it rebuilds its lists per query)")
        print(f"  imagededup extrapolated to {n:,} (query cost x{scale:.0f}, all pairs x{scale ** 2:.0f}): BK-tree "
              f"query ~{q_tree * scale:.0f} ms, all pairs ~{q_tree * scale * n / 1000:,.0f} s; "
              f"brute force query ~{q_bfc * scale:.0f} ms, all pairs ~{q_bfc * scale * n / 1000:,.0f} s "
              f"(MIH all pairs: {t_all:.1f} s)")
    del mih

    print(f"\n== index: {n:,} random 256-bit PDQ hashes, radius {pdq_radius}")
    pcodes, pplanted = planted_codes(n, 4, pdq_radius, n // 1000, rng)
    t = time.perf_counter()
    pm = MultiIndex(pcodes)
    t_build = time.perf_counter() - t
    pq = [pcodes[i] for i in rng.integers(n, size=200)] + [pcodes[i] for i in pplanted[:100, 1]]
    q_p = median_ms(lambda q: pm.query(q, pdq_radius), pq)
    q_pb = median_ms(lambda q: brute_force(pcodes, q, pdq_radius), pq[:20])
    for q in pq[:30]:
        assert np.array_equal(pm.query(q, pdq_radius)[0], brute_force(pcodes, q, pdq_radius)[0])
    some = pplanted[:100]
    hits = sum(int(a) in pm.query(pcodes[b], pdq_radius)[0] for a, b in some)
    print(f"build {t_build:.1f} s ({len(pm.chunks)} chunks); median query MIH {q_p:.3f} ms, brute-force NumPy "
          f"{q_pb:.2f} ms ({q_pb / q_p:.0f}x); planted pairs found {hits}/{len(some)}")
    t = time.perf_counter()
    pi, pj, _ = pm.pairs_within(pdq_radius)
    found = set(zip(pi.tolist(), pj.tolist()))
    print(f"all pairs within {pdq_radius}: {time.perf_counter() - t:.1f} s, {len(pi):,} pairs, planted missed: "
          f"{sum((int(a), int(b)) not in found for a, b in pplanted)}")


def stage_batch(n: int, reused: float, seed: int = 0) -> list[bytes]:
    """A batch like a contest round: ``n`` real photos of ../shared/data (litter close-ups, streets,
    phone photos) as their files, plus reused copies of a fraction ``reused`` of them the way
    scripts/calibrate_dedup.py makes them (straightened, phone screenshots, caption bands, text)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from calibrate_dedup import DATA, SAMPLE_FOLDERS, transform

    rng = np.random.default_rng(seed)
    files = []
    for folder in SAMPLE_FOLDERS + ["perf/phone_photos"]:
        ps = sorted(p for p in (DATA / folder).rglob("*.jpg") if "labels" not in p.parts)
        files += list(rng.choice(ps, size=min(len(ps), -(-n // 9)), replace=False))
    files = files[:n]
    batch = [p.read_bytes() for p in files]
    kinds = ["rotate_1_5deg_zoom", "screenshot_app_light", "screenshot_card", "caption_band", "text_overlay_medium",
             "jpeg_q30_95", "crop_5_10"]
    for k, p in enumerate(files[:max(1, round(n * reused))]):
        im = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        batch.append(transform(im, kinds[k % len(kinds)], rng))
    return batch


#: the code issue 12's "first-time dedup matching <= 20 ms per photo" is measured against: issue 13 as landed
BASELINE_REV = "cb4bd016f3e9441a44856f25da1790750fd64467"


def load_baseline(rev: str):
    """The ``pipeline`` package at git revision ``rev``, importable as ``pipeline_base`` (extracted with
    ``git archive`` into a temporary folder), so that its dedup stage runs next to today's in one process.
    Returns its ``(hashing, index, match, config)`` modules."""
    import importlib
    import subprocess
    import tarfile

    tmp = Path(tempfile.mkdtemp(prefix="dedup-baseline-"))
    data = subprocess.run(["git", "-C", str(REPO), "archive", rev, "pipeline"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "pipeline").rename(tmp / "pipeline_base")
    sys.path.insert(0, str(tmp))
    return tuple(importlib.import_module(f"pipeline_base.{m}") for m in ("dedup.hashing", "dedup.index",
                                                                          "dedup.match", "config"))


def bench_stage(batch: list[bytes], rounds: int = 2, baseline_rev: str = BASELINE_REV) -> dict[str, float]:
    """The whole dedup stage per photo in one run, three arms: ``today`` (``match_reuse = false``: no reuse
    hashes or views, no confirmation; the stage before issue 13), ``baseline`` (the code at
    ``baseline_rev``, issue 13 as landed, loaded with :func:`load_baseline`) and ``new`` (this code, the
    defaults). Hashing is interleaved photo by photo; then one matching pass per arm over an index of the
    batch (each photo queried once, as pipeline.dedup.query does), the arms' order rotating every round.
    Returns ms per photo by part and arm."""
    from pipeline.config import DedupConfig
    from pipeline.dedup.match import match_one

    cfg = Config()
    b_hashing, b_index, b_match, b_config = load_baseline(baseline_rev)
    arms = {
        "today": (lambda im, sha: compute_hashes(im, sha, with_views=False), HashIndex.from_hashes, match_one,
                  DedupConfig(match_reuse=False)),
        "baseline": (b_hashing.compute_hashes, b_index.HashIndex.from_hashes, b_match.match_one,
                     b_config.DedupConfig()),
        "new": (compute_hashes, HashIndex.from_hashes, match_one, DedupConfig()),
    }
    names = list(arms)
    print(f"\n== whole dedup stage per photo: {len(batch)} photos (real files of ../shared/data and reused copies); "
          f"baseline = {baseline_rev[:12]}")
    spent = {f"{part}_{n}": 0.0 for part in ("hash", "match") for n in names}
    found: dict[str, int] = {}
    warm = [load_photo(d, cfg.load, sha256=str(i)).image for i, d in enumerate(batch[:4])]
    for hasher, build, match, dcfg in arms.values():  # compile the radius search and load OpenCV first
        hs = [hasher(im, str(i)) for i, im in enumerate(warm)]
        index = build(hs)
        for h in hs:
            match(index, h, dcfg)
    for r in range(rounds):
        order = names[r % 3:] + names[:r % 3]
        hashes: dict[str, list] = {n: [] for n in names}
        for data in batch:
            for name in order:
                t0 = time.perf_counter()
                sha = hashlib.sha256(data).hexdigest()
                h = arms[name][0](load_photo(data, cfg.load, sha256=sha).image, sha)
                spent[f"hash_{name}"] += time.perf_counter() - t0
                hashes[name].append(h)
        for name in order:
            _, build, match, dcfg = arms[name]
            index = build(hashes[name])
            t0 = time.perf_counter()
            found[name] = sum(len(match(index, h, dcfg)) for h in hashes[name])
            spent[f"match_{name}"] += time.perf_counter() - t0
    per = {k: 1e3 * v / (rounds * len(batch)) for k, v in spent.items()}
    named = {BASELINE_REV: "issue 13 as landed"}.get(baseline_rev, "baseline")
    labels = {"today": "this code, match_reuse = false", "baseline": f"{named} ({baseline_rev[:7]})",
              "new": "this code (defaults)"}
    for name in names:
        per[f"stage_{name}"] = per[f"hash_{name}"] + per[f"match_{name}"]
        print(f"{labels[name]:34s}: hashing {per[f'hash_{name}']:6.1f} ms + matching {per[f'match_{name}']:6.1f} ms "
              f"= {per[f'stage_{name}']:6.1f} ms/photo ({found[name]} matches, same_spot included)")
    print(f"matching, this code against {labels['baseline']}: {per['match_new']:.1f} against "
          f"{per['match_baseline']:.1f} ms/photo, {per['match_baseline'] / per['match_new']:.2f}x faster "
          f"(issue 12's target: <= 20 ms/photo)")
    print(f"whole stage, this code against {labels['baseline']}: {per['stage_new'] - per['stage_baseline']:+.1f} ms "
          f"per photo, {per['stage_new'] / per['stage_baseline']:.2f}x (issue 22's target against the code before "
          f"it: <= +25 ms)")
    print(f"whole stage, this code against match_reuse = false: {per['stage_new'] - per['stage_today']:+.1f} ms "
          f"per photo (issue 13's target: <= +15 ms), {per['stage_new'] / per['stage_today']:.2f}x")
    return per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="hashes in the index")
    ap.add_argument("--photos", type=int, default=8, help="12-megapixel JPEGs for the hashing benchmark")
    ap.add_argument("--radius", type=int, default=Config().dedup.phash_threshold)
    ap.add_argument("--pdq-radius", type=int, default=Config().dedup.pdq_threshold)
    ap.add_argument("--imagededup-sample", type=int, default=50_000)
    ap.add_argument("--stage", type=int, default=120, help="real photos in the whole-stage batch (0: skip)")
    ap.add_argument("--reused", type=float, default=0.1, help="fraction of them also reused in the batch")
    ap.add_argument("--stage-only", action="store_true", help="only the whole-stage comparison")
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision whose dedup stage is the baseline")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the whole-stage comparison")
    args = ap.parse_args(argv)
    if args.stage and (REPO.parent / "shared" / "data").is_dir():
        bench_stage(stage_batch(args.stage, args.reused), args.rounds, args.baseline)
    if args.stage_only:
        return 0
    speedups = {"generated phone-like 12 MP": bench_hashing([make_phone_jpeg(i) for i in range(args.photos)],
                                                            "generated phone-like 12-megapixel JPEGs")}
    shared = REPO.parent / "shared" / "data" / "perf" / "phone_photos"
    real = [p.read_bytes() for p in sorted(shared.glob("*.jpg"))] if shared.is_dir() else []
    if real:
        speedups["real photos upscaled to 12 MP"] = bench_hashing(
            [upscale_to_12mp(d) for d in real[:args.photos]], "real phone photos upscaled to 12 MP (+ grain)")
        speedups["real 8 MP phone photos as they are"] = bench_hashing(real, "real 3264x2448 phone JPEGs as they are")
    speedups["noise-heavy 12 MP (worst case)"] = bench_hashing([make_noisy_jpeg(i) for i in range(args.photos)],
                                                               "noise-heavy 12-megapixel JPEGs (worst case)")
    print("\n== hashing speed-up against imagehash on a full decode (target >= 4x)")
    for k, v in speedups.items():
        print(f"{k:40s} {v:5.2f}x")
    if real:
        bench_draft_bits(real, "real 3264x2448 phone photos")
    bench_draft_bits([make_phone_jpeg(100 + i) for i in range(3)], "generated phone-like 12-megapixel JPEGs")
    print(f"peak memory after hashing: {peak_mib():.0f} MiB")
    bench_index(args.n, args.radius, args.pdq_radius, args.imagededup_sample)
    print(f"\npeak memory (max RSS): {peak_mib():.0f} MiB (target < 2048)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
