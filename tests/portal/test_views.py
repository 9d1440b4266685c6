from decimal import Decimal

from tests.promotions.conftest import channels  # noqa: F401 - the recording sales channels fixture


def test_tenant_home_shows_the_members_role_by_its_label(world, host_client):
    page = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    assert '<div class="card-value">Tenant admin</div>' in page


def test_tenant_home_shows_a_partner_members_role_by_its_label(world, host_client):
    page = host_client(world.host(world.acme), world.partner_admin).get("/").content.decode()
    assert '<div class="card-value">Partner admin</div>' in page


def test_partner_staff_get_a_switcher_of_their_own_tenants_only(world, host_client):
    page = host_client(world.host(world.acme), world.partner_admin).get("/").content.decode()
    assert 'data-testid="tenant-switcher"' in page
    assert "http://bluebird.northwind.localhost/" in page
    assert world.cedar.name not in page


def test_tenant_members_get_no_switcher(world, host_client):
    page = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    assert 'data-testid="tenant-switcher"' not in page


def test_tenant_dashboard_shows_health_kpis_linking_to_their_lists(world, host_client):
    page = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    for testid in ("kpi-latency", "kpi-events", "kpi-exceptions-rate", "kpi-perfect", "kpi-interventions"):
        assert f'data-testid="{testid}"' in page
    assert 'href="/exceptions/?sla=yes"' in page


def test_tenant_home_shows_promotion_activation_accuracy(world, host_client, channels):  # noqa: F811
    from django_tenants.utils import tenant_context

    from tests.promotions.conftest import promotion, published, sales_channels

    client = host_client(world.host(world.acme), world.acme_admin)
    assert 'data-testid="kpi-promotions">—<' in client.get("/").content.decode()
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        channels["square"].refuse = "down"  # no read-back from Square: not counted
        channels["woocommerce"].offer_override = {"value": Decimal("12")}  # shows 12 % instead of 10 %
        published(
            promotion(author=world.acme_admin, channels=[shop, woo, pos]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
    page = client.get("/").content.decode()
    assert 'data-testid="kpi-promotions">50 %<' in page
    assert "1 of 2 live offers match the approved version" in page
