"""The archivists' commands: ls, show, search, export, verify, serve.

Thin wrappers: the work is in ``archive/`` (which knows nothing of Scrapy).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archive.fields import one_line, without_controls
from archive.store import StoreError
from crawler.cli_options import ArchiveOption, ConfigOption


def _stop_writing() -> None:
    """Stdout's reader is gone (``| head``): what is still printed goes nowhere, at exit too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _Stdout(Console):
    def on_broken_pipe(self) -> None:
        # rich's own exits 1, `search`'s "no article matches": raised on
        # instead, for the command to say what a cut listing means (see listing_read_in_part).
        _stop_writing()
        raise BrokenPipeError


@contextmanager
def listing_read_in_part() -> Iterator[None]:
    """A listing whose reader stopped early (``ls | head``) ends with exit 0: it was there to be read."""
    try:
        yield
    except BrokenPipeError:
        _stop_writing()
        raise typer.Exit(0) from None


out = _Stdout()
err = Console(stderr=True)

SourceOption = Annotated[Optional[str], typer.Option("--source", help="only this source")]
SinceOption = Annotated[Optional[str], typer.Option("--since", help="published on or after this date (YYYY-MM-DD)")]
EXPORT_FORMATS = ("jsonl", "hexo", "warc")
WHITESPACE_RUN_RE = re.compile(r"\s+")
# A store that fails a command: it cannot go on without its archive.
EXIT_STORE_FAILED = 1
# `search` answers as grep does, so a script can tell "no article has it" from
# "could not look" (a failing store or search index; a bad config or option
# is 2 already, as for every command).
EXIT_SEARCH_NO_MATCH = 1
EXIT_SEARCH_ERROR = 2
EXIT_EXPORT_PARTIAL = 1
# What `verify` names on the terminal: an archive whose disk or bucket went bad
# has thousands of damaged objects, and the count says how many (--json lists them all).
VERIFY_SHOWN_PROBLEMS = 50
VERIFY_SHOWN_NAMED_BY = 5  # records named as using one damaged image or capture
# How a command ends on purpose, with an exit code of its own: typer's, and click's under it.
COMMAND_EXITS = (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.exceptions.ClickException)


def open_archive(config: Path | None, archive: str | None):
    """The archive store: --archive, else the config's (a missing default config is fine with --archive)."""
    from archive.store import open_store
    from crawler.cli import config_in_use, load

    settings = load(config) if archive is None else config_in_use(config)
    endpoint = settings.archive.endpoint_url if settings else None
    return open_store(archive or settings.archive.url, endpoint_url=endpoint)


def _since(value: str | None):
    """--since parsed, or exit 2 naming the bad value."""
    from archive.catalog import parse_since

    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        err.print(Text(f"--since: {exc}"))
        raise typer.Exit(2) from None


def _filters(source: str | None, since: str | None) -> str:
    """What an empty answer was asked for: 'of source x since 2024-01-01', or 'in the catalog'."""
    asked = ([f"of source {source!r}"] if source else []) + ([f"since {since}"] if since else [])
    return " ".join(asked) or "in the catalog"


def _named_by(records: list[str]) -> str:
    """`` (named by a, b and 3 more)``: the records using a damaged object, bounded."""
    if not records:
        return ""
    more = len(records) - VERIFY_SHOWN_NAMED_BY
    return f" (named by {', '.join(records[:VERIFY_SHOWN_NAMED_BY])}{f' and {more} more' if more > 0 else ''})"


def _on_one_line(part: str) -> str:
    """A piece of a line (a snippet's text before its match): as one_line, but a space at either end is kept."""
    return without_controls(WHITESPACE_RUN_RE.sub(" ", part))


def _error_line(message: str) -> None:
    err.print(Text("error: ", style="red") + Text(one_line(message)), soft_wrap=True, highlight=False)


