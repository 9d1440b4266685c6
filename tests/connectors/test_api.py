import json

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework import serializers

from connectors.inbox import event_store
from connectors.models import Connection, InboundEvent, SyncRun
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    key = make_key(scopes=["read", "write"], tenant=world.acme)
    return api_client(world.host(world.acme), key)


def test_create_connection_with_write_only_credentials(world, acme_api):
    response = acme_api.post(
        "/api/v1/connections/",
        {
            "vendor": "stripe",
            "name": "Stripe",
            "config": {"api_version": "2024-06-20"},
            "credentials": {"secret_key": "sk_test_abc"},
            "webhook_secret": "whsec_x",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "credentials" not in body and "webhook_secret" not in body
    assert "sk_test_abc" not in response.content.decode()
    assert (body["vendor"], body["has_credentials"], body["credential_keys"]) == ("stripe", True, ["secret_key"])
    assert body["webhook_url"] == f"http://{world.host(world.acme)}/hooks/stripe/{body['id']}/"
    with tenant_context(world.acme):
        assert Connection.objects.get(pk=body["id"]).credentials == {"secret_key": "sk_test_abc"}
    listing = acme_api.get("/api/v1/connections/").json()
    assert [(item["id"], item["webhook_url"]) for item in listing["results"]] == [(body["id"], body["webhook_url"])]


def test_create_rejects_unknown_fields_and_business_rules(world, acme_api):
    response = acme_api.post("/api/v1/connections/", {"vendor": "stripe", "name": "x", "password": "p"})
    assert (response.status_code, response.json()["error"]["details"]) == (400, {"password": ["Unknown field."]})
    response = acme_api.post("/api/v1/connections/", {"vendor": "stripe", "direction": "erp", "name": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"direction": ["stripe connections are sources of sales."]}


def test_patch_updates_pauses_and_merges_credentials(world, acme_api):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    response = acme_api.patch(
        f"/api/v1/connections/{conn.pk}/", {"name": "Renamed", "status": "paused", "credentials": {"scope": "read"}}
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["status"]) == ("Renamed", "paused")
    with tenant_context(world.acme):
        assert Connection.objects.get(pk=conn.pk).credentials == {
            "access_token": "shpat_test_0123456789abcdef",
            "scope": "read",
        }


def test_sync_runs_start_and_list(world, acme_api, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    with django_capture_on_commit_callbacks(execute=False):
        response = acme_api.post(
            "/api/v1/sync-runs/", {"connection": conn.pk, "kind": "backfill", "since": "2025-01-01T00:00:00Z"}
        )
    assert response.status_code == 202, response.json()
    run = response.json()
    assert (run["kind"], run["status"], run["topics"]) == ("backfill", "queued", ["orders", "payouts"])
    assert acme_api.get(f"/api/v1/sync-runs/?connection={conn.pk}").json()["results"][0]["id"] == run["id"]
    assert acme_api.get(f"/api/v1/sync-runs/{run['id']}/").json()["since"] == "2025-01-01T00:00:00Z"
    missing_date = acme_api.post("/api/v1/sync-runs/", {"connection": conn.pk, "kind": "backfill"})
    assert missing_date.status_code == 400
    assert acme_api.post("/api/v1/sync-runs/", {"connection": 999999}).status_code == 404


def test_events_list_detail_and_replay(world, acme_api, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        event, _ = event_store(
            connection=conn,
            topic="orders/create",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_create.json"),
            dispatch=False,
        )
        InboundEvent.objects.filter(pk=event.pk).update(status="dead", last_error="boom")
    listing = acme_api.get("/api/v1/events/?status=dead").json()
    assert [(item["id"], item["topic"]) for item in listing["results"]] == [(event.pk, "orders/create")]
    detail = acme_api.get(f"/api/v1/events/{event.pk}/").json()
    assert (detail["status"], detail["last_error"], detail["result"]) == ("dead", "boom", {})
    assert (detail["body"], detail["payload"], detail["headers"]) == (None, None, None)
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        replay = acme_api.post(f"/api/v1/events/{event.pk}/replay/")
    assert (replay.status_code, replay.json()["status"]) == (202, "received")
    assert len(hooks) == 1


def _dead_event(world):
    with tenant_context(world.acme):
        event, _ = event_store(
            connection=ConnectionFactory(),
            topic="orders/create",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_create.json"),
            dispatch=False,
        )
        InboundEvent.objects.filter(pk=event.pk).update(status="dead", last_error="boom")
    return event


def test_event_raw_body_needs_the_admin_scope(world, make_key, api_client, throttle_reset):
    event = _dead_event(world)
    admin = api_client(world.host(world.acme), make_key(scopes=["read", "admin"], tenant=world.acme))
    detail = admin.get(f"/api/v1/events/{event.pk}/").json()
    assert detail["payload"] == fixture("shopify", "orders_create.json")
    assert detail["body"] == fixture_bytes("shopify", "orders_create.json").decode()
    reader = api_client(world.host(world.acme), make_key(scopes=["read", "write"], tenant=world.acme))
    assert reader.get(f"/api/v1/events/{event.pk}/").json()["body"] is None


def test_events_updated_since_sees_status_changes_written_by_queryset_update(world, acme_api):
    _dead_event(world)
    with tenant_context(world.acme):
        second = event_store(
            connection=Connection.objects.get(), topic="orders/create", external_id="2", body=b"{}", dispatch=False
        )[0]
        cut = timezone.now()
        InboundEvent.objects.filter(pk=second.pk).update(status="dead")  # no save(): the trigger stamps it
    listing = acme_api.get("/api/v1/events/", data={"updated_since": cut.isoformat()}).json()
    assert [item["id"] for item in listing["results"]] == [second.pk]
    assert acme_api.get("/api/v1/events/", data={"updated_since": "yesterday"}).status_code == 400


def test_event_replay_honours_the_idempotency_key(world, acme_api, django_capture_on_commit_callbacks):
    event = _dead_event(world)
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        first = acme_api.post(f"/api/v1/events/{event.pk}/replay/", HTTP_IDEMPOTENCY_KEY="replay-1")
        with tenant_context(world.acme):
            stamped = InboundEvent.objects.get(pk=event.pk).updated_at  # the replay's own update
            InboundEvent.objects.filter(pk=event.pk).update(status="dead")
        again = acme_api.post(f"/api/v1/events/{event.pk}/replay/", HTTP_IDEMPOTENCY_KEY="replay-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["updated_at"] == serializers.DateTimeField().to_representation(stamped)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(hooks) == 1
    with tenant_context(world.acme):
        assert InboundEvent.objects.get(pk=event.pk).status == "dead"  # the repeat changed nothing


def test_sync_run_cancel(world, acme_api, make_key, api_client):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        running = SyncRun.objects.create(connection=conn, status=SyncRun.Status.RUNNING)
        done = SyncRun.objects.create(connection=conn, status=SyncRun.Status.SUCCEEDED)
    reader = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))
    assert reader.post(f"/api/v1/sync-runs/{running.pk}/cancel/").status_code == 403
    response = acme_api.post(f"/api/v1/sync-runs/{running.pk}/cancel/")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert response.json()["finished_at"] is not None
    assert acme_api.post(f"/api/v1/sync-runs/{running.pk}/cancel/").json()["status"] == "cancelled"
    finished = acme_api.post(f"/api/v1/sync-runs/{done.pk}/cancel/")
    assert (finished.status_code, finished.json()["error"]["code"]) == (409, "sync_run_finished")
    bluebird = api_client(world.host(world.bluebird), make_key(scopes=["read", "write"], tenant=world.bluebird))
    assert bluebird.post(f"/api/v1/sync-runs/{running.pk}/cancel/").status_code == 404
    with tenant_context(world.acme):
        assert SyncRun.objects.get(pk=done.pk).status == "succeeded"


def test_other_tenants_key_and_read_only_key(world, make_key, api_client, throttle_reset):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    bluebird = api_client(world.host(world.acme), make_key(scopes=["read", "write"], tenant=world.bluebird))
    assert bluebird.get("/api/v1/connections/").status_code == 404
    reader = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))
    assert reader.get(f"/api/v1/connections/{conn.pk}/").status_code == 200
    assert reader.patch(f"/api/v1/connections/{conn.pk}/", {"name": "x"}).status_code == 403
    with tenant_context(world.acme):
        assert SyncRun.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        # an unhashable environment used to reach `in BASES` and fail with a TypeError (a 500)
        ({"vendor": "square", "name": "POS", "config": {"environment": ["sandbox"]}}, "environment must be"),
        # jsonb cannot store U+0000: refused while parsing, before anything is saved
        (
            {"vendor": "shopify", "name": "Shop", "config": {"shop_domain": "a.myshopify.com", "note": "x\u0000y"}},
            "config.note",
        ),
        ({"vendor": "stripe", "name": "Stripe\u0000", "config": {}}, "Null characters are not allowed."),
    ],
)
def test_hostile_connection_configs_are_400_not_500(world, acme_api, payload, message):
    response = acme_api.post("/api/v1/connections/", payload)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json()["error"])
    with tenant_context(world.acme):
        assert not Connection.objects.exists()


