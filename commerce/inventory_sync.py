"""Debounced push of available-to-sell to the sales channels (issue 8, part 4).

A change marks (location, sku) in `StockChange` (commerce/inventory.py). After commit, at most one
push task per tenant is queued with a countdown (`INVENTORY_PUSH_DEBOUNCE_SECONDS`, 30 s by
default): a cache `add` is the gate, so a burst of 10,000 changes costs one task. The task drains
the queue and sends each channel connection one `push_available` call holding the latest ATS of
every changed SKU at every location it sells from, then records what the channel acknowledged.
A failed call becomes a triage exception (kind `inventory`) with a retry action; a lost task
leaves its rows for the per-minute sweep.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection as db
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from commerce.models import ChannelLocation, ChannelStock, StockChange, StockSync
from commerce.selectors import available_to_sell
from commerce.stock_low import stock_low_check
from triage.retry import RetryAction, retry_action
from triage.services import exception_raise, exception_resolve_for_object

if TYPE_CHECKING:
    from connectors.models import Connection

log = structlog.get_logger(__name__)

PUSH_GATE_KEY = "commerce:inventory-push-queued"
DRAIN_LIMIT = 20_000
CLAIM_TIMEOUT = dt.timedelta(minutes=15)


class ChannelPushFailed(Exception):
    """A retried push still did not land on the channel."""


class ChannelPushError(Exception):
    """A channel did not take the figures; `cause` says why (`channel_rejected`,
    `channel_unsupported`, `channel_<connector cause>`)."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


Levels = Mapping[tuple[str, str], Decimal]


@dataclass(frozen=True)
class SalesChannels:
    """What commerce needs of the sales channels' adapters (connectors/vendors/<vendor>/channel.py),
    which sit above it: the connectors app registers them from its ready(), commerce never imports
    them. `connections` gives the channel connections to push to (not paused), by id;
    `push_available` sets ATS per (sku, channel location) and returns what the channel shows,
    raising ChannelPushError when the channel does not take them."""

    vendors: Callable[[], tuple[str, ...]]
    connections: Callable[[Iterable[int]], dict[int, Connection]]
    push_available: Callable[[Connection, Levels], Levels]


_SALES_CHANNELS: list[SalesChannels] = []


def sales_channels_register(channels: SalesChannels) -> None:
    _SALES_CHANNELS[:] = [channels]


def sales_channel_vendors() -> tuple[str, ...]:
    """The connection vendors that are sales channels (none when no adapters are registered)."""
    return _SALES_CHANNELS[0].vendors() if _SALES_CHANNELS else ()


def _channel_push(channel: Connection, levels: Levels) -> Levels:
    if not _SALES_CHANNELS:
        raise ChannelPushError(
            f"No channel adapters are installed; {channel.vendor} cannot take inventory.", cause="channel_unsupported"
        )
    return _SALES_CHANNELS[0].push_available(channel, levels)


def _debounce_seconds() -> int:
    return int(getattr(settings, "INVENTORY_PUSH_DEBOUNCE_SECONDS", 30))


def _push_dispatch() -> None:
    """Queue the push task unless one is already waiting (the gate expires with its countdown)."""
    countdown = _debounce_seconds()
    if not cache.add(PUSH_GATE_KEY, "1", timeout=countdown + 5):
        return
    # The task by its registered name: commerce/tasks.py imports this module, not the other way round.
    inventory_push = current_app.tasks["commerce.inventory_push"]
    try:
        inventory_push.apply_async(countdown=countdown, retry=False)
    except Exception:  # broker down: the rows stay queued and the per-minute sweep pushes them
        cache.delete(PUSH_GATE_KEY)
        log.warning("commerce.inventory_push_dispatch_failed", exc_info=True)


def inventory_push_schedule() -> None:
    """After the current transaction commits, make sure a debounced push is queued (once per transaction)."""
    pending = getattr(db, "run_on_commit", [])
    if any(entry[1] is _push_dispatch for entry in pending):
        return
    transaction.on_commit(_push_dispatch)


