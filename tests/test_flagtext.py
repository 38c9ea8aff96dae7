"""Flags carry facts (code, parameters); their words are rendered where they are shown (pipeline.flagtext)."""
from __future__ import annotations

import json

import pytest

from pipeline import flagtext
from pipeline.score.explain import card_words
from pipeline.score.flag_codes import FLAGS, make_flag
from pipeline.types import Flag, ScoreCard

EXACT_COPY = {"photo": "b.jpg", "role": "before", "other_entry": "e9", "other_photo": "o.jpg", "other_role": "before",
              "kind": "exact", "hash_name": "sha256", "distance": 0}

# (code, params, English, Vietnamese): the words the export has always shown for these facts
CASES = [
    ("EXIF_TIME_GAP", {"seconds": 80 * 3600, "limit_h": 72.0},
     "Before and after photos were taken 3.3 days apart (limit 72 h).",
     "Ảnh trước và ảnh sau được chụp cách nhau 3,3 ngày (giới hạn 72 giờ)."),
    ("EXIF_TIME_ORDER", {"after": "a.jpg", "before": "b.jpg", "seconds": 3900},
     "After photo a.jpg was taken 65 min before before photo b.jpg.",
     "Ảnh sau a.jpg được chụp trước ảnh trước b.jpg 65 phút."),
    ("GPS_MISMATCH", {"photo": "a.jpg", "metres": 11120.4, "limit_m": 200.0},
     "GPS of a.jpg is 11,120 m from the entry's location (limit 200 m).",
     "GPS của a.jpg cách địa điểm đăng ký 11.120 m (giới hạn 200 m)."),
    ("CLAIM_IMPLAUSIBLE", {"kg": 120.0, "items": 2, "limit": 25.0},
     "Reported 120 kg for 2 visible litter item(s) (60 kg per item, limit 25).",
     "Báo cáo 120 kg cho 2 vật rác nhìn thấy (60 kg mỗi vật, giới hạn 25)."),
    ("CLAIM_IMPLAUSIBLE", {"participants": 90, "items": 1, "limit": 20.0},
     "Reported 90 participants for 1 visible litter item(s) (limit 20 per item).",
     "Báo cáo 90 người tham gia cho 1 vật rác nhìn thấy (giới hạn 20 người mỗi vật)."),
    ("LOW_QUALITY", {"photo": "p.jpg", "sharpness": 12.4, "blur_limit": 60.0, "brightness": 20.0, "dark_limit": 40.0},
     "Photo p.jpg is blurred (sharpness 12 < 60) and dark (brightness 20 < 40).",
     "Ảnh p.jpg bị mờ (độ nét 12 < 60) và quá tối (độ sáng 20 < 40)."),
    ("MISSING_PHOTOS", {"roles": ["before", "after"]}, "No usable before and after photo.",
     "Không có ảnh trước và sau dùng được."),
    ("UNPAIRED_PHOTO", {"photo": "x.jpg"}, "Photo x.jpg matches no photo of the other role.",
     "Ảnh x.jpg không khớp với ảnh nào ở vai trò còn lại."),
    ("DUPLICATE_PHOTO", {"photo": "b.jpg", "role": "before", "other_entry": "e9", "other_photo": "o.jpg",
                         "other_role": "after", "kind": "cropped", "hash_name": "phash_crop", "distance": 4,
                         "other_first": True},
     "The before photo b.jpg is a cropped copy of the after photo o.jpg of entry e9; entry e9 had it first. "
     "Details: phash_crop distance 4 bits.",
     "Ảnh trước b.jpg là bản sao bị cắt xén của ảnh sau o.jpg của bài e9; bài e9 gửi trước. Chi tiết: khoảng "
     "cách phash_crop 4 bit."),
    ("SAME_SPOT_PHOTO", {"entry": "e2", "photo": "a.jpg", "role": "after", "other_entry": "e1",
                         "other_photo": "b.jpg", "other_role": "before"},
     "The after photo a.jpg of entry e2 and the before photo b.jpg of entry e1 show the same spot moments apart "
     "(not a copy: something in the picture changed); worth a look.",
     "Ảnh sau a.jpg của bài e2 và ảnh trước b.jpg của bài e1 chụp cùng một chỗ, cách nhau ít lâu (không phải "
     "bản sao: có chi tiết thay đổi); nên xem lại."),
    ("DUPLICATE_PHOTO", {**EXACT_COPY, "other_first": True, "basis": "taken_at"},
     "The before photo b.jpg is an exact copy of the before photo o.jpg of entry e9; entry e9 had it first (an "
     "earlier capture time). Details: same sha256.",
     "Ảnh trước b.jpg là bản sao y hệt của ảnh trước o.jpg của bài e9; bài e9 gửi trước (thời gian chụp sớm "
     "hơn). Chi tiết: cùng mã sha256."),
    ("DUPLICATE_PHOTO", {**EXACT_COPY, "other_first": None, "basis": None},
     "The before photo b.jpg is an exact copy of the before photo o.jpg of entry e9; no order can be shown (same "
     "round, no usable capture or submission times), so both need review. Details: same sha256.",
     "Ảnh trước b.jpg là bản sao y hệt của ảnh trước o.jpg của bài e9; không xác định được bài nào có trước "
     "(cùng vòng, không có thời gian chụp hay gửi dùng được). Chi tiết: cùng mã sha256."),
    ("PHOTO_COPIED_BY_LATER", {"photo": "o.jpg", "role": "before", "later_entry": "e10", "later_photo": "b.jpg",
                               "later_role": "after", "kind": "mirrored_rotated", "hash_name": "phash",
                               "distance": 3, "basis": "round"},
     "Entry e10 later used its after photo b.jpg, a mirrored or rotated copy of this entry's before photo o.jpg; "
     "this entry had it first (an earlier round) and keeps its evidence. Details: phash distance 3 bits.",
     "Bài e10 về sau dùng ảnh sau b.jpg, là bản sao bị lật hoặc xoay của ảnh trước o.jpg của bài này; bài này "
     "có ảnh trước (vòng trước) nên vẫn giữ nguyên giá trị bằng chứng. Chi tiết: khoảng cách phash 3 bit."),
    ("DUPLICATE_PHOTO", {**EXACT_COPY, "kind": "screenshot", "hash_name": "phash_inner", "distance": 6,
                         "other_first": True},
     "The before photo b.jpg is a screenshot of the before photo o.jpg of entry e9; entry e9 had it first. "
     "Details: phash_inner distance 6 bits.",
     "Ảnh trước b.jpg là ảnh chụp màn hình của ảnh trước o.jpg của bài e9; bài e9 gửi trước. Chi tiết: khoảng "
     "cách phash_inner 6 bit."),
    ("PHOTO_ERROR", {"photo": "a.jpg", "reason": "a.jpg ends before its image data does.", "error_code": "PHOTO_TRUNCATED"},
     "Photo a.jpg was not used: a.jpg ends before its image data does.",
     "Ảnh a.jpg không được sử dụng: tệp kết thúc trước khi hết dữ liệu ảnh (tải lên hoặc sao chép chưa xong)."),
]


