"""The words of every flag, in English and Vietnamese, rendered from its code and parameters where it is
shown (export, report, review app), never stored by the stages: a new language, or better wording, needs
no re-scoring. Severities and meanings of the codes: :mod:`pipeline.score.flag_codes`.

``render(code, params) -> (english, vietnamese)``. Parameters are plain JSON values (photo paths, counts,
seconds, metres, limits) written by the stages that raise the flags (:mod:`pipeline.score.card`,
:mod:`pipeline.dedup.flags`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import problemtext

KIND_EN = {  # what a copy is, as a judge says it ("... is an exact copy of the before photo ...")
    "exact": "an exact copy",
    "same_image": "a resized or re-compressed copy",
    "mirrored_rotated": "a mirrored or rotated copy",
    "cropped": "a cropped copy",
    "straightened": "a straightened copy",
    "screenshot": "a screenshot",
    "captioned": "a copy with a caption or text added",
    "filtered": "a filtered copy",
    "overlaid": "a copy with a sticker or text over it",
    "collage": "part of a collage",
    "screen_photo": "a photo of a screen showing",
}
KIND_VI = {
    "exact": "bản sao y hệt",
    "same_image": "bản sao đã đổi kích thước hoặc nén lại",
    "mirrored_rotated": "bản sao bị lật hoặc xoay",
    "cropped": "bản sao bị cắt xén",
    "straightened": "bản sao đã được xoay thẳng lại",
    "screenshot": "ảnh chụp màn hình",
    "captioned": "bản sao có thêm chú thích hoặc chữ",
    "filtered": "bản sao đã qua bộ lọc màu",
    "overlaid": "bản sao bị dán hình hoặc chữ đè lên",
    "collage": "một phần của ảnh ghép",
    "screen_photo": "ảnh chụp lại màn hình đang hiển thị",
}
#: kinds whose words already lead to the photo they show (no "of" / "của" after them)
SHOWING_KINDS = ("screen_photo",)

# Why a photo could not be used (the codes of pipeline.load.ERROR_CODES), in Vietnamese, for flags stored
# before they carried the problem's parameters (their reason is English words) and for problems given as
# English words only.
PHOTO_ERROR_VI = {
    "PHOTO_UNREADABLE": "không mở được tệp (không tồn tại, không có quyền đọc, là thư mục hoặc không phải tệp thường)",
    "PATH_OUTSIDE_BATCH": "đường dẫn (qua liên kết tượng trưng) dẫn ra ngoài thư mục lô nên tệp không được đọc",
    "PHOTO_EMPTY": "tệp rỗng (0 byte)",
    "PHOTO_TOO_LARGE": "tệp lớn hơn giới hạn cho phép nên bị từ chối mà không đọc",
    "PHOTO_TOO_MANY_PIXELS": "ảnh có quá nhiều điểm ảnh (có thể là bom giải nén) nên bị từ chối trước khi giải mã",
    "PHOTO_NOT_IMAGE": "nội dung không phải là ảnh (ví dụ văn bản, trang web hoặc video đặt tên .jpg)",
    "PHOTO_UNSUPPORTED": "định dạng ảnh không được hỗ trợ (chỉ nhận JPEG, PNG, WebP, HEIC/HEIF, AVIF)",
    "PHOTO_TRUNCATED": "tệp kết thúc trước khi hết dữ liệu ảnh (tải lên hoặc sao chép chưa xong)",
    "PHOTO_CORRUPT": "dữ liệu ảnh bị hỏng",
}
ROLE_VI = {"before": "trước", "after": "sau"}

Words = tuple[str, str]


def copy_of(kind: str) -> Words:
    """What a copy is, leading to the photo it copies: ('a cropped copy of', 'bản sao bị cắt xén của'),
    ('a photo of a screen showing', 'ảnh chụp lại màn hình đang hiển thị')."""
    if kind in SHOWING_KINDS:
        return KIND_EN[kind], KIND_VI[kind]
    return f"{KIND_EN[kind]} of", f"{KIND_VI[kind]} của"


def duration(seconds: float) -> Words:
    """A duration in words: ('3 h 5 min', '3 giờ 5 phút') / ('40 min', '40 phút') / ('2.5 days', '2,5 ngày')."""
    m = round(seconds / 60)
    if m < 120:
        return f"{m} min", f"{m} phút"
    if m < 72 * 60:
        return f"{m // 60} h {m % 60} min", f"{m // 60} giờ {m % 60} phút"
    d = round(seconds / 86400, 1)
    return f"{d:g} days", f"{d:g} ngày".replace(".", ",")


def metres(d: float) -> Words:
    """Metres with a thousands separator: ('11,120 m', '11.120 m')."""
    return f"{d:,.0f} m", f"{d:,.0f} m".replace(",", ".")


def _photo_error(p: dict[str, Any]) -> Words:
    if p.get("not_processed"):
        return (f"Photo {p['photo']} was not processed (the run stopped on it).",
                f"Ảnh {p['photo']} chưa được xử lý (lần chạy dừng ở ảnh này).")
    problem = p.get("problem")
    if isinstance(problem, dict):  # the problem's facts: its words in each language (pipeline.problemtext)
        code = problem.get("code", "")
        if "message" in problem:
            en, vi = problem["message"], problem.get("message_vi") or ""
        else:
            en, vi = problemtext.render(code, problem.get("params") or {})
        vi = vi or PHOTO_ERROR_VI.get(code, "xem mục lỗi ảnh của bài") + "."
        return f"Photo {p['photo']} was not used: {en}", f"Ảnh {p['photo']} không được sử dụng: {vi}"
    why_vi = PHOTO_ERROR_VI.get(p.get("error_code", ""), "xem mục lỗi ảnh của bài")
    return (f"Photo {p['photo']} was not used: {p['reason']}",
            f"Ảnh {p['photo']} không được sử dụng: {why_vi}.")


def _missing(p: dict[str, Any]) -> Words:
    roles = p["roles"]
    return (f"No usable {' and '.join(roles)} photo.",
            f"Không có ảnh {' và '.join(ROLE_VI[r] for r in roles)} dùng được.")


def _details(p: dict[str, Any]) -> Words:
    """The hash evidence of a copy, as a closing "Details:" sentence for the curious."""
    if p["kind"] == "exact":
        return " Details: same sha256.", " Chi tiết: cùng mã sha256."
    return (f" Details: {p['hash_name']} distance {p['distance']} bits.",
            f" Chi tiết: khoảng cách {p['hash_name']} {p['distance']} bit.")


BASIS_EN = {"round": "an earlier round", "taken_at": "an earlier capture time",
            "submitted_at": "an earlier submission time"}
BASIS_VI = {"round": "vòng trước", "taken_at": "thời gian chụp sớm hơn", "submitted_at": "thời gian gửi sớm hơn"}


def _basis(p: dict[str, Any]) -> Words:
    b = p.get("basis")
    return (f" ({BASIS_EN[b]})", f" ({BASIS_VI[b]})") if b in BASIS_EN else ("", "")


def _duplicate(p: dict[str, Any]) -> Words:
    first = p["other_first"]
    b_en, b_vi = _basis(p)
    if first is None:  # no order could be shown
        first_en = "no order can be shown (same round, no usable capture or submission times), so both need review"
        first_vi = "không xác định được bài nào có trước (cùng vòng, không có thời gian chụp hay gửi dùng được)"
    elif first:
        first_en, first_vi = f"entry {p['other_entry']} had it first{b_en}", f"bài {p['other_entry']} gửi trước{b_vi}"
    else:  # flags stored before the order rule
        first_en, first_vi = "this entry had it first", "bài này gửi trước"
    d_en, d_vi = _details(p)
    of_en, of_vi = copy_of(p["kind"])
    return (f"The {p['role']} photo {p['photo']} is {of_en} the {p['other_role']} photo "
            f"{p['other_photo']} of entry {p['other_entry']}; {first_en}.{d_en}",
            f"Ảnh {ROLE_VI[p['role']]} {p['photo']} là {of_vi} ảnh {ROLE_VI[p['other_role']]} "
            f"{p['other_photo']} của bài {p['other_entry']}; {first_vi}.{d_vi}")


def _same_spot(p: dict[str, Any]) -> Words:
    return (f"The {p['role']} photo {p['photo']} of entry {p['entry']} and the {p['other_role']} photo "
            f"{p['other_photo']} of entry {p['other_entry']} show the same spot moments apart (not a copy: "
            "something in the picture changed); worth a look.",
            f"Ảnh {ROLE_VI[p['role']]} {p['photo']} của bài {p['entry']} và ảnh {ROLE_VI[p['other_role']]} "
            f"{p['other_photo']} của bài {p['other_entry']} chụp cùng một chỗ, cách nhau ít lâu (không phải bản "
            "sao: có chi tiết thay đổi); nên xem lại.")


def _copied(p: dict[str, Any]) -> Words:
    b_en, b_vi = _basis(p)
    d_en, d_vi = _details(p)
    of_en, of_vi = copy_of(p["kind"])
    return (f"Entry {p['later_entry']} later used its {p['later_role']} photo {p['later_photo']}, "
            f"{of_en} this entry's {p['role']} photo {p['photo']}; this entry "
            f"had it first{b_en} and keeps its evidence.{d_en}",
            f"Bài {p['later_entry']} về sau dùng ảnh {ROLE_VI[p['later_role']]} {p['later_photo']}, là "
            f"{of_vi} ảnh {ROLE_VI[p['role']]} {p['photo']} của bài này; bài này có ảnh "
            f"trước{b_vi} nên vẫn giữ nguyên giá trị bằng chứng.{d_vi}")


def _unchanged(p: dict[str, Any]) -> Words:
    if p.get("kind") is None:  # found by the same-place check
        return (f"After photo {p['after']} is before photo {p['before']} again: same framing, no visible change.",
                f"Ảnh sau {p['after']} chính là ảnh trước {p['before']}: cùng khung hình, không có thay đổi nào.")
    d_en, d_vi = _details(p)
    of_en, of_vi = copy_of(p["kind"])
    return (f"The after photo {p['after']} is {of_en} the before photo {p['before']}: it shows "
            f"nothing that changed, so it is no evidence of a clean-up.{d_en}",
            f"Ảnh sau {p['after']} là {of_vi} ảnh trước {p['before']}: "
            f"không thấy thay đổi nào, nên không chứng minh được việc dọn dẹp.{d_vi}")


def _scene(p: dict[str, Any]) -> Words:
    if not p.get("checked", True):
        return "The same-place check could not be made.", "Không thể kiểm tra cùng địa điểm."
    return (f"No after photo shows the same place as a before photo (best candidate: {p['best_inliers']} "
            f"matching points, {p['needed']} needed).",
            f"Không có ảnh sau nào chụp cùng địa điểm với ảnh trước (cặp tốt nhất: {p['best_inliers']} điểm "
            f"trùng khớp, cần {p['needed']}).")


def _time_order(p: dict[str, Any]) -> Words:
    en, vi = duration(p["seconds"])
    return (f"After photo {p['after']} was taken {en} before before photo {p['before']}.",
            f"Ảnh sau {p['after']} được chụp trước ảnh trước {p['before']} {vi}.")


def _time_gap(p: dict[str, Any]) -> Words:
    en, vi = duration(p["seconds"])
    return (f"Before and after photos were taken {en} apart (limit {p['limit_h']:g} h).",
            f"Ảnh trước và ảnh sau được chụp cách nhau {vi} (giới hạn {p['limit_h']:g} giờ).")


def _gps(p: dict[str, Any]) -> Words:
    en, vi = metres(p["metres"])
    if "after" in p:
        return (f"GPS of {p['before']} and {p['after']} are {en} apart (limit {p['limit_m']:g} m).",
                f"GPS của {p['before']} và {p['after']} cách nhau {vi} (giới hạn {p['limit_m']:g} m).")
    return (f"GPS of {p['photo']} is {en} from the entry's location (limit {p['limit_m']:g} m).",
            f"GPS của {p['photo']} cách địa điểm đăng ký {vi} (giới hạn {p['limit_m']:g} m).")


def _no_litter(p: dict[str, Any]) -> Words:
    n = p["visible_before"]
    if n == 0:
        return "No litter was detected in the before photos.", "Không phát hiện rác trong ảnh trước."
    return (f"None of the {n} litter items in the before photos lies in the ground the after photos show.",
            f"Không vật nào trong {n} vật rác ở ảnh trước nằm trong vùng ảnh sau chụp lại.")


def _remains(p: dict[str, Any]) -> Words:
    total = p["remaining"] + p["new"]
    return (f"{total} litter item(s) still visible after ({p['remaining']} left in place, {p['new']} new).",
            f"Vẫn còn {total} vật rác trong ảnh sau ({p['remaining']} còn nguyên chỗ, {p['new']} mới xuất hiện).")


def _claim(p: dict[str, Any]) -> Words:
    items, per = p["items"], max(1, p["items"])
    if "kg" in p:
        kg = p["kg"]
        return (f"Reported {kg:g} kg for {items} visible litter item(s) ({kg / per:.0f} kg per item, "
                f"limit {p['limit']:g}).",
                f"Báo cáo {kg:g} kg cho {items} vật rác nhìn thấy ({kg / per:.0f} kg mỗi vật, "
                f"giới hạn {p['limit']:g}).")
    return (f"Reported {p['participants']} participants for {items} visible litter item(s) "
            f"(limit {p['limit']:g} per item).",
            f"Báo cáo {p['participants']} người tham gia cho {items} vật rác nhìn thấy (giới hạn "
            f"{p['limit']:g} người mỗi vật).")


def _quality(p: dict[str, Any]) -> Words:
    en, vi = [], []
    if p.get("sharpness") is not None:
        en.append(f"blurred (sharpness {p['sharpness']:.0f} < {p['blur_limit']:g})")
        vi.append(f"bị mờ (độ nét {p['sharpness']:.0f} < {p['blur_limit']:g})")
    if p.get("brightness") is not None:
        en.append(f"dark (brightness {p['brightness']:.0f} < {p['dark_limit']:g})")
        vi.append(f"quá tối (độ sáng {p['brightness']:.0f} < {p['dark_limit']:g})")
    return f"Photo {p['photo']} is " + " and ".join(en) + ".", f"Ảnh {p['photo']} " + " và ".join(vi) + "."


TEXT: dict[str, Callable[[dict[str, Any]], Words]] = {
    "PHOTO_ERROR": _photo_error,
    "MISSING_PHOTOS": _missing,
    "DUPLICATE_PHOTO": _duplicate,
    "PHOTO_COPIED_BY_LATER": _copied,
    "UNCHANGED_AFTER": _unchanged,
    "SAME_SPOT_PHOTO": _same_spot,
    "SCENE_MISMATCH": _scene,
    "UNPAIRED_PHOTO": lambda p: (f"Photo {p['photo']} matches no photo of the other role.",
                                 f"Ảnh {p['photo']} không khớp với ảnh nào ở vai trò còn lại."),
    "EXIF_MISSING": lambda p: ("No photo carries a capture time; time checks were skipped.",
                               "Không ảnh nào có thời gian chụp; bỏ qua kiểm tra thời gian."),
    "EXIF_TIME_ORDER": _time_order,
    "EXIF_TIME_GAP": _time_gap,
    "GPS_MISMATCH": _gps,
    "NO_LITTER_BEFORE": _no_litter,
    "LITTER_REMAINS": _remains,
    "CLAIM_IMPLAUSIBLE": _claim,
    "LOW_QUALITY": _quality,
    "NOT_PROCESSED": lambda p: ("the entry has not been scored yet; run the batch again",
                                "bài dự thi chưa được chấm; hãy chạy lại lô ảnh"),
}


def render(code: str, params: dict[str, Any]) -> Words:
    """(English, Vietnamese) words of a flag. An unknown code or missing parameter gives the code and the
    parameters as they are, never an error (a workspace may hold flags of a newer version)."""
    fn = TEXT.get(code)
    if fn is not None:
        try:
            return fn(params)
        except (KeyError, TypeError, ValueError):
            pass
    detail = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    text = f"{code}" + (f" ({detail})" if detail else "")
    return text, text
