"""Bytes to text, before any HTML parser sees them.

trafilatura mis-decodes about one Chinese page in five when handed raw
bytes, so pages are decoded here first: BOM, then the HTTP header, then
``<meta charset>``; GB2312 and GBK labels are read as GB18030, their
superset (w3lib's translation table does that). A declaration the bytes
plainly contradict is overruled (see decode_html).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode, read_bom

# How much of an undeclared page the statistical detector looks at.
DETECT_SAMPLE_BYTES = 64 * 1024
# Multi-byte characters, or undecodable sequences, that overrule a declared
# charset: fewer (a stray byte, one symbol) prove little either way.
MIN_EVIDENCE = 8
# Legacy encodings of many bytes a character: what a page wrongly labelled
# UTF-8 is read as (codecs' canonical names).
MULTIBYTE_LEGACY = frozenset({"gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950", "shift_jis", "cp932", "euc_jp",
                              "euc_kr", "cp949", "johab"})
NON_ASCII_RE = re.compile("[^\x00-\x7f\ufffd]")


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
    """Return (text, encoding name) for an HTML or XML document.

    A declaration the bytes contradict is overruled (a template copied from
    another site, a server's default charset): bytes that are valid UTF-8
    and hold enough non-ASCII are UTF-8, as text in another encoding almost
    never is; a page said to be UTF-8 whose bytes are not is read as detected.
    """
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=detect_encoding)
    if read_bom(body)[0] is not None:  # w3lib's own test: html_to_unicode read the page by its BOM
        return text, encoding  # a byte order mark is no declaration a template copies
    if codecs.lookup(encoding).name != "utf-8":
        if (utf8 := _utf8_text(body)) is not None:
            return utf8, "utf-8"
    elif "\ufffd" in text and MIN_EVIDENCE <= (errors := _utf8_errors(body, text)) and errors > _utf8_multibyte(text):
        # Mostly undecodable: a legacy CJK page under a copied UTF-8 label. A
        # single-byte guess is never taken: it "decodes" anything, and a
        # UTF-8 page with a short Latin-1 footer would become mojibake whole.
        detected = detect_encoding(body)
        if detected and codecs.lookup(detected).name in MULTIBYTE_LEGACY:
            try:
                return body.decode(detected), detected
            except (UnicodeDecodeError, LookupError):
                pass
    return text, encoding


def _utf8_text(body: bytes) -> str | None:
    """The body as text if it is valid UTF-8 with at least MIN_EVIDENCE multi-byte characters."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if len(body) - len(text) >= MIN_EVIDENCE else None  # each multi-byte character adds 1 to 3 bytes


def _utf8_multibyte(text: str) -> int:
    """Characters beyond ASCII that decoded as UTF-8 (replacement characters aside)."""
    return len(NON_ASCII_RE.findall(text))


def _utf8_errors(body: bytes, text: str) -> int:
    """Byte sequences of ``body`` that are not UTF-8: the replacement characters
    of its UTF-8 decoding ``text`` (w3lib's, errors replaced) beyond those the page holds."""
    return text.count("\ufffd") - body.count(b"\xef\xbf\xbd")


# A character reference to a C0 control but tab and newline (and to DEL):
# lxml turns it into a character XML cannot hold, and trafilatura then found
# no article at all on the page ("&#7;" in one paragraph). References to
# 128-159 are not controls to HTML but Windows-1252 ("don&#146;t": ’).
_CONTROL_DECIMAL = r"0*(?:[0-8]|1[1-9]|2[0-9]|3[01]|127)(?![0-9])"
_CONTROL_HEX = r"[xX]0*(?:[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF])(?![0-9a-fA-F])"
CONTROL_REFERENCE_RE = re.compile(rf"&#(?:{_CONTROL_DECIMAL}|{_CONTROL_HEX});?")


def drop_control_references(text: str) -> str:
    return CONTROL_REFERENCE_RE.sub("", text)
