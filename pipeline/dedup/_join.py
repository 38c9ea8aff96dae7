"""Compiled inner loop of the all-pairs Hamming join (:meth:`pipeline.dedup.mih.MultiIndex.pairs_within`).

Numba-compiled (``parallel=True``: blocks of codes run on all cores; ``cache=True``: compiled once per
machine, into ``__pycache__`` or numba's user cache). Kept apart from :mod:`pipeline.dedup.mih` so that
importing the index does not import numba; only the all-pairs join does.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange, types
from numba.extending import intrinsic

BLOCK = 2048  # codes per parallel work item


@intrinsic
def _popcount64(typingctx, x):
    """Bits set in a uint64 (LLVM ctpop: one POPCNT instruction on x86-64)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@nb.njit(parallel=True, cache=True, nogil=True)
def chunk_join(sorted_codes, order, values, starts, masks, tops, radius, prev_word, prev_shift, prev_mask,
               chunk_radius, fill, offsets, out_i, out_j, out_d):  # pragma: no cover - compiled
    """Pairs found through one chunk of a multi-index.

    ``sorted_codes`` (n, w) uint64 are the codes sorted by their value of this chunk, ``values`` (n,) int64
    those chunk values, ``order`` (n,) int64 the original ids, ``starts`` the bucket offsets (bucket ``v``
    is rows ``starts[v]:starts[v+1]``). Code at row p meets every row of bucket ``values[p] ^ masks[k]``;
    for a mask other than 0 only when bit ``tops[k]`` (the mask's top bit) of ``values[p]`` is 0, so that
    each unordered pair is met once; for mask 0 only the later rows of its own bucket. A met pair is kept
    when its full distance is ``<= radius`` and no EARLIER chunk (``prev_*``: word, shift, bit mask) already
    has its chunk distance ``<= chunk_radius`` (that chunk reported it).

    First call with ``fill=False``: returns the number of pairs kept per row. Second call with
    ``fill=True`` and ``offsets`` = their running sum (n + 1): writes ids (``out_i < out_j``) and distances
    and skips rows without pairs.
    """
    n, w = sorted_codes.shape
    counts = np.zeros(n, np.int64)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        for p in range(blk * BLOCK, min(n, (blk + 1) * BLOCK)):
            if fill and offsets[p + 1] == offsets[p]:
                continue
            v = values[p]
            c = 0
            for k in range(len(masks)):
                f = masks[k]
                if f == 0:
                    q0, q1 = p + 1, starts[v + 1]
                elif (v >> tops[k]) & 1:
                    continue
                else:
                    q0, q1 = starts[v ^ f], starts[(v ^ f) + 1]
                for q in range(q0, q1):
                    d = 0
                    for x in range(w):
                        d += _popcount64(sorted_codes[p, x] ^ sorted_codes[q, x])
                    if d > radius:
                        continue
                    seen = False
                    for pc in range(len(prev_word)):
                        pw = prev_word[pc]
                        y = ((sorted_codes[p, pw] ^ sorted_codes[q, pw]) >> prev_shift[pc]) & prev_mask[pc]
                        if _popcount64(y) <= chunk_radius:
                            seen = True
                            break
                    if seen:
                        continue
                    if fill:
                        o = offsets[p] + c
                        a, b = order[p], order[q]
                        out_i[o] = min(a, b)
                        out_j[o] = max(a, b)
                        out_d[o] = d
                    c += 1
            counts[p] = c
    return counts
