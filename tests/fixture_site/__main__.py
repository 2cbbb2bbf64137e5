"""``python -m tests.fixture_site [--port N]``: serve the site until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from .catalog import ALL_ARTICLES, FEEDS, SITEMAPS
from .server import FixtureSite


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fixture_site", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--quiet", action="store_true", help="print only the base URL")
    args = parser.parse_args(argv)
    with FixtureSite(port=args.port) as site:
        print(site.base_url, flush=True)
        if not args.quiet:
            for spec in [*FEEDS.values(), *SITEMAPS.values()]:
                print(f"  {spec.name:14} {spec.url(site.base_url)}")
            for article in ALL_ARTICLES:
                print(f"  {article.key:20} {article.url(site.base_url)}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
