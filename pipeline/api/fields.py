"""The fields of a posted entry, declared once: the same table validates a request and writes the JSON Schema
of the OpenAPI document (:mod:`pipeline.api.spec`), so the document cannot drift from what is checked.

A :class:`Field` is a JSON value's rules (type, bounds, length, pattern, enumeration, nested fields);
:func:`validate` checks a parsed JSON value against it and returns the value (text stripped) or raises :class:`FieldError` naming the first field that is wrong (``location.lat``), and
:func:`json_schema` writes it as JSON Schema (OpenAPI 3.1). Unknown fields are refused, so a misspelt field
is an error the app's developer sees, not a silently lost value.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..times import parse_time


class FieldError(ValueError):
    """A field of the request that is missing or invalid: ``field`` (dotted path) and ``why`` (words)."""

    def __init__(self, field: str, why: str):
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


@dataclass(frozen=True)
class Field:
    """A JSON value's rules. ``kind``: string | number | integer | object. ``nullable``: null is accepted
    (and means "not given"). ``fmt``: date (``YYYY-MM-DD``) | date-time (ISO 8601) for strings."""

    name: str
    kind: str
    description: str
    required: bool = False
    nullable: bool = True
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    fmt: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    fields: tuple["Field", ...] = ()


#: an entry id: what a folder batch's entry folder could be called (no slash, no control character)
ENTRY_ID_PATTERN = r"^[^/\\\u0000-\u001f\u007f]+$"

ENTRY = Field("entry", "object", "The entry: its id and the fields of a batch's entry.json.", required=True,
              nullable=False, fields=(
    Field("entry_id", "string", "The entry's id in the contest app; unique in the workspace.", required=True,
          nullable=False, max_length=200, pattern=ENTRY_ID_PATTERN),
    Field("participant", "string", "Who entered.", max_length=500),
    Field("team", "string", "The team or group, when any.", max_length=500),
    Field("kind", "string", "An individual or a collective clean-up.", enum=("individual", "collective")),
    Field("event_date", "string", "The day of the clean-up.", fmt="date"),
    Field("submitted_at", "string", "When the entrant submitted the entry in the app (ISO 8601); decides who had "
          "a shared photo first when capture times do not.", fmt="date-time"),
    Field("location", "object", "Where the clean-up took place.", fields=(
        Field("lat", "number", "Latitude in decimal degrees.", minimum=-90, maximum=90),
        Field("lon", "number", "Longitude in decimal degrees.", minimum=-180, maximum=180),
        Field("address", "string", "The address as the entrant wrote it.", max_length=500),
    )),
    Field("reported", "object", "What the entrant reported.", fields=(
        Field("participants", "integer", "Number of people who took part.", minimum=0),
        Field("kg", "number", "Kilograms of litter collected.", minimum=0),
    )),
))


def validate(value: Any, field: Field = ENTRY, path: str = "") -> Any:
    """``value`` checked against ``field`` (strings stripped, objects without their null members); raises :class:`FieldError` naming the first wrong field."""
    where = path or field.name
    if value is None:
        if field.nullable:
            return None
        raise FieldError(where, "is required")
    if field.kind == "object":
        if not isinstance(value, dict):
            raise FieldError(where, "must be a JSON object")
        known = {f.name: f for f in field.fields}
        for key in value:
            if key not in known:
                raise FieldError(f"{path}.{key}" if path else str(key),
                                 f"is not a field of {where} (known: {', '.join(known)})")
        out = {}
        for f in field.fields:
            sub = f"{path}.{f.name}" if path else f.name
            if value.get(f.name) is None:
                if f.required:
                    raise FieldError(sub, "is required")
                continue
            out[f.name] = validate(value[f.name], f, sub)
        return out
    if field.kind == "string":
        return _string(value, field, where)
    if field.kind in ("number", "integer"):
        return _number(value, field, where)
    raise AssertionError(f"unknown field kind {field.kind}")


def _string(value: Any, field: Field, where: str) -> str | None:
    if not isinstance(value, str):
        raise FieldError(where, "must be a string")
    text = value.strip()
    if not text:
        if field.nullable and not field.required:
            return None
        raise FieldError(where, "must not be empty")
    if field.max_length is not None and len(text) > field.max_length:
        raise FieldError(where, f"is longer than {field.max_length} characters")
    if field.pattern is not None and not re.search(field.pattern, text):
        raise FieldError(where, "holds a character it may not (a slash, a backslash or a control character)")
    if field.enum is not None:
        if text not in field.enum:
            raise FieldError(where, f"must be one of {', '.join(field.enum)}")
    if field.fmt == "date":
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise FieldError(where, "must be a date, YYYY-MM-DD") from None
    if field.fmt == "date-time" and parse_time(text) is None:
        raise FieldError(where, "must be an ISO 8601 time, e.g. 2026-06-02T07:31:05+07:00")
    return text


def _number(value: Any, field: Field, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldError(where, f"must be {'a whole number' if field.kind == 'integer' else 'a number'}")
    if field.kind == "integer" and value != int(value):
        raise FieldError(where, "must be a whole number")
    if field.minimum is not None and value < field.minimum:
        raise FieldError(where, f"must be at least {field.minimum:g}")
    if field.maximum is not None and value > field.maximum:
        raise FieldError(where, f"must be at most {field.maximum:g}")
    return int(value) if field.kind == "integer" else value


def json_schema(field: Field = ENTRY) -> dict[str, Any]:
    """``field`` as JSON Schema (the dialect of OpenAPI 3.1)."""
    kind: Any = field.kind
    s: dict[str, Any] = {"description": field.description}
    if field.kind == "object":
        s["properties"] = {f.name: json_schema(f) for f in field.fields}
        s["additionalProperties"] = False
        required = [f.name for f in field.fields if f.required]
        if required:
            s["required"] = required
    if field.max_length is not None:
        s["maxLength"] = field.max_length
    if field.pattern is not None:
        s["pattern"] = field.pattern
    if field.enum is not None:
        s["enum"] = list(field.enum) + ([None] if field.nullable else [])
    if field.fmt is not None:
        s["format"] = field.fmt
    if field.minimum is not None:
        s["minimum"] = field.minimum
    if field.maximum is not None:
        s["maximum"] = field.maximum
    s["type"] = [kind, "null"] if field.nullable else kind
    return s
