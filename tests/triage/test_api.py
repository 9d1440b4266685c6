import pytest
from django_tenants.utils import tenant_context

from tests.triage.conftest import probe, raise_exception
from triage import services
from triage.models import Exception as TriageException
from triage.retry import RetryAction, retry_action
from triage.selectors import ASSIGNEE_REFUSED

ACME = "acme.northwind.localhost"
BLUEBIRD = "bluebird.northwind.localhost"
NORTHWIND = "northwind.localhost"

pytestmark = pytest.mark.usefixtures("throttle_reset")


@retry_action("tests.api_noop")
def _noop(n: int, payload: dict | None = None) -> None:
    return None


def _acme_exceptions(world):
    with tenant_context(world.acme):
        mapping = raise_exception(probe("order"), title="No revenue account for Shoes")
        raise_exception(probe("order2"), title="No revenue account for Shoes")
        sync = raise_exception(
            probe("order"),
            kind="sync",
            cause="timeout",
            severity="critical",
            title="Shopify timed out",
            retry=RetryAction("tests.api_noop", {"n": 1}),
            payload={"total": "12,50"},
        )
    return mapping, sync


def _status(world, pk):
    with tenant_context(world.acme):
        return TriageException.objects.get(pk=pk).status


def test_list_filters_and_paginates_by_sla(world, api_client, make_key):
    mapping, sync = _acme_exceptions(world)
    client = api_client(ACME, make_key(tenant=world.acme))
    body = client.get("/api/v1/exceptions/").json()
    critical = client.get("/api/v1/exceptions/", data={"severity": "critical"}).json()
    searched = client.get("/api/v1/exceptions/", data={"q": "shoes"}).json()
    first = client.get("/api/v1/exceptions/", data={"page_size": 1}).json()
    second = api_client(ACME, make_key(tenant=world.acme)).client.get(first["next"]).json()
    assert [(row["id"], row["count"]) for row in body["results"]] == [(sync.pk, 1), (mapping.pk, 2)]
    assert body["results"][0]["retry_action"] == "tests.api_noop"
    assert [row["id"] for row in critical["results"]] == [sync.pk]
    assert [row["id"] for row in searched["results"]] == [mapping.pk]
    assert [row["id"] for row in first["results"] + second["results"]] == [sync.pk, mapping.pk]
    assert client.get("/api/v1/exceptions/", data={"status": "exploded"}).json()["error"]["code"] == "invalid"


def test_detail_has_objects_comments_and_activity(world, api_client, make_key):
    mapping, _ = _acme_exceptions(world)
    with tenant_context(world.acme):
        services.exception_comment(exception=mapping, body="On it", actor=world.acme_admin)
    body = api_client(ACME, make_key(tenant=world.acme)).get(f"/api/v1/exceptions/{mapping.pk}/").json()
    assert body["open_objects"] == 2
    assert [o["object_label"] for o in body["occurrences"]] == ["order2", "order"]
    assert [(c["author"], c["body"]) for c in body["comments"]] == [("finance@acme.test", "On it")]
    assert [a["action"] for a in body["activities"]] == ["raised", "commented"]


def test_other_tenants_key_and_member_get_404(world, api_client, make_key, host_client):
    mapping, _ = _acme_exceptions(world)
    bluebird_key = make_key(tenant=world.bluebird, scopes=["read", "write"])
    assert api_client(ACME, bluebird_key).get("/api/v1/exceptions/").status_code == 404
    assert api_client(BLUEBIRD, bluebird_key).get(f"/api/v1/exceptions/{mapping.pk}/").status_code == 404
    member = host_client(ACME, world.bluebird_admin)
    assert member.get("/api/v1/exceptions/").status_code == 404
    assert member.post(f"/api/v1/exceptions/{mapping.pk}/ignore/", {"reason": "x"}).status_code == 404
    assert api_client(BLUEBIRD, bluebird_key).post(
        "/api/v1/exceptions/bulk/", {"action": "ignore", "ids": [mapping.pk], "reason": "x"}
    ).json() == {"done": [], "errors": {str(mapping.pk): "No such exception."}}
    assert _status(world, mapping.pk) == "open"


