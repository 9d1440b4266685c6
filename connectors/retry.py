"""Retry actions for connector problems (triage calls them; each raises unless it succeeded)."""

from __future__ import annotations

import json
from typing import Any

from commerce.models import ChannelSku
from connectors.inbox import event_process, event_replay, event_store
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.sync import sync_run_start
from connectors.vendors.skus import SKU_MAP_RETRY, sku_map_refresh
from triage.retry import retry_action


class ReplayFailed(Exception):
    pass


@retry_action("connectors.replay")
def replay(event_id: int, payload: Any = None) -> None:
    """Run the stored event again; with an edited payload, store that as a new event and run it."""
    event = InboundEvent.objects.select_related("connection").get(pk=event_id)
    if payload is not None:
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        event, _ = event_store(
            connection=event.connection,
            topic=event.topic,
            external_id=event.external_id,
            body=body,
            source=event.source,
            dispatch=False,
        )
    event_replay(event=event, dispatch=False)
    result = event_process(event_id=event.pk)
    if result is None or result.status not in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED):
        raise ReplayFailed(result.last_error if result else "The event is gone.")


@retry_action("connectors.sync")
def sync(connection_id: int) -> None:
    sync_run_start(connection=Connection.objects.get(pk=connection_id), kind=SyncRun.Kind.MANUAL)


@retry_action(SKU_MAP_RETRY)
def sku_map(connection_id: int) -> None:
    """Read the channel's catalog again; fails while an item named in the inbox still has no SKU."""
    connection = Connection.objects.get(pk=connection_id)
    sku_map_refresh(connection=connection)
    missing = ChannelSku.objects.filter(source_connection_id=connection_id, sku="").values_list(
        "channel_item_id", flat=True
    )
    if missing:
        raise ReplayFailed(f"Still without a SKU in the catalog: {', '.join(sorted(missing)[:20])}.")
