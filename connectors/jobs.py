"""Periodic work per tenant (core.periodic: run when due, tenants/due.py): sweep the inbox, start
due syncs, resume stalled runs; and on a tenant's resume, process what its suspension held. Each
job says when it is next due from its own rows (`*_next_due`)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce

from commerce.fulfilment_selectors import waiting_requests
from commerce.routing import orders_to_route
from connectors.fulfilment import MAX_SEND_ATTEMPTS, orders_route_and_send
from connectors.inbox import SWEEP_AFTER, events_release_on_resume, events_sweep
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.oauth import REFRESH_AHEAD, tokens_refresh_due
from connectors.sync import ACTIVE as RUN_ACTIVE
from connectors.sync import STALLED_AFTER, pollable, sync_runs_resume_stalled, sync_runs_start_due
from core.periodic import earliest, periodic_job
from tenants.lifecycle import on_tenant_resume
from tenants.selectors import tenant_current_suspended
from tenants.usage import usage_gauge_set

E = InboundEvent.Status


def inbox_next_due(now: dt.datetime) -> dt.datetime | None:
    """When `events_sweep` has work: a received or processing event once its task may be lost, a
    failed one at its retry, held ones at once (the tenant is active again). Nothing while suspended:
    the resume marks the tenant."""
    if tenant_current_suspended():
        return None
    sweepable = ~Q(connection__status=Connection.Status.PAUSED)
    row = InboundEvent.objects.filter(status__in=(E.RECEIVED, E.PROCESSING, E.FAILED, E.HELD)).aggregate(
        waiting=Min("received_at", filter=Q(status__in=(E.RECEIVED, E.PROCESSING)) & sweepable),
        retry=Min("next_attempt_at", filter=Q(status=E.FAILED) & sweepable),
        held=Count("pk", filter=Q(status=E.HELD)),
    )
    waiting = row["waiting"] + SWEEP_AFTER if row["waiting"] is not None else None
    return earliest(waiting, row["retry"], now if row["held"] else None)


@periodic_job("connectors.inbox_sweep", next_due=inbox_next_due, upstream=True)
def inbox_sweep() -> int:
    return events_sweep()


def syncs_next_due(now: dt.datetime) -> dt.datetime | None:
    """A pollable connection's next scheduled sync; a queued or running run when it would stall."""
    if tenant_current_suspended():
        return None
    polled = [
        connection.next_sync_at or now
        for connection in Connection.objects.filter(
            status=Connection.Status.ACTIVE, direction=Connection.Direction.SOURCE
        )
        if pollable(connection) and connection.has_credentials and not connection.config.get("simulated")
    ]
    alive = SyncRun.objects.filter(status__in=RUN_ACTIVE).aggregate(at=Min(Coalesce("heartbeat_at", "queued_at")))
    stalls = alive["at"] + STALLED_AFTER if alive["at"] is not None else None
    return earliest(*polled, stalls)


@periodic_job("connectors.syncs_due", next_due=syncs_next_due, upstream=True)
def syncs_due() -> int:
    return len(sync_runs_start_due()) + sync_runs_resume_stalled()


def fulfilment_next_due(now: dt.datetime) -> dt.datetime | None:
    """At the next beat while an order waits to be routed or a request to be sent."""
    waiting = orders_to_route(limit=1) or waiting_requests(max_attempts=MAX_SEND_ATTEMPTS)
    return now if waiting else None


@periodic_job("connectors.fulfilment_route_send", next_due=fulfilment_next_due)
def fulfilment_route_send() -> int:
    """Route paid orders to locations and send waiting requests to their warehouse systems."""
    return orders_route_and_send()


def tokens_next_due(now: dt.datetime) -> dt.datetime | None:
    """A day before the first access token that `tokens_refresh_due` renews expires."""
    expires = Connection.objects.filter(
        vendor=Connection.Vendor.SQUARE, status=Connection.Status.ACTIVE, token_expires_at__isnull=False
    ).aggregate(at=Min("token_expires_at"))["at"]
    return expires - REFRESH_AHEAD if expires is not None else None


@periodic_job("connectors.tokens_refresh", next_due=tokens_next_due)
def tokens_refresh() -> int:
    return tokens_refresh_due()


def meter_next_due(now: dt.datetime) -> dt.datetime | None:
    """Tomorrow (UTC, the usage day) while connections are active: the gauge is a day's value. With
    none, nothing until a connection is written (which marks the tenant)."""
    if not Connection.objects.filter(status=Connection.Status.ACTIVE).exists():
        return None
    return dt.datetime.combine(now.astimezone(dt.UTC).date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@periodic_job("connectors.active_connections_meter", next_due=meter_next_due)
def active_connections_meter() -> int:
    """Today's active-connection count for billing (a gauge: rewritten, never added up)."""
    count = Connection.objects.filter(status=Connection.Status.ACTIVE).count()
    usage_gauge_set(metric="active_connections", value=count)
    return count


@on_tenant_resume("connectors.release_held")
def release_held_on_resume() -> None:
    events_release_on_resume()
