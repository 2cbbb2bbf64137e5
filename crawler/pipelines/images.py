"""Article images mirrored into the archive with Scrapy's FilesPipeline.

Images are content-addressed (``images/ab/cd/<sha256>.jpg``): one image
shared by a hundred articles is stored once. The downloading, caching and
failure handling are Scrapy's; this class only decides keys and storage.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import FileException
from twisted.internet.threads import deferToThread

from archive.keys import image_key
from crawler.storage import archive_writer
from crawler import signals
from crawler.extract.images import unwrap_proxy
from crawler.extract.imagefile import BadImage, inspect_image
from crawler.items import FALLBACK_META, ArticlePage

logger = logging.getLogger(__name__)


def _is_recorded_image_failure(record: logging.LogRecord) -> bool:
    """False for Scrapy's traceback of an image that failed for a reason we record."""
    failure = record.msg
    return not (hasattr(failure, "check") and failure.check(FileException))


class ArchiveFilesStore:
    """FilesPipeline's store interface over the crawl's archive writer, off the reactor thread."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def persist_file(self, path: str, buf, info, meta=None, headers=None):
        content_type = (headers or {}).get("Content-Type", "application/octet-stream")
        # Content-addressed: written once, whatever number of articles show it.
        return deferToThread(self.writer.write, "put_once", path, buf.getvalue(), content_type)

    def stat_file(self, path: str, info) -> dict:
        return {}


class ArchiveImagesPipeline(FilesPipeline):
    FILES_URLS_FIELD = "image_urls"
    FILES_RESULT_FIELD = "images_stored"
    # Failures go into the run record with their reason (item_completed), not a traceback in the log.
    LOG_FAILED_RESULTS = False

    def __init__(self, archive_url: str, *, endpoint_url: str | None = None, crawler: Crawler) -> None:
        self.endpoint_url = endpoint_url
        self.crawler = crawler
        self.facts: dict[str, Any] = {}  # archive key -> facts, for items sharing an image
        self.max_image_bytes = crawler.settings.getint("NEWSARCHIVE_MAX_IMAGE_BYTES")
        super().__init__(archive_url, crawler=crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchiveImagesPipeline":
        settings = crawler.settings
        if not settings.getbool("NEWSARCHIVE_IMAGES"):
            raise NotConfigured("images are not mirrored (crawl.images: false)")
        # MediaPipeline logs every failed download with a traceback; a missing
        # image is an ordinary event here, kept in the run record with its reason.
        logging.getLogger("scrapy.pipelines.media").addFilter(_is_recorded_image_failure)
        return cls(settings["NEWSARCHIVE_ARCHIVE_URL"], endpoint_url=settings.get("NEWSARCHIVE_ARCHIVE_ENDPOINT"), crawler=crawler)

    def _get_store(self, uri: str) -> ArchiveFilesStore:
        return ArchiveFilesStore(archive_writer(self.crawler))

    def get_media_requests(self, item, info) -> list[Request]:
        if not isinstance(item, ArticlePage):
            return []
        requests = []
        for url in item.image_urls:
            origin = unwrap_proxy(url)
            # Fetch the origin; the proxy is the fallback (ProxyFallbackMiddleware).
            meta = {FALLBACK_META: url} if origin else {}
            meta["download_maxsize"] = self.max_image_bytes  # a larger "image" is refused unread
            requests.append(Request(origin or url, meta={**meta, "newsarchive_page_url": item.url}))
        return requests

    async def media_downloaded(self, response, request, info, *, item=None):
        # Say why in the run record ("HTTP 404"), not Scrapy's "download-error".
        if response.status != 200:
            raise FileException(f"HTTP {response.status}")
        return await super().media_downloaded(response, request, info, item=item)

    def media_failed(self, failure, request, info):
        if failure.check(IgnoreRequest):
            return super().media_failed(failure, request, info)
        # Keep the reason: Scrapy's own raises a FileException without one.
        raise FileException(failure.getErrorMessage() or failure.type.__name__) from failure.value

    def media_to_download(self, request, info, *, item=None):
        return None  # content-addressed keys are only known from the bytes: always download

    def file_path(self, request, response=None, info=None, *, item=None) -> str:
        if response is None:
            raise FileException("an image's key needs its downloaded bytes")
        try:
            facts = inspect_image(response.body)
        except BadImage as exc:
            raise FileException(str(exc)) from exc
        # file_downloaded runs next for this very response: hand it the facts.
        request.meta["newsarchive_image_facts"] = facts
        return image_key(facts.sha256, facts.extension)

    def file_downloaded(self, response, request, info, *, item=None):
        facts = request.meta["newsarchive_image_facts"]
        key = image_key(facts.sha256, facts.extension)
        self.facts[key] = facts
        headers = {"Content-Type": facts.content_type}
        return self.store.persist_file(key, _Buffer(response.body), info, headers=headers).addCallback(lambda _: facts.sha256)

    def item_completed(self, results, item, info):
        if not isinstance(item, ArticlePage):
            return item
        stored = []
        for url, (ok, value) in zip(item.image_urls, results):
            if ok:
                facts = self.facts[value["path"]]
                stored.append(
                    {
                        "url": unwrap_proxy(url) or url,
                        "source_url": url,
                        "key": value["path"],
                        "sha256": facts.sha256,
                        "content_type": facts.content_type,
                        "bytes": facts.bytes,
                        "width": facts.width,
                        "height": facts.height,
                    }
                )
            else:
                reason = value.getErrorMessage() if hasattr(value, "getErrorMessage") else str(value)
                self.crawler.signals.send_catch_log(
                    signals.fetch_failed, url=unwrap_proxy(url) or url, reason=reason or "download failed",
                    source=item.source, kind="image", article_url=item.url, attempt=item.attempt,
                )
        item.images_stored = stored
        return item


class _Buffer:
    """The one method of BytesIO the store uses, without copying the bytes again."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def getvalue(self) -> bytes:
        return self._data
