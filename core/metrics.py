"""Business metrics for /metrics (issue 18): the flow of events, journals and ERP pushes.

The web (webhooks) and the worker (processing, posting, pushing) are different processes, often on
different hosts, and Celery's prefork children are processes of their own. Counters kept in each
process's memory would show the scraper only the web's share. So every metric lives in Redis (the
cache Redis every process already shares): a record is one pipelined round trip (HINCRBY), and the
web's /metrics reads them all back at scrape time through `RedisCollector` — one pipeline of HGETALLs,
whatever the number of tenants. No multiprocess directory, no push gateway, no per-process state.

Labels are bounded: vendor, topic (each vendor's fixed list), status, kind. A tenant is never a
label. The inbox backlog is one sorted set of unfinished events (member `schema:event id`, score =
received at), maintained by the inbox as events are stored and finished; the scrape reads its oldest
member and size (ZRANGE 0 0, ZCARD) instead of visiting 1,000 schemas.

A failure to record never fails the work it measures: it is logged and dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog
from django_redis import get_redis_connection
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

KEY_PREFIX = "tb:metrics:"
BACKLOG_KEY = f"{KEY_PREFIX}inbox:unfinished"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _redis():
    return get_redis_connection("default")


# Inside `metrics_batched()`: the writes waiting for its one pipeline.
_PENDING: ContextVar[list[Callable] | None] = ContextVar("metrics_pending", default=None)


def _record(write: Callable) -> None:
    pending = _PENDING.get()
    if pending is not None:
        pending.append(write)
        return
    _flush([write])


def _flush(writes: list[Callable]) -> None:
    if not writes:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for write in writes:
            write(pipe)
        pipe.execute()
    except Exception:  # a metric is never worth failing the work it measures (Redis down, ...)
        log.warning("metrics.record_failed", exc_info=True)


@contextmanager
def metrics_batched() -> Iterator[None]:
    """Every metric recorded inside the block goes to Redis in one pipelined round trip at its end
    (a batch of events finished is one round trip, not one per event)."""
    if _PENDING.get() is not None:  # already batched by an outer block
        yield
        return
    writes: list[Callable] = []
    token = _PENDING.set(writes)
    try:
        yield
    finally:
        _PENDING.reset(token)
        _flush(writes)


class RedisCounter:
    """A labelled counter in one Redis hash (field = the JSON list of label values)."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.key = f"{KEY_PREFIX}{name}"

    def _field(self, labels: dict[str, str], *suffix: str) -> str:
        return json.dumps([str(labels[name]) for name in self.labelnames] + list(suffix))

    def inc(self, amount: int = 1, **labels: str) -> None:
        _record(lambda pipe: pipe.hincrby(self.key, self._field(labels), amount))

    def family(self, stored: dict[bytes, bytes]) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name.removesuffix("_total"), self.documentation, labels=self.labelnames)
        for field, value in sorted(stored.items()):
            family.add_metric(json.loads(field), float(value))
        return family


class RedisHistogram(RedisCounter):
    """A labelled histogram: one hash field per (labels, bucket), plus the sum and the count. Each
    observation lands in one bucket; the scrape makes them cumulative, as Prometheus expects."""

    kind = "histogram"

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], buckets=LATENCY_BUCKETS) -> None:
        super().__init__(name, documentation, labelnames)
        self.buckets = tuple(float(bound) for bound in buckets)

    def observe(self, seconds: float, **labels: str) -> None:
        seconds = max(0.0, float(seconds))
        bucket = next((str(bound) for bound in self.buckets if seconds <= bound), "+Inf")

        def write(pipe) -> None:
            pipe.hincrby(self.key, self._field(labels, "bucket", bucket), 1)
            pipe.hincrby(self.key, self._field(labels, "count"), 1)
            pipe.hincrbyfloat(self.key, self._field(labels, "sum"), seconds)

        _record(write)

    def family(self, stored: dict[bytes, bytes]) -> HistogramMetricFamily:
        series: dict[tuple[str, ...], dict[str, float]] = {}
        width = len(self.labelnames)
        for field, value in stored.items():
            items = json.loads(field)
            values, rest = tuple(items[:width]), items[width:]
            series.setdefault(values, {})[rest[-1]] = float(value)  # a bucket's bound, "count" or "sum"
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, parts in sorted(series.items()):
            running, cumulative = 0.0, []
            for bound in (*[str(bound) for bound in self.buckets], "+Inf"):
                running += parts.get(bound, 0.0)
                cumulative.append((bound, running))
            family.add_metric(list(values), cumulative, sum_value=parts.get("sum", 0.0))
        return family


