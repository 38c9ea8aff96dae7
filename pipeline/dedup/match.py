"""Match photos against the hash index and group the copies.

For a query photo Q and every other indexed photo O, candidates come from exact radius searches
(:class:`pipeline.dedup.index.HashIndex`):

* pHash of each of Q's 8 dihedral variants against O's pHash (``phash_threshold``);
* with ``use_pdq``, PDQ of each variant against O's PDQ (``pdq_threshold``; both qualities >=
  ``pdq_min_quality``);
* crops: Q's pHash variants against O's crop-window pHashes (Q is a crop of O), and Q's crop windows
  against O's pHash (O is a crop of Q) (``crop_threshold``).

Each candidate is then checked on the grey signatures (:mod:`pipeline.dedup.pixel_check`) and classified:
``same_image`` (variant 0), ``mirrored_rotated`` (another variant), ``cropped`` (window match). Byte-identical
files share one sha256 and are ``exact``. Groups are the connected components (union-find) of the matches.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..config import DedupConfig
from ..types import DuplicateGroup, DuplicateMatch
from ..store import Workspace
from .hashing import CROP_WINDOWS, DedupHashes, decode_view
from .confirm import COPY, DIFFERENT, SAME_SPOT, Confirmation, ConfirmConfig, confirm
from .index import ALT_INNER, ALT_PART, ALT_ROT, N_WINDOWS, HashIndex, load_index
from .kinds import confirmed_kind, plain_kind
from .matched_part import photo_region
from .overlay import photo_like
from .pixel_check import crop_difference, dihedral, same_image_difference
from .candidate import Candidate
from .region_index import region_candidates

KIND_RANK = {"exact": 0, "same_image": 1, "mirrored_rotated": 2, "cropped": 3, "straightened": 4,
             "screenshot": 5, "captioned": 6, "filtered": 7, "overlaid": 8, "collage": 8, "screen_photo": 8,
             "same_spot": 9,
             "deep_crop": 3}  # deep_crop: a candidate's kind only (its copies are "cropped"; pipeline.dedup.kinds)
#: kinds that say "copy" (``same_spot`` is the same place at another moment, not a copy)
COPY_KINDS = ("exact", "same_image", "mirrored_rotated", "cropped", "straightened", "screenshot", "captioned",
              "filtered", "overlaid", "collage", "screen_photo")


@dataclass(frozen=True)
class VerifiedMatch:
    """A candidate that passed the pixel check, with its signature ``difference`` (inf when unchecked)."""

    other_sha256: str
    kind: str
    hash_name: str
    distance: int
    difference: float
    variant: int = 0
    #: issue 22: where the two photos match, as fractions (x0, y0, x1, y1) of each oriented full photo:
    #: ``region`` in the queried photo, ``other_region`` in ``other_sha256`` (:mod:`pipeline.dedup.matched_part`);
    #: None where the local features did not confirm a copy or the box cannot be mapped to the photo
    region: tuple[float, ...] | None = None
    other_region: tuple[float, ...] | None = None


def candidates(index: HashIndex, h: DedupHashes, cfg: DedupConfig) -> list[Candidate]:
    """Hash hits of ``h`` on the index (itself excluded), at most ``cfg.max_candidates`` photos, nearest
    first. Every code that searches one radius-search index (pHash: the variants, the crop windows, the
    inner photo, the rotations; crops; alt: pHash, inner photo, parts) goes in one vectorised query."""
    out: list[Candidate] = []
    variants = h.phash_variants if (cfg.match_variants and h.phash_variants) else (h.phash,)
    crops = h.crop_phashes if cfg.match_crops else ()
    reuse = cfg.match_reuse
    inner = h.inner_phashes[:1] if reuse else ()
    rots = h.rot_phashes if reuse else ()
    thr = cfg.reuse_threshold
    # pHash index: [variants | crop windows | inner photo | rotations]
    ph_codes = [*variants, *crops, *inner, *rots]
    ph_radii = [cfg.phash_threshold] * len(variants) + [cfg.crop_threshold] * len(crops) + \
        [thr] * (len(inner) + len(rots))
    ph_hits = _hits(index.mih("phash"), ph_codes, ph_radii)
    o_crops, o_inner = len(variants), len(variants) + len(crops)
    o_rots = o_inner + len(inner)
    for v in range(len(variants)):
        ids, d = ph_hits(v)
        out.extend(Candidate(int(i), "same_image" if v == 0 else "mirrored_rotated", "phash", int(di), v)
                   for i, di in zip(ids, d))
    if cfg.use_pdq and h.pdq is not None and (h.pdq_quality or 0) >= cfg.pdq_min_quality:
        pdqs = h.pdq_variants if (cfg.match_variants and h.pdq_variants) else (h.pdq,)
        pq = _hits(index.mih("pdq"), [np.frombuffer(c, ">u8").astype(np.uint64) for c in pdqs],
                   [cfg.pdq_threshold] * len(pdqs))
        for v in range(len(pdqs)):
            ids, d = pq(v)
            ok = index.pdq_quality[ids] >= cfg.pdq_min_quality
            out.extend(Candidate(int(i), "same_image" if v == 0 else "mirrored_rotated", "pdq", int(di), v)
                       for i, di in zip(ids[ok], d[ok]))
    if cfg.match_crops:
        cr = _hits(index.mih("crops"), list(variants), [cfg.crop_threshold] * len(variants))
        for v in range(len(variants)):
            ids, d = cr(v)
            owners, wins = ids // N_WINDOWS, ids % N_WINDOWS
            ok = index.has_crops[owners]
            out.extend(Candidate(int(o), "cropped", "phash_crop", int(di), v, int(w), False)
                       for o, w, di in zip(owners[ok], wins[ok], d[ok]))
        for w in range(len(crops)):
            ids, d = ph_hits(o_crops + w)
            out.extend(Candidate(int(i), "cropped", "phash_crop", int(di), 0, w, True) for i, di in zip(ids, d))
    if reuse:
        # alt index: [pHash | inner photo | parts]
        parts = h.part_phashes[:len(ALT_PART)]
        alt = _hits(index.mih("alt"), [h.phash, *inner, *parts], [thr] * (1 + len(inner) + len(parts)))

        def on_alt(row: int, slots: tuple[int, ...]) -> list[tuple[int, int]]:
            ids, d = alt(row)
            ok = np.isin(index.alt_slot[ids], slots)
            return [(int(index.alt_owner[i]), int(di)) for i, di in zip(ids[ok], d[ok])]

        out.extend(Candidate(o, "screenshot", "phash_inner", d, o_inner=True) for o, d in on_alt(0, (ALT_INNER,)))
        out.extend(Candidate(o, "straightened", "phash_rotated", d) for o, d in on_alt(0, ALT_ROT))
        if inner:
            ids, d = ph_hits(o_inner)
            out.extend(Candidate(int(i), "screenshot", "phash_inner", int(di), q_inner=True) for i, di in zip(ids, d))
            out.extend(Candidate(o, "screenshot", "phash_inner", d, q_inner=True, o_inner=True)
                       for o, d in on_alt(1, (ALT_INNER,)))
        for r in range(len(rots)):
            ids, d = ph_hits(o_rots + r)
            out.extend(Candidate(int(i), "straightened", "phash_rotated", int(di)) for i, di in zip(ids, d))
        for k, slot in enumerate(ALT_PART[:len(parts)]):
            out.extend(Candidate(o, "captioned", "phash_part", d) for o, d in on_alt(1 + len(inner) + k, (slot,)))
    if reuse and cfg.match_regions:
        out.extend(region_candidates(index, h, index.mih("phash"), cfg.region_threshold))
    me = index.position(h.sha256)
    out = [c for c in out if c.other != me]
    if not out:
        return out
    # ties between photos go by sha256, never by index position (which follows arrival): the photos kept
    # under the caps do not depend on the order in which photos entered the workspace
    out.sort(key=lambda c: (c.distance, KIND_RANK[c.kind], index.shas[c.other]))
    best = {}
    for c in out:
        best.setdefault(c.other, c)
    allowed = set(list(best)[:cfg.max_candidates])
    return [c for c in out if c.other in allowed]


def capped(cands: list[Candidate], cfg: DedupConfig) -> bool:
    """Whether a photo's candidates may have been cut by a cap (``max_candidates``, ``max_confirm``): then
    which other photos :func:`match_one` checks depends on the rest of the index, else each other photo's
    verdict depends on the pair alone."""
    others = len({c.other for c in cands})
    return others >= cfg.max_candidates or (cfg.match_reuse and others > cfg.max_confirm)


def _hits(mi, codes: list, radii: list[int]):
    """One :meth:`MultiIndex.query_many` of ``codes``; returns a function row -> (ids, distances) of that
    code's hits (ids ascending, as :meth:`MultiIndex.query` gives them)."""
    if not codes:
        return lambda row: (np.zeros(0, np.int64), np.zeros(0, np.int32))
    q, ids, d = mi.query_many(np.array(codes, np.uint64).reshape(len(codes), -1), np.array(radii, np.int64))
    bounds = np.searchsorted(q, np.arange(len(codes) + 1))
    return lambda row: (ids[bounds[row]:bounds[row + 1]], d[bounds[row]:bounds[row + 1]])


