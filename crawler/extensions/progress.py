"""A live line of counts on the admin's terminal while a crawl runs."""

from __future__ import annotations

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

REFRESH_SECONDS = 0.5


class ProgressExtension:
    def __init__(self, crawler: Crawler) -> None:
        from rich.console import Console
        from rich.live import Live

        self.crawler = crawler
        self.console = Console(stderr=True)
        self.live = Live(console=self.console, transient=True, refresh_per_second=4)
        self.loop = LoopingCall(self.refresh)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ProgressExtension":
        if not crawler.settings.getbool("NEWSARCHIVE_PROGRESS"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.opened, scrapy_signals.spider_opened)
        crawler.signals.connect(extension.closed, scrapy_signals.spider_closed)
        return extension

    def opened(self, spider) -> None:
        self.live.start()
        self.loop.start(REFRESH_SECONDS)

    def refresh(self) -> None:
        from rich.text import Text

        stats = self.crawler.stats
        get = lambda key: stats.get_value(key, 0)  # noqa: E731
        self.live.update(
            Text.assemble(
                ("crawling ", "bold"),
                f"requests {get('downloader/request_count')}  ",
                f"responses {get('downloader/response_count')}  ",
                (f"items {get('item_scraped_count')}  ", "green"),
                (f"dropped {get('item_dropped_count')}  ", "yellow"),
                f"images {get('file_count')}",
            )
        )

    def closed(self, spider, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        self.live.stop()
