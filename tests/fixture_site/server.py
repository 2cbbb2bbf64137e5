"""FixtureSite: the route table served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .routes import ROUTES, Handler, Request, Response, not_found

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 5.0  # seconds to wait for the serving thread on stop()
# SO_LINGER on, timeout 0: close() sends RST instead of FIN.
LINGER_RESET = struct.pack("ii", 1, 0)

RequestRecord = tuple[str, str, dict[str, str]]  # (method, path with query, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client never blocks interpreter exit
    allow_reuse_address = True
    site: FixtureSite


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive like a real site (crawlers reuse connections);
    # every response carries Content-Length so that works.
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"
    server: _Server

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        site = self.server.site
        headers = dict(self.headers.items())
        site._record((self.command, self.path, headers))
        path, _, query = self.path.partition("?")
        request = Request(self.command, path, query, headers, site.base_url)
        handler = site.routes.get(path, not_found)
        try:
            response = handler(request)
        except Exception:  # a broken handler must show up in the test, not hang it
            site._record_error(f"{self.command} {self.path}\n{traceback.format_exc()}")
            response = Response(500, b"500 fixture handler error\n", "text/plain; charset=utf-8")
        if response.delay:
            time.sleep(response.delay)
        if response.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        pass  # the request log replaces stderr noise


class FixtureSite:
    """The fixture news site on 127.0.0.1, served from a daemon thread.

    ``with FixtureSite() as site: site.url("/feeds/rss.xml")``. Port 0 (the
    default) picks a free port; :attr:`base_url` is known after :meth:`start`.
    """

    def __init__(self, port: int = 0, host: str = LOOPBACK, routes: dict[str, Handler] | None = None):
        self.host = host
        self.port = port
        # A copy: add_route on one instance never leaks into another.
        self.routes: dict[str, Handler] = dict(ROUTES if routes is None else routes)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._errors: list[str] = []

    # --- lifecycle -------------------------------------------------------
    def start(self) -> FixtureSite:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.site = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"fixture-site:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        self._server = None
        self._thread = None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # --- addresses -------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FixtureSite is not started")
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # --- routes ----------------------------------------------------------
    def add_route(self, path: str, handler: Handler) -> None:
        """Serve ``path`` with ``handler`` on this instance (e.g. a fault route)."""
        self.routes[path] = handler

    def remove_route(self, path: str) -> None:
        self.routes.pop(path, None)

    # --- request log -----------------------------------------------------
    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _record_error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    @property
    def requests(self) -> list[RequestRecord]:
        """(method, path incl. query, headers) of every request so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of handlers that raised (they answered 500)."""
        with self._lock:
            return list(self._errors)

    def reset_log(self) -> None:
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    def paths(self, method: str | None = None) -> list[str]:
        """Requested paths (with query), optionally of one method."""
        return [path for m, path, _ in self.requests if method is None or m == method]

    def count(self, path: str) -> int:
        """How often ``path`` was requested. Without a "?" in ``path`` the
        query is ignored (``/a.html`` counts ``/a.html?utm_source=rss``)."""
        if "?" in path:
            return sum(1 for p in self.paths() if p == path)
        return sum(1 for p in self.paths() if p.partition("?")[0] == path)