def verify_candidate(index: HashIndex, h: DedupHashes, c: Candidate, cfg: DedupConfig) -> float:
    """Signature difference of a candidate (lower is more alike); inf when it cannot be aligned, 0 when a
    signature is missing (then the hash hit alone decides)."""
    q = h.thumb_array()
    o = index.thumb(index.shas[c.other])
    if q is None or o is None:
        return 0.0
    if c.kind != "cropped":
        return same_image_difference(q, o, c.variant, cfg.difference_percentile)
    win = CROP_WINDOWS[c.window]
    hint = win.box(1.0, 1.0)
    if c.q_is_big:
        diff, _ = crop_difference(q, o, hint, final_percentile=cfg.crop_difference_percentile)
    else:
        diff, _ = crop_difference(o, np.ascontiguousarray(dihedral(q, c.variant)), hint,
                                  final_percentile=cfg.crop_difference_percentile)
    return diff


OLD_KINDS = ("same_image", "mirrored_rotated", "cropped")


def match_one(index: HashIndex, h: DedupHashes, cfg: DedupConfig,
              only: set[int] | None = None) -> list[VerifiedMatch]:
    """The verified matches of one photo against the index, one per other photo (the best kind); with
    ``only`` (index positions), just those of the photos ``only`` (exactly what the full call finds for
    them when the candidates are not :func:`capped`: then each other photo's verdict depends on the pair
    alone).

    With ``cfg.match_reuse`` every other photo with a hash hit (at most ``cfg.max_confirm``, nearest first)
    is confirmed on local features (:func:`pipeline.dedup.confirm.confirm`) first. Hash hits of the
    original kinds are checked on the grey signatures (``verify_candidate``), except for the photos the
    features found to be the same spot with something changed: those are ``same_spot`` whatever the
    signatures say, so their checks (mostly crop searches, the dearest part of matching) are skipped. A hit
    the signatures rejected (a caption, a rotation, a screenshot) becomes a copy of the kind
    :func:`copy_kind` names when the features confirm it; a signature match the features confirm keeps
    its kind; a signature match the features call the same spot on a poor fit (under half the matches
    inliers: a wrong alignment) stays a copy. Signature matches of photos beyond the ``max_confirm`` first
    are confirmed too (at most ``max_confirm`` more), so that no copy is reported that the features would
    call the same spot. When the features cannot align the pair, the signature verdict stands."""
    cands = candidates(index, h, cfg)
    if only is not None:
        cands = [c for c in cands if c.other in only]
    confirmed = confirm_others(index, h, cands, cfg) if cfg.match_reuse and h.view else {}
    found: dict[int, VerifiedMatch] = {}
    for c in cands:
        if c.kind not in OLD_KINDS:
            continue
        conf = confirmed.get(c.other)
        if conf is not None and conf[1].verdict == SAME_SPOT and _solid(conf[1]):
            continue  # the same spot, whatever the signatures say
        prev = found.get(c.other)
        if prev is not None and (prev.kind != "cropped" or c.kind == "cropped"):
            continue  # already matched as well or better
        limit = cfg.crop_max_difference if c.kind == "cropped" else cfg.max_difference
        diff = verify_candidate(index, h, c, cfg)
        if diff <= limit:
            found[c.other] = VerifiedMatch(index.shas[c.other], c.kind, c.hash_name, c.distance, diff, c.variant)
    if cfg.match_reuse and h.view:  # no copy without the features' look: the signature copies beyond the cap too
        beyond = {o for o in found if o not in confirmed}
        if beyond:
            confirmed.update(confirm_others(index, h, [c for c in cands if c.other in beyond], cfg))
    for o, (c, conf) in confirmed.items():
        sha = index.shas[o]
        if conf.verdict == COPY:
            kind = copy_kind(c, conf)
            if kind == "screenshot" and cfg.match_regions and _beside_another(index, h, c):
                kind = "collage"  # the "inner photo" is a panel of a collage with a separator
            # a signature match keeps its kind, unless the features saw a filter or a sticker it missed
            if o not in found or kind in ("filtered", "overlaid"):
                found[o] = VerifiedMatch(sha, kind, c.hash_name, c.distance, conf.changed, c.variant)
            found[o] = replace(found[o], **_regions(index, h, c, conf))
        elif conf.verdict == SAME_SPOT and (_solid(conf) or o not in found):
            found[o] = VerifiedMatch(sha, "same_spot", c.hash_name, c.distance, conf.changed, c.variant)
    return sorted(found.values(), key=lambda m: (KIND_RANK[m.kind], m.difference))


