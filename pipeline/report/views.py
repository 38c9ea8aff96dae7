"""What the report and the review app show, gathered from a workspace into plain values.

Both the static report and the review app render these values with the same templates. Everything read
from the workspace that came from an entrant (ids, names, paths) is kept as text and escaped by the
templates (Jinja2 autoescape); nothing here builds HTML.

Box geometry: detections are xyxy in full-size pixels; boxes are drawn as percentages of the photo
(``left``/``top``/``width``/``height`` in [0, 100]), so they fit the thumbnail whatever its size. The aligned
overlay uses the verify stage's homography (before -> after, full-size pixels) rescaled to thumbnail
pixels and written as a CSS ``matrix3d``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..config import Config
from ..types import (Correction, Detections, DuplicateMatch, Flag, LitterChange, Problem, Review, SceneMatch,
                     ScoreCard, Submission, clean_region)
from ..digests import short_hash
from ..score.explain import card_words
from ..store import Workspace, matches, queries
from ..store import reviews as review_rows
from .. import ranking

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
_HEX64 = frozenset("0123456789abcdef")


def entry_key(entry_id: str) -> str:
    """A file-name-safe key for an entry id (entry ids are user-supplied): sha256[:16] in hex."""
    return short_hash(entry_id)


def is_sha256(s: str) -> bool:
    return len(s) == 64 and set(s) <= _HEX64


def effective_score(card: ScoreCard | None, review: Review | None) -> float | None:
    """The score the ranking uses: the judge's override when there is one, None when disqualified."""
    return effective_score_of(card.score if card is not None else None, review)


def effective_score_of(pipeline_score: float | None, review: Review | None) -> float | None:
    return ranking.final_score(pipeline_score, review)


# ------------------------------------------------------------------------------------------------ ranking
@dataclass(frozen=True)
class RankingRow:
    entry_id: str
    key: str
    seq: int  # arrival order, from 1
    participant: str | None
    team: str | None
    pipeline_score: float | None
    score: float | None  # effective score
    status: str  # scored | needs_review | error | unscored (pipeline) ; see review for the decision
    flags: tuple[Flag, ...]
    review: Review | None
    rank: int | None = 0  # place among the entries that may win (None for the others; 0: not ranked yet)
    provisional_rank: int = 0  # place in the whole order
    tier: str = ""  # pipeline.ranking.TIERS

    @property
    def flag_codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.flags)

    @property
    def flag_groups(self) -> tuple["FlagGroup", ...]:
        return flag_groups(self.flags)

    @property
    def shown_status(self) -> str:
        """The pipeline's status until a judge decides, then the decision's (accepted, overridden,
        disqualified): what the entry's status now is."""
        if self.review is not None:
            return ranking.final_status(self.status, self.review)
        return self.status

    @property
    def final_status(self) -> str:
        return ranking.final_status(self.status, self.review)


def pipeline_rows(ws: Workspace) -> list[RankingRow]:
    """Every entry in arrival order with the pipeline's score, status and flags (no decisions, rank 0), from
    the workspace's typed ranking facts (each stored entry and score card decoded once)."""
    return [RankingRow(entry_id=f.entry_id, key=entry_key(f.entry_id), seq=f.seq, participant=f.participant,
                       team=f.team, pipeline_score=f.score, score=f.score,
                       status=f.status if f.scored and f.status else "unscored",
                       flags=tuple(sorted(f.flags, key=lambda x: (SEVERITY_ORDER.get(x.severity, 9), x.code))),
                       review=None)
            for f in ws.ranking_facts()]


def ranking_rows(ws: Workspace, base: list[RankingRow] | None = None) -> list[RankingRow]:
    """Every entry, ranked by the score judges' decisions leave (see :func:`apply_reviews`). ``base``: the
    rows of :func:`pipeline_rows`, when the caller has them already."""
    return apply_reviews(pipeline_rows(ws) if base is None else base, review_rows.latest_reviews(ws))


