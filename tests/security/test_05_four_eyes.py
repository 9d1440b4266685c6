"""Four eyes (DESIGN.md §7): the author of a version is a person whenever there is one, so a person
who writes a version through their own API key still cannot approve it in their session. A version
written by a key no person owns may be approved by any person with the role."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from promotions.models import PriceListVersion, PromotionVersion
from tests.promotions.conftest import (
    channels,  # noqa: F401 - the recording channel adapters
    sales_channels,
)
from tests.promotions.test_api import SessionApi, _body
from tests.tenants.conftest import ApiClient

pytestmark = pytest.mark.usefixtures("channels", "throttle_reset")


def _own_key(host: str, user) -> str:
    """The person makes their own read+write key in their session, over HTTP."""
    response = SessionApi(host, user).post("/api/v1/api-keys/", {"name": "my key", "scopes": ["read", "write"]})
    assert response.status_code == 201, response.content
    return response.json()["key"]


def _setup(world):
    with tenant_context(world.acme):
        shop, _woo, _pos = sales_channels()
    host = world.host(world.acme)
    return host, shop, SessionApi(host, world.acme_admin), SessionApi(host, world.partner_admin)


def _promotion_edited_by_key(host, shop, creator: SessionApi, key: str) -> str:
    """Created by `creator` in a session; version 2 written, validated and submitted through `key`."""
    created = creator.post("/api/v1/promotions/", _body([shop]))
    assert created.status_code == 201, created.json()
    base = f"/api/v1/promotions/{created.json()['id']}"
    api = ApiClient(host, key)
    edited = api.patch(f"{base}/", {"value": "15"})
    assert edited.status_code == 200, edited.json()
    assert api.post(f"{base}/validate/").status_code == 200
    submitted = api.post(f"{base}/submit/")
    assert submitted.json()["promotion"]["status"] == "submitted", submitted.json()
    return base


def test_a_version_written_through_my_key_cannot_be_approved_in_my_session(world):
    host, shop, me, other = _setup(world)
    key = _own_key(host, world.acme_admin)
    base = _promotion_edited_by_key(host, shop, other, key)
    with tenant_context(world.acme):
        version = PromotionVersion.objects.get(number=2)
        assert (version.author_id, version.author_email) == (world.acme_admin.pk, world.acme_admin.email)
        assert version.author_key == f"api-key:{key[:16]}"
    own = me.post(f"{base}/approve/")
    assert own.status_code == 403
    assert own.json()["error"]["message"] == (
        f"You wrote this version (through your API key {key[:16]}), so another person must approve or reject it."
    )
    assert me.post(f"{base}/reject/", {"reason": "mine"}).status_code == 403
    assert me.get(f"{base}/").json()["status"] == "submitted"
    approved = other.post(f"{base}/approve/")
    assert approved.status_code == 200
    assert approved.json()["promotion"]["status"] == "approved"


def test_a_key_made_through_my_key_is_still_mine(world):
    host, shop, me, other = _setup(world)
    mine = SessionApi(host, world.acme_admin).post(
        "/api/v1/api-keys/", {"name": "admin key", "scopes": ["read", "write", "admin"]}
    )
    admin_key = mine.json()["key"]
    second = ApiClient(host, admin_key).post("/api/v1/api-keys/", {"name": "child", "scopes": ["read", "write"]})
    assert second.status_code == 201, second.json()
    base = _promotion_edited_by_key(host, shop, other, second.json()["key"])
    assert me.post(f"{base}/approve/").status_code == 403
    assert other.post(f"{base}/approve/").status_code == 200


def test_a_version_written_by_a_key_without_a_person_is_approved_by_any_person_with_the_role(world, make_key):
    host, shop, me, other = _setup(world)
    service_key = make_key(scopes=["read", "write"], partner=world.northwind)  # made by the system: no person
    base = _promotion_edited_by_key(host, shop, other, service_key)
    with tenant_context(world.acme):
        version = PromotionVersion.objects.get(number=2)
        assert (version.author_id, version.author_email) == (None, f"api-key:{service_key[:16]}")
        assert version.author_key == f"api-key:{service_key[:16]}"
    assert ApiClient(host, service_key).post(f"{base}/approve/").status_code == 403  # a key never approves
    approved = me.post(f"{base}/approve/")
    assert approved.status_code == 200, approved.json()


def test_a_price_list_written_through_my_key_cannot_be_approved_in_my_session(world):
    host, shop, me, other = _setup(world)
    key = _own_key(host, world.acme_admin)
    created = other.post(
        "/api/v1/price-lists/",
        {
            "key": "spring",
            "name": "Spring",
            "prices": {"TEE-RED-M": "20.00"},
            "starts_at": "2030-04-01T00:00:00",
            "channels": [shop.pk],
        },
    )
    assert created.status_code == 201, created.json()
    base = f"/api/v1/price-lists/{created.json()['id']}"
    api = ApiClient(host, key)
    assert api.patch(f"{base}/", {"prices": {"TEE-RED-M": "12.00"}}).status_code == 200
    assert api.post(f"{base}/validate/").json()["status"] == "validated"
    assert api.post(f"{base}/submit/").json()["status"] == "submitted"
    with tenant_context(world.acme):
        assert PriceListVersion.objects.get(number=2).author_id == world.acme_admin.pk
    own = me.post(f"{base}/approve/")
    assert own.status_code == 403
    assert own.json()["error"]["message"] == (
        f"You wrote this version (through your API key {key[:16]}), so another person must approve it."
    )
    approved = other.post(f"{base}/approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"


def test_a_version_written_through_my_key_before_the_fix_is_still_mine(world):
    """Rows written before authors were resolved to people hold only the key's label."""
    host, shop, me, other = _setup(world)
    key = _own_key(host, world.acme_admin)
    base = _promotion_edited_by_key(host, shop, other, key)
    with tenant_context(world.acme):
        PromotionVersion.objects.filter(number=2).update(
            author_id=None, author_email=f"api-key:{key[:16]}", author_key=""
        )
    own = me.post(f"{base}/approve/")
    assert own.status_code == 403
    assert "through your API key" in own.json()["error"]["message"]
    assert other.post(f"{base}/approve/").status_code == 200
