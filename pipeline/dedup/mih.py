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
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

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
        per_word = max(1, round(64 / b))
        widths = [64 // per_word + (1 if i < 64 % per_word else 0) for i in range(per_word)]
        self.chunks: list[_Chunk] = []
        for word in range(w):
            shift = 0
            for width in widths:
                self.chunks.append(_Chunk(word, shift, width))
                shift += width
        self._values: list[np.ndarray] = []  # chunk value of every code, int64
        self._order: list[np.ndarray] = []  # code ids sorted by chunk value
        self._starts: list[np.ndarray] = []  # bucket v holds _order[_starts[v]:_starts[v+1]]
        for ch in self.chunks:
            v = ((codes[:, ch.word] >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1)).astype(np.int64)
            counts = np.bincount(v, minlength=1 << ch.bits)
            starts = np.zeros((1 << ch.bits) + 1, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            self._values.append(v)
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

    def pairs_within(self, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (i < j) of stored codes within ``radius`` bits: arrays i, j, distance, sorted by (i, j).

        A self-join: for each chunk and each probe mask ``f`` (chunk values of the pair XOR to ``f``), code
        ``a`` looks up the bucket of ``value(a) ^ f``. Each unordered pair with ``f != 0`` would be found
        from both ends, so only codes whose chunk bit at ``f``'s top bit is 0 look up; ``f == 0`` pairs are
        enumerated inside each bucket.
        """
        n = len(self.codes)
        rc = self._chunk_radius(radius)
        out_i, out_j, out_d = [], [], []

        def verify(a: np.ndarray, b: np.ndarray) -> None:
            a, b = np.minimum(a, b), np.maximum(a, b)
            d = hamming_rows(self.codes[a], self.codes[b])
            ok = d <= radius
            out_i.append(a[ok])
            out_j.append(b[ok])
            out_d.append(d[ok])

        for ci, ch in enumerate(self.chunks):
            values, order, starts = self._values[ci], self._order[ci], self._starts[ci]
            counts = np.diff(starts).astype(np.int32)
            # f == 0: pairs inside one bucket (sorted position p with every later position of its bucket)
            pos = np.arange(n, dtype=np.int64)
            bucket_end = starts[values[order] + 1]
            lens = bucket_end - pos - 1
            nz = np.flatnonzero(lens)
            if len(nz):
                a = np.repeat(order[nz], lens[nz])
                b = order[_ranges(nz + 1, lens[nz])]
                verify(a, b)
            masks = self._masks_for(ch.bits, rc)[1:]
            if len(masks) == 0:
                continue
            top = np.floor(np.log2(masks.astype(np.float64))).astype(np.int64)
            sorted_values = values[order]  # probing in value order keeps the bucket lookups cache-friendly
            for t in np.unique(top):
                keep = np.flatnonzero(((sorted_values >> t) & 1) == 0)
                sel, vals = order[keep], sorted_values[keep]
                for mask in masks[top == t]:
                    keys = vals ^ np.int64(mask)
                    lens = counts[keys]
                    nz = np.flatnonzero(lens)
                    if len(nz) == 0:
                        continue
                    ln = lens[nz]
                    a = np.repeat(sel[nz], ln)
                    b = order[_ranges(starts[keys[nz]], ln)]
                    verify(a, b)
        if not out_i:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0, np.int32)
        i, j, d = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
        _, first = np.unique(i * n + j, return_index=True)
        return i[first], j[first], d[first]


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
