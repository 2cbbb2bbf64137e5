"""Running one crawl in this process: config in, run record out.

Twisted's reactor cannot restart, so a process runs one crawl; the daemon
starts a process per crawl (``newsarchive crawl`` itself).
"""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Iterator

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.runs import RunRecord, new_run_id
from crawler.config import Config, SourceBase
from crawler.logs import scrapy_logs_at_root_level
from crawler.state import SECONDS_PER_DAY, STALE_RUN_FILE_DAYS, remove_stale_run_files, run_file

SETTINGS_MODULE = "crawler.settings"
# Scrapy's HTTP download handler: every crawl imports it as it builds its engine.
HTTP_HANDLER_MODULE = "scrapy.core.downloader.handlers.http11"


def source_hosts(config: Config) -> list[str]:
    """Hosts the operator configured: fetched even when private (a source on the LAN)."""
    from urllib.parse import urlsplit

    return sorted({(urlsplit(url).hostname or "").lower() for source in config.sources for url in source.start_urls} - {""})


def crawl_settings(config: Config, *, archive_url: str | None = None, run_id: str | None = None, progress: bool = False, log_level: str | None = None) -> Settings:
    """Scrapy settings: the defaults module, then the config file's values."""
    settings = Settings()
    settings.setmodule(SETTINGS_MODULE, priority="project")
    crawl = config.crawl
    settings.setdict(
        {
            "NEWSARCHIVE_ARCHIVE_URL": archive_url or config.archive.url,
            "NEWSARCHIVE_ARCHIVE_ENDPOINT": config.archive.endpoint_url,
            "NEWSARCHIVE_IMAGES": crawl.images,
            "NEWSARCHIVE_EXTRACT_WORKERS": -1 if crawl.extract_workers is None else crawl.extract_workers,
            "NEWSARCHIVE_RUN_ID": run_id or new_run_id(),
            "NEWSARCHIVE_PROGRESS": progress,
            "NEWSARCHIVE_STATE_DIR": config.daemon.state_dir,
            "NEWSARCHIVE_INCREMENTAL": crawl.incremental,
            "HTTPCACHE_ENABLED": crawl.incremental,
            "HTTPCACHE_DIR": str((Path(config.daemon.state_dir) / "httpcache").resolve()),
            "NEWSARCHIVE_WARC": crawl.warc,
            "NEWSARCHIVE_SPOOL_WAIT": crawl.spool_wait,
            "NEWSARCHIVE_WARC_MAX_BYTES": crawl.warc_max_bytes,
            "CONCURRENT_REQUESTS": crawl.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency,
            "DOWNLOAD_DELAY": crawl.download_delay,
            "ROBOTSTXT_OBEY": crawl.obey_robots_txt,
            "USER_AGENT": crawl.user_agent_header,
            "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
            "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.5),
            "NEWSARCHIVE_ALLOW_PRIVATE_ADDRESSES": crawl.allow_private_addresses,
            "NEWSARCHIVE_SOURCE_HOSTS": source_hosts(config),
            "NEWSARCHIVE_MAX_IMAGE_BYTES": crawl.max_image_bytes,
            "DOWNLOAD_TIMEOUT": crawl.timeout,
            "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
            "LOG_LEVEL": log_level or ("WARNING" if progress else "INFO"),
            # Logging is set up by the command (crawler.logs): text or JSON lines.
            "LOG_INSTALL_ROOT_HANDLER": False,
        },
        priority="cmdline",
    )
    return settings


def run_crawl(config: Config, sources: list[SourceBase], settings: Settings) -> RunRecord:
    """Crawl the sources to the end; return the run record the crawl wrote."""
    from crawler.spiders.news import NewsSpider

    state_dir = Path(config.daemon.state_dir)
    # In the state directory, not /tmp: a killed crawl's copy is found and removed later.
    remove_stale_run_files(state_dir, max(STALE_RUN_FILE_DAYS * SECONDS_PER_DAY, 2 * config.daemon.run_timeout))
    own_copy = not settings.get("NEWSARCHIVE_RUN_RECORD_FILE")
    if own_copy:
        settings.set("NEWSARCHIVE_RUN_RECORD_FILE", str(run_file(state_dir, settings["NEWSARCHIVE_RUN_ID"] or new_run_id())),
                     priority="cmdline")
    record_file = Path(settings["NEWSARCHIVE_RUN_RECORD_FILE"])
    run_spider(settings, NewsSpider, sources=sources)
    if not record_file.exists():
        raise RuntimeError("the crawl ended without writing its run record (see the log above)")
    try:
        return RunRecord.from_dict(json.loads(record_file.read_text(encoding="utf-8")))
    finally:
        if own_copy:
            record_file.unlink(missing_ok=True)


