"""A worker's share of the run records: counts and failures into Redis, and
the run record written by whichever worker sees the run drained."""

from __future__ import annotations

import logging
import os
import socket
import time

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread

from archive.runs import Failure
from crawler import distributed, runcounts, signals
from crawler.capture import WarcCaptureMiddleware
from crawler.items import ArticlePage
from crawler.pipelines.record import ArchiveRecordPipeline, DuplicateArticle
from crawler.redisqueue import RUN_META
from crawler.storage import archive_writer

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
# Several heartbeats: every worker has flushed its buffers before a run is declared finished.
FINISH_AFTER_FLUSH_SECONDS = 3 * HEARTBEAT_SECONDS
# A run is quiet after beats in a row that saw it drained: between two reads of the cluster
# further apart than this (a beat that failed, or came late) it may have been busy unseen.
MAX_BEAT_GAP_SECONDS = 2 * HEARTBEAT_SECONDS


def run_may_finish(quiet: float, spooled: int, spool_wait: float) -> bool:
    """Whether a run may be finished after ``quiet`` seconds with nothing of it waiting or in flight.

    After every worker flushed its buffers; and, while some writes wait in a
    worker's spool, after ``spool_wait`` more (as a local crawl's end waits
    for the store): then the run record says how many still wait.
    """
    flushed = quiet >= distributed.DRAIN_QUIET_SECONDS + FINISH_AFTER_FLUSH_SECONDS
    return flushed and (not spooled or quiet >= distributed.DRAIN_QUIET_SECONDS + FINISH_AFTER_FLUSH_SECONDS + spool_wait)


