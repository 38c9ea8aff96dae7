"""How many real copies the region searches can find at all, searched exactly and as shipped (issue 22).

For ``--sources`` photos of the calibration set's tuning part (scripts/calibrate_dedup_hard.py: never the
held-out part, never litter/aquatrash/val), one deep crop, one sticker or text panel copy and one collage
of each (datasets/dedup_hard.py), hashed as the pipeline hashes them. A copy counts as found when one of
its hash pairs is within the radius (``DedupConfig.region_threshold``) and met by the probes of the search
that compares it, in the chunk layout that search has at ``--n`` photos:

- deep crop: the copy's pHash and the original's windows (the 64n-window search), and the original's
  windows and the copy's pHash (the pHash search);
- sticker: same-slot windows (the same-slot search);
- collage: the copy's panels and the original's pHash (the pHash search; exact as shipped).

Prints the nearest pair's distance per copy and the copies found exactly and with the shipped probing
(``region_index.EXACT_WITHIN``). Costs a minute or two of CPU:

    nice -n 19 python scripts/recall_region_probes.py --sources 60 --seed 5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import calibrate_dedup_hard as cal  # noqa: E402  (scripts/ is on the path as this script's folder)
from pipeline.config import Config  # noqa: E402
from pipeline.dedup.hashing import compute_hashes  # noqa: E402
from pipeline.dedup.mih import MultiIndex, chunk_radii, query_chunk_bits  # noqa: E402
from pipeline.dedup.region_index import EXACT_WITHIN, R  # noqa: E402
from pipeline.dedup.regions import SAME_SLOT  # noqa: E402
from pipeline.load import load_photo  # noqa: E402

KINDS = ("deep_crop", "overlaid", "collage")


def chunks_at(n: int) -> list:
    """The chunk layout of a query-heavy search over ``n`` codes (as RegionIndex and phash_search make)."""
    return MultiIndex(np.zeros((1, 1), np.uint64), query_chunk_bits(n)).chunks


def met(a: int, b: int, radius: int, exact: int | None, chunks: list) -> bool:
    """Whether a search in ``chunks`` probing as exact within ``exact`` bits returns b for query a."""
    x = int(a) ^ int(b)
    if bin(x).count("1") > radius:
        return False
    if exact is None or bin(x).count("1") <= exact:
        return True
    return any(bin((x >> c.shift) & ((1 << c.bits) - 1)).count("1") <= r
               for c, r in zip(chunks, chunk_radii(len(chunks), exact)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=int, default=60)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--n", type=int, default=1_000_000, help="photos indexed (sets the chunk layouts)")
    args = ap.parse_args(argv)
    cfg = Config()
    radius = cfg.dedup.region_threshold
    rng = np.random.default_rng(args.seed)
    srcs = [p for f in cal.SOURCE_FOLDERS for p in sorted((cal.DATA / f).glob("*"))
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and not cal.held_out(str(p.relative_to(cal.DATA)))]
    if not srcs:
        print(f"needs the real photos in {cal.DATA}", file=sys.stderr)
        return 2
    windows_at, photos_at, slots_at = chunks_at(R * args.n), chunks_at(args.n), chunks_at(args.n)

    def hashes(data: bytes):
        return compute_hashes(load_photo(data, cfg.load, sha256="x").image, "x")

    # per copy: its hash pairs, each with the chunk layout of the search that compares it
    pairs: dict[str, list[list[tuple[int, int, list]]]] = {k: [] for k in KINDS}
    for k in rng.choice(len(srcs), min(args.sources, len(srcs)), replace=False):
        img = cal.rgb(srcs[int(k)])
        others = [cal.rgb(srcs[int(j)], 800) for j in rng.choice(len(srcs), 2)]
        orig = hashes(cal.jpeg(img))
        for kind in KINDS:
            copy = hashes(cal.make_copy(kind, img, others, rng))
            if kind == "deep_crop":
                pairs[kind].append([(copy.phash, w, windows_at) for w in orig.regions.windows]
                                   + [(w, copy.phash, photos_at) for w in orig.regions.windows])
            elif kind == "overlaid" and len(copy.regions.windows) == R == len(orig.regions.windows):
                pairs[kind].append([(copy.regions.windows[s], orig.regions.windows[s], slots_at) for s in SAME_SLOT])
            elif kind == "collage":
                pairs[kind].append([(p.phash, orig.phash, photos_at) for p in copy.regions.pictures])
            else:
                pairs[kind].append([])
    print(f"radius {radius}, shipped: exact within {EXACT_WITHIN}; chunk layouts at {args.n:,} photos\n")
    print("| copy | pairs | nearest pair's distance (bits: copies) | exact | shipped |\n|---|---:|---|---:|---:|")
    for kind, per_copy in pairs.items():
        nearest = [min((bin(int(a) ^ int(b)).count("1") for a, b, _ in p), default=99) for p in per_copy]
        hist = dict(sorted((d, nearest.count(d)) for d in set(nearest)))
        found = [sum(any(met(a, b, radius, e, ch) for a, b, ch in p) for p in per_copy) for e in (None, EXACT_WITHIN)]
        print(f"| {kind} | {len(per_copy)} | {hist} | {found[0]} | {found[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