@pytest.mark.parametrize("code,params,en,vi", CASES)
def test_words_from_facts(code, params, en, vi):
    flag = make_flag(code, **params)
    assert flag.severity == FLAGS[code].severity
    assert (flag.message, flag.message_vi) == (en, vi)


def test_every_code_of_the_table_has_words():
    assert set(FLAGS) <= set(flagtext.TEXT)


def test_stored_flags_hold_facts_not_words_and_words_follow_the_text_table(monkeypatch):
    card = ScoreCard("e1", 40.0, "needs_review", {"removed": 0.4},
                     (make_flag("LITTER_REMAINS", ("x.jpg",), remaining=2, new=1),), "m@1", "h",
                     facts={"n_before": 1, "n_after": 1, "score": 40.0, "status": "needs_review"})
    stored = json.dumps(card.to_dict(), ensure_ascii=False)
    assert "still visible" not in stored and "explanation" not in stored
    # a change of wording (or a new language) reaches stored cards without re-scoring
    monkeypatch.setitem(flagtext.TEXT, "LITTER_REMAINS", lambda p: (f"{p['remaining'] + p['new']} items left", "x"))
    again = ScoreCard.from_dict(json.loads(stored))
    assert again.flags[0].message == "3 items left"
    en, _ = card_words(again)
    assert "Also: 3 items left" in en and en.startswith("Score 40/100.")


