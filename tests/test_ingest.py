import json
import os
from pathlib import Path

import pytest

from pipeline.ingest import ingest, ingest_folder, ingest_manifest


def touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def codes(sub) -> set[str]:
    return {p.code for p in sub.problems}


def test_folder_layout_entries_photos_and_metadata(tmp_path):
    b = tmp_path / "batch"
    touch(b / "e1" / "before" / "b.jpg")
    touch(b / "e1" / "after" / "a.JPG")
    (b / "e1" / "entry.json").write_text(json.dumps({
        "participant": "Nguyễn Văn A", "kind": "Collective", "location": {"lat": 16.46, "lon": 107.59, "address": "Huế"},
        "reported": {"participants": 12, "kg": 30.5}}), encoding="utf-8")
    touch(b / "e2" / "before" / "b.png")
    batch = ingest(b)
    assert [s.entry_id for s in batch.submissions] == ["e1", "e2"]
    e1, e2 = batch.submissions
    assert [(p.role, p.rel_path) for p in e1.photos] == [("after", "e1/after/a.JPG"), ("before", "e1/before/b.jpg")]
    assert e1.participant == "Nguyễn Văn A" and e1.kind == "collective"
    assert e1.location.lat == 16.46 and e1.reported.participants == 12 and e1.reported.kg == 30.5
    assert codes(e1) == set()
    assert "NO_AFTER_PHOTOS" in codes(e2) and "NO_BEFORE_PHOTOS" not in codes(e2)


def test_folder_duplicate_ids_and_stray_files_are_reported(tmp_path):
    b = tmp_path / "batch"
    touch(b / "e1" / "before" / "b.jpg")
    touch(b / "e1" / "after" / "a.jpg")
    touch(b / "E1" / "before" / "b.jpg")  # same id ignoring case: would collide on many file systems
    touch(b / "stray.txt")
    batch = ingest_folder(b)
    assert [s.entry_id for s in batch.submissions] == ["E1"]  # 'E1' sorts first; 'e1' is reported, not merged
    batch_codes = [p.code for p in batch.problems]
    assert batch_codes.count("DUPLICATE_ENTRY_ID") == 1 and "UNEXPECTED_FILE" in batch_codes
    assert [p.path for p in batch.problems if p.code == "DUPLICATE_ENTRY_ID"] == ["e1"]


def test_folder_symlink_outside_and_bad_json(tmp_path):
    b = tmp_path / "batch"
    touch(b / "e1" / "before" / "b.jpg")
    touch(b / "e1" / "after" / "a.jpg")
    touch(b / "e1" / "during" / "x.jpg")
    touch(b / "e1" / "before" / "notes.txt")
    (b / "e1" / "entry.json").write_text("{not json")
    os.symlink(touch(tmp_path / "secret.jpg"), b / "e1" / "after" / "link.jpg")
    (e1,) = ingest_folder(b).submissions
    assert codes(e1) == {"UNKNOWN_ROLE", "NOT_A_PHOTO", "ENTRY_JSON_INVALID", "PATH_OUTSIDE_BATCH"}
    assert sorted(p.rel_path for p in e1.photos) == ["e1/after/a.jpg", "e1/before/b.jpg"]
    assert e1.participant is None  # bad metadata dropped, photos kept


MANIFEST_ROWS = [
    {"entry_id": "A", "role": "before", "path": "photos/a1.jpg", "participant": "Team <A>", "reported_kg": "12"},
    {"entry_id": "A", "role": "after", "path": "photos/a2.jpg", "taken_at": "2024-06-02T08:00:00", "lat": "16.4"},
    {"entry_id": "B", "role": "before", "path": "../outside.jpg"},
    {"entry_id": "B", "role": "before", "path": "/etc/passwd"},
    {"entry_id": "B", "role": "during", "path": "photos/b0.jpg"},
    {"entry_id": "B", "role": "after", "path": "photos/./b1.jpg"},
    {"entry_id": "B", "role": "after", "path": "photos/b1.jpg"},
    {"entry_id": "A", "role": "after", "path": "photos/a3.jpg", "participant": "someone else"},
    {"entry_id": "", "role": "after", "path": "photos/z.jpg"},
]


def write_manifest(root: Path, kind: str) -> Path:
    for name in ("a1", "a2", "a3", "b0", "b1", "z"):
        touch(root / "photos" / f"{name}.jpg")
    touch(root.parent / "outside.jpg")
    if kind == "jsonl":
        p = root / "manifest.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in MANIFEST_ROWS) + "not json\n", encoding="utf-8")
    else:
        import csv

        p = root / "manifest.csv"
        cols = ["entry_id", "role", "path", "taken_at", "lat", "participant", "reported_kg"]
        with open(p, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in MANIFEST_ROWS:
                w.writerow({k: r.get(k, "") for k in cols})
    return p


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_manifest_forms(tmp_path, kind):
    root = tmp_path / "batch"
    batch = ingest_manifest(write_manifest(root, kind))
    assert batch.form == "manifest"
    a, b = batch.submissions
    assert a.entry_id == "A" and b.entry_id == "B"
    assert [p.rel_path for p in a.photos] == ["photos/a1.jpg", "photos/a2.jpg", "photos/a3.jpg"]
    assert a.participant == "Team <A>" and a.reported.kg == 12.0
    assert a.photos[1].taken_at == "2024-06-02T08:00:00" and a.photos[1].lat == 16.4
    assert "DUPLICATE_ENTRY_ID" in codes(a)  # same id, conflicting participant
    assert [p.rel_path for p in b.photos] == ["photos/b1.jpg"]
    assert all(Path(p.path).resolve().is_relative_to(root.resolve()) for s in batch.submissions for p in s.photos)
    bc = [p.code for p in b.problems]
    assert bc.count("PATH_OUTSIDE_BATCH") == 2 and "UNKNOWN_ROLE" in bc and "DUPLICATE_ROW" in bc
    assert "NO_BEFORE_PHOTOS" in bc
    assert any(p.code == "MANIFEST_ROW_INVALID" for p in batch.problems)


def test_manifest_missing_columns_is_a_clear_error(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("entry,photo\n1,x.jpg\n")
    with pytest.raises(ValueError, match="entry_id, role, path"):
        ingest(p)


def test_missing_batch(tmp_path):
    with pytest.raises(FileNotFoundError):
        ingest(tmp_path / "nope")
