"""Flow-health alerts (issue 18): alert rules on how the flow is doing, not on one failure.

A tenant's periodic check (`flow_health_check`, once a minute) measures what its partner's and its
own active flow-health rules ask about, each through a *signal* the app that owns the data
registers here (triage sits below them): the oldest unprocessed event and the p95 sync latency
(connectors), how long the ERP target has been unreachable (posting.erp), and each sales channel's
orders in the last hour against its own hour-of-week baseline (connectors). A check costs the
rules' query, one query for the open flow-health exceptions and one query per trigger in use.

A breach opens an *episode*: the condition is raised into the inbox (kind `flow_health`, the cause
is the trigger, one occurrence per subject: the tenant's flow, or one connection) and each rule it
breaches alerts once (its emails and the signed `exception.alert` webhook). The episode's dedupe
key lives in Redis while the condition holds and for COOLDOWN_SECONDS after, so a flapping
condition does not alert again within the cool-down. When the condition clears its occurrence is
resolved, and the group with it once no subject is left.

The worker heartbeat is platform-wide: `worker_heartbeat_check` runs outside Celery (the
`flow_health_platform` command, from cron), because a check run by the workers cannot notice that
the workers are gone; it alerts partner-wide `worker_heartbeat` rules only.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog
from django.conf import settings
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_redis import get_redis_connection

from core.registry import registering
from tenants.models import Tenant
from triage import alerts, services
from triage.models import OPEN_STATUSES, Kind, Occurrence
from triage.models import Exception as TriageException
from triage.partner.models import TENANT_HEALTH_TRIGGERS, AlertRule

log = structlog.get_logger(__name__)
Trigger = AlertRule.Trigger

COOLDOWN_SECONDS = 3600
MAD_SCALE = 1.4826  # MAD * this estimates the standard deviation of normally distributed counts
MIN_WEEKS = 3  # fewer weeks of a channel's history: no baseline yet, no silence alert
SILENCE_WEEKS = 8  # the baseline: the same hour of the week over the past 8 weeks


@dataclass(frozen=True)
class Measure:
    """One subject of a signal: the tenant's whole flow (key "flow") or one connection."""

    key: str  # stable per subject ("flow", "connection:12"): one episode per rule and key
    value: float  # compared with the rule's threshold: minutes, seconds, or orders last hour
    label: str
    obj: models.Model | None = None
    baseline: tuple[int, ...] = ()  # channel silence: the same hour of the week, past weeks
    context: dict[str, Any] = field(default_factory=dict)


Signal = Callable[[int, dt.datetime], list[Measure]]  # (the rule's window in minutes, now)
_SIGNALS: dict[str, Signal] = {}


def health_signal(trigger: str) -> Callable[[Signal], Signal]:
    """Register the function that measures one trigger in the current tenant schema."""
    return registering(_SIGNALS, trigger)


# ---- the channel-silence statistic ----------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    median: float
    mad: float
    floor: float  # observed counts below this are unusual: median - 3 * MAD * 1.4826
    zeroish: float  # and at most this is "next to nothing": a tenth of the median, at least 1


def silence_baseline(counts: Sequence[int]) -> Baseline:
    median = statistics.median(counts)
    mad = statistics.median(abs(count - median) for count in counts)
    return Baseline(median, mad, median - 3 * mad * MAD_SCALE, max(1.0, median / 10))


def channel_silent(*, baseline: Sequence[int], observed: int, min_expected: int) -> bool:
    """Whether a channel that sent `baseline` orders in this hour of the week in past weeks has
    gone silent, sending `observed`. Median and MAD, not mean and deviation, so one odd week (a
    sale, an outage) moves nothing. Never with under MIN_WEEKS weeks of history, and never when
    the usual count is under `min_expected` (a quiet Sunday night at 0 or 1 orders is not an alert)."""
    if len(baseline) < MIN_WEEKS:
        return False
    stats = silence_baseline(baseline)
    if stats.median < max(1, min_expected):
        return False
    return observed < stats.floor and observed <= stats.zeroish


# ---- the tenant check -----------------------------------------------------------------------


def _breaches(rule: AlertRule, measure: Measure) -> bool:
    if rule.trigger == Trigger.CHANNEL_SILENCE:
        return channel_silent(baseline=measure.baseline, observed=int(measure.value), min_expected=rule.threshold)
    if rule.trigger == Trigger.SYNC_LATENCY:
        return measure.value > rule.threshold
    return measure.value >= max(1, rule.threshold)  # backlog and ERP: minutes


def _title(trigger: str, measure: Measure, rule: AlertRule) -> str:
    value = round(measure.value)
    if trigger == Trigger.BACKLOG_AGE:
        return f"Backlog: the oldest unprocessed event has waited {value} minutes"
    if trigger == Trigger.SYNC_LATENCY:
        return f"Sync latency: p95 of {value} s from receipt to processing in the last {rule.window_minutes} min"
    if trigger == Trigger.ERP_UNREACHABLE:
        return f"{measure.label} has been unreachable for {value} minutes"
    usual = silence_baseline(measure.baseline).median if measure.baseline else 0
    return f"{measure.label} sent {value} orders in the last hour (usually {usual:g})"


@dataclass
class _Breach:
    trigger: str
    measure: Measure
    rules: list[AlertRule]