def apply_reviews(base: list[RankingRow], reviews: dict[str, Review]) -> list[RankingRow]:
    """Rows with each entry's latest decision and final score, in the order of :mod:`pipeline.ranking`
    (entries that may win by final score, then those waiting for review, then errors, then disqualified),
    ranked from 1."""
    rows = [(r, reviews.get(r.entry_id)) for r in base]
    out = ranking.places(rows, key=lambda x: (x[0].status, x[0].pipeline_score, x[1], x[0].seq))
    return [RankingRow(r.entry_id, r.key, r.seq, r.participant, r.team, r.pipeline_score,
                       ranking.final_score(r.pipeline_score, rev), r.status, r.flags, rev, p.rank,
                       p.provisional_rank, p.tier)
            for p in out for r, rev in (p.item,)]


@dataclass(frozen=True)
class RankingSummary:
    """What the top of a ranking says: how many entries, how many wait for a judge (the results are
    provisional while any does), and the review progress over the entries that need a judge only (flagged,
    or not scored: a judge may decide the others too, but they are not counted)."""

    entries: int
    waiting: int
    need_review: int
    decided: int

    @property
    def provisional(self) -> bool:
        return self.waiting > 0


def ranking_summary(rows: list[RankingRow]) -> RankingSummary:
    need = [r for r in rows if r.status != "scored"]
    return RankingSummary(len(rows), sum(1 for r in rows if ranking.waiting(r.final_status)), len(need),
                          sum(1 for r in need if r.review is not None))


def tier_groups(rows: list[RankingRow]) -> list[tuple[str, list[RankingRow]]]:
    """Consecutive rows of one tier, in order: [(tier, rows)] (rows in ranking order are grouped by tier)."""
    out: list[tuple[str, list[RankingRow]]] = []
    for r in rows:
        if out and out[-1][0] == r.tier:
            out[-1][1].append(r)
        else:
            out.append((r.tier, [r]))
    return out


# -------------------------------------------------------------------------------------------------- entry
@dataclass(frozen=True)
class BoxView:
    """One box over a photo: ``left``/``top``/``width``/``height`` in percent of the photo; ``xyxy`` in
    full-size pixels. ``kind``: ``det`` (a detection), ``not_litter`` (a detection a judge rejected),
    ``missed`` (litter a judge boxed)."""

    index: int | None
    kind: str
    left: float
    top: float
    width: float
    height: float
    xyxy: tuple[float, float, float, float]
    confidence: float | None = None
    label: str = ""


@dataclass(frozen=True)
class PhotoView:
    rel_path: str
    role: str
    sha256: str | None
    error: Problem | None
    has_thumb: bool
    thumb_size: tuple[int, int] | None  # (width, height) in thumbnail pixels
    full_size: tuple[int, int] | None  # (width, height) of the oriented full-size photo
    model_id: str = ""
    boxes: tuple[BoxView, ...] = ()
    taken_at: str | None = None
    camera: str | None = None

    @property
    def aspect_pct(self) -> float:
        """Height as a percentage of width (for a box that keeps the photo's shape)."""
        w, h = self.thumb_size or self.full_size or (4, 3)
        return 100.0 * h / max(w, 1)


@dataclass(frozen=True)
class PairView:
    before: PhotoView
    after: PhotoView
    scene: SceneMatch | None
    change: LitterChange | None
    matrix3d: str | None  # CSS transform mapping the before thumbnail onto the after thumbnail