EVENTS_RECEIVED = RedisCounter(
    "tillbridge_events_received_total", "Inbound events stored (webhook or poll).", ("vendor", "topic", "source")
)
EVENTS_PROCESSED = RedisCounter(
    "tillbridge_events_processed_total",
    "Inbound events finished successfully (outcome processed, or ignored: nothing to apply).",
    ("vendor", "topic", "outcome"),
)
EVENTS_FAILED = RedisCounter(
    "tillbridge_events_failed_total", "Inbound event attempts that failed and will be retried.", ("vendor", "topic")
)
EVENTS_DEAD = RedisCounter(
    "tillbridge_events_dead_total", "Inbound events given up on (a dead letter in triage).", ("vendor", "topic")
)
EVENT_LATENCY = RedisHistogram(
    "tillbridge_event_processing_seconds", "From an event's receipt to its processing.", ("vendor", "topic")
)
JOURNALS_POSTED = RedisCounter(
    "tillbridge_journals_posted_total", "Journal entries posted (order, refund, payout, ...).", ("kind",)
)
JOURNALS_PUSHED = RedisCounter(
    "tillbridge_journals_pushed_total", "Journal pushes acknowledged by the ERP.", ("vendor",)
)
JOURNALS_PUSH_FAILED = RedisCounter(
    "tillbridge_journals_push_failed_total", "Journal pushes the ERP refused or never answered.", ("vendor", "error")
)
ERP_PUSH_LATENCY = RedisHistogram(
    "tillbridge_erp_push_seconds", "From a push's claim to the ERP's answer.", ("vendor", "status")
)
SYNC_RUNS = RedisCounter("tillbridge_sync_runs_total", "Polling sync runs finished.", ("vendor", "status"))
SYNC_RUN_DURATION = RedisHistogram(
    "tillbridge_sync_run_seconds", "From a sync run's start to its end.", ("vendor", "status")
)
DEAD_LETTERS = RedisCounter("tillbridge_dead_letters_total", "Work given up on, by where it died.", ("source",))
WEBHOOK_REJECTED = RedisCounter(
    "tillbridge_webhook_signature_failures_total", "Webhooks refused by signature verification.", ("vendor",)
)
FAIR_PUMPS_RESENT = RedisCounter(
    "tillbridge_fair_pumps_resent_total",
    "Fair-queue pump tokens re-sent for waiting jobs that had none (lost tokens).",
    ("queue",),
)
METRICS = (
    EVENTS_RECEIVED,
    EVENTS_PROCESSED,
    EVENTS_FAILED,
    EVENTS_DEAD,
    EVENT_LATENCY,
    JOURNALS_POSTED,
    JOURNALS_PUSHED,
    JOURNALS_PUSH_FAILED,
    ERP_PUSH_LATENCY,
    SYNC_RUNS,
    SYNC_RUN_DURATION,
    DEAD_LETTERS,
    WEBHOOK_REJECTED,
    FAIR_PUMPS_RESENT,
)


def _seconds_since(at: dt.datetime | None) -> float:
    return (dt.datetime.now(dt.UTC) - at).total_seconds() if at is not None else 0.0


# What the services call: one line where the work happens.


