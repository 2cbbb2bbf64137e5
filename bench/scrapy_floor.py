"""Scrapy's own floor: the same portal pages fetched by a spider that does nothing else.

A plain Scrapy spider (Scrapy's default middlewares, none of newsarchive's)
reads the benchmark site's RSS feed, fetches every article page and its
image, and keeps nothing: no extraction, no WARC, no store, no pipelines.
What one more article costs it is what Scrapy itself spends on the page and
its image, to set beside crawl_bench.py's figure for the crawl process. It is
the slope between two crawl sizes, so the start-up (imports, the reactor)
drops out.

    python bench/scrapy_floor.py [--n 150 600] [--concurrency 16]

Figures only: nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_site import PortalServer, build_site  # noqa: E402

FEED_LINK_RE = re.compile(r"<link>(.*?)</link>")
IMAGE_SRC_RE = re.compile(rb'<img[^>]+src="([^"]+\.jpg)"')


def crawl(base_url: str, concurrency: int) -> None:
    """In the child process: one bare crawl of the site."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class FloorSpider(scrapy.Spider):
        name = "floor"
        start_urls = [f"{base_url}/rss.xml"]

        def parse(self, response):
            for link in FEED_LINK_RE.findall(response.text)[1:]:  # the first is the channel's
                yield scrapy.Request(link, callback=self.parse_article, dont_filter=True)

        def parse_article(self, response):
            if found := IMAGE_SRC_RE.search(response.body):
                yield scrapy.Request(response.urljoin(found.group(1).decode()), callback=self.parse_image, dont_filter=True)

        def parse_image(self, response):
            yield {"url": response.url, "bytes": len(response.body)}

    process = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": concurrency,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "ROBOTSTXT_OBEY": False,
                              "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False})
    process.crawl(FloorSpider)
    process.start()


def measure(n: int, concurrency: int) -> tuple[float, float]:
    """(wall s, CPU s) of one bare crawl of an N-article site; every request must succeed."""
    with PortalServer() as server:
        site = build_site(n, server.base_url)
        server.routes = site.routes
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--child", server.base_url, "--concurrency", str(concurrency)], check=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if server.requests != 2 * n + 1:
            raise SystemExit(f"N={n}: the site served {server.requests} requests, expected {2 * n + 1} (feed, pages, images)")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs=2, default=[150, 600], metavar=("SMALL", "LARGE"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        crawl(args.child, args.concurrency)
        return
    (small, large) = sorted(args.n)
    figures = {n: measure(n, args.concurrency) for n in (small, large)}
    for n, (wall, cpu) in figures.items():
        print(f"N={n}: {wall:.1f} s wall, {cpu:.2f} s CPU")
    slope = (figures[large][1] - figures[small][1]) / (large - small)
    print(f"bare Scrapy: {slope * 1000:.1f} ms of CPU per additional article (its page and its image)")


if __name__ == "__main__":
    main()
