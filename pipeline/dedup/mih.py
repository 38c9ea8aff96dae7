"""Exact Hamming-radius search over binary codes by multi-index hashing (Norouzi, Punjani & Fleet 2012).

Codes are ``(n, w)`` uint64 arrays (w = 1 for 64-bit hashes, 4 for 256-bit PDQ). Each 64-bit word is split
into contiguous chunks of ``chunk_bits`` bits or fewer; with ``m`` chunks in all, two codes within Hamming
distance ``r`` differ in at most ``r // m`` bits in at least one chunk (pigeonhole on the sum of the chunk
distances). So a radius-``r`` query probes, in every chunk, every value within ``r // m`` bits of the query's
chunk (``sum_k C(b, k)`` probes of a ``b``-bit chunk), gathers the codes stored under those values from a
dense bucket table, and keeps those whose full distance is ``<= r`` (:func:`chunk_radii` refines the
pigeonhole: some chunks are probed one bit less). The answer is exactly the brute-force answer (tests
check it); the work is sublinear when buckets are small, i.e. when ``2**chunk_bits`` is near ``n``, which
:func:`default_chunk_bits` picks, or hold ~16 codes (:func:`query_chunk_bits`: fewer probes, each a cache
miss, for indexes that answer many codes). A query runs compiled (:mod:`pipeline.dedup._probe`, numba)
or, without numba, vectorised in NumPy; the build sorts the ids into buckets by a compiled counting sort
or NumPy's stable argsort (the same tables).

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

#: the compiled query loop and build (:mod:`pipeline.dedup._probe`), imported on first use (numba is slow to
#: import; ``cleanup-verify --help`` must not); None without numba: then the NumPy ones (same answers, slower)
_UNSET = object()
_probe_query = _bucket_order = _UNSET
#: indexes of fewer codes than this build and answer in NumPy: a contest's index (up to ~2,000 photos, 64
#: windows each) then never imports numba, which costs a process ~0.5 s to load and a machine
#: ~5-7 s to compile the first time (every pool worker of a run queries the index), for queries that take
#: well under a millisecond either way
COMPILED_FROM = 1 << 17


def _compiled() -> None:
    """Import the compiled kernels once (only those still unset: tests set them to force a path)."""
    global _probe_query, _bucket_order
    if _probe_query is not _UNSET and _bucket_order is not _UNSET:
        return
    try:
        from ._probe import bucket_order, probe_query
    except ImportError:  # pragma: no cover - depends on the install
        bucket_order = probe_query = None
    if _probe_query is _UNSET:
        _probe_query = probe_query
    if _bucket_order is _UNSET:
        _bucket_order = bucket_order

MAX_CHUNK_BITS = 22  # bucket tables hold 2**bits + 1 int32 offsets per chunk (16 MiB at 22 bits)


def popcount(x: np.ndarray) -> np.ndarray:
    """Bits set per element of a uint64 array, as int32."""
    return np.bitwise_count(x).astype(np.int32)


def hamming_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between rows of two broadcastable ``(..., w)`` uint64 arrays, summed over words."""
    return popcount(np.bitwise_xor(a, b)).sum(axis=-1)


def default_chunk_bits(n: int) -> int:
    """Chunk width for ``n`` codes: about log2(n) bits, so buckets hold ~1 code, within [8, 22]."""
    return int(min(MAX_CHUNK_BITS, max(8, round(np.log2(max(n, 2))))))


def query_chunk_bits(n: int) -> int:
    """Chunk width for a query-heavy index of ``n`` codes: about log2(n) - 4 bits (buckets of ~16 codes),
    within [8, 22]. A probe is a cache miss and a bucket's codes are read in one go, so fewer, fuller
    buckets answer faster than :func:`default_chunk_bits`' ~1 code a bucket: 64 codes at radius 10
    against 1M take 1.7 ms with 4 chunks of 16 bits, 4.4 ms with 3 of 21-22 bits (2-core dev machine,
    compiled path, codes copied in bucket order). 64M codes get 3 chunks of 21-22 bits either way."""
    return int(min(MAX_CHUNK_BITS, max(8, round(np.log2(max(n, 2))) - 4)))


