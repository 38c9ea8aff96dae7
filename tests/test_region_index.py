"""The region search of issue 22 (pipeline/dedup/region_index.py) gives exactly the candidates a linear scan
gives, on uniform random codes and on clustered ones (as real window pHashes are: many near one code)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.dedup import mih
from pipeline.dedup.candidate import Candidate
from pipeline.dedup.index import phash_search
from pipeline.dedup.region_index import EXACT_WITHIN, R, RegionIndex, region_candidates
from pipeline.dedup.regions import SAME_SLOT, Picture, RegionHashes

RADIUS = 10


def _codes(rng, shape, clustered: bool) -> np.ndarray:
    """Uniform random 64-bit codes, or codes within 0-12 bits of one of 6 centres (a third uniform)."""
    codes = rng.integers(0, 2 ** 63, size=shape, dtype=np.uint64) * np.uint64(2) + \
        rng.integers(0, 2, size=shape, dtype=np.uint64)
    if not clustered:
        return codes
    centres = codes.reshape(-1)[:6].copy()
    flat = codes.reshape(-1)
    near = np.flatnonzero(rng.random(flat.size) < 2 / 3)
    flat[near] = centres[rng.integers(6, size=len(near))]
    for i in near:
        for b in rng.choice(64, rng.integers(0, 13), replace=False):
            flat[i] ^= np.uint64(1) << np.uint64(int(b))
    return flat.reshape(shape)


def _near(code: int, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.bitwise_count(codes ^ np.uint64(code)).astype(np.int64)
    ids = np.flatnonzero(d <= RADIUS)
    return ids, d[ids]


def _scan(ri: RegionIndex, phash: np.ndarray, q_phash: int, q_windows: tuple, q_pics: list[int]) -> list[Candidate]:
    """The candidates by the module's definitions, each one a linear scan."""
    out = []
    ids, d = _near(q_phash, ri.windows)
    out += [Candidate(int(i // R), "deep_crop", "phash_region", int(di), 0, int(i % R), False)
            for i, di in zip(ids, d) if ri.has_windows[i // R]]
    if len(q_windows) == R:
        for k in SAME_SLOT:
            ids, d = _near(q_windows[k], ri.windows[k::R])
            out += [Candidate(int(o), "overlaid", "phash_region", int(di), 0, k, False)
                    for o, di in zip(ids, d) if ri.has_windows[o]]
        for qi, c in enumerate(q_windows):
            ids, d = _near(c, phash)
            out += [Candidate(int(i), "deep_crop", "phash_region", int(di), 0, qi, True) for i, di in zip(ids, d)]
    for qi, c in enumerate(q_pics):
        ids, d = _near(c, phash)
        out += [Candidate(int(i), "collage", "phash_panel", int(di), q_pic=qi) for i, di in zip(ids, d)]
    ids, d = _near(q_phash, ri.pics)
    out += [Candidate(int(ri.pic_owner[j]), "collage", "phash_panel", int(di), o_pic=int(ri.pic_slot[j]))
            for j, di in zip(ids, d)]
    return out


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("clustered", [False, True])
def test_region_candidates_equal_a_linear_scan(clustered, compiled, monkeypatch):
    monkeypatch.setattr(mih, "COMPILED_FROM", 0)  # the compiled path on this small index too
    if not compiled:
        monkeypatch.setattr(mih, "_probe_query", None)
    rng = np.random.default_rng(3 + clustered)
    n = 400
    phash = _codes(rng, n, clustered)
    windows = _codes(rng, n * R, clustered)
    # deep crops and stickers: a window near another photo's pHash, a same-slot window near another's
    def spread(code, bits):  # ``bits`` random bits of ``code`` flipped
        return code ^ np.uint64(sum(1 << int(x) for x in rng.choice(64, bits, replace=False)))

    planted = rng.choice(n, 60, replace=False)
    for p in planted:
        windows[p * R + int(rng.integers(R))] = spread(phash[(p + 1) % n], int(rng.integers(4, 13)))
        k = SAME_SLOT[int(rng.integers(len(SAME_SLOT)))]
        windows[p * R + k] = spread(windows[((p + 7) % n) * R + k], int(rng.integers(4, 13)))
    has = np.ones(n, bool)
    has[rng.choice(n, 20, replace=False)] = False  # photos hashed before issue 22: no windows
    owner = np.repeat(rng.choice(n, 30, replace=False), 2)
    pics = _codes(rng, len(owner), clustered)
    pics[::2] = phash[owner[::2] + 1 - (owner[::2] == n - 1) * n] ^ np.uint64(0b111)  # panels of other photos
    slots = np.tile(np.array([0, 1], np.int16), 30)
    by_owner: dict[int, list[Picture]] = {}
    for o, c in zip(owner, pics):
        by_owner.setdefault(int(o), []).append(Picture("panel", (0, 0, 0.5, 1), int(c)))
    ri = RegionIndex(windows, has, pics, owner.astype(np.int64), slots,
                     pictures={o: tuple(p) for o, p in by_owner.items()})
    index = SimpleNamespace(regions=ri)
    ph_mi = phash_search(phash)
    found = 0
    for q in list(planted[:20]) + list((planted[20:30] + 1) % n) + list(rng.choice(n, 10)) + list(owner[:10:2]):
        q_pics = [int(phash[(q + 3) % n]), int(rng.integers(1 << 62))]
        wins = tuple(int(v) for v in windows[q * R:(q + 1) * R]) if q % 5 else ()
        pictures = tuple(Picture("panel", (0, 0, 0.5, 1), c) for c in q_pics)
        h = SimpleNamespace(phash=int(phash[q]), regions=RegionHashes(wins, pictures))
        got = region_candidates(index, h, ph_mi, RADIUS, exact=None)
        assert got == _scan(ri, phash, int(phash[q]), wins, q_pics)
        found += len(got)
        # the shipped probing: every candidate within EXACT_WITHIN bits, others of the exact search only
        fast = region_candidates(index, h, ph_mi, RADIUS)
        assert set(fast) <= set(got) and {c for c in got if c.distance <= EXACT_WITHIN} <= set(fast)
        assert {c for c in got if c.kind == "collage"} <= set(fast)  # the collage searches stay exact
    assert found > 100  # the planted and the clustered near codes are there to be found


def test_a_contest_sized_index_never_loads_numba():
    """numba costs a process ~0.5 s to load (and a machine 5-7 s to compile once), and every pool worker of a
    run queries the index: an index the size of a contest's answers in NumPy without importing it."""
    code = (
        "import sys, numpy as np\n"
        "from pipeline.dedup.mih import MultiIndex, COMPILED_FROM\n"
        "rng = np.random.default_rng(0)\n"
        "codes = rng.integers(0, 2**63, size=(COMPILED_FROM - 1, 1), dtype=np.uint64)\n"
        "q, ids, d = MultiIndex(codes).query_many(codes[:5], 10)\n"
        "assert set(ids[q == 0]) >= {0}, ids\n"
        "print('numba' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).parents[1])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
