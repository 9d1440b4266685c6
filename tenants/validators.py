"""Validators for partner-supplied brand data: colours and logos are untrusted input."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image, UnidentifiedImageError

HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Raster formats only: an SVG can carry script and is refused.
LOGO_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


def validate_hex_colour(value: str) -> None:
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError("Enter a colour as #RRGGBB, for example #1F4E79.", code="invalid_colour")


def validate_logo(file: File) -> None:
    if file.size is not None and file.size > settings.BRAND_LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is {file.size // 1024} KB; the limit is {settings.BRAND_LOGO_MAX_BYTES // 1024} KB.",
            code="logo_too_large",
        )
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError("The logo is not a PNG, JPEG, WebP or GIF image.", code="logo_not_image") from exc
    finally:
        file.seek(0)
    if image_format not in LOGO_FORMATS:
        raise ValidationError(f"{image_format} logos are not accepted; use PNG, JPEG, WebP or GIF.", code="logo_format")
    limit = settings.BRAND_LOGO_MAX_PIXELS
    if width > limit or height > limit:
        raise ValidationError(f"The logo is {width}x{height} px; the limit is {limit}x{limit}.", code="logo_dimensions")