def event_received(
    *, vendor: str, topic: str, source: str, held: bool, backlog_member: str, received_at: dt.datetime
) -> None:
    """A new event was stored; unless held (its tenant is suspended) it joins the backlog until it
    is finished."""
    EVENTS_RECEIVED.inc(vendor=vendor, topic=topic, source=source)
    if not held:
        _record(lambda pipe: pipe.zadd(BACKLOG_KEY, {backlog_member: received_at.timestamp()}))


def event_finished(*, vendor: str, topic: str, status: str, backlog_member: str, received_at: dt.datetime) -> None:
    """An attempt at an event ended with `status` (processed, ignored, failed or dead)."""
    if status in ("processed", "ignored"):
        EVENTS_PROCESSED.inc(vendor=vendor, topic=topic, outcome=status)
        EVENT_LATENCY.observe(_seconds_since(received_at), vendor=vendor, topic=topic)
    elif status == "failed":
        EVENTS_FAILED.inc(vendor=vendor, topic=topic)
        return  # still unfinished: it stays in the backlog
    elif status == "dead":
        EVENTS_DEAD.inc(vendor=vendor, topic=topic)
        dead_letter(source="inbound_event")
    _record(lambda pipe: pipe.zrem(BACKLOG_KEY, backlog_member))


def journal_posted(*, source_key: str) -> None:
    JOURNALS_POSTED.inc(kind=source_key.partition(":")[0] or "other")


def erp_push_answered(*, vendor: str, error: str, claimed_at: dt.datetime | None) -> None:
    """The ERP acknowledged a push (`error` empty) or refused it (`error` = the error kind)."""
    status = "failed" if error else "acked"
    if error:
        JOURNALS_PUSH_FAILED.inc(vendor=vendor, error=error)
    else:
        JOURNALS_PUSHED.inc(vendor=vendor)
    ERP_PUSH_LATENCY.observe(_seconds_since(claimed_at), vendor=vendor, status=status)


def sync_run_finished(*, vendor: str, status: str, started_at: dt.datetime | None) -> None:
    SYNC_RUNS.inc(vendor=vendor, status=status)
    SYNC_RUN_DURATION.observe(_seconds_since(started_at), vendor=vendor, status=status)


def dead_letter(*, source: str) -> None:
    """Work given up on after its last automatic attempt (an outbound webhook delivery, ...)."""
    DEAD_LETTERS.inc(source=source)


def fair_pumps_resent(*, queue: str, count: int) -> None:
    """`count` waiting jobs of a fair queue had no pump token: new ones were sent (core/fairness.py)."""
    FAIR_PUMPS_RESENT.inc(count, queue=queue)


def webhook_signature_failed(*, vendor: str) -> None:
    WEBHOOK_REJECTED.inc(vendor=vendor)


class RedisCollector(Collector):
    """Reads every business metric back from Redis at scrape time: one pipelined round trip."""

    def describe(self) -> list:
        """Nothing up front: registering must not read Redis (it may not be reachable at start-up,
        e.g. `check --deploy`); the metrics appear when they are scraped."""
        return []

    def collect(self) -> Iterator:
        try:
            pipe = _redis().pipeline(transaction=False)
            for metric in METRICS:
                pipe.hgetall(metric.key)
            pipe.zrange(BACKLOG_KEY, 0, 0, withscores=True)
            pipe.zcard(BACKLOG_KEY)
            *stored, oldest, size = pipe.execute()
        except Exception:  # Redis down: the scrape still answers with the process's own metrics
            log.warning("metrics.collect_failed", exc_info=True)
            return
        for metric, values in zip(METRICS, stored, strict=True):
            yield metric.family(values)
        age = max(0.0, time.time() - oldest[0][1]) if oldest else 0.0
        yield GaugeMetricFamily(
            "tillbridge_inbox_oldest_unprocessed_seconds", "Age of the oldest event not yet processed.", value=age
        )
        yield GaugeMetricFamily("tillbridge_inbox_unprocessed_events", "Events not yet processed.", value=size)


COLLECTOR = RedisCollector()
REGISTRY.register(COLLECTOR)
