"""How a crawl starts: py3langid's model mapped from a decompressed copy in the user's cache, the pool's workers, the warm-up, what Scrapy is spared importing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from crawler.extract import langmodel
from crawler.extract.language import text_language
from tests.conftest import ROOT

ENGLISH = "The government said on Tuesday that the new policy would help families across the country."
FRENCH = "Le gouvernement a annoncé mardi une nouvelle politique pour aider les familles de tout le pays."


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    langmodel.language_identifier.cache_clear()
    yield tmp_path / "cache" / "newsarchive"
    langmodel.language_identifier.cache_clear()  # later tests load the model as usual


def forbid_reading_the_compressed_model(monkeypatch) -> None:
    from py3langid.langid import LanguageIdentifier

    def refused(*args, **kwargs):
        raise AssertionError("the compressed model was read")

    monkeypatch.setattr(langmodel.lzma, "open", refused)
    monkeypatch.setattr(LanguageIdentifier, "from_model_file", classmethod(refused))


def test_the_model_is_decompressed_once_then_read_from_the_cache(cache_home, monkeypatch):
    assert text_language(ENGLISH) == "en"
    copies = list(cache_home.glob(langmodel.CACHED_MODEL_GLOB))
    assert len(copies) == 1 and copies[0].stat().st_size > 10_000_000

    langmodel.language_identifier.cache_clear()  # as a new process would start
    forbid_reading_the_compressed_model(monkeypatch)
    assert text_language(ENGLISH) == "en"
    assert text_language(FRENCH) == "fr"


def test_the_cached_model_answers_as_py3langid_does(cache_home):
    import py3langid

    langmodel.language_identifier()
    langmodel.language_identifier.cache_clear()
    cached = langmodel.language_identifier()
    for sample in (ENGLISH, FRENCH, "Die Regierung kündigte am Dienstag eine neue Politik an.", "政府周二宣布了新政策"):
        assert cached.classify(sample) == py3langid.classify(sample)


def test_the_cached_model_is_mapped_not_read(cache_home, monkeypatch):
    import mmap

    import numpy as np

    langmodel.language_identifier()
    langmodel.language_identifier.cache_clear()
    monkeypatch.setattr(np, "load", lambda *args, **kwargs: pytest.fail("the copy was read into memory"))
    identifier = langmodel.language_identifier()
    base = identifier.nb_ptc
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base.obj if isinstance(base, memoryview) else base, mmap.mmap)
    assert not identifier.nb_ptc.flags.writeable
    assert isinstance(identifier.tk_nextmove, memoryview) and identifier.tk_nextmove.readonly
    assert identifier.classify(FRENCH)[0] == "fr"


def test_a_copy_on_a_file_system_that_cannot_map_it_is_read(cache_home, monkeypatch):
    import errno

    langmodel.language_identifier()
    (copy,) = cache_home.glob(langmodel.CACHED_MODEL_GLOB)
    langmodel.language_identifier.cache_clear()

    def unmappable(*args, **kwargs):
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(langmodel.mmap, "mmap", unmappable)
    forbid_reading_the_compressed_model(monkeypatch)
    assert text_language(FRENCH) == "fr"
    assert copy.exists()  # not taken for damaged


def test_a_copy_laid_out_otherwise_is_read_and_kept(cache_home, monkeypatch):
    # Compressed members (another writer's .npz, a py3langid that saves its
    # model so) cannot be mapped: the copy is read, not taken for damaged.
    import numpy as np

    langmodel.language_identifier()
    (copy,) = cache_home.glob(langmodel.CACHED_MODEL_GLOB)
    with np.load(copy) as data:
        arrays = {name: data[name] for name in data.files}
    with copy.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    langmodel.language_identifier.cache_clear()
    forbid_reading_the_compressed_model(monkeypatch)
    assert text_language(FRENCH) == "fr"
    assert copy.exists()


def test_a_damaged_copy_falls_back_to_the_models_own_file(cache_home):
    langmodel.language_identifier()
    (copy,) = cache_home.glob(langmodel.CACHED_MODEL_GLOB)
    copy.write_bytes(copy.read_bytes()[:4096])  # a crawl killed as it wrote, on a filesystem without rename
    langmodel.language_identifier.cache_clear()
    assert text_language(FRENCH) == "fr"
    assert not copy.exists()  # removed: the next start writes it again
    langmodel.language_identifier.cache_clear()
    assert text_language(FRENCH) == "fr" and copy.stat().st_size > 10_000_000


def test_a_cache_that_cannot_be_written_falls_back(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    langmodel.language_identifier.cache_clear()
    try:
        assert text_language(ENGLISH) == "en"
        assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.npz"))
    finally:
        langmodel.language_identifier.cache_clear()


def test_writing_a_new_copy_removes_copies_unused_for_a_month(cache_home):
    cache_home.mkdir(parents=True)
    old = cache_home / langmodel.CACHED_MODEL_GLOB.replace("*", "0" * 16)
    recent = cache_home / langmodel.CACHED_MODEL_GLOB.replace("*", "1" * 16)
    for copy, days in ((old, 40), (recent, 2)):
        copy.write_bytes(b"another model")
        then = time.time() - days * 86400
        os.utime(copy, (then, then))
    langmodel.language_identifier()
    assert not old.exists() and recent.exists()
    assert len(list(cache_home.glob(langmodel.CACHED_MODEL_GLOB))) == 2


def test_reading_the_copy_marks_it_used(cache_home):
    langmodel.language_identifier()
    (copy,) = cache_home.glob(langmodel.CACHED_MODEL_GLOB)
    then = time.time() - 20 * 86400
    os.utime(copy, (then, then))
    langmodel.language_identifier.cache_clear()
    langmodel.language_identifier()
    assert copy.stat().st_mtime > time.time() - 3600


@pytest.mark.parametrize("main", [["tests/probes/pool_main.py"], ["-m", "tests.probes.pool_package"]],
                         ids=["console-script", "python-m-package"])
def test_pool_workers_do_not_run_the_commands_main(tmp_path, main):
    # The `newsarchive` console script, and `python -m crawler` as the daemon
    # runs crawls, import the whole CLI: multiprocessing would run it again in
    # every worker as it starts. A module run with -m (`-m crawler.cli`, as
    # the daemon's crawls were) is run again whatever its forkserver does.
    markers = tmp_path / "ran"
    markers.mkdir()
    result = subprocess.run([sys.executable, *main, str(markers)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    workers = set(result.stdout.split())
    assert workers and str(os.getpid()) not in workers
    ran_in = {path.name for path in markers.iterdir()}
    assert len(ran_in) == 1 and not ran_in & workers, (ran_in, workers)


def test_the_warm_up_page_needs_no_fallback_extractor():
    # A page under FAST_MIN_CHARS would also warm jusText up: 0.19 s of every crawl's start.
    from crawler.extract.core import FAST_MIN_CHARS, extract_article
    from crawler.extract.worker import WARM_UP_PAGE

    article = extract_article(WARM_UP_PAGE, "https://www.example.com/news/2024/01/1.html")
    assert len(article.text) >= FAST_MIN_CHARS
    assert article.title == "预热页面" and article.authors == ["张三"] and article.image_urls


def test_starting_the_forkserver_imports_little():
    # `newsarchive crawl` imports this module to start the forkserver: what it
    # imports (courlan, 30 ms) delays the workers' warm-up by as much.
    probe = "import sys, crawler.extract.worker; print(sorted(m for m in ('courlan', 'crawler.items', 'lxml.html') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_record_models_are_built_at_first_use_not_at_import():
    # A crawl imports archive.records to write records (dump_record), never to validate one.
    probe = ("import archive.records as records\n"
             "print(records.ArticleRecord.__pydantic_complete__, records.ImageRef.__pydantic_complete__)\n"
             "try:\n"
             "    records.load_record(b'{\"schema\": \"newsarchive.article/1\"}')\n"
             "except Exception as exc:\n"
             "    print(type(exc).__name__, records.ArticleRecord.__pydantic_complete__)\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "ValidationError", "True"]


def test_without_a_home_the_model_loads_without_a_cache(monkeypatch):
    # A service account may have neither HOME nor XDG_CACHE_HOME.
    from pathlib import Path

    from archive.userdirs import user_cache_dir

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    langmodel.language_identifier.cache_clear()
    try:
        assert user_cache_dir() is None
        assert text_language(FRENCH) == "fr"
    finally:
        langmodel.language_identifier.cache_clear()


def test_a_copy_in_a_cache_that_cannot_be_written_is_read_and_kept(cache_home, monkeypatch):
    # Another account's cache, or a read-only one: marking the copy used or
    # removing it fails, and that is no reason to drop a good copy or to fail.
    langmodel.language_identifier()
    (copy,) = cache_home.glob(langmodel.CACHED_MODEL_GLOB)

    def refused(*args, **kwargs):
        raise PermissionError("read-only cache")

    monkeypatch.setattr(langmodel.os, "utime", refused)
    monkeypatch.setattr(type(copy), "unlink", refused)
    langmodel.language_identifier.cache_clear()
    forbid_reading_the_compressed_model(monkeypatch)
    assert text_language(FRENCH) == "fr"
    assert copy.exists()


def probe_a_crawler(tmp_path, *lines: str) -> list[str]:
    """What ``lines`` print, in a fresh process holding a local crawl's Scrapy crawler (``crawler``), built as a crawl builds it."""
    from tests.crawl_helpers import write_config

    config = write_config(tmp_path / "newsarchive.yaml", str(tmp_path / "archive"),
                          [{"id": "site", "kind": "feed", "url": "http://127.0.0.1:9/rss.xml"}])
    probe = "\n".join([
        "import sys",
        "from scrapy.utils.reactor import install_reactor",
        "from scrapy.utils.test import get_crawler",
        "from crawler.configfile import load_config",
        "from crawler.runner import crawl_settings",
        "from crawler.spiders.news import NewsSpider",
        f"settings = crawl_settings(load_config({str(config)!r}))",
        "install_reactor(settings['TWISTED_REACTOR'])",
        "crawler = get_crawler(NewsSpider, settings.copy_to_dict())",
        *lines,
    ])
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


