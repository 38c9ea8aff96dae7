"""The Jinja2 environment shared by the static report and the review app (autoescape always on).

Templates never build URLs themselves: they call a ``urls`` object (:class:`StaticUrls` for the report,
the app's own for the server), so the same pages render as files or as live pages.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

import jinja2

from .i18n import LANGS, label


class StaticUrls:
    """Relative links inside the static report. ``depth``: folders between the page and the report root."""

    def __init__(self, depth: int = 0):
        self.prefix = "../" * depth

    def index(self, **_: Any) -> str:
        return self.prefix + "index.html"

    def entry(self, entry_id: str, key: str) -> str:  # noqa: ARG002 - the key is the file name
        return f"{self.prefix}entries/{key}.html"

    def thumb(self, sha256: str) -> str:
        return f"{self.prefix}thumbs/{quote(sha256)}.jpg"

    def static(self, name: str) -> str:
        return self.prefix + "static/" + quote(name)

    def audit(self, **_: Any) -> str:
        return ""

    def problems(self) -> str:
        return self.prefix + "problems.html"


def fmt_score(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def fmt_num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = fmt_score
    env.filters["num"] = fmt_num
    env.globals["LANGS"] = LANGS
    return env


def render(template: str, lang: str = "en", **context: Any) -> str:
    """Render a template with the label function ``t`` for ``lang`` and the given context."""
    lang = lang if lang in LANGS else "en"
    ctx: dict[str, Any] = {"lang": lang, "t": lambda key: label(key, lang), "mode": "static",
                           "csrf_token": "", "user": None, "message": None, "error": None}
    ctx.update(context)
    return environment().get_template(template).render(**ctx)
