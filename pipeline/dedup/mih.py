"""Exact Hamming-radius search over binary codes by multi-index hashing (Norouzi, Punjani & Fleet 2012).

Codes are ``(n, w)`` uint64 arrays (w = 1 for 64-bit hashes, 4 for 256-bit PDQ). Each 64-bit word is split
into contiguous chunks of ``chunk_bits`` bits or fewer; with ``m`` chunks in all, two codes within Hamming
distance ``r`` differ in at most ``r // m`` bits in at least one chunk (pigeonhole on the sum of the chunk
distances). So a radius-``r`` query probes, in every chunk, every value within ``r // m`` bits of the query's
chunk (``sum_k C(b, k)`` probes of a ``b``-bit chunk), gathers the codes stored under those values from a
dense bucket table, and keeps those whose full distance is ``<= r``. The answer is exactly the brute-force
answer (tests check it); the work is sublinear when buckets are small, i.e. when ``2**chunk_bits`` is
near ``n``, which :func:`default_chunk_bits` picks.

For PDQ at radius 31 with 12 chunks of ~21 bits the chunk radius is 2; with 16 chunks of 16 bits it is 1
(not 0: 16 chunks and radius 31 do NOT force an exact chunk agreement, so probing radius 0 would miss
matches). Either is exact; the chunk width only trades probes against bucket sizes.

All pairs within a radius (:meth:`MultiIndex.pairs_within`) is a self-join with its own chunk layout,
chosen by a measured cost model (:func:`join_cost`), and a compiled inner loop (:mod:`pipeline.dedup._join`,
numba): 1M 64-bit codes at radius 10 take ~7 s on 2 cores, where a NumPy loop over the probe masks took
175 s (scripts/bench_dedup.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

MAX_CHUNK_BITS = 22  # bucket tables hold 2**bits + 1 int64 offsets per chunk (32 MiB at 22 bits)


def popcount(x: np.ndarray) -> np.ndarray:
    """Bits set per element of a uint64 array, as int32."""
    return np.bitwise_count(x).astype(np.int32)


def hamming_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between rows of two broadcastable ``(..., w)`` uint64 arrays, summed over words."""
    return popcount(np.bitwise_xor(a, b)).sum(axis=-1)


