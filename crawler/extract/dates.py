"""Dates to UTC instants.

A time a page gives without an offset is read in the source's configured
timezone, else in the one its language makes unambiguous (a zh-CN page is
Asia/Shanghai), else UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
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


def infer_timezone(language_tag: str | None) -> str | None:
    if not language_tag:
        return None
    return LANGUAGE_TIMEZONES.get(language_tag.strip().lower().replace("_", "-"))


def parse_datetime(value: str) -> datetime | None:
    """Parse a machine-ish date string (ISO 8601, RFC 2822, ...); None if unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = date_parser.parse(value, default=datetime(2000, 1, 1))
        # dateutil fills a missing year from the default: "10-26 22:06" or "12"
        # would become a made-up date in 2000. Parsing again with another
        # default year shows whether the string named one ("2021-10" does).
        if moment.year != date_parser.parse(value, default=datetime(2001, 1, 1)).year:
            return None
    except (ValueError, OverflowError, TypeError):
        return None
    return moment if moment.year in PLAUSIBLE_YEARS else None


def to_utc(moment: datetime, timezone_name: str | None = None) -> datetime:
    """An aware UTC datetime; naive input is read in ``timezone_name`` (else UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone_name) if timezone_name else timezone.utc)
    return moment.astimezone(timezone.utc)
