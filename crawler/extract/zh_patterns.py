"""Text layer of metadata extraction, what its parts share: text normalisation,
structured-data keys and the class/id hints of page regions. The date and
byline patterns and their parsers are in :mod:`zh_dates` and
:mod:`zh_bylines`; ``metadata`` and ``page`` hold the tree layer.

Everything runs on text passed through :func:`normalize_text` (NFKC):
full-width digits, ``：`` ``｜`` ``／`` ``（）`` and the ideographic space
arrive as their ASCII forms, so no pattern needs both spellings. Bullets
(``●`` ``•``) and the name middle dot (``·``) are not folded by NFKC.
"""

from __future__ import annotations

import re
import unicodedata

DATELINE_MAX_CHARS = 150  # a dateline is a short line; longer blocks are prose or containers

HAN = r"\u4e00-\u9fff"
HAN_CHAR_RE = re.compile(f"[{HAN}]")
SENTENCE_PUNCT_RE = re.compile(r"[,。;!?]")

# --- Structured data ---------------------------------------------------------

# JSON-LD @types that describe the article itself (schema.org subtypes included).
ARTICLE_TYPES = frozenset(
    "Article NewsArticle BlogPosting ReportageNewsArticle AnalysisNewsArticle OpinionNewsArticle "
    "BackgroundNewsArticle ReviewNewsArticle LiveBlogPosting Report TechArticle SocialMediaPosting".split()
)
# Publish-date meta keys (name/property/itemprop, lower-cased), most specific
# first. og:published_time is not a real OpenGraph key; "others" is not a date.
META_DATE_KEYS: tuple[str, ...] = (
    "article:published_time", "datepublished", "pubdate", "publishdate", "publish-date",
    "publish_date", "publication_date", "publishtime", "published_time", "firstpublishedtime",
    "bytedance:published_time", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
    "sailthru.date", "parsely-pub-date", "og:release_date", "date",
)
META_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "sailthru.author", "parsely-author", "byl")
META_SOURCE_KEYS = ("source", "contentsource", "og:source")
META_SITE_KEYS = ("og:site_name", "application-name", "sitename", "site_name", "twitter:site")
META_TITLE_KEYS = ("og:title", "twitter:title")

# --- Page regions ----------------------------------------------------------

# Each class/id token of an element is tested on its own (article-info ->
# "article", "info"), so short Chinese pinyin tokens can be matched exactly.
# Tokens of the block under the headline: info, time, source, byline.
HEADER_HINT_RE = re.compile(
    r"info|time|date|source|meta|byline|author|publish|laiyuan|editor|^(?:ly|sj|fbsj|from|tips|attr|src)$",
    re.IGNORECASE,
)
# Tokens of editor / author lines anywhere (people.cn: <div class="edit">).
EDITOR_HINT_RE = re.compile(r"^(?:edit|editor|zrbj|bianji|author|byline)", re.IGNORECASE)

# What a hint a prefilter is derived from may be written with.
HINT_WORDS_RE = re.compile(r"[a-z|^$()?:]+")


def hint_prefilter(hint: re.Pattern[str]) -> re.Pattern[str]:
    """A quick pre-test of ``hint`` on the whole lower-cased "class id" string,
    before it is split into tokens: the hint's words without the token anchors,
    so it finds one wherever a token matches, and an element it misses is
    rejected unsplit. Case-sensitive, as IGNORECASE makes it eight times slower
    (see Page.has_hint for why that leaves the result unchanged). Only for
    hints written as lower-case words, groups and token anchors: in any other
    regex, dropping the anchors or the case could change what it finds."""
    if not HINT_WORDS_RE.fullmatch(hint.pattern):
        raise ValueError(f"no prefilter for {hint.pattern!r}: lower-case words, '|', '(?:', ')', '^' and '$' only")
    return re.compile(hint.pattern.replace("^", "").replace("$", ""))


# The hints tested on many elements (every classed one of the article).
HEADER_HINT_PREFILTER_RE = hint_prefilter(HEADER_HINT_RE)
EDITOR_HINT_PREFILTER_RE = hint_prefilter(EDITOR_HINT_RE)
# Tokens of summaries: prose that may mention dates, never a dateline.
SUMMARY_HINT_RE = re.compile(r"summary|abstract|desc|^(?:lead|intro|zhaiyao|digest|dek|zy)$", re.IGNORECASE)
# Tokens of a headline that is not an <h1>.
TITLE_HINT_RE = re.compile(r"title|headline|^(?:biaoti|tit|bt)$", re.IGNORECASE)
# Tokens of logos: portals often put the site logo in an <h1>.
LOGO_HINT_RE = re.compile(r"logo", re.IGNORECASE)
# class/id token prefixes of page furniture whose dates and names are not the
# article's: related lists, rankings, comments, footers, navigation.
NOISE_PREFIXES: tuple[str, ...] = (
    "related", "relate", "recommend", "tuijian", "xgxw", "xgyd", "xiangguan", "comment", "pinglun",
    "sidebar", "footer", "copyright", "breadcrumb", "crumb", "advert", "banner", "hotnews",
    "paihang", "ranking", "nav", "menu", "newslist", "morenews", "friendlink", "guess", "youlike",
)
NOISE_TOKENS = frozenset("hot rank list side more ad ads links aside share".split())
NOISE_TAGS = frozenset("nav footer aside form select option button script style noscript iframe template".split())
CLASS_TOKEN_SPLIT_RE = re.compile(r"[\s_\-]+")
# og:title suffixes: "标题 - 新华网", "标题_新闻频道_央视网", "Title | Site".
TITLE_SUFFIX_RE = re.compile(r"^\s*(?:[|_]|-{1,2}|[–—]|::)")


# Full-width punctuation of Chinese text and what NFKC makes of each. Replaced
# first, the rest of a line is most often NFKC already, which normalize() finds
# out quickly: working out NFKC takes ten times as long as these replacements.
# NFKC's result is unchanged, as each one alone gives NFKC's characters for it.
FULL_WIDTH_PUNCTUATION = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，：；！？（）｜／\u3000")


def normalize_text(text: str | None) -> str:
    """NFKC (full-width digits and ：｜（） to ASCII), zero-width removed, spaces collapsed."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):
        for full_width, nfkc in FULL_WIDTH_PUNCTUATION:
            text = text.replace(full_width, nfkc)
        text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u200b", "").replace("\ufeff", "")
    return " ".join(text.split())  # str.split's whitespace is re's \s; a third of re.sub's time
