"""Logging: text for people, or one JSON object a line for log pipelines.

Every line carries the source and run id of the crawl it belongs to
(``-`` for the daemon's own lines outside a run). The daemon forwards its
crawl processes' stderr through here, so a JSON log stays one object a line
even when a crawl prints something that did not go through logging.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from datetime import datetime, timezone

# The crawl a log line belongs to; set per process (a crawl) or per thread (the daemon's jobs).
log_source: contextvars.ContextVar[str] = contextvars.ContextVar("log_source", default="-")
log_run_id: contextvars.ContextVar[str] = contextvars.ContextVar("log_run_id", default="-")
_static_context: dict[str, str] = {}
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] source=%(source)s run=%(run_id)s %(message)s"
CHILD_LOGGER = "newsarchive.crawl"
# Scrapy's logging set-up (its DEFAULT_LOGGING) puts this logger at DEBUG for
# any root level: every debug message of Scrapy's was made into a record
# (the caller's frame looked up, the time, thread and process read) only for
# the root handler to drop it. Four an article ("Crawled" for the page and
# its image, "Scraped", "File (downloaded)"), on the reactor thread.
SCRAPY_LOGGER = "scrapy"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(f"{value!r} is neither text nor json")
    return value


def check_log_level(value: str) -> str:
    """A level's name, in any case (debug is DEBUG)."""
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not a log level ({', '.join(LOG_LEVELS)})")
    return value.upper()


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A record may carry its own (a crawl's line the daemon forwards).
        if not isinstance(getattr(record, "source", None), str):
            record.source = _static_context.get("source") or log_source.get()
        if not isinstance(getattr(record, "run_id", None), str):
            record.run_id = _static_context.get("run_id") or log_run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        child = getattr(record, "child_entry", None)
        if isinstance(child, dict):
            return json.dumps(child, ensure_ascii=False)
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
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        child = getattr(record, "child_text", None)
        if isinstance(child, str):
            return child  # a crawl's own text line: already formatted
        return super().format(record)


def setup_logging(log_format: str = "text", level: str = "INFO", *, source: str | None = None, run_id: str | None = None) -> None:
    """Install the one root handler (stderr); crawl processes pass their source and run id.

    ``json`` gives JSON lines; anything else, text.
    """
    if source:
        _static_context["source"] = source
    if run_id:
        _static_context["run_id"] = run_id
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    # On the handler too: Scrapy resets the root logger's level when it starts.
    handler.setLevel(level.upper())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Warnings and uncaught exceptions become log lines too, never raw stderr.
    logging.captureWarnings(True)
    _install_excepthooks()


def scrapy_logs_at_root_level() -> None:
    """Undo Scrapy's DEBUG level on its loggers (see SCRAPY_LOGGER): they log at the root's level, as all others.

    To be called after Scrapy set up logging (a CrawlerProcess does when made).
    """
    logging.getLogger(SCRAPY_LOGGER).setLevel(logging.NOTSET)


def _install_excepthooks() -> None:
    def main_hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("newsarchive").critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def thread_hook(args) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        logging.getLogger("newsarchive").error("uncaught exception in thread %s", name,
                                               exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_hook
    threading.excepthook = thread_hook


def forward_child_line(line: str, source: str, run_id: str) -> None:
    """Log one stderr line of a crawl process under its source and run id.

    A JSON object line (the crawl logs JSON too) passes through whole, with
    ``source`` and ``run_id`` filled in if it lacks them; any other line
    (a traceback, a warning printed by a library) becomes a log line of its own.
    """
    line = line.rstrip("\r\n")
    if not line.strip():
        return
    logger = logging.getLogger(CHILD_LOGGER)
    entry = None
    if line.lstrip().startswith("{"):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
    extra: dict = {"source": source, "run_id": run_id}
    if isinstance(entry, dict):
        entry.setdefault("source", source)
        entry.setdefault("run_id", run_id)
        level = logging.getLevelName(str(entry.get("level", "INFO")).upper())
        level = level if isinstance(level, int) else logging.INFO
        extra["child_entry"] = entry
        message = str(entry.get("message", ""))
    else:
        level = logging.WARNING  # stderr that bypassed logging is worth a look
        extra["child_text"] = line
        message = line
    if logger.isEnabledFor(level):
        logger.log(level, "%s", message, extra=extra)
