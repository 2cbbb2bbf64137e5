"""Crawl throughput: `newsarchive crawl` over N portal-weight pages on loopback.

For each N, a site of N distinct ~100 KB article pages (Chinese and English,
one JPEG each; see portal_site.py) is served by an asyncio HTTP server in a
thread of this process, and the real command crawls its RSS feed into a fresh temporary
archive (robots.txt obeyed; no download delay and no AutoThrottle, which
are politeness, not cost). Measured:

- wall time of the command, from launch to exit;
- CPU seconds of the crawl's process tree (the crawl, the forkserver and the
  extraction workers): the crawl's own from this process's RUSAGE_CHILDREN
  delta, the others' from psutil, sampled every 0.2 s (see tree_cpu);
- peak RSS of the tree (the sum of its processes' RSS, sampled every 0.2 s;
  pages the workers share with the forkserver count once per process), and
  the peak of the summed PSS beside it (shared pages counted once; read every
  0.4 s, as reading it costs the cores the crawl uses);
- articles/s and CPU s/article; the archive must hold N records and N images;
- trafilatura alone: CPU time (time.process_time) of ``trafilatura.extract``
  over the same N page bodies, in one process pinned to one core;
- the ratio of the crawl's wall time to that CPU time (target: <= 0.8 on 2 cores);
- first, what one archive write costs in the scratch directory: it depends on
  the file system's recent past, not on the crawler, and the benchmark waits
  (a few minutes at most) for it to be quiet (see wait_for_quiet_files).

    python bench/crawl_bench.py [--n 150 600] [--repeat 3] [--concurrency 16] [--workers N]
        [--set warc=false]                       # a crawl setting of the config
        [--scratch DIR]                          # where the archives go (default: the temporary directory)
        [--py-spy FILE | --cprofile FILE]        # profile the crawl (see pyspy_top.py)

Each N is crawled --repeat times (and trafilatura timed as often): the run
with the median wall time is reported, against the median trafilatura CPU;
wall times of single runs vary by about 10 % here. The load average is
printed when other work runs on the machine: wall times are only comparable
on an otherwise idle machine; CPU figures much less so.

Figures only: nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_site import PortalServer, build_site  # noqa: E402

from crawler.config import CrawlSettings  # noqa: E402

try:
    import psutil
except ImportError:  # figures from getrusage alone; no peak RSS of the tree
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.2
FILE_WRITE_PROBES = 200
# An archive write costs about 0.2 ms of CPU on a quiet ext4 (mostly its fsync); several times that is the file system's state.
SLOW_FILE_WRITE_SECONDS = 0.0005
QUIET_FILE_CHECKS = 4
QUIET_FILE_WAIT_SECONDS = 65
PSS_EVERY = 2  # samples: PSS every 0.4 s


@dataclass
class CrawlResult:
    n: int
    wall: float
    cpu: float
    cpu_psutil: float | None
    cpu_rusage: float
    peak_rss: int | None
    peak_pss: int | None
    records: int
    images: int
    cpu_by_process: str
    startup: float | None  # launch to first request the site served
    tail: float | None  # last request served to exit
    crawl_sys: float = 0.0  # of cpu_rusage, in the kernel (sockets, pipes, epoll, files)
    site_cpu: float = 0.0  # the site's server thread during the crawl: not the crawl's, but on the same cores
    bench_cpu: float = 0.0  # this whole process meanwhile: the site's server and the sampler
    traf_cpu: float = 0.0
    page_kb: float = 0.0

    @property
    def per_second(self) -> float:
        return self.n / self.wall

    @property
    def cpu_per_article(self) -> float:
        return self.cpu / self.n

    @property
    def ratio(self) -> float:
        return self.wall / self.traf_cpu if self.traf_cpu else float("nan")


class TreeSampler(threading.Thread):
    """Every 0.2 s: the summed RSS of a process and its descendants, and each one's CPU time."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self.peak_pss = 0  # shared pages counted once: the tree's real footprint
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> last user+system seen
        self.names: dict[tuple[int, float], str] = {}
        self.stopping = threading.Event()
        self.samples = 0

    def sample(self) -> None:
        # PSS (smaps) costs a millisecond of CPU per process, on the cores the
        # crawl uses: read every PSS_EVERY samples only.
        with_pss = self.samples % PSS_EVERY == 0
        self.samples += 1
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss = pss = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    memory = proc.memory_full_info() if with_pss else proc.memory_info()
                    rss += memory.rss
                    pss += getattr(memory, "pss", memory.rss)
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    self.cpu[key] = times.user + times.system
                    if key not in self.names:
                        self.names[key] = process_role(proc, self.root)
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        if with_pss:
            self.peak_pss = max(self.peak_pss, pss)

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    @property
    def root_cpu_seconds(self) -> float:
        return sum(cpu for (pid, _created), cpu in self.cpu.items() if pid == self.root.pid)

    def breakdown(self) -> str:
        return ", ".join(f"{self.names[key]} {cpu:.1f}" for key, cpu in sorted(self.cpu.items(), key=lambda kv: -kv[1]))


