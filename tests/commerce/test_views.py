from decimal import Decimal as D

import pytest
from django.core.paginator import Paginator
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import inventory_level_upsert
from commerce.models import InventoryLocation, SafetyStock
from commerce.services import order_upsert
from tenants.models import Membership
from tenants.services import membership_grant
from tests.commerce.factories import shopify_order
from tests.conftest import _user


@pytest.fixture
def stock(world):
    with tenant_context(world.acme):
        inventory_level_upsert(
            source="shopify",
            connection_id=90007,
            document=CanonicalInventoryLevel("store-1", "TEE-BLK", D("5"), 1, location_name="Soho"),
        )
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="store-1"))
        return InventoryLocation.objects.get()


def test_inventory_page_shows_ats_oversell_and_the_chart(world, host_client, stock):
    response = host_client(world.host(world.acme), world.acme_admin).get("/inventory/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="inventory-table"' in page
    assert "2 SKU locations oversold" in page
    assert page.count('class="oversold"') == 2
    assert 'id="ats-data"' in page
    assert 'href="/inventory/"' in page  # the sidebar link


def test_filters_narrow_the_table(world, host_client, stock):
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/inventory/?q=boot&oversold=1").content.decode()
    assert "BOOT-BRN" in page and "TEE-BLK</td>" not in page


def test_safety_stock_form_saves_and_rejects_bad_input(world, host_client, stock):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post("/inventory/", {"location": stock.pk, "sku": "TEE-BLK", "quantity": "1"})
    assert response.status_code == 302
    with tenant_context(world.acme):
        assert SafetyStock.objects.get().quantity == D("1")
    bad = client.post("/inventory/", {"location": stock.pk, "sku": "TEE-BLK", "quantity": "-3"})
    assert bad.status_code == 400


def test_viewers_cannot_edit_safety_stock(world, host_client, stock):
    viewer = _user("viewer-inventory@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert 'data-testid="safety-form"' not in client.get("/inventory/").content.decode()
    assert client.post("/inventory/", {"location": stock.pk, "sku": "TEE-BLK", "quantity": "1"}).status_code == 403


def test_another_tenants_member_gets_404(world, host_client, stock):
    assert host_client(world.host(world.acme), world.bluebird_admin).get("/inventory/").status_code == 404


def test_location_page_maps_a_channel_and_edits_settings(world, host_client, stock):
    from commerce.models import ChannelLocation
    from tests.connectors.factories import ConnectionFactory

    with tenant_context(world.acme):
        web = ConnectionFactory(vendor="shopify", name="Web shop")
    client = host_client(world.host(world.acme), world.acme_admin)
    assert "Web shop" in client.get(f"/inventory/locations/{stock.pk}/").content.decode()
    mapped = client.post(
        f"/inventory/locations/{stock.pk}/",
        {"action": "channel", "channel_connection": web.pk, "channel_location_id": "71826145558"},
    )
    assert mapped.status_code == 302
    saved = client.post(
        f"/inventory/locations/{stock.pk}/",
        {"action": "update", "name": "Soho", "kind": "web", "safety_stock_default": "1"},
    )
    assert saved.status_code == 302
    with tenant_context(world.acme):
        mapping = ChannelLocation.objects.get()
        assert (mapping.channel_connection_id, mapping.channel_location_id) == (web.pk, "71826145558")
        stock.refresh_from_db()
        assert (stock.name, stock.kind, stock.safety_stock_default) == ("Soho", "web", D("1"))
    assert "Web shop" in client.get("/inventory/").content.decode()
    removed = client.post(f"/inventory/locations/{stock.pk}/", {"action": "remove", "mapping": mapping.pk})
    assert removed.status_code == 302
    bad = client.post(f"/inventory/locations/{stock.pk}/", {"action": "update", "name": "x", "kind": "shed"})
    assert bad.status_code == 400
    assert client.get("/inventory/locations/999999/").status_code == 404
    assert (
        host_client(world.host(world.acme), world.bluebird_admin).get(f"/inventory/locations/{stock.pk}/").status_code
        == 404
    )


def test_the_pager_keeps_the_filters(world, host_client, stock, monkeypatch):
    monkeypatch.setattr("commerce.views.Paginator", lambda rows, per_page: Paginator(rows, 1))
    page = host_client(world.host(world.acme), world.acme_admin).get("/inventory/?oversold=1").content.decode()
    assert (
        '<nav class="pager" aria-label="Pages">\n\n<span>Page 1 of 2</span>\n'
        '<a href="?q=&amp;location=&amp;oversold=1&amp;page=2">Next →</a>\n</nav>\n'
    ) in page
