"""Score one entry 0-100 with its components and flags.

Components, each in [0, 1]:

- ``removed``: share of the litter in the ground seen in both photos that is gone:
  ``(1 - a) * count_share + a * area_share`` with ``a = ScoreConfig.removed_area_weight``. Each before
  candidate is judged removed or remaining (pipeline.verify.change, verify-3) and weighs
  ``min(1, confidence / operating threshold)``: ``count_share = removed weight / before weight`` and
  ``area_share`` the same weighted by box area. 0 without a same-place pair or when the after photo is
  unchanged. (Results of verify-2 and older: ``removed_items / items_before`` and
  ``1 - area_after / area_before``.)
- ``amount``: how much litter there was before: ``min(1, items_before / amount_saturation)``.
- ``evidence``: mean of ``evidence_match`` (matching points / ``evidence_full_inliers``, 0 without a
  same-place pair), ``evidence_quality`` (share of usable photos neither blurred nor dark),
  ``evidence_metadata`` (share of the time and GPS checks that could be made and passed;
  ``evidence_no_exif`` when none could be made) and ``evidence_original`` (0 with a DUPLICATE_PHOTO flag,
  i.e. when another entry had a shared photo first or no order can be shown; the entry that had it first
  gets the info flag PHOTO_COPIED_BY_LATER instead and keeps 1).

Score = ``100 * removed * (w_removed + w_amount * amount + w_evidence * evidence) / (sum of weights)``:
nothing removed earns nothing, and the score grows with the litter removed whatever the rest
(monotonic). The score is None (status ``error``) without a usable before or after photo.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from ..digests import digest
from ..times import parse_time as _parse_time
from ..types import Flag, ScoreCard
from .explain import ScoreFacts
from .flag_codes import SEVERITY_ORDER, make_flag
from .inputs import PhotoInfo, ScoreInputs

EARTH_RADIUS_M = 6_371_008.8
STAGE_VERSION = "score-1"


def cache_key(config_hash: str, model_id: str) -> str:
    """Key of an entry's stored score card: this stage's version, the whole configuration and the model."""
    return digest(STAGE_VERSION, config_hash, model_id)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points in decimal degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class _Photo:
    rel_path: str
    role: str
    info: PhotoInfo
    taken_at: datetime | None
    gps: tuple[float, float] | None


def _photos(inputs: ScoreInputs) -> list[_Photo]:
    """Usable photos with their capture time and position (EXIF first, then the manifest's values)."""
    refs = {r.rel_path: r for r in inputs.submission.photos}
    out = []
    for rel, info in inputs.photos.items():
        if not info.usable:
            continue
        ref, meta = refs.get(rel), info.meta
        t = _parse_time(meta.taken_at if meta else None) or _parse_time(ref.taken_at if ref else None)
        gps = None
        if meta is not None and meta.gps_lat is not None and meta.gps_lon is not None:
            gps = (meta.gps_lat, meta.gps_lon)
        elif ref is not None and ref.lat is not None and ref.lon is not None:
            gps = (ref.lat, ref.lon)
        out.append(_Photo(rel, info.role, info, t, gps))
    return out


def _time_flags(photos: list[_Photo], inputs: ScoreInputs) -> tuple[list[Flag], int, int]:
    """EXIF_TIME_ORDER / EXIF_TIME_GAP / EXIF_MISSING, and (checks made, checks passed)."""
    cfg = inputs.config.score
    before = [p for p in photos if p.role == "before" and p.taken_at]
    after = [p for p in photos if p.role == "after" and p.taken_at]
    if not any(p.taken_at for p in photos):
        return [make_flag("EXIF_MISSING")], 0, 0
    if not before or not after:
        return [], 0, 0
    flags, made, passed = [], 2, 2
    first_b, last_b = min(before, key=lambda p: p.taken_at), max(before, key=lambda p: p.taken_at)
    first_a, last_a = min(after, key=lambda p: p.taken_at), max(after, key=lambda p: p.taken_at)
    early = (last_b.taken_at - first_a.taken_at).total_seconds()
    if early > cfg.exif_order_tolerance_s:
        passed -= 1
        flags.append(make_flag("EXIF_TIME_ORDER", (first_a.rel_path, last_b.rel_path), after=first_a.rel_path,
                               before=last_b.rel_path, seconds=early))
    gap_h = (last_a.taken_at - first_b.taken_at).total_seconds() / 3600
    if gap_h > cfg.exif_max_gap_hours:
        passed -= 1
        flags.append(make_flag("EXIF_TIME_GAP", (first_b.rel_path, last_a.rel_path), seconds=gap_h * 3600,
                               limit_h=cfg.exif_max_gap_hours))
    return flags, made, passed


def _gps_flags(photos: list[_Photo], inputs: ScoreInputs) -> tuple[list[Flag], int, int]:
    """GPS_MISMATCH between before and after photos and against the entry's location."""
    limit = inputs.config.score.gps_max_distance_m
    located = [p for p in photos if p.gps]
    flags, made, passed = [], 0, 0
    worst = None
    for b in (p for p in located if p.role == "before"):
        for a in (p for p in located if p.role == "after"):
            d = haversine_m(*b.gps, *a.gps)
            if worst is None or d > worst[0]:
                worst = (d, b, a)
    if worst is not None:
        made += 1
        d, b, a = worst
        if d > limit:
            flags.append(make_flag("GPS_MISMATCH", (b.rel_path, a.rel_path), before=b.rel_path, after=a.rel_path,
                                   metres=d, limit_m=limit))
        else:
            passed += 1
    loc = inputs.submission.location
    if loc.lat is not None and loc.lon is not None and located:
        made += 1
        far = [(haversine_m(*p.gps, loc.lat, loc.lon), p) for p in located]
        d, p = max(far, key=lambda x: x[0])
        if d > limit:
            flags.append(make_flag("GPS_MISMATCH", tuple(q.rel_path for dd, q in far if dd > limit),
                                   photo=p.rel_path, metres=d, limit_m=limit))
        else:
            passed += 1
    return flags, made, passed


def _quality_flags(photos: list[_Photo], inputs: ScoreInputs) -> tuple[list[Flag], float]:
    """LOW_QUALITY per blurred or dark photo, and the share of photos that are fine."""
    cfg = inputs.config.score
    flags, bad = [], 0
    for p in photos:
        q = p.info.quality
        if q is None:
            continue
        what = {}
        if q.sharpness < cfg.blur_min_variance:
            what.update(sharpness=q.sharpness, blur_limit=cfg.blur_min_variance)
        if q.brightness < cfg.dark_max_mean:
            what.update(brightness=q.brightness, dark_limit=cfg.dark_max_mean)
        if what:
            bad += 1
            flags.append(make_flag("LOW_QUALITY", (p.rel_path,), photo=p.rel_path, **what))
    return flags, (1.0 - bad / len(photos)) if photos else 0.0


def _add(flags: list[Flag], flag: Flag) -> None:
    if not any(f.code == flag.code and f.photos == flag.photos and f.words() == flag.words() for f in flags):
        flags.append(flag)


def score_entry(inputs: ScoreInputs) -> ScoreCard:
    """The :class:`ScoreCard` of one entry (never raises on odd input: missing data lowers the evidence
    or raises a flag)."""
    cfg = inputs.config
    sc = cfg.score
    flags: list[Flag] = []
    for rel, info in inputs.photos.items():
        if info.problem is not None:
            flags.append(make_flag("PHOTO_ERROR", (rel,), photo=rel, problem=info.problem.to_dict()))
        elif not info.processed:
            flags.append(make_flag("PHOTO_ERROR", (rel,), photo=rel, not_processed=True))
    for f in inputs.extra_flags:
        _add(flags, f)
    photos = _photos(inputs)
    n_before = sum(p.role == "before" for p in photos)
    n_after = sum(p.role == "after" for p in photos)
    facts = ScoreFacts(n_before=n_before, n_after=n_after)

    if n_before == 0 or n_after == 0:
        flags.append(make_flag("MISSING_PHOTOS", roles=[r for r, n in (("before", n_before), ("after", n_after))
                                                        if n == 0]))
        return _card(inputs, None, "error", {}, flags, facts)

    ver = inputs.verification
    pairs = ver.same_place_pairs if ver is not None else ()
    changes = [p.change for p in pairs if p.change is not None]
    unchanged_pairs = [p for p in pairs if p.unchanged]
    for p in unchanged_pairs:
        if not any(f.code == "UNCHANGED_AFTER" and p.after in f.photos for f in flags):
            flags.append(make_flag("UNCHANGED_AFTER", (p.before, p.after), before=p.before, after=p.after))
    if not pairs:
        seen = tuple(p.rel_path for p in photos)
        if ver is None:
            flags.append(make_flag("SCENE_MISMATCH", seen, checked=False))
        else:
            flags.append(make_flag("SCENE_MISMATCH", seen, best_inliers=max((p.match.inliers for p in ver.pairs),
                                                                            default=0),
                                   needed=cfg.verify.min_inliers))
    elif ver is not None:
        for rel in ver.unpaired_before + ver.unpaired_after:
            flags.append(make_flag("UNPAIRED_PHOTO", (rel,), photo=rel))

    before_items = sum(c.before_count for c in changes)
    removed = sum(c.removed for c in changes)
    remaining = sum(c.remaining for c in changes)
    new = sum(c.new for c in changes)
    area_b = sum(c.area_before for c in changes)
    area_a = sum(c.area_after for c in changes)
    dets_before = [p.info.detections.items() for p in photos
                   if p.role == "before" and p.info.detections is not None]
    visible_before = sum(len(d) for d in dets_before)

    if (changes and before_items == 0) or (not changes and dets_before and visible_before == 0):
        flags.append(make_flag("NO_LITTER_BEFORE", visible_before=visible_before))
    litter_after = remaining + new
    weight_b = sum(c.before_weight for c in changes)
    if weight_b > 0:  # verify-3: the weighted share of litter left (remaining candidates by weight) and new
        remains = (weight_b - sum(c.removed_weight for c in changes) + new) / weight_b
    else:
        remains = litter_after / max(1, before_items)
    if changes and litter_after > 0 and remains >= sc.litter_remains_min_fraction:
        flags.append(make_flag("LITTER_REMAINS", tuple(p.after for p in pairs), remaining=remaining, new=new))

    items_seen = max(before_items, visible_before)
    rep = inputs.submission.reported
    if dets_before:
        per = max(1, items_seen)
        if rep.kg is not None and rep.kg / per > sc.kg_per_item_max:
            flags.append(make_flag("CLAIM_IMPLAUSIBLE", kg=rep.kg, items=items_seen, limit=sc.kg_per_item_max))
        if rep.participants is not None and rep.participants / per > sc.participants_per_item_max:
            flags.append(make_flag("CLAIM_IMPLAUSIBLE", participants=rep.participants, items=items_seen,
                                   limit=sc.participants_per_item_max))

    time_flags, t_made, t_passed = _time_flags(photos, inputs)
    gps_flags, g_made, g_passed = _gps_flags(photos, inputs)
    quality_flags, ev_quality = _quality_flags(photos, inputs)
    flags += time_flags + gps_flags + quality_flags

    unchanged = any(f.code == "UNCHANGED_AFTER" for f in flags)
    if weight_b > 0:  # verify-3: weighted candidates, each judged removed or remaining (pipeline.verify.change)
        count_frac = sum(c.removed_weight for c in changes) / weight_b
        area_frac = (sum(c.removed_area_share * c.before_weight for c in changes) / weight_b)
    else:
        count_frac = removed / before_items if before_items else 0.0
        area_frac = (min(1.0, max(0.0, 1.0 - area_a / area_b)) if area_b > 0
                     else (count_frac if before_items else 0.0))
    removed_c = 0.0 if unchanged else (1 - sc.removed_area_weight) * count_frac + sc.removed_area_weight * area_frac
    best_inliers = max((p.match.inliers for p in pairs), default=0)
    made = t_made + g_made
    components = {
        "removed": removed_c,
        "amount": min(1.0, before_items / sc.amount_saturation) if sc.amount_saturation > 0 else 1.0,
        "evidence_match": min(1.0, best_inliers / sc.evidence_full_inliers) if pairs else 0.0,
        "evidence_quality": ev_quality,
        "evidence_metadata": (t_passed + g_passed) / made if made else sc.evidence_no_exif,
        "evidence_original": 0.0 if any(f.code == "DUPLICATE_PHOTO" for f in flags) else 1.0,
    }
    components["evidence"] = sum(components[k] for k in ("evidence_match", "evidence_quality",
                                                         "evidence_metadata", "evidence_original")) / 4
    w = sc.weights
    total = w.removed + w.amount + w.evidence
    score = 100.0 * removed_c * (w.removed + w.amount * components["amount"]
                                 + w.evidence * components["evidence"]) / total if total > 0 else 0.0
    components = {k: round(v, 4) for k, v in components.items()}
    facts = ScoreFacts(n_before=n_before, n_after=n_after, n_pairs=len(pairs), best_inliers=best_inliers,
                       before_items=before_items, removed=removed, remaining=remaining, new=new,
                       unchanged=unchanged, verified=ver is not None)
    status = "needs_review" if any(f.severity == "high" for f in flags) else "scored"
    return _card(inputs, round(score, 1), status, components, flags, facts)


def _card(inputs: ScoreInputs, score: float | None, status: str, components: dict[str, float],
          flags: list[Flag], facts: ScoreFacts) -> ScoreCard:
    flags = sorted(flags, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code))
    facts = ScoreFacts(**{**facts.__dict__, "score": score, "status": status})
    return ScoreCard(entry_id=inputs.submission.entry_id, score=score, status=status, components=components,
                     flags=tuple(flags), model_id=inputs.model_id, config_hash=inputs.config.hash, facts=asdict(facts),
                     inputs=dict(inputs.result_keys) or None)


NOTE_CODES = frozenset({"PHOTO_COPIED_BY_LATER"})


def with_copy_notes(card: ScoreCard, flags: list[Flag] | tuple[Flag, ...]) -> ScoreCard:
    """The card with its PHOTO_COPIED_BY_LATER flags replaced by those among ``flags``: for an entry of an
    earlier round whose photo a later entry copied (the runner does not score it again). These flags are
    info-level, so the score, components, status and explanation stay as they are."""
    notes = [f for f in flags if f.code in NOTE_CODES and f.severity == "info"]
    kept = [f for f in card.flags if f.code not in NOTE_CODES]
    merged = sorted(kept + notes, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code))
    return replace(card, flags=tuple(merged))
