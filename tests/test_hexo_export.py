"""Hexo posts of hand-made records: what the fixture site's crawl cannot show.

tests/test_archive_commands.py checks the posts of a real crawl against the
seed's shape; here records are made to the character.
"""

from __future__ import annotations

import hashlib

import lxml.html
import pytest
import yaml
from ruamel.yaml import YAML

from archive.export import hexo_post
from archive.keys import image_key
from tests.archive_helpers import made_record, small_archive
from tests.conftest import run_cli


# Categories and authors a YAML reader could take for another type: numbers
# in YAML 1.2 only (1e3, 0o17) or in 1.1 only (012, 1_000), booleans, nulls,
# dates, and YAML's own syntax; then strings to keep plain, as the seed does.
TRICKY_STRINGS = ["1e3", "1E-3", "0o17", "0x10", "+1", "012", "1_000", ".5", "-.inf", ".NaN", "true", "False", "yes", "off",
                  "null", "~", "2024-01-01", "2024-1-1 10:00:00", "<<", "a: b", "#tag", "- x", "'q'", "[x]", "&anchor"]
PLAIN_STRINGS = ["新媒体", "ZAKER", "it's", "中 文", "0o8", "0b2"]


def post_body(post: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(post.split("\n---\n", 1)[1].strip(), create_parent="div")


def front_matter(post: str) -> str:
    head, sep, _ = post.removeprefix("---\n").partition("\n---\n")
    assert sep, "front matter closed by ---"
    return head


@pytest.mark.parametrize("reader", ["YAML 1.1 (PyYAML)", "YAML 1.2 (ruamel.yaml)"])
def test_front_matter_strings_read_back_as_strings(reader):
    load = yaml.safe_load if reader.startswith("YAML 1.1") else YAML(typ="safe", pure=True).load
    strings = TRICKY_STRINGS + PLAIN_STRINGS
    record = made_record(1, "正文", categories=strings, authors=["1e3"], source="1e9")  # a valid source id
    head = front_matter(hexo_post(record, {}))
    meta = load(head)
    assert meta["categories"] == [*strings, "1e9"]
    assert meta["author"] == "1e3"
    assert meta["title"] == record["title"]
    for plain in PLAIN_STRINGS:
        assert f" - {plain}\n" in head, "kept plain, as in the seed's ' - 新媒体'"


def test_an_image_missing_from_the_archive_is_a_link_to_its_origin(tmp_path):
    kept, lost = b"kept image bytes", b"lost image bytes"
    images = [{"url": f"https://img.news.example/{name}.jpg", "key": image_key(hashlib.sha256(data).hexdigest(), "jpg"),
               "sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/jpeg", "bytes": len(data)}
              for name, data in (("kept", kept), ("lost", lost))]
    html = f'<p>前</p><img src="{images[0]["key"]}" alt="留下"><p>中</p><img src="{images[1]["key"]}" alt="丢失"><p>后</p>'
    record = made_record(1, "前\n\n中\n\n后", html=html, images=images)
    store = small_archive(tmp_path / "archive", [record])
    store.put(images[0]["key"], kept)  # the other one is gone from the archive (verify reports it)
    out = tmp_path / "hexo"
    result = run_cli("export", "--format", "hexo", "--output", str(out), "--archive", store.url, timeout=60)
    assert result.returncode == 0, result.stderr
    body = post_body((out / "_posts" / f"{record['id']}.md").read_text(encoding="utf-8"))
    assert [img.get("src") for img in body.iter("img")] == ["/" + images[0]["key"]]
    (link,) = [a for a in body.iter("a") if a.get("href") == images[1]["url"]]
    assert "丢失" in link.text_content(), "the link says what image it stands for"
    assert body.text_content().index("中") < body.text_content().index(link.text_content()) < body.text_content().index("后")
