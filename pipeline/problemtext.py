"""The words of every input problem (:class:`pipeline.types.Problem`), in English and Vietnamese, rendered
from its code and parameters where it is shown (run output, export, report, review app), never stored by
the stages that find them (:mod:`pipeline.ingest`, :mod:`pipeline.load`).

``render(code, params) -> (english, vietnamese)``. ``params["case"]`` tells apart the situations one code
covers (a photo that is missing, a folder, a special file: all ``PHOTO_UNREADABLE``); the other parameters
are plain JSON values: paths as given (``name``, ``rel``), sizes in bytes, and ``error``: the words of the
library or operating system that refused the file, shown as they are in both languages.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

Words = tuple[str, str]


def mib(n: int) -> Words:
    """A size in bytes and MiB: ('1,048,576 bytes (1.0 MiB)', '1.048.576 byte (1,0 MiB)')."""
    return (f"{n:,} bytes ({n / (1024 * 1024):.1f} MiB)",
            f"{n:,} byte ({n / (1024 * 1024):.1f} MiB)".replace(",", "\0").replace(".", ",").replace("\0", "."))


def _name(p: dict[str, Any], start: bool = False) -> Words:
    """The photo's path, or 'the photo' when the caller had none."""
    if p.get("name"):
        return p["name"], p["name"]
    return ("The photo" if start else "the photo"), ("Ảnh" if start else "ảnh")


