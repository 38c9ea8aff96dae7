"""Radius search over the region hashes of every indexed photo, and the candidates they give (issue 22).

:class:`RegionIndex` holds, for n indexed photos, the ``len(REGION_BOXES)`` window pHashes of each (row
``i * R + k`` is window k of photo i) and the pHashes of the pictures found inside them (collage panels;
row j owned by photo ``pic_owner[j]``, its picture number ``pic_slot[j]``), each with a multi-index-hashing
radius search (:class:`pipeline.dedup.mih.MultiIndex`) built on first use, and the ``SAME_SLOT`` windows
once more in one search grouped by slot (a same-slot query searches n codes, not n * R).

:func:`region_candidates` turns a query photo's hashes into :class:`pipeline.dedup.candidate.Candidate` s:

* ``deep_crop``: the query's pHash within ``region_threshold`` of a window of another photo (the query is a
  deep crop of it), or a window of the query within it of another photo's pHash (the other is a crop of
  the query);
* ``overlaid``: a window of the query within it of the same window of another photo (a sticker or a text
  panel covers the rest); or at least ``CELL_MIN_SHARED`` cells of the query's grid within ``CELL_RADIUS``
  of the same cells of another photo (a sticker or a panel anywhere: the cells it does not touch);
* ``collage``: a picture found in the query within it of another photo's pHash, or the query's pHash within
  it of a picture found in another photo;
* ``screen_photo``: the same with the photo found on a photographed screen (a picture of kind ``screen``),
  ``SCREEN_EXTRA_BITS`` wider; and that photo within ``region_threshold`` of a window of another photo, or
  a window of the query within it of the photo on another's screen (the screen's photo trimmed too far).

The window searches probe as an exact search within ``EXACT_WITHIN`` (8) bits would and keep every code
within ``region_threshold`` (10) that they meet: a query at 1M photos in ~4 ms instead of ~7 ms, all pairs
of real pHashes within 8 bits and most at 10 (docs/dedup-bench.md, issue 22); the collage searches are exact.
Each is then confirmed on local features (:func:`pipeline.dedup.match.confirm_others`); pictures on their
own views.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .candidate import Candidate
from .mih import MultiIndex, query_chunk_bits
from .regions import CELL_BOXES, REGION_BOXES, SAME_SLOT, Picture, RegionHashes

R = len(REGION_BOXES)
C = len(CELL_BOXES)
#: a cell of the query matches the same cell of another photo within this many bits of its dHash (of 64; on
#: the tuning part of the calibration set the cells a sticker leaves clean are 0-4 bits from the original's)
CELL_RADIUS = 4
#: another photo is a candidate when at least this many coded cells match, slot to slot (tuning part: every
#: sticker copy shares 7 or more of 25 with its original; clean-up after photos share none; distinct photos
#: 4 or more only as frames of one street video, which other hashes find anyway)
CELL_MIN_SHARED = 4
SCREEN = "screen"  # the kind of a picture that is the photo on a photographed screen (pipeline.dedup.screen)
#: the photo on a photographed screen is searched this many bits wider than ``region_threshold``: glare, moire
#: and the corners found a few pixels off move its pHash (tuning part of the calibration set: 10 of 17 within
#: 10 bits, 12 within 16)
SCREEN_EXTRA_BITS = 6


@dataclass
class RegionIndex:
    """Window and picture pHashes of the photos of a :class:`pipeline.dedup.index.HashIndex` (same rows)."""

    windows: np.ndarray  # (n * R,) uint64
    has_windows: np.ndarray  # (n,) bool
    pics: np.ndarray  # (m,) uint64
    pic_owner: np.ndarray  # (m,) int64
    pic_slot: np.ndarray  # (m,) int16
    cells: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # (n * C,) uint64, 0: no code
    pictures: dict[int, tuple[Picture, ...]] = field(default_factory=dict)  # by row, photos with pictures only
    has_screens: bool = False  # some picture is the photo on a screen
    _mih: dict[str, MultiIndex] = field(default_factory=dict)

    @classmethod
    def build(cls, shas: list[str], rows: Iterable[tuple[str, bytes | tuple[int, ...], tuple[Picture, ...]]]
              ) -> "RegionIndex":
        """From (sha256, windows: stored bytes or ints, pictures) of any of the photos ``shas`` (row order)."""
        pos = {s: i for i, s in enumerate(shas)}
        n = len(shas)
        windows = np.zeros(n * R, np.uint64)
        cells = np.zeros(n * C, np.uint64)
        has = np.zeros(n, bool)
        pics, owner, slot = [], [], []
        pictures: dict[int, tuple[Picture, ...]] = {}
        for sha, win, pp in rows:
            i = pos.get(sha)
            if i is None:
                continue
            w = np.frombuffer(win, ">u8") if isinstance(win, bytes) else np.array(win, np.uint64)
            if len(w) in (R, R + C):
                windows[i * R:(i + 1) * R] = w[:R]
                has[i] = True
            if len(w) == R + C:
                cells[i * C:(i + 1) * C] = w[R:]
            if pp:
                pictures[i] = tuple(pp)
            for k, p in enumerate(pp):
                pics.append(p.phash)
                owner.append(i)
                slot.append(k)
        return cls(windows, has, np.array(pics, np.uint64).reshape(-1), np.array(owner, np.int64).reshape(-1),
                   np.array(slot, np.int16).reshape(-1), cells, pictures,
                   any(p.kind == SCREEN for pp in pictures.values() for p in pp))

    def regions_of(self, row: int) -> RegionHashes:
        """The region hashes of the photo in row ``row`` (empty when it has none)."""
        if not self.has_windows[row]:
            return RegionHashes((), self.pictures.get(row, ()))
        cells = self.cells[row * C:(row + 1) * C]
        return RegionHashes(tuple(int(v) for v in self.windows[row * R:(row + 1) * R]), self.pictures.get(row, ()),
                            tuple(int(v) for v in cells) if cells.any() else ())

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_mih"] = {}  # rebuilt where it is used
        state.pop("_coded", None)
        return state

    def mih(self, name: str) -> MultiIndex:
        """The radius-search index over ``windows`` (all n * R of them), ``pics`` or ``cells`` (the coded
        ones; built on first use)."""
        if name not in self._mih:
            codes = self.cells[self.coded_cells()] if name == "cells" else \
                (self.windows if name == "windows" else self.pics)
            self._mih[name] = MultiIndex(codes[:, None], query_chunk_bits(len(codes)))
        return self._mih[name]

    def coded_cells(self) -> np.ndarray:
        """Rows of ``cells`` that hold a code (the ``cells`` search holds these only: the many flat cells'
        zeros would fill one bucket), ascending; ids of the ``cells`` search index into it."""
        if "_coded" not in self.__dict__:
            self.__dict__["_coded"] = np.flatnonzero(self.cells)
        return self.__dict__["_coded"]

    def slots_mih(self) -> MultiIndex:
        """The radius search over the ``SAME_SLOT`` windows, one group per slot: row ``j * n + i`` is window
        ``SAME_SLOT[j]`` of photo i (built on first use). A same-slot query searches the n codes of its
        slot, not the n * R of :meth:`mih` ("windows")."""
        if "slots" not in self._mih:
            n = len(self.has_windows)
            codes = self.windows.reshape(n, R)[:, list(SAME_SLOT)].T.reshape(-1)
            self._mih["slots"] = MultiIndex(codes[:, None], query_chunk_bits(n), groups=len(SAME_SLOT))
        return self._mih["slots"]

    def nbytes(self) -> int:
        """Bytes held by the arrays and the built radius-search indexes (not the views)."""
        total = (self.windows.nbytes + self.cells.nbytes + self.pics.nbytes + self.pic_owner.nbytes
                 + self.pic_slot.nbytes)
        for mi in self._mih.values():  # the searches over windows and pics search those very arrays
            shared = np.may_share_memory(mi.codes, self.windows) or np.may_share_memory(mi.codes, self.pics)
            total += mi.nbytes() - (mi.codes.nbytes if shared else 0)
        return total


#: region queries probe as an exact search within this many bits would, and keep every code within the
#: radius that those probes meet (MultiIndex.query_many's ``exact``): 2-3x faster at 1M photos; on real
#: pHashes (32 bits set, so even distances) all pairs within 8 bits and most at 10 (docs/dedup-bench.md, issue 22)
EXACT_WITHIN = 8


def _query(mi: MultiIndex, codes: list[int], radius: int, exact: int | None = None, group: np.ndarray | int = 0,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not codes or len(mi) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.int32)
    return mi.query_many(np.array(codes, np.uint64).reshape(-1, 1), radius, exact, group)


def region_candidates(index, h, phash_mih: MultiIndex, radius: int, exact: int | None = EXACT_WITHIN) -> list:
    """Candidates (see the module docstring) of the query photo's hashes ``h`` (a ``DedupHashes``) against
    ``index`` (a ``HashIndex`` with its ``regions``); ``phash_mih``: the whole-photo pHash search. The
    window searches (deep crops, stickers) probe as exact within ``exact`` bits (None: exact within
    ``radius``); the collage searches (few codes, small indexes) are exact."""

    ri: RegionIndex | None = getattr(index, "regions", None)
    r: RegionHashes = h.regions
    if ri is None:
        return []
    out: list[Candidate] = []
    # the query is a deep crop of another photo
    _, ids, d = _query(ri.mih("windows"), [h.phash], radius, exact)
    out.extend(Candidate(int(o), "deep_crop", "phash_region", int(di), 0, int(w), False)
               for o, w, di in zip(ids // R, ids % R, d) if ri.has_windows[o])
    # a sticker or a panel anywhere: enough of the query's textured cells equal the same cells of another
    out.extend(cell_candidates(ri, r.cells, radius))
    if len(r.windows) == R:
        # a sticker or a panel covers part of one of them: window k of the query near window k of another
        q, ids, d = _query(ri.slots_mih(), [r.windows[k] for k in SAME_SLOT], radius, exact,
                           np.arange(len(SAME_SLOT)))
        n = len(ri.has_windows)
        out.extend(Candidate(int(o), "overlaid", "phash_region", int(di), 0, SAME_SLOT[qi], False)
                   for qi, o, di in zip(q, ids % n, d) if ri.has_windows[o])
        # another photo is a deep crop of the query
        q, ids, d = _query(phash_mih, list(r.windows), radius, exact)
        out.extend(Candidate(int(i), "deep_crop", "phash_region", int(di), 0, int(qi), True)
                   for qi, i, di in zip(q, ids, d))
    # collages: a panel of the query is another photo, or the query is a panel of another photo; photos of a
    # screen: the photo on the query's screen is another photo, or the query is shown on another's screen
    wide = radius + SCREEN_EXTRA_BITS
    q, ids, d = _query(phash_mih, [p.phash for p in r.pictures], wide)
    for qi, i, di in zip(q, ids, d):
        screen = r.pictures[qi].kind == SCREEN
        if screen or di <= radius:
            out.append(Candidate(int(i), *_picture_kind(screen), int(di), q_pic=int(qi)))
    q, ids, d = _query(ri.mih("pics"), [h.phash], wide)
    for j, di in zip(ids, d):
        owner, slot = int(ri.pic_owner[j]), int(ri.pic_slot[j])
        screen = ri.pictures[owner][slot].kind == SCREEN
        if screen or di <= radius:
            out.append(Candidate(owner, *_picture_kind(screen), int(di), o_pic=slot))
    # the photo on a screen trimmed too far (a flat or dark edge of the photo taken for the screen's): it is
    # a deep crop of the other photo, or one of the query's windows is the photo on another's screen
    screens = [k for k, p in enumerate(r.pictures) if p.kind == SCREEN]
    q, ids, d = _query(ri.mih("windows"), [r.pictures[k].phash for k in screens], radius)
    out.extend(Candidate(int(o), "screen_photo", "phash_screen", int(di), q_pic=screens[qi])
               for qi, o, di in zip(q, ids // R, d) if ri.has_windows[o])
    if len(r.windows) == R and ri.has_screens:
        q, ids, d = _query(ri.mih("pics"), list(r.windows), radius)
        for j, di in zip(ids, d):
            owner, slot = int(ri.pic_owner[j]), int(ri.pic_slot[j])
            if ri.pictures[owner][slot].kind == SCREEN:
                out.append(Candidate(owner, "screen_photo", "phash_screen", int(di), o_pic=slot))
    return out


def _picture_kind(screen: bool) -> tuple[str, str]:
    """(candidate kind, hash name) of a hit on a picture: a screen's photo or a collage's panel."""
    return ("screen_photo", "phash_screen") if screen else ("collage", "phash_panel")


def cell_candidates(ri: RegionIndex, cells: tuple[int, ...], radius: int) -> list[Candidate]:
    """``overlaid`` candidates of the query's cell codes ``cells`` (``CELL_BOXES`` order, 0: none): the other
    photos with at least ``CELL_MIN_SHARED`` coded cells within ``CELL_RADIUS`` bits of the query's same cells.
    Their distance: the query's coded cells that do not match, at most ``radius`` (the region windows' own
    bound), so that a copy with a small drawing ranks near, one with many cells covered behind the hash hits."""
    if len(cells) != C or len(ri.cells) == 0:
        return []
    slots = [k for k, v in enumerate(cells) if v]
    if len(slots) < CELL_MIN_SHARED:
        return []
    q, ids, _ = _query(ri.mih("cells"), [cells[k] for k in slots], CELL_RADIUS)
    ids = ri.coded_cells()[ids]
    ok = ids % C == np.array(slots, np.int64)[q]
    owners, counts = np.unique(ids[ok] // C, return_counts=True)
    return [Candidate(int(o), "overlaid", "dhash_cells", min(radius, len(slots) - int(n)))
            for o, n in zip(owners, counts) if n >= CELL_MIN_SHARED and ri.has_windows[o]]