@dataclass(frozen=True)
class RegionView:
    """The matched part of a photo (issue 22: :class:`pipeline.types.DuplicateMatch` ``region``), as
    ``left``/``top``/``width``/``height`` in percent of the photo, drawn over its thumbnail."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, region: Any) -> "RegionView | None":
        """From fractions (x0, y0, x1, y1) of the photo; None when there is no valid region."""
        box = clean_region(region)
        if box is None:
            return None
        x0, y0, x1, y1 = (100.0 * v for v in box)
        return cls(round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))


@dataclass(frozen=True)
class DuplicateView:
    """A photo of this entry that also appears (exactly or nearly) in another entry; ``region`` and
    ``other_region``: where the two photos match, when the dedup stage knew it."""

    rel_path: str
    sha256: str | None
    other_entry_id: str
    other_key: str
    other_rel_path: str
    other_role: str
    other_sha256: str
    other_has_thumb: bool
    kind: str  # exact | same_image | mirrored_rotated | cropped | ...
    distance: int | None = None
    first_seen: str | None = None
    region: RegionView | None = None
    other_region: RegionView | None = None


@dataclass(frozen=True)
class EntryView:
    entry_id: str
    key: str
    submission: Submission
    card: ScoreCard | None
    photos: tuple[PhotoView, ...]
    pairs: tuple[PairView, ...]
    duplicates: tuple[DuplicateView, ...]
    reviews: tuple[Review, ...] = ()
    corrections: tuple[Correction, ...] = ()
    min_confidence: float = 0.25
    parts: tuple["ScorePart", ...] = ()  # the score's parts, explained (score_parts)

    @property
    def review(self) -> Review | None:
        return self.reviews[-1] if self.reviews else None

    @property
    def version(self) -> int:
        return self.reviews[-1].version if self.reviews else 0

    @property
    def score(self) -> float | None:
        return effective_score(self.card, self.review)

    @property
    def explanation(self) -> tuple[str, str]:
        """The card's explanation (English, Vietnamese), rendered from its facts; empty without a card."""
        return card_words(self.card) if self.card is not None else ("", "")

    @property
    def shown_status(self) -> str:
        """As :attr:`RankingRow.shown_status`: the decision's status once a judge decided."""
        status = self.card.status if self.card is not None else "unscored"
        return ranking.final_status(status, self.review) if self.review is not None else status

    @property
    def flags(self) -> tuple[Flag, ...]:
        if self.card is None:
            return ()
        return tuple(sorted(self.card.flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code)))

    @property
    def flag_groups(self) -> tuple["FlagGroup", ...]:
        return flag_groups(self.flags)

    @property
    def photo_errors(self) -> tuple[PhotoView, ...]:
        return tuple(p for p in self.photos if p.error is not None)

    def role_photos(self, role: str) -> tuple[PhotoView, ...]:
        return tuple(p for p in self.photos if p.role == role)


@dataclass(frozen=True)
class FlagGroup:
    """The flags of one code on one entry: one badge with a count, every message listed."""

    code: str
    severity: str  # the most severe of the group
    flags: tuple[Flag, ...]

    @property
    def count(self) -> int:
        return len(self.flags)

    @property
    def message(self) -> str:
        return self.flags[0].message

    @property
    def message_vi(self) -> str:
        return self.flags[0].message_vi


def flag_groups(flags: tuple[Flag, ...] | list[Flag]) -> tuple[FlagGroup, ...]:
    """``flags`` grouped by code, most severe first (then by code), each group in the flags' order."""
    by_code: dict[str, list[Flag]] = {}
    for f in flags:
        by_code.setdefault(f.code, []).append(f)
    groups = [FlagGroup(code, min((f.severity for f in fs), key=lambda s: SEVERITY_ORDER.get(s, 9)), tuple(fs))
              for code, fs in by_code.items()]
    return tuple(sorted(groups, key=lambda g: (SEVERITY_ORDER.get(g.severity, 9), g.code)))


@dataclass(frozen=True)
class ScorePart:
    """One part of a score as a judge reads it: ``key`` (a component), its ``value`` (0-1), its share of the
    score (``weight``, 0-1, of the part's maximum; evidence checks: a quarter of evidence's) and the
    ``points`` it brings (None when the card's score is not this formula's, e.g. an older version)."""

    key: str
    value: float
    weight: float
    points: float | None
    sub: bool = False  # one of the four evidence checks


EVIDENCE_PARTS = ("evidence_match", "evidence_quality", "evidence_metadata", "evidence_original")


