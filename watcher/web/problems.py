"""Errors of the API as `application/problem+json` (RFC 9457), never an HTML page.

Every error under `API_PREFIX` is one JSON object: `type` (about:blank: the status says it
all), `title` (the status's phrase), `status`, `detail` (what to do, in one sentence), and for a
bad parameter `parameter` (its name). The HTML pages keep their pages (`app.py`).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

API_PREFIX = "/api/"
MEDIA_TYPE = "application/problem+json"
# RFC 9110's names, whatever Python version names them otherwise (3.11 still says "Unprocessable
# Entity" and "Request Entity Too Large").
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


class Problem(HTTPException):
    """An API error: its status, its one-sentence detail, and extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(status, detail, headers)
        self.extensions = extensions


def bad_parameter(name: str, detail: str) -> Problem:
    """A 422 naming the parameter (query, path or body member) at fault."""
    return Problem(422, f"{name}: {detail}", parameter=name)


def problem_body(status: int, detail: str, **extensions: Any) -> bytes:
    """The problem object, as bytes."""
    data = {
        "type": "about:blank",
        "title": TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def problem_response(exc: HTTPException) -> Response:
    """The answer to an HTTP error raised under /api (a `Problem` or Starlette's own 404/405)."""
    extensions = exc.extensions if isinstance(exc, Problem) else {}
    headers = {**(exc.headers or {}), "cache-control": "no-store"}
    return Response(
        problem_body(exc.status_code, str(exc.detail), **extensions),
        status_code=exc.status_code,
        media_type=MEDIA_TYPE,
        headers=headers,
    )
