"""Per-minute work for every tenant (core.periodic fan-out): sweep the inbox, start due syncs,
resume stalled runs; and on a tenant's resume, process what its suspension held."""

from __future__ import annotations

from connectors.fulfilment import orders_route_and_send
from connectors.inbox import events_release_on_resume, events_sweep
from connectors.models import Connection
from connectors.oauth import tokens_refresh_due
from connectors.sync import sync_runs_resume_stalled, sync_runs_start_due
from core.periodic import periodic_job
from tenants.lifecycle import on_tenant_resume
from tenants.usage import usage_gauge_set


@periodic_job("connectors.inbox_sweep")
def inbox_sweep() -> int:
    return events_sweep()


@periodic_job("connectors.syncs_due")
def syncs_due() -> int:
    return len(sync_runs_start_due()) + sync_runs_resume_stalled()


@periodic_job("connectors.fulfilment_route_send")
def fulfilment_route_send() -> int:
    """Route paid orders to locations and send waiting requests to their warehouse systems."""
    return orders_route_and_send()


@periodic_job("connectors.tokens_refresh")
def tokens_refresh() -> int:
    return tokens_refresh_due()


@periodic_job("connectors.active_connections_meter")
def active_connections_meter() -> int:
    """Today's active-connection count for billing (a gauge: rewritten, never added up)."""
    count = Connection.objects.filter(status=Connection.Status.ACTIVE).count()
    usage_gauge_set(metric="active_connections", value=count)
    return count


@on_tenant_resume("connectors.release_held")
def release_held_on_resume() -> None:
    events_release_on_resume()
