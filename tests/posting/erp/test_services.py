"""The push pipeline against real PostgreSQL: built-in ledger by default, switching to an ERP
without losing history, acknowledgements, the failure modes of the brief, and reversals."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from unittest import mock

import httpx
import respx
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.erp.models import ErpPush
from posting.erp.services import entries_due, erp_push_entry, erp_push_retry, erp_target_get, erp_target_set
from posting.models import JournalEntry
from posting.selectors import trial_balance
from posting.services import journal_post_cancellation, journal_post_order
from tests.commerce.factories import shopify_order
from tests.posting.erp.conftest import exchanges
from tests.posting.erp.factories import erp_connection
from triage.retry import RetryAction

Q = exchanges("quickbooks")
BASE = "https://sandbox-quickbooks.api.intuit.com/v3/company/9130357"
TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QBO_IDS = {
    "4500": "50",
    "1200": "12",
    "1110": "35",
    "2300": "23",
    "4010": "79",
    "4020": "80",
    "2100": "36",
    "4100": "41",
}


def _posted_order(external_id: str = "1001") -> JournalEntry:
    document = shopify_order(external_id=external_id)
    order = order_upsert(source="shopify", connection_id=1, document=document).obj
    return journal_post_order(order=order).entry


def _qbo(**credentials):
    for code, external_id in QBO_IDS.items():
        Account.objects.filter(code=code).update(external_id=external_id)
    connection = erp_connection(
        vendor="quickbooks",
        config={"realm_id": "9130357", "environment": "sandbox", "client_id": "client-1"},
        credentials={
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "client_secret": "secret-1",
            **credentials,
        },
    )
    erp_target_set(connection=connection, since=dt.date(2026, 3, 1))
    return connection


def test_builtin_ledger_is_the_default_target_and_acknowledges_every_entry(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = _posted_order()
        assert erp_target_get().connection is None
        outcome = erp_push_entry(entry=entry)
        push = outcome.push
        assert (push.vendor, push.status, push.external_id, push.reference) == (
            "builtin_ledger",
            ErpPush.Status.ACKED,
            f"ledger:{entry.pk}",
            f"TB-{entry.pk}",
        )
        entry.refresh_from_db()
        assert (entry.status, entry.external_ref) == (JournalEntry.Status.ACKED, f"ledger:{entry.pk}")
        assert erp_push_entry(entry=entry).skipped == "already acknowledged"
        assert list(entries_due()) == []


@respx.mock
def test_switching_to_quickbooks_keeps_history_and_pushes_new_entries(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        old = _posted_order("1000")
        JournalEntry.objects.filter(pk=old.pk).update(date=dt.date(2026, 2, 27))
        erp_push_entry(entry=JournalEntry.objects.get(pk=old.pk))
        balance_before = trial_balance()
        _qbo()
        new = _posted_order("1001")
        assert list(entries_due()) == [new]
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        create = respx.post(f"{BASE}/journalentry").respond(
            200, json={**Q["created"], "JournalEntry": {**Q["created"]["JournalEntry"], "DocNumber": f"TB-{new.pk}"}}
        )
        push = erp_push_entry(entry=new).push
        assert (push.vendor, push.status, push.external_id, push.erp_number) == (
            "quickbooks",
            ErpPush.Status.ACKED,
            "227",
            f"TB-{new.pk}",
        )
        sent = create.calls[0].request
        assert b'"AccountRef":{"value":"35"}' in sent.content
        assert erp_push_entry(entry=JournalEntry.objects.get(pk=old.pk)).skipped.startswith("dated before the switch")
        assert ErpPush.objects.get(entry=old).status == ErpPush.Status.ACKED  # history kept
        assert JournalEntry.objects.get(pk=new.pk).external_ref == "227"
        # the ledger holds both orders: every total doubled
        assert sum(row.debit for row in trial_balance()) == 2 * sum(row.debit for row in balance_before)
        assert JournalEntry.objects.count() == 2


@respx.mock
def test_timeout_after_create_fails_then_the_retry_finds_the_entry_without_duplicating(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise") as raised:
        standard_chart_apply()
        _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").mock(
            side_effect=[httpx.Response(200, json=Q["none"]), httpx.Response(200, json=Q["found"])]
        )
        create = respx.post(f"{BASE}/journalentry").mock(side_effect=httpx.ReadTimeout("read timed out"))
        push = erp_push_entry(entry=entry).push
        assert (push.status, push.error_kind) == (ErpPush.Status.FAILED, "timeout")
        assert JournalEntry.objects.get(pk=entry.pk).status == JournalEntry.Status.FAILED
        problem = raised.call_args.kwargs
        assert (problem["kind"], problem["cause"], problem["retry"]) == (
            "erp_push",
            "timeout",
            RetryAction("posting.erp_push", {"entry_id": entry.pk}),
        )
        assert problem["detail"] == (
            f"QuickBooks Online did not answer in time: POST {BASE}/journalentry timed out (ReadTimeout)."
        )
        assert list(entries_due()) == [entry]  # a timeout is retried automatically
        push = erp_push_retry(entry_id=entry.pk).push
        assert (push.status, push.external_id, push.attempts) == (ErpPush.Status.ACKED, "227", 2)
        assert create.call_count == 1


@respx.mock
def test_closed_period_is_an_exception_with_the_erps_words_and_not_retried_automatically(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise") as raised:
        standard_chart_apply()
        _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        respx.post(f"{BASE}/journalentry").respond(400, json=Q["closed_period"])
        push = erp_push_entry(entry=entry).push
        assert (push.status, push.error_kind) == (ErpPush.Status.FAILED, "closed_period")
        # It was sent again once, moved to today, and the ERP refused that too: a person decides.
        assert push.moved_to is not None and len(respx.calls) == 4
        assert push.error_message == (
            "QuickBooks Online: Account Period Closed — Account Period Closed, Cannot update through Services API: "
            "The books are closed as of 2025-12-31."
        )
        assert raised.call_args.kwargs["severity"] == "high"
        assert list(entries_due()) == []


@respx.mock
def test_closed_period_answer_moves_the_journal_to_today_with_a_memo_and_keeps_the_ledger_date(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise") as raised:
        standard_chart_apply()
        connection = _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        create = respx.post(f"{BASE}/journalentry").mock(
            side_effect=[httpx.Response(400, json=Q["closed_period"]), httpx.Response(200, json=Q["created"])]
        )
        push = erp_push_entry(entry=entry).push
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo("America/New_York"))
        assert (push.status, push.moved_to) == (ErpPush.Status.ACKED, today)
        sent = [json.loads(call.request.content) for call in create.calls]
        assert [body["TxnDate"] for body in sent] == ["2026-03-14", today.isoformat()]
        assert sent[1]["PrivateNote"] == f"Order 1001 (originally dated 2026-03-14; period closed in {connection})"
        entry.refresh_from_db()
        assert entry.date == dt.date(2026, 3, 14)  # the built-in ledger keeps the document's date
        assert not raised.called


@respx.mock
def test_missing_erp_account_id_is_an_unknown_account_exception_before_any_call(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise") as raised:
        standard_chart_apply()
        _qbo()
        Account.objects.filter(code="4100").update(external_id="")
        entry = _posted_order()
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        create = respx.post(f"{BASE}/journalentry")
        push = erp_push_entry(entry=entry).push
        assert (push.status, push.error_kind) == (ErpPush.Status.FAILED, "unknown_account")
        assert raised.call_args.kwargs["detail"].startswith("Account(s) 4100 have no QuickBooks Online id")
        assert not create.called


@respx.mock
def test_expired_token_is_refreshed_once_and_the_new_tokens_are_stored_encrypted(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        connection = _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").mock(
            side_effect=[httpx.Response(401, json=Q["token_expired"]), httpx.Response(200, json=Q["none"])]
        )
        respx.post(TOKEN).respond(200, json=Q["refreshed"])
        respx.post(f"{BASE}/journalentry").respond(200, json=Q["created"])
        assert erp_push_entry(entry=entry).push.status == ErpPush.Status.ACKED
        connection.refresh_from_db()
        assert connection.credentials["access_token"] == "eyJ-new-access"
        assert connection.credentials["refresh_token"] == "AB11-new-refresh"


@respx.mock
def test_refused_refresh_raises_a_reconnect_exception(world):
    with tenant_context(world.acme), mock.patch("posting.erp.services.exception_raise") as raised:
        standard_chart_apply()
        connection = _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").respond(401, json=Q["token_expired"])
        respx.post(TOKEN).respond(400, json=Q["invalid_grant"])
        push = erp_push_entry(entry=entry).push
        assert (push.status, push.error_kind) == (ErpPush.Status.FAILED, "reconnect")
        assert raised.call_args.kwargs["cause"] == "reconnect_required"
        connection.refresh_from_db()
        assert (connection.status, connection.last_message) == (
            "error",
            "QuickBooks Online refused the token request (invalid_grant): connect QuickBooks Online again.",
        )
        assert list(entries_due()) == []  # nothing is retried until someone connects again


@respx.mock
def test_cancellation_is_pushed_as_the_erps_reversal_of_the_acknowledged_entry(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        _qbo()
        document = shopify_order()
        order = order_upsert(source="shopify", connection_id=1, document=document).obj
        original = journal_post_order(order=order).entry
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        create = respx.post(f"{BASE}/journalentry").mock(
            side_effect=[httpx.Response(200, json=Q["created"]), httpx.Response(200, json=Q["created_reversal"])]
        )
        erp_push_entry(entry=original)
        order.cancelled_at = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
        order.save(update_fields=["cancelled_at"])
        reversal = journal_post_cancellation(order=order).entry
        push = erp_push_entry(entry=reversal).push
        assert (push.status, push.external_id) == (ErpPush.Status.ACKED, "228")
        sent = create.calls[1].request
        assert f'"DocNumber":"TB-{reversal.pk}"'.encode() in sent.content
        assert b'"TxnDate":"2026-03-20"' in sent.content


@respx.mock
def test_erp_push_exception_in_triage_carries_the_erps_words_and_its_retry_resolves_it(world):
    from triage.models import Exception as TriageException
    from triage.services import exception_retry_run

    with tenant_context(world.acme):
        standard_chart_apply()
        _qbo()
        entry = _posted_order()
        respx.get(f"{BASE}/query").mock(
            side_effect=[
                httpx.Response(200, json=Q["none"]),
                httpx.Response(200, json=Q["none"]),
                httpx.Response(200, json=Q["none"]),
            ]
        )
        respx.post(f"{BASE}/journalentry").mock(
            side_effect=[
                httpx.Response(400, json=Q["unknown_account"]),
                httpx.Response(400, json=Q["unknown_account"]),
                httpx.Response(200, json=Q["created"]),
            ]
        )
        erp_push_entry(entry=entry)
        exception = TriageException.objects.get(kind="erp_push")
        occurrence = exception.occurrences.get()
        assert (exception.cause, exception.severity, exception.fix_class, exception.retry_name) == (
            "unknown_account",
            "high",
            "mapping",
            "posting.erp_push",
        )
        assert exception.detail == (
            "QuickBooks Online: Invalid Reference Id — Invalid Reference Id : Accounts element id 999 not found"
        )
        assert occurrence.retry_args == {"entry_id": entry.pk}
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 0, "failed": 1}
        occurrence.refresh_from_db()
        assert occurrence.last_retry_error.startswith("ErpPushStillFailing: QuickBooks Online: Invalid Reference Id")
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 1, "failed": 0}
        exception.refresh_from_db()
        assert exception.status == "resolved"
        assert ErpPush.objects.get(entry=entry).external_id == "227"


@respx.mock
def test_batched_drafts_wait_and_the_closed_batch_summary_is_pushed_once(world):
    from posting.models import PostingBatch
    from posting.services import batch_close, policy_update

    with tenant_context(world.acme):
        standard_chart_apply()
        _qbo()
        policy_update(mode="batched", batch_window="daily")
        drafts = [_posted_order(f"10{number}") for number in range(3)]
        assert {entry.status for entry in drafts} == {JournalEntry.Status.DRAFT}
        assert list(entries_due()) == []
        assert erp_push_entry(entry=drafts[0]).skipped == "the entry waits in an open batch"
        summary = batch_close(batch=PostingBatch.objects.get())
        assert list(entries_due()) == [summary]
        respx.get(f"{BASE}/query").respond(200, json=Q["none"])
        create = respx.post(f"{BASE}/journalentry").respond(200, json=Q["created"])
        push = erp_push_entry(entry=summary).push
        assert (push.status, push.reference) == (ErpPush.Status.ACKED, f"TB-{summary.pk}")
        sent = create.calls[0].request
        assert f'"PrivateNote":"{summary.memo}"'.encode() in sent.content
        assert ErpPush.objects.count() == 1  # the drafts behind the summary are never pushed on their own


def test_an_acknowledged_push_is_announced_once_to_webhook_subscribers(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    from tenants import webhooks
    from tenants.models import WebhookDelivery

    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    hook = webhooks.webhook_subscription_create(
        partner=world.northwind, url="https://93.184.216.34/hook", events=["journal.pushed"], actor=None
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = _posted_order()
        with django_capture_on_commit_callbacks(execute=True):
            erp_push_entry(entry=entry)
            erp_push_entry(entry=JournalEntry.objects.get(pk=entry.pk))  # already acknowledged: not again
    [delivery] = WebhookDelivery.objects.filter(subscription=hook)
    assert delivery.payload["data"] == {
        "tenant": "acme",
        "journal": {"id": entry.pk, "source_key": entry.source_key, "date": entry.date.isoformat()},
        "erp": {"vendor": "builtin_ledger", "external_id": f"ledger:{entry.pk}", "number": str(entry.pk)},
    }
