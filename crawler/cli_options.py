"""Options of the ``newsarchive`` commands, checked where they are parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from crawler.config import check_archive_url, check_http_url, check_timezone
from crawler.logs import check_log_format, check_log_level


def _checked(check: Callable[[str], str]) -> Callable[[str | None], str | None]:
    """An option callback running one of the config's checks: a bad value is a
    usage error (exit 2) naming the option, not a traceback later."""

    def callback(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return callback


ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="config file (default $NEWSARCHIVE_CONFIG, then config/newsarchive.yaml)")]
ArchiveOption = Annotated[Optional[str], typer.Option("--archive", help="archive URL, overriding the config's", callback=_checked(check_archive_url))]
TimezoneOption = Annotated[Optional[str], typer.Option("--timezone", help="for times given without offset", callback=_checked(check_timezone))]
LogFormatOption = Annotated[str, typer.Option("--log-format", help="text or json", callback=_checked(check_log_format))]
LogLevelOption = Annotated[Optional[str], typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL",
                                                       callback=_checked(check_log_level))]
PageUrlOption = Annotated[Optional[str], typer.Option("--url", help="the page's URL, for a single file input",
                                                      callback=_checked(check_http_url))]