def _beside_another(index: HashIndex, h: DedupHashes, c: Candidate) -> bool:
    """Whether the photo whose inner photo the candidate compared has, beside that inner photo, another
    collage panel at least half its size that looks like a photo (a screenshot's bars and caption areas are
    flat: :func:`pipeline.dedup.overlay.photo_like`)."""
    holder = h if c.q_inner else index.hashes(index.shas[c.other])
    if holder is None or len(holder.inner_box) != 4:
        return False

    def area(b) -> float:
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    ib = holder.inner_box
    for p in holder.regions.pictures:
        overlap = area((max(p.box[0], ib[0]), max(p.box[1], ib[1]), min(p.box[2], ib[2]), min(p.box[3], ib[3])))
        if overlap < 0.5 * area(p.box) and area(p.box) >= 0.5 * area(ib) and photo_like(decode_view(p.view)):
            return True
    return False


#: a same-spot fit that overrides a signature copy: at least this share of the ratio-test matches are RANSAC
#: inliers (frames of one camera: 0.85 and more; a wrong fit on a repetitive texture: ~0.25)
SOLID_INLIER_RATIO = 0.5


def _solid(conf: Confirmation) -> bool:
    return conf.inliers >= SOLID_INLIER_RATIO * max(1, conf.matches)


def copy_kind(c: Candidate, conf: Confirmation) -> str:
    """The kind of a confirmed copy: what the features saw (text or a band forgiven: ``captioned``; a
    rotation of 0.7 degrees or more: ``straightened``; the inner photo of a screenshot: ``screenshot``),
    else the kind of the hash hit."""
    if c.q_inner or c.o_inner:
        return "screenshot"
    if c.kind == "screen_photo":  # the photo found on a photographed screen matched (issue 22)
        return "screen_photo"
    hard = confirmed_kind(c.q_pic >= 0 or c.o_pic >= 0, conf)  # a collage, a sticker, a filter (issue 22)
    if hard is not None:
        return hard
    if conf.forgiven > 0.002:
        return "captioned"
    if abs(conf.angle) >= 0.7 and c.kind in ("same_image", "cropped", "captioned", "straightened", "deep_crop",
                                             "overlaid"):
        return "straightened"
    return plain_kind(c.kind, conf)


