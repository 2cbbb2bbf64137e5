"""Prometheus metrics of the daemon, and the small HTTP server for them.

``/metrics`` in Prometheus' text format (every name prefixed ``newsarchive_``)
and ``/healthz`` (200 while the scheduler runs).
"""

from __future__ import annotations

import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, make_wsgi_app

from archive.runs import RunRecord

# Run durations from seconds to hours.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
ARTICLE_COUNTERS = ("archived", "updated", "unchanged", "duplicates", "failed")


class DaemonMetrics:
    def __init__(self) -> None:
        # *_created series double the output and no alert needs them.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        r = self.registry
        self.articles = Counter("newsarchive_articles", "Articles by outcome", ["source", "status"], registry=r)
        self.images = Counter("newsarchive_images", "Images by outcome", ["source", "status"], registry=r)
        self.image_bytes = Counter("newsarchive_image_bytes", "Bytes of images stored", ["source"], registry=r)
        self.runs = Counter("newsarchive_runs", "Crawl runs by result", ["source", "result"], registry=r)
        self.duration = Histogram("newsarchive_run_duration_seconds", "Wall time of crawl runs", ["source"], buckets=DURATION_BUCKETS, registry=r)
        self.last_success = Gauge("newsarchive_last_success_timestamp_seconds", "When a source last crawled successfully", ["source"], registry=r)
        self.last_run = Gauge("newsarchive_last_run_timestamp_seconds", "When a source last finished a run", ["source"], registry=r)
        self.failures_in_row = Gauge("newsarchive_source_consecutive_failures", "Failed runs in a row", ["source"], registry=r)
        self.lag = Gauge("newsarchive_scheduler_lag_seconds", "How late the last run of a source started", ["source"], registry=r)
        self.running = Gauge("newsarchive_crawls_running", "Crawls running now", registry=r)

    def record_run(self, source: str, run: RunRecord | None, result: str, duration: float, finished_ts: float) -> None:
        self.runs.labels(source, result).inc()
        self.duration.labels(source).observe(duration)
        self.last_run.labels(source).set(finished_ts)
        if result == "ok":
            self.last_success.labels(source).set(finished_ts)
        if run is None:
            return
        counts = run.per_source.get(source, {})
        for status in ARTICLE_COUNTERS:
            self.articles.labels(source, status).inc(counts.get(status, 0))
        self.images.labels(source, "stored").inc(counts.get("images_stored", 0))
        self.images.labels(source, "failed").inc(counts.get("images_failed", 0))
        self.image_bytes.labels(source).inc(counts.get("image_bytes", 0))


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
        pass


def serve_metrics(metrics: DaemonMetrics, port: int, healthy: Callable[[], bool], host: str = "127.0.0.1") -> WSGIServer:
    """Serve /metrics and /healthz from a background thread; returns the server (shutdown() to stop)."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            ok = healthy()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"stopping\n"]
        if environ.get("PATH_INFO") in ("/metrics", "/"):
            return metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
