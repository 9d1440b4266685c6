import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.tenants.webhook_sink import sink  # noqa: F401 - fixture
from triage import services
from triage.models import Exception as TriageException
from triage.models import GroupSummary
from triage.partner.models import TriageIndex
from triage.retry import RetryAction, retry_action
from triage.tasks import exception_retry_task


def _probe(model: str) -> ContentType:
    return ContentType.objects.get_or_create(app_label="isolation_probe", model=model)[0]


def _raise(obj=None, *, cause="unmapped", kind="mapping", severity="normal", **kwargs):
    return services.exception_raise(
        kind=kind,
        cause=cause,
        obj=obj,
        title=f"{cause} on {obj}",
        detail="No account for revenue.",
        severity=severity,
        **kwargs,
    )


def test_same_cause_on_many_objects_is_one_group_with_an_occurrence_each(world):
    with tenant_context(world.acme):
        first, second = _probe("one"), _probe("two")
        a = _raise(first)
        b = _raise(second)
        c = _raise(first)
        group = TriageException.objects.get()
        occurrences = {o.object_id: o.count for o in group.occurrences.all()}
    assert a.pk == b.pk == c.pk == group.pk
    assert group.count == 3
    assert group.fingerprint == "mapping:unmapped:contenttypes.contenttype"
    assert occurrences == {str(first.pk): 2, str(second.pk): 1}


def test_other_cause_or_kind_is_another_group(world):
    with tenant_context(world.acme):
        probe = _probe("one")
        _raise(probe)
        _raise(probe, cause="closed_period", kind="erp_push")
        assert TriageException.objects.count() == 2


def test_recurrence_reopens_a_resolved_group_and_restarts_its_sla(world):
    with tenant_context(world.acme):
        probe = _probe("one")
        exception = _raise(probe)
        services.exception_resolve(exception=exception, reason="Rule added", actor=world.acme_admin)
        exception.refresh_from_db()
        assert (exception.status, exception.resolution_reason) == ("resolved", "Rule added")
        again = _raise(probe)
        actions = list(again.activities.values_list("action", flat=True))
    assert (again.pk, again.status, again.count, again.resolved_at) == (exception.pk, "open", 2, None)
    assert actions == ["raised", "resolved", "reopened"]


def test_sla_due_follows_severity_and_plan(world):
    with tenant_context(world.acme):  # starter plan
        before = timezone.now()
        critical = _raise(_probe("one"), cause="a", severity="critical")
        low = _raise(_probe("one"), cause="b", severity="low")
    assert dt.timedelta(hours=8) <= critical.sla_due - before < dt.timedelta(hours=8, minutes=1)
    assert dt.timedelta(hours=168) <= low.sla_due - before < dt.timedelta(hours=168, minutes=1)


def test_partner_index_row_mirrors_the_tenant_row_in_the_same_transaction(world):
    with tenant_context(world.acme):
        exception = _raise(_probe("one"), severity="high")
        row = TriageIndex.objects.get(tenant=world.acme, exception_id=exception.pk)
        assert (row.partner_id, row.kind, row.severity, row.status, row.count) == (
            world.northwind.pk,
            "mapping",
            "high",
            "open",
            1,
        )
        services.exception_ignore(exception=exception, reason="Test order", actor=world.acme_admin)
        row.refresh_from_db()
    assert row.status == "ignored"


def test_partner_index_row_holds_every_group_summary_field_of_the_group(world):
    with tenant_context(world.acme):
        exception = _raise(_probe("one"))
        exception = _raise(_probe("two"))  # a repeat: count, last seen and title move on
        row = TriageIndex.objects.get(tenant=world.acme, exception_id=exception.pk)
        exception.refresh_from_db()
    names = [field.attname for field in GroupSummary._meta.fields]
    assert [getattr(row, name) for name in names] == [getattr(exception, name) for name in names]


def test_resolve_requires_a_reason_for_money_kinds_and_ignore_always(world):
    with tenant_context(world.acme):
        exception = _raise(_probe("one"))
        with pytest.raises(ValidationError, match="Say why"):
            services.exception_resolve(exception=exception, reason="  ", actor=world.acme_admin)
        with pytest.raises(ValidationError, match="Say why"):
            services.exception_ignore(exception=exception, reason="", actor=world.acme_admin)
        exception.refresh_from_db()
    assert exception.status == "open"