def score_parts(ws: Workspace, card: ScoreCard) -> tuple[ScorePart, ...]:
    """The parts of ``card``'s score with their weights (the configuration the card was scored with) and
    points, which add up to the score: ``100 * removed * (w_removed + w_amount * amount + w_evidence *
    evidence) / (sum of weights)`` (pipeline.score.card), so each part's points are the removed share times
    its weight times its value. Components outside the formula are listed without points."""
    c = card.components or {}
    w = Config().score.weights
    text = queries.run_config_json(ws, card.config_hash)
    if text is not None:
        try:
            w = Config.from_dict(json.loads(text)).score.weights
        except (ValueError, TypeError, KeyError):
            pass
    total = w.removed + w.amount + w.evidence
    if not all(isinstance(c.get(k), (int, float)) for k in ("removed", "amount", "evidence")) or total <= 0:
        return tuple(ScorePart(k, float(v), 0.0, None) for k, v in sorted(c.items()) if isinstance(v, (int, float)))
    removed = float(c["removed"])
    base = 100.0 * removed / total
    parts = [ScorePart("removed", removed, w.removed / total, base * w.removed),
             ScorePart("amount", float(c["amount"]), w.amount / total, base * w.amount * float(c["amount"])),
             ScorePart("evidence", float(c["evidence"]), w.evidence / total, base * w.evidence * float(c["evidence"]))]
    parts += [ScorePart(k, float(c[k]), w.evidence / total / 4, base * w.evidence * float(c[k]) / 4, sub=True)
              for k in EVIDENCE_PARTS if isinstance(c.get(k), (int, float))]
    adds_up = card.score is not None and abs(sum(p.points for p in parts[:3] if p.points is not None)
                                             - card.score) <= 0.2
    if not adds_up:
        parts = [ScorePart(p.key, p.value, p.weight, None, p.sub) for p in parts]
    known = {p.key for p in parts}
    parts += [ScorePart(k, float(v), 0.0, None) for k, v in sorted(c.items())
              if k not in known and isinstance(v, (int, float))]
    return tuple(parts)


def operating_confidence(ws: Workspace) -> float:
    """The detection threshold of the latest run's configuration (the default when there is none)."""
    text = queries.run_config_json(ws)
    if text is not None:
        try:
            return Config.from_dict(json.loads(text)).detect.confidence
        except (ValueError, TypeError, KeyError):
            pass
    return Config().detect.confidence


def entry_view(ws: Workspace, entry_id: str, min_confidence: float | None = None,
               with_reviews: bool = True) -> EntryView | None:
    """Everything the entry page shows, or None when there is no such entry."""
    sub = ws.submission(entry_id)
    if sub is None:
        return None
    conf = operating_confidence(ws) if min_confidence is None else min_confidence
    card = ws.scorecard(entry_id)
    corrections: list[Correction] = []
    photos: list[PhotoView] = []
    for p in ws.entry_photos(entry_id):
        view, corr = _photo_view(ws, p.rel_path, p.role, p.sha256, p.error, conf, card)
        photos.append(view)
        corrections.extend(corr)
    return EntryView(entry_id=entry_id, key=entry_key(entry_id), submission=sub, card=card, photos=tuple(photos),
                     pairs=tuple(_pairs(ws, entry_id, photos)), duplicates=tuple(_duplicates(ws, entry_id, photos)),
                     reviews=tuple(review_rows.entry_reviews(ws, entry_id)) if with_reviews else (),
                     corrections=tuple(corrections), min_confidence=conf,
                     parts=score_parts(ws, card) if card is not None else ())


def _scored_detections(ws: Workspace, sha: str, card: ScoreCard | None) -> Any:
    """The detections the entry's score card was made from (its recorded key and model), so the boxes shown
    are the ones scored; the latest stored ones for a card of an older version, which recorded no keys."""
    key = (card.inputs or {}).get("detect") if card is not None else None
    if key:
        return ws.get_result(sha, "detect", *key, model_id=card.model_id)
    return ws.latest_result(sha, "detect")


def thumb_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a thumbnail from its header, or None when it is missing or unreadable."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except (OSError, ValueError):
        return None


