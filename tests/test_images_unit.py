"""Images: lazy-loading markup, proxies, file inspection and src rewriting."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import lxml.html
import pytest
from PIL import Image

from crawler.extract.imagefile import BadImage, inspect_image
from crawler.extract.images import (
    best_srcset_candidate,
    origin_image_url,
    real_image_url,
    resolve_lazy_images,
    unwrap_proxy,
)
from crawler.extract.record import rewrite_image_sources

BASE = "https://news.example.com/2021/10/article.html"


def img(markup: str):
    return lxml.html.fragment_fromstring(markup)


# --------------------------------------------------------------------------
# real_image_url
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "markup, expected",
    [
        ('<img src="/static/grey.gif" data-original="http://zkres1.myzaker.com/202110/a.jpg">', "http://zkres1.myzaker.com/202110/a.jpg"),
        ('<img src="placeholder.png" data-src="/img/real.jpg">', "/img/real.jpg"),
        ('<img data-src="  /img/padded.jpg  ">', "/img/padded.jpg"),
        ('<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="real.jpg">', "real.jpg"),
        ('<img data-original="data:image/gif;base64,R0lG" data-src="second.jpg">', "second.jpg"),
        ('<img srcset="small.jpg 300w, huge.jpg 1200w, mid.jpg 800w" src="small.jpg">', "huge.jpg"),
        ('<img srcset="a.jpg 1x,b.jpg 2x">', "b.jpg"),
        ('<img srcset="only.jpg">', "only.jpg"),
        ('<img data-srcset="d-small.jpg 320w, d-big.jpg 1024w" srcset="s.jpg 2000w">', "d-big.jpg"),
        ('<img src="https://cdn.example.com/photo.jpg">', "https://cdn.example.com/photo.jpg"),
        ('<img src="relative/photo.png">', "relative/photo.png"),
    ],
)
def test_real_image_url(markup, expected):
    assert real_image_url(img(markup)) == expected


def test_srcset_urls_may_hold_commas():
    # Aliyun OSS / Cloudinary style URLs: the comma belongs to the URL.
    srcset = (
        "https://img.example.cn/a.jpg?x-oss-process=image/resize,w_320 320w, "
        "https://img.example.cn/a.jpg?x-oss-process=image/resize,w_1280 1280w"
    )
    assert best_srcset_candidate(srcset) == "https://img.example.cn/a.jpg?x-oss-process=image/resize,w_1280"
    assert best_srcset_candidate("https://c.example/w_300,h_200/a.jpg 1x, https://c.example/w_600,h_400/a.jpg 2x") == (
        "https://c.example/w_600,h_400/a.jpg"
    )


def test_best_srcset_candidate_edge_cases():
    assert best_srcset_candidate("") is None
    assert best_srcset_candidate("  ,  ") is None
    assert best_srcset_candidate("a.jpg 1.5x, b.jpg 1x") == "a.jpg"
    assert best_srcset_candidate("a.jpg 100w,\n   b.jpg 50w") == "a.jpg"


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==">',
        '<img src="/images/blank.gif">',
        '<img src="https://static.example.com/img/placeholder.png">',
        '<img src="/assets/loading.gif">',
        '<img src="spacer.gif">',
        '<img src="/img/lazy-load-grey.svg">',
        "<img>",
        '<img src="   ">',
    ],
)
def test_placeholders_have_no_real_image(markup):
    assert real_image_url(img(markup)) is None


# --------------------------------------------------------------------------
# resolve_lazy_images
# --------------------------------------------------------------------------

def test_resolve_lazy_images_makes_src_absolute_and_drops_placeholders():
    tree = lxml.html.fromstring(
        "<div>"
        '<p>before<img src="/s/grey.gif" data-original="../img/a.jpg" class="lazy">after</p>'
        '<p><img src="data:image/gif;base64,R0lG" data-src="//cdn.example.com/b.jpg"></p>'
        '<p><img srcset="c-300.jpg 300w, c-900.jpg 900w"></p>'
        '<p>keep<img src="/img/blank.gif">this tail</p>'
        '<p><img src="https://other.example.org/d.png"></p>'
        "</div>"
    )
    resolve_lazy_images(tree, BASE)
    images = list(tree.iter("img"))
    assert [i.get("src") for i in images] == [
        "https://news.example.com/2021/img/a.jpg",
        "https://cdn.example.com/b.jpg",
        "https://news.example.com/2021/10/c-900.jpg",
        "https://other.example.org/d.png",
    ]
    for image in images:
        for attribute in ("data-original", "data-src", "srcset", "data-srcset"):
            assert image.get(attribute) is None
    text = tree.text_content()
    assert "beforeafter" in text
    assert "keepthis tail" in text  # the dropped placeholder's tail text stays


# --------------------------------------------------------------------------
# unwrap_proxy
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url, origin",
    [
        ("https://cors.zfour.workers.dev/?http://zkres1.myzaker.com/202110/x.jpg", "http://zkres1.myzaker.com/202110/x.jpg"),
        ("https://proxy.example/fetch?url=http%3A%2F%2Fzkres1.myzaker.com%2F202110%2Fx.jpg", "http://zkres1.myzaker.com/202110/x.jpg"),
        ("https://proxy.example/fetch?w=300&src=https%3A%2F%2Forigin.example%2Fa.png", "https://origin.example/a.png"),
        ("https://proxy.example/?http%3A%2F%2Forigin.example%2Fb.jpg", "http://origin.example/b.jpg"),
        ("https://images.weserv.nl/?url=https://origin.example/c.jpg&w=200", "https://origin.example/c.jpg"),
    ],
)
def test_unwrap_proxy(url, origin):
    assert unwrap_proxy(url) == origin
    assert origin_image_url(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/photo.jpg?w=300",
        "https://cdn.example.com/photo.jpg?w=300&h=200&fit=crop",
        "https://cdn.example.com/photo.jpg",
        "https://cdn.example.com/photo.jpg?url=not-a-url",
        "https://cdn.example.com/photo.jpg?ref=https-news",
    ],
)
def test_unwrap_proxy_leaves_direct_urls(url):
    assert unwrap_proxy(url) is None
    assert origin_image_url(url) == url


# --------------------------------------------------------------------------
# inspect_image
# --------------------------------------------------------------------------

def encode(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 1).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "fmt, mode, content_type, extension, size",
    [
        ("JPEG", "RGB", "image/jpeg", "jpg", (40, 30)),
        ("PNG", "RGB", "image/png", "png", (17, 5)),
        ("GIF", "P", "image/gif", "gif", (1, 1)),
        ("WEBP", "RGB", "image/webp", "webp", (64, 48)),
    ],
)
def test_inspect_real_images(fmt, mode, content_type, extension, size):
    data = encode(fmt, size, mode)
    facts = inspect_image(data)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.content_type == content_type
    assert facts.extension == extension
    assert facts.bytes == len(data)
    assert (facts.width, facts.height) == size


def test_same_bytes_same_hash_different_bytes_different_hash():
    a, b = encode("PNG", (10, 10)), encode("PNG", (10, 11))
    assert inspect_image(a).sha256 == inspect_image(a).sha256
    assert inspect_image(a).sha256 != inspect_image(b).sha256


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><body>404 Not Found</body></html>",
        b"GIF89a",  # a header and nothing else
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,  # a PNG signature over garbage
        "朱镕基".encode("utf-8") * 100,
    ],
)
def test_inspect_rejects_non_images(data):
    with pytest.raises(BadImage):
        inspect_image(data)


def test_inspect_rejects_unsupported_formats():
    with pytest.raises(BadImage, match="unsupported"):
        inspect_image(encode("PPM", (4, 4)))


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims the given size (no pixel data needed to open it)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_crafted_png_header_opens_with_its_claimed_size():
    # The helper is sound: under the limit Pillow reads the claimed size.
    assert inspect_image(_png_header(300, 200)).width == 300


def test_inspect_refuses_a_decompression_bomb():
    with pytest.raises(BadImage, match="decompression bomb"):
        inspect_image(_png_header(100_000, 100_000))


@pytest.mark.parametrize("size", [(15, 10), (40, 40)])  # 150 px: Pillow's warning range; 1600 px: its error range
def test_inspect_honours_the_pixel_limit(monkeypatch, size):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    data = encode("PNG", size)
    with pytest.raises(BadImage, match="decompression bomb"):
        inspect_image(data)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    assert inspect_image(data).width == size[0]


# --------------------------------------------------------------------------
# rewrite_image_sources
# --------------------------------------------------------------------------

KEY = "images/ab/cd/" + "ab" * 32 + ".jpg"


def test_rewrite_points_mirrored_images_at_their_keys():
    html = '<p>图一<img src="http://o.example/a.jpg" alt="甲"></p><p><img src="http://o.example/b.jpg"></p>'
    out = rewrite_image_sources(html, {"http://o.example/a.jpg": KEY})
    assert out == f'<p>图一<img src="{KEY}" alt="甲"></p><p><img src="http://o.example/b.jpg"></p>'


def test_rewrite_without_mapping_returns_input():
    html = '<p><img src="http://o.example/a.jpg"></p>'
    assert rewrite_image_sources(html, {}) == html
    assert rewrite_image_sources("", {"x": "y"}) == ""


def test_rewrite_keeps_leading_and_trailing_text():
    out = rewrite_image_sources('前言<img src="http://o.example/a.jpg">后记', {"http://o.example/a.jpg": KEY})
    assert out == f'前言<img src="{KEY}">后记'


def test_rewrite_keeps_escaped_text_escaped():
    # Safe HTML holding escaped markup as text must not come back as markup.
    html = '&lt;script&gt;alert(1)&lt;/script&gt; 1 &lt; 2 <p>a &amp; b &lt;i&gt;<img src="http://o.example/a.jpg"></p>tail &lt;b&gt;'
    out = rewrite_image_sources(html, {"http://o.example/a.jpg": KEY})
    assert "<script" not in out and "<i>" not in out and "<b>" not in out
    assert out == (
        f'&lt;script&gt;alert(1)&lt;/script&gt; 1 &lt; 2 <p>a &amp; b &lt;i&gt;<img src="{KEY}"></p>tail &lt;b&gt;'
    )


def test_rewrite_escapes_attribute_values():
    html = '<p><img src="http://o.example/a.jpg" alt="&quot; onerror=&quot;x"></p>'
    out = rewrite_image_sources(html, {"http://o.example/a.jpg": KEY})
    assert 'onerror="x"' not in out
    assert lxml.html.fragment_fromstring(out).find(".//img").get("alt") == '" onerror="x'


def test_rewrite_finds_src_after_attributes_holding_markup_characters():
    html = '<p><img alt="a > b src=&quot;x&quot;" src="http://o.example/a.jpg?x=1&amp;y=2"></p>'
    out = rewrite_image_sources(html, {"http://o.example/a.jpg?x=1&y=2": KEY})
    assert out == f'<p><img alt="a > b src=&quot;x&quot;" src="{KEY}"></p>'
    assert lxml.html.fragment_fromstring(out).find(".//img").get("alt") == 'a > b src="x"'


def test_rewrite_never_takes_text_or_attribute_values_for_tags():
    # Older nh3 leaves "<" unescaped inside attribute values; text after such a
    # tag may hold a quoted src=... of its own: neither is an image.
    html = '<p><img src="http://o.example/a.jpg" alt="<img a=">He said " src="http://o.example/a.jpg" ok</p>'
    out = rewrite_image_sources(html, {"http://o.example/a.jpg": KEY})
    assert out == f'<p><img src="{KEY}" alt="<img a=">He said " src="http://o.example/a.jpg" ok</p>'


@pytest.mark.parametrize(
    "markup, expected",
    [
        ('<img src="/images/lazy.png" data-lazyload="/upload/a.jpg">', "/upload/a.jpg"),
        ('<img src="/s/spaceball.gif" data-ks-lazyload="//img.alicdn.example/b.jpg">', "//img.alicdn.example/b.jpg"),
        ('<img src="/s/dot.gif" original="/upload/c.jpg">', "/upload/c.jpg"),
        ('<img src="/maps/dotted-map.png">', "/maps/dotted-map.png"),  # a picture, not a placeholder
    ],
)
def test_more_lazy_attributes_and_placeholders(markup, expected):
    assert real_image_url(img(markup)) == expected


@pytest.mark.parametrize("markup", ['<img src="/images/spaceball.gif">', '<img src="https://x.example/s/dot.gif">',
                                    '<img src="/1x1.png">'])
def test_small_placeholders_by_name(markup):
    assert real_image_url(img(markup)) is None


def test_noscript_fallbacks_stand_for_scripted_images_that_name_none():
    tree = lxml.html.fromstring(
        "<div>"
        '<p>one<img class="lazy" src="/images/grey.gif"><noscript><img src="/img/a.jpg"></noscript>two</p>'
        '<p><a href="/big"><img src="/images/blank.gif"></a><noscript><img src="/img/b.jpg" alt="b"></noscript></p>'
        '<p><img data-src="/img/c.jpg" src="/images/grey.gif"><noscript><img src="/img/c.jpg"></noscript></p>'
        '<p><noscript><img src="/img/d.jpg"></noscript></p>'
        "<noscript><p>Please enable JavaScript</p></noscript>"
        "</div>"
    )
    resolve_lazy_images(tree, BASE)
    assert [i.get("src") for i in tree.iter("img")] == [
        "https://news.example.com/img/a.jpg",
        "https://news.example.com/img/b.jpg",
        "https://news.example.com/img/c.jpg",  # once: the scripted image resolves by itself
        "https://news.example.com/img/d.jpg",
    ]
    assert "onetwo" in tree.text_content()


@pytest.mark.parametrize("markup", ['<img src="https://cdn.example.com/photo.jpg" data-lazy="true">',
                                    '<img src="https://cdn.example.com/photo.jpg" original="1">'])
def test_a_lazy_attribute_holding_a_flag_names_no_image(markup):
    assert real_image_url(img(markup)) == "https://cdn.example.com/photo.jpg"


def test_tracking_pixels_are_no_article_images():
    # A stats beacon in <noscript> (Baidu's hm.gif, Facebook's tr?...&noscript=1) or in the body.
    tree = lxml.html.fromstring(
        "<div><p>text<img src='/img/real.jpg' width='640'></p>"
        "<script>var _hmt = [];</script><noscript><img src='https://hm.baidu.com/hm.gif?si=abc' width='0' height='0'></noscript>"
        "<noscript><img height='1' width='1' style='display:none' src='https://www.facebook.com/tr?id=1&amp;noscript=1'/></noscript>"
        "<p><img src='/counter.php?id=3' width='1px' height='1px'>after</p></div>"
    )
    resolve_lazy_images(tree, BASE)
    assert [i.get("src") for i in tree.iter("img")] == ["https://news.example.com/img/real.jpg"]
    assert "after" in tree.text_content()


@pytest.mark.parametrize("markup", [
    '<a class="zoom" href="/img/a_big.jpg"><img src="/static/zoom.png" width="16"></a>',  # tiny, a zoom link
    '<a href="/img/a_big.jpg"><img src="/static/btn_magnifier.png"></a>',  # named a button, no size
    '<img class="icon-enlarge" src="/static/e.png">',  # classed an icon of enlarging
    '<a href="/img/a_big.jpg" title="点击放大"><img src="/images/icon.gif" border="0"></a>',  # an icon, a 放大 link
    '<img src="/static/ui.png" alt="放大" height="20px">',  # tiny, says 放大
    '<img data-src="/static/icon-zoom-in.svg" src="/static/grey.gif">',  # lazily, a button by its real name
    '<img src="/static/zoom.gif">', '<img src="/static/Zoom-In.PNG">', '<img src="/static/magnifier.ico">',
    '<img class="icon-zoom" src="/static/zoom.jpg">',  # a photo's file type, but classed an icon
])
def test_zoom_buttons_are_no_article_images(markup):
    tree = lxml.html.fromstring(f"<div><p>before<img src='/img/a.jpg'>{markup}after</p></div>")
    resolve_lazy_images(tree, BASE)
    assert [i.get("src") for i in tree.iter("img")] == ["https://news.example.com/img/a.jpg"]
    assert "beforeafter" in tree.text_content()


@pytest.mark.parametrize("markup", [
    '<a class="zoom" href="/img/b_big.jpg"><img src="/img/b_thumb.jpg"></a>',  # a lightbox thumbnail
    '<a href="/img/b_big.jpg" title="点击查看大图"><img src="/upload/2024/10/123456.jpg"></a>',  # digits are no button
    '<img class="zoomable" src="/img/b.jpg">',  # a photo readers may zoom
    '<img class="zoom" src="/img/b.jpg">',
    '<img src="/img/cell.jpg" alt="放大镜下的细胞">',  # about a magnifier
    '<img src="/img/zoom.png" width="640">',  # called zoom, declared a picture's size
    '<img src="/img/silicon-valley.jpg">',  # "icon" inside a word
    '<img src="/img/photo_zoom_1024.jpg">',  # a zoom word among others
    # Named zoom, but a photo's file type and no small size: a story on Zoom, a zoomed-in view.
    '<img src="/2024/10/zoom.jpg" alt="Zoom Video Communications CEO Eric Yuan">',
    '<img src="/uploads/zoom-in.jpg" alt="A zoomed-in view of the comet">',
    '<img src="/uploads/zoom.jpeg">', '<img src="/uploads/enlarge.webp">', '<img src="/uploads/zoom">',
])
def test_pictures_hinting_at_zoom_stay(markup):
    tree = lxml.html.fromstring(f"<div><p>before{markup}after</p></div>")
    resolve_lazy_images(tree, BASE)
    assert len(list(tree.iter("img"))) == 1
