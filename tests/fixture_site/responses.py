"""Request and Response of the route table, and the small response helpers.

Kept apart from ``routes`` so that route modules of their own (``zaker_pages``,
``epaper``) can build responses without importing the table they join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

HTML_UTF8 = "text/html; charset=utf-8"
# The GBK page's header names no charset: only its <meta> does.
HTML_NO_CHARSET = "text/html"
TEXT_UTF8 = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: str  # raw, without "?"
    headers: dict[str, str]
    base: str  # the site's origin, e.g. http://127.0.0.1:41234


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = HTML_UTF8
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (slow pages, timeouts)
    reset: bool = False  # close with a TCP RST and send nothing


Handler = Callable[[Request], Response]


def html(text: str, *, delay: float = 0.0, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"), HTML_UTF8, delay=delay)


def text(body: str, content_type: str = TEXT_UTF8) -> Response:
    return Response(200, body.encode("utf-8"), content_type)


def not_found(request: Request) -> Response:
    return Response(404, f"404 Not Found: {request.path}\n".encode(), TEXT_UTF8)