def test_a_local_crawl_imports_no_redis_client_and_a_worker_lists_its_extension(tmp_path):
    # Scrapy imports every extension it lists, even one that is switched off:
    # the distributed workers' (and Redis' client with it) cost every local crawl 0.03 s.
    extensions, redis_imported = probe_a_crawler(
        tmp_path,
        "from scrapy.extension import ExtensionManager",
        "manager = ExtensionManager.from_crawler(crawler)",
        "print(len(manager.middlewares), 'redis' in sys.modules)",
    )
    assert int(extensions) >= 3 and redis_imported == "False"


def test_a_workers_settings_list_the_redis_run_extension(tmp_path):
    from crawler.config import DistributedSettings
    from crawler.configfile import load_config
    from crawler.runner import crawl_settings, worker_settings
    from tests.crawl_helpers import write_config

    config_file = write_config(tmp_path / "newsarchive.yaml", str(tmp_path / "archive"),
                               [{"id": "site", "kind": "feed", "url": "http://127.0.0.1:9/rss.xml"}])
    config = load_config(config_file)
    assert "crawler.extensions.redisrun.RedisRunExtension" not in crawl_settings(config).getwithbase("EXTENSIONS")

    distributed = config.model_copy(update={"distributed": DistributedSettings(redis_url="redis://127.0.0.1:9/0")})
    extensions = worker_settings(distributed).getwithbase("EXTENSIONS")
    assert extensions["crawler.extensions.redisrun.RedisRunExtension"] == 120
    assert "crawler.extensions.runrecord.RunRecordExtension" in extensions  # added to the list, not replacing it


