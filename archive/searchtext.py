"""Text as the search index holds it and a query is matched, and a hit's snippet cut from the record's own text.

Plain functions over strings (archive.search keeps the index itself).
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import regex

from archive.fields import CONTROL_CHARS_RE, without_controls

# A hit's snippet, in characters of the record's own text: this many before
# the match, this many after it (the whole match, however long), and this
# many from the start of a text that matched in its title only.
SNIPPET_BEFORE_CHARS = 24
SNIPPET_AFTER_CHARS = 48
SNIPPET_LEAD_CHARS = 72
ELLIPSIS = "…"
# A snippet is cut between user-perceived characters (grapheme clusters), never
# inside one: a cut there left an accent without its letter, or half of an
# emoji joined with ZWJ (👩‍🔬) or of a flag. A cluster is looked for this far
# back from a cut (longer ones, runs of marks, are cut as code points).
GRAPHEME_RE = regex.compile(r"\X")
CLUSTER_LOOKBACK_CHARS = 32
# Han, kana, bopomofo, CJK punctuation (not the ideographic space itself)
# and full-width forms. Hangul is left out: Korean separates words by spaces.
CJK_CHARS = ("\u2e80-\u2fdf\u3001-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f")
# Chinese news sets digits and Latin words off by spaces or not at all
# ("10 月 25 日", "10月25日"): whitespace beside a CJK character separates nothing.
SPACE_BESIDE_CJK_RE = re.compile(f"\\s+(?=[{CJK_CHARS}])|(?<=[{CJK_CHARS}])\\s+")
CJK_CHAR_RE = re.compile(f"[{CJK_CHARS}]")
WORD_RE = re.compile(r"\S+")  # \s is str.split()'s whitespace (str.isspace)
# Where FTS5 folds case otherwise than str.lower does, character by character:
# its tokenizers' table (sqlite's fts5_unicode2.c) folds these letter forms to
# the letter, so "οδός" (final sigma) matches "ΟΔΟΣΤΡΩΜΑ" and "5 μg" matches
# "5 µg" (micro sign); a snippet that folded with str.lower alone found no
# match to mark. Checked against SQLite's own folding (fts5vocab) over every
# code point in tests/test_search_index.py. The other way, str.lower folds
# some letters FTS5 leaves alone (İ, Cherokee, letters newer than its table):
# query and text are folded alike, so they never hide a match from a snippet.
FTS5_FOLDS = str.maketrans({
    "\u00b5": "\u03bc",  # MICRO SIGN: mu
    "\u017f": "s",  # LONG S
    "\u0345": "\u03b9",  # COMBINING GREEK YPOGEGRAMMENI: iota
    "\u03c2": "\u03c3",  # FINAL SIGMA: sigma (str.lower even makes it, of a word's last capital sigma)
    "\u03d0": "\u03b2",  # BETA SYMBOL
    "\u03d1": "\u03b8",  # THETA SYMBOL
    "\u03d5": "\u03c6",  # PHI SYMBOL
    "\u03d6": "\u03c0",  # PI SYMBOL
    "\u03f0": "\u03ba",  # KAPPA SYMBOL
    "\u03f1": "\u03c1",  # RHO SYMBOL
    "\u03f5": "\u03b5",  # LUNATE EPSILON SYMBOL
    "\u1e9b": "\u1e61",  # LONG S WITH DOT ABOVE: s with dot above
    "\u1fbe": "\u03b9",  # GREEK PROSGEGRAMMENI: iota
    "\ufffe": "\ufffd",  # noncharacters SQLite reads as the replacement character
    "\uffff": "\ufffd",
})


class Snippet(NamedTuple):
    """Where a hit is, in the record's own text: ``match`` is what the query matched, written as the record writes it.

    No match in the text (the title matched): ``before`` and ``match`` are
    empty, and ``after`` is the text's beginning.
    """

    before: str
    match: str
    after: str


def searchable(text: str) -> str:
    """Text as the index holds it and as a query is matched: control characters dropped (as
    extraction drops them from records), whitespace beside CJK dropped, other runs one space.

    A NUL ends FTS5's reading of a query ("unterminated string": serve's
    /search?q=a%00b was a 500).
    """
    # Whitespace first, while \r, \x0c or U+0085 still separate words (dropped
    # as control characters, "port\rcongestion" became one word).
    spaced = without_controls(" ".join(text.split()))
    return " ".join(SPACE_BESIDE_CJK_RE.sub("", spaced).split())


def searchable_with_sources(text: str) -> tuple[str, list[int]]:
    """``searchable(text)``, and for each of its characters the index in ``text`` it comes from.

    The same rule, worked word by word to keep the sources: whitespace
    separates words and control characters are dropped within them; between
    two words one space, unless one side is CJK. A space comes from the
    whitespace before the word it precedes. Only hits' texts go through here:
    ``searchable`` is the fast way for what is indexed.
    """
    chars: list[str] = []
    sources: list[int] = []
    for word in WORD_RE.finditer(text):
        start, kept = word.start(), word.group()
        if without_controls(kept) != kept:
            picked = [(start + i, ch) for i, ch in enumerate(kept) if not CONTROL_CHARS_RE.match(ch)]
            if not picked:
                continue  # controls only: the whitespace around it still separates
            kept = "".join(ch for _, ch in picked)
            where = [i for i, _ in picked]
        else:
            where = list(range(start, word.end()))
        if chars and not CJK_CHAR_RE.match(chars[-1]) and not CJK_CHAR_RE.match(kept[0]):
            chars.append(" ")
            sources.append(start - 1)
        chars.extend(kept)
        sources.extend(where)
    return "".join(chars), sources


def _folded(text: str) -> str:
    """Case folded as FTS5 matches, one character for one (str.lower turns "İ" into two)."""
    lower = text.lower()
    if len(lower) != len(text):
        lower = "".join(ch.lower()[0] for ch in text)
    return lower.translate(FTS5_FOLDS)


def _cluster_boundary(text: str, index: int) -> int:
    """The first boundary between grapheme clusters at or after ``index`` (a cut there splits none)."""
    if index <= 0 or index >= len(text):
        return max(0, min(index, len(text)))
    for cluster in GRAPHEME_RE.finditer(text, max(0, index - CLUSTER_LOOKBACK_CHARS), index + CLUSTER_LOOKBACK_CHARS):
        if cluster.end() >= index:
            return cluster.start() if cluster.start() == index else cluster.end()
    return index


def snippet(text: str, query: str, index_match: Callable[[], tuple[int, int] | None] | None = None) -> Snippet:
    """Where ``query`` (``searchable`` already) first matches ``text``, in ``text``'s own characters, with some around it.

    The index holds the text made searchable (whitespace beside CJK dropped):
    a snippet cut from that showed "10月25日" where the record says "10 月 25 日".
    ``index_match``: where the index says the query matched that text (start,
    end), asked only when folding finds no match in it, so a hit is marked
    where the index found it rather than shown by the text's beginning.
    """
    normal, sources = searchable_with_sources(text)
    at = _folded(normal).find(_folded(query)) if query else -1
    span = (at, at + len(query)) if at >= 0 else index_match() if index_match else None
    if span is None or not 0 <= span[0] < span[1] <= len(normal):
        lead = text[:_cluster_boundary(text, SNIPPET_LEAD_CHARS)]
        return Snippet("", "", lead + (ELLIPSIS if len(text) > len(lead) else ""))
    # The query has no space at either end (searchable): its ends are characters of the text.
    start, end = sources[span[0]], sources[span[1] - 1] + 1
    before_from = _cluster_boundary(text, max(0, start - SNIPPET_BEFORE_CHARS))
    before = text[before_from:start]
    after = text[end:_cluster_boundary(text, end + SNIPPET_AFTER_CHARS)]
    return Snippet((ELLIPSIS + before.lstrip()) if before_from else before, text[start:end],
                   (after.rstrip() + ELLIPSIS) if end + len(after) < len(text) else after)
