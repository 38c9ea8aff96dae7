"""The intake API's routes, declared once: :mod:`pipeline.api.routes` registers the Flask views from
:data:`ROUTES` and checks query parameters with their :class:`pipeline.api.fields.Field`, and :func:`document`
writes the OpenAPI 3.1 document from the same table, the entry's fields (:data:`pipeline.api.fields.ENTRY`)
and the configured limits. A route added here is served and documented; one that is not is neither.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config import IntakeConfig
from . import fields as F
from .entries import API_PREFIX, STATUSES
from .errors import CODES


@dataclass(frozen=True)
class Route:
    """One endpoint: ``path`` in OpenAPI form (``/entries/{entry_id}``, under :data:`API_PREFIX`), the view's
    ``name`` (a function of pipeline.api.routes), whether it needs a token, its query parameters, request
    body (``entry`` or ``photos`` multipart, or None) and responses (status -> (description, schema name or
    None))."""

    method: str
    path: str
    name: str
    summary: str
    auth: bool = True
    query: tuple[F.Field, ...] = ()
    body: str | None = None
    responses: tuple[tuple[int, str, str | None], ...] = ()

    @property
    def flask_rule(self) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


_AUTH_ERRORS = ((401, "No token, an unknown one or a revoked one.", "Error"),
                (429, "Too many requests for this token; see the Retry-After header.", "Error"))
_UPLOAD_ERRORS = ((413, "A photo over intake.max_photo_bytes, more photos of a role than intake.max_photos_per_role, "
                   "or a body over the server's limit.", "Error"),
                  (415, "The body is not multipart/form-data.", "Error"),
                  (422, "A missing or invalid entry field (named in `field`), or a file that is not a photo by its "
                   "content (named in `file`).", "Error"))

REPLACE = F.Field("replace", "string", "true: the post replaces an entry of the same id that has other fields or "
                  "photos (the entrant re-posted); its old photos stay in the workspace for duplicate checks.",
                  nullable=False, enum=("true", "false"))
FORMAT = F.Field("format", "string", "jsonl (JSON Lines, one record a line) or csv.", nullable=False,
                 enum=("jsonl", "csv"))

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Liveness and queue length (no token, no data).", auth=False,
          responses=((200, "The server is up.", "Health"),)),
    Route("GET", "/openapi.json", "openapi", "This document.", auth=False,
          responses=((200, "The OpenAPI 3.1 document of this API.", None),)),
    Route("POST", "/entries", "post_entry", "Post an entry: its fields and photos (multipart).", query=(REPLACE,),
          body="entry",
          responses=((202, "Stored and queued for scoring.", "Accepted"),
                     (200, "The same post was stored before (a retry): nothing changed.", "EntryStatus"),
                     (409, "An entry of this id exists with other fields or photos (post with replace=true to "
                      "replace it), or came in a batch.", "Error"), *_UPLOAD_ERRORS, *_AUTH_ERRORS)),
    Route("POST", "/entries/{entry_id}/photos", "add_photos", "Add after photos to an entry posted earlier.",
          body="photos",
          responses=((202, "Stored; the entry is queued for scoring again.", "Accepted"),
                     (200, "The entry has these photos already: nothing changed.", "EntryStatus"),
                     (404, "No entry of this id.", "Error"),
                     (409, "The entry came in a batch, not through the API.", "Error"),
                     *_UPLOAD_ERRORS, *_AUTH_ERRORS)),
    Route("GET", "/entries/{entry_id}", "get_entry", "An entry's status and, once processed, its export record.",
          responses=((200, "The entry.", "EntryStatus"), (404, "No entry of this id.", "Error"), *_AUTH_ERRORS)),
    Route("GET", "/results", "results", "Every entry's export record: what `cleanup-verify export` writes, byte "
          "for byte.", query=(FORMAT,),
          responses=((200, "The export.", None), (422, "An unknown format.", "Error"), *_AUTH_ERRORS)),
)


def query_value(route: Route, name: str, raw: str | None, default: str) -> str:
    """A query parameter of ``route`` checked by its field (raises FieldError); ``default`` when absent."""
    field = next(f for f in route.query if f.name == name)
    return default if raw is None else F.validate(raw, field, name)


def _photos_schema(cfg: IntakeConfig, role: str, min_items: int) -> dict[str, Any]:
    return {"type": "array", "minItems": min_items, "maxItems": cfg.max_photos_per_role,
            "description": f"{role} photos: JPEG, PNG, WebP, HEIC/HEIF or AVIF, checked by content, at most "
                           f"{cfg.max_photo_bytes} bytes each; the file name is a label only",
            "items": {"type": "string", "contentMediaType": "application/octet-stream"}}


def _body(kind: str, cfg: IntakeConfig) -> dict[str, Any]:
    if kind == "entry":
        schema = {"type": "object", "required": ["entry", "before"],
                  "properties": {"entry": {"$ref": "#/components/schemas/Entry"},
                                 "before": _photos_schema(cfg, "before", 1),
                                 "after": _photos_schema(cfg, "after", 0)}}
        encoding = {"entry": {"contentType": "application/json"}}
    else:
        schema = {"type": "object", "required": ["after"], "properties": {"after": _photos_schema(cfg, "after", 1)}}
        encoding = {}
    media: dict[str, Any] = {"schema": schema}
    if encoding:
        media["encoding"] = encoding
    return {"required": True, "content": {"multipart/form-data": media}}


def _schemas() -> dict[str, Any]:
    record = {"type": ["object", "null"], "description": "The entry's export record (docs/api.md, README's export "
              "contract): score, status, components, flags with messages in English and Vietnamese, problems, "
              "review, final_status, final_score, tier, rank; null until the entry is processed."}
    return {
        "Entry": F.json_schema(F.ENTRY),
        "Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string", "enum": sorted(set(CODES.values()))},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the entry field or multipart part concerned"},
            "file": {"type": "string", "description": "the file name as sent"},
            "index": {"type": "integer", "description": "the file's place in its part, from 0"},
            "code": {"type": "string", "description": "the photo problem's code (PHOTO_NOT_IMAGE, ...)"},
            "retry_after_s": {"type": "integer"}}},
        "Accepted": {"type": "object", "required": ["entry_id", "status", "url"], "properties": {
            "entry_id": {"type": "string"}, "status": {"type": "string", "enum": ["queued"]},
            "url": {"type": "string"}, "generation": {"type": "integer"}}},
        "EntryStatus": {"type": "object", "required": ["entry_id", "status", "url", "record"], "properties": {
            "entry_id": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
            "url": {"type": "string"}, "received_at": {"type": "string"}, "updated_at": {"type": "string"},
            "generation": {"type": "integer"}, "awaiting_after": {"type": "boolean"},
            "photos": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "role": {"type": "string", "enum": ["before", "after"]},
                "sha256": {"type": "string"}, "size_bytes": {"type": "integer"}}}},
            "record": record}},
        "Health": {"type": "object", "required": ["status", "queue"], "properties": {
            "status": {"type": "string", "enum": ["ok"]}, "queue": {"type": "integer"},
            "worker": {"type": "string", "enum": ["running", "stopped", "failing"]}}},
    }


def _operation(route: Route, cfg: IntakeConfig) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary, "responses": {}}
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.path_params]
    params += [{"name": f.name, "in": "query", "required": False, "description": f.description,
                "schema": F.json_schema(f)} for f in route.query]
    if params:
        op["parameters"] = params
    if route.body:
        op["requestBody"] = _body(route.body, cfg)
    op["security"] = [{"bearer": []}] if route.auth else []
    for status, text, schema in route.responses:
        resp: dict[str, Any] = {"description": text}
        if schema is not None:
            resp["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        elif route.name == "results":
            resp["content"] = {"application/x-ndjson": {"schema": {"type": "string"}},
                               "text/csv": {"schema": {"type": "string"}}}
        elif route.name == "openapi":
            resp["content"] = {"application/json": {"schema": {"type": "object"}}}
        if status == 429:
            resp["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        op["responses"][str(status)] = resp
    return op


def document(cfg: IntakeConfig, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API under this configuration's limits."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, cfg)
    return {
        "openapi": "3.1.0",
        "info": {"title": "cleanup-verify intake API", "version": version,
                 "description": "Entries of a clean-up contest posted by the contest's app, scored as they arrive "
                                "(docs/api.md). Tokens: cleanup-verify tokens add NAME --workspace WS."},
        "servers": [{"url": API_PREFIX}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas()},
        "paths": paths,
    }
