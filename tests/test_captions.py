"""Image captions stay with their images: in the stored HTML as <figure><img><figcaption>,
in the record's image entry as ``caption``, never in ``text``.

trafilatura deletes <figure> whole and runs without images; the images are put
back afterwards (crawler.extract.body.place_images), and their captions with them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import lxml.html
import pytest

from archive.records import dump_record, load_record
from crawler.configfile import parse_config
from crawler.extract.article import FeedHints
from crawler.extract.core import ExtractOptions, extract_article
from crawler.extract.record import article_record
from crawler.extract.rules import SiteRules

URL = "https://news.example/2024/1025/a.html"
PARAGRAPHS = (
    "额济纳旗疫情防控指挥部今天通报，该旗第五轮全员核酸检测共采集样本三万余份，检测结果除已报告的阳性感染者外，其余均为阴性。"
    "指挥部在发布会上通报了有关情况，并对下一阶段的防控工作作出部署，要求各部门压实责任、细化措施。",
    "指挥部表示，目前全旗继续实行居家管控措施，各小区设置了生活物资配送点，由志愿者将蔬菜、米面等物资送到居民家门口，保障群众生活。"
    "对于有就医需求的群众，社区开通了绿色通道，安排专车接送，确保急危重症患者得到及时救治。",
    "据介绍，自治区调派的医疗队和检测队伍已全部到位，方舱实验室日检测能力大幅提升，为尽快实现社会面清零提供了有力保障。"
    "与此同时，各地支援的物资也在陆续运抵，防护服、口罩和消杀用品储备充足。",
)
CAPTION = "图为额济纳旗 一处 核酸检测点。（记者 张三 摄）"


def page(middle: str, *, end: str = "") -> bytes:
    first, second, third = (f"<p>{p}</p>" for p in PARAGRAPHS)
    return (f"<html><head><title>全员核酸检测结果公布</title></head><body><article><h1>全员核酸检测结果公布</h1>"
            f"{first}{middle}{second}{third}{end}</article></body></html>").encode()


def figures(html: str) -> list[tuple[list[str], str | None]]:
    """(image srcs, caption) of each <figure> of the HTML, in order."""
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    found = []
    for figure in fragment.iter("figure"):
        caption = figure.find("figcaption")
        found.append(([img.get("src") for img in figure.iter("img")], None if caption is None else caption.text_content()))
    return found


def blocks(html: str) -> list[str]:
    """The tags of the HTML's top-level elements, in order."""
    return [child.tag for child in lxml.html.fragment_fromstring(html, create_parent="div")]


def test_a_figcaption_stays_with_its_image_in_the_html_not_in_the_text():
    article = extract_article(page(f'<figure><img src="/img/a.jpg" alt="检测点"><figcaption>{CAPTION}</figcaption></figure>'), URL)
    image = "https://news.example/img/a.jpg"
    assert figures(article.html) == [([image], " ".join(CAPTION.split()))]
    assert blocks(article.html) == ["p", "figure", "p", "p"], "the figure stands where the image stood"
    assert article.text.split("\n\n") == list(PARAGRAPHS), "the caption is no body text"
    assert article.image_urls == [image]
    assert article.image_captions == {image: " ".join(CAPTION.split())}


def test_a_caption_the_text_holds_already_is_not_repeated():
    # Too little text for trafilatura's extractor: its fallback reads the page
    # whole, figure captions included. The image still comes back, bare.
    short = (f"<html><body><div><p>{PARAGRAPHS[0][:60]}</p><figure><img src='/img/a.jpg'><figcaption>{CAPTION}</figcaption>"
             f"</figure><p>{PARAGRAPHS[1][:36]}</p></div></body></html>").encode()
    article = extract_article(short, URL)
    assert article.text.count("核酸检测点") == 1
    assert "https://news.example/img/a.jpg" in article.image_urls
    assert article.html.count("核酸检测点") == 1 and article.image_captions == {}


def test_an_image_without_a_caption_stays_a_bare_image():
    article = extract_article(page('<figure><img src="/img/a.jpg"></figure><p><img src="/img/b.jpg"></p>'), URL)
    assert figures(article.html) == []
    assert article.image_urls == ["https://news.example/img/a.jpg", "https://news.example/img/b.jpg"]
    assert article.image_captions == {}


