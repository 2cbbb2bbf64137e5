"""The ``newsarchive`` command line."""

from __future__ import annotations

import gc
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crawler.cli_options import ArchiveOption, ConfigOption, LogFormatOption, LogLevelOption, PageUrlOption, TimezoneOption
from crawler.config import Config, ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Scrape news sources on a schedule and archive every article.")
out = Console()
err = Console(stderr=True)

EXIT_BAD_CONFIG = 2
# Commands that resume garbage collection themselves, once Scrapy is set up
# (crawler.runner.run_spider): see crawler.__main__.
COMMANDS_RESUMING_COLLECTION = ("crawl", "worker")


@app.callback()
def resume_collection(context: typer.Context) -> None:
    """Garbage collection back on, paused while the command line loaded (crawler.__main__),
    before any command but those that resume it after their own set-up."""
    if context.invoked_subcommand not in COMMANDS_RESUMING_COLLECTION:
        gc.enable()


def config_in_use(config_file: Path | None) -> Config | None:
    """The config a command that can do without one reads: one named (--config,
    $NEWSARCHIVE_CONFIG) must load, the default only if it is there."""
    from crawler.config import CONFIG_ENV_VAR
    from crawler.configfile import config_path

    named = config_file is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    return load(config_file) if named or config_path(None).exists() else None


def load(config_file: Path | None) -> Config:
    from crawler.configfile import load_config

    try:
        return load_config(config_file)
    except ConfigError as exc:
        for line in exc.lines():
            err.print(f"[red]config error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_CONFIG) from None


@app.command()
def crawl(
    sources: Annotated[Optional[list[str]], typer.Argument(help="source ids (all when none)")] = None,
    config: ConfigOption = None,
    archive: ArchiveOption = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = "text",
    run_id: Annotated[Optional[str], typer.Option("--run-id", hidden=True)] = None,
    run_record_file: Annotated[Optional[Path], typer.Option("--run-record-file", hidden=True)] = None,
    wait: Annotated[bool, typer.Option("--wait", help="distributed mode: wait until the crawl has drained")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", help="seconds --wait waits at most")] = 3600,
) -> None:
    """One crawl now, of the named sources; a summary at the end (distributed mode: enqueued for the workers)."""
    from contextlib import ExitStack

    from archive.runs import new_run_id
    from crawler.runpolicy import EXIT_ALL_BUSY
    from crawler.locks import lock_free_sources
    from crawler.config import UnknownSource, select_sources
    from crawler.logs import setup_logging

    settings_config = load(config)
    try:
        selected = select_sources(settings_config, sources or [])
    except UnknownSource as exc:
        err.print(f"[red]error:[/] {escape(exc.args[0])}")
        raise typer.Exit(EXIT_BAD_CONFIG) from None
    if not selected:
        err.print("nothing to crawl: the config has no sources")
        raise typer.Exit(0)
    if wait and settings_config.distributed is None:
        err.print("[red]error:[/] --wait is for a distributed crawl (a config with a 'distributed:' section): "
                  "a local crawl ends when it is done")
        raise typer.Exit(EXIT_BAD_CONFIG)
    run_id = run_id or new_run_id()
    if settings_config.distributed is not None:
        gc.enable()  # no Scrapy here to wait for: see resume_collection
        refuse_archive_override(settings_config, archive, err.print)
        raise typer.Exit(enqueue_and_wait(settings_config, selected, run_id, wait, wait_timeout, run_record_file))
    progress = sys.stderr.isatty() and log_format == "text"
    level = log_level or ("WARNING" if progress else "INFO")
    setup_logging(log_format, level, source=",".join(s.id for s in selected), run_id=run_id)
    with ExitStack() as locks:
        locked, busy = lock_free_sources(locks, Path(settings_config.daemon.state_dir), [s.id for s in selected])
        for source_id in busy:
            err.print(f"[yellow]skipped[/] {source_id}: another process is crawling it now")
        if not locked:
            raise typer.Exit(EXIT_ALL_BUSY)
        start_extraction(settings_config)  # before Scrapy is imported: see start_extraction
        from crawler.runner import crawl_settings, run_crawl

        settings = crawl_settings(settings_config, archive_url=archive, run_id=run_id, progress=progress, log_level=level)
        if run_record_file:
            settings.set("NEWSARCHIVE_RUN_RECORD_FILE", str(run_record_file), priority="cmdline")
        run = run_crawl(settings_config, [s for s in selected if s.id in locked], settings)
    print_summary(run)
    raise typer.Exit(0 if run.status == "completed" else 1)


def start_extraction(config: Config) -> None:
    """Start extraction's worker server now, before Scrapy is imported: it warms
    up on the other core meanwhile (about 0.7 s sooner ready than from the pipeline)."""
    from crawler.extract.worker import start_extraction_server, worker_count

    if worker_count(config.crawl.extract_workers) > 0:
        start_extraction_server()


def refuse_archive_override(config: Config, archive: str | None, say) -> None:
    """Distributed mode: the workers write to the archive of their own config; --archive cannot send them elsewhere."""
    if archive is not None and archive != config.archive.url:
        say(f"--archive {escape(archive)}: a distributed crawl is archived by the workers, into the archive of their own "
            f"config ({escape(config.archive.url)}); point the workers' config at it instead")
        raise typer.Exit(EXIT_BAD_CONFIG)


def enqueue_and_wait(config: Config, sources, run_id: str, wait: bool, timeout: float, record_file: Path | None = None) -> int:
    """Distributed mode: the workers crawl; this only enqueues (and waits for the run record)."""
    from redis import RedisError

    from crawler.distributed import EnqueueUnknown, redis_client
    from crawler.runner import enqueue_sources
    from crawler.runpolicy import EXIT_ALL_BUSY
    from crawler.runwait import RunLost, wait_for_run

    try:
        busy = enqueue_sources(config, sources, run_id)
    except EnqueueUnknown as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}: it may be queued for the workers; its sources stay locked "
                  f"until it is recorded, or for {config.daemon.run_timeout:.0f}s (daemon.run_timeout)")
        return 1
    except RedisError as exc:
        err.print(f"[red]error:[/] nothing enqueued: Redis cannot be reached ({escape(str(exc))})")
        return 1
    for source_id, open_run in busy.items():
        err.print(f"[yellow]skipped[/] {escape(source_id)}: its run {escape(open_run or '')} is still open on the workers")
    enqueued = [source.id for source in sources if source.id not in busy]
    if not enqueued:
        return EXIT_ALL_BUSY
    out.print(f"enqueued run {run_id} for {escape(', '.join(enqueued))}")
    if not wait:
        return 0
    try:
        run = wait_for_run(redis_client(config.distributed.redis_url), run_id, timeout,
                           warn=lambda message: err.print(f"[yellow]warning:[/] {escape(message)}"))
    except RunLost as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    if run is None:
        err.print(f"run {run_id} has not drained after {timeout:.0f}s")
        return 1
    if record_file is not None:
        from archive.runs import run_bytes

        record_file.parent.mkdir(parents=True, exist_ok=True)
        record_file.write_bytes(run_bytes(run))
    print_summary(run)
    return 0


