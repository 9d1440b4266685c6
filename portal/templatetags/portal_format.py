"""Small display filters for the portal's pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as a short human duration: 45 s, 3.2 min, 1.5 h, 2.0 d."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@register.filter
def dict_get(mapping: dict, key: object) -> object:
    """`mapping[key]` in a template, or an empty list when the key is absent."""
    return mapping.get(key, [])
