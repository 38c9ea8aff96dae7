"""The workspace's hash index: every photo the workspace has ever hashed, all batches, all rounds.

Persistent part: tables ``dedup_hashes`` and ``dedup_reuse`` (:mod:`pipeline.store.hash_index`). In-memory part: :class:`HashIndex`, plain
arrays (and the grey signatures) loaded from the table in one SELECT by :func:`load_index` (rebuilt when the
table has grown; ~1-3 s for a million photos, see scripts/bench_dedup.py), plus exact multi-index-hashing
radius search (:mod:`pipeline.dedup.mih`) over pHash, PDQ and the crop windows, built on first use. The
index holds no database handle: it pickles, so matching can run in other processes or on other machines
(the radius-search structures are left out of the pickle and rebuilt there on first use).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from ..types import PhotoHashes
from ..store import hash_index as stored
from ..store import regions as store_regions
from ..store.workspace import Workspace
from .hashing import CROP_WINDOWS, PART_BOXES, ROT_ANGLES, STAGE_VERSION, THUMB_SIDE, DedupHashes
from .confirm import ViewFeatures, view_features
from .hashing import decode_view
from .mih import MultiIndex, query_chunk_bits
from . import region_codec
from .pixel_check import dihedral
from .region_index import RegionIndex
from .regions import RegionHashes

VIEW_CACHE = 2048  # views whose local features are kept in memory (~100 KB each)

N_WINDOWS = len(CROP_WINDOWS)
#: slots of the "alt" index (reuse hashes of every photo): the inner photo, the rotations, the parts
ALT_INNER = 0
ALT_ROT = tuple(range(1, 1 + len(ROT_ANGLES)))
ALT_PART = tuple(range(1 + len(ROT_ANGLES), 1 + len(ROT_ANGLES) + len(PART_BOXES)))


def _ints(blob: bytes | None) -> tuple[int, ...]:
    if not blob:
        return ()
    return tuple(int.from_bytes(blob[i:i + 8], "big") for i in range(0, len(blob), 8))


def _bytes32(blob: bytes | None) -> tuple[bytes, ...]:
    if not blob:
        return ()
    return tuple(blob[i:i + 32] for i in range(0, len(blob), 32))


def add(ws: Workspace, hashes: PhotoHashes) -> None:
    """Store a photo's hashes in the workspace index (idempotent).

    Full :class:`DedupHashes` (with crop windows and signature) replace an earlier row of the same sha256;
    a plain :class:`PhotoHashes` (e.g. rebuilt with ``PhotoHashes.from_dict`` from a cached result) only
    fills a missing row and never overwrites a complete one.
    """
    stored.put_hashes(ws, hashes, STAGE_VERSION)
    if getattr(hashes, "regions", RegionHashes()).windows:
        store_regions.put_row(ws, region_codec.row_values(hashes.sha256, hashes.regions))


def get(ws: Workspace, sha256: str) -> DedupHashes | None:
    """A photo's stored hashes, or None when it was never indexed."""
    row = stored.hash_row(ws, sha256)
    if not row:
        return None
    h = _row_to_hashes(row)
    regions = region_codec.from_row(store_regions.get_row(ws, sha256))
    return replace(h, regions=regions) if regions is not None else h


def _row_to_hashes(r: tuple) -> DedupHashes:
    return DedupHashes(sha256=r[0], phash=int.from_bytes(r[1], "big"), dhash=int.from_bytes(r[2], "big"),
                       pdq=r[3], pdq_quality=r[4], phash_variants=_ints(r[5]), pdq_variants=_bytes32(r[6]),
                       crop_phashes=_ints(r[7]), thumb=r[8] or b"",
                       inner_box=tuple(float(v) for v in (r[9] or "").split()), inner_phashes=_ints(r[10]),
                       rot_phashes=_ints(r[11]), part_phashes=_ints(r[12]), view=r[13] or b"",
                       inner_view=r[14] or b"")