@app.command()
def worker(
    config: ConfigOption = None,
    archive: ArchiveOption = None,
    log_format: LogFormatOption = "text",
    log_level: LogLevelOption = "INFO",
) -> None:
    """Distributed mode: take crawl work from Redis until stopped."""
    from crawler.logs import setup_logging

    settings_config = load(config)
    if settings_config.distributed is None:
        err.print("[red]error:[/] `worker` needs a config with a 'distributed:' section (redis_url)")
        raise typer.Exit(EXIT_BAD_CONFIG)
    start_extraction(settings_config)
    from crawler.runner import run_worker, worker_settings

    setup_logging(log_format, log_level, source="worker")
    run_worker(worker_settings(settings_config, archive_url=archive, log_level=log_level))


def print_summary(run) -> None:
    table = Table(title=f"run {run.run_id}: {run.status}", title_justify="left")
    columns = ("archived", "updated", "unchanged", "skipped", "duplicates", "failed", "images_stored", "images_failed")
    headers = ("new", "updated", "same", "skipped", "dup", "failed", "images", "img failed")
    table.add_column("source", overflow="fold")
    for header in headers:
        table.add_column(header, justify="right")
    for source in run.sources:
        counts = run.per_source.get(source, {})
        table.add_row(source, *(str(counts.get(c, 0)) for c in columns))
    table.add_row("[bold]all[/]", *(f"[bold]{run.counts.get(c, 0)}[/]" for c in columns))
    out.print(table)
    for source, why in run.blocked.items():
        out.print(f"[yellow]blocked[/] {source}: {escape(why)}", highlight=False)
    for failure in run.failures[:20]:
        out.print(f"[red]failed[/] {failure.kind} {escape(failure.url or failure.source)}: {escape(failure.reason)}", highlight=False)
    if len(run.failures) > 20:
        out.print(f"... and {len(run.failures) - 20} more failures in the run record")
    if spooled := run.counts.get("spooled", 0):
        # Not counted as new or updated: which they are is known only as they are written.
        stored = "all written since" if not run.spool_pending else "not all written yet"
        out.print(f"[yellow]{spooled} articles went through the local spool[/] (the store was out of reach): {stored}",
                  highlight=False, soft_wrap=True)
    if run.spool_pending:
        out.print(f"[yellow]{run.spool_pending} writes wait in the local spool[/]: the store was out of reach; "
                  "they are written, in order, once it is back (by the next crawl, or by a worker)", highlight=False)