def process_role(proc, root) -> str:
    """crawl, forkserver, worker or resource_tracker: what a process of the tree is."""
    if proc.pid == root.pid:
        return "crawl"
    try:
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        return "?"
    if "resource_tracker" in cmdline:
        return "resource_tracker"
    try:
        # Workers are forked by the forkserver (and inherit its command line).
        return "forkserver" if proc.ppid() == root.pid else "worker"
    except psutil.Error:
        return "?"


def crawl_command() -> list[str]:
    script = Path(sys.executable).with_name("newsarchive")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crawler"]


def write_config(workdir: Path, base_url: str, concurrency: int, workers: int | None, extra: dict | None = None) -> Path:
    crawl = {"download_delay": 0, "obey_robots_txt": True, "concurrency": concurrency, "images": True}
    if "autothrottle" in CrawlSettings.model_fields:
        # Politeness, like the delay: on loopback it only slows the start down.
        crawl["autothrottle"] = False
    crawl.update(extra or {})
    if workers is not None and workers >= 0:
        crawl["extract_workers"] = workers
    config = {
        "archive": {"url": str(workdir / "archive")},
        "crawl": crawl,
        "sources": [{"id": "bench-portal", "kind": "feed", "url": f"{base_url}/rss.xml", "categories": ["要闻", "Bench"]}],
        "daemon": {"state_dir": str(workdir / "state")},
    }
    path = workdir / "newsarchive.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def count_files(folder: Path, suffix: str | None = None) -> int:
    if not folder.exists():
        return 0
    return sum(1 for p in folder.rglob("*") if p.is_file() and (suffix is None or p.name.endswith(suffix)))


