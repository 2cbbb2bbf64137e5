"""Extraction in worker processes: the process-pool side, without Scrapy.

The crawl hands pages to a pool of processes forked from a forkserver. The
forkserver imports this module and warms extraction up once (its imports,
the language model mapped, trafilatura's tables, compiled patterns: about
0.3 s of CPU), so every worker starts with all of it loaded and shared
copy-on-write.

It is started as early as a crawl knows it will extract (``newsarchive crawl``
starts it before importing Scrapy): its imports then run on the other core
while the crawl process imports its own, instead of after them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the crawl imports this module to start the forkserver: the sooner, the better
    from crawler.items import ArticlePage

# Set (to "1") only while the forkserver starts, which then imports this
# module with it: see start_extraction_server.
WARM_UP_ENV = "NEWSARCHIVE_EXTRACT_WARM_UP"
# The crawl's main script, for the forkserver to pass for it: see adopt_main_path.
PARENT_MAIN_ENV = "NEWSARCHIVE_EXTRACT_PARENT_MAIN"
# numpy's OpenBLAS (loaded for py3langid) starts a thread per extra core in
# each process that loads it, and the thread spins a while before it sleeps:
# 0.1 s of CPU in the forkserver, taken from the crawl's own imports on the
# other core. py3langid's products are far too small to share out, and the
# workers are one per core already. A value set in the environment is kept.
BLAS_THREADS_ENV = {"OPENBLAS_NUM_THREADS": "1"}
# Python 3.11's forkserver starts as `python -c` and, unlike 3.12's, never
# takes the crawl's sys.path: it kept its working directory first, where a
# folder named like one of the project's packages (./archive, the default
# config's archive) was imported in its place, and every page failed in the
# workers. It is given the crawl's path instead (see forkserver_path_env),
# and none of its own working directory.
SAFE_PATH_ENV = {"PYTHONSAFEPATH": "1"}
# Long enough for trafilatura's fast mode (see FAST_MIN_CHARS): a short
# page would also warm up jusText's fallback, whose stop-word table (every
# language's, 0.19 s) is the dearest first use of all and serves short pages
# only: a worker that meets one pays it then, not every crawl at its start.
WARM_UP_PARAGRAPHS = (
    "国家统计局今天发布数据，经济运行总体平稳，稳中有进的态势没有改变，主要指标好于市场预期。",
    "专家表示，从全年来看，各地各部门认真贯彻落实各项部署，推动高质量发展取得新的进展。",
    "记者在现场看到，工人们正在紧张施工，项目建成后将有效缓解当地的交通压力，惠及周边群众。",
    "The government said on Tuesday that the new policy would help families across the country.",
    "Officials expect the first payments to reach households before the end of the year, a spokesman said.",
    "Economists welcomed the plan but warned that rising costs could still weigh on spending in the spring.",
    "Local councils will publish the details of the scheme, including who qualifies, in the coming weeks.",
)
WARM_UP_PAGE = (
    "<html lang='zh-CN'><head><meta charset='utf-8'><title>预热页面 - 新闻网</title>"
    "<meta property='og:title' content='预热页面'><meta name='author' content='张三'></head><body>"
    "<nav><ul><li><a href='/'>首页</a></li><li><a href='/world/'>World</a></li></ul></nav>"
    "<article><h1>预热页面</h1><div class='info'>2024-01-02 10:20 来源：新华社 作者：张三</div>"
    "<p><img src='/a.jpg' alt='图'></p>"
    + "".join(f"<p>{paragraph}</p>" for paragraph in WARM_UP_PARAGRAPHS)
    + "</article><footer>Copyright</footer></body></html>"
).encode("utf-8")


def extract_page(page: ArticlePage):
    """What a worker runs for one page (the pipeline's plain function)."""
    # Imported where it runs: the workers (warmed up with it), not the crawl process.
    from crawler.extract.core import extract_article

    return extract_article(page.body, page.url, content_type=page.content_type, feed=page.hints, options=page.options,
                           challenge=page.challenge)


def warm_up() -> None:
    """Pay extraction's first-use costs now, before any page waits on them."""
    from crawler.extract.core import extract_article
    from crawler.extract.langmodel import language_identifier

    language_identifier()  # the page is Chinese: told by its script, without the model

    # A URL with a port also loads the public suffix list (courlan).
    for url in ("https://www.example.com/news/2024/01/1.html", "http://127.0.0.1:8080/news/2024/01/1.html"):
        try:
            extract_article(WARM_UP_PAGE, url)
        except Exception:  # noqa: BLE001 - a warm-up never stops anything
            pass


def worker_count(configured: int | None) -> int:
    """Extraction processes: the configured number, one per core when unset (None or -1)."""
    return configured if configured is not None and configured >= 0 else (os.cpu_count() or 1)


def start_extraction_server() -> BaseContext:
    """Start the pool's forkserver (once per process), warming up; returns the pool's context.

    forkserver, not fork: forking the crawl process itself would copy the
    reactor's threads and sockets into the workers. Returns at once: the
    forkserver imports and warms up on its own.
    """
    from multiprocessing import forkserver, spawn

    context = multiprocessing.get_context("forkserver")
    # This module only: not "__main__", the command's script (see adopt_main_path).
    context.set_forkserver_preload([__name__])
    main_path = spawn.get_preparation_data("extract").get("init_main_from_path")
    passed = {WARM_UP_ENV: "1", PARENT_MAIN_ENV: main_path or "", **forkserver_path_env()}
    passed.update({name: value for name, value in BLAS_THREADS_ENV.items() if name not in os.environ})
    previous = {name: os.environ.get(name) for name in passed}
    os.environ.update(passed)
    try:
        forkserver.ensure_running()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return context


def forkserver_path_env() -> dict[str, str]:
    """The forkserver's environment for it to import what the crawl imports: the crawl's sys.path, no working directory.

    The workers it forks from its preloaded modules would otherwise run
    another copy of the project than the crawl (another checkout on the
    path, an installed one) or a folder in its working directory.
    """
    return {**SAFE_PATH_ENV, "PYTHONPATH": os.pathsep.join(entry for entry in sys.path if entry)}


def adopt_main_path(main_path: str) -> None:
    """Make the forkserver's __main__ pass for the crawl's main script, so that no worker runs it.

    multiprocessing runs the parent's main script again (as __mp_main__) in
    every process it starts, unless the process it forks from has that
    script as its __main__. The crawl's is the `newsarchive` entry point,
    which imports the whole CLI: 0.1 s of CPU in each worker as it starts,
    for nothing (workers run only this module's functions). Preloading
    "__main__" in the forkserver would not help: Python 3.11's forkserver
    drops the script's path on the way, and would pay the import there.
    """
    if main_path:
        sys.modules["__main__"].__file__ = main_path


if os.environ.get(WARM_UP_ENV) == "1":  # imported by the forkserver start_extraction_server started
    adopt_main_path(os.environ.get(PARENT_MAIN_ENV, ""))
    import crawler.items  # noqa: F401 - what every worker unpickles its pages into, loaded once here
    warm_up()
    # The workers forked from here share what is loaded now. Frozen, the
    # garbage collector never walks it (nor writes its own bookkeeping into
    # those shared pages). Collected first: what is dead now is not kept.
    gc.collect()
    gc.freeze()
