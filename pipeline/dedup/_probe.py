"""Compiled radius query of a multi-index (:meth:`pipeline.dedup.mih.MultiIndex.query_many`).

Per query code and chunk: look up the bucket of every probe (value within the chunk radius) first, then
read the buckets with the next ones prefetched, compare each stored code on its full distance and keep it
when within the query's radius and not already reported by an earlier chunk (so no candidate list is ever
sorted or deduplicated). A query at 1M photos is bound by memory latency, not by arithmetic: a bucket or a
code read that misses the caches costs ~100 ns, a comparison ~1 ns, hence the prefetching and, where the
index keeps them, the codes copied in bucket order (read in sequence).

Numba-compiled (``cache=True``: once per machine, ~5 s); :mod:`pipeline.dedup.mih` falls back to its
NumPy path, same answer, when numba is missing.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._join import _popcount64

AHEAD = 8  # buckets prefetched ahead of the one read
AHEAD_CODES = 32  # codes prefetched ahead of the one compared (random reads: more of them in flight)


@intrinsic
def _prefetch(typingctx, arr, i, k):
    """Prefetch element ``arr[i, k]`` of a 2-D array into the caches (LLVM's prefetch; a hint, no fault)."""
    sig = types.void(arr, i, k)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep, data cache
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _distance(src, i, qcodes, j, r, c, words, shifts, cmasks, rc):  # pragma: no cover - compiled
    """Distance of ``src[i]`` to query ``j`` when within ``r`` and not reported by a chunk before ``c``;
    else -1."""
    d = np.int64(0)
    for x in range(src.shape[1]):
        d += np.int64(_popcount64(src[i, x] ^ qcodes[j, x]))
    if d > r:
        return -1
    for e in range(c):  # an earlier chunk probed it already when its chunk distance is within that radius
        y = ((src[i, words[e]] ^ qcodes[j, words[e]]) >> shifts[e]) & cmasks[e]
        if rc[e] >= 0 and np.int64(_popcount64(y)) <= rc[e]:
            return -1
    return d


@nb.njit(cache=True, nogil=True)
def probe_query(codes, order, starts, base, words, shifts, cmasks, masks, mcount, seq, copies, qcodes, qradii,
                qprobe, qgroup, out_q, out_i, out_d):  # pragma: no cover - compiled
    """Hits of ``qcodes`` (k, w) uint64 among ``codes`` (n, w) uint64, written to ``out_*``; returns their
    number (more than ``len(out_q)`` when the buffers were too small: call again with larger ones).

    Chunk c is bits ``shifts[c]`` up of word ``words[c]`` (mask ``cmasks[c]``); its codes sorted by chunk
    value are ``order[c]`` (ids) and bucket v of it is ``order[c, starts[base[c] + v]:starts[base[c] + v + 1]]``.
    ``masks[c, :mcount[c, s]]`` are the XOR masks of at most s bits of chunk c (by popcount). When ``seq``,
    ``copies`` (m, n, w) holds ``copies[c, t] = codes[order[c, t]]`` (else it is a dummy): the buckets are
    then read in sequence. Query j keeps codes within ``qradii[j]`` bits among those its probes meet: chunk
    c at radius ``s_j`` for c <= a_j and ``s_j - 1`` beyond, where ``qprobe[j] = s_j * m + a_j`` (an exact
    search within ``qprobe[j] <= qradii[j]``; :func:`pipeline.dedup.mih.chunk_radii`), in the buckets of
    group ``qgroup[j]`` (``starts[base[c] + g * 2**bits + v]``; one group: 0)."""
    m = len(words)
    cap = len(out_q)
    found = 0
    rc = np.empty(m, np.int64)
    lo = np.empty(masks.shape[1], np.int64)
    hi = np.empty(masks.shape[1], np.int64)
    buf = np.empty(4096, np.int64)  # candidate ids of one chunk (without copies)
    for j in range(len(qcodes)):
        r = qradii[j]
        if r < 0:
            continue
        s, a = qprobe[j] // m, qprobe[j] % m
        for c in range(m):
            rc[c] = s if c <= a else s - 1
        for c in range(m):
            if rc[c] < 0:
                continue
            key = (qcodes[j, words[c]] >> shifts[c]) & cmasks[c]
            gbase = base[c] + qgroup[j] * (np.int64(cmasks[c]) + 1)
            n_probes = mcount[c, rc[c]]
            total = 0
            for p in range(n_probes):  # independent loads: the memory system overlaps them
                v = gbase + np.int64(key ^ masks[c, p])
                lo[p] = starts[v]
                hi[p] = starts[v + 1]
                total += hi[p] - lo[p]
            if seq:
                src = copies[c]
                for p in range(n_probes):
                    if p + AHEAD < n_probes and hi[p + AHEAD] > lo[p + AHEAD]:
                        _prefetch(src, lo[p + AHEAD], 0)
                    for t in range(lo[p], hi[p]):
                        d = _distance(src, t, qcodes, j, r, c, words, shifts, cmasks, rc)
                        if d >= 0:
                            if found < cap:
                                out_q[found], out_i[found], out_d[found] = j, order[c, t], d
                            found += 1
            else:
                if total > len(buf):
                    buf = np.empty(2 * total, np.int64)
                k = 0
                for p in range(n_probes):
                    if p + AHEAD < n_probes and hi[p + AHEAD] > lo[p + AHEAD]:
                        _prefetch(order, c, lo[p + AHEAD])
                    for t in range(lo[p], hi[p]):
                        buf[k] = order[c, t]
                        k += 1
                for u in range(k):  # one random read of ``codes`` per candidate: prefetched
                    if u + AHEAD_CODES < k:
                        _prefetch(codes, buf[u + AHEAD_CODES], 0)
                    d = _distance(codes, buf[u], qcodes, j, r, c, words, shifts, cmasks, rc)
                    if d >= 0:
                        if found < cap:
                            out_q[found], out_i[found], out_d[found] = j, buf[u], d
                        found += 1
    return found


@nb.njit(cache=True, nogil=True)
def bucket_order(codes, word, shift, mask, bits, group_size, starts, out):  # pragma: no cover - compiled
    """Counting sort of the codes by group (``i // group_size``) and one chunk (bits ``shift`` up of word
    ``word``, ``mask``, ``bits`` wide): fills ``starts`` (groups * 2**bits + 1, the bucket offsets) and
    ``out`` (n, the ids in bucket order, ascending within a bucket: what a stable argsort of the keys
    gives) without an n-sized temporary."""
    starts[:] = 0
    for i in range(codes.shape[0]):
        starts[((i // group_size) << bits) + np.int64((codes[i, word] >> shift) & mask) + 1] += 1
    for v in range(1, len(starts)):
        starts[v] += starts[v - 1]
    fill = starts[:-1].copy()
    for i in range(codes.shape[0]):
        v = ((i // group_size) << bits) + np.int64((codes[i, word] >> shift) & mask)
        out[fill[v]] = i
        fill[v] += 1
