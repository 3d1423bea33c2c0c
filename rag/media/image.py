"""Open untrusted images safely: size-checked before decoding, fully decoded before use."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rag.media.errors import ExtractionError

if TYPE_CHECKING:
    from PIL import Image

# OCR works on a bounded copy: text in a 60-megapixel scan is readable at this size.
OCR_MAX_SIDE = 2048

MIME_BY_FORMAT = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "MPO": "image/jpeg",
}


def load_image(source: Path | bytes | BinaryIO, *, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode an image to RGB, refusing bombs, truncation and anything not an image.

    Returns the image and its MIME type. The pixel count is checked from the header, before
    any pixel is decoded, so a decompression bomb costs no memory.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    target: Path | BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(target) as image:  # closes the file on every path out
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ExtractionError("image has no pixels")
                if width * height > max_pixels:
                    raise ExtractionError(
                        f"image is {width}x{height} = {width * height:,} pixels, over the limit "
                        f"of {max_pixels:,} (MMRAG_INDEX__MAX_IMAGE_PIXELS): refusing a "
                        "possible decompression bomb"
                    )
                fmt = image.format or ""
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)  # animated GIF/WebP: the first frame stands for the file
                image.load()
                rgb = ImageOps.exif_transpose(image).convert("RGB")
    except ExtractionError:
        raise
    except FileNotFoundError as exc:
        raise ExtractionError("file disappeared before it could be read") from exc
    except PermissionError as exc:
        raise ExtractionError("permission denied") from exc
    except UnidentifiedImageError as exc:
        raise ExtractionError("not a readable image (unknown or corrupt format)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ExtractionError(f"refusing a possible decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower():
            raise ExtractionError("image file is truncated") from exc
        raise ExtractionError(f"corrupt image: {reason}") from exc
    return rgb, MIME_BY_FORMAT.get(fmt, f"image/{fmt.lower() or 'unknown'}")


def ocr_copy(image: Image.Image) -> Image.Image:
    """A copy no larger than ``OCR_MAX_SIDE`` on its longer side."""
    if max(image.size) <= OCR_MAX_SIDE:
        return image
    copy = image.copy()
    copy.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE))
    return copy
