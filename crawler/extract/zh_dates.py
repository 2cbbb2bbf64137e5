"""Text layer of date extraction: the date patterns and the string parsers that
apply them (dates, datelines). ``metadata`` holds the tree layer.

Everything here runs on text passed through
:func:`crawler.extract.zh_patterns.normalize_text` (NFKC): full-width digits
and ``：`` arrive as their ASCII forms, so no pattern needs both spellings.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

from crawler.extract.zh_patterns import DATELINE_MAX_CHARS, SENTENCE_PUNCT_RE, normalize_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_YEAR = 1990
# A year-less 10月27日 more than this far ahead of `now` belongs to last year
# (an hour of slack, so a slightly slow crawler clock does not cost a year).
FUTURE_SKEW = timedelta(hours=1)
# A naive year-less time (Oct 25, 2:30 pm) may yet be read in any zone, up to UTC+14.
NAIVE_FUTURE_SKEW = FUTURE_SKEW + timedelta(hours=14)
HAS_TIME_RE = re.compile(r"\d:\d{2}|\d时|T\d{2}")
FULL_STOP_RE = re.compile(r"[。!?]")  # datelines never end a sentence

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
# Oct 25, 2:30 pm / 25 October 14:30: month names capitalised and whole ("May",
# never "may" or "Mayor"), no year after them (that is EN_DATE_RE's), and a
# clock time: an English header line holding a month and a day alone is a
# kicker or a headline ("March 8 rally", "Jan 6 committee", "Top 5 May picks"),
# far more often than a dateline.
_EN_MONTH = (r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
             r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?(?![A-Za-z])")
_EN_CLOCK = r",?\s+(?:at\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?!\d)(?:\s*(?P<meridiem>[AaPp])\.?[Mm]\.?)?"
_NO_YEAR = r"(?!\d|(?:st|nd|rd|th)?,?\s*(?:19|20)\d{2}(?!\d))(?:st|nd|rd|th)?"
# The day is no clock's hour: in "25 October 14:30" and "25 Oct 9:05" the
# number after the month is the time's (EN_DM_RE reads them), not October 14.
EN_MD_RE = re.compile(r"(?<![A-Za-z])" + _EN_MONTH + r"\s+(?P<day>\d{1,2})(?![:.]\d)" + _NO_YEAR + _EN_CLOCK)
EN_DM_RE = re.compile(r"(?<![\dA-Za-z])(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _EN_MONTH
                      + r"(?!,?\s*(?:19|20)\d{2}(?!\d))" + _EN_CLOCK)
EN_MONTHS = {name: number for number, name in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
# Year-less forms: read in the fetch time's year, or in the year of the date
# the article's URL carries (see url_date); English ones stay naive.
YEAR_LESS_PATTERNS = (ZH_MD_RE, NUM_MD_RE, EN_MD_RE, EN_DM_RE)
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
# A source's or a print edition's date (来源：人民日报 2024年10月20日,
# (2024年10月20日 04版)): when the paper printed it, not when the page
# published it; such a line does not overrule the page's own year-less
# dateline (see Dateline). A web dateline shows a time, a print date none.
SOURCE_BEFORE_DATE_RE = re.compile(r"(?:来源|稿源|出处|转自|转载自|Source)\s*[:|]?\s*[^:|]{0,24}$", re.IGNORECASE)
EDITION_AFTER_DATE_RE = re.compile(r"^[\s,]*第?\s*[A-Z]?\d{1,3}\s*版")
# Running text: a date directly followed by a comma or full stop starts a
# sentence (1月29日，自治区公安厅召开…), it is not a dateline.
SENTENCE_AFTER_DATE_RE = re.compile(r"^\s*(?:[,.;、。!?]|电)")
# Words that show a short line is article metadata, not prose.
META_WORDS_RE = re.compile(
    r"来源|作者|记者|编辑|责编|通讯员|浏览|阅读|点击|字号|发布|时间|日期|打印|分享|Source|By\b|Posted",
    re.IGNORECASE,
)


# A date in an article's URL: /2024/1025/, /2024/10/25/, /2024-10/25/,
# /2024/10-25/, t20241025_123.html. Month and day of a compact form take two
# digits each. A run of its own, between non-alphanumerics (the gov.cn t prefix
# aside): /article/5f20191025abcdef holds a hex id, not a day. After a "/" the
# day is a folder or a two-digit file (see URL_DAY_FILE_RE).
URL_DATE_RE = re.compile(
    r"(?:(?<![A-Za-z0-9])|(?<=[/_-]t))(?P<year>(?:19|20)\d{2})"
    r"(?:[/_-](?P<month>\d{1,2})(?P<sep>[/_-])(?P<day>\d{1,2})"
    r"|[/_-]?(?P<cmonth>0[1-9]|1[0-2])(?P<cday>0[1-9]|[12]\d|3[01]))"
    r"(?![A-Za-z0-9])"
)
# After year and month folders, a number that is no folder (see url_date) is a
# day only as two digits (05, 25) that end the path, the file's name or its
# name's first part: archives name a day's page so (/2024/10/25.html,
# /2024/10/25_123.html, /2024/10/25), zero-padded as a day is and a running
# article number is not. One digit (/2024/10/5.html) is the month's article 5;
# a number that opens a slug (/2024/10/5-ways.html, /2024/10/10-tips.html) is
# the title's.
URL_DAY_FILE_RE = re.compile(r"\d{2}(?:[._]|$)")
# A URL date later than the fetch day (beyond a timezone's difference) is an id.
URL_DATE_FUTURE_SLACK = timedelta(days=1)
# A year-less dateline takes the URL's year only when, read in it, it lies this
# near the URL's day: the day a story is filed under is the day it ran, give or
# take an edition or an update. Further off, the URL's number is an id that
# happens to make a date (newsDetail_forward_20191231, /news/20190512.html).
URL_DATE_MAX_DISTANCE = timedelta(days=7)

# --- string parsers ------------------------------------------------------------


class DateMatch(NamedTuple):
    value: datetime
    start: int
    end: int
    kind: str  # "zh" (numeric or 年月日), "en" (month names), "year-less" (10月25日, Oct 25 14:30), "relative"
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
    if g.get("meridiem"):  # 12:05 am is 00:05, 2:30 pm 14:30
        hour = hour % 12 + (12 if g["meridiem"] in "Pp" else 0)
    month = EN_MONTHS[g["mon"][:3].lower()] if g.get("mon") else int(g["month"])
    if g.get("tz"):
        offset = g["tz"].replace(":", "")
        tz = timezone.utc if offset == "Z" else timezone(
            (-1 if offset[0] == "-" else 1) * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    try:
        return datetime(year or int(g["year"]), month, int(g["day"]), hour, minute,
                        int(g.get("second") or 0), tzinfo=tz)
    except ValueError:  # 2020-02-30, 25:00, 2月29日 in a common year
        return None


def _relative(pattern: re.Pattern[str], m: re.Match[str], now: datetime, reference: date | None = None) -> datetime | None:
    """Resolve a year-less or relative match against `now` (aware, Asia/Shanghai; English month names naive)."""
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
    return _year_less(m, now, reference, tz=None if pattern in (EN_MD_RE, EN_DM_RE) else SHANGHAI)


def _year_less(m: re.Match[str], now: datetime, reference: date | None, tz: Any) -> datetime | None:
    """A month and day in the year that puts them nearest the ``reference`` day (the
    article URL's date), when that is within URL_DATE_MAX_DISTANCE of it and not
    in the future; else in `now`'s year or the one before."""

    def future(value: datetime) -> bool:
        if value.tzinfo is None:
            return value.replace(tzinfo=now.tzinfo) > now + NAIVE_FUTURE_SKEW
        return value > now + FUTURE_SKEW

    if reference is not None:
        candidates = [v for year in (reference.year - 1, reference.year, reference.year + 1)
                      if (v := _from_groups(m, year=year, tz=tz)) is not None]
        nearest = min(candidates, key=lambda v: abs(v.date() - reference), default=None)
        if nearest is not None and abs(nearest.date() - reference) <= URL_DATE_MAX_DISTANCE and not future(nearest):
            return nearest
    value = _from_groups(m, year=now.year, tz=tz)
    if value is None or future(value):  # 12月31日 read on 1月1日 is last year's
        value = _from_groups(m, year=now.year - 1, tz=tz)
    return value


def url_date(url: str, now: datetime | None = None) -> date | None:
    """The date an article's URL carries in its path (/2024/1025/, t20241025_1.html), if any.

    Only a real, plausible day no later than the fetch day, in digits that
    stand apart from letters and other digits: eight digits that make no such
    day, or sit in a longer id, are an id, and so is the number after a year
    and a month folder, unless it is a folder itself (/2024/10/5/slug) or a
    two-digit file (/2024/10/25.html; see URL_DAY_FILE_RE): /2024/10/5.html is
    article 5.
    """
    path = urlsplit(url).path
    for m in URL_DATE_RE.finditer(path):
        day_folder = path.startswith("/", m.end())
        if m["sep"] == "/" and not day_folder and not URL_DAY_FILE_RE.match(path, m.start("day")):
            continue  # the article's number in the month, or a slug's, not its day
        month, day = (m["month"], m["day"]) if m["month"] else (m["cmonth"], m["cday"])
        try:
            found = date(int(m["year"]), int(month), int(day))
        except ValueError:
            continue
        latest = (shanghai_now(now) or datetime.now(SHANGHAI)) + URL_DATE_FUTURE_SLACK
        if MIN_YEAR <= found.year and found <= latest.date():
            return found
    return None


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


def scan_dates(text: str, now: datetime | None = None, reference: date | None = None) -> list[DateMatch]:
    """Every date in normalised `text`, in text order; relative ones only with `now`.

    Year-less ones (10月25日 14:30, Oct 25, 2:30 pm) are read near the ``reference``
    day when one is given (the date in the article's URL), else near `now`.
    """
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
        for pattern in (*YEAR_LESS_PATTERNS, DAY_WORD_RE, AGO_RE, JUST_NOW_RE, DAY_WORD_ONLY_RE):
            for m in pattern.finditer(text):
                has_time = pattern is not DAY_WORD_ONLY_RE and (pattern not in YEAR_LESS_PATTERNS or m["hour"] is not None)
                kind = "year-less" if pattern in YEAR_LESS_PATTERNS else "relative"
                add(m, _relative(pattern, m, now, reference), kind, has_time)
    return sorted(found, key=lambda d: d.start)


def parse_zh_datetime(text: str, now: datetime | None = None, reference: date | None = None) -> datetime | None:
    """First date in `text`: 2020年4月8日10:23, 2020-04-08, 2020/4/8, 2020.04.08, …

    Absolute dates come back naive (aware only with an explicit offset).
    Relative and year-less forms (刚刚, 5分钟前, 昨天 22:10, 10月27日 08:05) need
    `now` and come back aware in Asia/Shanghai; without `now` they are ignored.
    A year-less date is read near the ``reference`` day, when given (see scan_dates).
    """
    matches = scan_dates(normalize_text(text), now, reference)
    return matches[0].value if matches else None


class Dateline(NamedTuple):
    """A header line's date (see dateline) and what the line says it is."""

    date: DateMatch
    # "labelled" (发布时间：…, the page's publish date by its own word), "print"
    # (a source's or print edition's date, see SOURCE_BEFORE_DATE_RE) or "plain".
    role: str


def dateline(text: str, now: datetime | None = None, reference: date | None = None) -> Dateline | None:
    """The publish date of a short header line and its role, or None when the line is prose.

    A date counts when a publishing label precedes it (发布时间：), or when the
    rest of the line is metadata (来源, 作者, 浏览) or next to nothing. A date
    followed by a comma (1月29日，自治区…) or an update label (更新时间：) does not.
    The label is read once, here: the date it precedes is the labelled one.
    """
    text = normalize_text(text)
    if not text or len(text) > DATELINE_MAX_CHARS or FULL_STOP_RE.search(text):
        return None
    for d in scan_dates(text, now, reference):
        before = text[max(0, d.start - 12): d.start]
        if OTHER_DATE_LABEL_RE.search(before):
            continue
        if DATE_LABEL_RE.search(before):
            return Dateline(d, "labelled")
        if SENTENCE_AFTER_DATE_RE.match(text[d.end:]):
            continue
        rest = f"{text[:d.start]} {text[d.end:]}".strip()
        if META_WORDS_RE.search(rest) or (len(rest) <= 20 and not SENTENCE_PUNCT_RE.search(rest)):
            printed = EDITION_AFTER_DATE_RE.match(text[d.end:]) or (
                not d.has_time and SOURCE_BEFORE_DATE_RE.search(text[:d.start]))
            return Dateline(d, "print" if printed else "plain")
    return None


def dateline_date(text: str, now: datetime | None = None, reference: date | None = None) -> DateMatch | None:
    """The date of :func:`dateline`, whatever its role."""
    line = dateline(text, now, reference)
    return line.date if line else None
