"""The `newsarchive` command: the console script's entry, and `python -m crawler` (how the daemon runs its crawls).

Apart from the command line itself (crawler.cli) so that a crawl can start
its extraction workers' server before the command line's imports: typer,
rich and the config's models take 0.2 s, which the server spends warming up
on the other core instead of after them.

Run as a package's ``__main__``, not as ``-m crawler.cli``: multiprocessing
runs a main *module* again in every worker it starts (importing the whole
command line there, 0.15 s of CPU each), but never one named ``__main__``.
"""

from __future__ import annotations

import atexit
import sys

# Options that make `crawl` print and exit instead of crawling.
HELP_OPTIONS = ("--help",)


def starts_local_crawl(arguments: list[str]) -> bool:
    """Whether the command is a crawl, as far as the arguments tell before its config is read.

    A guess: a distributed crawl (only enqueued) or one extracting in its own
    process stops the server again once its config says so (crawler.cli.start_extraction).
    """
    return arguments[:1] == ["crawl"] and not any(option in arguments for option in HELP_OPTIONS)


def main() -> None:
    if starts_local_crawl(sys.argv[1:]):
        from crawler.extract.worker import start_extraction_server, stop_extraction_server

        start_extraction_server()
        # However the command ends (a bad config, every source busy): not left warming up for nothing.
        atexit.register(stop_extraction_server)
    from crawler.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
