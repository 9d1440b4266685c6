import json
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django_tenants.utils import tenant_context

import tests.worker_tasks  # noqa: F401 - registers tests.probe_present here, as in the worker
from tenants.models import Membership
from tests.factories import UserFactory
from tests.triage.conftest import probe, raise_exception
from triage import services
from triage.models import Exception as TriageException
from triage.partner.models import TriageIndex
from triage.retry import RetryAction, retry_action
from triage.selectors import ASSIGNEE_REFUSED

ACME = "acme.northwind.localhost"


@retry_action("tests.views_noop")
def _noop(n: int, payload: dict | None = None) -> None:
    if payload is not None and payload.get("total") == "bad":
        raise ValueError("total is not a number")


def _two_groups(world):
    with tenant_context(world.acme):
        mapping = raise_exception(probe("order"), title="No revenue account for category Shoes")
        raise_exception(probe("order2"), title="No revenue account for category Shoes")
        sync = raise_exception(
            probe("order"), kind="sync", cause="auth_failed", severity="critical", title="Shopify token revoked"
        )
    return mapping, sync


def test_inbox_lists_groups_with_counts_and_filters(world, host_client):
    mapping, sync = _two_groups(world)
    client = host_client(ACME, world.acme_admin)
    page = client.get("/exceptions/")
    critical = client.get("/exceptions/", {"severity": "critical", "status": "open_all"})
    searched = client.get("/exceptions/", {"q": "shopify"})
    assert page.status_code == 200
    assert [e.pk for e in page.context["page"].object_list] == [sync.pk, mapping.pk]  # SLA due first
    assert [e.count for e in page.context["page"].object_list] == [1, 2]
    assert page.context["counts"] == {"open": 2, "breached": 0, "unassigned": 2, "critical": 1}
    assert [e.pk for e in critical.context["page"].object_list] == [sync.pk]
    assert [e.pk for e in searched.context["page"].object_list] == [sync.pk]
    assert b"Shopify token revoked" in page.content


def test_member_of_another_tenant_gets_404_on_inbox_detail_and_actions(world, host_client):
    mapping, _ = _two_groups(world)
    client = host_client(ACME, world.bluebird_admin)
    assert client.get("/exceptions/").status_code == 404
    assert client.get(f"/exceptions/{mapping.pk}/").status_code == 404
    assert client.post(f"/exceptions/{mapping.pk}/resolve/", {"reason": "x"}).status_code == 404
    assert client.post("/exceptions/bulk/", {"action": "resolve", "ids": [mapping.pk]}).status_code == 404
    with tenant_context(world.acme):
        assert TriageException.objects.get(pk=mapping.pk).status == "open"


def test_detail_shows_objects_comments_and_timeline(world, host_client):
    mapping, _ = _two_groups(world)
    with tenant_context(world.acme):
        services.exception_comment(exception=mapping, body="Adding the rule now", actor=world.acme_admin)
    response = host_client(ACME, world.acme_admin).get(f"/exceptions/{mapping.pk}/")
    detail = response.context["detail"]
    assert response.status_code == 200
    assert [o.object_label for o in detail.occurrences] == ["order2", "order"]
    assert [c.body for c in detail.comments] == ["Adding the rule now"]
    assert [a.action for a in detail.activities] == ["raised", "commented"]
    assert b"Adding the rule now" in response.content


def test_resolve_needs_a_reason_for_money_kinds_then_resolves(world, host_client):
    mapping, _ = _two_groups(world)
    client = host_client(ACME, world.acme_admin)
    refused = client.post(f"/exceptions/{mapping.pk}/resolve/", {"reason": ""})
    with tenant_context(world.acme):
        assert TriageException.objects.get(pk=mapping.pk).status == "open"
    done = client.post(f"/exceptions/{mapping.pk}/resolve/", {"reason": "Rule added for Shoes"})
    with tenant_context(world.acme):
        mapping.refresh_from_db()
    assert refused.status_code == 400
    assert "Say why" in refused.content.decode()
    assert done.status_code == 302
    assert (mapping.status, mapping.resolution_reason) == ("resolved", "Rule added for Shoes")


