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

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, NamedTuple

from dateutil import parser as dateutil_parser
from lxml.html import HtmlElement

from crawler.extract import zh_patterns as zp
from crawler.extract.zh_patterns import normalize_text, parse_byline, parse_zh_datetime  # noqa: F401  (public API)

BYLINE_MAX_CHARS = 80  # first/last body paragraphs that may be a byline
BODY_TEXT_MIN = 120  # a block this long with sentence punctuation starts the body
MAX_HEADER_ELEMENTS = 150  # how far after the headline the dateline may sit

BLOCK_TAGS = ("p", "div", "section", "blockquote", "center", "h2", "h3", "h4", "span", "strong", "td")
INLINE_TAGS = frozenset("b strong i em font u sub sup small big".split())  # glued without a space
EPOCH_RE = re.compile(r"^\d{10}(?:\d{3})?$")
JSON_WRAPPER_RE = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
PROSE_END_RE = re.compile(r"[。!?]|\.(?:\s|$)")  # a sentence: body text, not a dateline
ISO_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{8}(?:T|$)")  # isoparse also takes "2020" alone


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


# --- text helpers ------------------------------------------------------------


def _block_text(el: HtmlElement) -> str:
    """Text with a space between elements (<span>来源</span><span>作者</span>), none inside <b>."""
    out: list[str] = []

    def walk(node: HtmlElement) -> None:
        glue = "" if node.tag in INLINE_TAGS else " "
        out.append(glue + (node.text or ""))
        for child in node:
            if isinstance(child.tag, str) and child.tag not in ("script", "style", "noscript"):
                walk(child)
            out.append(child.tail or "")
        out.append(glue)

    walk(el)
    return normalize_text("".join(out))