def default_chunk_bits(n: int) -> int:
    """Chunk width for ``n`` codes: about log2(n) bits, so buckets hold ~1 code, within [8, 22]."""
    return int(min(MAX_CHUNK_BITS, max(8, round(np.log2(max(n, 2))))))


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit value with at most ``radius`` bits set (the XOR masks to probe), as uint64."""
    masks = [0]
    for k in range(1, min(radius, bits) + 1):
        masks.extend(sum(1 << i for i in c) for c in combinations(range(bits), k))
    return np.array(masks, dtype=np.uint64)


@dataclass(frozen=True)
class _Chunk:
    word: int
    shift: int
    bits: int


class MultiIndex:
    """An immutable radius-search index over ``codes`` (n, w) uint64. Row i of ``codes`` has id i."""

    def __init__(self, codes: np.ndarray, chunk_bits: int | None = None):
        codes = np.ascontiguousarray(np.asarray(codes, dtype=np.uint64))
        if codes.ndim == 1:
            codes = codes[:, None]
        self.codes = codes
        n, w = codes.shape
        b = chunk_bits or default_chunk_bits(n)
        self.chunks: list[_Chunk] = chunk_layout(w, max(1, round(64 / b)))
        self._order: list[np.ndarray] = []  # code ids sorted by chunk value
        self._starts: list[np.ndarray] = []  # bucket v holds _order[_starts[v]:_starts[v+1]]
        for ch in self.chunks:
            v = ((codes[:, ch.word] >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1)).astype(np.int64)
            counts = np.bincount(v, minlength=1 << ch.bits)
            starts = np.zeros((1 << ch.bits) + 1, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            self._order.append(np.argsort(v, kind="stable").astype(np.int64))
            self._starts.append(starts)
        self._masks: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def words(self) -> int:
        return self.codes.shape[1]

    def _chunk_radius(self, radius: int) -> int:
        return radius // len(self.chunks)

    def _masks_for(self, bits: int, radius: int) -> np.ndarray:
        key = (bits, radius)
        if key not in self._masks:
            self._masks[key] = _flip_masks(bits, radius)
        return self._masks[key]

    def query(self, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids (ascending) and distances of every stored code within ``radius`` bits of ``code`` (w,)."""
        code = np.asarray(code, dtype=np.uint64).reshape(-1)
        if len(self.codes) == 0 or radius < 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        rc = self._chunk_radius(radius)
        found = []
        for ci, ch in enumerate(self.chunks):
            key = int((int(code[ch.word]) >> ch.shift) & ((1 << ch.bits) - 1))
            probes = (np.uint64(key) ^ self._masks_for(ch.bits, rc)).astype(np.int64)
            found.append(_gather(self._order[ci], self._starts[ci], probes))
        cand = np.unique(np.concatenate(found))
        d = hamming_rows(self.codes[cand], code[None, :])
        keep = d <= radius
        return cand[keep], d[keep]

    def query_many(self, codes: np.ndarray, radii: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`query` of many codes (k, w) at once, each within its own radius (``radii``: (k,) or one
        int): arrays query row, id and distance of every hit, sorted by (query row, id). The probes of all
        queries go through each chunk's bucket table in one vectorised pass (at the chunk radius of the
        largest radius; the full distance then filters each query at its own)."""
        codes = np.asarray(codes, dtype=np.uint64).reshape(-1, self.words)
        k = len(codes)
        radii = np.broadcast_to(np.asarray(radii, np.int64), (k,))
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))
        if len(self.codes) == 0 or k == 0 or radii.max() < 0:
            return empty
        rc = self._chunk_radius(int(radii.max()))
        qs, ids = [], []
        for ci, ch in enumerate(self.chunks):
            keys = ((codes[:, ch.word] >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1))
            probes = (keys[:, None] ^ self._masks_for(ch.bits, rc)[None, :]).astype(np.int64)  # (k, P)
            lo, hi = self._starts[ci][probes], self._starts[ci][probes + 1]
            lens = (hi - lo).reshape(-1)
            ids.append(self._order[ci][_ranges(lo.reshape(-1), lens)])
            qs.append(np.repeat(np.repeat(np.arange(k, dtype=np.int64), probes.shape[1]), lens))
        n = len(self.codes)
        pair = np.unique(np.concatenate(qs) * n + np.concatenate(ids))
        q, i = pair // n, pair % n
        d = hamming_rows(self.codes[i], codes[q])
        keep = d <= radii[q]
        return q[keep], i[keep], d[keep]

    def pairs_within(self, radius: int, chunks_per_word: int | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (i < j) of stored codes within ``radius`` bits: arrays i, j (int64), distance (int32),
        sorted by (i, j). Exact (tests compare it with brute force).

        A self-join on its own chunk layout (``chunks_per_word`` chunks per 64-bit word; by default the
        cheapest by :func:`join_cost`, which need not be the query layout): for each chunk, the codes are
        sorted by their chunk value and each code meets every code of each bucket within the chunk radius
        of its own value (compiled loop, :func:`pipeline.dedup._join.chunk_join`, on all cores). A pair is
        reported by the first chunk in which its chunk distance is within the chunk radius, so once.
        """
        try:  # numba: imported (and compiled, once per machine) on first use; an optional dependency
            from ._join import chunk_join
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError(f"the all-pairs join needs numba: pip install 'cleanup-verify[bench]' ({e})") from e

        codes = self.codes
        n, w = codes.shape
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))
        if n < 2 or radius < 0:
            return empty
        per_word = chunks_per_word or best_join_layout(n, w, radius)
        layout = chunk_layout(w, per_word)
        rc = radius // len(layout)
        parts = []
        for ci, ch in enumerate(layout):
            values = ((codes[:, ch.word] >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1)).astype(np.int64)
            order = np.argsort(values, kind="stable").astype(np.int64)
            starts = np.zeros((1 << ch.bits) + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=1 << ch.bits), out=starts[1:])
            values = values[order]
            sorted_codes = np.ascontiguousarray(codes[order])
            masks = self._masks_for(ch.bits, rc).astype(np.int64)
            tops = np.zeros(len(masks), np.int64)
            tops[1:] = np.floor(np.log2(masks[1:].astype(np.float64))).astype(np.int64)
            prev = layout[:ci]
            prev_word = np.array([c.word for c in prev], np.int64)
            prev_shift = np.array([c.shift for c in prev], np.uint64)
            prev_mask = np.array([(1 << c.bits) - 1 for c in prev], np.uint64)
            args = (sorted_codes, order, values, starts, masks, tops, radius, prev_word, prev_shift, prev_mask, rc)
            none = np.zeros(1, np.int64)
            counts = chunk_join(*args, False, np.zeros(n + 1, np.int64), none, none, none)
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(counts, out=offsets[1:])
            total = int(offsets[-1])
            out = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.int64)
            if total:
                chunk_join(*args, True, offsets, *out)
            parts.append(out)
        i, j, d = (np.concatenate([p[k] for p in parts]) for k in range(3))
        o = np.lexsort((j, i))
        return i[o], j[o], d[o].astype(np.int32)


