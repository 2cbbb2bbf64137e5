"""Top functions of a py-spy raw (collapsed) profile, per process of a crawl.

    python bench/crawl_bench.py --n 600 --py-spy /tmp/prof/crawl
    python bench/pyspy_top.py /tmp/prof/crawl.n600.txt [--top 40] [--match core.py]

Samples are grouped by process: the crawl (the first process), the
forkserver and its workers (all workers together), idle waits left out. For each group, the
functions with the most samples inclusive (on the stack) and exclusive (on
top of it), as a share of that group's samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

PROCESS_RE = re.compile(r"^process (\d+):")
LINE_RE = re.compile(r":\d+\)$")
# Frames of a thread waiting, not working: their samples are left out.
IDLE_FRAMES = ("Condition.wait (", "_PollLikeSelector.select (", "EpollSelector.select (", "Queue.get (queue.py")


def load(path: str, lines: bool = False):
    groups: dict[str, Counter] = defaultdict(Counter)  # group -> inclusive counts
    selfs: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    crawl_pid = None
    for line in open(path, encoding="utf-8", errors="replace"):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        pids = [m.group(1) for f in frames if (m := PROCESS_RE.match(f))]
        frames = [f for f in frames if not PROCESS_RE.match(f)]
        if frames and frames[-1].startswith(IDLE_FRAMES):
            continue
        if not lines:
            frames = [LINE_RE.sub(")", f) for f in frames]
        crawl_pid = crawl_pid or (pids[0] if pids else None)
        group = "crawl" if len(pids) <= 1 else "forkserver" if len(pids) == 2 else "workers"
        n = int(count)
        totals[group] += n
        for frame in set(frames):
            groups[group][frame] += n
        if frames:
            selfs[group][frames[-1]] += n
    return totals, groups, selfs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--lines", action="store_true", help="one row per source line, not per function")
    parser.add_argument("--match", default=None, help="only frames containing this text")
    args = parser.parse_args()
    totals, groups, selfs = load(args.profile, args.lines)
    for group in ("crawl", "forkserver", "workers"):
        if not totals[group]:
            continue
        total = totals[group]
        print(f"\n== {group}: {total} samples")
        for title, counter in (("inclusive", groups[group]), ("exclusive", selfs[group])):
            print(f"-- {title}")
            rows = [(f, c) for f, c in counter.most_common() if not args.match or args.match in f]
            for frame, count in rows[: args.top]:
                print(f"{100 * count / total:6.1f}%  {count:6d}  {frame}")


if __name__ == "__main__":
    main()
