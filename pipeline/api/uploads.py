"""A multipart upload to the intake API, checked before anything is written: limits, the `entry` part, the
photos' content; then the photos written into the workspace.

:func:`read_upload` turns a request into an :class:`Upload` or raises :class:`pipeline.api.errors.ApiError`
(413 for sizes and counts, 415 for a body that is not multipart, 422 naming the field or the file). Nothing
is written until the whole request has passed. The client's file names are reduced to a safe base name by
:func:`safe_name` and used only as labels (the photo's path as the entry shows it); the bytes are stored
under their sha256 (:func:`pipeline.store.intake.photo_path`) by :func:`store_photos`.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import IntakeConfig
from ..ingest import PHOTO_EXTENSIONS, normalize_entry_id
from ..load import PhotoError, photo_format
from ..store import atomic_write_bytes
from ..store.intake import photo_path
from ..types import IntakePhoto
from . import fields as entry_fields
from .errors import ApiError

#: Pillow's format name -> the extension a label gets when the client's name has no photo extension
EXTENSION = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic", "AVIF": ".avif"}
MAX_NAME_CHARS = 120  # a label's file part, in characters
OVERHEAD_BYTES = 1024 * 1024  # multipart headers and boundaries allowed on top of the photos and the entry


@dataclass(frozen=True)
class ReceivedPhoto:
    """A photo of the request: its role, the client's file name (as sent; shown in errors only), its bytes."""

    role: str
    client_name: str
    data: bytes
    sha256: str
    format: str | None