def alt_codes(h: PhotoHashes) -> list[tuple[int, int]]:
    """(slot, code) of a photo's reuse hashes in the "alt" index (empty without them)."""
    out = [(ALT_INNER, c) for c in getattr(h, "inner_phashes", ())[:1]]
    rot, part = getattr(h, "rot_phashes", ()), getattr(h, "part_phashes", ())
    if len(rot) == len(ALT_ROT):
        out.extend(zip(ALT_ROT, rot))
    if len(part) == len(ALT_PART):
        out.extend(zip(ALT_PART, part))
    return out


def count(ws: Workspace) -> int:
    """Photos in the workspace index."""
    return stored.count_hashes(ws)


def phash_search(phash: np.ndarray) -> MultiIndex:
    """The radius search over the whole-photo pHashes ``(n,)`` or ``(n, 1)`` uint64. It answers dozens of
    codes a photo (variants, crop windows, the 64 region windows of issue 22): fuller buckets with the codes
    copied in bucket order (32 B a photo more) answer them fastest (docs/dedup-bench.md, issue 22)."""
    codes = np.asarray(phash, np.uint64).reshape(-1, 1)
    return MultiIndex(codes, query_chunk_bits(len(codes)), copies=True)


@dataclass
class HashIndex:
    """Arrays over n indexed photos (row i is photo ``shas[i]``) with lazily built radius-search indexes.

    ``order``: arrival rank (smaller = seen first; the workspace's photos.seq when known). ``pdq_quality``
    is -1 where no PDQ is stored. ``crops``: (n * N_WINDOWS,) window pHashes, window k of photo i at row
    ``i * N_WINDOWS + k`` (0 where unknown, with ``has_crops`` False). ``variants``: (n, 8) pHashes of the
    dihedral variants (``has_variants`` False where not stored); ``pdq_variants`` and ``thumbs`` per sha256
    (only where stored).
    """

    shas: list[str]
    order: np.ndarray
    phash: np.ndarray  # (n,) uint64
    dhash: np.ndarray  # (n,) uint64
    pdq: np.ndarray  # (n, 4) uint64
    pdq_quality: np.ndarray  # (n,) int32
    crops: np.ndarray  # (n * N_WINDOWS,) uint64
    has_crops: np.ndarray  # (n,) bool
    thumbs: dict[str, bytes] = field(default_factory=dict)
    #: the "alt" index: reuse hashes of every photo (``alt_codes``), row k owned by photo ``alt_owner[k]``
    alt: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    alt_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    alt_slot: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    variants: np.ndarray | None = None  # (n, 8) uint64
    has_variants: np.ndarray | None = None  # (n,) bool
    pdq_variants: dict[str, bytes] = field(default_factory=dict)  # 8 x 32 bytes per photo
    reuse: dict[str, tuple] = field(default_factory=dict)  # sha256 -> its dedup_reuse row (inner box..views)
    regions: RegionIndex | None = None  # issue 22: region windows and pictures (same rows)
    _pos: dict[str, int] = field(default_factory=dict)
    _mih: dict[str, MultiIndex] = field(default_factory=dict)
    _extra: dict[str, DedupHashes] = field(default_factory=dict)
    _views: OrderedDict = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._pos = {s: i for i, s in enumerate(self.shas)}

    def __len__(self) -> int:
        return len(self.shas)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_mih"] = {}  # rebuilt where it is used: smaller to send than to rebuild
        state["_views"] = OrderedDict()  # a cache of decoded views, likewise
        return state

    def position(self, sha256: str) -> int | None:
        return self._pos.get(sha256)

    # ------------------------------------------------------------------------------------ building
    @classmethod
    def from_hashes(cls, hashes: list[PhotoHashes], order: list[int] | None = None) -> "HashIndex":
        """An index over in-memory hashes (``order`` defaults to list order)."""
        n = len(hashes)
        pdq = np.zeros((n, 4), np.uint64)
        q = np.full(n, -1, np.int32)
        crops = np.zeros(n * N_WINDOWS, np.uint64)
        has = np.zeros(n, bool)
        for i, h in enumerate(hashes):
            if h.pdq is not None:
                pdq[i] = np.frombuffer(h.pdq, ">u8")
                q[i] = h.pdq_quality if h.pdq_quality is not None else 0
            c = getattr(h, "crop_phashes", ())
            if len(c) == N_WINDOWS:
                crops[i * N_WINDOWS:(i + 1) * N_WINDOWS] = np.array(c, np.uint64)
                has[i] = True
        alt = [(i, slot, code) for i, h in enumerate(hashes) for slot, code in alt_codes(h)]
        idx = cls(shas=[h.sha256 for h in hashes],
                  order=np.asarray(order if order is not None else range(n), np.int64),
                  phash=np.array([h.phash for h in hashes], np.uint64).reshape(n),
                  dhash=np.array([h.dhash for h in hashes], np.uint64).reshape(n),
                  pdq=pdq, pdq_quality=q, crops=crops, has_crops=has,
                  thumbs={h.sha256: getattr(h, "thumb", b"") for h in hashes}, **_alt_arrays(alt))
        idx.regions = RegionIndex.build(idx.shas, [(h.sha256, h.regions.codes(), h.regions.pictures) for h in hashes
                                                   if isinstance(getattr(h, "regions", None), RegionHashes)])
        idx._extra = {h.sha256: h if isinstance(h, DedupHashes) else DedupHashes.from_dict(h.to_dict())
                      for h in hashes}
        return idx

    @classmethod
    def from_workspace(cls, ws: Workspace) -> "HashIndex":
        """Load every row of ``dedup_hashes``, signatures included; arrival order from photos.seq (rows
        without one come last, in insertion order)."""
        rows = stored.index_rows(ws)
        n = len(rows)
        shas = [r[0] for r in rows]
        phash = np.frombuffer(b"".join(r[1] for r in rows), ">u8").astype(np.uint64) if n else np.zeros(0, np.uint64)
        dhash = np.frombuffer(b"".join(r[2] for r in rows), ">u8").astype(np.uint64) if n else np.zeros(0, np.uint64)
        zero32, zero_crops = bytes(32), bytes(8 * N_WINDOWS)
        pdq = np.frombuffer(b"".join(r[3] or zero32 for r in rows), ">u8").astype(np.uint64).reshape(n, 4)
        q = np.array([r[4] if r[3] is not None and r[4] is not None else -1 for r in rows], np.int32)
        has = np.array([r[5] is not None and len(r[5]) == 8 * N_WINDOWS for r in rows], bool)
        crops = np.frombuffer(b"".join(r[5] if h else zero_crops for r, h in zip(rows, has)), ">u8").astype(np.uint64)
        big = 1 << 40
        order = np.array([r[6] if r[6] is not None else big + r[7] for r in rows], np.int64)
        pos = {s: i for i, s in enumerate(shas)}
        alt, reuse = [], {}
        for row in stored.reuse_rows(ws):
            sha = row[0]
            if sha in pos:
                reuse[sha] = tuple(row[1:])
                h = DedupHashes(sha, 0, 0, inner_phashes=_ints(row[2]), rot_phashes=_ints(row[3]),
                                part_phashes=_ints(row[4]))
                alt.extend((pos[sha], slot, code) for slot, code in alt_codes(h))
        has_var = np.array([r[8] is not None and len(r[8]) == 64 for r in rows], bool)
        zero_var = bytes(64)
        variants = np.frombuffer(b"".join(r[8] if h else zero_var for r, h in zip(rows, has_var)),
                                 ">u8").astype(np.uint64).reshape(n, 8)
        return cls(shas=shas, order=order, phash=phash, dhash=dhash, pdq=pdq, pdq_quality=q, crops=crops,
                   has_crops=has, thumbs={r[0]: r[10] for r in rows if r[10]}, variants=variants,
                   has_variants=has_var, pdq_variants={r[0]: r[9] for r in rows if r[9]}, reuse=reuse,
                   regions=RegionIndex.build(shas, region_codec.load_all(store_regions.all_rows(ws))), **_alt_arrays(alt))

    def mih(self, name: str) -> MultiIndex:
        """The radius-search index over ``phash``, ``pdq``, ``crops`` or ``alt`` (built on first use)."""
        if name not in self._mih:
            codes = {"phash": lambda: self.phash[:, None], "pdq": lambda: self.pdq,
                     "crops": lambda: self.crops[:, None], "alt": lambda: self.alt[:, None]}[name]()
            self._mih[name] = phash_search(codes) if name == "phash" else MultiIndex(codes)
        return self._mih[name]

    # ------------------------------------------------------------------------------------- access
    def thumb(self, sha256: str) -> np.ndarray | None:
        """The (THUMB_SIDE, THUMB_SIDE) grey signature of an indexed photo, or None."""
        t = self.thumbs.get(sha256)
        if not t or len(t) != THUMB_SIDE * THUMB_SIDE:
            return None
        return np.frombuffer(t, np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)

    def view_features(self, h: DedupHashes, inner: bool = False, variant: int = 0,
                      picture: int = -1) -> ViewFeatures | None:
        """Local features of a photo's grey view (its inner photo's with ``inner``; its picture number
        ``picture``, a collage panel, when >= 0; dihedral ``variant``), cached for the last ``VIEW_CACHE``
        views; None when the photo has no such view."""
        key = (h.sha256, inner, variant, picture)
        if key in self._views:
            self._views.move_to_end(key)
            return self._views[key]
        pics = h.regions.pictures
        data = (pics[picture].view if picture < len(pics) else b"") if picture >= 0 else \
            (h.inner_view if inner else h.view)
        grey = decode_view(data)
        vf = None if grey is None else view_features(np.ascontiguousarray(dihedral(grey, variant)))
        self._views[key] = vf
        if len(self._views) > VIEW_CACHE:
            self._views.popitem(last=False)
        return vf

    def hashes(self, sha256: str) -> DedupHashes | None:
        """All stored hashes of an indexed photo (variants included), or None."""
        if sha256 in self._extra:
            return self._extra[sha256]
        i = self.position(sha256)
        if i is None:
            return None
        has_pdq = self.pdq_quality[i] >= 0
        return DedupHashes(
            sha256=sha256, phash=int(self.phash[i]), dhash=int(self.dhash[i]),
            pdq=self.pdq[i].astype(">u8").tobytes() if has_pdq else None,
            pdq_quality=int(self.pdq_quality[i]) if has_pdq else None,
            phash_variants=tuple(int(v) for v in self.variants[i]) if self.has_variants is not None
            and self.has_variants[i] else (),
            pdq_variants=_bytes32(self.pdq_variants.get(sha256)),
            crop_phashes=tuple(int(v) for v in self.crops[i * N_WINDOWS:(i + 1) * N_WINDOWS])
            if self.has_crops[i] else (),
            thumb=self.thumbs.get(sha256) or b"", **_reuse_fields(self.reuse.get(sha256)),
            regions=self.regions.regions_of(i) if self.regions is not None else RegionHashes())


