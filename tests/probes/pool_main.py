"""A main script that starts the extraction pool, as the `newsarchive` entry point is run.

    python tests/probes/pool_main.py MARKER_DIR

Each process that runs this script's body (the script itself, and any worker
multiprocessing runs it again in) leaves a file named after its pid in
MARKER_DIR; the script prints the pids of the pool's workers, one per line.
tests/probes/pool_package is the same probe run with -m, as the daemon runs
`python -m crawler`.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def mark_process(marker_dir: str) -> None:
    (Path(marker_dir) / str(os.getpid())).touch()


def print_pool_workers() -> None:
    from crawler.extract.worker import start_extraction_server

    context = start_extraction_server()
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        pids = {job.result() for job in [pool.submit(os.getpid) for _ in range(8)]}
    print("\n".join(map(str, sorted(pids))))


if __name__ in ("__main__", "__mp_main__"):  # __mp_main__: run again by multiprocessing in a worker
    mark_process(sys.argv[1])
if __name__ == "__main__":
    print_pool_workers()