def test_words_stored_by_an_older_version_are_kept():
    old = {"code": "GPS_MISMATCH", "severity": "medium", "message": "far away", "message_vi": "xa", "photos": ["a"]}
    flag = Flag.from_dict(old)
    assert (flag.message, flag.message_vi, flag.params) == ("far away", "xa", {})
    assert flag.shown() == {**old, "photos": ["a"]}


def test_unknown_code_renders_its_facts_instead_of_failing():
    assert Flag("FROM_THE_FUTURE", "low", {"n": 2}).message == "FROM_THE_FUTURE (n=2)"


def test_every_vietnamese_photo_error_is_vietnamese():
    """A Vietnamese message never carries the English problem message (PHOTO_ERROR names its reason from the
    code; NOT_PROCESSED has words)."""
    from pipeline.load import ERROR_CODES

    assert set(ERROR_CODES) <= set(flagtext.PHOTO_ERROR_VI)
    for code, meaning in ERROR_CODES.items():
        vi = make_flag("PHOTO_ERROR", ("a.jpg",), photo="a.jpg", reason=meaning, error_code=code).message_vi
        assert vi.startswith("Ảnh a.jpg không được sử dụng: ") and meaning not in vi
        assert not any(w in vi.split() for w in ("the", "file", "is", "not", "was"))
    old = make_flag("PHOTO_ERROR", ("a.jpg",), photo="a.jpg", reason="English words only").message_vi  # no code
    assert "English" not in old
    assert make_flag("NOT_PROCESSED").message_vi


@pytest.mark.parametrize("kind, en", [("exact", "an exact copy"), ("same_image", "a resized or re-compressed copy"),
                                      ("screenshot", "a screenshot"), ("straightened", "a straightened copy")])
def test_copies_are_named_as_judges_say_them(kind, en):
    f = make_flag("DUPLICATE_PHOTO", ("b.jpg",), **{**EXACT_COPY, "kind": kind, "hash_name": "phash", "distance": 2,
                                                    "other_first": True})
    assert f"b.jpg is {en} of the before photo o.jpg" in f.message
    assert "distance" not in f.message.split("Details:")[0]  # hash distances only in the details


@pytest.mark.parametrize("kind, en, vi", [
    ("cropped", "a cropped copy of", "bản sao bị cắt xén của"),
    ("collage", "part of a collage of", "một phần của ảnh ghép của"),
    ("filtered", "a filtered copy of", "bản sao đã qua bộ lọc màu của"),
    ("overlaid", "a copy with a sticker or text over it of", "bản sao bị dán hình hoặc chữ đè lên của"),
    ("screen_photo", "a photo of a screen showing", "ảnh chụp lại màn hình đang hiển thị")])
def test_issue_22_copies_are_named_in_both_languages_by_every_copy_flag(kind, en, vi):
    """The five kinds issue 22 names, in the duplicate, the copied-by-later and the unchanged-after flags;
    the matched region is a fact for the pictures, not words."""
    region = {"region": [0.0, 0.0, 1.0, 1.0], "other_region": [0.1, 0.2, 0.7, 0.9]}
    dup = make_flag("DUPLICATE_PHOTO", ("b.jpg",), **{**EXACT_COPY, "kind": kind, "hash_name": "phash",
                                                      "distance": 2, "other_first": True, **region})
    assert f"b.jpg is {en} the before photo o.jpg of entry e9;" in dup.message
    assert f"b.jpg là {vi} ảnh trước o.jpg của bài e9;" in dup.message_vi
    assert "0.7" not in dup.message and "0.7" not in dup.message_vi
    later = make_flag("PHOTO_COPIED_BY_LATER", ("o.jpg",), photo="o.jpg", role="before", later_entry="e2",
                      later_photo="b.jpg", later_role="before", kind=kind, hash_name="phash", distance=2, **region)
    assert f"b.jpg, {en} this entry's before photo o.jpg;" in later.message
    assert f"b.jpg, là {vi} ảnh trước o.jpg của bài này;" in later.message_vi
    same = make_flag("UNCHANGED_AFTER", ("o.jpg", "b.jpg"), before="o.jpg", after="b.jpg", kind=kind,
                     hash_name="phash", distance=2)
    assert f"The after photo b.jpg is {en} the before photo o.jpg:" in same.message
    assert f"Ảnh sau b.jpg là {vi} ảnh trước o.jpg:" in same.message_vi