def _without_request_id(response) -> dict:
    return {key: value for key, value in response.json()["error"].items() if key != "request_id"}


def test_actions_and_their_refusals(world, api_client, make_key, host_client):
    mapping, sync = _acme_exceptions(world)
    client = api_client(ACME, make_key(tenant=world.acme, scopes=["read", "write"]))
    base = f"/api/v1/exceptions/{mapping.pk}"
    no_access = client.post(f"{base}/assign/", {"assignee": world.cedar_admin.email})
    unknown = client.post(f"{base}/assign/", {"assignee": "ghost@nowhere.test"})
    assigned = client.post(f"{base}/assign/", {"assignee": world.acme_admin.email})
    commented = client.post(f"{base}/comment/", {"body": "Rule coming"})
    no_reason = client.post(f"{base}/resolve/", {})
    no_retry = client.post(f"{base}/retry/", {})
    unknown_action = client.post(f"{base}/explode/", {})
    resolved = client.post(f"{base}/resolve/", {"reason": "Rule added"})
    assert (no_access.status_code, unknown.status_code) == (400, 400)
    assert no_access.json()["error"]["details"] == {"assignee": [ASSIGNEE_REFUSED]}
    assert _without_request_id(unknown) == _without_request_id(no_access)  # no account enumeration
    assert (assigned.status_code, assigned.json()["assignee"], assigned.json()["status"]) == (
        200,
        world.acme_admin.email,
        "assigned",
    )
    assert (commented.status_code, commented.json()["body"]) == (201, "Rule coming")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["details"]
    assert no_retry.status_code == 400 and "retry" in no_retry.json()["error"]["details"]
    assert unknown_action.status_code == 404 and unknown_action.json()["error"]["code"] == "not_found"
    assert (resolved.status_code, resolved.json()["status"], resolved.json()["resolution_reason"]) == (
        200,
        "resolved",
        "Rule added",
    )
    snoozed = client.post(f"/api/v1/exceptions/{sync.pk}/snooze/", {"until": "2099-01-01T00:00:00Z"})
    past = client.post(f"/api/v1/exceptions/{sync.pk}/snooze/", {"until": "2001-01-01T00:00:00Z"})
    ignored = client.post(f"/api/v1/exceptions/{sync.pk}/ignore/", {"reason": "Shop closed"})
    assert (snoozed.status_code, snoozed.json()["status"], past.status_code) == (200, "snoozed", 400)
    assert (ignored.status_code, ignored.json()["status"]) == (200, "ignored")


def test_retry_and_edit_and_retry(world, api_client, make_key, django_capture_on_commit_callbacks):
    _, sync = _acme_exceptions(world)
    client = api_client(ACME, make_key(tenant=world.acme, scopes=["read", "write"]))
    with tenant_context(world.acme):
        occurrence = sync.occurrences.get()
    lonely = client.post(f"/api/v1/exceptions/{sync.pk}/retry/", {"payload": {"total": "12.50"}})
    wrong = client.post(f"/api/v1/exceptions/{sync.pk}/retry/", {"occurrence": 999999, "payload": {}})
    with django_capture_on_commit_callbacks() as callbacks:
        queued = client.post(
            f"/api/v1/exceptions/{sync.pk}/retry/", {"occurrence": occurrence.pk, "payload": {"total": "12.50"}}
        )
    with tenant_context(world.acme):
        occurrence.refresh_from_db()
        actions = list(sync.activities.values_list("action", flat=True))
    assert (lonely.status_code, wrong.status_code, queued.status_code) == (400, 400, 202)
    assert (occurrence.payload, occurrence.edited_payload) == ({"total": "12,50"}, {"total": "12.50"})
    assert actions == ["raised", "payload_edited", "retry_requested"]
    assert len(callbacks) == 1  # the worker task, dispatched after commit