def confirm_others(index: HashIndex, h: DedupHashes, cands: list[Candidate],
                   cfg: DedupConfig) -> dict[int, tuple[Candidate, Confirmation]]:
    """The best confirmation on local features (and the candidate it was made for) of each of the first
    ``cfg.max_confirm`` other photos of ``cands`` (nearest first) that have a view (see :func:`match_one`)."""
    ccfg = ConfirmConfig(copy_max_changed=cfg.copy_max_changed, same_spot_min_inliers=cfg.same_spot_min_inliers,
                         harder=cfg.match_regions)
    per_other: dict[int, list[Candidate]] = {}
    for c in cands:  # nearest first
        per_other.setdefault(c.other, []).append(c)
    out: dict[int, tuple[Candidate, Confirmation]] = {}
    for o in list(per_other)[:cfg.max_confirm]:
        other = index.hashes(index.shas[o])
        if other is None or not other.view:
            continue
        tried: set[tuple] = set()
        best: tuple[Candidate, Confirmation] | None = None
        for c in per_other[o]:
            key = (c.q_inner, c.o_inner, _view_variant(c), c.q_pic, c.o_pic, c.kind == "screen_photo")
            if key in tried or len(tried) >= 3:
                continue
            tried.add(key)
            qv = index.view_features(h, c.q_inner, key[2], c.q_pic)
            ov = index.view_features(other, c.o_inner, 0, c.o_pic)
            if qv is None or ov is None:
                continue
            conf = _confirm_pair(ov, qv, ccfg, c)
            if best is None or _better(conf, best[1]):
                best = (c, conf)
            if conf.verdict == COPY:
                break
        if best is not None:
            out[o] = best
    return out