def _reuse_fields(row: tuple | None) -> dict:
    """The reuse hashes and views of a ``dedup_reuse`` row (inner_box .. inner_view), as :func:`get` reads them."""
    if row is None:
        return {"inner_box": (), "inner_phashes": (), "rot_phashes": (), "part_phashes": (), "view": b"",
                "inner_view": b""}
    return {"inner_box": tuple(float(v) for v in (row[0] or "").split()), "inner_phashes": _ints(row[1]),
            "rot_phashes": _ints(row[2]), "part_phashes": _ints(row[3]), "view": row[4] or b"",
            "inner_view": row[5] or b""}


def _alt_arrays(alt: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    return {"alt": np.array([a[2] for a in alt], np.uint64).reshape(-1),
            "alt_owner": np.array([a[0] for a in alt], np.int64).reshape(-1),
            "alt_slot": np.array([a[1] for a in alt], np.int16).reshape(-1)}


_cache: dict[str, tuple[tuple[int, ...], HashIndex]] = {}  # per database file: (stamp, index)


def load_index(ws: Workspace) -> HashIndex:
    """The in-memory index of a workspace, cached per database file and rebuilt when rows were added or
    replaced or photos arrived since (row counts and max rowid: one cheap query per call)."""
    key = str(ws.db_path.resolve())
    stamp = (id(ws), *stored.index_stamp(ws), *store_regions.stamp(ws))
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    idx = HashIndex.from_workspace(ws)
    _cache[key] = (stamp, idx)
    return idx
