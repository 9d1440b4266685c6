"""Fair queues (core/fairness.py): the round-robin scheduler on real Redis, and, with the real
worker, a storm or backlog in tenant A not sitting in front of tenant B's work."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import time
import uuid

import pytest
import redis
from celery import current_app
from django.conf import settings as django_settings
from django.db import connection as db
from django.db.models import Max
from django_tenants.utils import tenant_context

from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.services import connection_create
from connectors.simulator import shopify_order
from connectors.tasks import process_inbound_event
from core import fairness, metrics
from core.fairness import (
    fair_backlog,
    fair_done,
    fair_reclaim,
    fair_repump,
    fair_submit,
    fair_take,
    fair_waiting,
    pump_tokens_waiting,
)
from mappings.services import standard_chart_apply
from portal import tasks as portal_tasks
from posting import journals as posting_journals
from posting.erp.models import ErpPush
from posting.erp.tasks import erp_push_due
from posting.models import JournalEntry
from tenants import services as tenant_services
from tests.conftest import tenant_delete_settled


@pytest.fixture
def clean_queues(settings):
    # Pump tokens a worker-run test left in the broker would take these unit tests' jobs: drop them.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
        *(fairness.pump_queue(name) for name in settings.FAIR_QUEUES)
    )
    fairness.fair_clear()
    yield
    fairness.fair_clear()


def _order(queue: str) -> list[str]:
    taken = []
    while (job := fair_take(queue=queue)) is not None:
        taken.append(f"{job.schema}:{job.args[0]}")
        fair_done(queue=queue, job=job)
    return taken


def test_tenants_take_turns(clean_queues):
    for number in range(5):
        fair_submit(queue="events", schema="a", task="t", args=[number])
    for number in range(2):
        fair_submit(queue="events", schema="b", task="t", args=[number])
    assert _order("events") == ["a:0", "b:0", "a:1", "b:1", "a:2", "a:3", "a:4"]
    assert fair_backlog(queue="events") == {}


def test_a_tenant_that_arrives_late_is_served_next_not_after_the_backlog(clean_queues):
    for number in range(100):
        fair_submit(queue="erp", schema="a", task="t", args=[number])
    first = fair_take(queue="erp")
    fair_done(queue="erp", job=first)
    fair_submit(queue="erp", schema="b", task="t", args=[0])
    assert _order("erp")[:2] == ["a:1", "b:0"]


def test_the_quantum_is_the_queues_budget_per_turn(clean_queues, settings):
    settings.FAIR_QUEUES = {**settings.FAIR_QUEUES, "events": {"quantum": 3, "lease_seconds": 60}}
    for number in range(5):
        fair_submit(queue="events", schema="a", task="t", args=[number])
        fair_submit(queue="events", schema="b", task="t", args=[number])
    assert _order("events") == ["a:0", "a:1", "a:2", "b:0", "b:1", "b:2", "a:3", "a:4", "b:3", "b:4"]


def test_queues_are_independent(clean_queues):
    fair_submit(queue="events", schema="a", task="t", args=[1])
    fair_submit(queue="promotions", schema="a", task="t", args=[2])
    assert fair_backlog(queue="events") == {"a": 1}
    assert fair_backlog(queue="inventory") == {}
    assert _order("promotions") == ["a:2"]
    assert _order("events") == ["a:1"]


def test_a_job_already_waiting_is_not_queued_twice(clean_queues):
    first_id, created = fair_submit(queue="events", schema="a", task="t", args=[7], task_id="one")
    second_id, again = fair_submit(queue="events", schema="a", task="t", args=[7], task_id="two")
    assert (first_id, created, second_id, again) == ("one", True, "one", False)
    assert fair_backlog(queue="events") == {"a": 1}
    job = fair_take(queue="events")
    assert job.task_id == "one"
    fair_done(queue="events", job=job)
    # Once taken, the same job may be queued again (a later change needs a later run).
    assert fair_submit(queue="events", schema="a", task="t", args=[7])[1] is True


def test_a_job_whose_worker_died_is_handed_out_again_after_its_lease(clean_queues):
    fair_submit(queue="events", schema="a", task="t", args=[1], task_id="lost")
    job = fair_take(queue="events")  # the worker that took it dies: no fair_done
    assert fair_take(queue="events") is None
    assert fair_reclaim(queue="events") == 0  # the lease has not run out yet
    assert fair_reclaim(queue="events", now=time.time() + 3600) == 1
    again = fair_take(queue="events")
    assert (again.schema, again.args, again.task_id) == ("a", [1], "lost")
    fair_done(queue="events", job=again)
    fair_done(queue="events", job=job)
    assert fair_reclaim(queue="events", now=time.time() + 3600) == 0


@pytest.fixture
def own_pump_queues(clean_queues, monkeypatch, settings):
    """Pump tokens go to Celery queues of this test's own, which no worker consumes: a session's
    worker (started by an earlier worker test) cannot take them while they are counted."""
    assert portal_tasks.fair_pump.name == fairness.PUMP_TASK  # imported: the pump task is registered
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setattr(fairness, "pump_queue", lambda queue: f"fair.{queue}.t{suffix}")
    yield
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
        *(f"fair.{name}.t{suffix}{sep}" for name in settings.FAIR_QUEUES for sep in ("", "\x06\x163", "\x06\x169"))
    )


def _resent(queue: str) -> int:
    stored = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"]).hget(
        metrics.FAIR_PUMPS_RESENT.key, json.dumps([queue])
    )
    return int(stored or 0)


def test_a_waiting_job_whose_token_was_lost_gets_a_new_one(own_pump_queues):
    fair_submit(queue="erp", schema="a", task="t", args=[1])  # stored; its pump send failed
    assert (fair_waiting(queue="erp"), pump_tokens_waiting(queue="erp")) == (1, 0)
    resent_before = _resent("erp")
    assert fair_repump(queue="erp") == 1
    assert pump_tokens_waiting(queue="erp") == 1
    assert _resent("erp") == resent_before + 1  # the incident shows on /metrics
    assert fair_repump(queue="erp") == 0  # the token is there now: nothing more


def test_no_pump_is_sent_when_the_tokens_cover_the_waiting_jobs(own_pump_queues):
    for number in range(3):
        fair_submit(queue="events", schema="a", task="t", args=[number])
    fairness.pump_send(queue="events", count=3)
    fairness.pump_send(queue="events", count=1, priority=9)  # kombu keeps it in a priority list
    assert pump_tokens_waiting(queue="events") == 4
    assert fair_repump(queue="events") == 0
    assert fair_repump(queue="erp") == 0  # nothing waits there
    assert pump_tokens_waiting(queue="events") == 4


def test_jobs_and_tokens_are_counted_over_every_tenant_and_only_the_missing_are_sent(own_pump_queues):
    for number in range(3):
        fair_submit(queue="events", schema="a", task="t", args=[number])
    for number in range(2):
        fair_submit(queue="events", schema="b", task="t", args=[number])
    fair_submit(queue="erp", schema="b", task="t", args=[9])  # another queue: not counted here
    fairness.pump_send(queue="events", count=2)
    assert fair_waiting(queue="events") == 5
    assert fair_repump(queue="events", limit=2) == 2  # at most `limit` per tick
    assert fair_repump(queue="events") == 1
    assert pump_tokens_waiting(queue="events") == 5
    assert fair_repump(queue="events") == 0
    taken = _order("events")  # every job still runs, each tenant in its turn
    assert taken == ["a:0", "b:0", "a:1", "b:1", "a:2"]
    assert fair_waiting(queue="events") == 0
    assert fair_repump(queue="events") == 0  # 5 spare tokens, no job: nothing to send


def _capped(settings, running: int = 1) -> None:
    settings.FAIR_QUEUES = {
        **settings.FAIR_QUEUES,
        "events": {**settings.FAIR_QUEUES["events"], "max_running": running},
    }


def _take(queue: str) -> str | None:
    job = fair_take(queue=queue)
    return None if job is None else f"{job.schema}:{job.args[0]}"


def test_a_tenant_at_max_running_is_passed_over_and_the_spent_token_is_sent_again(own_pump_queues, settings):
    _capped(settings)
    for number in range(3):
        fair_submit(queue="events", schema="a", task="t", args=[number])
    fair_submit(queue="events", schema="b", task="t", args=[0])
    first = fair_take(queue="events")
    assert (first.schema, first.args) == ("a", [0])
    assert _take("events") == "b:0"  # a is running one already: b goes first
    assert _take("events") is None  # only a has work, and a is at its limit: the token is spent
    assert fair_repump(queue="events") == 1  # 2 waiting, 1 token owed by a's running job
    assert pump_tokens_waiting(queue="events") == 1
    assert fair_done(queue="events", job=first) is True  # a's job ends: it sends the spent token
    assert pump_tokens_waiting(queue="events") == 2
    assert _take("events") == "a:1"
    assert _take("events") is None  # a is at its limit again (a:1 runs)
    assert fair_repump(queue="events") == 0  # a:2 waits; its pump is owed by a:1 (and 2 are queued)


def test_a_job_whose_worker_died_neither_holds_its_tenants_place_nor_owes_a_pump(own_pump_queues, settings):
    _capped(settings)
    for number in range(2):
        fair_submit(queue="events", schema="a", task="t", args=[number])
    assert _take("events") == "a:0"  # its worker dies: no fair_done
    assert _take("events") is None  # a at its limit: this token is owed by a:0's end
    assert fair_repump(queue="events") == 0
    assert fair_reclaim(queue="events", now=time.time() + 3600) == 1  # a:0's lease ran out
    # a:0 will never end: the pump it owed is not counted, both waiting jobs get one.
    assert (fair_waiting(queue="events"), fair_repump(queue="events")) == (2, 2)
    assert _take("events") == "a:1"  # the dead job's lease no longer counts as running


def test_an_unknown_queue_is_refused(clean_queues):
    with pytest.raises(LookupError):
        fair_submit(queue="nope", schema="a", task="t")


def test_a_send_from_a_tenant_goes_to_its_fair_queue_and_from_public_does_not(clean_queues, world, monkeypatch):
    pumps = []
    monkeypatch.setattr(fairness, "pump_send", lambda *, queue, **options: pumps.append(queue))
    with tenant_context(world.acme):
        result = process_inbound_event.delay(event_id=123)
    assert pumps == ["events"]
    assert fair_backlog(queue="events") == {world.acme.schema_name: 1}
    job = fair_take(queue="events")
    assert (job.task, job.kwargs, job.task_id) == ("connectors.process_inbound_event", {"event_id": 123}, result.id)


def test_every_queue_named_in_the_issue_is_fair(settings):
    from commerce.tasks import inventory_push
    from posting.erp.tasks import erp_push_journal
    from promotions.tasks import deployment_send_task, price_list_send_task

    tasks = (process_inbound_event, erp_push_journal, inventory_push, deployment_send_task, price_list_send_task)
    queues = {task.name: task.fair_queue for task in tasks}
    assert queues == {
        "connectors.process_inbound_event": "events",
        "posting.erp_push_journal": "erp",
        "commerce.inventory_push": "inventory",
        "promotions.deployment_send": "promotions",
        "promotions.price_list_send": "promotions",
    }
    assert set(queues.values()) <= set(settings.FAIR_QUEUES)


def _messages(queue: str) -> list[tuple[dict, dict]]:
    """The (headers, kwargs) of each message waiting in a broker queue, which is then emptied."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    found = []
    for raw in broker.lrange(queue, 0, -1):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"], kwargs))
    broker.delete(queue)
    return found