def run_crawl(n: int, concurrency: int, workers: int | None, keep: Path | None,
              profile: Path | None = None, cprofile: Path | None = None, extra: dict | None = None,
              scratch: Path | None = None) -> tuple[CrawlResult, list[bytes]]:
    """One crawl of N pages; its files are left in ``scratch`` (removed by the caller), else removed here."""
    workdir = Path(tempfile.mkdtemp(prefix="newsarchive-bench-", dir=scratch))
    try:
        with PortalServer() as server:
            site = build_site(n, server.base_url)
            server.routes = site.routes
            pages = site.page_bytes()
            config = write_config(workdir, server.base_url, concurrency, workers, extra)
            command = [*crawl_command(), "crawl", "--config", str(config)]
            if cprofile:  # the crawl process's main (reactor) thread only
                command = [sys.executable, "-m", "cProfile", "-o", str(cprofile.with_suffix(f".n{n}.prof")),
                           "-m", "crawler", "crawl", "--config", str(config)]
            if profile:  # py-spy samples the whole tree (GIL holders: Python CPU); its overhead inflates the figures
                py_spy = Path(sys.executable).with_name("py-spy")
                command = [str(py_spy) if py_spy.exists() else "py-spy", "record", "--subprocesses", "--gil", "--rate", "250",
                           "--format", "raw", "--output", str(profile.with_suffix(f".n{n}.txt")), "--", *command]
            log = (workdir / "crawl.log").open("wb")
            # The last run's files (tens of MB) are written back now, not during this run.
            os.sync()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            server.reset_counters()
            site_cpu_before, bench_cpu_before = server.cpu_seconds(), time.process_time()
            started = time.monotonic()
            proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            sampler = TreeSampler(proc.pid) if psutil else None
            if sampler:
                sampler.sample()
                sampler.start()
            returncode = proc.wait()
            wall = time.monotonic() - started
            site_cpu, bench_cpu = server.cpu_seconds() - site_cpu_before, time.process_time() - bench_cpu_before
            if sampler:
                sampler.stop()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            log.close()
            first, last = server.first_request, server.last_request
        output = (workdir / "crawl.log").read_text(encoding="utf-8", errors="replace")
        if returncode != 0:
            raise SystemExit(f"crawl of N={n} failed with exit code {returncode}:\n{output[-4000:]}")
        store = workdir / "archive"
        records, images = count_files(store / "articles", ".json"), count_files(store / "images")
        expected_images = n if (extra or {}).get("images", True) else 0
        if records != n or images != expected_images:
            raise SystemExit(f"N={n}: the archive holds {records} records and {images} images, "
                             f"expected {n} and {expected_images}\n{output[-4000:]}")
        cpu_rusage = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        cpu_psutil = sampler.cpu_seconds if sampler else None
        result = CrawlResult(
            n=n, wall=wall, cpu=tree_cpu(cpu_rusage, sampler), cpu_psutil=cpu_psutil, cpu_rusage=cpu_rusage,
            peak_rss=sampler.peak_rss if sampler else None, peak_pss=sampler.peak_pss if sampler else None,
            records=records, images=images,
            cpu_by_process=sampler.breakdown() if sampler else "",
            startup=(first - started) if first else None, tail=(started + wall - last) if last else None,
            site_cpu=site_cpu, bench_cpu=bench_cpu, crawl_sys=after.ru_stime - before.ru_stime,
            page_kb=sum(map(len, pages)) / len(pages) / 1024,
        )
        return result, pages
    finally:
        if keep:
            shutil.copytree(workdir, keep / f"n{n}", dirs_exist_ok=True)
        if scratch is None:
            shutil.rmtree(workdir, ignore_errors=True)


def tree_cpu(rusage: float, sampler: TreeSampler | None) -> float:
    """CPU seconds of the whole tree.

    getrusage counts the crawl process exactly (this process reaps it) but not
    the forkserver and its workers, which the crawl never reaps; psutil's last
    samples count those (missing at most their last 0.2 s, when they idle).
    """
    if sampler is None:
        return rusage  # the crawl process alone: a lower bound
    others = sampler.cpu_seconds - sampler.root_cpu_seconds
    if rusage <= sampler.root_cpu_seconds + 0.5:
        return rusage + others
    return max(rusage, sampler.cpu_seconds)  # descendants were reaped into getrusage


def trafilatura_cpu(pages: list[bytes], scratch: Path) -> float:
    """CPU seconds of trafilatura.extract over the pages, in a child process pinned to one core."""
    listing = Path(tempfile.mkdtemp(prefix="newsarchive-bench-traf-", dir=scratch)) / "pages.pickle"
    listing.write_bytes(pickle.dumps(pages))  # one file (see main() on deleting files), gone at once
    try:
        result = subprocess.run([sys.executable, __file__, "--trafilatura-only", str(listing)],
                                capture_output=True, text=True, check=True)
    finally:
        listing.unlink()
    return float(result.stdout.strip().splitlines()[-1])


def trafilatura_child(listing: Path) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import trafilatura

    pages = pickle.loads(listing.read_bytes())
    trafilatura.extract(pages[0])  # warm-up: lazy imports and first-use tables stay out of the figure
    started = time.process_time()
    for page in pages:
        trafilatura.extract(page)
    print(time.process_time() - started)


