"""Serves uploaded media (brand logos) on every host, in development and in production alike.

Whatever a file under MEDIA_ROOT holds, the browser is told exactly what to do with it: an image
type from a short allow-list by the stored extension (uploads are re-encoded and named by
core.uploads, so the extension is the format), and anything else — a file stored before
re-encoding existed, say `x.html` — is a download, never a page. `nosniff` stops the browser
from guessing otherwise, and the sandboxing CSP keeps even a misread file from running script
or loading anything on the portal's origin.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join
from django.views.decorators.http import require_safe

SAFE_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
DOWNLOAD_TYPE = "application/octet-stream"
MEDIA_CSP = "sandbox; default-src 'none'"
MEDIA_MAX_AGE = 3600


def media_content_type(name: str) -> str | None:
    """The type an image stored as `name` is served with, or None when it is served as a download."""
    return SAFE_IMAGE_TYPES.get(posixpath.splitext(name)[1].lower())


@require_safe
def media_serve(request: HttpRequest, path: str) -> FileResponse:
    try:
        full_path = Path(safe_join(settings.MEDIA_ROOT, path))
    except (SuspiciousFileOperation, ValueError) as exc:
        raise Http404("Not found") from exc
    if not full_path.is_file():
        raise Http404("Not found")
    content_type = media_content_type(full_path.name)
    response = FileResponse(
        full_path.open("rb"),
        content_type=content_type or DOWNLOAD_TYPE,
        as_attachment=content_type is None,
        filename=full_path.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = f"public, max-age={MEDIA_MAX_AGE}"
    return response