@dataclass
class PushReport:
    changes: int = 0
    channels: int = 0
    acknowledged: int = 0
    mismatched: int = 0
    failed: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def _record(
    *,
    mappings: list[ChannelLocation],
    levels: dict[tuple[str, str], Decimal],
    shown: dict[tuple[str, str], Decimal] | None,
    error: str,
    report: PushReport,
) -> list[tuple[str, str]]:
    """Write one ChannelStock row per (mapping, sku) pushed; return the keys the channel disagrees on."""
    now = timezone.now()
    existing = {
        (stock.channel_location_id, stock.sku): stock
        for stock in ChannelStock.objects.filter(
            channel_location__in=mappings, sku__in={sku for sku, _ in levels}
        ).select_for_update()
    }
    creates, updates, disagreements = [], [], []
    for mapping in mappings:
        for (sku, channel_location_id), pushed in levels.items():
            if channel_location_id != mapping.channel_location_id:
                continue
            if shown is None:
                status, acknowledged, acknowledged_at = ChannelStock.Status.FAILED, None, None
                report.failed += 1
            else:
                acknowledged = shown.get((sku, channel_location_id))
                acknowledged = Decimal(acknowledged) if acknowledged is not None else None
                acknowledged_at = now
                if acknowledged == pushed:
                    status = ChannelStock.Status.ACKNOWLEDGED
                    report.acknowledged += 1
                else:
                    status = ChannelStock.Status.MISMATCH
                    report.mismatched += 1
                    disagreements.append((sku, channel_location_id))
            stock = existing.get((mapping.pk, sku))
            values = {
                "pushed_ats": pushed,
                "status": status,
                "error": error[:500],
                "pushed_at": now,
            }
            if shown is not None:
                values.update(acknowledged_ats=acknowledged, acknowledged_at=acknowledged_at)
            if stock is None:
                creates.append(ChannelStock(channel_location=mapping, sku=sku, **values))
            else:
                for name, value in values.items():
                    setattr(stock, name, value)
                updates.append(stock)
    ChannelStock.objects.bulk_create(creates)
    ChannelStock.objects.bulk_update(
        updates, ["pushed_ats", "status", "error", "pushed_at", "acknowledged_ats", "acknowledged_at"]
    )
    return disagreements


def _problem(*, channel: Connection, mappings: list[ChannelLocation], cause: str, detail: str, keys: int) -> None:
    """One occurrence per channel location affected, so a later success resolves exactly those
    (and never another kind of problem recorded on the connection itself)."""
    for mapping in mappings:
        exception_raise(
            kind="inventory",
            cause=cause,
            obj=mapping,
            title=f"{channel.name}: available-to-sell not accepted for {keys} SKU location(s)",
            detail=detail,
            context={
                "channel_connection_id": channel.pk,
                "channel_location_id": mapping.channel_location_id,
                "keys": keys,
            },
            severity="high" if cause != "channel_mismatch" else "normal",
            retry=RetryAction("commerce.inventory_push", {"channel_connection_id": channel.pk}),
            tags=("inventory", cause),
            object_label=f"{channel.name} at {mapping.location} (as {mapping.channel_location_id})"[:200],
        )