def test_pages_are_parsed_into_plain_elements_and_forms_still_read():
    # lxml.html's own class lookup (FormElement, InputElement...) is a Python
    # call per element reached: 4 % of a portal page's extraction.
    import lxml.html

    from crawler.extract.body import parse_html
    from crawler.extract.core import extract_article

    tree = parse_html("<html><body><form action='/s'><label>Q</label><input name='q'><select><option>a</option></select></form></body></html>")
    assert {type(el) for el in tree.iter()} == {lxml.html.HtmlElement}
    paragraphs = "".join(f"<p>第{i}段：记者从有关部门获悉，相关工作正在有序推进，群众反映良好，后续进展将及时公布。</p>" for i in range(8))
    page = (f"<html><head><title>测试新闻</title></head><body><article><h1>测试新闻</h1>{paragraphs}"
            "<form action='/vote'><input type='radio' name='v' value='1'> 支持</form></article></body></html>").encode()
    article = extract_article(page, "https://news.example.com/2024/01/02/a.html")
    assert "第7段" in article.text and article.title == "测试新闻"


def test_scrapys_tls_aliases_are_imported_without_walking_the_stacks_source():
    # Scrapy's create_deprecated_class reads every frame's source to name an
    # alias's module: 0.06 s of each crawl's start. The aliases keep their module.
    probe = (
        "import inspect, sys\n"
        "import scrapy.utils.deprecate as deprecate\n"
        "from crawler import runner\n"
        "assert 'scrapy.core.downloader.tls' not in sys.modules, 'imported already: nothing to show'\n"
        "walks = []\n"
        "real_stack = inspect.stack\n"
        "inspect.stack = lambda *a, **k: walks.append(1) or real_stack(*a, **k)\n"
        "runner.import_without_source_lookups(runner.HTTP_HANDLER_MODULE)\n"
        "from scrapy.core.downloader import contextfactory, tls\n"
        "print(len(walks), deprecate.inspect is inspect, contextfactory.ScrapyClientContextFactory.__module__,\n"
        "      contextfactory.AcceptableProtocolsContextFactory.__module__, tls.ScrapyClientTLSOptions.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    walks, restored, *modules = result.stdout.split()
    assert walks == "0" and restored == "True"
    assert modules == ["scrapy.core.downloader.contextfactory"] * 2 + ["scrapy.core.downloader.tls"]


def test_the_switched_off_cookie_middleware_is_not_imported(tmp_path):
    # Listed, even switched off, Scrapy imports it, and tldextract with it.
    assert probe_a_crawler(
        tmp_path,
        "from scrapy.core.downloader.middleware import DownloaderMiddlewareManager",
        "manager = DownloaderMiddlewareManager.from_crawler(crawler)",
        "names = [type(m).__name__ for m in manager.middlewares]",
        "print('RetryAfterMiddleware' in names, 'CookiesMiddleware' in names, 'scrapy.downloadermiddlewares.cookies' in sys.modules)",
    ) == ["True", "False", "False"]


def test_a_crawl_reads_no_callbacks_source(tmp_path):
    # Scrapy's check for generators returning a value read each callback's source
    # and parsed it at its first response: 5 ms of every start.
    assert probe_a_crawler(
        tmp_path,
        "import inspect",
        "from scrapy.utils.misc import warn_on_generator_with_return_value",
        "spider = NewsSpider.from_crawler(crawler, sources=[])",
        "def no_source(obj): raise AssertionError('source read')",
        "inspect.getsource = no_source",
        "for callback in (spider.parse_feed, spider.parse_article, spider.parse_sitemap, spider.parse_listing):",
        "    warn_on_generator_with_return_value(spider, callback)",
        "print('ok')",
    ) == ["ok"]


def test_the_forkserver_warms_up_without_pydantic():
    # The workers make records' values (archive.fields), never the record's
    # model: importing pydantic cost the forkserver 40-50 ms of every start.
    probe = ("import sys, crawler.extract.worker; print('trafilatura' in sys.modules,"
             " sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'scrapy', 'twisted')))")
    env = {**os.environ, "NEWSARCHIVE_EXTRACT_WARM_UP": "1"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True []"  # warmed up, and with none of them


BLAS_PROBE = """
import json, os, sys
from multiprocessing import forkserver
from crawler.extract.worker import start_extraction_server

context = start_extraction_server()
with context.Pool(1) as pool:  # os.getenv: the workers do not run this script (see adopt_main_path)
    worker_value = pool.apply_async(os.getenv, ("OPENBLAS_NUM_THREADS",)).get(timeout=60)
server_threads = len(os.listdir(f"/proc/{forkserver._forkserver._forkserver_pid}/task"))
print(json.dumps([worker_value, os.environ.get("OPENBLAS_NUM_THREADS"), server_threads]))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no thread of its own on one core")
@pytest.mark.parametrize("set_by_user", [None, "2"], ids=["unset", "set-by-the-user"])
def test_the_extraction_processes_run_numpy_on_one_thread(tmp_path, set_by_user):
    # OpenBLAS' own threads spun in the forkserver, taking 0.1 s of CPU from the crawl's start.
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    if set_by_user:
        env["OPENBLAS_NUM_THREADS"] = set_by_user
    probe = tmp_path / "probe.py"
    probe.write_text(BLAS_PROBE)
    result = subprocess.run([sys.executable, str(probe)], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    worker_value, crawl_value, server_threads = json.loads(result.stdout)
    assert worker_value == (set_by_user or "1")
    assert crawl_value == set_by_user  # the crawl's own environment is left as it was
    if not set_by_user:
        assert server_threads == 1  # the forkserver: its main thread only, no OpenBLAS thread