def test_assign_to_someone_without_access_is_refused(world, host_client):
    mapping, _ = _two_groups(world)
    client = host_client(ACME, world.acme_admin)
    refused = client.post(f"/exceptions/{mapping.pk}/assign/", {"assignee": world.cedar_admin.email})
    unknown = client.post(f"/exceptions/{mapping.pk}/assign/", {"assignee": "nobody@nowhere.test"})
    done = client.post(f"/exceptions/{mapping.pk}/assign/", {"assignee": world.partner_admin.email})
    with tenant_context(world.acme):
        mapping.refresh_from_db()
    assert (refused.status_code, unknown.status_code, done.status_code) == (400, 400, 302)
    assert ASSIGNEE_REFUSED in refused.content.decode()
    assert ASSIGNEE_REFUSED in unknown.content.decode()
    assert (mapping.status, mapping.assignee_email) == ("assigned", world.partner_admin.email)


def test_unknown_action_is_404_and_viewers_cannot_act(world, host_client):
    mapping, _ = _two_groups(world)
    viewer = UserFactory(email="viewer@acme.test")
    Membership.objects.create(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    assert host_client(ACME, world.acme_admin).post(f"/exceptions/{mapping.pk}/explode/").status_code == 404
    viewer_client = host_client(ACME, viewer)
    assert viewer_client.get(f"/exceptions/{mapping.pk}/").status_code == 200
    assert viewer_client.post(f"/exceptions/{mapping.pk}/resolve/", {"reason": "x"}).status_code == 403
    assert viewer_client.post("/exceptions/bulk/", {"action": "resolve", "ids": [mapping.pk]}).status_code == 403


def test_bulk_resolve_ignore_and_assign_from_the_inbox(world, host_client):
    with tenant_context(world.acme):
        a = raise_exception(probe("order"), kind="sync", cause="a")
        b = raise_exception(probe("order"), kind="mapping", cause="b")
        c = raise_exception(probe("order"), kind="webhook", cause="c")
    client = host_client(ACME, world.acme_admin)
    resolved = client.post("/exceptions/bulk/", {"action": "resolve", "ids": [a.pk, b.pk], "next": "/exceptions/"})
    no_reason = client.post("/exceptions/bulk/", {"action": "ignore", "ids": [c.pk]})
    unknown = client.post("/exceptions/bulk/", {"action": "explode", "ids": [c.pk]})
    nothing = client.post("/exceptions/bulk/", {"action": "resolve"})
    assigned = client.post(
        "/exceptions/bulk/", {"action": "assign", "ids": [b.pk, c.pk], "assignee": "finance@acme.test"}
    )
    with tenant_context(world.acme):
        statuses = dict(TriageException.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "status"))
    assert (resolved.status_code, resolved["Location"]) == (302, "/exceptions/")
    assert (no_reason.status_code, unknown.status_code, nothing.status_code) == (400, 400, 400)
    assert assigned.status_code == 302
    # b needs a reason to be resolved, so it stayed open and could be assigned.
    assert statuses == {a.pk: "resolved", b.pk: "assigned", c.pk: "assigned"}


def test_bulk_assign_answers_the_same_for_unknown_emails_and_other_partners_accounts(world, host_client):
    with tenant_context(world.acme):
        exception = raise_exception(probe("order"), kind="sync", cause="enum")
    client = host_client(ACME, world.acme_admin)

    def bulk_assign(email: str):
        return client.post("/exceptions/bulk/", {"action": "assign", "ids": [exception.pk], "assignee": email})

    other_partners = bulk_assign(world.cedar_admin.email)
    nobody = bulk_assign("ghost@nowhere.test")
    assert (other_partners.status_code, nobody.status_code) == (400, 400)
    assert other_partners.context["bulk_form"].errors == nobody.context["bulk_form"].errors
    assert nobody.context["bulk_form"].errors == {"assignee": [ASSIGNEE_REFUSED]}
    with tenant_context(world.acme):
        assert TriageException.objects.get(pk=exception.pk).status == "open"


def test_retry_button_answers_a_polling_fragment_then_the_result(world, host_client):
    with tenant_context(world.acme):
        exception = raise_exception(
            probe("order"), kind="sync", cause="timeout", retry=RetryAction("tests.views_noop", {"n": 1})
        )
    client = host_client(ACME, world.acme_admin)
    started = client.post(f"/exceptions/{exception.pk}/retry/", HTTP_HX_REQUEST="true")
    status_url = started.context["status_url"]
    running = client.get(status_url)
    with tenant_context(world.acme):
        services.exception_retry_run(exception_id=exception.pk)
    finished = client.get(status_url)
    assert started.status_code == 200
    assert 'hx-trigger="every 1s"' in started.content.decode()
    assert "Retry running" in running.content.decode()
    assert "hx-get" not in finished.content.decode()
    assert "1 succeeded; the exception is resolved" in finished.content.decode()