@app.command()
def extract(
    inputs: Annotated[list[str], typer.Argument(help="HTML files or http(s) URLs")],
    url: PageUrlOption = None,
    timezone_name: TimezoneOption = None,
    config: ConfigOption = None,
    archive: ArchiveOption = None,
) -> None:
    """Extract pages into records, one JSON line each, in input order; writes nothing."""
    from crawler.extract.core import ExtractOptions, NoArticle, extract_article
    from crawler.extract.fetch import FetchError, fetch_page
    from crawler.extract.record import article_record

    if url is not None and (len(inputs) != 1 or inputs[0].startswith(("http://", "https://"))):
        # One page's URL: given to several, each record would claim it.
        err.print("[red]error:[/] --url names the page of a single file input")
        raise typer.Exit(EXIT_BAD_CONFIG)
    settings = config_in_use(config)  # how pages are fetched: the crawl's User-Agent, timeout, size limit
    failed = 0
    options = ExtractOptions(timezone=timezone_name, now=datetime.now(timezone.utc))
    for item in inputs:
        try:
            if item.startswith(("http://", "https://")):
                page = fetch_page(item, settings.crawl if settings else None)
                body, page_url, content_type = page.body, page.url, page.content_type
            else:
                body, page_url, content_type = Path(item).read_bytes(), url or Path(item).resolve().as_uri(), None
            article = extract_article(body, page_url, content_type=content_type, options=options)
        except (OSError, FetchError, NoArticle) as exc:
            failed += 1
            err.print(f"[red]{escape(item)}:[/] {escape(str(exc))}", highlight=False)
            continue
        record = article_record(article, source="extract", fetched=datetime.now(timezone.utc), categories=[])
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    raise typer.Exit(1 if failed else 0)


@app.command("sources")
def list_sources(
    config: ConfigOption = None,
    archive: ArchiveOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per source")] = False,
) -> None:
    """Sources with their kind, schedule, last run (result, counts) and next run."""
    from crawler.status import source_status

    settings_config = load(config)
    rows = source_status(settings_config, archive_url=archive)
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table()
    for column in ("id", "kind", "schedule", "last run", "result", "next run", "url"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.cells())
    out.print(table)


@app.command()
def daemon(
    config: ConfigOption = None,
    archive: ArchiveOption = None,
    metrics_port: Annotated[Optional[int], typer.Option("--metrics-port", help="serve /metrics and /healthz on this port (0: any free port, logged)")] = None,
    metrics_host: Annotated[str, typer.Option("--metrics-host")] = "127.0.0.1",
    log_format: LogFormatOption = "text",
    log_level: LogLevelOption = "INFO",
) -> None:
    """Run every source on its schedule until SIGTERM or SIGINT."""
    import logging

    from crawler.configfile import config_path, load_config
    from crawler.daemon import Daemon
    from crawler.logs import setup_logging

    # Logging first: with --log-format json even a config error is a JSON line.
    setup_logging(log_format, log_level)
    try:
        settings_config = load_config(config)
    except ConfigError as exc:
        for line in exc.lines():
            logging.getLogger("newsarchive.config").error("config error: %s", line)
        raise typer.Exit(EXIT_BAD_CONFIG) from None
    if settings_config.distributed is not None:
        refuse_archive_override(settings_config, archive, logging.getLogger("newsarchive.config").error)
    runner = Daemon(settings_config, config_path(config), archive_url=archive, metrics_port=metrics_port,
                    metrics_host=metrics_host, log_format=log_format, log_level=log_level)
    raise typer.Exit(runner.run())


def _register_archive_commands() -> None:
    """ls, show, search, export, verify, serve (crawler/archive_commands.py)."""
    from crawler.archive_commands import register

    register(app)


_register_archive_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    # `python -m crawler.cli` runs the command line too (without the paused
    # collection of `python -m crawler`, the way to run it: see crawler.__main__).
    main()