def worker_settings(config: Config, *, archive_url: str | None = None, log_level: str = "INFO") -> Settings:
    """A distributed-mode worker: the crawl settings plus scrapy-redis' scheduler in Redis."""
    from crawler.distributed import scrapy_redis_settings

    if config.distributed is None:
        raise ValueError("the config has no 'distributed:' section (redis_url)")
    settings = crawl_settings(config, archive_url=archive_url, log_level=log_level)
    settings.setdict({**scrapy_redis_settings(config.distributed.redis_url), "NEWSARCHIVE_WORKER": True}, priority="cmdline")
    for path, order in settings.getdict("WORKER_EXTENSIONS").items():
        settings["EXTENSIONS"].set(path, order, priority="cmdline")
    return settings


def run_worker(settings: Settings) -> None:
    """Take crawl work from Redis until SIGTERM/SIGINT."""
    from crawler.spiders.distributed import DistributedNewsSpider

    run_spider(settings, DistributedNewsSpider)


class _FramesOnlyInspect:
    """The inspect module, but for stack() and getmodule() of a frame, which read no source files."""

    def __getattr__(self, name: str):
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list[inspect.FrameInfo]:
        frames, frame = [], sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            frames.append(inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
            frame = frame.f_back
        return frames

    @staticmethod
    def getmodule(obj, _filename: str | None = None):
        if isinstance(obj, FrameType):
            return sys.modules.get(obj.f_globals.get("__name__", ""))
        return inspect.getmodule(obj, _filename)


@contextmanager
def _frames_only_inspect() -> Iterator[None]:
    import scrapy.utils.deprecate as deprecate

    if getattr(deprecate, "inspect", None) is not inspect:  # not the Scrapy this was written for: leave it be
        yield
        return
    deprecate.inspect = _FramesOnlyInspect()
    try:
        yield
    finally:
        deprecate.inspect = inspect


def import_without_source_lookups(module: str) -> None:
    """Import a Scrapy module that makes deprecated class aliases, without their stack walk.

    Scrapy's create_deprecated_class names an alias's module from
    inspect.stack(), which reads the source of every frame on the stack and,
    for each of importlib's frozen frames, scans all of sys.modules. The TLS
    modules the HTTP handler imports make three such aliases: 0.06 s of every
    crawl's start, a tenth of the time before its first request. Only the
    frames are needed for the module's name, and those are all this hands it.
    """
    if module in sys.modules:
        return
    with _frames_only_inspect():
        importlib.import_module(module)


def crawler_process(settings: Settings) -> CrawlerProcess:
    """Scrapy's CrawlerProcess for a crawl or a worker, with its logging brought back to the root's level."""
    import_without_source_lookups(HTTP_HANDLER_MODULE)  # before the engine is built, which imports it
    process = CrawlerProcess(settings)
    scrapy_logs_at_root_level()
    return process


def run_spider(settings: Settings, spider_class: type, **spider_arguments) -> None:
    """Run one spider's crawl to its end in this process, its set-up objects kept out of garbage collection."""
    process = crawler_process(settings)
    process.crawl(spider_class, **spider_arguments)
    # Everything imported and built so far (about 90,000 objects the collector
    # tracks: Scrapy, Twisted, our tables) lives as long as the process.
    # Frozen, the older-generation collections a crawl triggers stop walking
    # it again and again (they took 7 % of the crawl process's CPU). Not
    # collected first: a full collection here walks all of it once more
    # (0.03 s of every start) to find the dead among it, about 1,900 objects
    # (0.5 MB) as collection was paused while the command started
    # (crawler.__main__); they stay, frozen. Collection resumes now.
    gc.freeze()
    gc.enable()
    process.start()


def enqueue_sources(config: Config, sources: list[SourceBase], run_id: str) -> dict[str, str | None]:
    """Distributed mode: the run's jobs into Redis. Returns the sources left out, each
    with the open run it is still busy in (locked for at most the daemon's run_timeout)."""
    from crawler.distributed import busy_source_run, enqueue_crawl, redis_client

    client = redis_client(config.distributed.redis_url)
    busy = enqueue_crawl(client, run_id, [source.model_dump(mode="json") for source in sources], config.daemon.run_timeout)
    return {source_id: busy_source_run(client, source_id) for source_id in busy}
