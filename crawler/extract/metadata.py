"""Publish date, byline, source and title of a news page, Chinese pages first.

trafilatura finds the publish day on fewer than half of Chinese news pages and
almost never the author: Chinese CMSs rarely emit structured data, and the
facts sit in a short "dateline" under the headline (``发布时间：2020-04-08
10:23 来源：新华网 作者：张三``) or in the first / last line of the body
(``本报通讯员●褚铁栓●安绩``, ``（责任编辑：王五）``). Order of trust:

1. JSON-LD, then ``<meta>`` tags, then ``<time>`` / ``itemprop`` markup;
2. datelines in the header region (between the headline and the body);
3. relative times (``3小时前``), only when the caller passes ``now``.

Dates in body prose (``1月29日，自治区公安厅召开…``), footers and related-news
lists are never taken. Plain functions over lxml trees; no Scrapy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from itertools import islice
from typing import Any, NamedTuple

from dateutil import parser as dateutil_parser
from lxml.html import HtmlElement

from crawler.extract import zh_bylines as zb
from crawler.extract import zh_dates as zd
from crawler.extract import zh_patterns as zp
from crawler.extract.boilerplate import is_boilerplate_line
from crawler.extract.page import TEXT_BLOCK_TAGS, Page, as_page, jsonld_types
from crawler.extract.zh_bylines import parse_byline
from crawler.extract.zh_dates import parse_zh_datetime  # noqa: F401  (public API)
from crawler.extract.zh_patterns import normalize_text

BYLINE_MAX_CHARS = 80  # first/last body paragraphs that may be a byline
CLOSING_CREDIT_LINES = 4  # a closing credit, then at most three editor, source or share lines
LEAD_PARAGRAPHS = 3  # a lead credit may follow a photo caption or two
EPOCH_RE = re.compile(r"^\d{10}(?:\d{3})?$")
ISO_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{8}(?:T|$)")  # isoparse also takes "2020" alone
# Elements that may carry a publish time of their own (itemprop, <time pubdate>).
TIME_MARKUP_XPATH = "//*[@itemprop][not(self::meta)] | //time"
# Elements that may name an author (rel="author", itemprop="author").
AUTHOR_MARKUP_XPATH = "//*[@rel or @itemprop][not(self::link)]"


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))  # deduplicated, page order kept


class DateHit(NamedTuple):
    value: datetime
    source: str  # "json-ld", "meta", "time-element", "zh-dateline", "dateline", "relative"
    has_time: bool = True


@dataclass(frozen=True)
class PageMetadata:
    published: datetime | None  # aware if the page gave an offset, else naive
    published_from: str | None
    authors: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    source_name: str | None = None
    title: str | None = None


# --- dates and structured data ---------------------------------------------------


def parse_date_value(value: str | None, now: datetime | None = None) -> datetime | None:
    """A structured date (meta content, JSON-LD, datetime attribute). Offsets kept."""
    value = normalize_text(value)
    if not value:
        return None
    if EPOCH_RE.match(value):
        result: datetime | None = datetime.fromtimestamp(int(value[:10]), tz=timezone.utc)
    else:
        try:
            result = dateutil_parser.isoparse(value) if ISO_DAY_RE.match(value) else None
        except (ValueError, OverflowError):
            result = None
        if result is None:
            matches = [d for d in zd.scan_dates(value) if d.kind == "zh"]
            result = matches[0].value if matches else zd.dateutil_complete(value)
    return result if zd.plausible(result, now) else None


def _has_time(value: str) -> bool:
    return bool(zd.HAS_TIME_RE.search(value) or EPOCH_RE.match(value.strip()))


def jsonld_articles(tree: HtmlElement | Page) -> list[dict[str, Any]]:
    """Parsed JSON-LD article objects of the page; broken blocks are skipped."""
    return as_page(tree).jsonld


def structured_published(tree: HtmlElement | Page, now: datetime | None = None) -> DateHit | None:
    """JSON-LD datePublished, then meta tags, then <time>/itemprop markup."""
    page = as_page(tree)
    for obj in page.jsonld:
        values = obj.get("datePublished")
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and (parsed := parse_date_value(value, now)):
                return DateHit(parsed, "json-ld", _has_time(value))
    for key in zp.META_DATE_KEYS:
        for value in page.metas.get(key, []):
            if parsed := parse_date_value(value, now):
                return DateHit(parsed, "meta", _has_time(value))
    return time_element_published(page, now)


def time_element_published(tree: HtmlElement | Page, now: datetime | None = None) -> DateHit | None:
    """itemprop=datePublished / <time pubdate> anywhere, else a <time> in the header region."""
    page = as_page(tree)
    explicit = [
        el for el in page.tree.xpath(TIME_MARKUP_XPATH)
        if (el.get("itemprop") or "").strip().lower() == "datepublished"
        or el.tag == "time" and (el.get("pubdate") is not None or "publish" in " ".join(page.tokens(el)))
    ]
    header = [el for block in page.header_blocks for el in block.iter("time")] + page.tree.xpath("//article//header//time")
    for el in explicit + header:
        if page.is_noise(el) or any(t.startswith(("updat", "modif")) for t in page.tokens(el)):
            continue
        value = el.get("datetime") or el.get("content") or page.text(el)
        if parsed := parse_date_value(value, now):
            return DateHit(parsed, "time-element", _has_time(value))
    return None


def find_dateline(tree: HtmlElement | Page, now: datetime | None = None, reference: date | None = None) -> DateHit | None:
    """The date of the first dateline in the header region (see module docstring).

    A year-less one is read near the ``reference`` day (the article URL's date),
    when given, and yields to a later dateline that names its year, unless it
    is labelled (发布时间：10月25日 14:30) or the later one is a source's or a
    print edition's date (来源：人民日报 2024年10月20日, (2024年10月20日 04版)):
    those say when the paper printed it, the year-less line when the page did.
    Known limitation: a source's line with a time (来源：新华社 2023-10-20 14:30)
    looks like the page's own dateline, so it still overrules an unlabelled
    year-less one before it.
    """
    page = as_page(tree)
    year_less: DateHit | None = None
    for el in page.header_blocks:
        if page.has_hint(el, zp.SUMMARY_HINT_RE):
            continue
        if line := zd.dateline(page.text(el), now, reference):
            d = line.date
            hit = DateHit(d.value, {"zh": "zh-dateline", "en": "dateline"}.get(d.kind, "relative"), d.has_time)
            if d.kind != "year-less":
                if year_less is not None and line.role == "print":
                    continue
                return hit
            if line.role == "labelled":
                return hit
            year_less = year_less or hit
    return year_less


# --- authors, editors, source ------------------------------------------------------


def find_bylines(tree: HtmlElement | Page) -> tuple[list[str], list[str], str | None]:
    """(authors, editors, source_name) from byline lines, in page order.

    Looked at: short blocks of the header region, the lead credit of an opening
    paragraph (本报讯（记者 张三）), the first two and last three short body
    paragraphs, the blocks right after the body, editor-marked blocks, and a
    bare credit closing the body (（肖玥 王思洋）).
    """
    page = as_page(tree)
    texts = [page.text(el) for el in page.header_blocks]  # already <= DATELINE_MAX_CHARS
    header_count = len(texts)
    body = page.body
    closing: tuple[list[str], list[str]] = ([], [])
    if body is not None:
        # Only the first three and the last four paragraphs are read: the text of the
        # ones between (most of a long article) is never worked out.
        blocks = [c for c in body if isinstance(c.tag, str) and c.tag in TEXT_BLOCK_TAGS]
        first = _paragraphs(page, blocks, LEAD_PARAGRAPHS)
        last = _paragraphs(page, reversed(blocks), CLOSING_CREDIT_LINES)[::-1]
        closing = _closing_credit(page, last)
        leads = [zb.LEAD_CREDIT_RE.match(page.text(p)) for p in first]  # after a photo caption
        texts += [lead["inner"] for lead in leads if lead][:1]
        after = list(body.itersiblings())[:4]
        if body.getparent() is not None:
            after += list(body.getparent().itersiblings())[:4]
        texts += [page.text(el) for el in first[:2] + last[-3:] + after
                  if isinstance(el.tag, str) and not page.is_noise(el)]
    texts += [page.text(el) for el in page.classed
              if page.has_hint(el, zp.EDITOR_HINT_RE, zp.EDITOR_HINT_PREFILTER_RE) and not page.is_noise(el)]
    authors: list[str] = []
    editors: list[str] = []
    sources: list[str] = []
    for i, text in enumerate(texts):
        if i >= header_count and (len(text) > BYLINE_MAX_CHARS or "。" in text):  # prose, not a credit
            continue
        found_authors, found_editors, source = parse_byline(text)
        authors += found_authors
        editors += found_editors
        sources += [source] if source else []
    authors += closing[0]
    editors += closing[1]
    return _unique(authors), _unique(editors), sources[0] if sources else None


def _paragraphs(page: Page, blocks: Iterable[HtmlElement], count: int) -> list[HtmlElement]:
    """The first ``count`` of ``blocks`` that hold text."""
    return list(islice((block for block in blocks if page.text(block)), count))


def _closing_credit(page: Page, paragraphs: list[HtmlElement]) -> tuple[list[str], list[str]]:
    """(authors, editors) of a bare credit that is the body's last paragraph (see zh_bylines.trailing_credit).

    Editor and source lines after it ((责编：…), 来源：…) and calls to action
    (分享让更多人看到) do not stop it being the last: it closes the article's text.
    """
    for paragraph in reversed(paragraphs[-CLOSING_CREDIT_LINES:]):
        text = page.text(paragraph)
        credit = zb.trailing_credit(text)
        if credit != ([], []):
            return credit
        authors, editors, source = parse_byline(text)
        if authors or not (editors or source or is_boilerplate_line(text)):
            break  # the article's own last paragraph (or a labelled byline, read above)
    return [], []


def _jsonld_authors(page: Page) -> list[tuple[str, bool]]:
    """(name, is_organisation) of JSON-LD authors: strings, objects, lists."""
    found: list[tuple[str, bool]] = []
    for obj in page.jsonld:
        value = obj.get("author")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                found += [(n, False) for n in zb.person_names(item)]
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                org = any(t.endswith("Organization") for t in jsonld_types(item))
                found += [(n, org) for n in zb.person_names(item["name"])]
    return found


def _site_names(page: Page) -> set[str]:
    """Lower-cased names of the site: og:site_name, JSON-LD publisher, <title> suffix."""
    names = {v.lower().lstrip("@") for key in zp.META_SITE_KEYS for v in page.metas.get(key, [])}
    for obj in page.jsonld:
        if isinstance(obj.get("publisher"), dict) and isinstance(obj["publisher"].get("name"), str):
            names.add(normalize_text(obj["publisher"]["name"]).lower())
    for title in page.tree.iter("title"):
        parts = re.split(r"\s*(?:[|_]|\s-{1,2}\s|[–—])\s*", normalize_text(title.text_content()))
        names |= {parts[-1].lower()} if len(parts) > 1 else set()
    return names


def _is_org(name: str, sites: set[str]) -> bool:
    return name.lower() in sites or (len(name) >= 3 and bool(zb.ORG_NAME_RE.search(name)))


def structured_authors(tree: HtmlElement | Page) -> list[str]:
    """Person authors from JSON-LD, else from rel="author" / itemprop="author" markup."""
    page = as_page(tree)
    sites = _site_names(page)
    people = [n for n, org in _jsonld_authors(page) if not org and not _is_org(n, sites)]
    if people:
        return _unique(people)
    for el in page.tree.xpath(AUTHOR_MARKUP_XPATH):
        rel_author = "author" in (el.get("rel") or "").lower().split()
        if (rel_author or (el.get("itemprop") or "").lower() == "author") and not page.is_noise(el):
            name_el = next((n for n in el.iter() if (n.get("itemprop") or "").lower() == "name"), el)
            text = name_el.get("content") or page.text(name_el)
            people += [n for n in zb.person_names(text) if not _is_org(n, sites)]
    return _unique(people)


def meta_authors(tree: HtmlElement | Page) -> list[str]:
    """<meta name="author"> and kin, split into names; may be the site's own name."""
    metas = as_page(tree).metas
    return _unique([n for key in zp.META_AUTHOR_KEYS for v in metas.get(key, []) for n in zb.person_names(v)])


# --- title and the whole page --------------------------------------------------------


def page_title(tree: HtmlElement | Page) -> str | None:
    """JSON-LD headline, else og:title, else the <h1>, else <title>."""
    page = as_page(tree)
    heading = page.text(page.heading) if page.heading is not None else None
    candidates = [normalize_text(o["headline"]) for o in page.jsonld if isinstance(o.get("headline"), str)]
    candidates += [t for key in zp.META_TITLE_KEYS for t in page.metas.get(key, [])]
    for title in filter(None, candidates):
        # "标题 - 新华网" -> "标题", but only when the on-page headline confirms the cut.
        if heading and title.startswith(heading) and zp.TITLE_SUFFIX_RE.match(title[len(heading):]):
            return heading
        return title
    if heading:
        return heading
    titles = [normalize_text(t.text_content()) for t in page.tree.iter("title")]
    return titles[0] if titles and titles[0] else None


def page_metadata(tree: HtmlElement, *, now: datetime | None = None, reference: date | None = None) -> PageMetadata:
    """Everything above, in priority order. `now` (the fetch time) enables relative dates;
    ``reference`` (the date in the article's URL) gives a year-less one its year."""
    page = Page(tree)
    hit = structured_published(page, now)
    line = find_dateline(page, now, reference)
    # A date-only structured value is refined by a dateline of the same day with a time.
    if hit is None or (line is not None and not hit.has_time and line.has_time
                       and line.value.date() == hit.value.date()):
        hit = line or hit
    byline_authors, editors, source = find_bylines(page)
    if source is None:  # <meta name="source" content="来源：人民网-文化频道 原创稿">
        source = next((parse_byline(v)[2] or v for key in zp.META_SOURCE_KEYS for v in page.metas.get(key, [])), None)
    sites = _site_names(page) | ({source.lower()} if source else set())  # the outlet is no author
    from_meta = meta_authors(page)
    people = [n for n in structured_authors(page) if not _is_org(n, sites)] or byline_authors
    people = people or [n for n in from_meta if not _is_org(n, sites)]
    if not people:  # an outlet's name, kept only when nothing better exists
        people = from_meta + [n for n, _org in _jsonld_authors(page)]
    return PageMetadata(
        published=hit.value if hit else None,
        published_from=hit.source if hit else None,
        authors=[a for a in _unique(people) if a not in editors],  # editors are not authors
        editors=editors,
        source_name=source,
        title=page_title(page),
    )
