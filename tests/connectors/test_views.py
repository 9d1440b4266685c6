import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from connectors.models import Connection, InboundEvent, SyncRun
from tenants import services as tenant_services
from tenants.models import Membership
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import FIXTURES, fixture_bytes


@pytest.fixture
def admin(world, host_client):
    return host_client(world.host(world.acme), world.acme_admin)


def test_list_and_detail_show_connections_without_secrets(world, admin):
    with tenant_context(world.acme):
        conn = ConnectionFactory(name="Acme web shop", secrets={"credentials": {"access_token": "shpat_sekrit"}})
    page = admin.get("/connections/")
    assert page.status_code == 200
    assert "Acme web shop" in page.content.decode()
    detail = admin.get(f"/connections/{conn.pk}/").content.decode()
    assert f"/hooks/shopify/{conn.pk}/" in detail
    assert "shpat_sekrit" not in detail
    assert "Stored (encrypted)" in detail


def test_add_a_shopify_connection_through_the_form(world, admin):
    assert "Shopify" in admin.get("/connections/add/").content.decode()
    form = admin.get("/connections/add/?vendor=shopify").content.decode()
    assert 'name="secret_access_token"' in form
    response = admin.post(
        "/connections/add/",
        {
            "vendor": "shopify",
            "name": "Web shop",
            "sync_interval_minutes": "10",
            "config_shop_domain": "acme-outfitters.myshopify.com",
            "config_api_version": "2025-07",
            "secret_access_token": "shpat_new",
            "webhook_secret": "app-secret",
        },
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        conn = Connection.objects.get()
        assert (conn.name, conn.credentials, conn.webhook_secret, conn.sync_interval_minutes) == (
            "Web shop",
            {"access_token": "shpat_new"},
            "app-secret",
            10,
        )
    assert response["Location"] == f"/connections/{conn.pk}/"


def test_add_refuses_a_bad_shop_domain(world, admin):
    response = admin.post(
        "/connections/add/",
        {"vendor": "shopify", "name": "x", "sync_interval_minutes": "10", "config_shop_domain": "evil.example.com"},
    )
    assert response.status_code == 200
    assert "shop_domain must look like your-store.myshopify.com." in response.content.decode()


def test_edit_keeps_secrets_when_left_blank(world, admin):
    with tenant_context(world.acme):
        conn = ConnectionFactory(secrets={"credentials": {"access_token": "shpat_keep"}, "webhook_secret": "keep-me"})
    form = admin.get(f"/connections/{conn.pk}/edit/").content.decode()
    assert "shpat_keep" not in form and "keep-me" not in form
    response = admin.post(
        f"/connections/{conn.pk}/edit/",
        {"name": "Renamed", "sync_interval_minutes": "30", "config_shop_domain": "acme-outfitters.myshopify.com"},
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.name, fresh.credentials, fresh.webhook_secret) == (
            "Renamed",
            {"access_token": "shpat_keep"},
            "keep-me",
        )


@respx.mock
def test_test_connection_reports_the_vendor_answer(world, admin):
    respx.get("https://acme-outfitters.myshopify.com/admin/api/2025-07/shop.json").mock(
        return_value=httpx.Response(
            200,
            json={
                "shop": {
                    "name": "Acme Outfitters",
                    "myshopify_domain": "acme-outfitters.myshopify.com",
                    "currency": "USD",
                }
            },
        )
    )
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    response = admin.post(f"/connections/{conn.pk}/test/", follow=True)
    assert "Connected to Acme Outfitters (acme-outfitters.myshopify.com), currency USD." in response.content.decode()


def test_sync_now_pause_and_resume(world, admin, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post(f"/connections/{conn.pk}/sync/")
    with tenant_context(world.acme):
        run = SyncRun.objects.get()
    assert response["Location"] == f"/connections/runs/{run.pk}/"
    page = admin.get(f"/connections/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    fragment = admin.get(f"/connections/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="run-progress"')
    admin.post(f"/connections/{conn.pk}/pause/")
    with tenant_context(world.acme):
        assert Connection.objects.get(pk=conn.pk).status == "paused"
    admin.post(f"/connections/{conn.pk}/resume/")
    with tenant_context(world.acme):
        assert Connection.objects.get(pk=conn.pk).status == "active"


def test_csv_upload_stores_events(world, admin, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        conn = ConnectionFactory(vendor="csv", config={})
    with (
        open(FIXTURES / "csv" / "orders.csv", "rb") as handle,
        django_capture_on_commit_callbacks(execute=False) as hooks,
    ):
        response = admin.post(f"/connections/{conn.pk}/upload/", {"topic": "orders", "file": handle}, follow=True)
    assert "Stored 2 record(s), 0 already received; processing." in response.content.decode()
    assert len(hooks) == 2
    with tenant_context(world.acme):
        assert InboundEvent.objects.filter(connection=conn, source="file").count() == 2


def test_event_browser_shows_the_raw_payload_and_replays(world, admin, django_capture_on_commit_callbacks):
    from connectors.inbox import event_store

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
    listing = admin.get("/connections/events/?status=dead").content.decode()
    assert f"/connections/events/{event.pk}/" in listing
    detail = admin.get(f"/connections/events/{event.pk}/").content.decode()
    assert "&quot;SPRING10&quot;" in detail and "boom" in detail
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        admin.post(f"/connections/events/{event.pk}/replay/")
    assert len(hooks) == 1
    with tenant_context(world.acme):
        assert InboundEvent.objects.get(pk=event.pk).status == "received"


def test_viewers_can_read_but_not_change(world, host_client):
    viewer = tenant_services.user_create(
        email="viewer@acme.test", password="correct-horse-battery", name="V", verified=True
    )
    tenant_services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    assert client.get(f"/connections/{conn.pk}/").status_code == 200
    assert client.post(f"/connections/{conn.pk}/pause/").status_code == 403
    assert client.get("/connections/add/").status_code == 403


def test_another_tenants_connection_is_404(world, host_client):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
    client = host_client(world.host(world.bluebird), world.bluebird_admin)
    assert client.get(f"/connections/{conn.pk}/").status_code == 404


def test_cancel_button_cancels_a_running_sync_run(world, admin):
    with tenant_context(world.acme):
        run = SyncRun.objects.create(connection=ConnectionFactory(), status=SyncRun.Status.RUNNING)
    page = admin.get(f"/connections/runs/{run.pk}/").content.decode()
    assert f'action="/connections/runs/{run.pk}/cancel/"' in page and "data-confirm=" in page
    assert admin.get(f"/connections/runs/{run.pk}/cancel/").status_code == 405
    response = admin.post(f"/connections/runs/{run.pk}/cancel/")
    assert (response.status_code, response["Location"]) == (302, f"/connections/runs/{run.pk}/")
    with tenant_context(world.acme):
        assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.CANCELLED
    assert 'data-testid="run-cancel"' not in admin.get(f"/connections/runs/{run.pk}/").content.decode()


def test_cancel_is_refused_to_viewers_and_other_tenants(world, host_client):
    viewer = tenant_services.user_create(
        email="viewer@acme.test", password="correct-horse-battery", name="V", verified=True
    )
    tenant_services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    with tenant_context(world.acme):
        run = SyncRun.objects.create(connection=ConnectionFactory(), status=SyncRun.Status.QUEUED)
    viewer_client = host_client(world.host(world.acme), viewer)
    assert 'data-testid="run-cancel"' not in viewer_client.get(f"/connections/runs/{run.pk}/").content.decode()
    assert viewer_client.post(f"/connections/runs/{run.pk}/cancel/").status_code == 403
    other = host_client(world.host(world.bluebird), world.bluebird_admin)
    assert other.post(f"/connections/runs/{run.pk}/cancel/").status_code == 404
    with tenant_context(world.acme):
        assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED
