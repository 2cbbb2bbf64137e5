"""XML from the web is parsed only after defusedxml has vetted it.

Entity expansion ("billion laughs") and external entities are refused;
a plain DOCTYPE (old RSS 0.91 feeds carry one) is allowed.
"""

from __future__ import annotations

import codecs
import re
import zlib
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from lxml import etree

GZIP_MAGIC = b"\x1f\x8b"
XML_DECLARED_ENCODING_RE = re.compile(rb"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")
# Sitemaps are capped at 50 MB uncompressed by the protocol; more is a bomb.
MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024


# An entity declaration, as the document's bytes write it in the encodings
# feedparser reads besides the ASCII-compatible ones (UTF-16 and -32, EBCDIC).
ENTITY_DECLARATION_MARKERS = tuple(dict.fromkeys(
    "<!ENTITY".encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037", "cp500")))


class UnsafeXML(ValueError):
    """The document tried entity expansion or external references."""


def check_xml(body: bytes) -> None:
    """Raise UnsafeXML for hostile XML; malformed XML is left to the lenient parsers."""
    try:
        _vet(body)
    except UnsafeXML:
        raise
    except (ValueError, LookupError):
        # expat reads no multi-byte encoding (gb2312, gbk, big5, shift_jis...)
        # and no unknown label: vet the same document transcoded to UTF-8.
        try:
            _vet(_as_utf8(body))
        except UnsafeXML:
            raise
        except (ValueError, LookupError) as exc:
            raise UnsafeXML(f"refused XML: cannot vet its encoding: {exc}") from exc


def _vet(body: bytes) -> None:
    try:
        defusedxml.ElementTree.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML(f"refused XML: {type(exc).__name__}") from exc
    except ParseError:
        # Malformed, so expat stopped before any DOCTYPE (a space before
        # "<?xml" is enough), while feedparser's lenient parser would still
        # expand what it declares: a 109 KB feed became 300 M characters.
        # Entities are refused in well-formed XML already; here too.
        if any(marker in body for marker in ENTITY_DECLARATION_MARKERS):
            raise UnsafeXML("refused XML: EntitiesForbidden (in a malformed document)") from None


def _as_utf8(body: bytes) -> bytes:
    """The document in UTF-8 with its XML declaration saying so."""
    match = XML_DECLARED_ENCODING_RE.match(body)
    declared = match.group(2).decode("ascii") if match else "utf-8"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        codec = "utf-8"  # markup (DOCTYPE, ENTITY) is ASCII: still vetted right
    if codec in ("gb2312", "gbk"):
        codec = "gb18030"
    text = body.decode(codec, errors="replace").encode("utf-8")
    if match:
        text = XML_DECLARED_ENCODING_RE.sub(lambda m: m.group(1) + b"utf-8" + m.group(3), text, count=1)
    return text


def gunzip_capped(body: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Gunzip, refusing output past ``max_bytes`` (a decompression bomb)."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"corrupt gzip data: {exc}") from exc
    if len(out) > max_bytes:
        raise UnsafeXML(f"gzip body expands past {max_bytes} bytes")
    if not decompressor.eof:
        # A cut-off download would otherwise pass as a shorter sitemap.
        raise ValueError("truncated gzip data")
    return out


def maybe_gunzip(body: bytes) -> bytes:
    return gunzip_capped(body) if body[:2] == GZIP_MAGIC else body


def parse_xml(body: bytes) -> etree._Element | None:
    """A vetted, lenient lxml parse: no entities resolved, no network."""
    check_xml(body)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_comments=True)
    return etree.fromstring(body, parser=parser)
