"""Flow-health alert rules (issue 18): each fires on known data and not on a quiet baseline, once
per episode, raises a triageable exception and resolves it when the condition clears."""

import datetime as dt
import time

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from connectors.health import WEEK_HOURS, order_event_count
from connectors.inbox import event_store
from connectors.models import InboundEvent
from posting.erp.models import ErpTarget
from tests.connectors.factories import ConnectionFactory
from triage.health import channel_silent, flow_health_check, worker_heartbeat_check
from triage.models import Exception as TriageException
from triage.partner import services as rules
from triage.partner.models import AlertRule

NORTHWIND = "northwind.localhost"
NOW = dt.datetime(2026, 12, 7, 14, 20, tzinfo=dt.UTC)  # a Monday, 14:20
Trigger = AlertRule.Trigger

pytestmark = pytest.mark.usefixtures("alert_keys_reset", "order_counts_reset")


@pytest.fixture
def order_counts_reset():
    client = get_redis_connection("default")
    yield
    for key in client.scan_iter("tb:health:orders:*"):
        client.delete(key)


def _rule(world, trigger, threshold, *, tenant=None, window_minutes=60):
    return rules.alert_rule_create(
        partner=world.northwind,
        tenant=tenant,
        name=f"{trigger} over {threshold}",
        trigger=trigger,
        threshold=threshold,
        window_minutes=window_minutes,
        emails=["oncall@northwind.test"],
    )


def _health_exceptions():
    return list(TriageException.objects.filter(kind="flow_health").values_list("cause", "status", "count"))


# ---- the channel-silence statistic ----------------------------------------------------------


def test_silence_fires_on_a_40_an_hour_channel_gone_silent():
    assert channel_silent(baseline=[40, 38, 42, 41, 39, 40, 37, 43], observed=0, min_expected=5) is True
    assert channel_silent(baseline=[40, 38, 42, 41, 39, 40, 37, 43], observed=3, min_expected=5) is True


def test_silence_does_not_fire_on_an_ordinary_hour_of_a_busy_channel():
    assert channel_silent(baseline=[40, 38, 42, 41, 39, 40, 37, 43], observed=31, min_expected=5) is False
    assert channel_silent(baseline=[40, 38, 42, 41, 39, 40, 37, 43], observed=5, min_expected=5) is False


def test_silence_never_fires_on_a_quiet_baseline():
    sunday_night = [0, 1, 0, 1, 1, 0, 0, 1]
    assert channel_silent(baseline=sunday_night, observed=0, min_expected=5) is False
    assert channel_silent(baseline=sunday_night, observed=0, min_expected=1) is False  # median 0.5 < 1


def test_silence_needs_three_weeks_of_history():
    assert channel_silent(baseline=[40, 41], observed=0, min_expected=5) is False
    assert channel_silent(baseline=[40, 41, 39], observed=0, min_expected=5) is True


def test_one_odd_week_does_not_move_the_baseline():
    # Median and MAD: a Black Friday (400) or an outage week (0) changes nothing.
    assert channel_silent(baseline=[40, 40, 400, 0, 40, 41], observed=0, min_expected=5) is True
    assert channel_silent(baseline=[40, 40, 400, 0, 40, 41], observed=36, min_expected=5) is False


def test_a_noisy_channel_needs_a_deeper_drop():
    noisy = [10, 30, 20, 25, 15, 35, 5, 20]  # median 20, MAD 7.5: the floor is below zero
    assert channel_silent(baseline=noisy, observed=0, min_expected=5) is False


# ---- backlog age ----------------------------------------------------------------------------


def _event(connection, *, received_ago, status=InboundEvent.Status.RECEIVED, waited=None, n=0):
    event = InboundEvent.objects.create(
        connection=connection,
        topic="orders/create",
        external_id=f"e{n}-{received_ago}",
        payload_hash=f"h{n}",
        body="{}",
    )
    received = NOW - received_ago
    processed = received + waited if waited is not None else None
    InboundEvent.objects.filter(pk=event.pk).update(received_at=received, status=status, processed_at=processed)
    return event