def test_a_figure_of_several_images_has_its_caption_once_under_the_last():
    middle = f'<figure><img src="/img/a.jpg"><img src="/img/b.jpg"><figcaption>{CAPTION}</figcaption></figure>'
    article = extract_article(page(middle), URL)
    assert figures(article.html) == [(["https://news.example/img/b.jpg"], " ".join(CAPTION.split()))]
    assert article.image_urls == ["https://news.example/img/a.jpg", "https://news.example/img/b.jpg"]
    assert article.image_captions == {"https://news.example/img/b.jpg": " ".join(CAPTION.split())}
    assert article.html.count("<figcaption>") == 1


@pytest.mark.parametrize("zoom", [
    '<a class="zoom" href="/img/a_big.jpg"><img src="/static/zoom.png" width="16"></a>',  # tiny, in a link
    '<a href="/img/a_big.jpg"><img src="/static/btn_magnifier.png"></a>',  # named a magnifier
    '<span class="tools"><img class="icon-enlarge" src="/static/e.png"></span>',  # classed an icon, no link
], ids=["tiny-linked", "named", "classed"])
def test_a_figure_caption_goes_to_its_photo_not_to_a_zoom_icon_after_it(zoom):
    middle = f'<figure><img src="/img/a.jpg">{zoom}<figcaption>{CAPTION}</figcaption></figure>'
    article = extract_article(page(middle), URL)
    assert article.image_captions == {"https://news.example/img/a.jpg": " ".join(CAPTION.split())}
    assert article.image_urls == ["https://news.example/img/a.jpg"], "the zoom icon is no image of the article"
    assert figures(article.html) == [(["https://news.example/img/a.jpg"], " ".join(CAPTION.split()))]


def test_a_figure_photo_linked_to_its_large_version_keeps_its_caption():
    middle = f'<figure><a href="/img/a_big.jpg"><img src="/img/a.jpg"></a><figcaption>{CAPTION}</figcaption></figure>'
    article = extract_article(page(middle), URL)
    assert article.image_captions == {"https://news.example/img/a.jpg": " ".join(CAPTION.split())}


@pytest.mark.parametrize("middle", [
    '<p style="text-align:center"><img src="/img/a.jpg"></p><p class="pictext">{caption}</p>',
    '<div class="img_box"><div class="pic"><img src="/img/a.jpg"></div><span class="pictext">{caption}</span></div>',
    '<p><img src="/img/a.jpg"></p><p></p><br><p class="pictext">{caption}</p>',  # blanks between
], ids=["paragraph-after", "inside-the-image-box", "blanks-between"])
@pytest.mark.parametrize("body", [None, "article"], ids=["page", "body-selector"])
def test_a_caption_a_site_rule_names_goes_with_the_image_before_it(middle, body):
    # With a body selector, loose text of the body is put into paragraphs: the
    # image box's caption <span> must be joined to its image before that.
    rules = SiteRules(caption="p.pictext, span.pictext", body=body)
    article = extract_article(page(middle.format(caption=CAPTION)), URL, options=ExtractOptions(rules=rules))
    assert figures(article.html) == [(["https://news.example/img/a.jpg"], " ".join(CAPTION.split()))]
    assert article.text.split("\n\n") == list(PARAGRAPHS)
    # Generic extraction, without the rule, reads it as text.
    generic = extract_article(page(middle.format(caption=CAPTION)), URL, options=ExtractOptions(rules=SiteRules(body=body)))
    assert figures(generic.html) == [] and "核酸检测点" in generic.text


@pytest.mark.parametrize("body", [None, "article"], ids=["page", "body-selector"])
def test_a_short_article_with_a_rule_caption_keeps_its_paragraphs_and_its_image_in_place(body):
    # Under 500 characters trafilatura's rescue reads the page whole; a caption
    # left in the page made that rescue longer than the extraction, and it won:
    # one paragraph, the caption in it, the image last.
    middle = f'<p style="text-align:center"><img src="/img/a.jpg"></p><p class="pictext">{CAPTION}</p>'
    short = (f"<html><body><article><h1>全员核酸检测结果公布</h1><p>{PARAGRAPHS[0]}</p>{middle}"
             f"<p>{PARAGRAPHS[1][:50]}</p></article></body></html>").encode()
    article = extract_article(short, URL, options=ExtractOptions(rules=SiteRules(caption="p.pictext", body=body)))
    assert article.text.split("\n\n") == [PARAGRAPHS[0], PARAGRAPHS[1][:50]]
    assert blocks(article.html) == ["p", "figure", "p"], "the image stands where it stood"
    assert figures(article.html) == [(["https://news.example/img/a.jpg"], " ".join(CAPTION.split()))]


