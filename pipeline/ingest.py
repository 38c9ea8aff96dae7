"""Ingest: turn a batch (folder layout or manifest) into :class:`Submission` records.

Nothing here reads image bytes. Every problem is recorded as a :class:`Problem` on the entry it
concerns (or on the batch when no entry can be named) and never stops the batch.

Folder layout (the default)::

    BATCH/<entry_id>/entry.json          optional metadata (see ENTRY_FIELDS)
    BATCH/<entry_id>/before/*.jpg|png|heic|webp
    BATCH/<entry_id>/after/*.jpg|png|heic|webp

Manifest (CSV or JSON Lines, one row per photo; ``path`` relative to the manifest's folder)::

    entry_id, role (before|after), path, taken_at?, lat?, lon?,
    participant?, team?, kind?, event_date?, submitted_at?, address?, location_lat?, location_lon?,
    reported_participants?, reported_kg?

Entry ids are normalised (Unicode NFC, surrounding spaces removed); two folders whose ids differ only by
letter case are one id twice (``DUPLICATE_ENTRY_ID``), since they would collide on many file systems.
Paths never leave the batch folder: absolute paths, ``..`` and symbolic links that resolve outside it are
refused with ``PATH_OUTSIDE_BATCH``.
"""
from __future__ import annotations

import csv
import io
import json
import posixpath
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .types import ROLES, Location, PhotoRef, Problem, Reported, Submission

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff",
                              ".bmp"})
ENTRY_FIELDS = ("participant", "team", "kind", "event_date", "submitted_at", "location", "reported")
MANIFEST_REQUIRED = ("entry_id", "role", "path")
_MAX_ENTRY_JSON_BYTES = 1_000_000
_MAX_TEXT = 500  # longest participant/team/address kept, in characters


@dataclass
class Batch:
    """The result of ingesting a batch: its entries (sorted by id) and problems no entry could carry."""

    root: Path
    form: str  # "folder" | "manifest"
    submissions: list[Submission]
    problems: list[Problem] = field(default_factory=list)

    @property
    def photo_count(self) -> int:
        return sum(len(s.photos) for s in self.submissions)


def ingest(path: str | Path) -> Batch:
    """Read a batch: a folder in the default layout, or a manifest file (``.csv``, ``.jsonl``, ``.ndjson``)."""
    p = Path(path)
    if p.is_file():
        return ingest_manifest(p)
    if p.is_dir():
        return ingest_folder(p)
    raise FileNotFoundError(f"batch {p} is neither a folder nor a manifest file")


# ------------------------------------------------------------------------------------------- helpers
def normalize_entry_id(raw: Any) -> str:
    return unicodedata.normalize("NFC", str(raw if raw is not None else "")).strip()


def _inside(root: Path, candidate: Path) -> Path | None:
    """The resolved path when ``candidate`` (symlinks followed) lies inside ``root``, else None."""
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError):  # symlink loops
        return None
    try:
        resolved.relative_to(root)
    except ValueError:
        return None
    return resolved