def mb(value: int | None) -> str:
    return f"{value / 2**20:.0f}" if value else "n/a"


def print_table(results: list[CrawlResult]) -> None:
    print()
    print("| N | page KB | wall s | articles/s | CPU s (tree) | CPU s/article | peak RSS MB | trafilatura CPU s | wall / trafilatura CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.n} | {r.page_kb:.0f} | {r.wall:.1f} | {r.per_second:.1f} | {r.cpu:.1f} | {r.cpu_per_article * 1000:.0f} ms | "
              f"{mb(r.peak_rss)} | {r.traf_cpu:.1f} | {r.ratio:.2f} |")
    print()
    for r in results:
        extra = [f"peak PSS {mb(r.peak_pss)} MB (shared pages counted once)",
                 f"CPU psutil {r.cpu_psutil:.1f} s" if r.cpu_psutil is not None else "psutil not installed",
                 f"getrusage {r.cpu_rusage:.1f} s ({r.crawl_sys:.1f} s in the kernel)"]
        if r.startup is not None:
            extra.append(f"launch to first request {r.startup:.1f} s, last request to exit {r.tail:.1f} s")
        extra.append(f"site server CPU {r.site_cpu:.2f} s (with the sampler: {r.bench_cpu:.2f} s)")
        extra.append(f"trafilatura {r.traf_cpu / r.n * 1000:.1f} ms/page")
        if r.cpu_by_process:
            extra.append(f"CPU s by process: {r.cpu_by_process}")
        print(f"N={r.n}: " + "; ".join(extra))
    if len(results) >= 2:
        first, last = results[0], results[-1]
        print(f"CPU s/article N={last.n} vs N={first.n}: x{last.cpu_per_article / first.cpu_per_article:.2f}")
    print("targets (2 cores): wall / trafilatura CPU <= 0.80; CPU s/article flat; peak RSS < 1024 MB at N=600")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[150, 600], help="article counts (default 150 600)")
    parser.add_argument("--repeat", type=int, default=3, help="crawls per N; the median is reported (default 3)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="crawl.extract_workers (default: the config default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another crawl: setting of the config (YAML value), e.g. --set warc=false")
    parser.add_argument("--keep", type=Path, default=None, help="copy each run's archive and log here")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="FILE",
                        help="run the crawl under py-spy record --subprocesses; collapsed stacks to FILE.n<N>.txt")
    parser.add_argument("--cprofile", type=Path, default=None, metavar="FILE",
                        help="run the crawl under cProfile (its reactor thread); stats to FILE.n<N>.prof")
    parser.add_argument("--scratch", type=Path, default=None, metavar="DIR",
                        help="where the runs' archives are written (default: the system's temporary directory)")
    parser.add_argument("--trafilatura-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trafilatura_only:
        trafilatura_child(args.trafilatura_only)
        return
    print(f"crawl benchmark: {os.cpu_count()} cores, concurrency {args.concurrency}, "
          f"extract_workers {'default' if args.workers is None else args.workers}, psutil {'yes' if psutil else 'no'}")
    compile_project()
    extra = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.set)}
    if extra:
        print(f"crawl settings: {extra}")
    # Every run's files are deleted at the end, not between runs: on ext4,
    # creating a file right after thousands were deleted scans past their
    # inodes (recently_deleted), which made each run's kernel time grow by
    # up to a second over the one before. An archive is never emptied like that.
    if args.scratch:
        args.scratch.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="newsarchive-bench-", dir=args.scratch) as scratch:
            file_cpu = wait_for_quiet_files(Path(scratch))
            results = run_all(args, extra, Path(scratch))
    finally:
        os.sync()  # the deleted inodes' table written back: they count as recently freed for a minute, not six
    print_table(results)
    quiet = "quiet" if file_cpu <= SLOW_FILE_WRITE_SECONDS else "NOT quiet: kernel times inflated"
    print(f"an archive write in the scratch directory cost {file_cpu * 1e6:.0f} µs of CPU before the runs ({quiet})")


