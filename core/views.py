"""Helpers for portal views."""

from __future__ import annotations

from typing import TypeVar

from django.http import Http404

T = TypeVar("T")


def found_or_404(found: T | None, message: str) -> T:
    """What a selector found, or a 404 with `message` when it found nothing (None): the selectors'
    counterpart of Django's get_object_or_404."""
    if found is None:
        raise Http404(message)
    return found
