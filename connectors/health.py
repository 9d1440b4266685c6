"""The inbox's flow-health signals (triage/health.py): backlog age, sync latency p95, and each
sales channel's orders per hour against its own hour-of-week baseline.

Backlog and latency are one indexed query each on the tenant's events (status, received_at).
Channel silence needs each connection's order events per hour over past weeks; keeping every
event row that long is not this module's business, so the inbox counts them as they are stored:
one Redis hash per connection (field = the hour since the epoch, plus `since`, the first hour
counted), HINCRBY after commit. A check reads the few fields it needs (HMGET: this hour, the
last, and the last hour's hour of the week in each of the past weeks) and drops the field that
has just left the window, so a hash holds about SILENCE_WEEKS weeks of hours.
"""

from __future__ import annotations

import datetime as dt

import structlog
from django.db import connection as db
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Min
from django_redis import get_redis_connection

from connectors.models import Connection, InboundEvent
from triage.health import SILENCE_WEEKS, Measure, health_signal
from triage.partner.models import AlertRule

log = structlog.get_logger(__name__)
Trigger = AlertRule.Trigger
UNFINISHED = (InboundEvent.Status.RECEIVED, InboundEvent.Status.PROCESSING, InboundEvent.Status.FAILED)
FINISHED = (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED)
WEEK_HOURS = 7 * 24
KEY_TTL_SECONDS = (SILENCE_WEEKS + 1) * WEEK_HOURS * 3600  # a connection gone quiet for good is forgotten


def counts_as_order(topic: str) -> bool:
    """Order events (created, updated, paid…; polled `orders`) and a processor's charges."""
    lowered = topic.lower()
    return "order" in lowered or lowered.startswith("charge.")


def _hour(at: dt.datetime) -> int:
    return int(at.timestamp() // 3600)


def _key(schema: str, connection_id: int) -> str:
    return f"tb:health:orders:{schema}:{connection_id}"


def order_event_count(*, schema: str, connection_id: int, topic: str, at: dt.datetime) -> None:
    """Count one stored order event in its connection's hour (after commit; never fails the store)."""
    if not counts_as_order(topic):
        return
    try:
        key = _key(schema, connection_id)
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.hincrby(key, str(_hour(at)), 1)
        pipe.hsetnx(key, "since", _hour(at))
        pipe.expire(key, KEY_TTL_SECONDS)
        pipe.execute()
    except Exception:  # a lost count weakens one baseline hour; it must not fail the webhook
        log.warning("connectors.order_count_failed", connection_id=connection_id, exc_info=True)


@health_signal(Trigger.BACKLOG_AGE)
def backlog_age(window_minutes: int, now: dt.datetime) -> list[Measure]:
    """Minutes the oldest unfinished event (received, processing, or failed and waiting) has waited."""
    oldest = InboundEvent.objects.filter(status__in=UNFINISHED).aggregate(oldest=Min("received_at"))["oldest"]
    if oldest is None:
        return []
    minutes = max(0.0, (now - oldest).total_seconds() / 60)
    return [Measure(key="flow", value=minutes, label="Inbound events", context={"oldest": oldest.isoformat()})]


class _P95(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


@health_signal(Trigger.SYNC_LATENCY)
def sync_latency(window_minutes: int, now: dt.datetime) -> list[Measure]:
    """p95 seconds from receipt to processing of the events received in the window and finished."""
    waited = ExpressionWrapper(F("processed_at") - F("received_at"), output_field=DurationField())
    rows = InboundEvent.objects.filter(
        status__in=FINISHED, received_at__gte=now - dt.timedelta(minutes=window_minutes), processed_at__isnull=False
    )
    found = rows.aggregate(p95=_P95(waited), events=Count("pk"))
    if not found["events"]:
        return []
    return [Measure(key="flow", value=float(found["p95"]), label="Inbound events", context={"events": found["events"]})]


def _hours_wanted(now: dt.datetime) -> tuple[int, int, list[int]]:
    current = _hour(now)
    last = current - 1
    return current, last, [last - WEEK_HOURS * weeks for weeks in range(1, SILENCE_WEEKS + 1)]


@health_signal(Trigger.CHANNEL_SILENCE)
def channel_silence(window_minutes: int, now: dt.datetime) -> list[Measure]:
    """Each active sales channel: its order events in the last complete hour (or this hour so far,
    whichever is more) and the same hour of the week in each past week it was counted."""
    channels = list(Connection.objects.filter(direction=Connection.Direction.SOURCE, status=Connection.Status.ACTIVE))
    if not channels:
        return []
    current, last, past = _hours_wanted(now)
    fields = [str(current), str(last), *(str(hour) for hour in past), "since"]
    pipe = get_redis_connection("default").pipeline(transaction=False)
    for channel in channels:
        key = _key(db.schema_name, channel.pk)
        pipe.hmget(key, fields)
        pipe.hdel(key, str(last - WEEK_HOURS * (SILENCE_WEEKS + 1)))  # just left the window
    answers = pipe.execute()[::2]
    measures = []
    for channel, values in zip(channels, answers, strict=True):
        counts = [int(value or 0) for value in values[:-1]]
        since = int(values[-1]) if values[-1] is not None else None
        if since is None:
            continue  # never counted an order: nothing to compare
        baseline = tuple(count for hour, count in zip(past, counts[2:], strict=True) if hour >= since)
        measures.append(
            Measure(
                key=f"connection:{channel.pk}",
                value=float(max(counts[0], counts[1])),
                label=channel.name,
                obj=channel,
                baseline=baseline,
                context={"hour": dt.datetime.fromtimestamp(last * 3600, dt.UTC).isoformat(), "weeks": len(baseline)},
            )
        )
    return measures
