"""The partner API and the tenant `tenant/` endpoint, through HTTP with keys and sessions."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_exists

from tenants import services
from tenants.models import ApiKey, AuditEvent, Membership, Tenant, UsageRecord
from tenants.usage import usage_increment
from tests.factories import UserFactory

PARTNER_HOST = "northwind.localhost"
OTHER_PARTNER_HOST = "southpaw.localhost"


def test_tenant_key_calls_who_am_i_on_its_domain(world, make_key, api_client):
    key = make_key(tenant=world.acme, scopes=["read"])
    response = api_client(world.host(world.acme), key).get("/api/v1/tenant/")
    assert response.status_code == 200
    body = response.json()
    assert (body["slug"], body["domain"], body["partner"]) == (
        "acme",
        "acme.northwind.localhost",
        {"slug": "northwind", "name": "Northwind Commerce Partners"},
    )
    assert body["principal"] == {"type": "api_key", "name": key[:16], "scopes": ["read"]}


def test_partner_creates_a_tenant_through_the_api(world, make_key, api_client):
    key = make_key(scopes=["read", "write"])
    prefix = key[:16]
    response = api_client(PARTNER_HOST, key).post(
        "/api/v1/tenants/",
        {"slug": "juniper", "name": "Juniper Garden", "timezone": "America/Chicago", "plan": "growth"},
    )
    assert response.status_code == 201
    assert response.json() | {"created_at": None} == {
        "slug": "juniper",
        "name": "Juniper Garden",
        "status": "active",
        "plan": "growth",
        "timezone": "America/Chicago",
        "base_currency": "USD",
        "domain": "juniper.northwind.localhost",
        "created_at": None,
    }
    assert schema_exists("t_juniper")
    event = AuditEvent.objects.get(action="tenant.create", target_id=str(Tenant.objects.get(slug="juniper").pk))
    assert (event.actor, event.actor_label) == (None, f"api-key:{prefix}")


def test_create_tenant_with_bad_fields_is_400_with_field_errors(world, make_key, api_client):
    key = make_key(scopes=["write"])
    response = api_client(PARTNER_HOST, key).post("/api/v1/tenants/", {"slug": "acme", "name": "", "colour": "red"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("invalid", {"colour": ["Unknown field."]})
    response = api_client(PARTNER_HOST, key).post("/api/v1/tenants/", {"slug": "acme", "name": "Copy"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"slug": ["The slug acme is already taken."]}
    response = api_client(PARTNER_HOST, key).post(
        "/api/v1/tenants/", {"slug": "newone", "name": "N", "timezone": "Mars/Base"}
    )
    assert response.json()["error"]["details"] == {"timezone": ["'Mars/Base' is not a known time zone."]}


def test_tenant_list_is_the_partners_own_and_filterable(world, make_key, api_client):
    key = make_key(scopes=["read"])
    # a fresh instance: the session-wide world objects must keep their in-memory status
    services.tenant_status_set(tenant=Tenant.objects.get(pk=world.bluebird.pk), status="suspended", actor=None)
    client = api_client(PARTNER_HOST, key)
    body = client.get("/api/v1/tenants/").json()
    assert sorted(t["slug"] for t in body["results"]) == ["acme", "bluebird"]
    assert set(body) == {"next", "previous", "results"}
    assert [t["slug"] for t in client.get("/api/v1/tenants/?status=suspended").json()["results"]] == ["bluebird"]
    assert client.get("/api/v1/tenants/?status=nope").status_code == 400


def test_cursor_pagination_walks_every_row_once(world, make_key, api_client):
    key = make_key(scopes=["read"])
    for n in range(5):
        usage_increment(metric="api_calls", tenant=world.acme, day=timezone.now().date() - timedelta(days=n))
    client = api_client(PARTNER_HOST, key)
    seen, url = [], "/api/v1/usage/?page_size=2&start=2000-01-01&end=2000-12-31"
    assert client.get(url).json()["results"] == []
    today = timezone.now().date()
    url = f"/api/v1/usage/?tenant=acme&page_size=2&start={(today - timedelta(days=10)).isoformat()}&end={today}"
    while url:
        page = client.get(url).json()
        seen.extend(row["day"] for row in page["results"])
        url = page["next"]
    assert seen == [(today - timedelta(days=n)).isoformat() for n in range(5)]


def test_partner_key_cannot_see_another_partners_tenant(world, make_key, api_client):
    key = make_key(scopes=["read", "write"])
    client = api_client(PARTNER_HOST, key)
    assert client.get("/api/v1/tenants/cedar/").status_code == 404
    assert client.post("/api/v1/tenants/cedar/suspend/").status_code == 404
    assert client.get("/api/v1/tenants/cedar/").json()["error"]["code"] == "not_found"
    assert Tenant.objects.get(slug="cedar").status == "active"


def test_suspend_and_resume(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["write", "read"]))
    assert client.post("/api/v1/tenants/acme/suspend/").json()["status"] == "suspended"
    assert Tenant.objects.get(slug="acme").status == "suspended"
    assert client.post("/api/v1/tenants/acme/resume/").json()["status"] == "active"
    assert list(
        AuditEvent.objects.filter(tenant=world.acme, action__in=["tenant.suspend", "tenant.resume"])
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["tenant.suspend", "tenant.resume"]


def test_brand_read_and_patch(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read", "write", "admin"]))
    assert client.get("/api/v1/brand/").json() == {
        "name": "Northwind Commerce Partners",
        "primary_colour": "#0E5E6F",
        "accent_colour": "#F2A900",
        "support_email": "help@northwind.test",
        "sender_name": "Northwind Commerce Partners",
        "logo_url": None,
    }
    response = client.patch("/api/v1/brand/", {"primary_colour": "#112233"})
    assert response.status_code == 200
    assert response.json()["primary_colour"] == "#112233"
    bad = client.patch("/api/v1/brand/", {"primary_colour": "red"})
    assert bad.status_code == 400
    assert list(bad.json()["error"]["details"]) == ["primary_colour"]


def test_members_invite_sends_a_password_set_email_and_revoke(
    world, make_key, api_client, mailoutbox, django_capture_on_commit_callbacks
):
    client = api_client(PARTNER_HOST, make_key(scopes=["admin"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/members/", {"email": "New.Person@acme.test", "role": "tenant_viewer", "tenant": "acme"}
        )
    assert response.status_code == 202
    body = response.json()
    assert body == {"email": "new.person@acme.test", "role": "tenant_viewer", "tenant": "acme", "status": "invited"}
    membership = Membership.objects.get(user__email="new.person@acme.test", tenant=world.acme)
    body["id"] = membership.pk
    user = membership.user
    assert not user.has_usable_password()
    assert [m.to for m in mailoutbox] == [["new.person@acme.test"]]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body
    assert client.delete(f"/api/v1/members/{body['id']}/").status_code == 204
    assert not Membership.objects.filter(pk=body["id"]).exists()
    cedar_membership = Membership.objects.get(user=world.cedar_admin)
    assert client.delete(f"/api/v1/members/{cedar_membership.pk}/").status_code == 404


def test_api_key_is_shown_once_and_stored_hashed(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read", "admin"]))
    response = client.post("/api/v1/api-keys/", {"name": "BI", "scopes": ["read"], "tenant": "acme"})
    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    stored = ApiKey.objects.get(prefix=body["prefix"])
    assert raw.startswith(body["prefix"] + "_")
    assert raw not in stored.secret_hash and len(stored.secret_hash) == 64
    assert (body["level"], body["tenant"], stored.tenant) == ("tenant", "acme", world.acme)
    listed = client.get("/api/v1/api-keys/").json()["results"]
    assert "key" not in listed[0]
    assert api_client(world.host(world.acme), raw).get("/api/v1/tenant/").status_code == 200
    revoked = client.post(f"/api/v1/api-keys/{body['prefix']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert api_client(world.host(world.acme), raw).get("/api/v1/tenant/").status_code == 401


def test_tenant_admin_manages_tenant_keys_on_the_tenant_domain(world, host_client, make_key, api_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/api/v1/api-keys/", {"name": "ERP", "scopes": ["read", "write"]}, content_type="application/json"
    )
    assert response.status_code == 201
    assert ApiKey.objects.get(prefix=response.json()["prefix"]).tenant == world.acme
    bluebird_key = make_key(tenant=world.bluebird, scopes=["admin"])
    bluebird_prefix = bluebird_key[:16]
    assert (
        client.post(f"/api/v1/api-keys/{bluebird_prefix}/revoke/", content_type="application/json").status_code == 404
    )


def test_usage_json_and_csv_export(world, make_key, api_client):
    day = timezone.now().date().replace(day=1)
    usage_increment(metric="orders_ingested", tenant=world.acme, amount=40, day=day)
    usage_increment(metric="orders_ingested", tenant=world.acme, amount=2, day=day)
    usage_increment(metric="journals_posted", tenant=world.bluebird, amount=7, day=day)
    usage_increment(metric="orders_ingested", tenant=world.cedar, amount=99, day=day)
    client = api_client(PARTNER_HOST, make_key(scopes=["read"]))
    rows = client.get("/api/v1/usage/").json()["results"]
    by_key = {(r["tenant"], r["metric"]): r["count"] for r in rows if r["day"] == day.isoformat()}
    assert by_key[("acme", "orders_ingested")] == 42
    assert by_key[("bluebird", "journals_posted")] == 7
    assert ("cedar", "orders_ingested") not in by_key
    response = client.get("/api/v1/usage/?format=csv&tenant=acme")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == ["day", "tenant", "metric", "count"]
    assert [day.isoformat(), "acme", "orders_ingested", "42"] in table[1:]
    assert {row[1] for row in table[1:]} == {"acme"}
    bad = client.get("/api/v1/usage/?start=2026-02-01&end=2026-01-01")
    assert (bad.status_code, bad.json()["error"]["details"]) == (400, {"end": ["The end is before the start."]})


def test_audit_log_filters_by_tenant_and_action(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read", "write"]))
    client.post("/api/v1/tenants/bluebird/suspend/")
    events = client.get("/api/v1/audit-events/?tenant=bluebird&action=tenant.suspend").json()["results"]
    assert [(e["action"], e["tenant"], e["actor"][:8]) for e in events] == [("tenant.suspend", "bluebird", "api-key:")]
    all_tenants = {e["tenant"] for e in client.get("/api/v1/audit-events/?page_size=200").json()["results"]}
    assert "cedar" not in all_tenants
    assert client.get("/api/v1/audit-events/?since=yesterday").status_code == 400


def test_api_calls_are_metered_per_tenant_and_per_partner(world, make_key, api_client):
    partner_key = make_key(scopes=["read"])
    api_client(world.host(world.acme), partner_key).get("/api/v1/tenant/")
    api_client(world.host(world.acme), partner_key).get("/api/v1/tenant/")
    api_client(PARTNER_HOST, partner_key).get("/api/v1/tenants/")
    today = timezone.now().date()
    assert UsageRecord.objects.get(tenant=world.acme, day=today, metric="api_calls").count == 2
    assert UsageRecord.objects.get(partner=world.northwind, tenant=None, day=today, metric="api_calls").count == 1


def test_unknown_api_path_is_json_404(world, make_key, api_client):
    response = api_client(PARTNER_HOST, make_key()).get("/api/v1/nope/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["request_id"] == response["X-Request-ID"]


def test_method_not_allowed_is_json_405(world, make_key, api_client):
    response = api_client(PARTNER_HOST, make_key(scopes=["write"])).delete("/api/v1/tenants/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_oversized_body_is_413(world, make_key, api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api_client(PARTNER_HOST, make_key(scopes=["write"]))
    response = client.post("/api/v1/tenants/", {"slug": "big", "name": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    response = client.post("/api/v1/tenants/", {"slug": "big", "name": "x" * 2000}, HTTP_IDEMPOTENCY_KEY="k-big")
    assert response.status_code == 413


def test_malformed_json_is_400(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["write"]))
    response = client.client.post("/api/v1/tenants/", "{not json", content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "parse_error")


@pytest.mark.parametrize("expires", [True, False])
def test_expired_or_revoked_key_is_401(world, api_client, expires):
    from tenants.api_keys import api_key_create, api_key_revoke

    created = api_key_create(
        name="k", scopes=["read"], partner=world.northwind, expires_at=timezone.now() + timedelta(seconds=30)
    )
    if expires:
        ApiKey.objects.filter(pk=created.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        api_key_revoke(api_key=created.api_key, actor=None)
    response = api_client(PARTNER_HOST, created.raw_key).get("/api/v1/tenants/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "authentication_failed"


def test_last_used_is_written_at_most_once_a_minute(world, make_key, api_client):
    key = make_key()
    client = api_client(PARTNER_HOST, key)
    client.get("/api/v1/tenants/")
    first = ApiKey.objects.get(prefix=key[:16]).last_used_at
    client.get("/api/v1/tenants/")
    assert ApiKey.objects.get(prefix=key[:16]).last_used_at == first
    ApiKey.objects.filter(last_used_at=first).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/tenants/")
    assert ApiKey.objects.get(prefix=key[:16]).last_used_at > first


def test_x_api_key_header_works_too(world, make_key, api_client):
    key = make_key()
    assert api_client(PARTNER_HOST, None, **{"X-Api-Key": key}).get("/api/v1/tenants/").status_code == 200


def test_session_partner_operator_may_read_but_not_create_tenants(world, host_client):
    operator = UserFactory(email="ops2@northwind.test")
    services.membership_grant(user=operator, partner=world.northwind, role="partner_operator")
    client = host_client(PARTNER_HOST, operator)
    assert client.get("/api/v1/tenants/").status_code == 200
    response = client.post("/api/v1/tenants/", {"slug": "nope", "name": "Nope"}, content_type="application/json")
    assert response.status_code == 403


WRITES = [
    ("post", "/api/v1/tenants/", {"slug": "audited", "name": "Audited"}, ["tenant.create"]),
    ("post", "/api/v1/tenants/acme/suspend/", None, ["tenant.suspend"]),
    ("patch", "/api/v1/brand/", {"sender_name": "NW Ops"}, ["partner.brand_update"]),
    (
        "post",
        "/api/v1/members/",
        {"email": "a@acme.test", "role": "partner_operator"},
        ["user.create", "membership.grant"],
    ),
    ("post", "/api/v1/api-keys/", {"name": "k", "scopes": ["read"]}, ["api_key.create"]),
    ("post", "/api/v1/webhooks/", {"url": "https://93.184.216.34/h", "events": ["sync.failed"]}, ["webhook.create"]),
]


@pytest.mark.parametrize("write", WRITES, ids=[w[1] + ":" + w[0] for w in WRITES])
def test_every_api_write_is_audited_as_the_key(world, make_key, api_client, write):
    method, path, body, actions = write
    key = make_key(scopes=["read", "write", "admin"])
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = getattr(api_client(PARTNER_HOST, key), method)(path, body)
    assert response.status_code in (200, 201, 202), response.content  # adding members answers 202
    events = AuditEvent.objects.filter(id__gt=before).order_by("id")
    assert [(e.action, e.actor_label, e.actor) for e in events] == [(a, f"api-key:{key[:16]}", None) for a in actions]


def test_nul_characters_are_400_not_500(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read", "write", "admin"]))
    assert client.post("/api/v1/api-keys/a%00b/revoke/").json()["error"]["code"] == "invalid"
    response = client.post("/api/v1/tenants/", {"slug": "x", "name": "y"}, HTTP_IDEMPOTENCY_KEY="a\x00b")
    assert response.status_code == 400
    response = client.client.post(
        "/api/v1/tenants/", '{"slug": "x", "name": "a\\u0000"}', content_type="application/json"
    )
    assert response.json()["error"]["details"] == {"name": ["Null characters are not allowed."]}


def test_a_key_cannot_grant_scopes_it_does_not_hold(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["admin"]))
    response = client.post("/api/v1/api-keys/", {"name": "wider", "scopes": ["read", "write"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "scopes": ["You cannot grant scopes you do not hold: ['read', 'write']."]
    }
    assert client.post("/api/v1/api-keys/", {"name": "same", "scopes": ["admin"]}).status_code == 201


def test_partner_key_acts_on_its_tenant_through_the_partner_domain(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read"]))
    response = client.get(f"/api/v1/tenants/{world.acme.slug}/tenant/")
    assert response.status_code == 200
    assert response.json()["slug"] == world.acme.slug


def test_partner_domain_tenant_path_hides_other_partners_tenants(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(scopes=["read"]))
    assert client.get(f"/api/v1/tenants/{world.cedar.slug}/tenant/").status_code == 404
    assert client.get("/api/v1/tenants/no-such-tenant/tenant/").status_code == 404


def test_tenant_key_cannot_use_the_partner_domain_tenant_path(world, make_key, api_client):
    client = api_client(PARTNER_HOST, make_key(tenant=world.acme, scopes=["read"]))
    assert client.get(f"/api/v1/tenants/{world.bluebird.slug}/tenant/").status_code == 404


def test_partner_session_member_acts_on_its_tenant_through_the_partner_domain(world, host_client):
    response = host_client(PARTNER_HOST, world.partner_admin).get(f"/api/v1/tenants/{world.acme.slug}/tenant/")
    assert response.status_code == 200
    assert response.json()["slug"] == world.acme.slug


def _audit_seed(world):
    """Three tenant-level changes: acme by its admin and by a key, cedar (another partner) by its admin."""
    from django_tenants.utils import tenant_context

    from posting.services import policy_update

    with tenant_context(world.acme):
        policy_update(mode="batched", actor=world.acme_admin)
        policy_update(cutoff_hour=4, actor_label="api-key:tb_seedkey")
    with tenant_context(world.cedar):
        policy_update(mode="batched", actor=world.cedar_admin)
    from django.db import connection

    connection.set_schema_to_public()


def test_audit_api_filters_by_action_actor_dates_and_is_the_partners_own(world, make_key, api_client):
    _audit_seed(world)
    client = api_client(PARTNER_HOST, make_key(scopes=["read"]))
    rows = client.get("/api/v1/audit/?action=posting_policy.update").json()["results"]
    assert [(row["tenant"], row["actor"], row["changes"]) for row in rows] == [
        ("acme", "api-key:tb_seedkey", {"cutoff_hour": [0, 4]}),
        ("acme", world.acme_admin.email, {"mode": ["per_document", "batched"]}),
    ]
    assert set(rows[0]) >= {"request_id", "created_at", "target_type", "target_id"}
    by_actor = client.get("/api/v1/audit/?actor=seedkey").json()["results"]
    assert [row["changes"] for row in by_actor] == [{"cutoff_hour": [0, 4]}]
    prefix = client.get("/api/v1/audit/?action=posting_policy.&tenant=acme").json()["results"]
    assert len(prefix) == 2
    today = timezone.now().date()
    dated = client.get(f"/api/v1/audit/?action=posting_policy.update&since={today}&until={today}").json()
    assert len(dated["results"]) == 2
    tomorrow = today + timedelta(days=1)
    assert client.get(f"/api/v1/audit/?since={tomorrow}").json()["results"] == []
    assert client.get("/api/v1/audit/?until=not-a-date").status_code == 400
    # Cross-partner: northwind never sees cedar's change, even by naming the tenant; southpaw sees only its own.
    assert client.get("/api/v1/audit/?tenant=cedar").json()["results"] == []
    other = api_client(OTHER_PARTNER_HOST, make_key(scopes=["read"], partner=world.southpaw))
    theirs = other.get("/api/v1/audit/?action=posting_policy.update").json()["results"]
    assert [(row["tenant"], row["actor"]) for row in theirs] == [("cedar", world.cedar_admin.email)]
    # The first name of the list answers the same.
    legacy = client.get("/api/v1/audit-events/?action=posting_policy.update").json()["results"]
    assert [row["id"] for row in legacy] == [row["id"] for row in rows]


def test_audit_api_is_not_served_on_a_tenant_host(world, make_key, api_client):
    key = make_key(scopes=["read"], tenant=world.acme)
    assert api_client(world.host(world.acme), key).get("/api/v1/audit/").status_code == 404
