"""Logging: text for people, or one JSON object a line for log pipelines.

Every line carries the source and run id of the crawl it belongs to.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import datetime, timezone

# The crawl a log line belongs to; set per process (a crawl) or per thread (the daemon's jobs).
log_source: contextvars.ContextVar[str] = contextvars.ContextVar("log_source", default="-")
log_run_id: contextvars.ContextVar[str] = contextvars.ContextVar("log_run_id", default="-")
_static_context: dict[str, str] = {}
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] source=%(source)s run=%(run_id)s %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.source = _static_context.get("source") or log_source.get()
        record.run_id = _static_context.get("run_id") or log_run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "source": getattr(record, "source", "-"),
            "run_id": getattr(record, "run_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_format: str = "text", level: str = "INFO", *, source: str | None = None, run_id: str | None = None) -> None:
    """Install the one root handler (stderr); crawl processes pass their source and run id."""
    if source:
        _static_context["source"] = source
    if run_id:
        _static_context["run_id"] = run_id
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    # On the handler too: Scrapy resets the root logger's level when it starts.
    handler.setLevel(level.upper())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
