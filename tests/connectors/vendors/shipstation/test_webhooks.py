import base64
import json

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.vendors.base import NormaliseError
from connectors.vendors.shipstation.webhooks import hook_token, resource_url_check
from tenants.models import Membership
from tenants.services import membership_grant
from tests.conftest import _user
from tests.connectors.helpers import fixture, fixture_bytes
from tests.connectors.vendors.shipstation.conftest import API, KEY, SECRET, TOKEN
from triage.models import Exception as TriageException


def _post(client, connection, body: bytes, token: str | None = TOKEN):
    path = f"/hooks/shipstation/{connection.pk}/" + (f"{token}/" if token is not None else "")
    return client.post(path, data=body, content_type="application/json")


def test_a_hook_with_its_token_is_stored_before_anything_is_fetched(world, host_client, shipstation):
    body = fixture_bytes("shipstation", "webhook_ship_notify.json")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__startswith=API).mock(return_value=httpx.Response(200, json={"shipments": []}))
        response = _post(host_client(world.host(world.acme)), shipstation, body)
        assert route.call_count == 0
    assert response.status_code == 200
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.topic, event.status, event.body.encode()) == ("SHIP_NOTIFY", "received", body)
        assert response.json() == {"status": "stored", "event": event.pk}


@pytest.mark.parametrize("token", ["wrong-token-000000000000", None, TOKEN[:-1]])
def test_a_wrong_or_missing_token_is_a_404_and_stores_nothing(world, host_client, shipstation, token):
    body = fixture_bytes("shipstation", "webhook_ship_notify.json")
    response = _post(host_client(world.host(world.acme)), shipstation, body, token=token)
    assert response.status_code == 404
    with tenant_context(world.acme):
        assert InboundEvent.objects.count() == 0


def test_a_body_without_resource_url_is_a_400(world, host_client, shipstation):
    body = json.dumps({"resource_type": "SHIP_NOTIFY"}).encode()
    assert _post(host_client(world.host(world.acme)), shipstation, body).status_code == 400


@respx.mock
def test_processing_fetches_the_resource_with_basic_auth_and_items(world, shipstation):
    route = respx.get(f"{API}/shipments").mock(return_value=httpx.Response(200, json={"shipments": []}))
    with tenant_context(world.acme):
        event, _ = event_store(
            connection=shipstation,
            topic="SHIP_NOTIFY",
            external_id="hook-1",
            body=fixture_bytes("shipstation", "webhook_ship_notify.json"),
            dispatch=False,
        )
        assert event_process(event_id=event.pk).status == "ignored"  # no shipments in the batch
    request = route.calls.last.request
    assert request.url.params["batchId"] == "90412377"
    assert request.url.params["includeShipmentItems"] == "true"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/shipments?batchId=1",
        "http://ssapi.shipstation.com/shipments?batchId=1",
        "https://ssapi.shipstation.com.evil.example/shipments",
        "https://user:pw@ssapi.shipstation.com/shipments",
        "https://ssapi.shipstation.com:8443/shipments",
        "https://169.254.169.254/latest/meta-data",
    ],
)
def test_a_resource_url_off_shipstations_api_host_is_refused_recorded_and_never_fetched(world, shipstation, url):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(return_value=httpx.Response(200, json={}))
        with tenant_context(world.acme):
            event, _ = event_store(
                connection=shipstation,
                topic="SHIP_NOTIFY",
                external_id="hook-evil",
                body=json.dumps({"resource_url": url, "resource_type": "SHIP_NOTIFY"}).encode(),
                dispatch=False,
            )
            event = event_process(event_id=event.pk)
            assert event.status == "dead"
            assert event.last_error.startswith("resource_url: ")
            assert TriageException.objects.filter(kind="normalise").count() == 1
        assert route.call_count == 0


def test_resource_url_check_keeps_the_query_and_asks_for_items():
    url = fixture("shipstation", "webhook_ship_notify.json")["resource_url"]
    assert resource_url_check(url) == f"{API}/shipments?batchId=90412377&includeShipmentItems=true"
    with pytest.raises(NormaliseError):
        resource_url_check(None)


def test_hook_token_is_the_segment_after_the_connection_id():
    assert hook_token("https://acme.example/hooks/shipstation/7/abc/") == "abc"
    assert hook_token("https://acme.example/hooks/shipstation/7/") == ""


def test_the_connection_page_shows_the_tokened_hook_url_to_admins_only(world, host_client, shipstation):
    page = host_client(world.host(world.acme), world.acme_admin).get(f"/connections/{shipstation.pk}/")
    assert f"/hooks/shipstation/{shipstation.pk}/{TOKEN}/" in page.content.decode()
    viewer = _user("viewer-ss@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    page = host_client(world.host(world.acme), viewer).get(f"/connections/{shipstation.pk}/")
    assert TOKEN not in page.content.decode()
