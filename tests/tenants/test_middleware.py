"""Tenant isolation through HTTP: every tenant-portal URL, as a member of another tenant or of
another partner, answers 404 (DESIGN.md §3)."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tenants import services
from tenants.middleware import may_write

SKIP_PREFIXES = ("healthz", "metrics", "media/", "static/", "hooks/")


def _concrete_paths(patterns, prefix: str = "") -> list[str]:
    paths = []
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths.extend(_concrete_paths(entry.url_patterns, prefix + route))
        elif isinstance(entry, URLPattern):
            path = prefix + route
            path = re.sub(r"<(?:int|uuid):[^>]+>", "1", path)
            path = re.sub(r"<(?:str|slug|path):[^>]+>", "x", path)
            path = re.sub(r"<[^>]+>", "1", path)
            if "(" in path or "^" in path or "$" in path:  # regex routes (e.g. prometheus) are plain
                path = path.replace("^", "").replace("$", "")
            paths.append("/" + path)
    return sorted(set(paths))


def tenant_urls() -> list[str]:
    return [
        p
        for p in _concrete_paths(get_resolver("portal.urls_tenant").url_patterns)
        if not p.lstrip("/").startswith(SKIP_PREFIXES)
    ]


def test_the_url_sweep_covers_the_portal():
    urls = tenant_urls()
    assert "/" in urls
    assert "/accounts/login/" in urls
    assert len(urls) > 20


@pytest.mark.parametrize("path", tenant_urls())
def test_member_of_another_tenant_gets_404_everywhere(world, host_client, path):
    if path == "/accounts/logout/":
        pytest.skip("signing out is allowed everywhere")
    client = host_client(world.host(world.acme), world.bluebird_admin)
    assert client.get(path).status_code == 404
    assert client.post(path, {}).status_code == 404


@pytest.mark.parametrize("path", tenant_urls())
def test_member_of_another_partner_gets_404_everywhere(world, host_client, path):
    if path == "/accounts/logout/":
        pytest.skip("signing out is allowed everywhere")
    client = host_client(world.host(world.acme), world.other_partner_admin)
    assert client.get(path).status_code == 404


def test_tenant_member_and_partner_staff_see_the_tenant(world, host_client):
    assert host_client(world.host(world.acme), world.acme_admin).get("/").status_code == 200
    response = host_client(world.host(world.acme), world.partner_admin).get("/")
    assert response.status_code == 200
    assert b"Acme Outfitters" in response.content


def test_anonymous_visitor_is_sent_to_sign_in(world, host_client):
    response = host_client(world.host(world.acme)).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_unknown_host_is_404(world, host_client):
    assert host_client("nobody.northwind.localhost").get("/accounts/login/").status_code == 404


def test_partner_console_only_for_its_own_members(world, host_client):
    assert host_client("northwind.localhost", world.partner_admin).get("/tenants/").status_code == 200
    assert host_client("northwind.localhost", world.other_partner_admin).get("/tenants/").status_code == 404
    assert host_client("northwind.localhost", world.acme_admin).get("/tenants/").status_code == 404
    # and a partner cannot open another partner's tenant by slug on its own console
    assert host_client("southpaw.localhost", world.other_partner_admin).get("/tenants/acme/").status_code == 404


def test_partner_tenant_list_shows_only_own_tenants(world, host_client):
    body = host_client("northwind.localhost", world.partner_admin).get("/tenants/").content.decode()
    assert "Acme Outfitters" in body and "Bluebird Books" in body
    assert "Cedar Home" not in body


def test_operator_console_needs_staff(world, host_client):
    assert host_client("localhost", world.operator).get("/").status_code == 200
    assert host_client("localhost", world.partner_admin).get("/").status_code == 404


def test_suspended_tenant_shows_branded_page_and_refuses_api(world, host_client):
    services.tenant_status_set(tenant=world.acme, status="suspended", actor=world.partner_admin)
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/")
    assert page.status_code == 403
    assert b"is suspended" in page.content
    assert b"Northwind Commerce Partners" in page.content
    api = client.get("/api/v1/schema/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "tenant_suspended"


@pytest.mark.parametrize(
    ("role", "writes"),
    [
        ("partner_admin", True),
        ("partner_operator", True),
        ("tenant_admin", True),
        ("tenant_viewer", False),
        (None, False),
    ],
)
def test_may_write_is_every_role_but_the_tenant_viewer(rf, role, writes):
    request = rf.get("/")
    request.membership_role = role
    assert may_write(request) is writes