def reports_store_errors(command: Callable[..., None] | None = None, *, exit_code: int = EXIT_STORE_FAILED) -> Callable[..., Any]:
    """The command, a store that fails it (unreachable, refusing access, no such bucket) reported on one line, exit ``exit_code``.

    A StoreError's message says which store and key, and why; a traceback
    buried it, and a command cannot go on without its archive. Used bare
    (``@reports_store_errors``) or with the exit code of a command whose 1
    means something else (``@reports_store_errors(exit_code=...)``).
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args, **kwargs) -> None:
            try:
                command(*args, **kwargs)
            except StoreError as exc:
                _error_line(str(exc))
                raise typer.Exit(exit_code) from None

        return run

    return decorate if command is None else decorate(command)


def unforeseen_errors_exit(exit_code: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The command, an exception no handler foresaw (a bug, damage of a kind not met yet) said on one
    ``error:`` line with exit ``exit_code``.

    For `search`, whose exit 1 means "no article matches": Python's own exit
    on an uncaught exception is 1 too, and a script took a crash for a miss.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args, **kwargs) -> None:
            try:
                command(*args, **kwargs)
            except COMMAND_EXITS:
                raise
            except Exception as exc:
                _error_line(f"{type(exc).__name__}: {exc}")
                raise typer.Exit(exit_code) from None

        return run

    return decorate


def _print_rows(rows: list[tuple[str, str, str, str]]) -> None:
    """`ls`'s listing: a table on a terminal, tab-separated lines when piped."""
    if out.is_terminal:
        table = Table(box=None, show_header=True, pad_edge=False)
        for column in ("date", "source", "id", "title"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        out.print(table)
    else:
        sys.stdout.write("".join("\t".join(row) + "\n" for row in rows))
        sys.stdout.flush()  # here, where a reader gone is told (listing_read_in_part), not at exit


def register(app: typer.Typer) -> None:
    @app.command("ls")
    @reports_store_errors
    def list_articles(source: SourceOption = None, since: SinceOption = None, limit: Annotated[int, typer.Option("--limit", min=0, help="at most this many (0: all)")] = 0,
                      config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """Archived articles, newest first: date, source, id, title (tab-separated when piped)."""
        from archive.catalog import list_entries, segment_keys

        cutoff = _since(since)
        store = open_archive(config, archive)
        entries = list_entries(store, source=source, since=cutoff)[: limit or None]
        if not entries and not segment_keys(store):
            err.print(Text(f"the catalog of {store.url} is empty (rebuild it with `newsarchive verify --rebuild-index`)"))
        elif not entries:
            err.print(Text(f"no article {_filters(source, since)}"))
        # Records of an archive made before control characters were dropped may hold them.
        rows = [((e.sort_time or "")[:16].replace("T", " "), e.source, e.id, one_line(e.title)) for e in entries]
        with listing_read_in_part():
            _print_rows(rows)

    @app.command()
    @reports_store_errors
    def show(article_id: str, as_json: Annotated[bool, typer.Option("--json", help="the raw record")] = False,
             config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """One article: readable, or its raw record with --json."""
        from archive.keys import BadKey, article_key
        from archive.store import KeyNotFound

        store = open_archive(config, archive)
        article_id = article_id.strip().lower()  # ids are lower-case hex; one pasted in capitals is the same
        try:
            key = article_key(article_id)
            data = store.get(key)
        except (KeyNotFound, BadKey):
            err.print(Text(f"no article {article_id!r} in {store.url}"))
            raise typer.Exit(1) from None
        # A record is UTF-8 JSON: one that is not is damaged, with --json as without.
        try:
            text = data.decode("utf-8")
            record = json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError too
            err.print(Text(f"the record {key} is damaged ({exc}); `newsarchive verify` reports it"), soft_wrap=True)
            raise typer.Exit(1) from None
        if as_json:
            sys.stdout.write(text)
            return
        meta = [record.get("source", ""), record.get("published") or "no date", ", ".join(record.get("authors") or []) or "no author"]
        lines = [record.get("title", ""), " · ".join(meta), record.get("url", "")]
        if record.get("categories"):
            lines.append(" · ".join(record["categories"]))
        images = record.get("images") or []
        lines.append(f"{len(images)} images" + "".join(f"\n  {i.get('key')}  ({i.get('url')})" for i in images))
        lines += ["", record.get("text", "")]
        for number, line in enumerate(lines):
            out.print(Text(without_controls(str(line)), style="bold" if number == 0 else ""), soft_wrap=True, highlight=False)

    @app.command()
    @unforeseen_errors_exit(EXIT_SEARCH_ERROR)
    @reports_store_errors(exit_code=EXIT_SEARCH_ERROR)
    def search(text: str, limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
               config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """Full-text search over titles and bodies (Chinese included).

        Exit status as grep's: 0 when some article matches, 1 when none does,
        2 on an error (the archive or the search index cannot be read, a bad config).
        """
        from archive.search import SearchIndex, SearchIndexError, default_index_path

        if not text.strip():
            _error_line("nothing to search for: give some text")  # a usage error, not "no article matches" (1)
            raise typer.Exit(EXIT_SEARCH_ERROR)
        store = open_archive(config, archive)
        index = SearchIndex(default_index_path(store.url))
        try:
            hits = index.search_archive(store, text, limit=limit)
        except SearchIndexError as exc:
            _error_line(str(exc))
            raise typer.Exit(EXIT_SEARCH_ERROR) from None
        finally:
            index.close()
        with listing_read_in_part():
            for hit in hits:
                out.print(Text(f"{(hit.published or '')[:10]:10} {hit.source:16} {hit.id}  ") + Text(one_line(hit.title), style="bold"),
                          soft_wrap=True, highlight=False)
                before, match, after = (_on_one_line(part) for part in hit.snippet)
                # The match in brackets as well as bold: piped, bold is lost.
                out.print(Text("    " + before) + Text(f"[{match}]" if match else "", style="bold") + Text(after),
                          soft_wrap=True, highlight=False)
        if not hits:
            err.print(Text(f"no article matches {text!r}"))
            raise typer.Exit(EXIT_SEARCH_NO_MATCH)

    @app.command()
    @reports_store_errors
    def export(fmt: Annotated[str, typer.Option("--format", help="jsonl, hexo or warc")],
               output: Annotated[Path, typer.Option("--output", help="directory to write into")],
               source: SourceOption = None, since: SinceOption = None,
               config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """Export articles as JSON Lines, Hexo posts, or their WARC captures."""
        from archive import export as exporters
        from archive.catalog import list_entries

        if fmt not in EXPORT_FORMATS:
            err.print(Text(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}"))
            raise typer.Exit(2)
        if output.exists() and not output.is_dir():
            err.print(Text(f"--output: {output} is a file, not a directory"))
            raise typer.Exit(2)
        cutoff = _since(since)
        store = open_archive(config, archive)
        entries = list_entries(store, source=source, since=cutoff)
        if not entries:
            # Nothing written: an earlier export in that directory stays as it was.
            err.print(Text(f"no article {_filters(source, since)}: nothing exported"))
            raise typer.Exit(1)
        written, skipped = getattr(exporters, f"export_{fmt}")(store, entries, output)
        what = "WARC files" if fmt == "warc" else "articles"
        if fmt == "warc" and (source or since):
            what += " (whole files: they hold the other captures of the runs that fetched these articles too)"
        out.print(Text(f"exported {written} {what} to {output}"))
        if skipped:
            # A script must not take a partial export for a whole one.
            err.print(Text(f"{skipped} {'WARC files or records' if fmt == 'warc' else 'records'} skipped, missing or damaged "
                           "(named above; `newsarchive verify` checks the archive): the export is partial"))
            raise typer.Exit(EXIT_EXPORT_PARTIAL)

    @app.command()
    @reports_store_errors
    def verify(rebuild_index: Annotated[bool, typer.Option("--rebuild-index", help="rebuild the catalog from the records")] = False,
               as_json: Annotated[bool, typer.Option("--json")] = False,
               config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """Check every record, image and capture, going on past damaged or unreadable ones; exit 1 on any."""
        from archive.catalog import rebuild_catalog
        from archive.verify import report_json, verify_archive

        store = open_archive(config, archive)
        report = verify_archive(store)
        if as_json:
            sys.stdout.write(report_json(report) + "\n")
        else:
            out.print(f"{report.records} records, {report.images} images, {report.captures} captures checked")
            for problem in report.problems[:VERIFY_SHOWN_PROBLEMS]:
                out.print(Text("damaged ", style="red") + Text(f"{problem.key}: {problem.what}{_named_by(problem.named_by)}"),
                          soft_wrap=True, highlight=False)
            if len(report.problems) > VERIFY_SHOWN_PROBLEMS:
                out.print(Text(f"... and {len(report.problems) - VERIFY_SHOWN_PROBLEMS} more damaged objects "
                               f"(`newsarchive verify --json` lists every one)"), soft_wrap=True, highlight=False)
            if report.unlisted and not rebuild_index:
                count = len(report.unlisted)
                out.print(Text(f"{count} {'record is' if count == 1 else 'records are'} not in the catalog, so ls, search and serve do not show "
                               f"{'it' if count == 1 else 'them'} "
                               f"(a crawl still running catalogs what it wrote at its end; `verify --rebuild-index` lists them all), "
                               f"e.g. {report.unlisted[0]}"), soft_wrap=True, highlight=False)
            if report.empty:
                out.print(Text(f"nothing is stored at {store.url}: no archive there"))
            elif report.ok:
                out.print("archive OK")
            else:
                out.print(f"{len(report.problems)} problems")
        if rebuild_index:
            (err if as_json else out).print(f"catalog rebuilt: {rebuild_catalog(store)} entries")
        raise typer.Exit(0 if report.ok else 1)

    @app.command()
    @reports_store_errors
    def serve(port: Annotated[int, typer.Option("--port")] = 8080, host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
              page_size: Annotated[int, typer.Option("--page-size", min=1, help="articles or hits per page")] = 100,
              config: ConfigOption = None, archive: ArchiveOption = None) -> None:
        """A read-only web page to browse and search the archive."""
        from waitress import create_server

        from archive.catalog import CatalogSnapshot
        from archive.search import SearchIndex, default_index_path
        from archive.web import create_app

        store = open_archive(config, archive)
        index_path = default_index_path(store.url)
        # Segments once fetched are kept beside the search index: a page view reads only new ones.
        catalog = CatalogSnapshot(store, index_path.with_name(index_path.stem + "-catalog"))
        catalog.entries()  # an archive that cannot be read is said now, not by every page
        app = create_app(store, SearchIndex(index_path), catalog, page_size=page_size)
        try:
            server = create_server(app, host=host, port=port, threads=4)
        except OSError as exc:
            err.print(Text(f"cannot serve on {host}:{port}: {exc.strerror or exc}"))
            raise typer.Exit(1) from None
        err.print(Text(f"serving {store.url} on http://{host}:{port}/"))
        server.run()