def _tokens(el: HtmlElement) -> list[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return [t for t in zp.CLASS_TOKEN_SPLIT_RE.split(raw) if t]


def _has_hint(el: HtmlElement, hint: re.Pattern[str]) -> bool:
    return any(hint.search(token) for token in _tokens(el))


def _has_headline_link(el: HtmlElement | None) -> bool:
    """Holds a link with a headline-length text: an item of a news list."""
    return el is not None and any(len(normalize_text(a.text_content())) >= 8 for a in el.iter("a"))


def _is_news_list_item(li: HtmlElement) -> bool:
    """An <li> of a headline list (three or more items, each a long link)."""
    parent = li.getparent()
    return parent is not None and sum(1 for c in parent if c.tag == "li") >= 3 and _has_headline_link(li)


def _is_noise(el: HtmlElement) -> bool:
    """Inside page furniture: nav, footer, related lists, rankings, comments."""
    node: HtmlElement | None = el
    while node is not None:
        if isinstance(node.tag, str):
            if node.tag in zp.NOISE_TAGS or (node.tag == "li" and _is_news_list_item(node)):
                return True
            for token in _tokens(node):
                if token in zp.NOISE_TOKENS or token.startswith(zp.NOISE_PREFIXES):
                    return True
        node = node.getparent()
    return False


def _meta_map(tree: HtmlElement) -> dict[str, list[str]]:
    """Lower-cased meta name/property/itemprop -> contents, in page order."""
    metas: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = normalize_text(meta.get("content"))
        if not content or (meta.get("itemprop") and _is_noise(meta)):
            continue
        for attr in ("name", "property", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key:
                metas.setdefault(key, []).append(content)
    return metas


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
            matches = [d for d in zp.scan_dates(value) if d.kind == "zh"]
            result = matches[0].value if matches else zp.dateutil_complete(value)
    return result if zp.plausible(result, now) else None


def _has_time(value: str) -> bool:
    return bool(zp.HAS_TIME_RE.search(value) or EPOCH_RE.match(value.strip()))


def _jsonld_types(obj: dict[str, Any]) -> set[str]:
    types = obj.get("@type") or []
    types = [types] if isinstance(types, str) else types
    return {re.split(r"[/:#]", t)[-1] for t in types if isinstance(t, str)}


def _walk_articles(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Article objects anywhere: top level, lists, @graph, mainEntity; outermost first."""
    if depth > 8:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_articles(item, depth + 1)
    elif isinstance(data, dict):
        if _jsonld_types(data) & zp.ARTICLE_TYPES:
            yield data
        for key, value in data.items():
            if key not in ("author", "creator", "publisher", "editor") and isinstance(value, (dict, list)):
                yield from _walk_articles(value, depth + 1)


def jsonld_articles(tree: HtmlElement) -> list[dict[str, Any]]:
    """Parsed JSON-LD article objects of the page; broken blocks are skipped."""
    articles: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        raw = JSON_WRAPPER_RE.sub("", script.text.strip())
        for candidate in (raw, TRAILING_COMMA_RE.sub(r"\1", raw)):  # trailing commas: a CMS template slip
            try:
                data = json.loads(candidate, strict=False)  # strict=False: raw newlines inside strings
            except ValueError:
                continue
            articles.extend(_walk_articles(data))
            break
    return articles


def structured_published(tree: HtmlElement, now: datetime | None = None) -> DateHit | None:
    """JSON-LD datePublished, then meta tags, then <time>/itemprop markup."""
    for obj in jsonld_articles(tree):
        values = obj.get("datePublished")
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and (parsed := parse_date_value(value, now)):
                return DateHit(parsed, "json-ld", _has_time(value))
    metas = _meta_map(tree)
    for key in zp.META_DATE_KEYS:
        for value in metas.get(key, []):
            if parsed := parse_date_value(value, now):
                return DateHit(parsed, "meta", _has_time(value))
    return time_element_published(tree, now)


def time_element_published(tree: HtmlElement, now: datetime | None = None) -> DateHit | None:
    """itemprop=datePublished / <time pubdate> anywhere, else a <time> in the header region."""
    explicit = [
        el for el in tree.iter()
        if isinstance(el.tag, str) and el.tag != "meta"
        and ((el.get("itemprop") or "").strip().lower() == "datepublished"
             or el.tag == "time" and (el.get("pubdate") is not None or "publish" in " ".join(_tokens(el))))
    ]
    header = [el for block in _header_blocks(tree) for el in block.iter("time")] + tree.xpath("//article//header//time")
    for el in explicit + header:
        if _is_noise(el) or any(t.startswith(("updat", "modif")) for t in _tokens(el)):
            continue
        value = el.get("datetime") or el.get("content") or _block_text(el)
        if parsed := parse_date_value(value, now):
            return DateHit(parsed, "time-element", _has_time(value))
    return None


# --- page regions ---------------------------------------------------------------


def _main_heading(tree: HtmlElement) -> HtmlElement | None:
    """The headline: an <h1> that is not a logo, preferring one the <title> confirms."""
    metas = _meta_map(tree)
    titles = [normalize_text(t) for key in zp.META_TITLE_KEYS for t in metas.get(key, [])]
    titles += [normalize_text(t.text_content()) for t in tree.iter("title")]

    def confirmed(el: HtmlElement) -> bool:
        text = _block_text(el)
        return len(text) >= 4 and any(text in t for t in titles)

    h1s = [h for h in tree.iter("h1") if len(_block_text(h)) >= 4 and not _is_noise(h)
           and not any(_has_hint(el, zp.LOGO_HINT_RE) for el in h.iter())]
    for h1 in h1s:
        if confirmed(h1):
            return h1
    if h1s:
        return h1s[0]
    for el in tree.iter(*BLOCK_TAGS):  # <div class="title">, <h2 class="headline">
        if _has_hint(el, zp.TITLE_HINT_RE) and len(_block_text(el)) <= 200 and confirmed(el) and not _is_noise(el):
            return el
    return None


def _starts_body(el: HtmlElement, body: HtmlElement | None) -> bool:
    """A long punctuated block, or a sentence among the body container's paragraphs."""
    if el.tag == "p" and el.getparent() is body and PROSE_END_RE.search(_block_text(el)):
        return True
    text = _block_text(el) if el.tag == "p" else normalize_text((el.text or "") + "".join(c.tail or "" for c in el))
    return len(text) >= BODY_TEXT_MIN and bool(zp.SENTENCE_PUNCT_RE.search(text) or "。" in text)


def _body_container(tree: HtmlElement) -> HtmlElement | None:
    """The element whose direct <p> children hold the most text."""
    scores: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        parent = p.getparent()
        if parent is not None and not _is_noise(p):
            scores[parent] = scores.get(parent, 0) + len(normalize_text(p.text_content()))
    return max(scores, key=lambda el: scores[el]) if scores else None


def _header_blocks(tree: HtmlElement) -> list[HtmlElement]:
    """Short blocks around the headline, nearest first: after it up to the body, then before it."""
    elements = [el for el in tree.iter() if isinstance(el.tag, str)]
    index = {el: i for i, el in enumerate(elements)}
    anchor, body = _main_heading(tree), _body_container(tree)
    if anchor is None:
        anchor = body
        if anchor is None:
            return []
        after: list[HtmlElement] = []
    else:
        inside = set(anchor.iter())
        after = []
        for el in elements[index[anchor] + 1: index[anchor] + 1 + MAX_HEADER_ELEMENTS]:
            if el in inside:
                continue
            if _starts_body(el, body):
                break
            after.append(el)
    # Before the anchor, within its container (<div class="hd"><p class="time"/><h1/>).
    container = anchor.getparent()
    while container is not None and len(container) == 1 and container.getparent() is not None:
        container = container.getparent()
    before = []
    if container is not None and container.tag not in ("body", "html"):
        before = elements[index[container] + 1: index[anchor]]
    ancestors = set(anchor.iterancestors())
    blocks = after + [el for el in reversed(before) if el not in ancestors][:20]
    # Last, info/time/source-marked blocks anywhere in the article (some CMSs
    # put 发布日期 below the body), never the page around it.
    scope = body
    for _level in range(2):
        if scope is not None and scope.getparent() is not None and scope.getparent().tag not in ("body", "html"):
            scope = scope.getparent()
    seen = set(blocks)
    blocks += [el for el in (scope.iter() if scope is not None else ()) if isinstance(el.tag, str)
               and el not in seen and _has_hint(el, zp.HEADER_HINT_RE) and not _has_headline_link(el.getparent())]
    return [el for el in blocks if 2 <= len(_block_text(el)) <= zp.DATELINE_MAX_CHARS and not _is_noise(el)]


def find_dateline(tree: HtmlElement, now: datetime | None = None) -> DateHit | None:
    """The date of the first dateline in the header region (see module docstring)."""
    for el in _header_blocks(tree):
        if _has_hint(el, zp.SUMMARY_HINT_RE):
            continue
        if d := zp.dateline_date(_block_text(el), now):
            source = {"zh": "zh-dateline", "en": "dateline"}.get(d.kind, "relative")
            return DateHit(d.value, source, d.has_time)
    return None


# --- authors, editors, source ------------------------------------------------------


def find_bylines(tree: HtmlElement) -> tuple[list[str], list[str], str | None]:
    """(authors, editors, source_name) from byline lines, in page order.

    Looked at: short blocks of the header region, the lead credit of an opening
    paragraph (本报讯（记者 张三）), the first two and last three short body
    paragraphs, the blocks right after the body, and editor-marked blocks.
    """
    texts = [_block_text(el) for el in _header_blocks(tree)]  # already <= DATELINE_MAX_CHARS
    header_count = len(texts)
    body = _body_container(tree)
    if body is not None:
        paragraphs = [c for c in body if isinstance(c.tag, str) and c.tag in BLOCK_TAGS and _block_text(c)]
        leads = [zp.LEAD_CREDIT_RE.match(_block_text(p)) for p in paragraphs[:3]]  # after a photo caption
        texts += [lead["inner"] for lead in leads if lead][:1]
        after = list(body.itersiblings())[:4]
        if body.getparent() is not None:
            after += list(body.getparent().itersiblings())[:4]
        texts += [_block_text(el) for el in paragraphs[:2] + paragraphs[-3:] + after
                  if isinstance(el.tag, str) and not _is_noise(el)]
    texts += [_block_text(el) for el in tree.iter()
              if isinstance(el.tag, str) and _has_hint(el, zp.EDITOR_HINT_RE) and not _is_noise(el)]
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
    return _unique(authors), _unique(editors), sources[0] if sources else None


def _jsonld_authors(tree: HtmlElement) -> list[tuple[str, bool]]:
    """(name, is_organisation) of JSON-LD authors: strings, objects, lists."""
    found: list[tuple[str, bool]] = []
    for obj in jsonld_articles(tree):
        value = obj.get("author")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                found += [(n, False) for n in zp.person_names(item)]
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                org = any(t.endswith("Organization") for t in _jsonld_types(item))
                found += [(n, org) for n in zp.person_names(item["name"])]
    return found


def _site_names(tree: HtmlElement) -> set[str]:
    """Lower-cased names of the site: og:site_name, JSON-LD publisher, <title> suffix."""
    metas = _meta_map(tree)
    names = {v.lower().lstrip("@") for key in zp.META_SITE_KEYS for v in metas.get(key, [])}
    for obj in jsonld_articles(tree):
        if isinstance(obj.get("publisher"), dict) and isinstance(obj["publisher"].get("name"), str):
            names.add(normalize_text(obj["publisher"]["name"]).lower())
    for title in tree.iter("title"):
        parts = re.split(r"\s*(?:[|_]|\s-{1,2}\s|[–—])\s*", normalize_text(title.text_content()))
        names |= {parts[-1].lower()} if len(parts) > 1 else set()
    return names


def _is_org(name: str, sites: set[str]) -> bool:
    return name.lower() in sites or (len(name) >= 3 and bool(zp.ORG_NAME_RE.search(name)))


def structured_authors(tree: HtmlElement) -> list[str]:
    """Person authors from JSON-LD, else from rel="author" / itemprop="author" markup."""
    sites = _site_names(tree)
    people = [n for n, org in _jsonld_authors(tree) if not org and not _is_org(n, sites)]
    if people:
        return _unique(people)
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag == "link":
            continue
        rel_author = "author" in (el.get("rel") or "").lower().split()
        if (rel_author or (el.get("itemprop") or "").lower() == "author") and not _is_noise(el):
            name_el = next((n for n in el.iter() if (n.get("itemprop") or "").lower() == "name"), el)
            text = name_el.get("content") or _block_text(name_el)
            people += [n for n in zp.person_names(text) if not _is_org(n, sites)]
    return _unique(people)


def meta_authors(tree: HtmlElement) -> list[str]:
    """<meta name="author"> and kin, split into names; may be the site's own name."""
    metas = _meta_map(tree)
    return _unique([n for key in zp.META_AUTHOR_KEYS for v in metas.get(key, []) for n in zp.person_names(v)])


# --- title and the whole page --------------------------------------------------------


def page_title(tree: HtmlElement) -> str | None:
    """JSON-LD headline, else og:title, else the <h1>, else <title>."""
    heading_el = _main_heading(tree)
    heading = _block_text(heading_el) if heading_el is not None else None
    candidates = [normalize_text(o["headline"]) for o in jsonld_articles(tree) if isinstance(o.get("headline"), str)]
    candidates += [t for key in zp.META_TITLE_KEYS for t in _meta_map(tree).get(key, [])]
    for title in filter(None, candidates):
        # "标题 - 新华网" -> "标题", but only when the on-page headline confirms the cut.
        if heading and title.startswith(heading) and zp.TITLE_SUFFIX_RE.match(title[len(heading):]):
            return heading
        return title
    if heading:
        return heading
    titles = [normalize_text(t.text_content()) for t in tree.iter("title")]
    return titles[0] if titles and titles[0] else None


def page_metadata(tree: HtmlElement, *, now: datetime | None = None) -> PageMetadata:
    """Everything above, in priority order. `now` (the fetch time) enables relative dates."""
    hit = structured_published(tree, now)
    line = find_dateline(tree, now)
    # A date-only structured value is refined by a dateline of the same day with a time.
    if hit is None or (line is not None and not hit.has_time and line.has_time
                       and line.value.date() == hit.value.date()):
        hit = line or hit
    byline_authors, editors, source = find_bylines(tree)
    if source is None:  # <meta name="source" content="来源：人民网-文化频道 原创稿">
        metas = _meta_map(tree)
        source = next((parse_byline(v)[2] or v for key in zp.META_SOURCE_KEYS for v in metas.get(key, [])), None)
    sites = _site_names(tree) | ({source.lower()} if source else set())  # the outlet is no author
    from_meta = meta_authors(tree)
    people = [n for n in structured_authors(tree) if not _is_org(n, sites)] or byline_authors
    people = people or [n for n in from_meta if not _is_org(n, sites)]
    if not people:  # an outlet's name, kept only when nothing better exists
        people = from_meta + [n for n, _org in _jsonld_authors(tree)]
    return PageMetadata(
        published=hit.value if hit else None,
        published_from=hit.source if hit else None,
        authors=[a for a in _unique(people) if a not in editors],  # editors are not authors
        editors=editors,
        source_name=source,
        title=page_title(tree),
    )