class RedisRunExtension:
    def __init__(self, crawler: Crawler, client, spool_wait: float) -> None:
        self.crawler = crawler
        self.client = client
        self.spool_wait = spool_wait
        self.replaying = None  # the spool's replay under way (a Deferred), if any
        self.ending = None  # buffers written and drained runs finished, under way (a Deferred), if any
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}"
        # Run -> since when it has looked drained to this worker (None: the whole cluster, idle).
        self.quiet_since: dict[str | None, float] = {}
        self.seen_at: float | None = None  # when this worker's last read of the cluster ended
        # Runs whose responses this worker saw since it last wrote its buffers (None: a request of no run).
        self.touched: set[str | None] = set()
        # deferred_from_coro runs the coroutine as an asyncio task (it awaits futures).
        self.loop = LoopingCall(lambda: deferred_from_coro(self.beat()))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RedisRunExtension":
        if not crawler.settings.getbool("NEWSARCHIVE_WORKER"):
            raise NotConfigured
        extension = cls(crawler, distributed.redis_client(crawler.settings["REDIS_URL"]), crawler.settings.getfloat("NEWSARCHIVE_SPOOL_WAIT"))
        connect = crawler.signals.connect
        connect(extension.opened, scrapy_signals.spider_opened)
        connect(extension.closed, scrapy_signals.spider_closed)
        connect(extension.response_received, scrapy_signals.response_received)
        signals.connect_run_bookkeeping(crawler, extension)
        return extension

    def _run(self, source: str | None) -> str | None:
        return distributed.source_run(self.client, source) if source else None

    # Each outcome costs one round trip: the source's run is found, and counted into, in one Redis step.
    def item_scraped(self, item, spider=None) -> None:
        if isinstance(item, ArticlePage) and item.status and item.source:
            runcounts.count_for_source(self.client, item.source, {
                item.status: 1, "images_stored": len(item.images_stored), "image_bytes": sum(i["bytes"] for i in item.images_stored)},
                claimed=item.claimed)

    def item_dropped(self, item, exception, spider=None, response=None) -> None:
        if not (source := getattr(item, "source", None)):
            return
        claimed = getattr(item, "claimed", None)
        if isinstance(exception, DuplicateArticle):
            runcounts.count_for_source(self.client, source, {"duplicates": 1}, claimed=claimed)
        else:
            runcounts.count_for_source(self.client, source, {}, Failure(url=getattr(item, "url", ""), reason=str(exception), source=source,
                                                                          kind="article", attempt=getattr(item, "attempt", 1)),
                                       claimed=claimed)

    def item_error(self, item, response, spider=None, failure=None) -> None:
        """A write the store refused: a failure of kind store, retried like any other."""
        if source := getattr(item, "source", None):
            reason = failure.getErrorMessage() if failure is not None else "pipeline error"
            runcounts.count_for_source(self.client, source, {}, Failure(url=getattr(item, "url", ""), reason=f"could not archive: {reason}",
                                                                          source=source, kind="store", attempt=getattr(item, "attempt", 1)),
                                       claimed=getattr(item, "claimed", None))

    def fetch_failed(self, url: str, reason: str, source: str, kind: str, article_url: str | None = None, attempt: int = 1,
                     claimed: str | None = None) -> None:
        if source:
            runcounts.count_for_source(self.client, source, {}, Failure(url=url, reason=reason, source=source, kind=kind,
                                                                          article_url=article_url, attempt=attempt), claimed=claimed)

    def article_skipped(self, url: str, source: str, status: str = "skipped", claimed: str | None = None) -> None:
        if source:
            runcounts.count_for_source(self.client, source, {status: 1}, claimed=claimed)

    def source_blocked(self, source: str, reason: str) -> None:
        if run := self._run(source):
            runcounts.mark_blocked(self.client, run, source, reason)

    # -- heartbeat: tell the others we are busy; finish drained runs ----------
    def in_flight(self) -> tuple[int, dict[str, int]]:
        """Requests and items in flight here: all of them, and those of each run.

        A request is in flight from the moment it leaves the queue until its
        response, or error, has been through the spider and its items through
        the pipelines (the scraper holds it meanwhile); the images an item
        fetches are its request's. However a request ends (answered, failed,
        dropped by a middleware, retried: queued again and counted there), it
        leaves these sets, so nothing here is ever left over.
        """
        engine = self.crawler.engine
        slot = getattr(engine.scraper, "slot", None)
        requests = set(engine.downloader.active)
        items = 0
        if slot is not None:
            requests.update(slot.active)
            requests.update(request for _result, request, _deferred in slot.queue)
            items = slot.itemproc_size  # items of the requests above, mostly: for the total only
        loading = getattr(self.crawler.spider, "loading_retries", {})
        runs = dict(loading)
        for request in requests:
            if run := request.meta.get(RUN_META):
                runs[run] = runs.get(run, 0) + 1
        return len(requests) + items + sum(loading.values()), runs

    def response_received(self, response, request, spider=None) -> None:
        self.touched.add(request.meta.get(RUN_META))

    def opened(self, spider) -> None:
        self.loop.start(HEARTBEAT_SECONDS)

    async def beat(self) -> None:
        """One heartbeat, whatever goes wrong in it.

        A LoopingCall stops for good at its first error: one Redis hiccup (a
        restart) silenced the worker, whose busy mark then expired, so others
        took its pages in flight for drained, and no run ever finished again.
        """
        try:
            await self.heartbeat()
        except Exception as exc:  # noqa: BLE001 - the next beat tries again
            # Nothing seen this beat: quiet starts again (runs seen drained either side of it were not seen between).
            self.quiet_since = {}
            logger.warning("heartbeat failed (tried again in %.0fs): %s", HEARTBEAT_SECONDS, exc)

    async def heartbeat(self) -> None:
        # Redis is asked in a thread: listing every worker's key takes too long for the reactor's thread.
        asked = time.monotonic()
        state, own_spooled = await maybe_deferred_to_future(deferToThread(self.report, *self.in_flight()))
        if own_spooled and self.replaying is None:
            self.replay_spool()
        quiet = self.quiet_times(state, asked, time.monotonic())
        # Every worker writes what it buffers (catalog, WARC) once a run it
        # took part in is quiet (or, for what belongs to no open run, all is)...
        ended = {run for run in self.touched if run is not None and run not in state.waiting}
        if ended:
            self.touched = (self.touched - ended) | {None}
        flush = {run for run, seconds in quiet.items() if seconds >= distributed.DRAIN_QUIET_SECONDS} & self.touched
        if None in quiet and quiet[None] >= distributed.DRAIN_QUIET_SECONDS:
            flush = set(self.touched)
        # ...and a little later one of them writes the run's record: all its parts are in by then.
        finishing = sorted(run for run, seconds in quiet.items()
                           if run is not None and run_may_finish(seconds, state.spooled, self.spool_wait))
        if (flush or finishing) and self.ending is None:
            self.end_runs(flush, finishing, state.spooled)

    def end_runs(self, flush: set[str | None], finishing: list[str], spooled: int) -> None:
        """Buffers written (the runs of ``flush``), then drained runs finished: one at a time, apart from the beats.

        Writing to a slow store takes as long as it takes; a worker whose beats
        waited for it looked gone to the others (its key expired), which
        finished its runs with its pages still in flight. What falls due
        meanwhile is done by the first beat after.
        """
        self.touched -= flush  # a response of these runs meanwhile touches them again

        async def end() -> None:
            if flush:
                try:
                    await self._flush_catalog()
                except BaseException:
                    self.touched |= flush  # written at a next beat; and no run finished without its parts
                    raise
            if finishing:
                await maybe_deferred_to_future(deferToThread(self.finish_drained_runs, finishing, spooled))

        self.ending = deferred_from_coro(end())
        self.ending.addErrback(lambda failure: logger.warning("buffers not written, or runs not finished (tried again): %s",
                                                              failure.value))
        self.ending.addBoth(lambda _result: setattr(self, "ending", None))

    def quiet_times(self, state: distributed.ClusterState, asked: float, now: float) -> dict[str | None, float]:
        """How long each drained run (None: the whole cluster, idle) has looked so at each beat in a row.

        ``state`` was read from ``asked`` to ``now``. A read begun over
        MAX_BEAT_GAP_SECONDS after the last one ended starts every quiet time
        again: two glimpses of a run drained say nothing of the time between.
        """
        if self.seen_at is None or asked - self.seen_at > MAX_BEAT_GAP_SECONDS:
            self.quiet_since = {}
        self.seen_at = now
        drained: set[str | None] = set(state.drained())
        if state.idle:
            drained.add(None)
        self.quiet_since = {run: self.quiet_since.get(run, now) for run in drained}
        return {run: now - since for run, since in self.quiet_since.items()}

    def finish_drained_runs(self, run_ids: list[str], spooled: int) -> None:
        """In a thread: each run claimed, its record written and the run ended; or,
        when the write fails (refused, the spool full), given back for the next beat."""
        writer = archive_writer(self.crawler)
        for run_id in run_ids:
            run = distributed.finish_run(self.client, run_id, spooled)
            if run is None:
                continue
            try:
                writer.write_run(run)
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                logger.error("run %s drained, but its record could not be written (tried again): %s", run_id, exc)
                distributed.unfinish_run(self.client, run_id)
                continue
            distributed.record_written(self.client, run)
            logger.info("run %s drained: run record written", run_id)

    def report(self, in_flight: int, runs: dict[str, int]) -> tuple[distributed.ClusterState, int]:
        """This worker's heartbeat, in a thread: its load told, the cluster's and each run's read; and its spooled writes."""
        spool = archive_writer(self.crawler).spool
        spooled = spool.pending if spool.waiting() else 0
        distributed.set_worker_state(self.client, self.worker_id, in_flight, f"{socket.gethostname()}:{spool.directory}", spooled, runs)
        return distributed.cluster_state(self.client, with_runs=True), spooled

    def replay_spool(self) -> None:
        """A worker between runs writes nothing that would replay its spool: the heartbeat does.

        Apart from the beats: a replay against a store that hangs takes
        minutes, and a worker whose beats stop looks gone to the others.
        """
        writer = archive_writer(self.crawler)
        self.replaying = deferToThread(writer.spool.replay, writer.store)
        self.replaying.addErrback(lambda failure: logger.warning("spool not replayed: %s", failure.value))
        self.replaying.addBoth(lambda _result: setattr(self, "replaying", None))

    async def _flush_catalog(self) -> None:
        """A worker never closes between runs: what it buffers is written when a run drains."""
        for pipe in self.crawler.engine.scraper.itemproc.middlewares:
            if isinstance(pipe, ArchiveRecordPipeline):
                await pipe.flush_catalog()
        for middleware in self.crawler.engine.downloader.middleware.middlewares:
            if isinstance(middleware, WarcCaptureMiddleware):
                await middleware.finish_file()

    def closed(self, spider, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        self.client.delete(f"{distributed.WORKER_PREFIX}{self.worker_id}")