def chunk_radii(chunks: int, radius: int) -> list[int]:
    """The radius probed in each of ``chunks`` chunks for an exact search within ``radius`` (-1: that chunk
    is not probed).

    With ``m`` chunks and ``radius = s * m + a`` (``0 <= a < m``), two codes within ``radius`` agree within
    ``s`` bits in one of the first ``a + 1`` chunks or within ``s - 1`` bits in one of the others: else the
    chunk distances would sum to at least ``(a + 1)(s + 1) + (m - a - 1) s = radius + 1`` (the pigeonhole of
    Norouzi et al., refined). Radius 10 over 3 chunks probes radii (3, 3, 2), not (3, 3, 3)."""
    s, a = divmod(radius, chunks)
    return [s if i <= a else s - 1 for i in range(chunks)]


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
    """An immutable radius-search index over ``codes`` (n, w) uint64. Row i of ``codes`` has id i.

    ``chunk_bits`` (default :func:`default_chunk_bits`) or ``chunks_per_word`` set the chunk layout;
    ``copies`` keeps the codes again in each chunk's bucket order (m x their memory) for faster queries.
    With ``groups`` > 1 the rows are that many equal blocks (row ``g * n / groups + i`` is code i of group
    g), each with its own buckets: a query searches one group (``group=`` of :meth:`query_many`) for the
    cost of a search over that group alone. Ids and bucket offsets are int32 below 2**31 codes."""

    def __init__(self, codes: np.ndarray, chunk_bits: int | None = None, chunks_per_word: int | None = None,
                 copies: bool = False, groups: int = 1):
        codes = np.ascontiguousarray(np.asarray(codes, dtype=np.uint64))
        if codes.ndim == 1:
            codes = codes[:, None]
        self.codes = codes
        n, w = codes.shape
        if groups < 1 or n % groups:
            raise ValueError(f"{n} codes do not split into {groups} equal groups")
        self.group_size = max(1, n // groups)
        b = chunk_bits or default_chunk_bits(n // groups)
        self.chunks: list[_Chunk] = chunk_layout(w, chunks_per_word or max(1, round(64 / b)))
        # ids and bucket offsets as int32 while they fit (half the memory of int64; 64M windows at 1M photos)
        itype = np.int32 if n < 2 ** 31 else np.int64
        # chunk c: _order_all[c] are the code ids sorted by (group, chunk value); bucket v of group g (its
        # codes whose chunk is v) is _order_all[c, _starts_all[u]:_starts_all[u + 1]], u = _base[c] + g * 2**bits + v
        self._base = np.zeros(len(self.chunks) + 1, np.int64)
        np.cumsum([(groups << ch.bits) + 1 for ch in self.chunks], out=self._base[1:])
        self._order_all = np.empty((len(self.chunks), n), itype)
        self._starts_all = np.zeros(int(self._base[-1]), itype)
        compiled = n >= COMPILED_FROM
        if compiled:
            _compiled()
        for ci, ch in enumerate(self.chunks):
            starts = self._starts_all[self._base[ci]:self._base[ci + 1]]
            if compiled and _bucket_order is not None:  # compiled counting sort: no n-sized temporaries (64M windows)
                _bucket_order(codes, ch.word, np.uint64(ch.shift), np.uint64((1 << ch.bits) - 1), ch.bits,
                              self.group_size, starts, self._order_all[ci])
                continue
            v = self._chunk_values(codes[:, ch.word], ch) + ((np.arange(n) // self.group_size) << ch.bits)
            np.cumsum(np.bincount(v, minlength=groups << ch.bits), out=starts[1:])
            self._order_all[ci] = np.argsort(v, kind="stable")
            del v
        # with ``copies``, the codes again in each chunk's bucket order (m x the codes' memory): a query then
        # reads its buckets in sequence instead of one random read of ``codes`` per candidate
        self._copies = np.stack([codes[o] for o in self._order_all]) if copies else np.zeros((1, 1, w), np.uint64)
        self._seq = bool(copies)
        self._words = np.array([c.word for c in self.chunks], np.int64)
        self._shifts = np.array([c.shift for c in self.chunks], np.uint64)
        self._cmasks = np.array([(1 << c.bits) - 1 for c in self.chunks], np.uint64)
        self._masks: dict[tuple[int, int], np.ndarray] = {}
        self._probe_tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _chunk_values(word: np.ndarray, ch: _Chunk) -> np.ndarray:
        """The ``ch`` chunk of each of ``word`` (uint64) as intp (at most ``MAX_CHUNK_BITS`` bits)."""
        return ((word >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1)).astype(np.intp)

    def __len__(self) -> int:
        return len(self.codes)

    def nbytes(self) -> int:
        """Bytes held: the codes, the bucket tables and orders, the copies."""
        return self.codes.nbytes + self._order_all.nbytes + self._starts_all.nbytes + \
            (self._copies.nbytes if self._seq else 0)

    @property
    def words(self) -> int:
        return self.codes.shape[1]

    def chunk_radii(self, radius: int) -> list[int]:
        """:func:`chunk_radii` of this index's chunks."""
        return chunk_radii(len(self.chunks), radius)

    def _masks_for(self, bits: int, radius: int) -> np.ndarray:
        key = (bits, radius)
        if key not in self._masks:
            self._masks[key] = _flip_masks(bits, radius).astype(np.intp)
        return self._masks[key]

    def query(self, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids (ascending) and distances of every stored code within ``radius`` bits of ``code`` (w,)."""
        _, ids, d = self.query_many(np.asarray(code, dtype=np.uint64).reshape(1, self.words), radius)
        return ids, d

    def query_many(self, codes: np.ndarray, radii: np.ndarray | int, exact: np.ndarray | int | None = None,
                   group: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`query` of many codes (k, w) at once, each within its own radius (``radii``: (k,) or one
        int): arrays query row, id (int64) and distance (int32) of every hit, sorted by (query row, id).

        ``exact`` ((k,) or one int; default: the radius) probes only as an exact search within ``exact``
        bits would: every code within ``exact`` bits is returned, and a code ``exact + 1`` to ``radius``
        bits away only when it agrees with the query within :func:`chunk_radii` ``(m, exact)[c]`` bits in
        some chunk c (most do; see docs/dedup-bench.md, issue 22), for far fewer probes and candidates.
        ``group`` ((k,) or one int): the group each code searches (ids are still rows of all the codes).

        Compiled (:mod:`pipeline.dedup._probe`) for an index of :data:`COMPILED_FROM` codes or more where numba
        is installed, else :meth:`_query_numpy`; the same exact answer either way (tests compare both with
        brute force)."""
        codes = np.asarray(codes, dtype=np.uint64).reshape(-1, self.words)
        k = len(codes)
        radii = np.broadcast_to(np.asarray(radii, np.int64), (k,))
        probe = radii if exact is None else np.minimum(radii, np.broadcast_to(np.asarray(exact, np.int64), (k,)))
        group = np.ascontiguousarray(np.broadcast_to(np.asarray(group, np.int64), (k,)))
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))
        if len(self.codes) == 0 or k == 0 or radii.max() < 0:
            return empty
        if len(self.codes) >= COMPILED_FROM:
            _compiled()
            if _probe_query is not None:
                return self._query_compiled(codes, radii, probe, group)
        return self._query_numpy(codes, radii, probe, group)

    def _query_compiled(self, codes: np.ndarray, radii: np.ndarray, probe: np.ndarray, group: np.ndarray,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`query_many` by the compiled loop (:mod:`pipeline.dedup._probe`): each query probes at its
        own radius; a code is reported by the first chunk that probes it, so no deduplication is needed."""
        masks, mcount = self._probe_table(max(0, int(probe.max())) // len(self.chunks))
        codes, radii = np.ascontiguousarray(codes), np.ascontiguousarray(radii, np.int64)
        probe = np.ascontiguousarray(probe, np.int64)
        cap = 1024
        while True:
            out = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int32)
            found = _probe_query(self.codes, self._order_all, self._starts_all, self._base, self._words, self._shifts,
                                 self._cmasks, masks, mcount, self._seq, self._copies, codes, radii, probe, group,
                                 *out)
            if found <= cap:
                break
            cap = found
        q, i, d = (a[:found] for a in out)
        o = np.lexsort((i, q))
        return q[o], i[o], d[o]

    def _probe_table(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """XOR masks of each chunk up to ``radius`` bits, (m, P) ordered by popcount, and how many have at
        most s bits, (m, radius + 1)."""
        if radius not in self._probe_tables:
            per = [self._masks_for(c.bits, radius) for c in self.chunks]
            masks = np.zeros((len(per), max(len(p) for p in per)), np.uint64)
            mcount = np.zeros((len(per), radius + 1), np.int64)
            for c, (ch, p) in enumerate(zip(self.chunks, per)):
                masks[c, :len(p)] = p
                mcount[c] = np.cumsum([comb(ch.bits, k) for k in range(radius + 1)])
            self._probe_tables[radius] = masks, mcount
        return self._probe_tables[radius]

    def _query_numpy(self, codes: np.ndarray, radii: np.ndarray, probe: np.ndarray, group: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`query_many` without numba. For each chunk, the probes of all queries go through its bucket
        table in one vectorised pass (at the chunk radii of the largest radius); the candidates' full
        distances are computed there and only the hits are kept, so that a code found in several chunks is
        deduplicated among the few hits, never among the many candidates (sorting all candidates cost most
        of a query before)."""
        flat = self.codes[:, 0] if self.words == 1 else None
        qs, ids, ds = [], [], []
        for ci, (ch, rc) in enumerate(zip(self.chunks, self.chunk_radii(int(probe.max())))):
            if rc < 0:
                continue
            masks = self._masks_for(ch.bits, rc)
            probes = ((self._chunk_values(codes[:, ch.word], ch)[:, None] ^ masks[None, :])
                      + (group[:, None] << ch.bits)).reshape(-1)  # (k * P,)
            starts = self._starts_all[self._base[ci]:self._base[ci + 1]]
            lo = starts[probes]
            lens = starts[probes + 1] - lo
            nz = np.flatnonzero(lens)
            cand = self._order_all[ci][_ranges(lo[nz], lens[nz])]
            qrow = np.repeat(nz // len(masks), lens[nz])
            if flat is not None:
                d = np.bitwise_count(flat[cand] ^ codes[qrow, 0])
            else:
                d = np.bitwise_count(self.codes[cand] ^ codes[qrow]).sum(axis=1, dtype=np.int32)
            keep = np.flatnonzero(d <= radii[qrow])
            qs.append(qrow[keep])
            ids.append(cand[keep])
            ds.append(d[keep])
        if not qs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
        n = len(self.codes)
        pair, first = np.unique(np.concatenate(qs).astype(np.int64) * n + np.concatenate(ids), return_index=True)
        q, i, d = pair // n, pair % n, np.concatenate(ds)[first].astype(np.int32)
        loose = np.flatnonzero(d > probe[q])  # beyond its exact radius: kept only where its own probes meet it
        if len(loose):
            rc = np.array([self.chunk_radii(int(e)) for e in probe[q[loose]]])  # (h, m)
            met = np.zeros(len(loose), bool)
            for c, ch in enumerate(self.chunks):
                x = self._chunk_values(self.codes[i[loose], ch.word] ^ codes[q[loose], ch.word], ch).astype(np.uint64)
                met |= np.bitwise_count(x) <= rc[:, c]
            keep = np.ones(len(q), bool)
            keep[loose[~met]] = False
            q, i, d = q[keep], i[keep], d[keep]
        return q, i, d

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
        try:  # numba: imported (and compiled, once per machine) on first use
            from ._join import chunk_join
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError(f"the all-pairs join needs numba (a dependency of cleanup-verify: pip install -e .) "
                              f"({e})") from e

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
    """Concatenation of ``arange(s, s + l)`` for each (s, l) (intp)."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, np.intp)
    ends = np.cumsum(lens, dtype=np.intp)
    offsets = np.repeat(starts.astype(np.intp) - (ends - lens), lens)
    return offsets + np.arange(total, dtype=np.intp)


def brute_force(codes: np.ndarray, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference answer of :meth:`MultiIndex.query` by a linear scan."""
    codes = np.asarray(codes, dtype=np.uint64)
    if codes.ndim == 1:
        codes = codes[:, None]
    d = hamming_rows(codes, np.asarray(code, dtype=np.uint64).reshape(1, -1))
    ids = np.flatnonzero(d <= radius)
    return ids, d[ids]
