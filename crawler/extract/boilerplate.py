"""What is never part of an article, removed before trafilatura runs.

trafilatura already drops navigation, footers and comments; these are the
leftovers it keeps on Chinese portals: share bars, recommendation blocks,
and the aggregator furniture of sites such as ZAKER.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# Elements removed outright, wherever they are.
PRUNE_XPATHS = (
    # ZAKER: recommendations under the article and the app download bar.
    "//*[@id='recommend_bottom' or @id='article_bottom' or @id='recommend' or @id='download_app']",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' article-recommend ')]",
    "//script | //style | //noscript | //template",
)
# A class or id naming a share bar; only short elements are dropped so a
# wrapper that happens to carry such a class never takes the article with it.
SHARE_BLOCK_RE = re.compile(r"(^|[-_\s])(share|sharing|bdshare|jiathis|fenxiang|social-share)([-_\s]|$)", re.I)
SHARE_BLOCK_MAX_CHARS = 200
# Whole text lines that are calls to action, not article text.
BOILERPLATE_LINE_RE = re.compile(
    r"^\s*(分享让更多人看到|分享到[:：]?.*|点击(查看|阅读)(更多|全文|原文).*|扫一扫.*|"
    r"(本文)?来自ZAKER.*|打开ZAKER.*|下载ZAKER.*)\s*$"
)


def prune_boilerplate(tree: HtmlElement) -> None:
    for xpath in PRUNE_XPATHS:
        for element in tree.xpath(xpath):
            element.drop_tree()
    for element in tree.xpath("//body//*[@class or @id]"):
        marker = f"{element.get('class', '')} {element.get('id', '')}"
        if SHARE_BLOCK_RE.search(marker) and len(element.text_content()) <= SHARE_BLOCK_MAX_CHARS:
            if element.getparent() is not None:
                element.drop_tree()


def is_boilerplate_line(line: str) -> bool:
    return bool(BOILERPLATE_LINE_RE.match(line))