def _push_channel(
    *, channel: Connection, mappings: list[ChannelLocation], levels: dict[tuple[str, str], Decimal], report: PushReport
) -> bool:
    """One `push_available` call for one channel (no transaction open while it runs); then its
    outcome is recorded in one transaction. True when the channel shows exactly what was sent."""

    report.channels += 1
    sent_to = {channel_location for _, channel_location in levels}
    affected = [mapping for mapping in mappings if mapping.channel_location_id in sent_to]
    try:
        shown = dict(_channel_push(channel, levels))
    except Exception as error:  # one channel's failure, whatever it is, must not hold up the others
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        if isinstance(error, ChannelPushError):
            cause = error.cause
        else:
            cause = "channel_error"
            log.exception("commerce.inventory_push_crashed", channel=channel.pk)
        with transaction.atomic():
            _record(mappings=mappings, levels=levels, shown=None, error=message, report=report)
            _problem(channel=channel, mappings=affected, cause=cause, detail=message, keys=len(levels))
        report.errors[channel.pk] = message
        log.warning("commerce.inventory_push_failed", channel=channel.pk, cause=cause, error=message)
        return False
    with transaction.atomic():
        disagreements = _record(mappings=mappings, levels=levels, shown=shown, error="", report=report)
        disagreeing = {channel_location for _, channel_location in disagreements}
        for mapping in affected:
            if mapping.channel_location_id not in disagreeing:
                exception_resolve_for_object(obj=mapping, reason="Available-to-sell acknowledged")
        if not disagreements:
            return True
        sample = ", ".join(f"{sku}@{location}" for sku, location in disagreements[:5])
        message = f"The channel shows other figures than were sent for {len(disagreements)} key(s): {sample}."
        report.errors[channel.pk] = message
        _problem(
            channel=channel,
            mappings=[mapping for mapping in affected if mapping.channel_location_id in disagreeing],
            cause="channel_mismatch",
            detail=message,
            keys=len(disagreements),
        )
        return False


def _push(
    *, pairs: set[tuple[int, str]], report: PushReport, only_channel_id: int | None = None
) -> dict[tuple[int, str], int]:
    """Push the pairs' figures to their channels; return the pairs every channel selling them took
    as sent, with the number of those channels."""
    if not pairs:
        return {}
    changed = ChannelLocation.objects.filter(location_id__in={location_id for location_id, _ in pairs})
    if only_channel_id is not None:
        changed = changed.filter(channel_connection_id=only_channel_id)
    # The (sku, channel location) keys to send per channel. Several of our locations may feed one
    # channel location: its figure is their sum, so every sibling location is read too.
    keys: dict[int, set[tuple[str, str]]] = defaultdict(set)
    pair_channels: dict[tuple[int, str], set[int]] = defaultdict(set)
    for mapping in changed:
        for location_id, sku in pairs:
            if location_id == mapping.location_id:
                keys[mapping.channel_connection_id].add((sku, mapping.channel_location_id))
                pair_channels[(location_id, sku)].add(mapping.channel_connection_id)
    if not keys:
        return {}
    siblings: dict[int, list[ChannelLocation]] = defaultdict(list)
    for mapping in ChannelLocation.objects.filter(
        channel_connection_id__in=list(keys),
        channel_location_id__in={channel_location for found in keys.values() for _, channel_location in found},
    ):
        siblings[mapping.channel_connection_id].append(mapping)
    result = available_to_sell(
        skus={sku for _, sku in pairs},
        location_ids={mapping.location_id for found in siblings.values() for mapping in found},
    )
    pushable = {(row.location_id, row.sku): row.pushable for row in result.rows}
    channels = _SALES_CHANNELS[0].connections(keys) if _SALES_CHANNELS else {}
    took: set[int] = set()
    for channel_id in sorted(keys):
        channel = channels.get(channel_id)
        if channel is None:
            continue  # a removed or paused channel is sent nothing
        levels: dict[tuple[str, str], Decimal] = {}
        for sku, channel_location in sorted(keys[channel_id]):
            # A SKU with no level and no reservation left at a location has nothing to sell there: 0.
            levels[(sku, channel_location)] = sum(
                (
                    pushable.get((mapping.location_id, sku), Decimal(0))
                    for mapping in siblings[channel_id]
                    if mapping.channel_location_id == channel_location
                ),
                Decimal(0),
            )
        if _push_channel(channel=channel, mappings=siblings[channel_id], levels=levels, report=report):
            took.add(channel_id)
    live = {pk for pk in keys if pk in channels}
    return {pair: len(sent & live) for pair, sent in pair_channels.items() if sent & live and (sent & live) <= took}


