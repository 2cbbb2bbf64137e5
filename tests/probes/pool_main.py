"""A main script that starts the extraction pool: run by test_langmodel as a script, not with -m.

    python tests/probes/pool_main.py MARKER_DIR

Run as a script, as the `newsarchive` entry point is. Each process that runs
this script's body leaves a file named after its pid in MARKER_DIR; the
script prints the pids of the pool's workers, one per line.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
marker_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
if marker_dir is not None:
    (marker_dir / str(os.getpid())).touch()

if __name__ == "__main__":
    from crawler.extract.worker import start_extraction_server

    context = start_extraction_server()
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        pids = {job.result() for job in [pool.submit(os.getpid) for _ in range(8)]}
    print("\n".join(map(str, sorted(pids))))
