"""Image uploads are untrusted bytes: decode them, keep only the pixels, encode them again.

A file that merely starts like an image (a PNG with HTML appended, a polyglot, a JPEG carrying a
script in a comment) comes out as a clean image of the same picture; the original bytes and the
uploader's file name are never stored. The stored name is generated and its extension is the one
of the format written, so `/media/` (core/media.py) serves it with the matching type.
"""

from __future__ import annotations

import io
import re
import uuid
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

# Raster formats only: an SVG is a document that can carry script, never an image here.
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
# What each accepted format is written as. GIF becomes PNG: lossless, keeps transparency, and
# avoids re-quantising a palette; an animated GIF or WebP keeps its first frame.
OUTPUT_FORMAT = {"PNG": "PNG", "GIF": "PNG", "JPEG": "JPEG", "WEBP": "WEBP"}
EXTENSION = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
ACCEPTED_LABEL = "PNG, JPEG, WebP or GIF"
GENERATED_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")


@dataclass(frozen=True)
class CleanImage:
    content: ContentFile
    name: str  # generated: <32 hex digits>.<extension of the written format>
    format: str
    width: int
    height: int


def image_reencode(*, upload: UploadedFile, max_bytes: int, max_pixels: int) -> CleanImage:
    """Validate an uploaded image and return it re-encoded, pixels only, under a generated name.

    Raises ValidationError (codes image_too_large, image_not_image, image_format, image_dimensions)
    for anything that is not a bounded raster image."""
    size = upload.size
    if size is not None and size > max_bytes:
        raise ValidationError(f"The file is {_kb(size)} KB; the limit is {_kb(max_bytes)} KB.", code="image_too_large")
    try:
        upload.seek(0)
        # Pillow's own decompression-bomb warning becomes an error; our pixel limit is far lower anyway.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                source_format = image.format
                width, height = image.size
                if source_format not in ACCEPTED_FORMATS:
                    raise ValidationError(
                        f"{source_format} images are not accepted; use {ACCEPTED_LABEL}.", code="image_format"
                    )
                if width > max_pixels or height > max_pixels:
                    raise ValidationError(
                        f"The image is {width}x{height} px; the limit is {max_pixels}x{max_pixels}.",
                        code="image_dimensions",
                    )
                image.seek(0)
                image.load()
                pixels = _pixels_only(image, OUTPUT_FORMAT[source_format])
    except ValidationError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValidationError(f"The file is not a {ACCEPTED_LABEL} image.", code="image_not_image") from exc
    finally:
        upload.seek(0)
    output_format = OUTPUT_FORMAT[source_format]
    buffer = io.BytesIO()
    if output_format == "JPEG":
        pixels.save(buffer, format="JPEG", quality=90, optimize=True)
    elif output_format == "WEBP":
        pixels.save(buffer, format="WEBP", quality=90, method=4)
    else:
        pixels.save(buffer, format="PNG", optimize=True)
    name = f"{uuid.uuid4().hex}.{EXTENSION[output_format]}"
    return CleanImage(
        content=ContentFile(buffer.getvalue(), name=name),
        name=name,
        format=output_format,
        width=pixels.width,
        height=pixels.height,
    )


def image_stored_name_is_generated(name: str) -> bool:
    """True for a file name image_reencode made (and so for re-encoded content)."""
    return bool(GENERATED_NAME.match(name))


def _pixels_only(image: Image.Image, output_format: str) -> Image.Image:
    """A new image holding nothing but the decoded pixels: no metadata, comments, profiles or
    trailing bytes of the upload survive. JPEG orientation is applied first so photos stay upright."""
    if image.format == "JPEG":
        image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if output_format == "JPEG":
        mode = "L" if image.mode in ("1", "L", "I;16") else "RGB"
    else:
        mode = "RGBA" if has_alpha else ("L" if image.mode in ("1", "L") else "RGB")
    converted = image.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _kb(size: int) -> int:
    return max(1, size // 1024)