def test_backlog_age_fires_once_per_episode_and_resolves_when_it_clears(world):
    _rule(world, Trigger.BACKLOG_AGE, 15)
    with tenant_context(world.acme):
        connection = ConnectionFactory()
        stuck = _event(connection, received_ago=dt.timedelta(minutes=40))
        first = flow_health_check(now=NOW)
        again = flow_health_check(now=NOW + dt.timedelta(minutes=1))
        raised = _health_exceptions()
        title = TriageException.objects.get(kind="flow_health").title
        InboundEvent.objects.filter(pk=stuck.pk).update(status=InboundEvent.Status.PROCESSED, processed_at=NOW)
        cleared = flow_health_check(now=NOW + dt.timedelta(minutes=2))
        after = _health_exceptions()
    assert first == {"alerts": 1, "resolved": 0}
    assert again == {"alerts": 0, "resolved": 0}  # the same episode: no second alert, no second raise
    assert raised == [("backlog_age", "open", 1)]
    assert title == "Backlog: the oldest unprocessed event has waited 40 minutes"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith(f"backlog_age over 15: {title}")
    assert cleared == {"alerts": 0, "resolved": 1}
    assert after == [("backlog_age", "resolved", 1)]


def test_backlog_age_quiet_when_events_flow(world):
    _rule(world, Trigger.BACKLOG_AGE, 15)
    with tenant_context(world.acme):
        connection = ConnectionFactory()
        _event(connection, received_ago=dt.timedelta(minutes=5))
        _event(connection, received_ago=dt.timedelta(hours=3), status=InboundEvent.Status.PROCESSED, n=1)
        assert flow_health_check(now=NOW) == {"alerts": 0, "resolved": 0}
        assert _health_exceptions() == []
    assert mail.outbox == []


def test_a_flapping_condition_does_not_alert_again_within_the_cool_down(world):
    _rule(world, Trigger.BACKLOG_AGE, 15)
    with tenant_context(world.acme):
        connection = ConnectionFactory()
        stuck = _event(connection, received_ago=dt.timedelta(minutes=40))
        flow_health_check(now=NOW)
        InboundEvent.objects.filter(pk=stuck.pk).update(status=InboundEvent.Status.PROCESSED, processed_at=NOW)
        flow_health_check(now=NOW + dt.timedelta(minutes=1))
        _event(connection, received_ago=dt.timedelta(minutes=30), n=2)
        back = flow_health_check(now=NOW + dt.timedelta(minutes=2))
        reopened = _health_exceptions()
    assert back == {"alerts": 0, "resolved": 0}  # the inbox shows it again, the pager stays quiet
    assert reopened == [("backlog_age", "open", 2)]
    assert len(mail.outbox) == 1


def test_each_rule_alerts_once_and_a_tenant_rule_only_for_its_tenant(world):
    _rule(world, Trigger.BACKLOG_AGE, 15)
    _rule(world, Trigger.BACKLOG_AGE, 30, tenant=world.bluebird)
    with tenant_context(world.acme):
        _event(ConnectionFactory(), received_ago=dt.timedelta(minutes=40))
        acme = flow_health_check(now=NOW)
    with tenant_context(world.bluebird):
        _event(ConnectionFactory(), received_ago=dt.timedelta(minutes=40))
        bluebird = flow_health_check(now=NOW)
    assert acme == {"alerts": 1, "resolved": 0}
    assert bluebird == {"alerts": 2, "resolved": 0}


# ---- sync latency ---------------------------------------------------------------------------


def test_sync_latency_p95_fires_over_the_threshold_and_not_below(world):
    _rule(world, Trigger.SYNC_LATENCY, 60, window_minutes=30)
    processed = InboundEvent.Status.PROCESSED
    with tenant_context(world.acme):
        connection = ConnectionFactory()
        for n in range(18):
            _event(
                connection, received_ago=dt.timedelta(minutes=20), status=processed, waited=dt.timedelta(seconds=2), n=n
            )
        for n in range(18, 20):  # the slowest 10 %: the p95 lands among them
            _event(
                connection, received_ago=dt.timedelta(minutes=20), status=processed, waited=dt.timedelta(minutes=5), n=n
            )
        _event(connection, received_ago=dt.timedelta(hours=2), status=processed, waited=dt.timedelta(hours=1), n=99)
        slow = flow_health_check(now=NOW)
        title = TriageException.objects.get(kind="flow_health").title
    with tenant_context(world.bluebird):
        connection = ConnectionFactory()
        for n in range(20):
            _event(
                connection, received_ago=dt.timedelta(minutes=20), status=processed, waited=dt.timedelta(seconds=3), n=n
            )
        fast = flow_health_check(now=NOW)
    assert slow == {"alerts": 1, "resolved": 0}
    assert title.startswith("Sync latency: p95 of ")
    assert fast == {"alerts": 0, "resolved": 0}


