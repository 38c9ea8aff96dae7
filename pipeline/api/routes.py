"""The intake API's Flask blueprint, served under ``/api/v1`` by the review app's server (one server, one
port: :func:`pipeline.review.app.create_app` registers it).

Every route of :data:`pipeline.api.spec.ROUTES` but ``health`` and ``openapi.json`` needs ``Authorization:
Bearer TOKEN`` (:mod:`pipeline.api.tokens`) and counts against that token's rate limit; the review app's
session cookie is never read here, and the app's sign-in guard and CSRF check are skipped for this blueprint
(a token cannot open the app: the app does not read the header). Errors are JSON
(:class:`pipeline.api.errors.ApiError`). A post is checked whole (:mod:`pipeline.api.uploads`), its photos are
written, then the entry is stored and queued in one transaction (:mod:`pipeline.store.intake`) before the
``202``; the worker (:mod:`pipeline.api.worker`) is woken and scores it in its own thread.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import __version__, export
from ..config import Config
from ..store import Workspace
from ..store import intake as queue
from . import entries, spec, uploads
from .errors import ApiError, error_body
from .fields import FieldError
from .tokens import RateLimit, authenticate

BLUEPRINT = "api"


def make_blueprint(ws_root: str | Path, cfg: Config | None = None, worker: Any = None) -> Blueprint:
    """The API of the workspace at ``ws_root`` under the limits of ``cfg.intake``; ``worker``: the
    :class:`pipeline.api.worker.IntakeWorker` to wake after a post (None: entries wait in the queue for a
    worker started elsewhere)."""
    root = Path(ws_root).absolute()
    cfg = cfg or Config()
    limits = cfg.intake
    bp = Blueprint(BLUEPRINT, __name__)
    local = threading.local()
    rate = RateLimit(limits.rate_per_minute, limits.rate_burst)
    build = entries.submission_of(root)
    batch = entries.batch_name(root)
    routes = {r.name: r for r in spec.ROUTES}

    def ws() -> Workspace:
        w = getattr(local, "ws", None)
        if w is None:
            w = local.ws = Workspace(root, create=False)
        return w

    def event(name: str, **fields: Any) -> None:
        events = current_app.extensions.get("review_log")
        if events is not None:
            events.event(name, **fields)

    @bp.before_request
    def guard():
        route = routes.get(request.endpoint.rsplit(".", 1)[-1]) if request.endpoint else None
        if route is not None and route.body:
            request.max_content_length = uploads.body_limit(limits, 2 if route.body == "entry" else 1)
        if route is None or not route.auth:
            return None
        token = authenticate(ws(), request.headers.get("Authorization"))
        rate.take(token.name)
        request.environ["cleanup_verify.token"] = token.name
        return None

    @bp.errorhandler(ApiError)
    def api_error(e: ApiError):
        if e.status == 401:
            event("api-refused", address=request.remote_addr or "?", path=request.path[:200], why=e.message)
        resp = jsonify(e.body())
        resp.status_code = e.status
        resp.headers.update(e.headers)
        return resp

    @bp.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return json_http_error(e)

    def token_name() -> str:
        return request.environ["cleanup_verify.token"]

    def record(entry_id: str) -> dict[str, Any] | None:
        return next((r for r in export.records(ws()) if r["entry_id"] == entry_id), None)

    def resource(entry_id: str) -> dict[str, Any] | None:
        e = queue.get(ws(), entry_id)
        done = e is None or e.state == "done"
        return entries.entry_resource(ws(), entry_id, record(entry_id) if done else None)

    def accepted(entry: Any, status: int = 202):
        if worker is not None:
            worker.wake()
        return jsonify({"entry_id": entry.entry_id, "status": "queued", "url": entries.entry_url(entry.entry_id),
                        "generation": entry.generation}), status, {"Location": entries.entry_url(entry.entry_id)}

    # ------------------------------------------------------------------------------------------ routes
    def health():
        return jsonify({"status": "ok", "queue": queue.queue_length(ws()),
                        "worker": worker.state if worker is not None else "stopped"})

    def openapi():
        return jsonify(spec.document(limits, __version__))

    def post_entry():
        try:
            replace = spec.query_value(routes["post_entry"], "replace", request.args.get("replace"), "false") == "true"
        except FieldError as e:
            raise ApiError(422, f"query parameter {e.field} {e.why}", field=e.field) from None
        up = uploads.read_upload(request, limits, ("before", "after"), with_entry=True)
        assert up.entry_id is not None and up.fields is not None
        fingerprint = up.fingerprint()
        existing = queue.get(ws(), up.entry_id)
        if existing is not None and existing.post_fingerprint == fingerprint:
            return jsonify(resource(up.entry_id)), 200
        if existing is None and ws().submission(up.entry_id) is not None:
            raise _batch_conflict(up.entry_id)
        if existing is not None and not replace:
            raise _changed_conflict(up.entry_id)
        photos = uploads.labelled(up.entry_id, up.photos)
        uploads.store_photos(root, up.photos)
        outcome, stored = queue.post_entry(ws(), up.entry_id, token_name(), up.fields, fingerprint, photos, replace,
                                           build, batch)
        if outcome == queue.SAME:
            return jsonify(resource(up.entry_id)), 200
        if outcome == queue.NOT_INTAKE:
            raise _batch_conflict(up.entry_id)
        if outcome == queue.CONFLICT:
            raise _changed_conflict(up.entry_id)
        event("entry-" + outcome, token=token_name(), entry=up.entry_id, photos=len(photos),
              generation=stored.generation)
        return accepted(stored)

    def add_photos(entry_id: str):
        existing = queue.get(ws(), entry_id)
        if existing is None:
            if ws().submission(entry_id) is not None:
                raise _batch_conflict(entry_id)
            raise ApiError(404, f"no entry {entry_id!r} was posted; post it first (POST {entries.API_PREFIX}/entries)",
                           field="entry_id")
        up = uploads.read_upload(request, limits, ("after",), with_entry=False)
        photos = uploads.labelled(entry_id, up.photos, taken={p.name for p in existing.photos},
                                  generation=existing.generation + 1)
        have = {(p.role, p.sha256) for p in existing.photos}
        new = [p for p in photos if (p.role, p.sha256) not in have]
        if not new:
            return jsonify(resource(entry_id)), 200
        if sum(p.role == "after" for p in existing.photos) + len(new) > limits.max_photos_per_role:
            raise _too_many(entry_id, limits.max_photos_per_role)
        uploads.store_photos(root, up.photos)
        outcome, stored = queue.add_photos(ws(), entry_id, token_name(), photos, limits.max_photos_per_role, build,
                                           batch)
        if outcome == queue.SAME:
            return jsonify(resource(entry_id)), 200
        if outcome == queue.TOO_MANY:
            raise _too_many(entry_id, limits.max_photos_per_role)
        if outcome != queue.ADDED or stored is None:
            raise ApiError(404, f"no entry {entry_id!r} was posted", field="entry_id")
        event("entry-photos-added", token=token_name(), entry=entry_id, photos=len(new), generation=stored.generation)
        return accepted(stored)

    def get_entry(entry_id: str):
        body = resource(entry_id)
        if body is None:
            raise ApiError(404, f"no entry {entry_id!r} in this workspace", field="entry_id")
        return jsonify(body)

    def results():
        try:
            fmt = spec.query_value(routes["results"], "format", request.args.get("format"), "jsonl")
        except FieldError as e:
            raise ApiError(422, f"query parameter {e.field} {e.why}", field=e.field) from None
        recs = export.records(ws())
        if fmt == "csv":
            return Response(export.to_csv(ws(), recs).encode("utf-8"), mimetype="text/csv",
                            content_type="text/csv; charset=utf-8")
        return Response(export.to_jsonl(ws(), recs).encode("utf-8"), mimetype="application/x-ndjson",
                        content_type="application/x-ndjson; charset=utf-8")

    views = {"health": health, "openapi": openapi, "post_entry": post_entry, "add_photos": add_photos,
             "get_entry": get_entry, "results": results}
    for route in spec.ROUTES:
        bp.add_url_rule(route.flask_rule, route.name, views[route.name], methods=[route.method])
    return bp


def _changed_conflict(entry_id: str) -> ApiError:
    return ApiError(409, f"entry {entry_id!r} was posted before with other fields or photos; post again with "
                    "?replace=true if the entrant re-posted it (its old photos stay for duplicate checks)",
                    field="entry_id")


def _batch_conflict(entry_id: str) -> ApiError:
    return ApiError(409, f"entry {entry_id!r} came in a batch run, not through the API; entry ids are unique in a "
                    "workspace", field="entry_id")


def _too_many(entry_id: str, limit: int) -> ApiError:
    return ApiError(413, f"entry {entry_id!r} would have more than {limit} after photos "
                    "(intake.max_photos_per_role)", field="after")


def json_http_error(e: HTTPException):
    """An HTTP error of an API URL as the API's JSON (also for URLs no route matched: the app's handler
    calls this for paths under /api/)."""
    status = e.code or 500
    text = {413: "the request body is larger than the server takes (intake limits)",
            404: "no such API route (see /api/v1/openapi.json)",
            405: "method not allowed on this route (see /api/v1/openapi.json)"}.get(status, e.description or e.name)
    resp = jsonify(error_body(status, text))
    resp.status_code = status
    return resp