def test_a_countdown_send_waits_in_celery_then_joins_its_tenants_fair_queue(clean_queues, world, monkeypatch):
    from commerce.tasks import inventory_push

    pumps = []
    monkeypatch.setattr(fairness, "pump_send", lambda *, queue, **options: pumps.append(queue))
    holding = f"later.t{uuid.uuid4().hex[:8]}"  # a queue no session worker consumes
    with tenant_context(world.bluebird), monkeypatch.context() as unregistered:
        # Sent by name: a process that never imported portal.tasks (a command, a script) sends it too.
        unregistered.delitem(current_app.tasks, fairness.SUBMIT_LATER_TASK)
        inventory_push.apply_async(countdown=30, retry=False, queue=holding)
        assert fair_backlog(queue="inventory") == {}  # not before its countdown
    [(headers, kwargs)] = _messages(holding)
    assert (headers["task"], headers["_schema_name"]) == (fairness.SUBMIT_LATER_TASK, world.bluebird.schema_name)
    assert headers["eta"] and kwargs["task"] == "commerce.inventory_push"
    with tenant_context(world.bluebird):
        portal_tasks.fair_submit_later.run(**kwargs)  # what the worker does when it is due
    assert fair_backlog(queue="inventory") == {world.bluebird.schema_name: 1}
    assert pumps == ["inventory"]


