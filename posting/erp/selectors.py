"""Reads for the ERP screens and API. Run inside the tenant schema."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from connectors.models import Connection
from posting.erp.models import ErpPush, ErpTarget
from posting.models import JournalEntry


def pushes_list(*, status: str | None = None) -> QuerySet[ErpPush]:
    queryset = ErpPush.objects.select_related("entry", "connection").order_by("-updated_at", "-pk")
    return queryset.filter(status=status) if status else queryset


def push_summary() -> dict[str, int]:
    counts = dict(ErpPush.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in ErpPush.Status.values}


def entry_exists(*, entry_id: int) -> bool:
    return JournalEntry.objects.filter(pk=entry_id).exists()


def erp_target_delete_refusal(connection: Connection) -> str:
    """Why `connection` may not be deleted ("" when it may): it is the ERP target."""
    if ErpTarget.objects.filter(connection=connection).exists():
        return "This connection is the ERP target: point posting elsewhere before deleting it."
    return ""