def _measure_all(rules: Iterable[AlertRule], now: dt.datetime) -> tuple[dict[tuple[str, str], _Breach], set[str]]:
    """Every breach (trigger, subject key) → its measure and the rules it breaches; and the
    triggers that could not be measured (their open exceptions are left as they are)."""
    measured: dict[tuple[str, int], list[Measure]] = {}
    failed: set[str] = set()
    breaches: dict[tuple[str, str], _Breach] = {}
    for rule in rules:
        signal = _SIGNALS.get(rule.trigger)
        if signal is None or rule.trigger in failed:
            failed.add(rule.trigger)
            continue
        window = rule.window_minutes if rule.trigger == Trigger.SYNC_LATENCY else 0
        if (rule.trigger, window) not in measured:
            try:
                measured[(rule.trigger, window)] = signal(window, now)
            except Exception:  # one failing signal must not stop the others; logged, retried next minute
                log.exception("triage.health_signal_failed", trigger=rule.trigger)
                failed.add(rule.trigger)
                continue
        for measure in measured[(rule.trigger, window)]:
            if _breaches(rule, measure):
                breaches.setdefault((rule.trigger, measure.key), _Breach(rule.trigger, measure, [])).rules.append(rule)
    return breaches, failed


def _open_health_occurrences() -> dict[tuple[str, str], Occurrence]:
    rows = (
        Occurrence.objects.filter(
            exception__kind=Kind.FLOW_HEALTH, exception__status__in=OPEN_STATUSES, resolved_at=None
        )
        .select_related("exception")
        .order_by()
    )
    return {(row.exception.cause, str(row.context.get("health_key", ""))): row for row in rows}


def _episode_claim(key: str) -> bool:
    """A new episode (True) or one under way; either way the key lives COOLDOWN_SECONDS more."""
    client = get_redis_connection("default")
    redis_key = f"tb:alert:health:{key}"
    if client.set(redis_key, 1, nx=True, ex=COOLDOWN_SECONDS):
        return True
    client.expire(redis_key, COOLDOWN_SECONDS)
    return False


def _raise(breach: _Breach) -> TriageException:
    measure, rule = breach.measure, breach.rules[0]
    return services.exception_raise(
        kind=Kind.FLOW_HEALTH,
        cause=breach.trigger,
        title=_title(breach.trigger, measure, rule),
        obj=measure.obj,
        object_label=measure.label,
        detail=rule.get_trigger_display(),
        context={**measure.context, "health_key": measure.key, "value": round(measure.value, 1)},
        tags=("flow_health", breach.trigger),
    )


def _alert(breach: _Breach, exception: TriageException, tenant: Tenant) -> int:
    sent = 0
    for rule in breach.rules:
        if not _episode_claim(f"{rule.pk}:{tenant.pk}:{breach.measure.key}"):
            continue
        health = {"value": round(breach.measure.value, 1), "threshold": rule.threshold, "subject": breach.measure.key}
        alerts.alert_deliver(rule=rule, tenant=tenant, exception=exception, health=health)
        sent += 1
    return sent


def _tenant_rules(tenant) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True),
        partner_id=tenant.partner_id,
        active=True,
        trigger__in=TENANT_HEALTH_TRIGGERS,
    )


def flow_health_next_due(now: dt.datetime) -> dt.datetime | None:
    """The check watches for what does not happen (silence, a backlog ageing): while a flow-health
    rule applies to the tenant, or one of its breaches is open, it is due at every beat; otherwise
    only a new rule (a write that marks the tenant) gives it work."""
    if _tenant_rules(connection.tenant).exists() or _open_health_occurrences():
        return now
    return None


def flow_health_check(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Measure the current tenant's flow against its active flow-health rules: raise and alert
    each new breach once, resolve what cleared. Returns the alerts sent and subjects resolved."""
    tenant = connection.tenant
    now = now or timezone.now()
    rules = list(_tenant_rules(tenant).order_by("pk"))
    open_now = _open_health_occurrences()
    if not rules and not open_now:
        return {"alerts": 0, "resolved": 0}
    breaches, unmeasured = _measure_all(rules, now)
    sent = 0
    for subject, breach in breaches.items():
        occurrence = open_now.get(subject)
        exception = occurrence.exception if occurrence is not None else _raise(breach)
        sent += _alert(breach, exception, tenant)
    cleared = [row.pk for subject, row in open_now.items() if subject not in breaches and subject[0] not in unmeasured]
    if cleared:
        services.occurrences_resolve(occurrence_ids=cleared, reason="The condition cleared.")
    return {"alerts": sent, "resolved": len(cleared)}


# ---- the platform check (outside Celery) ----------------------------------------------------


def worker_heartbeat_age(*, now: float | None = None) -> float | None:
    """Seconds since the last worker heartbeat, or None when there is none at all."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    beat = client.get(settings.WORKER_HEARTBEAT_KEY)  # where the workers write it (portal.tasks)
    return (now or time.time()) - float(beat) if beat is not None else None


def worker_heartbeat_check(*, now: float | None = None) -> int:
    """Alert every partner-wide `worker_heartbeat` rule whose N seconds the heartbeat's age has
    passed (no heartbeat at all passes every N), once per episode. Returns the alerts sent."""
    age = worker_heartbeat_age(now=now)
    rules = AlertRule.objects.filter(trigger=Trigger.WORKER_HEARTBEAT, active=True, tenant__isnull=True)
    sent = 0
    for rule in rules.select_related("partner").order_by("pk"):
        if age is not None and age < max(1, rule.threshold):
            continue
        if _episode_claim(f"{rule.pk}:platform:worker"):
            alerts.platform_alert_deliver(rule=rule, age=age)
            sent += 1
    return sent