def test_a_pump_is_sent_by_name_from_a_process_that_never_imported_the_pump_task(own_pump_queues, world, monkeypatch):
    # The fairness bench's storm is stored by a process with no Celery worker modules loaded: its
    # jobs were stored and then their pump failed (NotRegistered), leaving them without a token.
    monkeypatch.delitem(current_app.tasks, fairness.PUMP_TASK)
    with tenant_context(world.acme):
        process_inbound_event.delay(event_id=123)
    assert (fair_waiting(queue="events"), pump_tokens_waiting(queue="events")) == (1, 1)
    [(headers, kwargs)] = _messages(fairness.pump_queue("events"))
    assert (headers["task"], headers["_schema_name"], kwargs) == (fairness.PUMP_TASK, "public", {"queue": "events"})


def test_a_pump_runs_the_job_in_its_tenants_schema_and_keeps_its_result(clean_queues, world, monkeypatch):
    from posting.erp.tasks import erp_push_journal

    monkeypatch.setattr(fairness, "pump_send", lambda *, queue, **options: None)
    with tenant_context(world.acme):
        result = erp_push_journal.delay(987_654_321)
    job = fairness.fair_run_next(queue="erp")
    assert (job.schema, job.task_id) == (world.acme.schema_name, result.id)
    assert result.get(timeout=5) == {"entry": "987654321", "result": "gone"}
    assert fairness.fair_run_next(queue="erp") is None
    assert fair_reclaim(queue="erp", now=time.time() + 3600) == 0  # its lease ended with the run


