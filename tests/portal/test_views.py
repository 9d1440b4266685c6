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
