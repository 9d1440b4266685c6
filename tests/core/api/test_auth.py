"""Every credential against representative endpoints: 401 without a valid key, 404 outside the
key's boundary (like a membership), 403 without the scope, success otherwise."""

from __future__ import annotations

import pytest

from tenants import services
from tenants.models import Tenant
from tests.factories import UserFactory

# (name, host, method, path, body, scope, success status)
ENDPOINTS = [
    ("partner-read", "partner", "get", "/api/v1/tenants/", None, "read", 200),
    ("partner-write", "partner", "post", "/api/v1/tenants/acme/suspend/", None, "write", 200),
    ("partner-admin", "partner", "get", "/api/v1/api-keys/", None, "admin", 200),
    ("tenant-read", "acme", "get", "/api/v1/tenant/", None, "read", 200),
    ("tenant-admin", "acme", "post", "/api/v1/api-keys/", {"name": "k", "scopes": ["admin"]}, "admin", 201),
]

# (name, owner, scopes, may act on partner console, may act on acme's domain)
KEYS = [
    ("northwind-read", "northwind", ["read"], True, True),
    ("northwind-write", "northwind", ["write"], True, True),
    ("northwind-admin", "northwind", ["admin"], True, True),
    ("northwind-all", "northwind", ["read", "write", "admin"], True, True),
    ("southpaw-all", "southpaw", ["read", "write", "admin"], False, False),
    ("acme-all", "acme", ["read", "write", "admin"], False, True),
    ("acme-read", "acme", ["read"], False, True),
    ("bluebird-all", "bluebird", ["read", "write", "admin"], False, False),
]


def _host(world, kind: str) -> str:
    return "northwind.localhost" if kind == "partner" else world.host(world.acme)


def _call(client, method: str, path: str, body):
    if method == "get":
        return client.get(path)
    return client.post(path, body)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("key_spec", KEYS, ids=[k[0] for k in KEYS])
def test_key_matrix(world, make_key, api_client, endpoint, key_spec):
    _, host_kind, method, path, body, scope, success = endpoint
    _, owner, scopes, on_partner, on_acme = key_spec
    owner_obj = getattr(world, owner)
    key = make_key(
        scopes=scopes, **({"partner": owner_obj} if owner in ("northwind", "southpaw") else {"tenant": owner_obj})
    )
    response = _call(api_client(_host(world, host_kind), key), method, path, body)
    allowed_here = on_partner if host_kind == "partner" else on_acme
    expected = success if allowed_here and scope in scopes else (403 if allowed_here else 404)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details", "request_id"}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("credential", ["none", "garbage", "wrong-secret", "unknown-prefix"])
def test_missing_or_invalid_key_is_401(world, make_key, api_client, endpoint, credential):
    _, host_kind, method, path, body, _, _ = endpoint
    real = make_key(scopes=["read", "write", "admin"])
    key = {
        "none": None,
        "garbage": "not-a-key",
        "wrong-secret": real[:17] + "x" * (len(real) - 17),
        "unknown-prefix": "tb_live_00000000_" + real[17:],
    }[credential]
    response = _call(api_client(_host(world, host_kind), key), method, path, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}


# (role holder, expected per endpoint name) for session users; None marks the wrong host (404).
def _session_user(world, name: str):
    if name == "partner_operator":
        user = UserFactory(email="operator-matrix@northwind.test")
        services.membership_grant(user=user, partner=world.northwind, role="partner_operator")
        return user
    if name == "tenant_viewer":
        user = UserFactory(email="viewer-matrix@acme.test")
        services.membership_grant(user=user, tenant=world.acme, role="tenant_viewer")
        return user
    return {
        "partner_admin": world.partner_admin,
        "other_partner_admin": world.other_partner_admin,
        "acme_admin": world.acme_admin,
        "bluebird_admin": world.bluebird_admin,
    }[name]