def _confirm_pair(ov, qv, ccfg: ConfirmConfig, c: Candidate) -> Confirmation:
    """``confirm(other's view, query's view)``; a photo of a screen is always compared in the frame of the
    photo it shows (the screen's view second, whichever end holds it, so that both ends see the same
    facts), the boxes turned back to (in the other's view, in the query's)."""
    if c.kind != "screen_photo" or c.o_pic < 0:
        return confirm(ov, qv, ccfg, perspective=c.kind == "screen_photo")
    conf = confirm(qv, ov, ccfg, perspective=True)
    return replace(conf, box_in_a=conf.box_in_b, box_in_b=conf.box_in_a)


def _view_variant(c: Candidate) -> int:
    """The dihedral variant of the query's view that :func:`confirm_others` compares for ``c``."""
    return c.variant if c.kind == "mirrored_rotated" else 0


def _regions(index: HashIndex, h: DedupHashes, c: Candidate, conf: Confirmation) -> dict[str, tuple | None]:
    """``region`` / ``other_region`` of a copy the features confirmed (``confirm(other's view, query's
    view)``: ``box_in_a`` lies in the other photo's view, ``box_in_b`` in the query's), mapped from the
    views compared to the full photos (:func:`pipeline.dedup.matched_part.photo_region`)."""
    other = index.hashes(index.shas[c.other])
    return {"region": photo_region(conf.box_in_b, h, c.q_inner, _view_variant(c), c.q_pic),
            "other_region": photo_region(conf.box_in_a, other, c.o_inner, 0, c.o_pic)}


def _better(a: Confirmation, b: Confirmation) -> bool:
    rank = {COPY: 0, SAME_SPOT: 1, DIFFERENT: 2}
    return (rank[a.verdict], a.changed) < (rank[b.verdict], b.changed)


def match_index(index: HashIndex, sha256s: list[str], cfg: DedupConfig,
                same_bytes: dict[str, int] | None = None) -> tuple[list[DuplicateMatch], dict[tuple[str, str], float]]:
    """Matches of the photos ``sha256s`` (all in ``index``) against every indexed photo, one
    :class:`DuplicateMatch` per unordered pair; ``photo_sha256`` is a queried photo (the later arrival when
    both are). ``same_bytes``: sha256 -> number of uses, an ``exact`` match (photo == other) for each > 1.
    Also returns the signature difference per (photo, other)."""
    found = []
    for sha in dict.fromkeys(sha256s):
        h = index.hashes(sha) if index.position(sha) is not None else None
        if h is not None:
            found.extend((sha, m) for m in match_one(index, h, cfg))
    return reduce_matches(index, found, same_bytes)


