"""Bytes to text, before any HTML parser sees them.

trafilatura mis-decodes about one Chinese page in five when handed raw
bytes, so pages are decoded here first: BOM, then the HTTP header, then
``<meta charset>``; GB2312 and GBK labels are read as GB18030, their
superset (w3lib's translation table does that).
"""

from __future__ import annotations

import codecs

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
