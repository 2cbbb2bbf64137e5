"""The YAML config: loaded, validated whole, and never half-applied.

Every error names the file, the line and the key (``sources[1].schedule``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Union
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cssselect
from lxml.cssselect import LxmlHTMLTranslator
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crawler.schedule import BadSchedule, Schedule, parse_schedule

DEFAULT_CONFIG_PATH = Path("config/newsarchive.yaml")
CONFIG_ENV_VAR = "NEWSARCHIVE_CONFIG"
SOURCE_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DEFAULT_USER_AGENT = "newsarchive/0.1 (+https://github.com/newsarchive/newsarchive)"


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` are (line, key, message)."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for line, key, message in self.problems:
            where = f"{self.path}:{line}" if line else str(self.path)
            out.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        return out


def _whole_number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A size in bytes may be written as 2e7 (20000000.0 to YAML): a whole float is that integer.
ByteCount = Annotated[int, BeforeValidator(_whole_number)]


class _Strict(BaseModel):
    # strict: a wrong type is an error, not a guess ("16" for 16, true for 1.0,
    # "off" for False); YAML already gives every value its own type. An integer
    # still stands for a float.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    return value


def check_archive_url(value: str) -> str:
    """An archive URL the stores take (the config's, or --archive), else ValueError saying why."""
    parts = urlsplit(value)
    if parts.scheme not in ("", "file", "s3") and len(parts.scheme) > 1:
        raise ValueError(f"{value!r}: use a directory, file:///abs/dir or s3://bucket/prefix")
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError(f"{value!r}: an s3:// URL needs a bucket")
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        # file://dir/x names a host "dir", not a relative path.
        raise ValueError(f"{value!r}: a file URL takes an absolute path: file:///abs/dir")
    return value


def check_timezone(value: str) -> str:
    """An IANA timezone name (a source's, or extract's --timezone), else ValueError saying why."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


class ArchiveSettings(_Strict):
    url: str = "./archive"
    endpoint_url: str | None = None

    @field_validator("url")
    @classmethod
    def _archive_url(cls, value: str) -> str:
        return check_archive_url(value)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


class CrawlSettings(_Strict):
    concurrency: int = Field(16, ge=1, le=512)
    download_delay: float = Field(0.5, ge=0, le=600)
    obey_robots_txt: bool = True
    images: bool = True
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = Field(30, gt=0, le=600)  # seconds per request
    extract_workers: int | None = Field(None, ge=0, le=64)  # processes; 0 = in the crawl process
    max_page_bytes: ByteCount = Field(20 * 1024 * 1024, ge=1024)
    warc: bool = True  # keep every response raw, in WARC files under warc/
    contact: str | None = None  # a URL or address for site owners: goes into the User-Agent
    autothrottle: bool = True  # adapt the per-domain delay to each site's response times
    allow_private_addresses: bool = False  # fetch private/loopback/link-local hosts pages link to
    max_image_bytes: ByteCount = Field(20 * 1024 * 1024, ge=1024)
    incremental: bool = True  # skip articles the archive holds; conditional requests for feeds and sitemaps
    spool_wait: float = Field(30, ge=0)  # seconds a crawl's end waits for an unreachable store to come back
    warc_max_bytes: ByteCount = Field(100 * 1024 * 1024, ge=1024)  # a WARC file is closed once it reaches this size

    @property
    def user_agent_header(self) -> str:
        """The User-Agent sent: the configured one, with the contact for site owners."""
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent


class SourceBase(_Strict):
    id: str
    url: str | None = None
    urls: list[str] | None = None
    schedule: str = "every 1h"
    categories: list[str] = []
    timezone: str | None = None
    revisit_days: float = Field(0, ge=0)  # re-fetch (conditionally) articles this young, to catch edits

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not SOURCE_ID_RE.match(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits and '-'")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [check_http_url(v) for v in value]

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            return parse_schedule(value).text
        except BadSchedule as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _one_of_url_urls(self) -> "SourceBase":
        if (self.url is None) == (self.urls is None):
            raise ValueError("give exactly one of 'url' or 'urls'")
        if self.urls is not None and not self.urls:
            raise ValueError("'urls' is empty")
        return self

    @property
    def start_urls(self) -> list[str]:
        return [self.url] if self.url else list(self.urls or [])

    @property
    def parsed_schedule(self) -> Schedule:
        return parse_schedule(self.schedule)


class FeedSource(SourceBase):
    kind: Literal["feed"]


class SitemapSource(SourceBase):
    kind: Literal["sitemap"]
    # Only pages whose lastmod (or news date) is this recent; None takes all.
    lastmod_days: float | None = Field(None, gt=0)
    max_depth: int = Field(3, ge=1, le=10)  # sitemap index nesting


class ZakerSource(SourceBase):
    kind: Literal["zaker"]
    max_pages: int = Field(3, ge=1, le=100)  # list pages followed through paging


class ListingSource(SourceBase):
    kind: Literal["listing"]
    link_pattern: str | None = None  # a regex article URLs match
    link_selector: str | None = None  # CSS for article links
    next_selector: str | None = None  # CSS for the next list page
    max_pages: int = Field(3, ge=1, le=100)
    title_selector: str | None = None
    date_selector: str | None = None
    author_selector: str | None = None
    body_selector: str | None = None
    caption_selector: str | None = None  # an image's caption, right after the image

    @field_validator("link_selector", "next_selector", "title_selector", "date_selector", "author_selector", "body_selector",
                     "caption_selector")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        # Checked at load time: a typo would otherwise fail every article of every run.
        if value is not None:
            try:
                LxmlHTMLTranslator().css_to_xpath(value)
            except cssselect.SelectorError as exc:  # syntax, or a pseudo-class no page can match (:hover)
                raise ValueError(f"bad CSS selector {value!r}: {exc}") from None
        return value

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _links(self) -> "ListingSource":
        if not (self.link_pattern or self.link_selector):
            raise ValueError("a listing source needs 'link_pattern' or 'link_selector'")
        return self


Source = Annotated[Union[FeedSource, SitemapSource, ZakerSource, ListingSource], Field(discriminator="kind")]
SOURCE_KINDS = ("feed", "sitemap", "zaker", "listing")


class DaemonSettings(_Strict):
    state_dir: str = "./state"  # schedule state and source locks; the operator can read it
    max_concurrent_crawls: int = Field(2, ge=1, le=64)
    run_timeout: float = Field(3600, gt=0)  # seconds of wall clock a crawl may take before it is killed
    stop_grace: float = Field(60, ge=0)  # seconds running crawls get to finish at SIGTERM
    jitter: float = Field(30, ge=0)  # seconds of random delay spreading runs that fall due together
    misfire_grace: float = Field(600, ge=1)  # a run missed by less than this still happens
    backoff_max: float = Field(6 * 3600, gt=0)  # the longest a failing source is left alone


class DistributedSettings(_Strict):
    redis_url: str

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"{value!r} is not a redis:// URL")
        return value


class Config(_Strict):
    archive: ArchiveSettings = ArchiveSettings()
    crawl: CrawlSettings = CrawlSettings()
    sources: list[Source] = []
    daemon: DaemonSettings = DaemonSettings()
    distributed: DistributedSettings | None = None

    def source(self, source_id: str) -> SourceBase:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)


class UnknownSource(KeyError):
    pass


def select_sources(config: Config, source_ids: list[str]) -> list[SourceBase]:
    """The named sources of the config, in the order named (all of them when none is)."""
    if not source_ids:
        return list(config.sources)
    known = {source.id: source for source in config.sources}
    missing = [s for s in source_ids if s not in known]
    if missing:
        raise UnknownSource(f"unknown source(s): {', '.join(missing)}; configured: {', '.join(known) or 'none'}")
    return [known[s] for s in dict.fromkeys(source_ids)]
