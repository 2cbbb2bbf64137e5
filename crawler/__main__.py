"""`python -m crawler` and the `newsarchive` command: the command line, loaded with collection paused.

A package's ``__main__``, not ``-m crawler.cli``: multiprocessing runs a main
*module* again in every worker it starts, which imported the whole command
line (typer, rich, the config's models: about 0.15 s of CPU) into each
extraction worker of a daemon's crawl; it never runs one named ``__main__``
again. (The console script is a main *script*: see
crawler.extract.worker.adopt_main_path.)
"""

import gc


def main() -> None:
    # A command's start imports and builds over 100,000 objects that live as
    # long as the process, and the garbage collector, run again and again as
    # they are made, walks them for the few that die: 0.06 s of a crawl's
    # 0.45 s of imports. It is paused until the command is known
    # (crawler.cli.resume_collection), or for a crawl until those objects are
    # frozen (crawler.runner.run_spider).
    gc.disable()
    from crawler.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
