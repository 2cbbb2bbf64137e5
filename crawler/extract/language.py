"""The page's language as a BCP 47 tag."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

LANGUAGE_TAG_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
# py3langid is reliable on this much text; more only costs time (it was a
# tenth of extraction's CPU on 3000 characters). The sample is taken from the
# start, the middle and the end, so an English lead-in does not decide the
# language of a Chinese article.
DETECT_SAMPLE_CHARS = 1200
DETECT_SAMPLE_PARTS = 3
UNDETERMINED = "und"
# Chinese is told by its script, without the model (0.7 ms a page): Han
# characters make most of the sample, and the kana or hangul that Japanese
# and Korean write between their Han characters are (next to) absent. Such
# text is "zh", the macrolanguage: written Cantonese and Wu, which the model
# would label yue and wuu, are zh too (and get China's timezones).
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA_HANGUL_RE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
HAN_SHARE_MIN = 0.5  # of the sample's characters other than white space
KANA_HANGUL_PER_HAN_MAX = 0.01


def _clean_tag(value: str | None) -> str | None:
    value = (value or "").strip().split(",")[0].strip()
    if not LANGUAGE_TAG_RE.match(value):
        return None
    return value.replace("_", "-")


def page_language(tree: HtmlElement, fallback: str | None = None) -> str | None:
    """The declared tag, region kept (zh-CN): <html lang>, then meta, then the feed's."""
    candidates = [
        tree.get("lang"),
        tree.get("xml:lang"),
        *tree.xpath("//meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')='content-language']/@content"),
        *tree.xpath("//meta[@property='og:locale']/@content"),
        fallback,
    ]
    for candidate in candidates:
        if tag := _clean_tag(candidate):
            return tag
    return None


def _sample(text: str) -> str:
    if len(text) <= DETECT_SAMPLE_CHARS:
        return text
    part = DETECT_SAMPLE_CHARS // DETECT_SAMPLE_PARTS
    step = (len(text) - part) / (DETECT_SAMPLE_PARTS - 1)
    return "\n".join(text[round(i * step): round(i * step) + part] for i in range(DETECT_SAMPLE_PARTS))


def text_language(text: str) -> str:
    """Detected from the text itself when nothing is declared."""
    sample = _sample(text).strip()
    if not sample:
        return UNDETERMINED
    if _is_chinese(sample):
        return "zh"
    from crawler.extract.langmodel import language_identifier  # the model loads on first use, not at import

    language, _score = language_identifier().classify(sample)
    return language or UNDETERMINED


def _is_chinese(sample: str) -> bool:
    han = len(HAN_RE.findall(sample))
    if han < HAN_SHARE_MIN * len("".join(sample.split())):
        return False
    return len(KANA_HANGUL_RE.findall(sample)) <= KANA_HANGUL_PER_HAN_MAX * han
