"""Scrapy settings: every default in one place.

``crawler.runner.crawl_settings`` lays the config file's values over these.
"""

from scrapy.settings import default_settings as _scrapy_defaults  # lower case: not a setting itself

BOT_NAME = "newsarchive"
# The runner passes its spider class itself: no spider loader scanning
# crawler.spiders at every start (it imported scrapy-redis into local crawls).
SPIDER_MODULES: list[str] = []

USER_AGENT = "newsarchive/0.1 (+https://github.com/newsarchive/newsarchive)"
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.5
DOWNLOAD_DELAY_JITTER = 0.5  # ±50% around DOWNLOAD_DELAY
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Adapts the per-domain delay to how fast each site answers (never below DOWNLOAD_DELAY).
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# No cookies: a news page reads the same without a session, and none is tracked.
COOKIES_ENABLED = False
# ... nor their middleware's class: Scrapy imports every middleware it lists,
# switched off or not, and this one's module imports tldextract (0.01 s of
# every crawl's start).
DOWNLOADER_MIDDLEWARES_BASE = {path: order for path, order in _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items()
                               if path != "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"}
TELNETCONSOLE_ENABLED = False
# No control port in every crawl: the daemon manages crawls through signals and locks.
REMOTE_CONTROL_ENABLED = False
# ... and not even its class: Scrapy imports every extension it lists (an
# entry set to None in EXTENSIONS too, to match its name), and this one's
# module imports aiohttp: 0.1 s of the 0.7 s before a crawl's first request.
# The only change to Scrapy's own list of extensions.
EXTENSIONS_BASE = {path: order for path, order in _scrapy_defaults.EXTENSIONS_BASE.items()
                   if path != "scrapy.extensions.remote_control.RemoteControl"}
LOG_LEVEL = "INFO"
# Outputs of one callback processed in parallel. An article callback yields
# one item; feeds and lists yield requests (and, rarely, a few stand-in
# items), so 16 keeps the extraction pool fed: the pool is fed across
# responses, up to CONCURRENT_REQUESTS at once. Scrapy starts this many
# asyncio tasks per callback whatever it yields: at 200 that cost 0.8 ms of
# the reactor thread's CPU per response (0.07 ms at 16).
CONCURRENT_ITEMS = 16

ITEM_PIPELINES = {
    "crawler.pipelines.extract.ExtractPipeline": 100,
    "crawler.pipelines.images.ArchiveImagesPipeline": 200,
    "crawler.pipelines.record.ArchiveRecordPipeline": 300,
}
DOWNLOADER_MIDDLEWARES = {
    # Before anything is fetched: never probe private networks a page points at.
    "crawler.middlewares.PrivateAddressMiddleware": 50,
    # A source blocked by a WAF challenge is left alone for the rest of the run.
    "crawler.middlewares.BlockedSourceMiddleware": 60,
    # Scrapy's retries, plus Retry-After on 429/503.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "crawler.middlewares.ProxyFallbackMiddleware": 560,
    # Scrapy's meta refresh, without decoding every page to find the tag.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.HeadMetaRefreshMiddleware": 580,
    # Next to the downloader: sees every response as received, before decompression.
    "crawler.capture.WarcCaptureMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # Scrapy's URL length limit, each URL it drops recorded as a failure of the run.
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "crawler.spidermiddlewares.RecordedUrlLengthMiddleware": 800,
}
# Scrapy reads the source of each callback (inspect.getsource, then an AST
# walk) to warn of a generator that returns a value: a developer's check, 5 ms
# of every crawl's start for callbacks that do not change.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy's default (2083) is an old browser's limit; servers take request
# lines of 8 KB (Apache's LimitRequestLine 8190, nginx's 8k header buffers).
URLLENGTH_LIMIT = 8000
EXTENSIONS = {
    "crawler.extensions.runrecord.RunRecordExtension": 100,
    "crawler.extensions.progress.ProgressExtension": 110,
    "crawler.extensions.cacheprune.HttpCachePruner": 130,
}
# Added to EXTENSIONS by a distributed-mode worker only (crawler.runner.worker_settings): listed
# in EXTENSIONS, even switched off, a module is imported, and this one imports Redis' client,
# 0.03 s of every local crawl's start.
WORKER_EXTENSIONS = {
    "crawler.extensions.redisrun.RedisRunExtension": 120,
}
# Conditional requests (ETag / Last-Modified / max-age) for feeds, sitemaps and
# list pages only; the cache lives in the state directory (crawler.runner).
HTTPCACHE_ENABLED = True
HTTPCACHE_POLICY = "crawler.incremental.ListingCachePolicy"
HTTPCACHE_STORAGE = "scrapy.extensions.httpcache.FilesystemCacheStorage"
HTTPCACHE_EXPIRATION_SECS = 0
HTTPCACHE_GZIP = True
# FilesPipeline must not drop images it fetched a moment ago as "expired".
FILES_EXPIRES = 0
MEDIA_ALLOW_REDIRECTS = True

# newsarchive's own settings (the config file sets most of them).
NEWSARCHIVE_ARCHIVE_URL = "./archive"
NEWSARCHIVE_ARCHIVE_ENDPOINT = None
NEWSARCHIVE_IMAGES = True
NEWSARCHIVE_EXTRACT_WORKERS = -1  # -1: one process per core; 0: in the crawl process
NEWSARCHIVE_RUN_ID = None
NEWSARCHIVE_RUN_RECORD_FILE = None  # a local copy of the run record, for the parent process
NEWSARCHIVE_PROGRESS = False  # a live display on the terminal
NEWSARCHIVE_STATE_DIR = "state"
NEWSARCHIVE_WARC = True  # raw capture of every response into warc/
NEWSARCHIVE_WARC_MAX_BYTES = 100 * 1024 * 1024
NEWSARCHIVE_SPOOL_MAX_BYTES = 2 * 1024 * 1024 * 1024  # local room for writes while the store is down
NEWSARCHIVE_SPOOL_WAIT = 30  # seconds a crawl's end waits for a store that is down to come back
NEWSARCHIVE_INCREMENTAL = True  # skip pages the archive holds; HTTP-cache feeds and sitemaps
NEWSARCHIVE_WORKER = False  # a distributed-mode worker (`newsarchive worker`)
NEWSARCHIVE_ALLOW_PRIVATE_ADDRESSES = False
NEWSARCHIVE_SOURCE_HOSTS = []  # hosts of the configured sources: allowed even when private
NEWSARCHIVE_MAX_IMAGE_BYTES = 20 * 1024 * 1024
NEWSARCHIVE_HTTPCACHE_MAX_AGE_DAYS = 30  # HTTP cache entries not stored again for this long are removed (0: never)
