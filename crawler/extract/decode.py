"""Bytes to text, before any HTML parser sees them.

trafilatura mis-decodes about one Chinese page in five when handed raw
bytes, so pages are decoded here first: BOM, then the HTTP header, then
``<meta charset>``; GB2312 and GBK labels are read as GB18030, their
superset (w3lib's translation table does that).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode

# How much of an undeclared page the statistical detector looks at.
DETECT_SAMPLE_BYTES = 64 * 1024


def detect_encoding(body: bytes) -> str | None:
    """Guess for pages that declare nothing: strict UTF-8 first, then statistics."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:DETECT_SAMPLE_BYTES]).best()
    if best is None:
        return None
    # Chinese pages detected as GB2312 or GBK may use characters of GB18030 only.
    return "gb18030" if codecs.lookup(best.encoding).name in ("gb2312", "gbk") else best.encoding


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding name) for an HTML or XML document."""
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=detect_encoding)
    return text, encoding


# A character reference to a C0 control but tab and newline (and to DEL):
# lxml turns it into a character XML cannot hold, and trafilatura then found
# no article at all on the page ("&#7;" in one paragraph). References to
# 128-159 are not controls to HTML but Windows-1252 ("don&#146;t": ’).
_CONTROL_DECIMAL = r"0*(?:[0-8]|1[1-9]|2[0-9]|3[01]|127)(?![0-9])"
_CONTROL_HEX = r"[xX]0*(?:[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF])(?![0-9a-fA-F])"
CONTROL_REFERENCE_RE = re.compile(rf"&#(?:{_CONTROL_DECIMAL}|{_CONTROL_HEX});?")


def drop_control_references(text: str) -> str:
    return CONTROL_REFERENCE_RE.sub("", text)
