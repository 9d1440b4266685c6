"""Issue 13: /metrics needs a bearer token on every host, and a redirect target taken from a request
never leaves the host the request came in on. Over HTTP through the real middleware stack."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from posting.erp.services import erp_push_entry
from tests.posting.test_views import _posted
from triage import services as triage_services

TOKEN = "m" * 40
HOSTS = ["localhost", "northwind.localhost", "southpaw.localhost", "acme.northwind.localhost"]
UNSAFE_TARGETS = [
    "//evil.example",
    "//evil.example/erp/pushes/",
    "https://evil.example/",
    "http://evil.example@acme.northwind.localhost.evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(document.domain)",
    "http://northwind.localhost/",  # another host of the same partner is still another host
    " //evil.example",
    "\t//evil.example",
]


# ---- /metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_metrics_is_404_everywhere_when_no_token_is_configured(world, settings, host):
    settings.METRICS_TOKEN = ""

    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}):
        assert Client(HTTP_HOST=host).get("/metrics", **headers).status_code == 404


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer no"],
)
def test_metrics_without_the_right_token_is_401(world, settings, host, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = Client(HTTP_HOST=host).get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"django_http" not in response.content


@pytest.mark.parametrize("host", HOSTS)
def test_metrics_with_the_token_is_200_prometheus_text(world, settings, host):
    settings.METRICS_TOKEN = TOKEN

    response = Client(HTTP_HOST=host).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE django_http_requests_before_middlewares_total counter" in response.content
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_metrics_bearer_scheme_is_case_insensitive(world, settings):
    settings.METRICS_TOKEN = TOKEN

    response = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")

    assert response.status_code == 200


def test_metrics_refuses_post(world, settings):
    settings.METRICS_TOKEN = TOKEN

    response = Client(HTTP_HOST="localhost").post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405


# ---- redirects -----------------------------------------------------------------------------------

ACME = "acme.northwind.localhost"


@pytest.fixture
def pushed_entry(world, django_capture_on_commit_callbacks):
    entry = _posted(world)
    with tenant_context(world.acme):
        erp_push_entry(entry=entry)
    return entry


@pytest.mark.parametrize("target", UNSAFE_TARGETS)
def test_repush_ignores_an_off_host_next_and_goes_to_the_pushes_page(
    world, host_client, pushed_entry, django_capture_on_commit_callbacks, target
):
    client = host_client(ACME, world.acme_admin)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/erp/pushes/{pushed_entry.pk}/repush/", {"next": target})

    assert response.status_code == 302
    assert response["Location"] == "/erp/pushes/"
    assert len(callbacks) == 1  # the re-push itself still happened


@pytest.mark.parametrize(
    "target", ["/erp/pushes/?status=failed&page=2", "/ledger/journals/", f"http://{ACME}/erp/pushes/"]
)
def test_repush_follows_a_next_on_the_same_host(world, host_client, pushed_entry, target):
    client = host_client(ACME, world.acme_admin)

    response = client.post(f"/erp/pushes/{pushed_entry.pk}/repush/", {"next": target})

    assert (response.status_code, response["Location"]) == (302, target)


def test_repush_without_next_goes_to_the_pushes_page(world, host_client, pushed_entry):
    response = host_client(ACME, world.acme_admin).post(f"/erp/pushes/{pushed_entry.pk}/repush/")

    assert (response.status_code, response["Location"]) == (302, "/erp/pushes/")


def test_repush_on_https_refuses_a_next_that_downgrades_to_http(world, host_client, pushed_entry):
    client = host_client(ACME, world.acme_admin)

    response = client.post(f"/erp/pushes/{pushed_entry.pk}/repush/", {"next": f"http://{ACME}/"}, secure=True)

    assert (response.status_code, response["Location"]) == (302, "/erp/pushes/")  # no https → http downgrade


def _exception_id(world) -> int:
    with tenant_context(world.acme):
        return triage_services.exception_raise(kind="sync", cause="redirect_check", title="Redirect check").pk


@pytest.mark.parametrize("target", UNSAFE_TARGETS)
def test_inbox_bulk_action_ignores_an_off_host_next(world, host_client, target):
    exception_id = _exception_id(world)

    response = host_client(ACME, world.acme_admin).post(
        "/exceptions/bulk/", {"action": "resolve", "ids": [exception_id], "next": target}
    )

    assert (response.status_code, response["Location"]) == (302, "/exceptions/")


def test_inbox_bulk_action_follows_a_next_on_the_same_host(world, host_client):
    exception_id = _exception_id(world)

    response = host_client(ACME, world.acme_admin).post(
        "/exceptions/bulk/", {"action": "resolve", "ids": [exception_id], "next": "/exceptions/?status=open"}
    )

    assert (response.status_code, response["Location"]) == (302, "/exceptions/?status=open")
