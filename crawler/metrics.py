"""Prometheus metrics of the daemon, and the small HTTP server for them.

``/metrics`` in Prometheus' text format (every name prefixed ``newsarchive_``)
and ``/healthz`` (200 while the scheduler runs, 503 once it stops).
docs/operations.md lists every metric with its meaning.
"""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, make_wsgi_app

from archive.runs import RunRecord

# Run durations from seconds to hours.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
# Article outcomes as run records count them (label value -> run record counter).
# "unchanged" and "duplicate" are the articles a run skipped.
# "spooled" ones wait in the local spool for an object store that was out of reach.
ARTICLE_STATUSES = {"archived": "archived", "updated": "updated", "unchanged": "unchanged", "duplicate": "duplicates",
                    "spooled": "spooled", "failed": "failed"}
SKIPPED_STATUSES = ("unchanged", "duplicate")
RUN_RESULTS = ("ok", "failed", "killed", "crashed", "interrupted", "busy")


class DaemonMetrics:
    def __init__(self) -> None:
        # *_created series double the output and no alert needs them.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        r = self.registry
        self.articles = Counter("newsarchive_articles", "Articles by outcome: archived (new), updated, unchanged and duplicate (skipped), spooled, failed",
                                ["source", "status"], registry=r)
        self.images = Counter("newsarchive_images", "Images by outcome: stored, failed", ["source", "status"], registry=r)
        self.image_bytes = Counter("newsarchive_image_bytes", "Bytes of images stored", ["source"], registry=r)
        self.runs = Counter("newsarchive_runs", "Crawl runs by result", ["source", "result"], registry=r)
        self.duration = Histogram("newsarchive_run_duration_seconds", "Wall time of crawl runs", ["source"], buckets=DURATION_BUCKETS, registry=r)
        self.last_success = Gauge("newsarchive_last_success_timestamp_seconds", "When a source last finished a successful run (unix time)", ["source"], registry=r)
        self.last_run = Gauge("newsarchive_last_run_timestamp_seconds", "When a source last finished a run, whatever its result (unix time)", ["source"], registry=r)
        self.next_run = Gauge("newsarchive_next_run_timestamp_seconds", "When the daemon runs a source next, backoff included (unix time)", ["source"], registry=r)
        self.interval = Gauge("newsarchive_source_interval_seconds", "How often a source's schedule fires", ["source"], registry=r)
        self.failures_in_row = Gauge("newsarchive_source_consecutive_failures", "Failed runs in a row (0 after a success)", ["source"], registry=r)
        self.lag = Gauge("newsarchive_scheduler_lag_seconds", "How late the last run of a source started after its scheduled time", ["source"], registry=r)
        self.running = Gauge("newsarchive_crawls_running", "Crawls running now", registry=r)
        self.max_running = Gauge("newsarchive_crawls_max", "The cap on concurrent crawls (daemon.max_concurrent_crawls)", registry=r)
        self.started = Gauge("newsarchive_daemon_start_timestamp_seconds", "When the daemon started (unix time)", registry=r)

    def add_source(self, source: str, interval_seconds: float, last_success_ts: float | None, failures_in_row: int) -> None:
        """Every series of a source exists from the start (at 0), so rates and alerts see it before its first run."""
        for status in ARTICLE_STATUSES:
            self.articles.labels(source, status)
        for status in ("stored", "failed"):
            self.images.labels(source, status)
        self.image_bytes.labels(source)
        for result in RUN_RESULTS:
            self.runs.labels(source, result)
        self.duration.labels(source)
        self.interval.labels(source).set(interval_seconds)
        self.failures_in_row.labels(source).set(failures_in_row)
        if last_success_ts is not None:
            self.last_success.labels(source).set(last_success_ts)

    def record_run(self, source: str, run: RunRecord | None, result: str, duration: float, finished_ts: float) -> None:
        self.runs.labels(source, result).inc()
        if result == "busy":
            return  # another process crawled it, or (distributed) its last run is still open: nothing of ours
        self.duration.labels(source).observe(duration)
        self.last_run.labels(source).set(finished_ts)
        if result == "ok":
            self.last_success.labels(source).set(finished_ts)
        if run is None:
            return
        counts = run.per_source.get(source, {})
        for status, counter in ARTICLE_STATUSES.items():
            self.articles.labels(source, status).inc(counts.get(counter, 0))
        self.images.labels(source, "stored").inc(counts.get("images_stored", 0))
        self.images.labels(source, "failed").inc(counts.get("images_failed", 0))
        self.image_bytes.labels(source).inc(counts.get("image_bytes", 0))


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds up /healthz or the daemon's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
        pass


def serve_metrics(metrics: DaemonMetrics, port: int, healthy: Callable[[], bool], host: str = "127.0.0.1") -> WSGIServer:
    """Serve /metrics and /healthz from a background thread; returns the server (shutdown() to stop).

    Port 0 picks a free port: read it from ``server.server_port``.
    """
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

    server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
