"""Bridges from blocking and multi-process work to Twisted deferreds."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure


def deferred_from_future(future: Future) -> Deferred:
    """Fire a Deferred on the reactor thread when a concurrent future settles.

    Unlike deferToThread(future.result), no thread sits blocked per pending
    job, so thousands of extractions can be in flight.
    """
    # Imported here: importing the reactor installs one, and this module is
    # imported before Scrapy installs the asyncio reactor.
    from twisted.internet import reactor

    deferred: Deferred = Deferred()

    def settle(done: Future) -> None:
        try:
            result: Any = done.result()
        except BaseException as exc:  # noqa: BLE001 - handed to the errback as is
            reactor.callFromThread(deferred.errback, Failure(exc))
        else:
            reactor.callFromThread(deferred.callback, result)

    future.add_done_callback(settle)
    return deferred
