"""Text layer of metadata extraction: pattern tables and the string parsers
that apply them (dates, datelines, bylines). ``metadata`` holds the tree layer.

Everything here runs on text passed through :func:`normalize_text` (NFKC):
full-width digits, ``：`` ``｜`` ``／`` ``（）`` and the ideographic space
arrive as their ASCII forms, so no pattern needs both spellings. Bullets
(``●`` ``•``) and the name middle dot (``·``) are not folded by NFKC.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from datetime import datetime, time, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_YEAR = 1990
DATELINE_MAX_CHARS = 150  # a dateline is a short line; longer blocks are prose or containers
# A year-less 10月27日 more than this far ahead of `now` belongs to last year
# (an hour of slack, so a slightly slow crawler clock does not cost a year).
FUTURE_SKEW = timedelta(hours=1)

HAN = r"\u4e00-\u9fff"

# --- Dates -----------------------------------------------------------------

# 上午/下午 before a clock time; 下午 3:05 is 15:05.
_AMPM = r"(?:(?P<ampm>上午|下午|晚上|凌晨|中午|早上)\s*)?"
# A clock time after a date: 10:23, 10:23:05, 10时23分, 10时23分05秒.
_CLOCK = (
    r"(?:[T\s]*" + _AMPM + r"(?P<hour>\d{1,2})\s*[:时]\s*(?P<minute>\d{1,2})(?!\d)"
    r"(?:\s*[:分]\s*(?P<second>\d{1,2})(?:\.\d+)?)?\s*秒?"
    # An explicit offset is kept (the caller only localises naive values).
    r"(?:\s*(?:GMT|UTC)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})(?!\d))?)?"
)
# 2020年04月08日 10:23 / 2020年4月8日10:23:05 / 2020年4月8号
ZH_YMD_RE = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d{2})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号]?" + _CLOCK
)
# 2020-04-08 10:23 / 2020/4/8 / 2020.04.08 / 2020-04-08T10:23:00+08:00.
# The back-reference keeps 2020-04/08 out, the lookarounds 1.2020.3.4 and 2012.3.4.5.
NUM_YMD_RE = re.compile(
    r"(?<![\d.])(?P<year>(?:19|20)\d{2})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})(?!\d|[-/.]\d)"
    + _CLOCK
)
# April 8, 2020 / 8 April 2020 (10:23 am) -- handed to dateutil.
EN_DATE_RE = re.compile(
    r"(?<![A-Za-z])(?:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+(?:19|20)\d{2}"
    r"|\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?,?\s+(?:19|20)\d{2})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?)?",
    re.IGNORECASE,
)

# Year-less and relative forms shown by aggregators (ZAKER, app shares): they
# only mean something against the fetch time, so they need ``now``.
# 10月27日 08:05 -- not the tail of 2020年10月27日 (overlaps are dropped).
ZH_MD_RE = re.compile(
    r"(?<![\d年])(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号]" + _CLOCK
)
# 10-27 08:05: only with a clock time, a bare 10-27 is too ambiguous.
NUM_MD_RE = re.compile(
    r"(?<![\d/.-])(?P<month>\d{1,2})-(?P<day>\d{1,2})\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?![\d:])"
)
JUST_NOW_RE = re.compile(r"刚刚|刚才")
# 5分钟前, 3小时前, 2天前, 半小时前, 30秒前
AGO_RE = re.compile(r"(?P<num>\d+|半)\s*(?P<unit>秒|分钟|分|小时|个小时|天|日)\s*(?:以)?前")
# 昨天 22:10 / 前天 / 今天 08:00
# The clock time is required: a bare 今日 is also in 今日头条.
DAY_WORD_RE = re.compile(r"(?P<word>今天|今日|昨天|昨日|前天)\s*(?P<hour>\d{1,2})\s*:\s*(?P<minute>\d{2})")
DAY_WORD_OFFSETS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}
# A day word alone is a date only when it is the whole label (ZAKER's
# <span class="time">前天</span>): inside text, 昨天 is prose and 今日 a name.
DAY_WORD_ONLY_RE = re.compile(r"^\s*(?P<word>今天|今日|昨天|昨日|前天)\s*$")
AGO_UNITS_SECONDS = {"秒": 1, "分钟": 60, "分": 60, "小时": 3600, "个小时": 3600, "天": 86400, "日": 86400}

# A label right before a date says what the date is. Publishing labels make a
# short line a dateline; update labels make the date a modification date.
DATE_LABEL_RE = re.compile(
    r"(?:发布|发表|发稿|刊发|出版|上传|录入|首发|创建)?(?:时间|日期)\s*[:|]?\s*$"
    r"|(?:发布|发表|发稿|刊发|出版|首发)(?:于|在)?\s*[:|]?\s*$"
    r"|(?:Published|Posted|Publication date|Date)\s*(?:on|:)?\s*$",
    re.IGNORECASE,
)
OTHER_DATE_LABEL_RE = re.compile(  # 更新时间：, and 今天是 of a portal's top bar
    r"(?:更新|修改|修订|编辑)(?:时间|日期|于)?\s*[:|]?\s*$|(?:今天|今日)是\s*$|(?:Updated?|Today is)\s*(?:on|:)?\s*$", re.I)
# Running text: a date directly followed by a comma or full stop starts a
# sentence (1月29日，自治区公安厅召开…), it is not a dateline.
SENTENCE_AFTER_DATE_RE = re.compile(r"^\s*(?:[,.;、。!?]|电)")
SENTENCE_PUNCT_RE = re.compile(r"[,。;!?]")
# Words that show a short line is article metadata, not prose.
META_WORDS_RE = re.compile(
    r"来源|作者|记者|编辑|责编|通讯员|浏览|阅读|点击|字号|发布|时间|日期|打印|分享|Source|By\b|Posted",
    re.IGNORECASE,
)

# --- Bylines ---------------------------------------------------------------

# Organisation prefixes of 记者/通讯员: 本报记者, 新华社记者, 本报驻京记者, 特约通讯员.
_STAFF_PREFIX = (
    r"(?:本报讯|本报|本台|本刊|本网|本站|本社|新华社|中新社|中新网|人民网|央视|央广|总台|"
    r"驻[" + HAN + r"]{1,3}|特约|特派|实习|见习|首席|全媒体|融媒体)*"
)
# (regex, role), tried as one alternation, so longer labels come first.
# Roles: author, editor (never an author), source (the outlet), photo
# (credited but neither) and stop (ends the previous value).
BYLINE_LABELS: tuple[tuple[str, str], ...] = (
    (r"责任编辑|值班编辑|实习编辑|责编|编辑|主编|编审", "editor"),
    (r"审核|审校|审稿|校对|终审|初审|复审|[一二三]审|监制", "editor"),
    (r"(?:新闻|文章|本文|信息|稿件)来源|来源|稿源|出处|转自|转载自|Source(?=\s*:)", "source"),
    (_STAFF_PREFIX + r"(?:记者|通讯员)|实习生|特约撰稿人?", "author"),
    (r"作者|撰文|撰稿|采写|编译", "author"),
    # 文 / 图 are everyday characters: only labels with a separator (文/X, 文|X).
    (r"文(?=\s*[/|:])", "author"),
    (r"图片来源|图源|摄影|摄像|图片|图(?=\s*[/|:])|视频(?=\s*[/|:])", "photo"),
    (r"(?:发布|发表|更新|修改)?时间|日期|发布于|发表于|浏览|阅读|点击|字号|分享|打印|关闭", "stop"),
)
BYLINE_LABEL_RE = re.compile(
    "|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _role) in enumerate(BYLINE_LABELS))
)
LABEL_SEPARATOR_RE = re.compile(r"\s*[:|/]\s*")
# Between several names: spaces, bullets, 、 and commas. Not · (阿卜杜拉·买买提).
NAME_SPLIT_RE = re.compile(r"[\s●•◆■▪○◇★☆、,;/|()\[\]【】<>《》\"“”'‘’]+")
EN_NAME_SPLIT_RE = re.compile(r"\s*(?:[,;、|]|\band\b|&)\s*")
# Trailing credits glued to a name: 张三摄, 李四报道.
NAME_SUFFIX_RE = re.compile(r"(?:综合报道|报道|报导|摄影|摄|供图|整理|采写|发自.*)$")
HAN_NAME_RE = re.compile(rf"^(?:[{HAN}]{{2,4}}|[{HAN}]{{1,8}}[·・][{HAN}·・]{{1,12}})$")
EN_NAME_RE = re.compile(
    r"^[A-Z][A-Za-z'’.\-]*(?:\s+(?:[A-Z][A-Za-z'’.\-]*|de|da|del|der|van|von|la|le|bin|al)){1,4}$"
)
# Characters and words that no Chinese name contains: 记者了解到 is prose.
NOT_NAME_RE = re.compile(
    r"[了的是在从到对说把被已就都也还又]|获悉|表示|采访|发现|注意|了解|得知|走访|近日|日前|今天|昨天|目前|介绍"
)
# Outlets, not people (人民网, 新华社, 央视新闻).
ORG_NAME_RE = re.compile(
    rf"^[{HAN}]{{1,}}(?:网|报|社|台|站|网站|频道|新闻|传媒|集团|中心|客户端|日报|晚报)$"
    r"|\b(?:News|Press|Media|Times|Post|Agency|Reuters|Associated|AFP|Staff|Desk|Team|Online)\b",
)
NAME_STOPWORDS = frozenset(
    "本报 记者 编辑 通讯员 实习生 综合 整理 报道 新华社 本台 本网 本站 供图 来源 作者 网络 图片 视频 "
    "原创 佚名 未知 匿名 小编 管理员 admin administrator 网友 转载 微信 客户端 责编".split()
)
# 本报讯（记者 张三 通讯员 李四）1月29日，… / 新华社北京4月8日电(记者张三)
LEAD_CREDIT_RE = re.compile(r"^\s*\S{0,24}?[讯电]\s*\((?P<inner>[^()]{2,60})\)")
# English bylines: "By Jane Doe and John Roe", "Edited by ...".
EN_BY_RE = re.compile(r"^\s*By\s+(?P<names>.+)$", re.IGNORECASE)
EN_EDITED_BY_RE = re.compile(r"\b(?:Edited|Editing)\s+by\s+(?P<names>[^;()]+)", re.IGNORECASE)
# Where an English byline's names end.
EN_BY_END_RE = re.compile(
    r"\s+[|·•—–-]\s+|\s{2,}|\b(?:Updated|Published|Posted|Reporting|Editing|Edited)\b|\d|\s+for\s+",
    re.IGNORECASE,
)

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
HAS_TIME_RE = re.compile(r"\d:\d{2}|\d时|T\d{2}")
HAN_CHAR_RE = re.compile(f"[{HAN}]")
FULL_STOP_RE = re.compile(r"[。!?]")  # datelines never end a sentence


# --- string parsers ------------------------------------------------------------


def normalize_text(text: str | None) -> str:
    """NFKC (full-width digits and ：｜（） to ASCII), zero-width removed, spaces collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).replace("\u200b", "").replace("\ufeff", "")
    return " ".join(text.split())  # str.split's whitespace is re's \s; a third of re.sub's time