def test_read_key_and_viewer_cannot_write(world, api_client, make_key):
    mapping, _ = _acme_exceptions(world)
    response = api_client(ACME, make_key(tenant=world.acme, scopes=["read"])).post(
        f"/api/v1/exceptions/{mapping.pk}/ignore/", {"reason": "x"}
    )
    assert response.status_code == 403
    assert _status(world, mapping.pk) == "open"


def test_bulk_via_api(world, api_client, make_key):
    with tenant_context(world.acme):
        a = raise_exception(probe("order"), kind="sync", cause="a")
        b = raise_exception(probe("order"), kind="mapping", cause="b")
    client = api_client(ACME, make_key(tenant=world.acme, scopes=["read", "write"]))
    resolved = client.post("/api/v1/exceptions/bulk/", {"action": "resolve", "ids": [a.pk, b.pk]})
    unknown = client.post("/api/v1/exceptions/bulk/", {"action": "explode", "ids": [a.pk]})
    empty = client.post("/api/v1/exceptions/bulk/", {"action": "ignore", "ids": []})
    no_access = client.post(
        "/api/v1/exceptions/bulk/", {"action": "assign", "ids": [b.pk], "assignee": world.cedar_admin.email}
    )
    nobody = client.post(
        "/api/v1/exceptions/bulk/", {"action": "assign", "ids": [b.pk], "assignee": "ghost@nowhere.test"}
    )
    assigned = client.post(
        "/api/v1/exceptions/bulk/", {"action": "assign", "ids": [b.pk], "assignee": world.partner_admin.email}
    )
    assert resolved.json() == {
        "done": [a.pk],
        "errors": {str(b.pk): "Say why this mapping exception is resolved."},
    }
    assert (unknown.status_code, empty.status_code) == (400, 400)
    assert unknown.json()["error"]["details"]["action"] == ['"explode" is not a valid choice.']
    # An account of another partner and an address nobody uses get the same answer (no enumeration).
    assert (no_access.status_code, nobody.status_code) == (400, 400)
    assert no_access.json()["error"]["details"] == {"assignee": [ASSIGNEE_REFUSED]}
    assert _without_request_id(nobody) == _without_request_id(no_access)
    assert assigned.json() == {"done": [b.pk], "errors": {}}
    assert (_status(world, a.pk), _status(world, b.pk)) == ("resolved", "assigned")


def test_idempotency_key_replays_a_resolve(world, api_client, make_key):
    mapping, _ = _acme_exceptions(world)
    client = api_client(ACME, make_key(tenant=world.acme, scopes=["read", "write"]), **{"Idempotency-Key": "r-1"})
    first = client.post(f"/api/v1/exceptions/{mapping.pk}/resolve/", {"reason": "Rule added"})
    again = client.post(f"/api/v1/exceptions/{mapping.pk}/resolve/", {"reason": "Rule added"})
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (200, 200, "true")
    assert again.json() == first.json()


def test_partner_key_acts_on_its_tenant_through_the_partner_host(world, api_client, make_key):
    mapping, _ = _acme_exceptions(world)
    client = api_client(NORTHWIND, make_key(partner=world.northwind, scopes=["read", "write"]))
    listed = client.get("/api/v1/tenants/acme/exceptions/")
    ignored = client.post(f"/api/v1/tenants/acme/exceptions/{mapping.pk}/ignore/", {"reason": "Test shop"})
    foreign = client.get("/api/v1/tenants/cedar/exceptions/")
    assert listed.status_code == 200 and len(listed.json()["results"]) == 2
    assert (ignored.status_code, ignored.json()["status"]) == (200, "ignored")
    assert foreign.status_code == 404