def test_a_rule_caption_in_a_feed_body_standing_in_for_the_page():
    # The feed's body (read when the page is a WAF challenge) has its loose text put into paragraphs too.
    box = f'<div class="img_box"><div class="pic"><img src="https://news.example/img/a.jpg"></div><span class="pictext">{CAPTION}</span></div>'
    feed = FeedHints(title="全员核酸检测结果公布", body_html=f"<p>{PARAGRAPHS[0]}</p>{box}<p>{PARAGRAPHS[1]}</p><p>{PARAGRAPHS[2]}</p>")
    article = extract_article(b"<html><body>challenge</body></html>", URL, feed=feed, challenge=True,
                              options=ExtractOptions(rules=SiteRules(caption="span.pictext")))
    assert figures(article.html) == [(["https://news.example/img/a.jpg"], " ".join(CAPTION.split()))]
    assert article.text.split("\n\n") == list(PARAGRAPHS)


def test_a_rule_caption_selector_that_also_matches_image_paragraphs_takes_no_image_for_a_caption():
    # Sites centre images and captions alike: p[style*="center"] matches both.
    centred = 'style="text-align: center;"'
    middle = (f'<p {centred}><img src="/img/a.jpg"></p><p {centred}><img src="/img/b.jpg"></p>'
              f'<p {centred}>{CAPTION}</p>')
    rules = SiteRules(caption='p[style*="center"]')
    article = extract_article(page(middle), URL, options=ExtractOptions(rules=rules))
    first, second = "https://news.example/img/a.jpg", "https://news.example/img/b.jpg"
    assert article.image_urls == [first, second], "no image is dropped"
    assert article.image_captions == {second: " ".join(CAPTION.split())}, "the caption goes to the image right before it"
    assert figures(article.html) == [([second], " ".join(CAPTION.split()))]
    assert article.text.split("\n\n") == list(PARAGRAPHS)


@pytest.mark.parametrize("body", [None, "article"], ids=["page", "body-selector"])
def test_a_rule_caption_selector_tries_each_alternative_until_one_captions_an_image(body):
    # The first alternative matches on the page, but only the images' own
    # paragraphs: the second, which names the captions, must still be read.
    middle = f'<p align="center"><img src="/img/a.jpg"></p><p class="pictext">{CAPTION}</p>'
    rules = SiteRules(caption='p[align="center"], p.pictext', body=body)
    article = extract_article(page(middle), URL, options=ExtractOptions(rules=rules))
    assert figures(article.html) == [(["https://news.example/img/a.jpg"], " ".join(CAPTION.split()))]
    assert article.text.split("\n\n") == list(PARAGRAPHS)


@pytest.mark.parametrize("body", [None, "article"], ids=["page", "body-selector"])
def test_a_rule_caption_selector_stops_at_the_first_alternative_that_captions(body):
    # Written order decides, as for every selector: the later alternative's
    # matches stay text once an earlier one has captioned an image.
    middle = (f'<p><img src="/img/a.jpg"></p><p class="pictext">{CAPTION}</p>'
              '<p><img src="/img/b.jpg"></p><p class="note">图为检测点外景。</p>')
    rules = SiteRules(caption="p.pictext, p.note", body=body)
    article = extract_article(page(middle), URL, options=ExtractOptions(rules=rules))
    assert article.image_captions == {"https://news.example/img/a.jpg": " ".join(CAPTION.split())}
    assert "图为检测点外景" in article.text


