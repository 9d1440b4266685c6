from decimal import Decimal

from django import template

from core.money import quantize
from triage.models import Kind

register = template.Library()


@register.filter
def spaced(value: str) -> str:
    """`retry_requested` → `retry requested`."""
    return str(value).replace("_", " ")


@register.filter
def kind_label(value: str) -> str:
    """A TriageIndex kind as people read it: `erp_push` → `ERP push`."""
    return Kind(value).label if value in Kind.values else str(value)


@register.filter
def at_risk(amount: Decimal | None, currency: str) -> str:
    """Money at risk as people read it: `1,234.50 EUR`, or `—` when nothing is held back."""
    if not amount or not currency:
        return "—"
    return f"{quantize(amount, currency):,} {currency}"
