"""Spider middlewares of newsarchive's own."""

from __future__ import annotations

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware


def overlong_reason(limit: int) -> str:
    """A failure's reason for a link past URLLENGTH_LIMIT."""
    return f"URL longer than {limit} characters (not fetched)"


class RecordedUrlLengthMiddleware(UrlLengthMiddleware):
    """Scrapy's URL length limit (URLLENGTH_LIMIT), each request it drops a failure of the run.

    Scrapy's only logs the drop: an article a feed linked under a URL past
    the limit (a long tracking query, a wrapped link) was gone without a
    trace in the run record, and a distributed run's claim on it was left
    for "not archived when the run ended". Now the run record says why, and
    the page is given up on after MAX_ATTEMPTS runs like any failure.
    """

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        kept = super().get_processed_request(request, response)
        if kept is None and (request_failed := getattr(self.crawler.spider, "request_failed", None)):
            request_failed(request, overlong_reason(self.maxlength))
        return kept