# ---- ERP unreachable ------------------------------------------------------------------------


def test_erp_unreachable_fires_after_n_minutes_and_resolves_on_the_next_ack(world):
    _rule(world, Trigger.ERP_UNREACHABLE, 60)
    with tenant_context(world.acme):
        target, _ = ErpTarget.objects.get_or_create(singleton=1)
        ErpTarget.objects.filter(pk=target.pk).update(unreachable_since=NOW - dt.timedelta(minutes=20))
        early = flow_health_check(now=NOW)
        ErpTarget.objects.filter(pk=target.pk).update(unreachable_since=NOW - dt.timedelta(minutes=75))
        late = flow_health_check(now=NOW)
        title = TriageException.objects.get(kind="flow_health").title
        ErpTarget.objects.filter(pk=target.pk).update(unreachable_since=None)
        acked = flow_health_check(now=NOW)
    assert early == {"alerts": 0, "resolved": 0}
    assert late == {"alerts": 1, "resolved": 0}
    assert title == "The built-in ledger has been unreachable for 75 minutes"
    assert acked == {"alerts": 0, "resolved": 1}


# ---- channel silence ------------------------------------------------------------------------


def _hour(at):
    return int(at.timestamp() // 3600)


def _history(connection, *, per_hour, weeks):
    """`per_hour` orders in the last complete hour's hour of the week, `weeks` weeks back."""
    last = _hour(NOW) - 1
    client = get_redis_connection("default")
    key = f"tb:health:orders:{db.schema_name}:{connection.pk}"
    oldest = last - WEEK_HOURS * weeks
    client.hset(key, mapping={str(last - WEEK_HOURS * week): per_hour for week in range(1, weeks + 1)})
    client.hset(key, "since", oldest)


def test_channel_silence_fires_on_a_busy_channel_gone_silent(world):
    _rule(world, Trigger.CHANNEL_SILENCE, 5)
    with tenant_context(world.acme):
        busy = ConnectionFactory(name="Acme web shop")
        _history(busy, per_hour=40, weeks=8)
        fired = flow_health_check(now=NOW)
        exception = TriageException.objects.get(kind="flow_health")
        occurrence = exception.occurrences.get()
        for n in range(12):  # orders flow again in the current hour
            order_event_count(
                schema=db.schema_name, connection_id=busy.pk, topic="orders/create", at=NOW + dt.timedelta(minutes=n)
            )
        recovered = flow_health_check(now=NOW + dt.timedelta(minutes=15))
        exception.refresh_from_db()
    assert fired == {"alerts": 1, "resolved": 0}
    assert exception.title == "Acme web shop sent 0 orders in the last hour (usually 40)"
    assert (occurrence.object_label, occurrence.object_id) == ("Acme web shop", str(busy.pk))
    assert recovered == {"alerts": 0, "resolved": 1}
    assert exception.status == "resolved"


def test_channel_silence_quiet_on_a_quiet_baseline_and_without_enough_history(world):
    _rule(world, Trigger.CHANNEL_SILENCE, 5)
    with tenant_context(world.acme):
        _history(ConnectionFactory(name="Sunday night"), per_hour=1, weeks=8)
        _history(ConnectionFactory(name="New shop"), per_hour=40, weeks=2)
        ConnectionFactory(name="Never counted")
        assert flow_health_check(now=NOW) == {"alerts": 0, "resolved": 0}
        assert _health_exceptions() == []


def test_stored_order_events_are_counted_per_connection_and_hour(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        connection = ConnectionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            event_store(connection=connection, topic="orders/create", external_id="1", body=b"{}", dispatch=False)
            event_store(connection=connection, topic="orders/create", external_id="1", body=b"{}", dispatch=False)
            event_store(connection=connection, topic="orders/paid", external_id="1", body=b"{}", dispatch=False)
            event_store(connection=connection, topic="payouts", external_id="p", body=b"{}", dispatch=False)
        hour = str(_hour(InboundEvent.objects.order_by("pk").first().received_at))
        counts = get_redis_connection("default").hgetall(f"tb:health:orders:{db.schema_name}:{connection.pk}")
    assert {field.decode(): int(value) for field, value in counts.items()} == {hour: 2, "since": int(hour)}


# ---- worker heartbeat (platform-wide) -------------------------------------------------------


@pytest.fixture
def heartbeat():
    client = redis.Redis.from_url(settings.REDIS_URL)
    saved = client.get(settings.WORKER_HEARTBEAT_KEY)

    def beat(seconds_ago):
        client.set(settings.WORKER_HEARTBEAT_KEY, time.time() - seconds_ago)

    yield beat
    if saved is None:
        client.delete(settings.WORKER_HEARTBEAT_KEY)
    else:
        client.set(settings.WORKER_HEARTBEAT_KEY, saved)


def test_worker_heartbeat_missing_alerts_partner_wide_rules_once(world, heartbeat):
    _rule(world, Trigger.WORKER_HEARTBEAT, 120)
    heartbeat(30)
    fresh = worker_heartbeat_check()
    heartbeat(300)
    stale = worker_heartbeat_check()
    again = worker_heartbeat_check()
    assert (fresh, stale, again) == (0, 1, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["oncall@northwind.test"]
    assert "the last worker heartbeat was 300 s ago" in mail.outbox[0].subject


def test_flow_health_platform_command_reports_and_alerts(world, heartbeat, capsys):
    _rule(world, Trigger.WORKER_HEARTBEAT, 60)
    heartbeat(600)
    call_command("flow_health_platform")
    assert "1 alert(s) sent" in capsys.readouterr().out


def test_health_rules_are_validated(world):
    with pytest.raises(ValidationError) as platform:
        _rule(world, Trigger.WORKER_HEARTBEAT, 120, tenant=world.acme)
    with pytest.raises(ValidationError) as zero:
        _rule(world, Trigger.BACKLOG_AGE, 0)
    assert "platform-wide" in str(platform.value)
    assert "N ≥ 1" in str(zero.value)


def test_partner_creates_a_silence_rule_in_the_alert_rules_page(world, host_client):
    client = host_client(NORTHWIND, world.partner_admin)
    created = client.post(
        "/alerts/",
        {"name": "Silent shops", "trigger": "channel_silence", "threshold": "5", "emails": "ops@northwind.test"},
    )
    page = client.get("/alerts/")
    rule = AlertRule.objects.get(name="Silent shops")
    assert created.status_code == 302
    assert (rule.trigger, rule.threshold, rule.tenant) == ("channel_silence", 5, None)
    assert "Channel silence" in page.content.decode() and "(N=5)" in page.content.decode()


@pytest.mark.usefixtures("throttle_reset")
def test_api_creates_flow_health_rules_and_refuses_a_tenant_heartbeat_rule(world, api_client, make_key):
    admin = api_client(NORTHWIND, make_key(scopes=["read", "write", "admin"]))
    created = admin.post(
        "/api/v1/alert-rules/",
        {"name": "Latency", "trigger": "sync_latency", "threshold": 90, "window_minutes": 15, "emails": ["a@b.test"]},
    )
    tenant_heartbeat = admin.post(
        "/api/v1/alert-rules/", {"name": "Workers", "trigger": "worker_heartbeat", "threshold": 120, "tenant": "acme"}
    )
    no_n = admin.post("/api/v1/alert-rules/", {"name": "Backlog", "trigger": "backlog_age"})
    assert created.status_code == 201, created.json()
    assert (created.json()["trigger"], created.json()["threshold"], created.json()["window_minutes"]) == (
        "sync_latency",
        90,
        15,
    )
    assert tenant_heartbeat.status_code == 400 and "tenant" in tenant_heartbeat.json()["error"]["details"]
    assert no_n.status_code == 400 and "threshold" in no_n.json()["error"]["details"]


def _queries_of(check):
    with CaptureQueriesContext(db) as captured:
        result = check()
    return result, [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")]


def test_the_check_costs_two_queries_without_rules_and_one_more_per_trigger(world):
    with tenant_context(world.acme):
        ConnectionFactory()
        idle, idle_queries = _queries_of(lambda: flow_health_check(now=NOW))
        for trigger in (Trigger.BACKLOG_AGE, Trigger.SYNC_LATENCY, Trigger.ERP_UNREACHABLE, Trigger.CHANNEL_SILENCE):
            _rule(world, trigger, 5)
        _rule(world, Trigger.BACKLOG_AGE, 60)  # a second rule on a trigger measures nothing more
        watched, watched_queries = _queries_of(lambda: flow_health_check(now=NOW))
    assert idle == watched == {"alerts": 0, "resolved": 0}
    assert len(idle_queries) == 2  # the rules, the open flow-health exceptions
    assert len(watched_queries) == 6  # and one per trigger in use
