"""Input problems carry a code and facts; their words (English and Vietnamese) are rendered where shown."""
from __future__ import annotations

import json

import pytest

from pipeline import problemtext
from pipeline.config import LoadConfig
from pipeline.ingest import ingest_folder, ingest_manifest
from pipeline.load import ERROR_CODES, PhotoError, load_photo, read_photo
from pipeline.score.flag_codes import make_flag
from pipeline.types import Problem


def _photo_problems(tmp_path) -> list[Problem]:
    """Problems the load stage raises for bad files: empty, not an image, truncated, missing, a folder,
    too large."""
    cfg = LoadConfig()
    out = []
    for data in (b"", b"<html>hello</html>", b"\xff\xd8\xff\xe0" + b"\0" * 40):
        with pytest.raises(PhotoError) as e:
            load_photo(data, cfg, rel_path="e1/before/x.jpg")
        out.append(e.value.problem)
    (tmp_path / "dir.jpg").mkdir()
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 2048)
    for path, c in ((tmp_path / "missing.jpg", cfg), (tmp_path / "dir.jpg", cfg),
                    (big, LoadConfig(max_file_bytes=1024))):
        with pytest.raises(PhotoError) as e:
            read_photo(path, c, rel_path=path.name)
        out.append(e.value.problem)
    return out


def _input_problems(tmp_path) -> list[Problem]:
    """Problems the ingest stage raises: a stray file, an entry without an after photo, a file that is not a
    photo, a manifest row without its columns."""
    b = tmp_path / "batch"
    (b / "E1" / "before").mkdir(parents=True)
    (b / "E1" / "before" / "1.jpg").write_bytes(b"x")
    (b / "E1" / "before" / "notes.txt").write_text("x")
    (b / "stray.txt").write_text("x")
    batch = ingest_folder(b)
    out = list(batch.problems) + [p for s in batch.submissions for p in s.problems]
    m = tmp_path / "m" / "manifest.csv"
    m.parent.mkdir()
    m.write_text("entry_id,role,path\nE1,before,\n")
    out += list(ingest_manifest(m).problems)
    return out


def test_every_problem_the_stages_raise_has_words_in_both_languages_and_stores_none(tmp_path):
    problems = _photo_problems(tmp_path) + _input_problems(tmp_path)
    codes = {p.code for p in problems}
    assert {"PHOTO_EMPTY", "PHOTO_NOT_IMAGE", "PHOTO_UNREADABLE", "PHOTO_TOO_LARGE", "UNEXPECTED_FILE",
            "NO_AFTER_PHOTOS", "NOT_A_PHOTO", "MANIFEST_ROW_INVALID"} <= codes
    for p in problems:
        en, vi = p.words()
        assert en and vi and en != vi and en != p.code, p
        stored = json.dumps(p.to_dict(), ensure_ascii=False)
        assert "message" not in stored and en not in stored, stored  # facts only
        assert Problem.from_dict(json.loads(stored)) == p and Problem.from_dict(json.loads(stored)).words() == (en, vi)
    assert set(ERROR_CODES) <= set(problemtext.TEXT)


def test_english_words_are_those_of_before(tmp_path):
    """The English words did not change when they moved from the stages to problemtext (exports keep them)."""
    by_code = {p.code: p.message for p in _photo_problems(tmp_path)}
    assert by_code["PHOTO_EMPTY"] == "e1/before/x.jpg is empty (0 bytes). Ask the entrant to upload the photo again."
    assert by_code["PHOTO_TOO_LARGE"] == ("big.jpg is 2,048 bytes (0.0 MiB), more than the limit of 1,024 bytes "
                                          "(0.0 MiB) (load.max_file_bytes); it was not read. Ask for a smaller copy, "
                                          "or raise the limit if the photo is genuine.")
    assert Problem("NO_BEFORE_PHOTOS").message == "the entry has no before photo"
    assert Problem("PHOTO_EMPTY").message == "The photo is empty (0 bytes). Ask the entrant to upload the photo again."


def test_words_stored_by_an_older_version_are_kept_and_unknown_facts_fall_back_to_the_code():
    old = Problem.from_dict({"code": "PHOTO_EMPTY", "message": "x.jpg is empty", "path": "x.jpg"})
    assert old.message == "x.jpg is empty" and old.to_dict()["message"] == "x.jpg is empty"
    assert Problem("PHOTO_TOO_LARGE", {"name": "a.jpg"}).words() == ("PHOTO_TOO_LARGE", "PHOTO_TOO_LARGE")  # no sizes
    assert Problem("NOT_A_CODE").message == "NOT_A_CODE"


def test_a_photo_error_flag_reads_the_problem_in_the_judges_language(tmp_path):
    problem = _photo_problems(tmp_path)[0]
    flag = make_flag("PHOTO_ERROR", ("e1/before/x.jpg",), photo="e1/before/x.jpg", problem=problem.to_dict())
    assert flag.message == f"Photo e1/before/x.jpg was not used: {problem.message}"
    assert flag.message_vi == f"Ảnh e1/before/x.jpg không được sử dụng: {problem.message_vi}"
    assert "Ask the entrant" not in flag.message_vi  # no English inside the Vietnamese words