def _text(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s[:_MAX_TEXT] if s else None


def _float(v: Any) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _int(v: Any) -> int | None:
    f = _float(v)
    return int(f) if f is not None and f >= 0 else None


def entry_fields(d: dict[str, Any]) -> dict[str, Any]:
    """Entry metadata from an entry.json object or a manifest row (flat or nested forms): the keyword
    arguments of :class:`Submission` besides its id, photos and problems (also the intake API's, pipeline.api,
    so that an entry posted there is recorded as its folder would be)."""
    loc = d.get("location") if isinstance(d.get("location"), dict) else {}
    rep = d.get("reported") if isinstance(d.get("reported"), dict) else {}
    kind = _text(d.get("kind"))
    return {
        "participant": _text(d.get("participant")),
        "team": _text(d.get("team")),
        "kind": kind.lower() if kind else None,
        "event_date": _text(d.get("event_date")),
        "submitted_at": _text(d.get("submitted_at")),
        "location": Location(
            lat=_valid_lat(_float(loc.get("lat", d.get("location_lat")))),
            lon=_valid_lon(_float(loc.get("lon", d.get("location_lon")))),
            address=_text(loc.get("address", d.get("address"))),
        ),
        "reported": Reported(
            participants=_int(rep.get("participants", d.get("reported_participants"))),
            kg=_nonneg(_float(rep.get("kg", d.get("reported_kg")))),
        ),
    }


def _valid_lat(v: float | None) -> float | None:
    return v if v is not None and -90 <= v <= 90 else None


def _valid_lon(v: float | None) -> float | None:
    return v if v is not None and -180 <= v <= 180 else None


def _nonneg(v: float | None) -> float | None:
    return v if v is not None and v >= 0 else None


def missing_role_problems(photos: list[PhotoRef]) -> list[Problem]:
    """NO_BEFORE_PHOTOS / NO_AFTER_PHOTOS for an entry lacking photos of a role."""
    out = []
    if not any(p.role == "before" for p in photos):
        out.append(Problem("NO_BEFORE_PHOTOS"))
    if not any(p.role == "after" for p in photos):
        out.append(Problem("NO_AFTER_PHOTOS"))
    return out


# -------------------------------------------------------------------------------------- folder form
def ingest_folder(root: str | Path) -> Batch:
    root = Path(root).resolve()
    subs: list[Submission] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    try:
        children = sorted(root.iterdir(), key=lambda c: c.name)
    except OSError as e:
        raise FileNotFoundError(f"cannot list batch folder {root}: {e}") from e
    for child in children:
        if child.name.startswith("."):
            continue
        if not child.is_dir():
            if child.name.lower() not in ("readme", "readme.md", "readme.txt", "manifest.csv", "manifest.jsonl"):
                problems.append(Problem("UNEXPECTED_FILE", {"name": child.name}, child.name))
            continue
        if _inside(root, child) is None:
            problems.append(Problem("PATH_OUTSIDE_BATCH", {"case": "entry_folder", "name": child.name}, child.name))
            continue
        entry_id = normalize_entry_id(child.name)
        key = entry_id.casefold()
        if key in seen:
            problems.append(Problem("DUPLICATE_ENTRY_ID", {"name": child.name, "other": seen[key]}, child.name))
            continue
        seen[key] = child.name
        subs.append(_read_entry_folder(root, child, entry_id))
    if not subs:
        problems.append(Problem("EMPTY_BATCH", {"root": str(root)}))
    return Batch(root=root, form="folder", submissions=subs, problems=problems)


def _read_entry_folder(root: Path, folder: Path, entry_id: str) -> Submission:
    problems: list[Problem] = []
    meta: dict[str, Any] = {}
    ej = folder / "entry.json"
    if ej.exists():
        rel = ej.relative_to(root).as_posix()
        try:
            if _inside(root, ej) is None:
                raise ValueError("entry.json links outside the batch folder")
            if ej.stat().st_size > _MAX_ENTRY_JSON_BYTES:
                raise ValueError(f"entry.json is larger than {_MAX_ENTRY_JSON_BYTES} bytes")
            data = json.loads(ej.read_text(encoding="utf-8-sig"))
            if not isinstance(data, dict):
                raise ValueError("entry.json must hold a JSON object")
            meta = entry_fields(data)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            problems.append(Problem("ENTRY_JSON_INVALID", {"error": str(e)}, rel))
    photos: list[PhotoRef] = []
    for item in sorted(folder.iterdir(), key=lambda c: c.name):
        if item.name.startswith(".") or item.name == "entry.json":
            continue
        rel = item.relative_to(root).as_posix()
        role = item.name.lower()
        if item.is_dir() and role in ROLES:
            if _inside(root, item) is None:
                problems.append(Problem("PATH_OUTSIDE_BATCH", {"case": "role_folder", "rel": rel}, rel))
                continue
            photos.extend(_photos_in(root, item, entry_id, role, problems))
        else:
            problems.append(Problem("UNKNOWN_ROLE", {"rel": rel}, rel))
    problems.extend(missing_role_problems(photos))
    return Submission(entry_id=entry_id, photos=tuple(photos), problems=tuple(problems), **meta)


def _photos_in(root: Path, folder: Path, entry_id: str, role: str, problems: list[Problem]) -> list[PhotoRef]:
    out: list[PhotoRef] = []
    for item in sorted(folder.rglob("*"), key=lambda c: c.as_posix()):
        if any(part.startswith(".") for part in item.relative_to(folder).parts):
            continue
        rel = item.relative_to(root).as_posix()
        if item.is_dir() and item.suffix.lower() not in PHOTO_EXTENSIONS:
            continue
        if item.suffix.lower() not in PHOTO_EXTENSIONS:
            problems.append(Problem("NOT_A_PHOTO", {"rel": rel, "extensions": ", ".join(sorted(PHOTO_EXTENSIONS))},
                                    rel))
            continue
        resolved = _inside(root, item)
        if resolved is None:
            problems.append(Problem("PATH_OUTSIDE_BATCH", {"case": "photo", "rel": rel}, rel))
            continue
        out.append(PhotoRef(entry_id=entry_id, role=role, path=item.absolute(), rel_path=rel))  # type: ignore[arg-type]
    return out


# ------------------------------------------------------------------------------------ manifest form
def ingest_manifest(manifest: str | Path) -> Batch:
    manifest = Path(manifest).resolve()
    root = manifest.parent
    problems: list[Problem] = []
    try:
        rows = _read_rows(manifest)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
        raise ValueError(f"cannot read manifest {manifest}: {e}") from e
    by_entry: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for lineno, row in rows:
        where = {"manifest": manifest.name, "row": lineno}  # where in the manifest (pipeline.problemtext)
        if isinstance(row, Problem):
            problems.append(row)
            continue
        missing = [k for k in MANIFEST_REQUIRED if not str(row.get(k) or "").strip()]
        if missing:
            problems.append(Problem("MANIFEST_ROW_INVALID", {**where, "fields": ", ".join(missing)}))
            continue
        entry_id = normalize_entry_id(row["entry_id"])
        e = by_entry.get(entry_id)
        if e is None:
            e = by_entry[entry_id] = {"fields": entry_fields(row), "photos": [], "problems": [], "paths": set()}
            order.append(entry_id)
        else:
            fields = entry_fields(row)
            for k, v in fields.items():
                if v not in (None, Location(), Reported()) and e["fields"][k] in (None, Location(), Reported()):
                    e["fields"][k] = v
                elif v not in (None, Location(), Reported()) and v != e["fields"][k]:
                    e["problems"].append(Problem("DUPLICATE_ENTRY_ID",
                                                 {**where, "case": "manifest", "entry": entry_id, "field": k}))
        role = str(row["role"]).strip().lower()
        raw_path = str(row["path"]).strip()
        if role not in ROLES:
            e["problems"].append(Problem("UNKNOWN_ROLE", {**where, "case": "manifest", "role": role[:40]},
                                         raw_path[:300]))
            continue
        rel, resolved = _safe_manifest_path(root, raw_path)
        if resolved is None:
            e["problems"].append(Problem("PATH_OUTSIDE_BATCH", {**where, "case": "manifest", "rel": raw_path[:300]},
                                         raw_path[:300]))
            continue
        if rel in e["paths"]:
            e["problems"].append(Problem("DUPLICATE_ROW", {**where, "rel": rel}, rel))
            continue
        e["paths"].add(rel)
        e["photos"].append(PhotoRef(entry_id=entry_id, role=role, path=root / rel, rel_path=rel,  # type: ignore[arg-type]
                                    taken_at=_text(row.get("taken_at")), lat=_valid_lat(_float(row.get("lat"))),
                                    lon=_valid_lon(_float(row.get("lon")))))
    subs = []
    for entry_id in sorted(order):
        e = by_entry[entry_id]
        probs = e["problems"] + missing_role_problems(e["photos"])
        subs.append(Submission(entry_id=entry_id, photos=tuple(e["photos"]), problems=tuple(probs), **e["fields"]))
    if not subs:
        problems.append(Problem("EMPTY_BATCH", {"case": "manifest", "manifest": str(manifest)}))
    return Batch(root=root, form="manifest", submissions=subs, problems=problems)


def _safe_manifest_path(root: Path, raw: str) -> tuple[str, Path | None]:
    """(normalised relative path, resolved path) or (raw, None) when the path leaves ``root``."""
    text = raw.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\x00" in text:
        return raw, None
    rel = posixpath.normpath(text)
    if rel == ".." or rel.startswith("../") or rel == ".":
        return raw, None
    resolved = _inside(root, root / rel)
    return (rel, resolved) if resolved is not None else (raw, None)


def _read_rows(manifest: Path) -> list[tuple[int, dict[str, Any] | Problem]]:
    text = manifest.read_text(encoding="utf-8-sig")
    suffix = manifest.suffix.lower()
    out: list[tuple[int, dict[str, Any] | Problem]] = []
    if suffix in (".jsonl", ".ndjson", ".json"):
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                out.append((i, obj))
            except ValueError as e:
                out.append((i, Problem("MANIFEST_ROW_INVALID", {"case": "parse", "manifest": manifest.name, "row": i,
                                                                "error": str(e)})))
        return out
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not set(MANIFEST_REQUIRED) <= {f.strip() for f in reader.fieldnames}:
            raise ValueError(f"a manifest CSV needs the columns {', '.join(MANIFEST_REQUIRED)}")
        for i, row in enumerate(reader, 2):
            out.append((i, {(k or "").strip(): v for k, v in row.items() if k is not None}))
        return out
    raise ValueError(f"unknown manifest type '{suffix}' (use .csv or .jsonl)")