def reduce_matches(index: HashIndex, found: list[tuple[str, VerifiedMatch]],
                   same_bytes: dict[str, int] | None = None,
                   ) -> tuple[list[DuplicateMatch], dict[tuple[str, str], float]]:
    """Verified matches ``(queried photo, match)``, possibly found from both ends of a pair, as one
    :class:`DuplicateMatch` per unordered pair: the best kind; between the two ends of one kind, the
    facts (distance, hash, signature difference) of the end with the lower (difference, distance), then the
    smaller sha256 of its queried photo, oriented so that ``photo_sha256`` is the later arrival
    (``first_seen == "other"``). So the result depends neither on the order of ``found`` (only the order of
    the list does) nor, given the same rows, on the order in which the photos arrived. Plus the ``exact``
    self-matches of ``same_bytes`` and the signature difference per (photo, other) in both orders."""
    pairs: dict[frozenset, DuplicateMatch] = {}
    diffs: dict[tuple[str, str], float] = {}
    for sha, uses in (same_bytes or {}).items():
        if uses > 1:
            pairs[frozenset((sha,))] = DuplicateMatch(sha, sha, "exact", 0, "sha256", "other")
            diffs[(sha, sha)] = 0.0
    ends: dict[frozenset, list[tuple[str, VerifiedMatch]]] = {}  # in order of first appearance in ``found``
    for sha, m in found:
        if index.position(sha) is not None and index.position(m.other_sha256) is not None:
            ends.setdefault(frozenset((sha, m.other_sha256)), []).append((sha, m))

    def seen_after(photo: str, other: str) -> bool:  # ``photo`` arrived after ``other``
        return bool(index.order[index.position(other)] < index.order[index.position(photo)])

    for key, rows in ends.items():
        sha, m = min(rows, key=lambda r: (KIND_RANK[r[1].kind], float(r[1].difference), r[1].distance, r[0]))
        later = [s for s, x in rows if x.kind == m.kind and seen_after(s, x.other_sha256)]
        photo, other = (later[0], next(iter(key - {later[0]}))) if later else (sha, m.other_sha256)
        # the regions as the chosen end stored them (``region`` in ``sha``), turned to ``photo``'s side
        region, other_region = (m.region, m.other_region) if photo == sha else (m.other_region, m.region)
        pairs[key] = DuplicateMatch(photo, other, m.kind, m.distance, m.hash_name,
                                    "other" if seen_after(photo, other) else "this", region, other_region)
        diffs[(sha, m.other_sha256)] = diffs[(m.other_sha256, sha)] = m.difference
    return list(pairs.values()), diffs


def match_photos(ws: Workspace, sha256s: list[str], cfg: DedupConfig) -> list[DuplicateMatch]:
    """Matches of the photos ``sha256s`` (already added with :func:`pipeline.dedup.index.add`) against every
    photo of the workspace, including each other, one per unordered pair; byte-identical uses of one photo
    by several entry photos give an ``exact`` match of the photo with itself."""
    index = load_index(ws)
    uses = {s: len(ws.entries_with_photo(s)) for s in dict.fromkeys(sha256s)}
    return match_index(index, sha256s, cfg, uses)[0]


def group_matches(matches: list[DuplicateMatch]) -> list[DuplicateGroup]:
    """Union-find over the matched copies (``same_spot`` pairs left out): one group per connected component, members in first-appearance
    order, groups numbered from 1 in the order of their first match."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    matches = [m for m in matches if m.kind in COPY_KINDS]  # the same spot moments apart is no copy
    for m in matches:
        a, b = find(m.photo_sha256), find(m.other_sha256)
        if a != b:
            parent[b] = a
    groups: dict[str, list[str]] = {}
    for m in matches:
        for s in (m.other_sha256, m.photo_sha256):
            members = groups.setdefault(find(s), [])
            if s not in members:
                members.append(s)
    out = []
    for gid, (root, members) in enumerate(groups.items(), start=1):
        ms = tuple(m for m in matches if find(m.photo_sha256) == root)
        out.append(DuplicateGroup(gid, tuple(members), ms))
    return out