@pytest.mark.parametrize("body", [None, "article", "div.nowhere"], ids=["no-body-rule", "body-rule", "body-rule-unmatched"])
@pytest.mark.parametrize("challenge", [True, False], ids=["feed-for-a-challenge", "feed-for-a-short-page"])
def test_a_feed_body_has_its_rule_captions_gathered_once(challenge, body):
    # Gathered a second time, the images the first pass left bare were
    # captioned by the next alternative (p.note), which the first pass had
    # rightly left as text. A rule's body selector matching inside the feed's
    # body (a challenge page's stand-in) built a second tree from the gathered one.
    middle = (f'<p><img src="https://news.example/img/a.jpg"></p><p class="pictext">{CAPTION}</p>'
              '<p><img src="https://news.example/img/b.jpg"></p><p class="note">图为检测点外景。</p>')
    feed = FeedHints(title="全员核酸检测结果公布", body_html=f"<p>{PARAGRAPHS[0]}</p>{middle}<p>{PARAGRAPHS[1]}</p>")
    article = extract_article(b"<html><body><p>loading</p></body></html>", URL, feed=feed, challenge=challenge,
                              options=ExtractOptions(rules=SiteRules(caption="p.pictext, p.note", body=body)))
    assert article.image_captions == {"https://news.example/img/a.jpg": " ".join(CAPTION.split())}
    assert "图为检测点外景" in article.text


@pytest.mark.parametrize("middle", [
    '<p class="pictext">{caption}</p>',  # no image at all
    '<p><img src="/img/a.jpg"></p><p>{text}</p><p class="pictext">{caption}</p>',  # a paragraph between
    '<p><img src="/img/a.jpg">{text}</p><p class="pictext">{caption}</p>',  # text after the image
], ids=["no-image", "paragraph-between", "text-after-the-image"])
def test_a_rule_caption_not_right_after_an_image_stays_text(middle):
    rules = SiteRules(caption="p.pictext")
    text = "这一段是正文，夹在图片和说明之间，说明并不紧跟在图片之后，因而仍是正文。"
    article = extract_article(page(middle.format(caption=CAPTION, text=text)), URL, options=ExtractOptions(rules=rules))
    assert figures(article.html) == []
    assert "核酸检测点" in article.text and article.image_captions == {}


def test_the_caption_is_in_the_image_entry_of_the_record():
    proxied = "https://cors.example/?http://origin.example/img/a.jpg"
    middle = (f'<figure><img src="{proxied}"><figcaption>{CAPTION}</figcaption></figure>'
              '<p><img src="http://origin.example/img/b.jpg"></p>')
    article = extract_article(page(middle), URL)
    stored = [
        {"url": "http://origin.example/img/a.jpg", "source_url": proxied, "key": "images/aa/aa/a.jpg", "sha256": "a" * 64,
         "content_type": "image/jpeg", "bytes": 10, "width": 4, "height": 3},
        {"url": "http://origin.example/img/b.jpg", "source_url": "http://origin.example/img/b.jpg", "key": "images/bb/bb/b.jpg",
         "sha256": "b" * 64, "content_type": "image/jpeg", "bytes": 10, "width": 4, "height": 3},
    ]
    record = article_record(article, source="s", fetched=datetime(2026, 1, 1, tzinfo=timezone.utc), categories=[], images=stored)
    captioned, bare = record["images"]
    assert captioned["caption"] == " ".join(CAPTION.split()), "found by the URL the page named the image by"
    assert "caption" not in bare, "absent, not null, for an image without one"
    assert figures(record["html"]) == [(["images/aa/aa/a.jpg"], " ".join(CAPTION.split()))]
    loaded = load_record(dump_record(record))  # the archive's schema takes it
    assert [image.caption for image in loaded.images] == [" ".join(CAPTION.split()), None]
    assert b'"caption"' in loaded.to_json() and loaded.to_json().count(b'"caption"') == 1