def _photo_view(ws: Workspace, rel_path: str, role: str, sha: str | None, error: Problem | None,
                conf: float, card: ScoreCard | None = None) -> tuple[PhotoView, list[Correction]]:
    if not sha:
        return PhotoView(rel_path, role, None, error, False, None, None), []
    tsize = thumb_size(ws.thumb_path(sha))
    meta = ws.photo_meta(sha)
    full = (meta.width, meta.height) if meta and meta.width and meta.height else None
    det = _detections(_scored_detections(ws, sha, card))
    boxes: list[BoxView] = []
    corrections: list[Correction] = []
    model_id = ""
    if det is not None:
        model_id = det.model_id
        full = full or (int(det.image_size[0]), int(det.image_size[1]))
        corrections = review_rows.photo_corrections(ws, sha, model_id)
        rejected = {c.det_index for c in corrections if c.kind == "not_litter"}
        for i in range(len(det)):
            c = float(det.confidence[i])
            if c < conf:
                continue
            cid = int(det.class_id[i])
            label = det.class_names[cid] if 0 <= cid < len(det.class_names) else str(cid)
            boxes.append(_box(i, "not_litter" if i in rejected else "det", det.xyxy[i], full, c, label))
        for c in corrections:
            if c.kind == "missed":
                boxes.append(_box(None, "missed", c.box, full, None, "missed"))
    taken = meta.taken_at if meta else None
    camera = " ".join(x for x in ((meta.camera_make, meta.camera_model) if meta else ()) if x) or None
    return PhotoView(rel_path, role, sha, error, tsize is not None, tsize, full, model_id, tuple(boxes),
                     taken, camera), corrections


def _box(index: int | None, kind: str, xyxy: Any, full: tuple[int, int] | None, conf: float | None,
         label: str) -> BoxView:
    w, h = full if full else (1, 1)
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    pct = lambda v, d: round(min(max(100.0 * v / max(d, 1), 0.0), 100.0), 3)  # noqa: E731
    return BoxView(index=index, kind=kind, left=pct(x1, w), top=pct(y1, h), width=round(pct(x2, w) - pct(x1, w), 3),
                   height=round(pct(y2, h) - pct(y1, h), 3), xyxy=(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)),
                   confidence=conf, label=label)


def _detections(d: Any) -> Detections | None:
    if not isinstance(d, dict):
        return None
    try:
        return Detections.from_dict(d).items()  # the litter items; weaker candidates are not shown
    except (KeyError, TypeError, ValueError):
        return None


def _walk(obj: Any) -> Iterator[dict[str, Any]]:
    """Every dict nested anywhere in a JSON value (results of other stages are read defensively)."""
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def _pairs(ws: Workspace, entry_id: str, photos: list[PhotoView]) -> list[PairView]:
    """Before/after pairs: those the verify stage matched, else each before with each after photo."""
    by_sha = {p.sha256: p for p in photos if p.sha256}
    scenes: dict[tuple[str, str], SceneMatch] = {}
    changes: dict[tuple[str, str], LitterChange] = {}
    for d in _walk(ws.get_entry_result(entry_id, "verify")):
        if "before_sha256" not in d or "after_sha256" not in d:
            continue
        k = (d["before_sha256"], d["after_sha256"])
        try:
            if "inliers" in d and k not in scenes:
                scenes[k] = SceneMatch.from_dict({f: d[f] for f in SceneMatch.__dataclass_fields__ if f in d})
            elif "removed" in d and k not in changes:
                changes[k] = LitterChange.from_dict({f: d[f] for f in LitterChange.__dataclass_fields__ if f in d})
        except (TypeError, ValueError, KeyError):
            continue
    keys = [k for k in scenes if k[0] in by_sha and k[1] in by_sha]
    if not keys:
        befores = [p for p in photos if p.role == "before" and p.sha256]
        afters = [p for p in photos if p.role == "after" and p.sha256]
        keys = [(b.sha256, a.sha256) for b in befores for a in afters][:6]  # type: ignore[misc]
    out = []
    for k in keys:
        b, a = by_sha[k[0]], by_sha[k[1]]
        scene = scenes.get(k)
        out.append(PairView(b, a, scene, changes.get(k), _matrix3d(scene, b, a)))
    return out


