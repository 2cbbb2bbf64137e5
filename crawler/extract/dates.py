"""Dates to UTC instants.

A time a page gives without an offset is read in the source's configured
timezone, else in the one its language makes unambiguous (a zh-CN page is
Asia/Shanghai), else UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser

# Language tags (lowercase) whose region settles the timezone. Plain "zh"
# is read as mainland China: the bulk of Chinese news without a region tag.
LANGUAGE_TIMEZONES = {
    "zh": "Asia/Shanghai",
    "zh-cn": "Asia/Shanghai",
    "zh-hans": "Asia/Shanghai",
    "zh-hans-cn": "Asia/Shanghai",
    "zh-sg": "Asia/Singapore",
    "zh-tw": "Asia/Taipei",
    "zh-hant-tw": "Asia/Taipei",
    "zh-hk": "Asia/Hong_Kong",
    "zh-hant-hk": "Asia/Hong_Kong",
    "zh-mo": "Asia/Macau",
    "ja": "Asia/Tokyo",
    "ja-jp": "Asia/Tokyo",
    "ko": "Asia/Seoul",
    "ko-kr": "Asia/Seoul",
}
# Years outside this range are misreads (a copyright line, an id), not dates.
PLAUSIBLE_YEARS = range(1990, 2100)
# The two forms most machine dates take (meta tags and JSON-LD; RSS), read
# by the standard library: dateutil reads a string twice, to tell whether it
# named a year, 0.1 ms a date. Only where the two read alike: an offset only
# after a time (fromisoformat reads "2021-10-26+08:00" as 08:00, dateutil
# not at all); RFC 2822 with an English day name (email.utils skips any),
# a four-digit year (it pivots "0070" at 68, dateutil at today) and a
# numeric or UTC zone (it reads "CST" as US Central, where dateutil leaves
# it to the timezone the page's language implies).
ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?", re.ASCII)
RFC2822_DATETIME_RE = re.compile(r"(?:(?i:mon|tue|wed|thu|fri|sat|sun), )?\d{1,2} [A-Za-z]{3} [1-9]\d{3} \d{2}:\d{2}(?::\d{2})? "
                                 r"(?:[+-]\d{4}|GMT|UTC)", re.ASCII)


def infer_timezone(language_tag: str | None) -> str | None:
    if not language_tag:
        return None
    return LANGUAGE_TIMEZONES.get(language_tag.strip().lower().replace("_", "-"))


def parse_datetime(value: str) -> datetime | None:
    """Parse a machine-ish date string (ISO 8601, RFC 2822, ...); None if unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    moment = standard_datetime(value) or dateutil_datetime(value)
    return moment if moment is not None and moment.year in PLAUSIBLE_YEARS else None


def standard_datetime(value: str) -> datetime | None:
    """ISO 8601's and RFC 2822's common forms, as dateutil reads them; None for any other string."""
    try:
        if ISO_DATETIME_RE.fullmatch(value):
            return datetime.fromisoformat(value)
        if RFC2822_DATETIME_RE.fullmatch(value):
            moment = parsedate_to_datetime(value)
            return moment if moment.tzinfo is not None else None  # "-0000" is naive there, UTC in dateutil
    except ValueError:
        return None  # an impossible day, a 24th hour: dateutil's call
    return None


def dateutil_datetime(value: str) -> datetime | None:
    """Whatever dateutil reads, when the string names a year."""
    try:
        moment = date_parser.parse(value, default=datetime(2000, 1, 1))
        # dateutil fills a missing year from the default: "10-26 22:06" or "12"
        # would become a made-up date in 2000. Parsing again with another
        # default year shows whether the string named one ("2021-10" does).
        if moment.year != date_parser.parse(value, default=datetime(2001, 1, 1)).year:
            return None
    except (ValueError, OverflowError, TypeError):
        return None
    return moment


def to_utc(moment: datetime, timezone_name: str | None = None) -> datetime:
    """An aware UTC datetime; naive input is read in ``timezone_name`` (else UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone_name) if timezone_name else timezone.utc)
    return moment.astimezone(timezone.utc)