def wait_for_quiet_files(scratch: Path) -> float:
    """Wait (a few minutes at most) until writing a file in ``scratch`` costs what it does on a quiet file system.

    On ext4 without a journal (this machine's), creating a file where
    thousands were deleted in the last minutes (a test suite, an earlier
    benchmark) skips, reading each, every inode freed meanwhile: an archive
    write then costs 0.8-1.4 ms of CPU instead of 0.2, two per article, which
    no crawl of a real archive pays. Freed inodes stop counting a minute after
    they are written back. Returns the last figure, to print with the results.
    """
    file_cpu = 0.0
    for attempt in range(QUIET_FILE_CHECKS):
        file_cpu = file_write_cpu(scratch)
        print(f"writing a file in {scratch}: {file_cpu * 1e6:.0f} µs of CPU (the archive's put: 32 KB, fsync, rename)", flush=True)
        if file_cpu <= SLOW_FILE_WRITE_SECONDS:
            return file_cpu
        if attempt + 1 < QUIET_FILE_CHECKS:
            print(f"note: files are slow to create here (inodes freed in the last minutes nearby); "
                  f"waiting {QUIET_FILE_WAIT_SECONDS} s", flush=True)
            os.sync()
            time.sleep(QUIET_FILE_WAIT_SECONDS)
    print("note: files are still slow to create here: the crawl's kernel time is inflated; "
          "pass --scratch on a quiet file system", flush=True)
    return file_cpu


def file_write_cpu(scratch: Path) -> float:
    """CPU seconds (user and kernel) one archive write costs in ``scratch`` (see wait_for_quiet_files).

    The files stay until the benchmark ends: deleted, they would slow the next ones.
    """
    from archive.store.local import LocalStore

    store = LocalStore(Path(tempfile.mkdtemp(prefix="write-probe-", dir=scratch)))
    data = os.urandom(32 * 1024)
    started = time.process_time()
    for number in range(FILE_WRITE_PROBES):
        # Spread over new directories, as image keys are (images/ab/cd/...): each
        # new directory's inode may be placed in another part of the disk.
        spread = hashlib.sha256(str(number).encode()).hexdigest()
        store.put(f"probe/{spread[:2]}/{spread[2:4]}/{number}.bin", data)
    return (time.process_time() - started) / FILE_WRITE_PROBES


def compile_project() -> None:
    """Byte-compile the project's modules, as installing it from a wheel does.

    An editable install run with PYTHONDONTWRITEBYTECODE set (as some
    shells do) never writes them: each crawl process and its forkserver
    would compile our 90 modules from source as they start, a cost an
    installed crawler does not pay.
    """
    import compileall

    for package in ("crawler", "archive"):
        compileall.compile_dir(ROOT / package, quiet=1)


def run_all(args: argparse.Namespace, extra: dict, scratch: Path) -> list[CrawlResult]:
    results = []
    for n in args.n:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        if load > 0.5:
            print(f"note: load average {load:.1f} before N={n}: other work on this machine skews wall times", flush=True)
        runs, traf_cpus = [], []
        # A profile is of one crawl: repeats would overwrite it.
        for _ in range(1 if args.py_spy or args.cprofile else max(1, args.repeat)):
            result, pages = run_crawl(n, args.concurrency, args.workers, args.keep, args.py_spy, args.cprofile, extra, scratch)
            traf_cpus.append(trafilatura_cpu(pages, scratch))
            print(f"N={n}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, peak RSS {mb(result.peak_rss)} MB, "
                  f"{result.records} records, {result.images} images; trafilatura {traf_cpus[-1]:.1f} s CPU", flush=True)
            runs.append(result)
        result = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
        result.traf_cpu = sorted(traf_cpus)[len(traf_cpus) // 2]
        results.append(result)
    return results


if __name__ == "__main__":
    main()
