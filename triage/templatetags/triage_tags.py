from django import template

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
