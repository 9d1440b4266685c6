"""One trace id from the webhook to the ERP's acknowledgement (core/context.py, issue 18): the webhook
answers it in X-Trace-ID, the event and the journal store it, and every log line of the request,
the worker's processing task and the push task carries it.

Log lines are read from the stdlib records structlog hands to logging (their `msg` is the event
dict, context variables merged): structlog's own `capture_logs` replaces the processor chain, so it
would miss the merged context and the loggers cached on first use."""

import logging

import pytest
import structlog
from celery.signals import task_prerun
from django_tenants.utils import tenant_context

from connectors import inbox
from connectors.models import InboundEvent
from connectors.tasks import process_inbound_event
from core.context import context_clear, trace_bind, trace_id_current, trace_restored
from mappings.services import standard_chart_apply
from posting.erp import tasks as erp_tasks
from posting.erp.tasks import erp_push_journal
from posting.models import JournalEntry
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture_bytes, shopify_headers

SECRET = "shopify-app-secret-for-tests"


@pytest.fixture
def log_lines(caplog):
    caplog.set_level(logging.INFO)

    def lines(event: str) -> list[dict]:
        return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == event]

    return lines


def _task_starts(task) -> None:
    """What the worker does before every task (portal/celery.py connects the reset to task_prerun)."""
    task_prerun.send(sender=task, task_id="t-1", task=task, args=(), kwargs={})


def test_the_webhooks_trace_id_is_in_every_log_line_from_request_to_erp_ack(
    world, host_client, log_lines, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(inbox, "_dispatch", lambda event_id: None)  # the test is the worker
    monkeypatch.setattr(erp_tasks, "_send", lambda entry_id, force: None)
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory(secrets={"webhook_secret": SECRET})
    body = fixture_bytes("shopify", "orders_create.json")
    response = host_client(world.host(world.acme)).post(
        f"/hooks/shopify/{conn.pk}/",
        data=body,
        content_type="application/json",
        **shopify_headers(body, SECRET, "orders/create"),
    )
    trace_id = response["X-Trace-ID"]
    assert len(trace_id) == 32
    assert [line["trace_id"] for line in log_lines("request")] == [trace_id]
    _task_starts(process_inbound_event)  # (tenant-schemas-celery's own handler switches to public here)
    assert structlog.contextvars.get_contextvars() == {}
    with tenant_context(world.acme), django_capture_on_commit_callbacks(execute=True):
        assert process_inbound_event(event_id=response.json()["event"]) == "processed"
    _task_starts(erp_push_journal)
    with tenant_context(world.acme):
        entry = JournalEntry.objects.get()
        assert erp_push_journal(entry.pk)["result"] == "acked"
        assert (InboundEvent.objects.get().trace_id, entry.trace_id) == (trace_id, trace_id)
    assert [line["trace_id"] for line in log_lines("connectors.event_processed")] == [trace_id]
    assert [line["trace_id"] for line in log_lines("erp.push.acked")] == [trace_id]


def test_a_task_start_forgets_the_previous_tasks_trace():
    trace_bind("a" * 32)
    assert (trace_id_current(), structlog.contextvars.get_contextvars()) == ("a" * 32, {"trace_id": "a" * 32})
    _task_starts(process_inbound_event)
    assert (trace_id_current(), structlog.contextvars.get_contextvars()) == ("", {})


def test_the_order_trace_page_shows_the_journals_trace_id(world, host_client, monkeypatch):
    monkeypatch.setattr(erp_tasks, "_send", lambda entry_id, force: None)
    with tenant_context(world.acme):
        standard_chart_apply()
        event, _ = inbox.event_store(
            connection=ConnectionFactory(),
            topic="orders/create",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_create.json"),
            dispatch=False,
        )
        inbox.event_process(event_id=event.pk)
        entry = JournalEntry.objects.get()
    page = host_client(world.host(world.acme), world.acme_admin).get(f"/orders/{entry.source_key.split(':')[1]}/")
    assert f'<code data-testid="trace-entry-trace-id">{event.trace_id}</code>' in page.content.decode()


def test_a_block_that_binds_its_own_trace_gives_the_callers_back():
    context_clear()
    with trace_restored():
        trace_bind("inner")
        assert trace_id_current() == "inner"
    assert trace_id_current() == ""
    assert "trace_id" not in structlog.contextvars.get_contextvars()
    trace_bind("outer")
    with trace_restored():
        trace_bind("inner")
    assert trace_id_current() == "outer"
    assert structlog.contextvars.get_contextvars()["trace_id"] == "outer"
    context_clear()