def test_retry_without_an_action_shows_why(world, host_client):
    mapping, _ = _two_groups(world)
    response = host_client(ACME, world.acme_admin).post(f"/exceptions/{mapping.pk}/retry/", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "no retry action" in response.content.decode()


def test_edit_and_retry_keeps_the_original_and_queues_the_retry(world, host_client):
    with tenant_context(world.acme):
        exception = raise_exception(
            probe("order"),
            kind="normalise",
            cause="bad_total",
            retry=RetryAction("tests.views_noop", {"n": 1}),
            payload={"total": "12,50"},
        )
        occurrence = exception.occurrences.get()
    client = host_client(ACME, world.acme_admin)
    page = client.get(f"/exceptions/{exception.pk}/")
    bad_json = client.post(f"/exceptions/{exception.pk}/payload/", {"occurrence": occurrence.pk, "payload": "{oops"})
    done = client.post(
        f"/exceptions/{exception.pk}/payload/", {"occurrence": occurrence.pk, "payload": json.dumps({"total": "12.50"})}
    )
    with tenant_context(world.acme):
        occurrence.refresh_from_db()
        actions = list(exception.activities.values_list("action", flat=True))
    assert b"Edit and retry" in page.content
    assert bad_json.status_code == 400
    assert done.status_code == 302
    assert (occurrence.payload, occurrence.edited_payload) == ({"total": "12,50"}, {"total": "12.50"})
    assert actions == ["raised", "payload_edited", "retry_requested"]


def test_comment_snooze_and_ignore(world, host_client):
    _, sync = _two_groups(world)
    client = host_client(ACME, world.acme_admin)
    assert client.post(f"/exceptions/{sync.pk}/comment/", {"body": "  "}).status_code == 400
    assert client.post(f"/exceptions/{sync.pk}/comment/", {"body": "Token rotated"}).status_code == 302
    assert client.post(f"/exceptions/{sync.pk}/snooze/", {"hours": "4"}).status_code == 302
    with tenant_context(world.acme):
        sync.refresh_from_db()
        assert sync.status == "snoozed"
    assert client.post(f"/exceptions/{sync.pk}/ignore/", {"reason": ""}).status_code == 400
    assert client.post(f"/exceptions/{sync.pk}/ignore/", {"reason": "Test shop"}).status_code == 302
    with tenant_context(world.acme):
        sync.refresh_from_db()
    assert (sync.status, sync.resolution_reason) == ("ignored", "Test shop")


@pytest.mark.worker
def test_retry_button_shows_the_workers_result_by_polling(celery_worker, django_db_blocker):
    """The htmx retry through a real Celery worker: first still failing, then resolved."""
    from tests.conftest import _WORLD as world
    from tests.conftest import client_for

    def poll(client, url: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get(url).content.decode()
            if "hx-get" not in body:
                return body
            time.sleep(0.2)
        raise AssertionError("The retry did not finish within 30 s.")

    with django_db_blocker.unblock():
        client = client_for(ACME, world.acme_admin)
        with tenant_context(world.acme):
            exception = raise_exception(
                None, kind="sync", cause="ui_probe", retry=RetryAction("tests.probe_present", {"model": "ui_late"})
            )
        try:
            started = client.post(f"/exceptions/{exception.pk}/retry/", HTTP_HX_REQUEST="true")
            failed = poll(client, started.context["status_url"])
            with tenant_context(world.acme):
                ContentType.objects.get_or_create(app_label="isolation_probe", model="ui_late")
            again = client.post(f"/exceptions/{exception.pk}/retry/", HTTP_HX_REQUEST="true")
            succeeded = poll(client, again.context["status_url"])
            with tenant_context(world.acme):
                exception.refresh_from_db()
        finally:
            with tenant_context(world.acme):
                TriageException.objects.filter(pk=exception.pk).delete()
                ContentType.objects.filter(app_label="isolation_probe", model="ui_late").delete()
            TriageIndex.objects.filter(tenant=world.acme, exception_id=exception.pk).delete()
    assert "0 succeeded, 1 still failing" in failed
    assert "probe ui_late is missing in t_acme" in failed
    assert "1 succeeded; the exception is resolved" in succeeded
    assert exception.status == "resolved"
