"""The intake API's errors: one JSON object each, ``{"error": CODE, "message": WORDS, ...}`` with the field or
file concerned, so that an app can show the entrant what to fix."""
from __future__ import annotations

from typing import Any

#: HTTP status -> the error code an app can switch on
CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
         413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    """A refused request: HTTP ``status``, a one-line ``message``, and details (``field``, ``file``, ...)
    that go into the JSON body; ``headers`` (Retry-After, WWW-Authenticate) go with the response."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = {k: v for k, v in details.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"error": CODES.get(self.status, "error"), "message": self.message, **self.details}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of an error raised outside the API's own checks (an unknown URL, a body over the server's
    limit)."""
    return ApiError(status, message).body()