def test_partner_wide_list_reads_only_the_partners_tenants(world, api_client, make_key):
    mapping, sync = _acme_exceptions(world)
    with tenant_context(world.bluebird):
        bluebird = raise_exception(probe("order"), severity="low")
    with tenant_context(world.cedar):
        raise_exception(probe("order"), severity="critical")
    client = api_client(NORTHWIND, make_key(partner=world.northwind))
    body = client.get("/api/v1/partner-exceptions/").json()
    critical = client.get("/api/v1/partner-exceptions/", data={"severity": "critical"}).json()
    bluebird_only = client.get("/api/v1/partner-exceptions/", data={"tenant": "bluebird"}).json()
    assert [(row["tenant"], row["exception_id"]) for row in body["results"]] == [
        ("acme", sync.pk),
        ("acme", mapping.pk),
        ("bluebird", bluebird.pk),
    ]
    assert body["results"][0]["url"] == f"http://acme.northwind.localhost/exceptions/{sync.pk}/"
    assert body["results"][0]["api_path"] == f"/api/v1/tenants/acme/exceptions/{sync.pk}/"
    assert [row["exception_id"] for row in critical["results"]] == [sync.pk]
    assert [row["exception_id"] for row in bluebird_only["results"]] == [bluebird.pk]
    assert api_client(ACME, make_key(partner=world.northwind)).get("/api/v1/partner-exceptions/").status_code == 404
    assert api_client(NORTHWIND, make_key(partner=world.southpaw)).get("/api/v1/partner-exceptions/").status_code == 404


def test_partner_admin_key_manages_alert_rules_of_its_own_tenants_only(world, api_client, make_key):
    from tenants.models import AuditEvent
    from triage.partner.models import AlertRule

    admin = api_client(NORTHWIND, make_key(scopes=["read", "write", "admin"]))
    created = admin.post(
        "/api/v1/alert-rules/",
        {
            "name": "Acme storms",
            "trigger": "count_over",
            "tenant": "acme",
            "threshold": 50,
            "window_minutes": 10,
            "emails": ["oncall@northwind.test"],
        },
    )
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert (rule["tenant"], rule["trigger"], rule["threshold"], rule["emails"]) == (
        "acme",
        "count_over",
        50,
        ["oncall@northwind.test"],
    )
    assert [r["name"] for r in admin.get("/api/v1/alert-rules/").json()["results"]] == ["Acme storms"]
    assert AuditEvent.objects.filter(action="alert_rule.created", target_id=str(rule["id"])).exists()

    # another partner's tenant, a count rule without N, an unknown field: 400 with the reason
    cedar = admin.post("/api/v1/alert-rules/", {"name": "x", "trigger": "critical", "tenant": "cedar"})
    assert cedar.status_code == 400 and "tenant" in cedar.json()["error"]["details"]
    no_n = admin.post("/api/v1/alert-rules/", {"name": "x", "trigger": "count_over", "emails": ["a@b.test"]})
    assert no_n.status_code == 400 and "threshold" in no_n.json()["error"]["details"]
    assert admin.post("/api/v1/alert-rules/", {"name": "x", "trigger": "critical", "colour": "red"}).status_code == 400

    # a write-only key may not touch alert rules; another partner cannot see or deactivate this one
    assert api_client(NORTHWIND, make_key(scopes=["read", "write"])).get("/api/v1/alert-rules/").status_code == 403
    southpaw = api_client("southpaw.localhost", make_key(partner=world.southpaw, scopes=["read", "write", "admin"]))
    assert southpaw.get("/api/v1/alert-rules/").json()["results"] == []
    assert southpaw.delete(f"/api/v1/alert-rules/{rule['id']}/").status_code == 404
    assert (
        api_client(ACME, make_key(tenant=world.acme, scopes=["admin"])).get("/api/v1/alert-rules/").status_code == 404
    )

    gone = admin.delete(f"/api/v1/alert-rules/{rule['id']}/")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert AlertRule.objects.get(pk=rule["id"]).active is False
