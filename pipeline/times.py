"""Time stamps as the input gives them (EXIF, manifest, entry.json): ISO 8601 text to comparable values."""
from __future__ import annotations

from datetime import datetime


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (``2024-06-02T07:31:05``, ``...Z``, ``...+07:00``) as a naive local datetime (a time
    with a zone is converted to local time), or None when missing or not a time."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone().replace(tzinfo=None)
