"""The judges' review app (Flask, server-rendered, the templates of the static report).

Routes (every one but ``/login``, ``/lang/<code>`` and ``/static/*`` needs a signed-in user and redirects
to ``/login`` otherwise; every POST needs the session's CSRF token in the form field ``csrf_token``)::

    GET  /login, POST /login       sign in (fields username, password; 429 with Retry-After while the name
                                   or the client address is locked after repeated failures)
    POST /logout                   sign out
    GET  /lang/<en|vi>?next=PATH   switch the interface language
    GET  /                         ranking: ?sort=rank|entry|participant|status &flag=CODE &status=S &page=N
    GET  /entry?id=ENTRY_ID        one entry: photos with boxes, overlay, duplicates, score, decisions
    POST /entry/decide             a decision (entry_id, base_version, decision, score_override, reason)
    POST /entry/corrections        detection corrections of one photo (sha256, model_id, not_litter, missed)
    GET  /audit?page=N             every decision, newest first
    GET  /thumbs/<sha256>.jpg      a thumbnail
    /api/v1/...                    the intake API (pipeline.api.routes: bearer tokens, JSON; no session)

Each server thread has its own workspace connection. The ranking is computed once and kept until
:func:`pipeline.review.review_rows.change_marker` reports a change in entries, results or reviews.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, send_file, session, url_for
from werkzeug.exceptions import HTTPException

from ..api.entries import API_PREFIX
from ..api.routes import BLUEPRINT as API_BLUEPRINT
from ..api.routes import json_http_error, make_blueprint
from ..config import Config
from ..report import views
from ..report.i18n import LANGS, label
from ..report.render import render
from ..store import Workspace
from ..store import intake
from ..store import reviews as review_rows
from . import auth, decisions
from .activity import ReviewLog
from .corrections_export import stored_detections


PAGE_SIZE = 100
RANK_SORTS = ("rank", "score", "entry", "participant", "status")
STATUS_FILTERS = ("pending", "scored", "needs_review", "error", "unscored", "accepted", "overridden", "disqualified", "reviewed",
                  "unreviewed")
PUBLIC_ENDPOINTS = frozenset({"login", "set_lang", "static"})


class AppUrls:
    """The ``urls`` object the shared templates call, for the live app."""

    def index(self, sort: str | None = None, flag: str | None = None, status: str | None = None,
              page: int | None = None) -> str:
        args = {k: v for k, v in (("sort", sort), ("flag", flag), ("status", status), ("page", page))
                if v not in (None, "", "rank", 1)}
        return url_for("ranking", **args)

    def entry(self, entry_id: str, key: str = "") -> str:  # noqa: ARG002
        return url_for("entry", id=entry_id)

    def thumb(self, sha256: str) -> str:
        return url_for("thumb", sha256=sha256)

    def static(self, name: str) -> str:
        return url_for("static", filename=name)

    def audit(self, page: int | None = None) -> str:
        return url_for("audit", page=page) if page and page > 1 else url_for("audit")

    def lang(self, code: str) -> str:
        return url_for("set_lang", code=code, next=request.full_path.rstrip("?"))

    def login(self) -> str:
        return url_for("login")

    def logout(self) -> str:
        return url_for("logout")

    def decide(self) -> str:
        return url_for("decide")

    def corrections(self) -> str:
        return url_for("corrections")


@dataclass(frozen=True)
class DecisionForm:
    """What the decision form shows (the judge's own input is kept when it is sent back)."""

    decision: str = ""
    score_override: str = ""
    reason: str = ""


class _RankingCache:
    """Ranking rows of the whole workspace, kept between requests.

    Two levels: the pipeline's rows (parsed from stored JSON; rebuilt when entries or results change) and
    the ranked rows with decisions applied (re-ranked, cheaply, when only decisions changed).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base_marker: tuple[int, ...] | None = None
        self._marker: tuple[int, ...] | None = None
        self._base: list[views.RankingRow] = []
        self._rows: list[views.RankingRow] = []
        self._codes: list[str] = []

    def get(self, ws: Workspace) -> tuple[list[views.RankingRow], list[str]]:
        marker = review_rows.change_marker(ws)
        with self._lock:
            if marker != self._marker:
                if marker[:-1] != self._base_marker:
                    self._base = views.pipeline_rows(ws)
                    self._codes = sorted({c for r in self._base for c in r.flag_codes})
                    self._base_marker = marker[:-1]
                self._rows = views.ranking_rows(ws, base=self._base)
                self._marker = marker
            return self._rows, self._codes


def create_app(ws_root: str | Path, secure_cookies: bool = False, page_size: int = PAGE_SIZE,
               warm: bool = True, throttle: auth.LoginThrottle | None = None, proxy_hops: int = 0,
               cfg: Config | None = None, worker: Any = None) -> Flask:
    """The review app for the workspace at ``ws_root`` (which must exist). ``warm``: build the ranking now,
    so that the first judge does not wait for it (about 0.3-0.5 s per 5,000 entries on a slow machine).
    ``throttle``: failed sign-in limits (default :class:`pipeline.review.auth.LoginThrottle`: 5 failures of
    one name or 20 of one address within 15 min lock it for 1 min, doubling up to 15 min). ``proxy_hops``:
    the number of reverse proxies in front of the app whose ``X-Forwarded-For``/``-Proto``/``-Host`` headers
    are trusted (werkzeug's ProxyFix), so that sign-in limits and the log see the client's address; 0 (the
    default) trusts none. Events go to ``WS/logs/review.log`` (:mod:`pipeline.review.activity`). The intake API
    (:mod:`pipeline.api`) is served under ``/api/v1`` with the limits of ``cfg.intake``; ``worker``: its queue's
    :class:`pipeline.api.worker.IntakeWorker` (started by the caller), woken after each post."""
    ws_root = Path(ws_root).absolute()  # Flask resolves relative file paths against the package, not the cwd
    Workspace(ws_root, create=False).close()  # fail now, clearly, when it is not a workspace
    static_dir = str(resources.files("pipeline.report") / "static")
    app = Flask(__name__, static_folder=static_dir, static_url_path="/static")
    app.secret_key = auth.secret_key(ws_root)
    app.config.update(
        SESSION_COOKIE_NAME="cv_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if proxy_hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops, x_host=proxy_hops)  # type: ignore[method-assign]
    events = ReviewLog(ws_root)
    app.extensions["review_log"] = events
    local = threading.local()
    cache = _RankingCache()
    throttle = throttle or auth.LoginThrottle()
    urls = AppUrls()

    def ws() -> Workspace:
        w = getattr(local, "ws", None)
        if w is None:
            w = local.ws = Workspace(ws_root, create=False)
        return w

    def lang() -> str:
        code = session.get("lang")
        return code if code in LANGS else "en"

    def page(template: str, http_status: int = 200, **ctx: Any):
        html = render(template, lang=lang(), mode="app", urls=urls, csrf_token=session.get("csrf", ""),
                      user=getattr(g, "user", None), **ctx)
        return html, http_status

    if warm:
        with Workspace(ws_root, create=False) as w:
            cache.get(w)

    app.register_blueprint(make_blueprint(ws_root, cfg, worker), url_prefix=API_PREFIX)

    # ---------------------------------------------------------------------------------- request guards
    @app.before_request
    def guard():
        if request.blueprint == API_BLUEPRINT or _is_api(request.path):  # bearer tokens only (pipeline.api.routes)
            return None  # no session, no CSRF; an unknown API URL gets the API's JSON 404
        if "csrf" not in session:
            session["csrf"] = auth.new_csrf_token()
        if request.method == "POST" and not auth.csrf_ok(session.get("csrf"), request.form.get("csrf_token")):
            abort(400, description="missing or wrong csrf_token")
        g.user = None
        name = session.get("user")
        if name:
            g.user = review_rows.get_user(ws(), name)
            if g.user is None:  # account removed: sign out
                session.pop("user", None)
        if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
            if request.method == "GET":
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            abort(403)
        return None

    @app.after_request
    def headers(resp):
        resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self'; script-src 'self'; "
                                                   "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                                                   "form-action 'self'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        if resp.mimetype == "text/html":
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if _is_api(request.path):
            return json_http_error(e)
        key = {400: "bad_request", 404: "not_found"}.get(e.code or 0)
        heading = label(key, lang()) if key else f"{e.code} {e.name}"
        return page("message.html", http_status=e.code or 500, heading=heading)

    # ------------------------------------------------------------------------------------------ auth
    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        if request.method == "POST":
            name = request.form.get("username", "")[:64]
            keys = auth.throttle_keys(name, request.remote_addr)
            wait = throttle.locked_for(*keys)
            if wait > 0:  # refused before the password is checked
                events.warning("sign-in-refused", name=name, address=request.remote_addr or "?",
                               seconds=math.ceil(wait))
                html, status = page("login.html", http_status=429,
                                    error=label("too_many_logins", lang()).format(minutes=math.ceil(wait / 60)))
                return html, status, {"Retry-After": str(math.ceil(wait))}
            user = review_rows.get_user(ws(), name)
            if auth.verify_password(user.password_hash if user else None, request.form.get("password", "")):
                assert user is not None
                throttle.succeeded(keys[0])
                if auth.needs_rehash(user.password_hash):
                    review_rows.set_password_hash(ws(), name, auth.hash_password(request.form["password"]))
                keep_lang = session.get("lang")
                session.clear()  # a fresh session (and CSRF token) at sign-in: no session fixation
                session.permanent = True
                session["user"] = user.username
                session["csrf"] = auth.new_csrf_token()
                if keep_lang:
                    session["lang"] = keep_lang
                events.event("sign-in", name=user.username, address=request.remote_addr or "?")
                return redirect(_safe_next(request.args.get("next")))
            throttle.failed(*keys)
            events.warning("sign-in-failed", name=name, address=request.remote_addr or "?")
            locked = throttle.locked_for(*keys)
            if locked > 0:
                events.warning("sign-in-locked", name=name, address=request.remote_addr or "?",
                               seconds=math.ceil(locked))
            error = label("bad_login", lang())
        return page("login.html", http_status=401 if error else 200, error=error)

    @app.post("/logout")
    def logout():
        events.event("sign-out", name=g.user.username if g.user else "?")
        session.clear()
        return redirect(url_for("login"))

    @app.get("/lang/<code>")
    def set_lang(code: str):
        if code in LANGS:
            session["lang"] = code
        return redirect(_safe_next(request.args.get("next")))

    # --------------------------------------------------------------------------------------- ranking
    @app.get("/")
    def ranking():
        rows, codes = cache.get(ws())
        sort = request.args.get("sort", "rank")
        sort = sort if sort in RANK_SORTS else "rank"
        flag = request.args.get("flag", "")
        status = request.args.get("status", "")
        shown = _filter(rows, flag, status if status in STATUS_FILTERS else "")
        shown = _sort(shown, sort)
        pages = max(1, math.ceil(len(shown) / page_size))
        try:
            pg = min(max(1, int(request.args.get("page", "1"))), pages)
        except ValueError:
            pg = 1
        on_page = shown[(pg - 1) * page_size:pg * page_size]
        first_waiting = next((r for r in rows if r.review is None and r.status != "scored"), None)
        return page("ranking.html", arriving=intake.waiting(ws()), rows=on_page, groups=views.tier_groups(on_page), summary=views.ranking_summary(rows),
                    photos=ws().photo_counts(), first_waiting=first_waiting,
                    shown_count=len(shown), flag_codes=codes, statuses=STATUS_FILTERS,
                    sort=sort, flag=flag, status=status, page=pg, pages=pages)

    # ----------------------------------------------------------------------------------------- entry
    def entry_page(entry_id: str, status: int = 200, form: DecisionForm | None = None, **ctx: Any):
        e = views.entry_view(ws(), entry_id)
        if e is None:
            abort(404)
        ctx.setdefault("conflict", None)
        rows, _ = cache.get(ws())
        pos = next((i for i, r in enumerate(rows) if r.entry_id == entry_id), None)
        after = rows[pos + 1:] + rows[:pos] if pos is not None else []
        next_row = next((r for r in after if r.review is None), None)  # the next entry nobody decided yet
        prev_in_order = rows[pos - 1] if pos else None  # neighbours in ranking order (keys p and n)
        next_in_order = rows[pos + 1] if pos is not None and pos + 1 < len(rows) else None
        return page("entry.html", http_status=status, e=e, form=form or DecisionForm(), next_entry=next_row,
                    place=rows[pos] if pos is not None else None, prev_in_order=prev_in_order,
                    next_in_order=next_in_order, **ctx)

    @app.get("/entry")
    def entry():
        msg = {"decision": "saved", "corrections": "corrections_saved"}.get(request.args.get("saved", ""))
        return entry_page(request.args.get("id", ""), message=label(msg, lang()) if msg else None)

    @app.post("/entry/decide")
    def decide():
        f = request.form
        entry_id = f.get("entry_id", "")
        form = DecisionForm(f.get("decision", ""), f.get("score_override", "").strip(), f.get("reason", ""))
        try:
            base = int(f.get("base_version", ""))
            score = float(form.score_override) if form.score_override else None
            if score is not None and not math.isfinite(score):
                raise ValueError
        except ValueError:
            return entry_page(entry_id, status=400, form=form, error="score and version must be numbers")
        try:
            result = decisions.decide(ws(), entry_id, g.user.username, form.decision, score, form.reason, base)
        except decisions.ReviewError as e:
            if ws().submission(entry_id) is None:
                abort(404)
            return entry_page(entry_id, status=400, form=form, error=str(e))
        if result.review is None:
            events.event("decision-conflict", judge=g.user.username, entry=entry_id, base_version=base,
                         current_version=result.conflict.version if result.conflict else 0)
            return entry_page(entry_id, status=409, form=form, conflict=result.conflict)
        r = result.review
        events.event("decision", judge=r.judge, entry=r.entry_id, decision=r.decision,
                     score="-" if r.score_override is None else r.score_override, version=r.version,
                     reason=r.reason)
        return redirect(url_for("entry", id=entry_id, saved="decision") + "#decide")

    @app.post("/entry/corrections")
    def corrections():
        f = request.form
        entry_id, sha = f.get("entry_id", ""), f.get("sha256", "")
        if not views.is_sha256(sha) or sha not in {p.sha256 for p in ws().entry_photos(entry_id)}:
            abort(404)
        det = stored_detections(ws(), sha, f.get("model_id", ""))
        meta = ws().photo_meta(sha)
        model_id = det.model_id if det is not None else f.get("model_id", "")
        size = det.image_size if det is not None else ((meta.width or 0, meta.height or 0) if meta else (0, 0))
        if not model_id or not size[0] or not size[1]:
            abort(400)
        try:
            idx = sorted({int(v) for v in f.getlist("not_litter")})
            dropped = set(f.getlist("drop_missed"))
            missed = [_box(v) for v in f.getlist("missed") if v not in dropped]
        except ValueError:
            abort(400)
        n = len(det) if det is not None else 0
        if any(i < 0 or i >= n for i in idx) or len(missed) > 200:
            abort(400)
        assert det is not None or not idx
        not_litter = [(i, tuple(float(v) for v in det.xyxy[i])) for i in idx] if det is not None else []
        saved = decisions.replace_corrections(ws(), sha, model_id, g.user.username, not_litter, missed,
                                          (int(size[0]), int(size[1])))
        events.event("corrections", judge=g.user.username, entry=entry_id, photo=sha[:16], model=model_id,
                     not_litter=sum(k.kind == "not_litter" for k in saved),
                     missed=sum(k.kind == "missed" for k in saved))
        return redirect(url_for("entry", id=entry_id, saved="corrections"))

    # ----------------------------------------------------------------------------------------- audit
    @app.get("/audit")
    def audit():
        try:
            pg = max(1, int(request.args.get("page", "1")))
        except ValueError:
            pg = 1
        reviews, total = review_rows.audit_log(ws(), limit=page_size, offset=(pg - 1) * page_size)
        return page("audit.html", reviews=reviews, page=pg, pages=max(1, math.ceil(total / page_size)))

    @app.get("/thumbs/<sha256>.jpg")
    def thumb(sha256: str):
        if not views.is_sha256(sha256):
            abort(404)
        path = ws().thumb_path(sha256)
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype="image/jpeg", conditional=True, max_age=3600)

    return app


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _safe_next(target: str | None) -> str:
    """A local path to go back to after sign-in or a language switch; anything else goes to the ranking."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return url_for("ranking")


def _filter(rows: list[views.RankingRow], flag: str, status: str) -> list[views.RankingRow]:
    out = rows
    if flag:
        out = [r for r in out if flag in r.flag_codes]
    if status == "reviewed":
        out = [r for r in out if r.review is not None]
    elif status == "unreviewed":
        out = [r for r in out if r.review is None]
    elif status == "pending":  # what judges still have to decide (pipeline.ranking.final_status)
        out = [r for r in out if r.final_status == "pending"]
    elif status:
        out = [r for r in out if r.shown_status == status]
    return out


def _sort(rows: list[views.RankingRow], sort: str) -> list[views.RankingRow]:
    if sort == "entry":
        return sorted(rows, key=lambda r: r.entry_id)
    if sort == "participant":
        return sorted(rows, key=lambda r: ((r.participant or "").casefold(), r.provisional_rank))
    if sort == "status":
        return sorted(rows, key=lambda r: (r.shown_status, r.provisional_rank))
    return rows  # rank / score: the cached order


def _box(value: str) -> tuple[float, float, float, float]:
    parts = [float(v) for v in value.split(",")]
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise ValueError(f"bad box {value!r}")
    return parts[0], parts[1], parts[2], parts[3]


class BackgroundServer:
    """The app served by a threaded werkzeug server in a daemon thread (tests, screenshots, benchmarks).

    ``port=0`` picks a free port; ``url`` is ``http://HOST:PORT``. Call :meth:`stop` when done.
    """

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0):
        from werkzeug.serving import make_server
        self._server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="review-app", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
