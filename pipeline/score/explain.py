"""Plain-language explanation of a score, in English and Vietnamese.

Example: "Score 81.3/100. 3 of 4 litter items removed; the after photo matches the before photo (212
matching points)." / "Điểm 81,3/100. Đã dọn 3 trên 4 vật rác; ảnh sau khớp với ảnh trước (212 điểm trùng
khớp)."
"""
from __future__ import annotations

from dataclasses import dataclass

from ..types import Flag, ScoreCard


@dataclass(frozen=True)
class ScoreFacts:
    """The numbers an explanation cites (filled by :func:`pipeline.score.score_entry`)."""

    n_before: int = 0  # usable before photos
    n_after: int = 0
    n_pairs: int = 0  # same-place pairs
    best_inliers: int = 0
    before_items: int = 0  # litter items before, in the ground seen in both photos
    removed: int = 0
    remaining: int = 0
    new: int = 0
    unchanged: bool = False
    verified: bool = True
    score: float | None = None
    status: str = "scored"


def _num_vi(x: float) -> str:
    """Vietnamese decimal comma: 81.3 -> '81,3'."""
    return f"{x:g}".replace(".", ",")


def _litter(f: ScoreFacts) -> tuple[str, str]:
    if f.unchanged:
        return ("the after photo is the before photo again, so no litter counts as removed",
                "ảnh sau chính là ảnh trước nên không tính rác nào là đã dọn")
    if f.n_pairs == 0:
        return "", ""
    if f.before_items == 0:
        return "no litter was detected in the ground both photos show", "không phát hiện rác trong vùng cả hai ảnh cùng chụp"
    en = f"{f.removed} of {f.before_items} litter item{'s' if f.before_items != 1 else ''} removed"
    vi = f"Đã dọn {f.removed} trên {f.before_items} vật rác"
    if f.remaining:
        en += f", {f.remaining} still there"
        vi += f", {f.remaining} vật vẫn còn"
    if f.new:
        en += f", {f.new} new item{'s' if f.new != 1 else ''} in the after photo"
        vi += f", {f.new} vật mới xuất hiện trong ảnh sau"
    return en, vi


def _match(f: ScoreFacts) -> tuple[str, str]:
    if not f.verified:
        return "the same-place check could not be made", "không thể kiểm tra cùng địa điểm"
    if f.n_pairs == 0:
        return "no after photo matches a before photo", "không có ảnh sau nào khớp với ảnh trước"
    if f.n_pairs == 1:
        return (f"the after photo matches the before photo ({f.best_inliers} matching points)",
                f"ảnh sau khớp với ảnh trước ({f.best_inliers} điểm trùng khớp)")
    return (f"{f.n_pairs} after photos match before photos (best: {f.best_inliers} matching points)",
            f"{f.n_pairs} ảnh sau khớp với ảnh trước (tốt nhất: {f.best_inliers} điểm trùng khớp)")


def _sentence(parts: list[str]) -> str:
    text = "; ".join(p for p in parts if p)
    return (text[0].upper() + text[1:] + ".") if text else ""


def explain(facts: ScoreFacts, flags: list[Flag] | tuple[Flag, ...]) -> tuple[str, str]:
    """(English, Vietnamese) explanation of a score from its facts and flags (flags sorted by severity)."""
    if facts.score is None:
        head_en, head_vi = "Not scored.", "Không chấm điểm."
    else:
        head_en, head_vi = f"Score {facts.score:g}/100.", f"Điểm {_num_vi(facts.score)}/100."
    lit_en, lit_vi = _litter(facts)
    m_en, m_vi = _match(facts) if facts.score is not None else ("", "")
    en = [head_en, _sentence([lit_en, m_en])]
    vi = [head_vi, _sentence([lit_vi, m_vi])]
    high = [f for f in flags if f.severity == "high"]
    if high:
        en.append("A judge should check: " + " ".join(f.message for f in high))
        vi.append("Giám khảo cần kiểm tra: " + " ".join(f.message_vi or f.message for f in high))
    others = [f for f in flags if f.severity in ("medium", "low")]
    if others:
        en.append("Also: " + " ".join(f.message for f in others))
        vi.append("Ngoài ra: " + " ".join(f.message_vi or f.message for f in others))
    return " ".join(p for p in en if p), " ".join(p for p in vi if p)


def card_words(card: ScoreCard) -> tuple[str, str]:
    """(English, Vietnamese) explanation of a score card, rendered from its facts and flags; the words it
    holds when it has no facts (a card stored before cards carried them)."""
    if card.facts is None:
        return card.explanation, card.explanation_vi
    return explain(ScoreFacts(**card.facts), card.flags)
