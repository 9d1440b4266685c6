"""Helpers for portal views (and the API's file answers: `attachment`)."""

from __future__ import annotations

from typing import TypeVar

from django.http import Http404, HttpResponse

T = TypeVar("T")


def found_or_404(found: T | None, message: str) -> T:
    """What a selector found, or a 404 with `message` when it found nothing (None): the selectors'
    counterpart of Django's get_object_or_404."""
    if found is None:
        raise Http404(message)
    return found


def attachment(body: str, *, filename: str, content_type: str = "text/csv; charset=utf-8") -> HttpResponse:
    """`body` as a file download named `filename`."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
