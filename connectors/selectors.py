"""Reads for the connector screens and API (tenant schema: run inside the tenant's context)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from connectors.models import Connection, InboundEvent, SyncRun
from core.selectors import status_search_filter


def connections_list() -> QuerySet[Connection]:
    return Connection.objects.all().order_by("name", "pk")


def connection_get(*, connection_id: int) -> Connection | None:
    return Connection.objects.filter(pk=connection_id).first()


def connections_unpaused(ids: Iterable[int]) -> dict[int, Connection]:
    """The connections with these ids that are not paused, by id (removed ones are absent)."""
    found = Connection.objects.in_bulk(list(ids))
    return {pk: connection for pk, connection in found.items() if connection.status != Connection.Status.PAUSED}


def sync_runs_list(*, connection: Connection | None = None, status: str | None = None) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("connection")
    if connection is not None:
        runs = runs.filter(connection=connection)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-queued_at", "-pk")


def sync_run_get(*, run_id: int) -> SyncRun | None:
    return SyncRun.objects.select_related("connection").filter(pk=run_id).first()


def events_list(
    *, connection: Connection | None = None, status: str | None = None, search: str = ""
) -> QuerySet[InboundEvent]:
    events = InboundEvent.objects.select_related("connection").defer("body")
    if connection is not None:
        events = events.filter(connection=connection)
    events = status_search_filter(events, status=status, search=search, search_fields=("topic", "external_id"))
    return events.order_by("-received_at", "-pk")


def event_get(*, event_id: int) -> InboundEvent | None:
    return InboundEvent.objects.select_related("connection", "sync_run").filter(pk=event_id).first()


def event_body_get(*, event_id: int | None) -> tuple[str, str] | None:
    """(topic, body) of one stored event, or None when there is none."""
    if not event_id:
        return None
    return InboundEvent.objects.filter(pk=event_id).values_list("topic", "body").first()


def event_counts(*, connection: Connection) -> dict[str, int]:
    return dict(connection.events.values_list("status").annotate(count=Count("pk")).values_list("status", "count"))


# ---- reads for the portal's dashboard and order trace (portal/dashboard.py, portal/trace.py) ----


def events_received_at(*, event_ids: Iterable[int]) -> dict[int, dt.datetime]:
    return dict(InboundEvent.objects.filter(pk__in=set(event_ids)).values_list("pk", "received_at"))


def events_backlog_counts() -> dict[str, int]:
    """Vendor events not yet turned into documents, by state (received, processing, failed)."""
    waiting = ("received", "processing", "failed")
    rows = InboundEvent.objects.filter(status__in=waiting).values("status").annotate(n=Count("pk"))
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in waiting}


def events_for_document(*, raw_event_id: int | None, connection_id: int | None, external_id: str) -> list[InboundEvent]:
    """The raw event a document came from and every other event about it on its connection."""
    events = Q(pk=raw_event_id) if raw_event_id else Q(pk__in=[])
    if connection_id:
        events |= Q(connection_id=connection_id, external_id=external_id)
    return list(InboundEvent.objects.filter(events).order_by("received_at", "pk"))