def _unreadable(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    case, err = p.get("case"), p.get("error", "")
    if case == "no_path":
        return (f"Could not resolve the path of {n} ({err}). Check the file and upload it again.",
                f"Không xác định được đường dẫn của {n} ({err}). Hãy kiểm tra tệp và tải lên lại.")
    if case == "missing":
        return (f"{n} does not exist (or is a broken link). Check that the file was copied into the batch.",
                f"{n} không tồn tại (hoặc là liên kết hỏng). Hãy kiểm tra tệp đã được chép vào lô chưa.")
    if case == "folder":
        return (f"{n} is a folder, not a photo file. Remove it or put the photo file in its place.",
                f"{n} là một thư mục, không phải tệp ảnh. Hãy xoá nó hoặc đặt tệp ảnh vào chỗ của nó.")
    if case == "special":
        return (f"{n} is not a regular file (a device, pipe or socket); it was not opened. Replace it with the "
                "photo file.",
                f"{n} không phải tệp thường (thiết bị, pipe hoặc socket) nên không được mở. Hãy thay bằng tệp ảnh.")
    verb_en, verb_vi = ("opened", "mở") if case == "open" else ("read", "đọc")
    return (f"{n} could not be {verb_en} ({err}). Check the file and its permissions.",
            f"Không {verb_vi} được {n} ({err}). Hãy kiểm tra tệp và quyền truy cập.")


def _outside(p: dict[str, Any]) -> Words:
    case = p.get("case")
    if case == "link":
        n, _ = _name(p)
        return (f"{n} is a link to a file outside the batch folder; it was not read. Put the photo itself into "
                "the entry's folder.",
                f"{n} là liên kết tới một tệp ngoài thư mục lô nên không được đọc. Hãy đặt chính tệp ảnh vào thư "
                "mục của bài.")
    if case == "entry_folder":
        return (f"entry folder '{p['name']}' links outside the batch folder; ignored",
                f"thư mục bài '{p['name']}' liên kết ra ngoài thư mục lô; bỏ qua")
    if case == "role_folder":
        return f"'{p['rel']}' links outside the batch folder", f"'{p['rel']}' liên kết ra ngoài thư mục lô"
    if case == "manifest":
        return (f"{_where(p)[0]}: path '{p['rel']}' leaves the batch folder; not read",
                f"{_where(p)[1]}: đường dẫn '{p['rel']}' ra ngoài thư mục lô; không đọc")
    return (f"'{p['rel']}' links outside the batch folder; not read",
            f"'{p['rel']}' liên kết ra ngoài thư mục lô; không đọc")


def _empty(p: dict[str, Any]) -> Words:
    n_en, n_vi = _name(p, start=True)
    return (f"{n_en} is empty (0 bytes). Ask the entrant to upload the photo again.",
            f"{n_vi} rỗng (0 byte). Hãy đề nghị người dự thi tải ảnh lên lại.")


def _too_large(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    limit_en, limit_vi = mib(p["limit"])
    if p.get("case") == "read":
        return (f"{n} is larger than the limit of {limit_en} (load.max_file_bytes). Ask for a smaller copy.",
                f"{n} lớn hơn giới hạn {limit_vi} (load.max_file_bytes). Hãy xin một bản nhỏ hơn.")
    size_en, size_vi = mib(p["size"])
    en = f"{n} is {size_en}, more than the limit of {limit_en} (load.max_file_bytes)"
    vi = f"{n} có {size_vi}, vượt giới hạn {limit_vi} (load.max_file_bytes)"
    if p.get("case") == "file":
        return (en + "; it was not read. Ask for a smaller copy, or raise the limit if the photo is genuine.",
                vi + " nên không được đọc. Hãy xin một bản nhỏ hơn, hoặc nâng giới hạn nếu ảnh là thật.")
    return en + ".", vi + "."


def _too_many_pixels(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    if p.get("case") == "declared":
        w, h, mp, limit = p["width"], p["height"], p["width"] * p["height"] / 1e6, p["limit"] / 1e6
        return (f"{n} declares {w}x{h} = {mp:.0f} megapixels, more than the limit of {limit:.0f} (load.max_pixels). "
                "It was refused before decoding (possible decompression bomb); ask for a normal-size copy.",
                f"{n} khai báo {w}x{h} = {mp:.0f} megapixel, vượt giới hạn {limit:.0f} (load.max_pixels). Bị từ chối "
                "trước khi giải mã (có thể là bom giải nén); hãy xin một bản có kích thước bình thường.")
    return (f"{n} declares more pixels than the image library allows ({p['error']}). Refused before decoding; "
            "ask for a normal-size copy.",
            f"{n} khai báo nhiều điểm ảnh hơn mức thư viện ảnh cho phép ({p['error']}). Bị từ chối trước khi giải "
            "mã; hãy xin một bản có kích thước bình thường.")


def _corrupt(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    case = p.get("case")
    if case == "memory":
        return (f"{n} could not be decoded: out of memory. The file is probably damaged or hostile; ask for the "
                "original photo.",
                f"Không giải mã được {n}: hết bộ nhớ. Tệp có thể bị hỏng hoặc cố ý gây hại; hãy xin ảnh gốc.")
    if case == "heif":
        return (f"{n} looks like a HEIC/HEIF file but could not be read; it is damaged or uses a codec that is not "
                "installed. Ask for the photo as JPEG.",
                f"{n} có vẻ là tệp HEIC/HEIF nhưng không đọc được; tệp bị hỏng hoặc dùng bộ giải mã chưa được cài. "
                "Hãy xin ảnh ở dạng JPEG.")
    if case == "empty_image":
        return (f"{n} declares an empty image ({p['width']}x{p['height']} pixels).",
                f"{n} khai báo một ảnh rỗng ({p['width']}x{p['height']} điểm ảnh).")
    if case == "shape":
        return (f"{n} decoded to an unexpected shape {tuple(p['shape'])}.",
                f"{n} giải mã ra kích thước không mong đợi {tuple(p['shape'])}.")
    if case == "header":
        return (f"{n} starts like a photo but its header is damaged. Ask the entrant to upload the original "
                "photo again.",
                f"{n} bắt đầu giống một ảnh nhưng phần đầu tệp bị hỏng. Hãy đề nghị người dự thi tải lại ảnh gốc.")
    return (f"{n} is damaged and could not be decoded ({p['error']}). Ask the entrant to upload the original photo "
            "again.",
            f"{n} bị hỏng và không giải mã được ({p['error']}). Hãy đề nghị người dự thi tải lại ảnh gốc.")


def _unsupported(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    if p.get("case") == "codec":
        return (f"{n} uses an image codec that is not installed ({p['error']}). Ask for the photo as JPEG.",
                f"{n} dùng bộ giải mã ảnh chưa được cài ({p['error']}). Hãy xin ảnh ở dạng JPEG.")
    en = f"{n} is a {p['format']} image; the pipeline takes JPEG, PNG, WebP, HEIC/HEIF and AVIF."
    vi = f"{n} là ảnh {p['format']}; hệ thống nhận JPEG, PNG, WebP, HEIC/HEIF và AVIF."
    if p.get("case") == "decoded_format":
        return en, vi
    return en + " Ask for the photo as JPEG.", vi + " Hãy xin ảnh ở dạng JPEG."


def _not_image(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    return (f"{n} is not an image ({p['content']}). Ask the entrant to upload the actual photo.",
            f"{n} không phải là ảnh ({p['content']}). Hãy đề nghị người dự thi tải lên đúng tệp ảnh.")


def _truncated(p: dict[str, Any]) -> Words:
    n, _ = _name(p)
    if p.get("case") == "jpeg_end":
        return (f"{n} is incomplete: the JPEG data stops before its end marker. Ask the entrant to upload it again.",
                f"{n} không đầy đủ: dữ liệu JPEG dừng trước dấu kết thúc. Hãy đề nghị người dự thi tải lại.")
    return (f"{n} is incomplete: the file ends before the image does ({p['error']}). It was probably cut off "
            "during upload; ask the entrant to upload it again.",
            f"{n} không đầy đủ: tệp kết thúc trước khi hết dữ liệu ảnh ({p['error']}). Có lẽ việc tải lên bị "
            "ngắt; hãy đề nghị người dự thi tải lại.")


def _where(p: dict[str, Any]) -> Words:
    """Where in a manifest: ('manifest.csv row 7', 'manifest.csv dòng 7')."""
    return f"{p['manifest']} row {p['row']}", f"{p['manifest']} dòng {p['row']}"


def _no_role(role_en: str, role_vi: str) -> Callable[[dict[str, Any]], Words]:
    return lambda p: (f"the entry has no {role_en} photo", f"bài không có ảnh {role_vi}")


def _unexpected_file(p: dict[str, Any]) -> Words:
    return (f"'{p['name']}' is not an entry folder; ignored", f"'{p['name']}' không phải thư mục bài; bỏ qua")


def _duplicate_entry(p: dict[str, Any]) -> Words:
    if p.get("case") == "manifest":
        w_en, w_vi = _where(p)
        return (f"{w_en}: entry '{p['entry']}' appears again with a different {p['field']}; the first value is kept",
                f"{w_vi}: bài '{p['entry']}' xuất hiện lại với {p['field']} khác; giữ giá trị đầu tiên")
    return (f"folder '{p['name']}' has the same entry id as '{p['other']}' (ids are compared ignoring case); its "
            "photos were not read. Rename one of the folders.",
            f"thư mục '{p['name']}' có cùng mã bài với '{p['other']}' (mã được so sánh không phân biệt hoa thường); "
            "ảnh của nó không được đọc. Hãy đổi tên một trong hai thư mục.")


def _empty_batch(p: dict[str, Any]) -> Words:
    if p.get("case") == "manifest":
        return f"no usable rows in {p['manifest']}", f"không có dòng nào dùng được trong {p['manifest']}"
    return f"no entry folders found in {p['root']}", f"không tìm thấy thư mục bài nào trong {p['root']}"


def _entry_json(p: dict[str, Any]) -> Words:
    return (f"entry.json could not be read ({p['error']}); the entry is processed without its metadata",
            f"không đọc được entry.json ({p['error']}); bài được xử lý không có thông tin kèm theo")


def _unknown_role(p: dict[str, Any]) -> Words:
    if p.get("case") == "manifest":
        w_en, w_vi = _where(p)
        return (f"{w_en}: role '{p['role']}' is not before or after; photo ignored",
                f"{w_vi}: vai trò '{p['role']}' không phải before hay after; bỏ qua ảnh")
    return (f"'{p['rel']}' is neither a before/ nor an after/ folder; ignored",
            f"'{p['rel']}' không phải thư mục before/ hay after/; bỏ qua")


def _not_a_photo(p: dict[str, Any]) -> Words:
    return (f"'{p['rel']}' does not have a photo extension ({p['extensions']}); ignored",
            f"'{p['rel']}' không có đuôi tệp ảnh ({p['extensions']}); bỏ qua")


def _row_invalid(p: dict[str, Any]) -> Words:
    if p.get("case") == "parse":
        return (f"{p['manifest']} line {p['row']}: {p['error']}; row ignored",
                f"{p['manifest']} dòng {p['row']}: {p['error']}; bỏ qua dòng")
    w_en, w_vi = _where(p)
    return (f"{w_en}: missing {p['fields']}; row ignored", f"{w_vi}: thiếu {p['fields']}; bỏ qua dòng")


def _duplicate_row(p: dict[str, Any]) -> Words:
    w_en, w_vi = _where(p)
    return (f"{w_en}: '{p['rel']}' is listed twice for this entry; counted once",
            f"{w_vi}: '{p['rel']}' được liệt kê hai lần cho bài này; chỉ tính một lần")


TEXT: dict[str, Callable[[dict[str, Any]], Words]] = {
    # a photo that cannot be used (pipeline.load.ERROR_CODES)
    "PHOTO_UNREADABLE": _unreadable,
    "PATH_OUTSIDE_BATCH": _outside,
    "PHOTO_EMPTY": _empty,
    "PHOTO_TOO_LARGE": _too_large,
    "PHOTO_TOO_MANY_PIXELS": _too_many_pixels,
    "PHOTO_NOT_IMAGE": _not_image,
    "PHOTO_UNSUPPORTED": _unsupported,
    "PHOTO_TRUNCATED": _truncated,
    "PHOTO_CORRUPT": _corrupt,
    # an entry's or a batch's input (pipeline.ingest)
    "NO_BEFORE_PHOTOS": _no_role("before", "trước"),
    "NO_AFTER_PHOTOS": _no_role("after", "sau"),
    "UNEXPECTED_FILE": _unexpected_file,
    "DUPLICATE_ENTRY_ID": _duplicate_entry,
    "EMPTY_BATCH": _empty_batch,
    "ENTRY_JSON_INVALID": _entry_json,
    "UNKNOWN_ROLE": _unknown_role,
    "NOT_A_PHOTO": _not_a_photo,
    "MANIFEST_ROW_INVALID": _row_invalid,
    "DUPLICATE_ROW": _duplicate_row,
}


def render(code: str, params: dict[str, Any]) -> Words:
    """(English, Vietnamese) words of a problem; the code itself when it has no words (or they cannot be
    made from these parameters)."""
    fn = TEXT.get(code)
    if fn is None:
        return code, code
    try:
        return fn(params)
    except (KeyError, TypeError, ValueError):
        return code, code
