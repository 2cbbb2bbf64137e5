"""`python -m crawler`: the `newsarchive` command, as the daemon runs its crawls.

A package's ``__main__``, not ``-m crawler.cli``: multiprocessing runs a main
*module* again in every worker it starts, which imported the whole command
line (typer, rich, the config's models: about 0.15 s of CPU) into each
extraction worker of a daemon's crawl; it never runs one named ``__main__``
again. (The console script is a main *script*: see
crawler.extract.worker.adopt_main_path.)
"""

from crawler.cli import main

if __name__ == "__main__":
    main()
