"""What an image file is: its hash, type and size, read with Pillow's limits."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

# Pillow format name -> (MIME type, file extension for the archive key).
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
    "BMP": ("image/bmp", "bmp"),
    "TIFF": ("image/tiff", "tif"),
    "ICO": ("image/x-icon", "ico"),
    "AVIF": ("image/avif", "avif"),
}


class BadImage(ValueError):
    """Not an image we can vouch for: unreadable, unknown, or a decompression bomb."""


@dataclass(frozen=True)
class ImageFacts:
    sha256: str
    content_type: str
    extension: str
    bytes: int
    width: int
    height: int


def inspect_image(data: bytes) -> ImageFacts:
    """Hash and measure an image without decoding its pixels."""
    try:
        with warnings.catch_warnings():
            # Past Pillow's pixel limit an image is refused, not merely warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"decompression bomb refused: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImage(f"not a readable image: {exc}") from exc
    if image_format not in IMAGE_FORMATS:
        raise BadImage(f"unsupported image format {image_format}")
    content_type, extension = IMAGE_FORMATS[image_format]
    return ImageFacts(hashlib.sha256(data).hexdigest(), content_type, extension, len(data), width, height)