class DateMatch(NamedTuple):
    value: datetime
    start: int
    end: int
    kind: str  # "zh" (numeric or 年月日), "en" (month names), "relative"
    has_time: bool


def shanghai_now(now: datetime | None) -> datetime | None:
    """`now` in Asia/Shanghai; a naive `now` is taken to be Shanghai wall time."""
    if now is None:
        return None
    return now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)


def plausible(value: datetime | None, now: datetime | None = None) -> bool:
    """Years before 1990 or after next year are ids and misreads, not publish dates."""
    return value is not None and MIN_YEAR <= value.year <= (now or datetime.now()).year + 1


def _from_groups(m: re.Match[str], year: int | None = None, tz: Any = None) -> datetime | None:
    g = m.groupdict()
    hour, minute = int(g.get("hour") or 0), int(g.get("minute") or 0)
    if g.get("ampm") in ("下午", "晚上") and hour < 12 or g.get("ampm") == "中午" and hour < 11:
        hour += 12
    if g.get("tz"):
        offset = g["tz"].replace(":", "")
        tz = timezone.utc if offset == "Z" else timezone(
            (-1 if offset[0] == "-" else 1) * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    try:
        return datetime(year or int(g["year"]), int(g["month"]), int(g["day"]), hour, minute,
                        int(g.get("second") or 0), tzinfo=tz)
    except ValueError:  # 2020-02-30, 25:00, 2月29日 in a common year
        return None


def _relative(pattern: re.Pattern[str], m: re.Match[str], now: datetime) -> datetime | None:
    """Resolve a year-less or relative match against `now` (aware, Asia/Shanghai)."""
    if pattern is JUST_NOW_RE:
        return now.replace(microsecond=0)
    if pattern is AGO_RE:
        num = 0.5 if m["num"] == "半" else int(m["num"])
        return (now - timedelta(seconds=num * AGO_UNITS_SECONDS[m["unit"]])).replace(microsecond=0)
    if pattern is DAY_WORD_RE or pattern is DAY_WORD_ONLY_RE:
        day = (now - timedelta(days=DAY_WORD_OFFSETS[m["word"]])).date()
        try:
            clock = time(int(m["hour"]), int(m["minute"])) if pattern is DAY_WORD_RE else time(0, 0)
            return datetime.combine(day, clock, SHANGHAI)
        except ValueError:
            return None
    value = _from_groups(m, year=now.year, tz=SHANGHAI)
    if value is None or value > now + FUTURE_SKEW:  # 12月31日 read on 1月1日 is last year's
        value = _from_groups(m, year=now.year - 1, tz=SHANGHAI)
    return value


def dateutil_complete(value: str) -> datetime | None:
    """dateutil, but only when year, month and day are all in the string."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown zone names such as CST
            a = dateutil_parser.parse(value, default=datetime(1, 1, 1))
            b = dateutil_parser.parse(value, default=datetime(2, 2, 2))
    except (ValueError, OverflowError, TypeError):
        return None
    return a if a.date() == b.date() else None


def scan_dates(text: str, now: datetime | None = None) -> list[DateMatch]:
    """Every date in normalised `text`, in text order; relative ones only with `now`."""
    now = shanghai_now(now)
    found: list[DateMatch] = []

    def add(m: re.Match[str], value: datetime | None, kind: str, has_time: bool) -> None:
        if value is not None and not any(m.start() < d.end and d.start < m.end() for d in found):
            found.append(DateMatch(value, m.start(), m.end(), kind, has_time))

    for pattern in (ZH_YMD_RE, NUM_YMD_RE):
        for m in pattern.finditer(text):
            value = _from_groups(m)
            add(m, value if plausible(value, now) else None, "zh", m["hour"] is not None)
    for m in EN_DATE_RE.finditer(text):
        value = dateutil_complete(m.group(0))
        add(m, value if plausible(value, now) else None, "en", bool(HAS_TIME_RE.search(m.group(0))))
    if now is not None:
        for pattern in (ZH_MD_RE, NUM_MD_RE, DAY_WORD_RE, AGO_RE, JUST_NOW_RE, DAY_WORD_ONLY_RE):
            for m in pattern.finditer(text):
                has_time = pattern is not DAY_WORD_ONLY_RE and (pattern is not ZH_MD_RE or m["hour"] is not None)
                add(m, _relative(pattern, m, now), "relative", has_time)
    return sorted(found, key=lambda d: d.start)


def parse_zh_datetime(text: str, now: datetime | None = None) -> datetime | None:
    """First date in `text`: 2020年4月8日10:23, 2020-04-08, 2020/4/8, 2020.04.08, …

    Absolute dates come back naive (aware only with an explicit offset).
    Relative and year-less forms (刚刚, 5分钟前, 昨天 22:10, 10月27日 08:05) need
    `now` and come back aware in Asia/Shanghai; without `now` they are ignored.
    """
    matches = scan_dates(normalize_text(text), now)
    return matches[0].value if matches else None


def dateline_date(text: str, now: datetime | None = None) -> DateMatch | None:
    """The publish date of a short header line, or None when the line is prose.

    A date counts when a publishing label precedes it (发布时间：), or when the
    rest of the line is metadata (来源, 作者, 浏览) or next to nothing. A date
    followed by a comma (1月29日，自治区…) or an update label (更新时间：) does not.
    """
    text = normalize_text(text)
    if not text or len(text) > DATELINE_MAX_CHARS or FULL_STOP_RE.search(text):
        return None
    for d in scan_dates(text, now):
        before = text[max(0, d.start - 12): d.start]
        if OTHER_DATE_LABEL_RE.search(before):
            continue
        if DATE_LABEL_RE.search(before):
            return d
        if SENTENCE_AFTER_DATE_RE.match(text[d.end:]):
            continue
        rest = f"{text[:d.start]} {text[d.end:]}".strip()
        if META_WORDS_RE.search(rest) or (len(rest) <= 20 and not SENTENCE_PUNCT_RE.search(rest)):
            return d
    return None


def is_person_name(token: str) -> bool:
    """2–4 Han characters (or a ·-joined transliteration), or 2–5 capitalised words."""
    if not token or token.lower() in NAME_STOPWORDS:
        return False
    if HAN_NAME_RE.match(token):
        return not NOT_NAME_RE.search(token) and not (len(token) >= 3 and ORG_NAME_RE.search(token))
    return bool(EN_NAME_RE.match(token)) and not ORG_NAME_RE.search(token)


def _english_names(value: str) -> list[str]:
    names: list[str] = []
    for part in EN_NAME_SPLIT_RE.split(EN_BY_END_RE.split(value, maxsplit=1)[0]):
        part = part.strip(" .,")
        part = part.title() if part.isupper() else part  # BY JANE DOE
        if not is_person_name(part):
            break  # names come first; "CNN", "Associated Press" end them
        names.append(part)
    return names


def _names(value: str) -> list[str]:
    """The names right after a label, up to the first thing that is not a name."""
    if not HAN_CHAR_RE.search(value):
        return _english_names(value)
    value = re.split(r"\d|[)\]】》]", value, maxsplit=1)[0]  # a date, a count or the credit's end
    names: list[str] = []
    for token in filter(None, NAME_SPLIT_RE.split(value)):
        name = NAME_SUFFIX_RE.sub("", token)
        if (name != token and names) or not is_person_name(name):
            break  # 记者 张三 郑州报道: after a name, "X报道" is a place
        names.append(name)
    return names[:8]


def _source(value: str) -> str | None:
    value = value.strip(" :|/()[]【】")
    dates = scan_dates(value)
    value = value[: dates[0].start] if dates else value
    value = re.split(r"\s{2,}|\|", value)[0].strip(" :|/()[]【】")
    if HAN_CHAR_RE.match(value):
        value = value.split(" ")[0]  # 来源：新华网 作者… (a Chinese outlet has no spaces)
    return value if 0 < len(value) <= 40 else None


def parse_byline(text: str) -> tuple[list[str], list[str], str | None]:
    """(authors, editors, source_name) of one byline-ish line.

    ``本报记者●张三●李四 通讯员 王五 (责编：赵六) 来源：大河报`` gives
    (["张三", "李四", "王五"], ["赵六"], "大河报"). Correspondents are authors;
    editors, reviewers and proofreaders are editors; 来源 is the outlet.
    """
    text = normalize_text(text)
    labels: list[tuple[int, int, str]] = []
    for m in BYLINE_LABEL_RE.finditer(text):
        sep = LABEL_SEPARATOR_RE.match(text, m.end())
        # A label glued to a preceding Han character (了解到记者…) is prose,
        # unless a colon or slash follows it (来源：新华网作者：张三).
        if m.start() and HAN_CHAR_RE.match(text[m.start() - 1]) and not sep:
            continue
        labels.append((m.start(), sep.end() if sep else m.end(), BYLINE_LABELS[int((m.lastgroup or "r0")[1:])][1]))
    authors: list[str] = []
    editors: list[str] = []
    source: str | None = None
    for i, (_start, value_start, role) in enumerate(labels):
        value = text[value_start: labels[i + 1][0] if i + 1 < len(labels) else len(text)]
        if role == "author":
            authors += _names(value)
        elif role == "editor":
            editors += _names(value)
        elif role == "source" and source is None:
            source = _source(value)
    if m := EN_BY_RE.match(text):
        authors += _english_names(m["names"])
    if m := EN_EDITED_BY_RE.search(text):
        editors += _english_names(m["names"])
    return list(dict.fromkeys(authors)), list(dict.fromkeys(editors)), source


def person_names(value: str) -> list[str]:
    """Names in a structured author value: "张三 李四", "Jane Doe and John Roe", "By Jane Doe"."""
    text = normalize_text(value)
    if not text or text.startswith(("http://", "https://", "/")):
        return []
    authors, editors, source = parse_byline(text)
    if authors or editors or source or BYLINE_LABEL_RE.fullmatch(text):
        # A labelled credit: its authors only (编辑：李四 names no author, 本报记者 alone no one).
        return authors
    names: list[str] = []
    for part in filter(None, EN_NAME_SPLIT_RE.split(text)):
        names += part.split() if re.fullmatch(rf"[{HAN}]+(?: [{HAN}]+)+", part) else [part]
    # Digits mean a CMS user id (<meta name="author" content="104363">), not a name.
    return [n for n in names if 1 < len(n) <= 60 and n.lower() not in NAME_STOPWORDS and not re.search(r"\d", n)]
