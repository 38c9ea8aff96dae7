"""The one table of flag codes: severity and meaning in English and Vietnamese.

Codes are stable: never rename one once shipped. The README's flag table is generated from
:data:`FLAGS` by :func:`flag_table_markdown`. A ``high`` flag sends the entry to a judge
(status ``needs_review``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import Flag


@dataclass(frozen=True)
class FlagSpec:
    severity: str  # high | medium | low | info
    description: str
    description_vi: str


FLAGS: dict[str, FlagSpec] = {
    "MISSING_PHOTOS": FlagSpec(
        "high", "No usable before photo or no usable after photo: the entry cannot be scored.",
        "Không có ảnh trước hoặc ảnh sau dùng được: không thể chấm điểm bài dự thi."),
    "DUPLICATE_PHOTO": FlagSpec(
        "high", "A photo is a copy of a photo of another entry (this round or an earlier one) that had it first, "
        "or where no order can be shown (same round, no usable capture or submission times).",
        "Một ảnh là bản sao của ảnh thuộc bài khác (vòng này hoặc vòng trước) đã có ảnh đó trước, hoặc không "
        "xác định được bài nào có trước (cùng vòng, không có thời gian chụp hay thời gian gửi dùng được)."),
    "UNCHANGED_AFTER": FlagSpec(
        "high", "The after photo is the before photo again (nothing changed); no litter counts as removed.",
        "Ảnh sau chính là ảnh trước (không có gì thay đổi); không tính rác nào là đã dọn."),
    "SCENE_MISMATCH": FlagSpec(
        "high", "No after photo shows the same place as a before photo.",
        "Không có ảnh sau nào chụp cùng địa điểm với ảnh trước."),
    "EXIF_TIME_ORDER": FlagSpec(
        "high", "An after photo was taken before a before photo (photo time stamps).",
        "Một ảnh sau được chụp trước ảnh trước (theo thời gian chụp ghi trong ảnh)."),
    "GPS_MISMATCH": FlagSpec(
        "medium", "Photo GPS positions are far apart, or far from the entry's location.",
        "Vị trí GPS của các ảnh cách xa nhau, hoặc cách xa địa điểm đăng ký của bài dự thi."),
    "SAME_SPOT_PHOTO": FlagSpec(
        "medium", "A photo shows the same spot as a photo of another entry, moments apart (not a copy); worth a look.",
        "Một ảnh chụp cùng một chỗ với ảnh của bài khác, cách nhau ít lâu (không phải bản sao); nên xem lại."),
    "EXIF_TIME_GAP": FlagSpec(
        "medium", "Before and after photos were taken too far apart in time.",
        "Ảnh trước và ảnh sau được chụp cách nhau quá lâu."),
    "CLAIM_IMPLAUSIBLE": FlagSpec(
        "medium", "Reported kilograms or participants are far out of line with the litter visible.",
        "Số kg hoặc số người tham gia được báo cáo quá chênh lệch so với lượng rác nhìn thấy."),
    "NO_LITTER_BEFORE": FlagSpec(
        "medium", "No litter was detected in the before photos: there is nothing to score.",
        "Không phát hiện rác trong ảnh trước: không có gì để chấm điểm."),
    "PHOTO_ERROR": FlagSpec(
        "medium", "A photo could not be read or used; the entry is scored from its other photos.",
        "Một ảnh không đọc được hoặc không dùng được; bài được chấm bằng các ảnh còn lại."),
    "LITTER_REMAINS": FlagSpec(
        "low", "Litter is still visible in the after photo.",
        "Vẫn còn thấy rác trong ảnh sau."),
    "LOW_QUALITY": FlagSpec(
        "low", "A photo is blurred or too dark to judge well.",
        "Một ảnh bị mờ hoặc quá tối để đánh giá chính xác."),
    "UNPAIRED_PHOTO": FlagSpec(
        "info", "A photo has no partner of the same place in the other role.",
        "Một ảnh không có ảnh cùng địa điểm ở vai trò còn lại (trước/sau)."),
    "NOT_PROCESSED": FlagSpec(
        "high", "The entry has not been scored yet (its run stopped before it); run the batch again.",
        "Bài dự thi chưa được chấm (lần chạy dừng trước khi tới bài này); hãy chạy lại lô ảnh."),
    "PHOTO_COPIED_BY_LATER": FlagSpec(
        "info", "A later entry (named) used a copy of one of this entry's photos; this entry had it first "
        "(earlier round, capture or submission time) and keeps its evidence.",
        "Một bài gửi sau (được nêu tên) dùng bản sao ảnh của bài này; bài này có ảnh trước (vòng trước, thời "
        "gian chụp hoặc thời gian gửi sớm hơn) nên vẫn giữ nguyên giá trị bằng chứng."),
    "EXIF_MISSING": FlagSpec(
        "info", "No photo carries a capture time; time checks were skipped.",
        "Không ảnh nào có thời gian chụp; bỏ qua kiểm tra thời gian."),
}

SEVERITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2, "info": 3}


def make_flag(code: str, photos: tuple[str, ...] | list[str] = (), **params: Any) -> Flag:
    """A :class:`Flag` of a known ``code`` with the table's severity and the facts behind it (plain JSON
    values; their words come from :mod:`pipeline.flagtext` where the flag is shown). KeyError for an
    unknown code."""
    return Flag(code=code, severity=FLAGS[code].severity, params=params, photos=tuple(photos))


def flag_table_markdown() -> str:
    """The README table of flag codes: code, severity, meaning (English), meaning (Vietnamese)."""
    lines = ["| code | severity | meaning | ý nghĩa |", "|---|---|---|---|"]
    for code, spec in sorted(FLAGS.items(), key=lambda kv: (SEVERITY_ORDER[kv[1].severity], kv[0])):
        lines.append(f"| `{code}` | {spec.severity} | {spec.description} | {spec.description_vi} |")
    return "\n".join(lines) + "\n"