# --- with the real worker -------------------------------------------------------------------


@pytest.fixture
def two_shops(django_db_blocker):
    from tests.conftest import _WORLD

    made = []
    with django_db_blocker.unblock():
        fairness.fair_clear()
        for role in ("a", "b"):
            slug = f"fq{role}{uuid.uuid4().hex[:5]}"
            tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=slug).tenant
            with tenant_context(tenant):
                standard_chart_apply()
                conn = connection_create(
                    vendor="shopify",
                    name=f"Shop {role}",
                    config={"shop_domain": "acme-outfitters.myshopify.com", "simulated": True},
                    credentials={"access_token": "shpat_fair"},
                    webhook_secret="fair-secret",
                )
            made.append((tenant, conn))
        db.set_schema_to_public()
    yield made, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        for tenant, _conn in made:
            tenant_delete_settled(tenant)


def _store(conn, count: int, offset: int, *, dispatch: bool) -> list[int]:
    ids = []
    at = dt.datetime.now(dt.UTC)
    for number in range(offset, offset + count):
        body = json.dumps(shopify_order(number, rng=random.Random(number), at=at)).encode()
        event, _ = event_store(
            connection=conn, topic="orders/create", external_id=str(number), body=body, dispatch=dispatch
        )
        ids.append(event.pk)
    return ids


def _wait(check, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.2)


STORM = 200