def _matrix3d(scene: SceneMatch | None, before: PhotoView, after: PhotoView) -> str | None:
    """CSS ``matrix3d`` mapping before-thumbnail pixels to after-thumbnail pixels (origin top-left); None
    unless the verify stage judged the pair the same place (an overlay of unrelated scenes misleads)."""
    if (scene is None or not scene.same_place or scene.homography is None or len(scene.homography) != 9
            or not before.thumb_size
            or not after.thumb_size or not before.full_size or not after.full_size):
        return None
    hm = np.asarray(scene.homography, dtype=np.float64).reshape(3, 3)
    sb = np.diag([before.thumb_size[0] / before.full_size[0], before.thumb_size[1] / before.full_size[1], 1.0])
    sa = np.diag([after.thumb_size[0] / after.full_size[0], after.thumb_size[1] / after.full_size[1], 1.0])
    try:
        m = sa @ hm @ np.linalg.inv(sb)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(m)) or abs(m[2, 2]) < 1e-12:
        return None
    m = m / m[2, 2]
    a, b, c, d, e, f, g, h, i = m.reshape(-1)
    # CSS matrix3d is column-major 4x4; the 2-D homography occupies rows/columns 0, 1 and 3.
    vals = (a, d, 0, g, b, e, 0, h, 0, 0, 1, 0, c, f, 0, i)
    return "matrix3d(" + ",".join(f"{float(v):.8g}" for v in vals) + ")"


def _duplicates(ws: Workspace, entry_id: str, photos: list[PhotoView]) -> list[DuplicateView]:
    """Other entries using the same photo bytes, plus near-duplicates the dedup stage recorded."""
    out: list[DuplicateView] = []
    seen: set[tuple[str, str, str]] = set()

    def add(p: PhotoView, other_sha: str, kind: str, distance: int | None, first_seen: str | None,
            region: Any = None, other_region: Any = None) -> None:
        for other_entry, other_rel, other_role in ws.entries_with_photo(other_sha):
            if other_entry == entry_id:
                continue
            k = (p.rel_path, other_entry, other_rel)
            if k in seen:
                continue
            seen.add(k)
            out.append(DuplicateView(p.rel_path, p.sha256, other_entry, entry_key(other_entry), other_rel,
                                     other_role, other_sha, ws.thumb_path(other_sha).is_file(), kind, distance,
                                     first_seen, RegionView.of(region), RegionView.of(other_region)))

    for p in photos:
        if p.sha256:
            add(p, p.sha256, "exact", 0, None)
    by_sha = {p.sha256: p for p in photos if p.sha256}
    matches = stored_dedup_matches(ws, entry_id)
    for other in _entries_matched_with(ws, list(by_sha), entry_id):  # the other side's record of a match
        matches += [m for m in stored_dedup_matches(ws, other) if m.photo_sha256 in by_sha or m.other_sha256 in by_sha]
    for m in matches:
        if m.other_sha256 == m.photo_sha256:
            continue
        if m.photo_sha256 in by_sha:
            add(by_sha[m.photo_sha256], m.other_sha256, m.kind, m.distance, m.first_seen, m.region, m.other_region)
        if m.other_sha256 in by_sha:  # the match seen from the other photo's side
            add(by_sha[m.other_sha256], m.photo_sha256, m.kind, m.distance,
                {"this": "other", "other": "this"}.get(m.first_seen, m.first_seen), m.other_region, m.region)
    return out


def stored_dedup_matches(ws: Workspace, entry_id: str) -> list[DuplicateMatch]:
    """The matches of the entry's stored dedup result (entry result ``dedup``: pipeline.dedup.flags
    ``DedupResult``), decoded once; none when there is no result or it cannot be read."""
    d = ws.get_entry_result(entry_id, "dedup")
    out: list[DuplicateMatch] = []
    for m in (d.get("matches") or []) if isinstance(d, dict) else []:
        try:
            match = DuplicateMatch.from_dict({f: m[f] for f in DuplicateMatch.__dataclass_fields__ if f in m})
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if isinstance(match.photo_sha256, str) and isinstance(match.other_sha256, str):
            out.append(match)
    return out


def _entries_matched_with(ws: Workspace, sha256s: list[str], entry_id: str) -> list[str]:
    """The other entries holding a photo that the dedup stage matched with one of ``sha256s``, from either
    end (its ``dedup_matches`` table, pipeline.store.matches, under any [dedup] configuration), in arrival
    order; none when the workspace has never been matched."""
    found = matches.matched_with(ws, sha256s)
    entries = {e for sha in found for e, _, _ in ws.entries_with_photo(sha) if e != entry_id}
    return [e for e in ws.entry_ids() if e in entries] if entries else []