@dataclass(frozen=True)
class Upload:
    """A request that passed every check: the validated `entry` fields (None for the photos endpoint; the
    entry id apart) and the photos in the order sent."""

    entry_id: str | None
    fields: dict[str, Any] | None
    photos: tuple[ReceivedPhoto, ...]

    def fingerprint(self) -> str:
        """sha256 of what makes a post the same post: the fields and the photos' bytes by role (not the file
        names, nor their order)."""
        blob = json.dumps({"entry_id": self.entry_id, "fields": self.fields,
                           "photos": sorted([p.role, p.sha256] for p in self.photos)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def body_limit(cfg: IntakeConfig, roles: int) -> int:
    """The largest request body (bytes) a post with ``roles`` photo parts may have."""
    return cfg.max_photo_bytes * cfg.max_photos_per_role * roles + cfg.max_entry_json_bytes + OVERHEAD_BYTES


def read_upload(request: Any, cfg: IntakeConfig, roles: tuple[str, ...], with_entry: bool) -> Upload:
    """The checked upload of a Flask ``request``: parts ``entry`` (when ``with_entry``) and ``roles`` (file
    parts, several files each); raises :class:`ApiError`."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "send the entry as multipart/form-data (parts: entry, before, after)")
    known = set(roles) | ({"entry"} if with_entry else set())
    for part in list(request.form.keys()) + list(request.files.keys()):
        if part not in known:
            raise ApiError(422, f"unknown part '{part[:60]}' (expected: {', '.join(sorted(known))})", field=part[:60])
    entry_id, values = (_entry_part(request, cfg) if with_entry else (None, None))
    files = {role: request.files.getlist(role) for role in roles}
    for role in roles:
        if len(files[role]) > cfg.max_photos_per_role:
            raise ApiError(413, f"{len(files[role])} {role} photos; at most {cfg.max_photos_per_role} a role "
                           "(intake.max_photos_per_role)", field=role)
    if with_entry and not files.get("before"):
        raise ApiError(422, "an entry needs at least one before photo (part 'before')", field="before")
    if not with_entry and not any(files.values()):
        raise ApiError(422, f"no photo sent (parts: {', '.join(roles)})", field=roles[0])
    photos = []
    for role in roles:
        for i, f in enumerate(files[role]):
            photos.append(_photo(role, i, f, cfg))
    return Upload(entry_id, values, tuple(photos))


def _entry_part(request: Any, cfg: IntakeConfig) -> tuple[str, dict[str, Any]]:
    if "entry" in request.files:
        raw = request.files["entry"].stream.read(cfg.max_entry_json_bytes + 1)
    elif "entry" in request.form:
        raw = request.form["entry"].encode("utf-8")
    else:
        raise ApiError(422, "the part 'entry' (JSON: entry_id and the entry's fields) is missing", field="entry")
    if len(raw) > cfg.max_entry_json_bytes:
        raise ApiError(413, f"the part 'entry' is larger than {cfg.max_entry_json_bytes} bytes", field="entry")
    try:
        value = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError(422, f"the part 'entry' is not JSON ({e})", field="entry") from None
    try:
        checked = entry_fields.validate(value)
    except entry_fields.FieldError as e:
        raise ApiError(422, f"entry field {e.field} {e.why}", field=e.field) from None
    entry_id = normalize_entry_id(checked.pop("entry_id"))
    if not entry_id:
        raise ApiError(422, "entry field entry_id must not be empty", field="entry_id")
    return entry_id, checked


def _photo(role: str, index: int, f: Any, cfg: IntakeConfig) -> ReceivedPhoto:
    shown = (f.filename or "")[:200]
    what = f"{role} photo {index + 1}" + (f" '{shown}'" if shown else "")
    data = f.stream.read(cfg.max_photo_bytes + 1)
    if len(data) > cfg.max_photo_bytes:
        raise ApiError(413, f"{what} is larger than {cfg.max_photo_bytes} bytes (intake.max_photo_bytes)",
                       field=role, file=shown, index=index)
    try:
        fmt = photo_format(data, what)
    except PhotoError as e:
        raise ApiError(422, e.problem.message, field=role, file=shown, index=index, code=e.code) from None
    return ReceivedPhoto(role, shown, data, hashlib.sha256(data).hexdigest(), fmt)


def safe_name(client_name: str, fmt: str | None, index: int) -> str:
    """A label's file part from the client's file name: its base name (after the last slash or backslash),
    printable characters only, at most :data:`MAX_NAME_CHARS`, never empty nor starting with a dot, with a
    photo extension (the content's when the name has none). ``../../x.jpg`` gives ``x.jpg``."""
    name = unicodedata.normalize("NFC", client_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name.startswith("."):
        name = f"photo-{index + 1}"
    stem, ext = posixpath.splitext(name)
    if ext.lower() not in PHOTO_EXTENSIONS:
        stem, ext = name, EXTENSION.get(fmt or "", ".jpg")
    return stem[:MAX_NAME_CHARS - len(ext)] + ext


def labelled(entry_id: str, photos: tuple[ReceivedPhoto, ...], taken: set[str] = frozenset(),
             generation: int = 1) -> tuple[IntakePhoto, ...]:
    """The photos as the entry will show them: ``ENTRY_ID/ROLE/NAME``, names made unique within the entry
    (``x-2.jpg``), avoiding ``taken``; photos sent twice in one role (same bytes) counted once."""
    used = set(taken)
    seen: set[tuple[str, str]] = set()
    out = []
    for p in photos:
        if (p.role, p.sha256) in seen:
            continue
        seen.add((p.role, p.sha256))
        index = sum(role == p.role for role, _ in seen) - 1  # its place in its role, from 0
        stem, ext = posixpath.splitext(safe_name(p.client_name, p.format, index))
        label, n = f"{entry_id}/{p.role}/{stem}{ext}", 1
        while label in used:
            n += 1
            label = f"{entry_id}/{p.role}/{stem}-{n}{ext}"
        used.add(label)
        out.append(IntakePhoto(label, p.role, p.sha256, len(p.data), generation))  # type: ignore[arg-type]
    return tuple(out)


def store_photos(ws_root: Path, photos: tuple[ReceivedPhoto, ...]) -> None:
    """Write each photo's bytes under its sha256, atomically and synced, unless that file is there already."""
    for p in photos:
        path = photo_path(ws_root, p.sha256)
        if not path.is_file() or path.stat().st_size != len(p.data):
            atomic_write_bytes(path, p.data)