SESSION_EXPECTED = {
    "partner_admin": {
        "partner-read": 200,
        "partner-write": 200,
        "partner-admin": 200,
        "tenant-read": 200,
        "tenant-admin": 201,
    },
    "partner_operator": {
        "partner-read": 200,
        "partner-write": 403,
        "partner-admin": 403,
        "tenant-read": 200,
        "tenant-admin": 403,
    },
    "other_partner_admin": {
        "partner-read": 404,
        "partner-write": 404,
        "partner-admin": 404,
        "tenant-read": 404,
        "tenant-admin": 404,
    },
    "acme_admin": {
        "partner-read": 404,
        "partner-write": 404,
        "partner-admin": 404,
        "tenant-read": 200,
        "tenant-admin": 201,
    },
    "tenant_viewer": {
        "partner-read": 404,
        "partner-write": 404,
        "partner-admin": 404,
        "tenant-read": 200,
        "tenant-admin": 403,
    },
    "bluebird_admin": {
        "partner-read": 404,
        "partner-write": 404,
        "partner-admin": 404,
        "tenant-read": 404,
        "tenant-admin": 404,
    },
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("role", list(SESSION_EXPECTED))
def test_session_matrix(world, host_client, endpoint, role):
    name, host_kind, method, path, body, _, _ = endpoint
    client = host_client(_host(world, host_kind), _session_user(world, role))
    response = client.get(path) if method == "get" else client.post(path, body or {}, content_type="application/json")
    assert response.status_code == SESSION_EXPECTED[role][name], response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details", "request_id"}


def test_tenant_viewer_cannot_write_on_the_api(world, host_client):
    viewer = _session_user(world, "tenant_viewer")
    client = host_client(world.host(world.acme), viewer)
    response = client.post("/api/v1/api-keys/", {"name": "k", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This call needs the 'admin' scope."


def test_partner_key_works_on_its_tenants_domains_only(world, make_key, api_client):
    key = make_key(scopes=["read"])
    assert api_client(world.host(world.bluebird), key).get("/api/v1/tenant/").json()["slug"] == "bluebird"
    assert api_client(world.host(world.cedar), key).get("/api/v1/tenant/").status_code == 404


def test_tenant_key_on_another_tenants_domain_is_404(world, make_key, api_client):
    key = make_key(tenant=world.acme, scopes=["read"])
    assert api_client(world.host(world.bluebird), key).get("/api/v1/tenant/").status_code == 404
    assert api_client(world.host(world.cedar), key).get("/api/v1/tenant/").status_code == 404


def test_keys_are_refused_on_the_operator_console(world, make_key, api_client):
    assert api_client("localhost", make_key(scopes=["read"])).get("/api/v1/tenants/").status_code == 404


def test_partner_endpoints_are_404_on_tenant_domains(world, make_key, api_client):
    assert api_client(world.host(world.acme), make_key(scopes=["read"])).get("/api/v1/tenants/").status_code == 404


def test_key_on_suspended_tenant_is_403(world, make_key, api_client):
    # a fresh instance: the session-wide world objects must keep their in-memory status
    services.tenant_status_set(tenant=Tenant.objects.get(pk=world.acme.pk), status="suspended", actor=None)
    response = api_client(world.host(world.acme), make_key(tenant=world.acme)).get("/api/v1/tenant/")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "tenant_suspended")


def test_throttled_per_key_with_retry_after(world, make_key, api_client, settings, throttle_reset):
    settings.API_RATE_PER_KEY = 3
    key = make_key(scopes=["read"])
    client = api_client("northwind.localhost", key)
    statuses = [client.get("/api/v1/tenants/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/tenants/")
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    other = api_client("northwind.localhost", make_key(scopes=["read"]))
    assert other.get("/api/v1/tenants/").status_code == 200


def test_throttled_per_tenant_across_keys(world, make_key, api_client, settings, throttle_reset):
    settings.API_RATE_PER_TENANT = 2
    first, second = make_key(tenant=world.acme), make_key(tenant=world.acme)
    host = world.host(world.acme)
    assert api_client(host, first).get("/api/v1/tenant/").status_code == 200
    assert api_client(host, second).get("/api/v1/tenant/").status_code == 200
    response = api_client(host, first).get("/api/v1/tenant/")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert (
        api_client(world.host(world.bluebird), make_key(tenant=world.bluebird)).get("/api/v1/tenant/").status_code
        == 200
    )