def test_images_of_identical_bytes_keep_their_own_captions_in_the_record():
    # Two URLs, one stored file (the key is the bytes' hash): each its caption.
    other = "图为额济纳旗另一处核酸检测点。"
    middle = (f'<figure><img src="/img/a.jpg"><figcaption>{CAPTION}</figcaption></figure><p>{PARAGRAPHS[1]}</p>'
              f'<figure><img src="/img/copy-of-a.jpg"><figcaption>{other}</figcaption></figure>'
              '<p><img src="/img/also-a.jpg"></p><p><img src="/img/again-a.jpg"></p>')
    article = extract_article(page(middle), URL)
    urls = [f"https://news.example/img/{name}.jpg" for name in ("a", "copy-of-a", "also-a", "again-a")]
    assert article.image_urls == urls
    same = {"key": "images/aa/aa/a.jpg", "sha256": "a" * 64, "content_type": "image/jpeg", "bytes": 10, "width": 4, "height": 3}
    stored = [{"url": url, "source_url": url, **same} for url in urls]
    record = article_record(article, source="s", fetched=datetime(2026, 1, 1, tzinfo=timezone.utc), categories=[], images=stored)
    assert [(image["url"], image.get("caption")) for image in record["images"]] == [
        (urls[0], " ".join(CAPTION.split())), (urls[1], other),  # the two bare copies: no entry of their own
    ]
    assert [image.caption for image in load_record(dump_record(record)).images] == [" ".join(CAPTION.split()), other]


STORED_A = {"key": "images/aa/aa/a.jpg", "sha256": "a" * 64, "content_type": "image/jpeg", "bytes": 10, "width": 4, "height": 3}
STORED_B = {**STORED_A, "key": "images/bb/bb/b.jpg", "sha256": "b" * 64}


@pytest.mark.parametrize("middle", [
    # The captioned picture, then a bare copy of the same bytes (a thumbnail, the same photo lower down).
    f'<figure><img src="/img/a.jpg"><figcaption>{CAPTION}</figcaption></figure><p>{PARAGRAPHS[1]}</p>'
    '<p><img src="/img/b.jpg"></p><p><img src="/img/a.jpg?w=300"></p>',
    # The bare copy first.
    f'<p><img src="/img/a.jpg?w=300"></p><p>{PARAGRAPHS[1]}</p>'
    f'<p><img src="/img/b.jpg"></p><figure><img src="/img/a.jpg"><figcaption>{CAPTION}</figcaption></figure>',
])
def test_a_bare_copy_of_a_captioned_picture_is_no_second_entry(middle):
    from archive.writer import is_same_article

    article = extract_article(page(middle), URL)
    assert len(article.image_urls) == 3
    stored = [{"url": url, "source_url": url, **(STORED_B if url.endswith("b.jpg") else STORED_A)} for url in article.image_urls]
    record = article_record(article, source="s", fetched=datetime(2026, 1, 1, tzinfo=timezone.utc), categories=[], images=stored)
    # One entry per file, where the page first shows it; the captioned image stands for it.
    assert [(image["key"], image["url"], image.get("caption")) for image in record["images"]] == [
        ("images/aa/aa/a.jpg", "https://news.example/img/a.jpg", " ".join(CAPTION.split())),
        ("images/bb/bb/b.jpg", "https://news.example/img/b.jpg", None),
    ]
    assert [image.caption for image in load_record(dump_record(record)).images] == [" ".join(CAPTION.split()), None]
    # The keys are those a record listing each file once, captions aside, has: an
    # archived copy is not taken for a changed one.
    bare = article_record(replace(article, image_captions={}), source="s", fetched=datetime(2026, 1, 1, tzinfo=timezone.utc),
                          categories=[], images=stored)
    assert [image["key"] for image in bare["images"]] == ["images/aa/aa/a.jpg", "images/bb/bb/b.jpg"]
    assert is_same_article(bare, record) and is_same_article(record, bare)


def test_caption_selector_is_a_listing_key_checked_at_load(tmp_path):
    from crawler.config import ConfigError
    from crawler.spiders.news import site_rules

    text = """sources:
  - id: epaper
    kind: listing
    url: http://e.example/node_1.htm
    link_pattern: 'content_\\d+'
    caption_selector: {selector}
"""
    config = parse_config(text.format(selector="p.pictext"), tmp_path / "ok.yaml")
    assert site_rules(config.sources[0]).caption == "p.pictext"
    with pytest.raises(ConfigError) as caught:
        parse_config(text.format(selector="'p.pictext['"), tmp_path / "bad.yaml")
    assert any(key == "sources[0].caption_selector" for _line, key, _ in caught.value.problems), caught.value