@pytest.mark.worker
def test_a_webhook_storm_in_one_tenant_does_not_hold_up_another_tenants_events(celery_worker, two_shops):
    (tenant_a, conn_a), (tenant_b, conn_b) = two_shops[0]
    blocker = two_shops[1]
    with blocker.unblock():
        with tenant_context(tenant_a):
            _store(conn_a, STORM, 0, dispatch=True)  # each commit sends its processing task
            a_at_send = InboundEvent.objects.filter(processed_at__isnull=False).count()
        with tenant_context(tenant_b):
            _store(conn_b, 3, 50_000, dispatch=True)

        def b_done() -> bool:
            with tenant_context(tenant_b):
                return InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == 3

        _wait(b_done)
        with tenant_context(tenant_b):
            b_last = InboundEvent.objects.aggregate(last=Max("processed_at"))["last"]
            assert JournalEntry.objects.count() == 3
        with tenant_context(tenant_a):
            a_before_b = InboundEvent.objects.filter(processed_at__lte=b_last).count()
        _wait(lambda: _all_processed(tenant_a, STORM))
        with tenant_context(tenant_a):
            assert JournalEntry.objects.count() == STORM  # nothing lost, nothing posted twice
        db.set_schema_to_public()
    print(f"A's backlog when B sent: {STORM - a_at_send}; A events run before B's last: {a_before_b - a_at_send}")
    # A's events are applied in batches (connectors/ingest.py): B waits for the batch of A's that
    # is running and at most one more turn of A's, never for A's whole backlog.
    batch, waited = django_settings.CONNECTOR_INGEST_BATCH, a_before_b - a_at_send
    assert STORM - a_at_send > 2 * batch, "A's storm was drained before B sent anything: the test proves nothing"
    assert waited <= 2 * batch, f"B waited behind {waited} of A's {STORM - a_at_send} events"


def _all_processed(tenant, count: int) -> bool:
    with tenant_context(tenant):
        return InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == count


@pytest.mark.worker
def test_an_erp_backlog_in_one_tenant_does_not_hold_up_another_tenants_pushes(celery_worker, two_shops, monkeypatch):
    (tenant_a, conn_a), (tenant_b, conn_b) = two_shops[0]
    blocker = two_shops[1]
    # Each posted journal sends its push on commit; held back here so that the sweep sends A's
    # whole backlog at once, ahead of B's three pushes.
    monkeypatch.setattr(posting_journals, "erp_push_dispatch", lambda **kwargs: None)
    with blocker.unblock():
        for tenant, conn, count, offset in ((tenant_a, conn_a, STORM, 0), (tenant_b, conn_b, 3, 50_000)):
            with tenant_context(tenant):
                for event_id in _store(conn, count, offset, dispatch=False):
                    event_process(event_id=event_id)  # journals posted here; pushes wait for the sweep
                assert JournalEntry.objects.count() == count
        with tenant_context(tenant_a):
            assert erp_push_due() == STORM  # A's backlog: one push task per entry
            a_at_send = ErpPush.objects.filter(status=ErpPush.Status.ACKED).count()
        with tenant_context(tenant_b):
            assert erp_push_due() == 3

        def b_done() -> bool:
            with tenant_context(tenant_b):
                return ErpPush.objects.filter(status=ErpPush.Status.ACKED).count() == 3

        _wait(b_done)
        with tenant_context(tenant_b):
            b_last = ErpPush.objects.aggregate(last=Max("acked_at"))["last"]
        with tenant_context(tenant_a):
            a_before_b = ErpPush.objects.filter(status=ErpPush.Status.ACKED, acked_at__lte=b_last).count()

        def a_done() -> bool:
            with tenant_context(tenant_a):
                return ErpPush.objects.filter(status=ErpPush.Status.ACKED).count() == STORM

        _wait(a_done)
        with tenant_context(tenant_a):
            assert ErpPush.objects.count() == STORM  # one push per entry: none lost, none doubled
            assert erp_push_due() == 0
        db.set_schema_to_public()
    print(f"A's backlog when B sent: {STORM - a_at_send}; A pushes run before B's last: {a_before_b - a_at_send}")
    assert STORM - a_at_send >= 50, "A's backlog was drained before B sent anything: the test proves nothing"
    assert a_before_b - a_at_send <= 10, f"B waited behind {a_before_b - a_at_send} of A's {STORM - a_at_send} pushes"


def test_a_job_of_a_deleted_tenant_is_dropped(clean_queues, world):
    fair_submit(queue="erp", schema="t_deleted_long_ago", task="posting.erp_push_journal", args=[1])
    job = fairness.fair_run_next(queue="erp")
    assert job.schema == "t_deleted_long_ago"
    assert fair_backlog(queue="erp") == {}
    assert fair_reclaim(queue="erp", now=time.time() + 3600) == 0
