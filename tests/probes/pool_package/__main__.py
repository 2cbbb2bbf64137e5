"""tests/probes/pool_main.py's probe as a package's __main__, run as the daemon runs `python -m crawler`.

    python -m tests.probes.pool_package MARKER_DIR
"""

from __future__ import annotations

import sys

from tests.probes.pool_main import mark_process, print_pool_workers

mark_process(sys.argv[1])
if __name__ == "__main__":
    print_pool_workers()