def test_assign_only_to_people_with_access_and_emails_them(
    world, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        with tenant_context(world.acme):
            exception = _raise(_probe("one"))
            with pytest.raises(ValidationError, match="has access to this tenant"):
                services.exception_assign(exception=exception, assignee=world.cedar_admin, actor=world.acme_admin)
            with django_capture_on_commit_callbacks(execute=True):
                services.exception_assign(exception=exception, assignee=world.partner_admin, actor=world.acme_admin)
            exception.refresh_from_db()
    finally:
        app.conf.task_always_eager = False
    assert (exception.status, exception.assignee_email) == ("assigned", "admin@northwind.test")
    assert [m.to for m in mailoutbox] == [["admin@northwind.test"]]
    assert "Assigned to you" in mailoutbox[0].subject


def test_retry_without_an_action_is_refused(world):
    with tenant_context(world.acme):
        exception = _raise(_probe("one"))
        with pytest.raises(ValidationError, match="no retry action"):
            services.exception_retry(exception=exception, actor=world.acme_admin)


def test_retry_run_records_failure_then_success_resolves(world):
    calls = []

    @retry_action("tests.flaky")
    def flaky(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            raise RuntimeError("ERP said: period closed")

    with tenant_context(world.acme):
        exception = _raise(_probe("one"), retry=RetryAction("tests.flaky", {"n": 7}))
        assert services.exception_retry_run(exception_id=exception.pk) == {"succeeded": 0, "failed": 1}
        exception.refresh_from_db()
        assert exception.status == "open"
        assert exception.occurrences.get().last_retry_error == "RuntimeError: ERP said: period closed"
        assert services.exception_retry_run(exception_id=exception.pk) == {"succeeded": 1, "failed": 0}
        exception.refresh_from_db()
    assert calls == [7, 7]
    assert (exception.status, exception.resolution_reason) == ("resolved", "Retry succeeded")


def test_edit_and_retry_keeps_the_original_payload(world):
    seen = []

    @retry_action("tests.with_payload")
    def with_payload(order_id: int, payload: dict | None = None) -> None:
        seen.append(payload)

    with tenant_context(world.acme):
        exception = _raise(
            _probe("one"),
            kind="normalise",
            cause="bad_total",
            retry=RetryAction("tests.with_payload", {"order_id": 1}),
            payload={"total": "12,50"},
        )
        occurrence = exception.occurrences.get()
        services.occurrence_payload_edit(occurrence=occurrence, payload={"total": "12.50"}, actor=world.acme_admin)
        services.exception_retry_run(exception_id=exception.pk)
        occurrence.refresh_from_db()
    assert seen == [{"total": "12.50"}]
    assert (occurrence.payload, occurrence.edited_payload) == ({"total": "12,50"}, {"total": "12.50"})


def test_bulk_applies_each_and_reports_each_failure(world):
    with tenant_context(world.acme):
        a = _raise(_probe("one"), cause="a", kind="sync")
        b = _raise(_probe("one"), cause="b", kind="mapping")
        result = services.exceptions_bulk(
            action="resolve", exception_ids=[a.pk, b.pk], actor=world.acme_admin, reason=""
        )
        with pytest.raises(ValidationError, match="Unknown action"):
            services.exceptions_bulk(action="explode", exception_ids=[a.pk])
    assert result["done"] == [a.pk]
    assert list(result["errors"]) == [b.pk]


def test_sla_mark_stamps_breaches_once_and_wakes_snoozed(world):
    with tenant_context(world.acme):
        overdue = _raise(_probe("one"), cause="a")
        snoozed = _raise(_probe("one"), cause="b")
        services.exception_snooze(
            exception=snoozed, until=timezone.now() + dt.timedelta(minutes=5), actor=world.acme_admin
        )
        later = timezone.now() + dt.timedelta(days=30)
        assert services.exceptions_sla_mark(now=later) == 2
        assert services.exceptions_sla_mark(now=later) == 0
        overdue.refresh_from_db()
        snoozed.refresh_from_db()
        row = TriageIndex.objects.get(tenant=world.acme, exception_id=overdue.pk)
    assert overdue.sla_breached_at == later
    assert snoozed.status == "open"
    assert row.sla_breached is True


def test_raising_outside_a_tenant_schema_is_refused(world):
    with pytest.raises(RuntimeError, match="inside a tenant schema"):
        _raise(None)


@pytest.mark.worker
def test_retry_through_a_real_worker_fails_then_succeeds(celery_worker, django_db_blocker):
    from tests.conftest import _WORLD as world

    with django_db_blocker.unblock(), tenant_context(world.acme):
        exception = _raise(
            None, kind="sync", cause="probe", retry=RetryAction("tests.probe_present", {"model": "late"})
        )
        try:
            assert exception_retry_task.delay(exception_id=exception.pk).get(timeout=30) == {
                "succeeded": 0,
                "failed": 1,
            }
            exception.refresh_from_db()
            assert exception.status == "open"
            assert "probe late is missing in t_acme" in exception.occurrences.get().last_retry_error
            _probe("late")
            assert exception_retry_task.delay(exception_id=exception.pk).get(timeout=30) == {
                "succeeded": 1,
                "failed": 0,
            }
            exception.refresh_from_db()
            assert exception.status == "resolved"
        finally:
            TriageIndex.objects.filter(tenant=world.acme).delete()
            TriageException.objects.all().delete()
            ContentType.objects.filter(app_label="isolation_probe").delete()


def test_object_success_resolves_its_occurrence_and_the_group_once_none_is_left(world):
    with tenant_context(world.acme):
        first, second = _probe("first"), _probe("second")
        exception = _raise(first)
        _raise(second)
        assert services.exception_resolve_for_object(obj=first, reason="Posted as journal entry 7.") == 0
        exception.refresh_from_db()
        assert exception.status == "open"
        assert list(exception.occurrences.order_by("pk").values_list("object_id", "resolution_reason")) == [
            (str(first.pk), "Posted as journal entry 7."),
            (str(second.pk), ""),
        ]
        assert services.exception_resolve_for_object(obj=second, reason="Posted as journal entry 8.") == 1
        exception.refresh_from_db()
        assert (exception.status, exception.resolution_reason) == ("resolved", "Posted as journal entry 8.")
        assert list(exception.activities.values_list("action", "actor_label")) == [
            ("raised", "system"),
            ("object_succeeded", "system"),
            ("resolved", "system"),
        ]
        assert TriageIndex.objects.get(tenant=world.acme, exception_id=exception.pk).status == "resolved"
        assert services.exception_resolve_for_object(obj=second, reason="Again.") == 0


def test_objects_that_succeeded_together_cost_one_query_when_nothing_is_open(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with tenant_context(world.acme):
        first, second, third = _probe("first"), _probe("second"), _probe("third")
        ContentType.objects.get_for_model(first)  # cached per process, as in a worker
        with CaptureQueriesContext(connection) as queries:
            assert services.exception_resolve_for_objects(objects=[first, second, third], reason="Posted.") == 0
        statements = [query["sql"] for query in queries if not query["sql"].startswith("SET search_path")]
        assert len(statements) == 1
        exception = _raise(second)
        assert services.exception_resolve_for_objects(objects=[first, second, third], reason="Posted.") == 1
        exception.refresh_from_db()
        assert (exception.status, exception.resolution_reason) == ("resolved", "Posted.")
        assert services.exception_resolve_for_objects(objects=[], reason="Posted.") == 0


def _commit_after_the_other_connection_waits(first, second) -> list[BaseException]:
    """Run `first` in an open transaction, start `second` on another connection, and commit only
    once `second` is waiting on a lock `first` holds: the race made deterministic."""
    import threading
    import time

    from django.db import connection, transaction

    from tests.conftest import _WORLD as world

    second_pid: list[int] = []
    errors: list[BaseException] = []

    def other_connection() -> None:
        try:
            with tenant_context(world.acme):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    second_pid.append(cursor.fetchone()[0])
                second()
        except BaseException as error:  # reported to the test thread
            errors.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        first()
        thread = threading.Thread(target=other_connection)
        thread.start()
        deadline, blocked = time.monotonic() + 20, False
        while time.monotonic() < deadline and not blocked:
            time.sleep(0.05)
            if second_pid:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [second_pid[0]])
                    row = cursor.fetchone()
                blocked = row is not None and row[0] == "Lock"
        assert blocked, "the other connection never waited on this transaction's locks"
    thread.join(timeout=20)
    return errors


def test_two_workers_raising_the_same_new_group_at_once_share_it(django_db_setup, django_db_blocker):
    """The second insert of a new fingerprint waits on the first (uncommitted) one, then joins it."""
    from tests.conftest import _WORLD as world

    with django_db_blocker.unblock(), tenant_context(world.acme):
        try:
            errors = _commit_after_the_other_connection_waits(
                lambda: _raise(None, kind="sync", cause="race"), lambda: _raise(None, kind="sync", cause="race")
            )
            assert errors == []
            exception = TriageException.objects.get(fingerprint="sync:race:")
            assert (exception.count, exception.occurrences.get().count) == (2, 2)
            assert list(exception.activities.values_list("action", flat=True)) == ["raised"]
            assert TriageIndex.objects.get(tenant=world.acme, exception_id=exception.pk).count == 2
        finally:
            TriageIndex.objects.filter(tenant=world.acme).delete()
            TriageException.objects.all().delete()


def test_auto_resolve_while_the_object_fails_again_keeps_the_new_count(django_db_setup, django_db_blocker):
    """Auto-resolve locks the group, so a recurrence committed meanwhile is not overwritten."""
    from tests.conftest import _WORLD as world

    with django_db_blocker.unblock(), tenant_context(world.acme):
        target = _probe("contended")
        try:
            exception = _raise(target, kind="sync", cause="contended")
            errors = _commit_after_the_other_connection_waits(
                lambda: _raise(target, kind="sync", cause="contended"),
                lambda: services.exception_resolve_for_object(obj=target, reason="Synced."),
            )
            assert errors == []
            exception.refresh_from_db()
            assert (exception.status, exception.count, exception.occurrences.get().count) == ("resolved", 2, 2)
            assert TriageIndex.objects.get(tenant=world.acme, exception_id=exception.pk).count == 2
        finally:
            TriageIndex.objects.filter(tenant=world.acme).delete()
            TriageException.objects.all().delete()
            ContentType.objects.filter(app_label="isolation_probe").delete()


def test_exception_raised_is_sent_once_per_new_group_after_commit(world, sink, django_capture_on_commit_callbacks):  # noqa: F811
    with tenant_context(world.acme):
        with django_capture_on_commit_callbacks(execute=True):
            first = _raise(_probe("order"))
            _raise(_probe("order"))  # the same group again: its count rises, nothing is sent
        data = sink.received_once("exception.raised")
    assert data == {
        "tenant": "acme",
        "exception": {
            "id": first.pk,
            "kind": "mapping",
            "cause": "unmapped",
            "severity": "normal",
            "status": "open",
            "title": first.title,
            "count": 1,
            "sla_due": first.sla_due.isoformat(),
        },
    }


def test_exception_raised_is_not_sent_for_a_raise_rolled_back(world, sink):  # noqa: F811
    with tenant_context(world.acme), pytest.raises(RuntimeError), transaction.atomic():
        _raise(_probe("order"))
        raise RuntimeError("the work failed")
    assert sink.count("exception.raised") == 0


def test_a_new_exception_marks_the_tenant_due_and_its_sla_is_when_the_job_is_next_due(world):
    from tenants.models import TenantDue

    TenantDue.objects.filter(tenant=world.acme).update(due_at=None, all_due=False)
    with tenant_context(world.acme):
        assert services.exceptions_sla_next_at() is None
        exception = _raise()
        assert services.exceptions_sla_next_at() == exception.sla_due
        services.exception_snooze(exception=exception, until=timezone.now() + dt.timedelta(minutes=5))
        exception.refresh_from_db()
        assert services.exceptions_sla_next_at() == min(exception.sla_due, exception.snoozed_until)
    due = TenantDue.objects.get(tenant=world.acme)
    assert (due.all_due, due.due_at <= timezone.now()) == (True, True)
