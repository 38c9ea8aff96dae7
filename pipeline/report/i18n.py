"""Interface labels in English and Vietnamese. ``label(key, lang)`` falls back to English, then the key."""
from __future__ import annotations

LANGS: tuple[str, ...] = ("en", "vi")

LABELS: dict[str, tuple[str, str]] = {
    # key: (English, Vietnamese)
    "title": ("Clean-up challenge: entries", "Cuộc thi dọn rác: bài dự thi"),
    "ranking": ("Ranking", "Bảng xếp hạng"),
    "entry": ("Entry", "Bài dự thi"),
    "entries": ("entries", "bài dự thi"),
    "rank": ("Rank", "Hạng"),
    "score": ("Score", "Điểm"),
    "pipeline_score": ("Pipeline score", "Điểm tự động"),
    "status": ("Status", "Trạng thái"),
    "flags": ("Flags", "Cảnh báo"),
    "no_flags": ("No flags", "Không có cảnh báo"),
    "participant": ("Participant", "Người tham gia"),
    "team": ("Team", "Đội"),
    "reviewed": ("Reviewed", "Đã duyệt"),
    "reviewed_of": ("reviewed", "đã duyệt"),
    "not_reviewed": ("not reviewed", "chưa duyệt"),
    "before": ("Before", "Trước"),
    "after": ("After", "Sau"),
    "components": ("Score components", "Thành phần điểm"),
    "explanation": ("Explanation", "Giải thích"),
    "model": ("Model", "Mô hình"),
    "config_hash": ("Configuration hash", "Mã cấu hình"),
    "photo_errors": ("Photo problems", "Lỗi ảnh"),
    "entry_problems": ("Entry problems", "Lỗi bài dự thi"),
    "duplicates": ("Duplicate evidence", "Bằng chứng ảnh trùng lặp"),
    "no_duplicates": ("No photo of this entry appears in another entry.",
                      "Không có ảnh nào của bài này xuất hiện trong bài khác."),
    "this_photo": ("This entry's photo", "Ảnh của bài này"),
    "other_photo": ("Matching photo", "Ảnh trùng khớp"),
    "match_kind": ("Match", "Kiểu trùng"),
    "no_thumb": ("No preview: the photo could not be read", "Không có ảnh xem trước: không đọc được ảnh"),
    "no_photos": ("No photos", "Không có ảnh"),
    "overlay": ("Aligned overlay (before warped onto after)", "Chồng ảnh đã căn chỉnh (ảnh trước đặt lên ảnh sau)"),
    "overlay_opacity": ("Before photo opacity", "Độ mờ ảnh trước"),
    "no_overlay": ("No overlay: the photos were not matched as the same place",
                   "Không chồng ảnh: hai ảnh không được xác định là cùng địa điểm"),
    "same_place": ("Same place", "Cùng địa điểm"),
    "inliers": ("matched points", "điểm khớp"),
    "yes": ("yes", "có"),
    "no": ("no", "không"),
    "litter_change": ("Litter: before {b}, removed {r}, remaining {m}, new {n}",
                      "Rác: trước {b}, đã dọn {r}, còn lại {m}, mới {n}"),
    "reported": ("Reported by the entrant", "Người dự thi khai báo"),
    "reported_people": ("participants", "người tham gia"),
    "location": ("Location", "Địa điểm"),
    "event_date": ("Event date", "Ngày sự kiện"),
    "taken_at": ("taken", "chụp lúc"),
    "detections": ("detections", "phát hiện"),
    "decision": ("Decision", "Quyết định"),
    "decisions": ("Decisions", "Các quyết định"),
    "accept": ("Accept", "Chấp nhận"),
    "override": ("Override score", "Sửa điểm"),
    "disqualify": ("Disqualify", "Loại"),
    "disqualified": ("disqualified", "bị loại"),
    "reason": ("Reason", "Lý do"),
    "new_score": ("New score (0-100)", "Điểm mới (0-100)"),
    "save_decision": ("Save decision", "Lưu quyết định"),
    "judge": ("Judge", "Giám khảo"),
    "when": ("When", "Thời gian"),
    "version": ("Version", "Phiên bản"),
    "audit": ("Audit log", "Nhật ký quyết định"),
    "no_decisions": ("No decisions yet.", "Chưa có quyết định nào."),
    "conflict": ("Another judge decided on this entry after you opened it. Their decision is shown below; "
                 "your decision was not saved. Decide again if you still disagree.",
                 "Một giám khảo khác đã quyết định bài này sau khi bạn mở trang. Quyết định của họ ở bên dưới; "
                 "quyết định của bạn chưa được lưu. Hãy quyết định lại nếu bạn vẫn không đồng ý."),
    "saved": ("Decision saved.", "Đã lưu quyết định."),
    "corrections": ("Corrections of the detector", "Sửa kết quả phát hiện rác"),
    "corrections_help": ("Tick detections that are not litter; drag on the photo to box missed litter, then save.",
                         "Đánh dấu các ô không phải rác; kéo chuột trên ảnh để khoanh rác bị bỏ sót, rồi lưu."),
    "not_litter": ("not litter", "không phải rác"),
    "missed": ("missed litter", "rác bị bỏ sót"),
    "remove": ("remove", "xoá"),
    "save_corrections": ("Save corrections", "Lưu chỉnh sửa"),
    "corrections_saved": ("Corrections saved.", "Đã lưu chỉnh sửa."),
    "sign_in": ("Sign in", "Đăng nhập"),
    "sign_out": ("Sign out", "Đăng xuất"),
    "username": ("User name", "Tên đăng nhập"),
    "password": ("Password", "Mật khẩu"),
    "bad_login": ("Wrong user name or password.", "Sai tên đăng nhập hoặc mật khẩu."),
    "too_many_logins": ("Too many failed sign-ins. Try again in {minutes} min.",
                        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút."),
    "signed_in_as": ("Signed in as", "Đăng nhập với tên"),
    "all": ("all", "tất cả"),
    "filter": ("Filter", "Lọc"),
    "sort": ("Sort", "Sắp xếp"),
    "page": ("Page", "Trang"),
    "prev_page": ("Previous", "Trang trước"),
    "next_page": ("Next", "Trang sau"),
    "next_unreviewed": ("Next entry not yet reviewed", "Bài tiếp theo chưa duyệt"),
    "back_to_ranking": ("Back to the ranking", "Về bảng xếp hạng"),
    "generated": ("Static report, read-only.", "Báo cáo tĩnh, chỉ để xem."),
    "language": ("Tiếng Việt", "English"),
    "photo": ("Photo", "Ảnh"),
    "entry_id": ("Entry id", "Mã bài dự thi"),
    "no_score": ("no score", "không có điểm"),
    "status_scored": ("scored", "đã chấm"),
    "status_needs_review": ("needs review", "cần xem xét"),
    "status_error": ("error", "lỗi"),
    "status_unscored": ("not scored yet", "chưa chấm"),
    "status_disqualified": ("disqualified", "bị loại"),
    "status_reviewed": ("reviewed", "đã duyệt"),
    "status_unreviewed": ("not reviewed", "chưa duyệt"),
    "status_pending": ("waiting for a judge", "chờ giám khảo"),
    "status_accepted": ("accepted by a judge", "giám khảo đã chấp nhận"),
    "status_overridden": ("score set by a judge", "giám khảo đã sửa điểm"),
    "status_not_needed": ("scored, no review needed", "đã chấm, không cần xem xét"),
    "sev_high": ("high", "cao"),
    "sev_medium": ("medium", "trung bình"),
    "sev_low": ("low", "thấp"),
    "sev_info": ("info", "thông tin"),
    "decision_accept": ("accepted", "chấp nhận"),
    "decision_override": ("score overridden", "đã sửa điểm"),
    "decision_disqualify": ("disqualified", "bị loại"),
    "tier_may_win": ("May win", "Có thể đoạt giải"),
    "tier_may_win_note": ("Scored without a serious flag, or cleared by a judge; ranked by final score. Only these "
                          "entries have a rank.",
                          "Được chấm điểm mà không có cảnh báo nghiêm trọng, hoặc đã được giám khảo xác nhận; xếp "
                          "theo điểm cuối cùng. Chỉ những bài này có thứ hạng."),
    "tier_pending": ("Waiting for a judge", "Chờ giám khảo"),
    "tier_pending_note": ("A serious flag was raised: these entries have no rank until a judge accepts, changes "
                          "the score or disqualifies them. Listed by the automatic score.",
                          "Có cảnh báo nghiêm trọng: các bài này chưa có thứ hạng cho đến khi giám khảo chấp "
                          "nhận, sửa điểm hoặc loại. Liệt kê theo điểm tự động."),
    "tier_error": ("Could not be scored", "Không chấm được điểm"),
    "tier_error_note": ("Photos were missing or unusable, or the entry was not processed; a judge can give a "
                        "score.",
                        "Ảnh bị thiếu hoặc không dùng được, hoặc bài chưa được xử lý; giám khảo có thể cho điểm."),
    "tier_disqualified": ("Disqualified", "Bị loại"),
    "tier_disqualified_note": ("A judge disqualified these entries.", "Giám khảo đã loại các bài này."),
    "provisional": ("Provisional results: {n} entries wait for a judge. Publish only the ranked entries, once "
                    "none waits.",
                    "Kết quả tạm thời: {n} bài dự thi đang chờ giám khảo. Chỉ công bố các bài có thứ hạng, khi "
                    "không còn bài nào chờ."),
    "final_results": ("Final results: no entry waits for a judge.",
                      "Kết quả chính thức: không còn bài nào chờ giám khảo."),
    "review_progress": ("{done} of {n} entries that need a judge decided",
                        "Đã quyết định {done} trên {n} bài cần giám khảo"),
    "not_ranked": ("not ranked", "chưa xếp hạng"),
    "problems": ("Problems", "Sự cố dữ liệu"),
    "problems_note": ("Every problem met in the input, by run: the batch's own (stray files, unreadable manifest "
                      "rows), the entries' and the photos' that could not be used. The same list: cleanup-verify "
                      "export --what problems.",
                      "Mọi sự cố gặp trong dữ liệu đầu vào, theo từng lần chạy: của cả lô (tệp lạ, dòng danh sách "
                      "không đọc được), của từng bài dự thi và của các ảnh không dùng được. Danh sách tương tự: "
                      "cleanup-verify export --what problems."),
    "no_problems": ("No problem was met in the input.", "Không gặp sự cố nào trong dữ liệu đầu vào."),
    "run": ("Run", "Lần chạy"),
    "scope": ("Concerns", "Liên quan"),
    "scope_batch": ("the batch", "cả lô"),
    "scope_entry": ("the entry", "bài dự thi"),
    "scope_photo": ("a photo", "một ảnh"),
    "code": ("Code", "Mã"),
    "path": ("Path", "Đường dẫn"),
    "message": ("Message", "Nội dung"),
    "detections_shown": ("detections shown", "phát hiện được hiển thị"),
    "counted_vs_shown": ("The photo shows {shown} boxes (detections at or above the confidence threshold); the "
                         "count of {counted} also weighs weaker candidates and counts only the ground both photos "
                         "show.",
                         "Ảnh hiển thị {shown} khung (các phát hiện đạt ngưỡng tin cậy); con số {counted} còn tính cả "
                         "các ứng viên yếu hơn (theo trọng số) và chỉ tính vùng mà cả hai ảnh cùng chụp."),
    "hash_distance": ("details: hash distance {d} bits", "chi tiết: khoảng cách mã băm {d} bit"),
    "score_formula": ("Score = litter removed × (its weight + amount's weight × amount + evidence's weight × "
                      "evidence): nothing removed earns nothing. Each part's points add up to the score.",
                      "Điểm = rác đã dọn × (trọng số của nó + trọng số lượng rác × lượng rác + trọng số bằng chứng "
                      "× bằng chứng): không dọn gì thì không có điểm. Điểm của các phần cộng lại thành tổng điểm."),
    "part": ("Part", "Thành phần"),
    "part_value": ("Value (0-1)", "Giá trị (0-1)"),
    "part_weight": ("Weight", "Trọng số"),
    "part_points": ("Points", "Điểm"),
    "times_removed": ("× removed", "× rác đã dọn"),
    "comp_removed": ("Litter removed", "Rác đã dọn"),
    "comp_removed_help": ("Share of the litter seen before that is gone in the after photo.",
                          "Tỷ lệ rác thấy trong ảnh trước đã không còn trong ảnh sau."),
    "comp_amount": ("Amount of litter", "Lượng rác"),
    "comp_amount_help": ("How much litter there was before (full at 10 items).",
                         "Lượng rác có trước khi dọn (tối đa khi có 10 vật)."),
    "comp_evidence": ("Evidence", "Bằng chứng"),
    "comp_evidence_help": ("How trustworthy the photos are: the mean of the four checks below.",
                           "Độ tin cậy của ảnh: trung bình của bốn kiểm tra dưới đây."),
    "comp_evidence_match": ("Same place", "Cùng địa điểm"),
    "comp_evidence_match_help": ("Matching points between the before and after photos (full at 150).",
                                 "Số điểm khớp giữa ảnh trước và ảnh sau (tối đa khi có 150)."),
    "comp_evidence_quality": ("Photo quality", "Chất lượng ảnh"),
    "comp_evidence_quality_help": ("Share of the photos neither blurred nor too dark.",
                                   "Tỷ lệ ảnh không bị mờ và không quá tối."),
    "comp_evidence_metadata": ("Time and place", "Thời gian và vị trí"),
    "comp_evidence_metadata_help": ("Share of the capture-time and GPS checks that passed.",
                                    "Tỷ lệ kiểm tra thời gian chụp và GPS đạt yêu cầu."),
    "comp_evidence_original": ("Original photos", "Ảnh gốc"),
    "comp_evidence_original_help": ("0 when a photo is a copy of another entry's that had it first.",
                                    "Bằng 0 khi có ảnh là bản sao của ảnh thuộc bài khác đã có ảnh đó trước."),
    "not_found": ("Not found.", "Không tìm thấy."),
    "bad_request": ("Bad request.", "Yêu cầu không hợp lệ."),
}


def _kinds() -> dict[str, tuple[str, str]]:
    """``kind_<k>``: what a copy is (pipeline.flagtext, the words the flags use)."""
    from ..flagtext import KIND_EN, KIND_VI

    return {f"kind_{k}": (KIND_EN[k], KIND_VI.get(k, "")) for k in KIND_EN}


LABELS.update(_kinds())


def label(key: str, lang: str = "en") -> str:
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "vi" and pair[1] else pair[0]