def test_connection_create_edit_delete_over_http_are_audited_with_key_and_request_id(world, acme_api):
    from django.forms.models import model_to_dict

    from tenants.models import ApiKey, AuditEvent

    created = acme_api.post(
        "/api/v1/connections/",
        {"vendor": "stripe", "name": "Stripe", "credentials": {"secret_key": "sk_live_TOPSECRET"}},
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    patched = acme_api.patch(
        f"/api/v1/connections/{pk}/",
        {"name": "Stripe EU", "credentials": {"secret_key": "sk_live_NEWSECRET"}, "webhook_secret": "whsec_HIDDEN"},
    )
    assert patched.status_code == 200
    deleted = acme_api.client.delete(f"/api/v1/connections/{pk}/")
    assert deleted.status_code == 204
    with tenant_context(world.acme):
        assert not Connection.objects.filter(pk=pk).exists()
    assert acme_api.client.delete(f"/api/v1/connections/{pk}/").status_code == 404
    prefix = ApiKey.objects.get(tenant=world.acme).prefix
    events = list(AuditEvent.objects.filter(target_type="connectors.connection", target_id=str(pk)).order_by("id"))
    assert [(e.action, e.actor_label, e.tenant_id) for e in events] == [
        ("connection.create", f"api-key:{prefix}", world.acme.pk),
        ("connection.update", f"api-key:{prefix}", world.acme.pk),
        ("connection.credentials_change", f"api-key:{prefix}", world.acme.pk),
        ("connection.delete", f"api-key:{prefix}", world.acme.pk),
    ]
    assert events[0].request_id == created["X-Request-ID"]
    assert events[1].request_id == events[2].request_id == patched["X-Request-ID"]
    assert events[3].request_id == deleted["X-Request-ID"]
    assert events[1].changes == {"name": ["Stripe", "Stripe EU"]}
    assert events[2].changes == {"credentials": "changed: secret_key", "webhook_secret": "changed"}
    stored = json.dumps([model_to_dict(e) for e in events], default=str)
    for secret in ("sk_live_TOPSECRET", "sk_live_NEWSECRET", "whsec_HIDDEN"):
        assert secret not in stored


def test_connection_edit_and_delete_in_the_portal_are_audited_as_the_person(world, host_client):
    from tenants.models import AuditEvent

    with tenant_context(world.acme):
        conn = ConnectionFactory(vendor="stripe", name="Stripe", secrets={"credentials": {"secret_key": "sk_old"}})
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        f"/connections/{conn.pk}/edit/",
        {"name": "Stripe shop", "sync_interval_minutes": 15, "secret_secret_key": "sk_PORTAL_SECRET"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.post(f"/connections/{conn.pk}/pause/").status_code == 302
    assert client.post(f"/connections/{conn.pk}/delete/").status_code == 302
    events = AuditEvent.objects.filter(target_id=str(conn.pk), target_type="connectors.connection").order_by("id")
    assert [(e.action, e.actor_label) for e in events] == [
        ("connection.update", world.acme_admin.email),
        ("connection.credentials_change", world.acme_admin.email),
        ("connection.status_change", world.acme_admin.email),
        ("connection.delete", world.acme_admin.email),
    ]
    assert all(len(e.request_id) == 32 for e in events)
    assert "sk_PORTAL_SECRET" not in json.dumps(list(events.values()), default=str)