def _syncs_record(*, changes: list[tuple[int, int, str, dt.datetime]], synced: dict[tuple[int, str], int]) -> None:
    """One StockSync row per drained change that every channel selling it acknowledged."""
    now = timezone.now()
    StockSync.objects.bulk_create(
        StockSync(location_id=location_id, sku=sku, received_at=received_at, synced_at=now, channels=synced[key])
        for _, location_id, sku, received_at in changes
        if (key := (location_id, sku)) in synced
    )


def inventory_push_due(*, limit: int = DRAIN_LIMIT) -> PushReport:
    """Drain the change queue: push the latest ATS of every changed (location, sku) to its channels.
    Rows are claimed in a short transaction (no lock is held while channels answer, so ingest never
    waits on a slow channel), deleted after the push unless they changed meanwhile, and taken over
    after CLAIM_TIMEOUT if this push dies. A channel call sets absolute figures, so a repeat is safe."""
    cache.delete(PUSH_GATE_KEY)  # from here on, a new change queues the next push
    report = PushReport()
    claimed_at = timezone.now()
    with transaction.atomic():
        changes = list(
            StockChange.objects.select_for_update(skip_locked=True)
            .filter(
                Q(claimed_at__isnull=True)
                | Q(claimed_at__lt=claimed_at - CLAIM_TIMEOUT)
                | Q(changed_at__gt=F("claimed_at"))
            )
            .order_by("pk")
            .values_list("pk", "location_id", "sku", "received_at")[:limit]
        )
        StockChange.objects.filter(pk__in=[pk for pk, *_ in changes]).update(claimed_at=claimed_at)
    report.changes = len(changes)
    pairs = {(location_id, sku) for _, location_id, sku, _ in changes}
    synced = _push(pairs=pairs, report=report)
    stock_low_check(pairs=pairs)
    _syncs_record(changes=changes, synced=synced)
    ids = [pk for pk, *_ in changes]
    StockChange.objects.filter(pk__in=ids, claimed_at=claimed_at, changed_at__lte=claimed_at).delete()
    # A row changed again during the push stays queued; its clock restarts at the claim (the new
    # change arrived after it).
    StockChange.objects.filter(pk__in=ids, changed_at__gt=claimed_at).update(received_at=claimed_at)
    if len(changes) == limit:
        inventory_push_schedule()
    log.info(
        "commerce.inventory_pushed",
        changes=report.changes,
        channels=report.channels,
        acknowledged=report.acknowledged,
        failed=report.failed,
    )
    return report


def inventory_push_channel(*, channel_connection_id: int) -> PushReport:
    """Push again every SKU whose last push to this channel failed or was not acknowledged as sent."""
    report = PushReport()
    stale = ChannelStock.objects.filter(channel_location__channel_connection_id=channel_connection_id).exclude(
        status=ChannelStock.Status.ACKNOWLEDGED
    )
    pairs = set(stale.values_list("channel_location__location_id", "sku"))
    _push(pairs=pairs, report=report, only_channel_id=channel_connection_id)
    return report


@retry_action("commerce.inventory_push")
def inventory_push_retry(channel_connection_id: int) -> None:
    report = inventory_push_channel(channel_connection_id=channel_connection_id)
    if report.errors:
        raise ChannelPushFailed(report.errors[channel_connection_id])


def inventory_stale_pending_at() -> dt.datetime | None:
    """When the oldest waiting change counts as stale for `inventory_push_stale_pending` (None: none waits)."""
    oldest = StockChange.objects.aggregate(at=Min("changed_at"))["at"]
    return oldest + dt.timedelta(seconds=2 * _debounce_seconds() + 1) if oldest is not None else None


def inventory_push_stale_pending() -> int:
    """Queue a push when changes have waited longer than twice the debounce (a lost task). Returns the count."""
    cutoff = timezone.now() - dt.timedelta(seconds=2 * _debounce_seconds())
    waiting = StockChange.objects.filter(changed_at__lt=cutoff).count()
    if waiting:
        _push_dispatch()
    return waiting
