"""Small display filters for the portal's pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from core.money import MoneyError, quantize, to_decimal

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


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """A stored amount (four decimal places) shown in the currency's minor unit, 80.0000 USD → 80.00,
    unless that would hide a fraction of a minor unit, which is then shown as stored."""
    if amount is None or amount == "":
        return ""
    try:
        value = to_decimal(amount)
        rounded = quantize(value, currency)
    except MoneyError:
        return str(amount)
    return str(rounded) if rounded == value else format(value.normalize(), "f")