@dataclass(frozen=True)
class JoinCost:
    """Cost model of the all-pairs join, per code and chunk, in nanoseconds (measured on the 2-core dev
    machine with scripts/bench_dedup.py: a bucket probe is a random read of the bucket table, a
    comparison a streaming read plus POPCNT; the table is cleared once per chunk)."""

    probe_ns: float = 7.0
    compare_ns: float = 1.2
    table_ns_per_slot: float = 1.0


def join_cost(n: int, words: int, radius: int, per_word: int, cost: JoinCost = JoinCost()) -> float:
    """Estimated time (ns) of :meth:`MultiIndex.pairs_within` with ``per_word`` chunks per word; inf when a
    chunk would be wider than ``MAX_CHUNK_BITS``."""
    layout = chunk_layout(words, per_word)
    if max(c.bits for c in layout) > MAX_CHUNK_BITS:
        return float("inf")
    rc = radius // len(layout)
    total = 0.0
    for c in layout:
        probes = sum(comb(c.bits, k) for k in range(0, min(rc, c.bits) + 1)) / 2
        total += n * probes * (cost.probe_ns + n / 2 ** c.bits * cost.compare_ns) + 2 ** c.bits * cost.table_ns_per_slot
    return total


def best_join_layout(n: int, words: int, radius: int) -> int:
    """Chunks per 64-bit word (3 to 16) that minimise :func:`join_cost`."""
    return min(range(3, 17), key=lambda k: join_cost(n, words, radius, k))


def chunk_layout(words: int, per_word: int) -> list[_Chunk]:
    """``per_word`` contiguous chunks in each of ``words`` 64-bit words, widths differing by at most 1."""
    widths = [64 // per_word + (1 if i < 64 % per_word else 0) for i in range(per_word)]
    out = []
    for word in range(words):
        shift = 0
        for width in widths:
            out.append(_Chunk(word, shift, width))
            shift += width
    return out


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each (s, l)."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return offsets + np.arange(total, dtype=np.int64)


def _gather(order: np.ndarray, starts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    lo, hi = starts[keys], starts[keys + 1]
    return order[_ranges(lo, hi - lo)]


def brute_force(codes: np.ndarray, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference answer of :meth:`MultiIndex.query` by a linear scan."""
    codes = np.asarray(codes, dtype=np.uint64)
    if codes.ndim == 1:
        codes = codes[:, None]
    d = hamming_rows(codes, np.asarray(code, dtype=np.uint64).reshape(1, -1))
    ids = np.flatnonzero(d <= radius)
    return ids, d[ids]
