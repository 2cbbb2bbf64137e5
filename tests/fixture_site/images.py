"""The image files of the fixture site, drawn deterministically with Pillow.

Every image is a real JPEG/PNG of a known size, drawn from its spec alone (no
randomness, no timestamps in the encoded file), so its bytes and SHA-256 are
stable for a given Pillow build. The catalog reads the hashes from here; tests
compare what the crawler mirrored against them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw

JPEG = "JPEG"
PNG = "PNG"
CONTENT_TYPES = {JPEG: "image/jpeg", PNG: "image/png"}
JPEG_QUALITY = 85

# The classic 1x1 transparent GIF lazy-loading scripts use as a placeholder.
PLACEHOLDER_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
PLACEHOLDER_PATH = "/static/placeholder.gif"
# The same 1x1 GIF inlined, as lazysizes-style pages put it in src.
PLACEHOLDER_DATA_URI = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@dataclass(frozen=True)
class ImageSpec:
    """One image file: where it is served and what it looks like."""

    key: str
    path: str
    width: int
    height: int
    format: str
    colour: tuple[int, int, int]
    # Referenced by a page but never served (the site answers 404).
    missing: bool = False

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


IMAGE_SPECS: tuple[ImageSpec, ...] = (
    # The four photos of the ZAKER seed (000), at the sizes its markup declares.
    ImageSpec("ejina-1", "/images/202110/6178e3198e9f095dc36cd0d3_1024.jpg", 640, 428, JPEG, (178, 34, 34)),
    ImageSpec("ejina-2", "/images/202110/6178e3198e9f095dc36cd0d4_1024.jpg", 640, 400, JPEG, (30, 90, 160)),
    ImageSpec("ejina-3", "/images/202110/6178e3198e9f095dc36cd0d5_1024.jpg", 640, 426, JPEG, (46, 139, 87)),
    ImageSpec("ejina-4", "/images/202110/6178e3198e9f095dc36cd0d6_1024.jpg", 640, 427, JPEG, (205, 133, 63)),
    # Shared by two articles (same URL, same bytes): content-addressed dedupe.
    ImageSpec("checkpoint", "/images/2020/02/checkpoint.jpg", 640, 400, JPEG, (72, 61, 139)),
    ImageSpec("party-flag", "/images/2020/02/party-flag.png", 320, 200, PNG, (220, 20, 60)),
    # One picture in three widths behind a srcset; the reader's real image is the widest.
    ImageSpec("wuhan-320", "/images/2020/04/wuhan-spring-320.jpg", 320, 200, JPEG, (255, 182, 193)),
    ImageSpec("wuhan-640", "/images/2020/04/wuhan-spring-640.jpg", 640, 400, JPEG, (255, 182, 193)),
    ImageSpec("wuhan-1280", "/images/2020/04/wuhan-spring-1280.jpg", 1280, 800, JPEG, (255, 182, 193)),
    ImageSpec("night-patrol", "/images/2020/04/night-patrol.jpg", 640, 400, JPEG, (0, 0, 0), missing=True),
    ImageSpec("shuangjing", "/images/2020/02/shuangjing.png", 480, 320, PNG, (0, 128, 128)),
    ImageSpec("baotou", "/images/2020/01/baotou-louzhang.jpg", 600, 400, JPEG, (112, 128, 144)),
    ImageSpec("en-port", "/images/en/2021/03/port-cranes.jpg", 800, 450, JPEG, (25, 25, 112)),
    ImageSpec("en-wetlands", "/images/en/2021/06/wetland-cranes.png", 600, 400, PNG, (85, 107, 47)),
    ImageSpec("en-bakery", "/images/en/2021/09/bakery-ovens.jpg", 720, 480, JPEG, (160, 82, 45)),
    # Page furniture: on every page, never part of an article.
    ImageSpec("logo", "/static/logo.png", 200, 60, PNG, (196, 30, 58)),
    ImageSpec("ad-banner", "/static/ad-banner.jpg", 300, 250, JPEG, (255, 215, 0)),
)
IMAGES: dict[str, ImageSpec] = {spec.key: spec for spec in IMAGE_SPECS}
IMAGES_BY_PATH: dict[str, ImageSpec] = {spec.path: spec for spec in IMAGE_SPECS}


def _draw(spec: ImageSpec) -> Image.Image:
    """A picture that differs per spec: colour, stripe spacing and a label."""
    image = Image.new("RGB", (spec.width, spec.height), spec.colour)
    draw = ImageDraw.Draw(image)
    inverse = tuple(255 - channel for channel in spec.colour)
    # crc32 of the key: a stable per-image number (hash() is salted per process).
    step = 12 + zlib.crc32(spec.key.encode()) % 29
    for x in range(-spec.height, spec.width, step * 2):
        draw.line([(x, spec.height), (x + spec.height, 0)], fill=inverse, width=max(1, step // 3))
    w, h = spec.width, spec.height
    draw.ellipse([w // 4, h // 4, 3 * w // 4, 3 * h // 4], outline=(255, 255, 255), width=3)
    draw.rectangle([0, 0, w - 1, h - 1], outline=(255, 255, 255), width=2)
    draw.text((8, 8), f"{spec.key} {w}x{h}", fill=(255, 255, 255))
    return image


def image_bytes(key: str) -> bytes:
    """The encoded file of one image of :data:`IMAGES` (drawn once per process)."""
    return spec_bytes(IMAGES[key])


@functools.cache
def spec_bytes(spec: ImageSpec) -> bytes:
    """The encoded file of any spec (also those of other catalogs, e.g. ZAKER's)."""
    buffer = io.BytesIO()
    if spec.format == JPEG:
        # No optimize/progressive: those only add encoder-dependent variation.
        _draw(spec).save(buffer, format=JPEG, quality=JPEG_QUALITY)
    else:
        _draw(spec).save(buffer, format=PNG)
    return buffer.getvalue()


def image_sha256(key: str) -> str:
    return hashlib.sha256(image_bytes(key)).hexdigest()
