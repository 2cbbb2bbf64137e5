"""Raw capture: every response, as received, into WARC files in the archive.

A downloader middleware next to the downloader, so it sees the payload byte
for byte (before decompression) and every kind of response: articles,
images, feeds. The WARC spool lives in the state directory; files a killed
crawl left behind are indexed and uploaded by the next crawl.

Records are built, gzipped and appended on one thread of the middleware's
own, off the reactor: gzip is most of a capture's cost and releases the GIL,
so it runs beside the crawl. One thread keeps the records of a file in order.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from archive.runs import new_run_id, run_started
from archive.warc import WarcSpool, cdxj_key, index_warc_file, spool_file_key
from crawler.deferreds import deferred_from_future
from crawler.locks import SpoolInUse, SpoolLock
from crawler.storage import archive_writer, state_dir

logger = logging.getLogger(__name__)
CAPTURE_META = "newsarchive_capture"
SPOOL_SUBDIR = "warc-spool"


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# What Scrapy's HttpCacheMiddleware marks a response it answered from the cache with.
CACHED_FLAG = "cached"


class WarcCaptureMiddleware:
    def __init__(self, writer, spool: WarcSpool, spool_root: Path) -> None:
        self.writer = writer
        self.spool = spool
        self.spool_root = spool_root
        self.lock = SpoolLock(spool.spool_dir)
        self._thread: ThreadPoolExecutor | None = None  # started with the spider, not here: no threads in constructors

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "WarcCaptureMiddleware":
        settings = crawler.settings
        if not settings.getbool("NEWSARCHIVE_WARC"):
            raise NotConfigured("raw capture is off")
        run_id = settings.get("NEWSARCHIVE_RUN_ID") or new_run_id()
        spool_root = state_dir(settings) / SPOOL_SUBDIR
        spool = WarcSpool(spool_root / run_id, run_id, run_started(run_id), settings.getint("NEWSARCHIVE_WARC_MAX_BYTES"))
        middleware = cls(archive_writer(crawler), spool, spool_root)
        crawler.signals.connect(middleware.spider_opened, scrapy_signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, scrapy_signals.spider_closed)
        return middleware

    async def process_response(self, request, response, spider=None):
        if CACHED_FLAG in response.flags:
            # Served from the local HTTP cache (a feed within its max-age):
            # nothing was fetched, so there is nothing to capture.
            return response
        capture, finished = await self._on_spool_thread(
            self._capture, response.url, method=request.method, request_headers=_header_pairs(request.headers),
            status=response.status, reason=_reason(response.status), protocol=response.protocol or "HTTP/1.1",
            response_headers=_header_pairs(response.headers), body=response.body, fetched=datetime.now(timezone.utc),
        )
        request.meta[CAPTURE_META] = capture
        await self._upload(finished)
        return response

    def _capture(self, url: str, **fields):
        """On the spool thread: write the records, and finish the file when it is full."""
        capture = self.spool.capture(url, **fields)
        return capture, self.spool.finish() if self.spool.should_roll() else None

    async def _on_spool_thread(self, function, *args, **kwargs):
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-spool")
        return await maybe_deferred_to_future(deferred_from_future(self._thread.submit(function, *args, **kwargs)))

    async def _upload(self, finished) -> None:
        if finished is not None:
            key, path, cdxj = finished
            await maybe_deferred_to_future(deferToThread(self._upload_file, key, path, cdxj))

    def _upload_file(self, key: str, path: Path, cdxj: str) -> None:
        """The WARC first (streamed from its file, up to warc_max_bytes), then its index: an index never points at a missing file."""
        self.writer.write("put", key, path, "application/warc")
        self.writer.write("put", cdxj_key(key), cdxj.encode("utf-8"), "application/x-cdxj; charset=utf-8")
        path.unlink(missing_ok=True)

    async def spider_opened(self, spider) -> None:
        """Upload what crawls killed before their end left in the spool."""
        self.lock.acquire()  # before this crawl's directory exists: others never mistake it for a dead one's
        # Directories, and locks whose crawl died before making its directory.
        run_dirs = {p.with_suffix("") if p.suffix == ".lock" else p for p in self.spool_root.glob("*")
                    if p.suffix == ".lock" or p.is_dir()}
        for run_dir in sorted(run_dirs - {self.spool.spool_dir}):
            await self._pick_up(run_dir)

    async def _pick_up(self, run_dir: Path) -> None:
        """Index and upload a dead crawl's WARC files; a running crawl's are left alone."""
        lock = SpoolLock(run_dir)
        try:
            lock.acquire()
        except SpoolInUse:
            return
        try:
            for path in sorted(run_dir.glob("*.warc.gz")) if run_dir.is_dir() else ():
                key = spool_file_key(path)
                logger.warning("uploading the capture file %s a previous crawl left behind", key)
                cdxj = await maybe_deferred_to_future(deferToThread(index_warc_file, path, key))
                await maybe_deferred_to_future(deferToThread(self._upload_file, key, path, cdxj))
            _remove_spool_dir(run_dir, lock)
        finally:
            lock.release()

    async def finish_file(self) -> None:
        """Close and upload the current WARC file (a worker does so when a run drains)."""
        await self._upload(await self._on_spool_thread(self.spool.finish))

    async def spider_closed(self, spider) -> None:
        await self._upload(await self._on_spool_thread(self.spool.finish))
        self._thread.shutdown(wait=True)
        self._thread = None
        _remove_spool_dir(self.spool.spool_dir, self.lock)
        self.lock.release()


def _remove_spool_dir(run_dir: Path, lock: SpoolLock) -> None:
    """A spool directory left empty goes, and its lock file with it (the lock is held)."""
    if run_dir.is_dir():
        if any(run_dir.iterdir()):
            return  # a file that failed to upload waits for the next crawl
        run_dir.rmdir()
    lock.path.unlink(missing_ok=True)
