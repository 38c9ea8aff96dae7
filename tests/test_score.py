"""Score, flags and explanations from synthetic detections and verification results (no detector)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import Config, ScoreConfig
from pipeline.score import FLAGS, PhotoInfo, ScoreInputs, flag_table_markdown, haversine_m, score_entry
from pipeline.score.explain import card_words
from pipeline.types import (Flag, LitterChange, Location, PhotoMeta, PhotoRef, Problem, Reported, SceneMatch,
                            ScoreCard, Submission)
from pipeline.verify import EntryVerification, PhotoQuality, VerifiedPair
from verify_fixtures import dets

B, A = "e1/before/b.jpg", "e1/after/a.jpg"
SIZE = (1000, 800)
GOOD_Q = PhotoQuality(500.0, 120.0)


def _boxes(n: int) -> list[list[float]]:
    return [[20 + 60 * i, 100, 60 + 60 * i, 140] for i in range(n)]


def make_inputs(n_before=4, removed=3, new=0, inliers=212, same_place=True, unchanged=False,
                before_meta=None, after_meta=None, location=Location(), reported=Reported(),
                quality_after=GOOD_Q, problems=None, extra_flags=(), verification="auto",
                extra_photos=None, config=None) -> ScoreInputs:
    """One entry, one before and one after photo, with the given litter change."""
    remaining = n_before - removed
    refs = (PhotoRef("e1", "before", Path("/b/" + B), B), PhotoRef("e1", "after", Path("/b/" + A), A))
    match = SceneMatch("sb", "sa", same_place, inliers, inliers + 40, inliers / (inliers + 40), 0.9,
                       (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0) if same_place else None)
    area_b = 0.002 * n_before
    change = LitterChange("sb", "sa", n_before, removed, remaining, new, area_b, 0.002 * (remaining + new)) \
        if same_place else None
    ver = EntryVerification((VerifiedPair(B, A, match, change, unchanged),), () if same_place else (B,),
                            () if same_place else (A,)) if verification == "auto" else verification
    photos = {
        B: PhotoInfo("before", before_meta or PhotoMeta("sb", 1000, width=1000, height=800),
                     None, dets(_boxes(n_before), SIZE), GOOD_Q),
        A: PhotoInfo("after", after_meta or PhotoMeta("sa", 1000, width=1000, height=800),
                     None, dets(_boxes(remaining + new), SIZE), quality_after),
    }
    for rel, prob in (problems or {}).items():
        photos[rel] = PhotoInfo(photos[rel].role if rel in photos else "after", None, prob, None, None)
    photos.update(extra_photos or {})
    sub = Submission("e1", refs, location=location, reported=reported)
    return ScoreInputs(sub, photos, ver, "yolo-test@abc", config or Config(), list(extra_flags))


def codes(card: ScoreCard) -> set[str]:
    return {f.code for f in card.flags}


def test_clean_entry_scores_without_flags_and_records_config_and_model():
    card = score_entry(make_inputs(removed=4, before_meta=PhotoMeta("sb", 1, taken_at="2024-06-02T07:00:00"),
                                   after_meta=PhotoMeta("sa", 1, taken_at="2024-06-02T09:00:00")))
    assert card.status == "scored" and 0 < card.score <= 100
    assert codes(card) == set()
    assert card.config_hash == Config().hash and card.model_id == "yolo-test@abc"
    assert set(card.components) >= {"removed", "amount", "evidence"}
    assert all(0.0 <= v <= 1.0 for v in card.components.values())
    assert ScoreCard.from_dict(card.to_dict()) == card


def test_explanations_in_both_languages():
    card = score_entry(make_inputs())
    en, vi = card_words(card)
    assert "3 of 4 litter items removed" in en
    assert "212 matching points" in en
    assert "Đã dọn 3 trên 4 vật rác" in vi
    assert "ảnh sau khớp với ảnh trước (212 điểm trùng khớp)" in vi
    bad_en, bad_vi = card_words(score_entry(make_inputs(same_place=False)))
    assert bad_en and bad_vi and bad_en != bad_vi
    assert "Giám khảo cần kiểm tra" in bad_vi
    assert card.explanation == "" and card_words(ScoreCard.from_dict(card.to_dict())) == (en, vi)  # rendered at the edge


@pytest.mark.parametrize("seed", range(20))
def test_score_is_monotonic_in_litter_removed(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    kw = dict(n_before=n, new=int(rng.integers(0, 3)), inliers=int(rng.integers(30, 400)),
              quality_after=PhotoQuality(float(rng.uniform(10, 400)), float(rng.uniform(10, 200))))
    scores = [score_entry(make_inputs(removed=k, **kw)).score for k in range(n + 1)]
    assert all(b >= a for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] > scores[0] == 0.0


def test_more_litter_before_scores_higher_when_all_removed():
    small = score_entry(make_inputs(n_before=1, removed=1)).score
    large = score_entry(make_inputs(n_before=10, removed=10)).score
    assert large > small


def test_missing_photos_is_an_error_without_score():
    card = score_entry(make_inputs(problems={A: Problem.worded("PHOTO_TRUNCATED", "file is truncated", A)}))
    assert card.score is None and card.status == "error"
    assert {"MISSING_PHOTOS", "PHOTO_ERROR"} <= codes(card)
    en, vi = card_words(card)
    assert en.startswith("Not scored") and vi.startswith("Không chấm điểm")


def test_photo_error_names_the_photo_and_the_entry_is_scored_from_the_rest():
    extra = {"e1/after/x.jpg": PhotoInfo("after", None, Problem.worded("PHOTO_UNREADABLE", "not an image", "e1/after/x.jpg"))}
    card = score_entry(make_inputs(extra_photos=extra))
    err = [f for f in card.flags if f.code == "PHOTO_ERROR"]
    assert len(err) == 1 and err[0].severity == "medium" and "x.jpg" in err[0].message and "not an image" in err[0].message
    assert card.score is not None and card.score > 0


def test_duplicate_photo_passed_in_sends_to_review():
    dup = Flag.worded("DUPLICATE_PHOTO", "high", "copy of entry e9", "bản sao", (B,))
    card = score_entry(make_inputs(extra_flags=[dup]))
    assert "DUPLICATE_PHOTO" in codes(card) and card.status == "needs_review"
    assert card.components["evidence_original"] == 0.0


def test_unchanged_after_zeroes_removed_from_dedup_or_from_verification():
    flag = Flag.worded("UNCHANGED_AFTER", "high", "same photo", "cùng ảnh", (B, A))
    for inputs in (make_inputs(extra_flags=[flag]), make_inputs(unchanged=True)):
        card = score_entry(inputs)
        assert "UNCHANGED_AFTER" in codes(card) and card.status == "needs_review"
        assert card.components["removed"] == 0.0 and card.score == 0.0
    both = score_entry(make_inputs(unchanged=True, extra_flags=[flag]))
    assert [f.code for f in both.flags].count("UNCHANGED_AFTER") == 1


def test_scene_mismatch():
    card = score_entry(make_inputs(same_place=False, inliers=7))
    assert "SCENE_MISMATCH" in codes(card) and card.status == "needs_review"
    assert card.components["removed"] == 0.0
    assert "7 matching points" in next(f.message for f in card.flags if f.code == "SCENE_MISMATCH")
    assert "UNPAIRED_PHOTO" not in codes(card)
    assert "SCENE_MISMATCH" in codes(score_entry(make_inputs(verification=None)))


def test_no_litter_before_and_litter_remains():
    none = score_entry(make_inputs(n_before=0, removed=0))
    assert "NO_LITTER_BEFORE" in codes(none) and none.score == 0.0 and none.status == "scored"
    some = score_entry(make_inputs(n_before=5, removed=2))
    assert "LITTER_REMAINS" in codes(some)
    assert "LITTER_REMAINS" not in codes(score_entry(make_inputs(n_before=10, removed=9)))
    assert "LITTER_REMAINS" in codes(score_entry(make_inputs(n_before=2, removed=2, new=1)))


def _meta(sha, t=None, lat=None, lon=None):
    return PhotoMeta(sha, 1, width=1000, height=800, taken_at=t, gps_lat=lat, gps_lon=lon)


def test_exif_time_order_and_gap_and_missing():
    order = score_entry(make_inputs(before_meta=_meta("sb", "2024-06-02T09:00:00"),
                                    after_meta=_meta("sa", "2024-06-02T08:00:00")))
    assert "EXIF_TIME_ORDER" in codes(order) and order.status == "needs_review"
    within = score_entry(make_inputs(before_meta=_meta("sb", "2024-06-02T09:00:30"),
                                     after_meta=_meta("sa", "2024-06-02T09:00:00")))  # 30 s: clock skew
    assert "EXIF_TIME_ORDER" not in codes(within)
    gap = score_entry(make_inputs(before_meta=_meta("sb", "2024-06-02T09:00:00"),
                                  after_meta=_meta("sa", "2024-06-12T09:00:00")))
    assert "EXIF_TIME_GAP" in codes(gap) and "EXIF_TIME_ORDER" not in codes(gap)
    assert "EXIF_MISSING" in codes(score_entry(make_inputs()))
    assert gap.components["evidence_metadata"] < within.components["evidence_metadata"]


def test_gps_between_photos_and_against_entry_location():
    near = (10.0300, 105.7700)  # Can Tho
    far = (10.0400, 105.7700)  # ~1.1 km north
    ok = score_entry(make_inputs(before_meta=_meta("sb", lat=near[0], lon=near[1]),
                                 after_meta=_meta("sa", lat=near[0] + 0.0005, lon=near[1])))  # ~55 m
    assert "GPS_MISMATCH" not in codes(ok)
    apart = score_entry(make_inputs(before_meta=_meta("sb", lat=near[0], lon=near[1]),
                                    after_meta=_meta("sa", lat=far[0], lon=far[1])))
    flag = next(f for f in apart.flags if f.code == "GPS_MISMATCH")
    assert re.search(r"1,1\d\d m", flag.message) and flag.photos == (B, A)
    loc = score_entry(make_inputs(before_meta=_meta("sb", lat=near[0], lon=near[1]),
                                  after_meta=_meta("sa", lat=near[0], lon=near[1]),
                                  location=Location(lat=far[0], lon=far[1])))
    assert "GPS_MISMATCH" in codes(loc) and "entry's location" in loc.flags[0].message + "".join(
        f.message for f in loc.flags)


def test_haversine():
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(10.03, 105.77, 10.03, 105.77) == 0.0


def test_low_quality_blurred_and_dark():
    blurred = score_entry(make_inputs(quality_after=PhotoQuality(12.0, 120.0)))
    dark = score_entry(make_inputs(quality_after=PhotoQuality(500.0, 15.0)))
    for card, word in ((blurred, "blurred"), (dark, "dark")):
        f = next(f for f in card.flags if f.code == "LOW_QUALITY")
        assert word in f.message and f.photos == (A,) and f.severity == "low"
        assert card.components["evidence_quality"] == 0.5


def test_claim_implausible_kg_and_participants():
    kg = score_entry(make_inputs(n_before=2, removed=2, reported=Reported(kg=500.0)))
    assert "CLAIM_IMPLAUSIBLE" in codes(kg)
    people = score_entry(make_inputs(n_before=2, removed=2, reported=Reported(participants=300)))
    assert "CLAIM_IMPLAUSIBLE" in codes(people)
    fine = score_entry(make_inputs(n_before=10, removed=10, reported=Reported(kg=30.0, participants=12)))
    assert "CLAIM_IMPLAUSIBLE" not in codes(fine)


def test_unpaired_photo_is_info():
    ver = EntryVerification(make_inputs().verification.pairs, (), ("e1/after/c.jpg",))
    card = score_entry(make_inputs(verification=ver))
    f = next(f for f in card.flags if f.code == "UNPAIRED_PHOTO")
    assert f.severity == "info" and card.status == "scored"


def test_weights_come_from_the_config():
    heavy = Config(score=ScoreConfig(weights=dataclasses.replace(ScoreConfig().weights, evidence=0.0, amount=0.0)))
    card = score_entry(make_inputs(n_before=4, removed=4, config=heavy))
    assert card.score == pytest.approx(100.0) and card.config_hash == heavy.hash != Config().hash


def test_every_raised_code_is_in_the_one_table_and_the_readme_table_lists_them():
    table = flag_table_markdown()
    for code, spec in FLAGS.items():
        assert f"`{code}` | {spec.severity} |" in table
        assert spec.description_vi and spec.severity in ("high", "medium", "low", "info")
    required = {"DUPLICATE_PHOTO", "UNCHANGED_AFTER", "SCENE_MISMATCH", "NO_LITTER_BEFORE", "LITTER_REMAINS",
                "MISSING_PHOTOS", "EXIF_TIME_ORDER", "EXIF_TIME_GAP", "GPS_MISMATCH", "LOW_QUALITY",
                "CLAIM_IMPLAUSIBLE", "PHOTO_ERROR"}
    assert required <= set(FLAGS)
    card = score_entry(make_inputs(n_before=2, removed=1, reported=Reported(kg=900.0),
                                   before_meta=_meta("sb", "2024-06-02T09:00:00", 10.0, 105.0),
                                   after_meta=_meta("sa", "2024-06-01T09:00:00", 10.1, 105.0),
                                   quality_after=PhotoQuality(5.0, 10.0)))
    for f in card.flags:
        assert f.severity == FLAGS[f.code].severity and f.message_vi


def test_unprocessed_photo_is_not_used_and_is_flagged():
    extra = {"e1/after/y.jpg": PhotoInfo("after")}  # nothing known: the run stopped before it
    card = score_entry(make_inputs(extra_photos=extra))
    assert any(f.code == "PHOTO_ERROR" and f.photos == ("e1/after/y.jpg",) for f in card.flags)
    assert card.score is not None
