import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from promotions import prices
from promotions.models import ChannelPrice, PriceList
from tests.promotions.conftest import sales_channels
from triage.models import Exception as TriageException
from triage.services import exception_retry_run


def _list(world, channels_, **changes):
    values = {
        "key": "spring-prices",
        "name": "Spring prices",
        "prices": {"TEE-RED-M": "20.00", "TEE-BLU-M": "22.5"},
        "starts_at": timezone.now() - dt.timedelta(minutes=1),
        "channels": channels_,
        "actor": world.acme_admin,
    }
    values.update(changes)
    return prices.price_list_create(**values)


def _send(deployments):
    return [prices.price_list_send(deployment_id=d.pk).state for d in deployments]


def test_small_change_publishes_without_approval_and_keeps_what_each_channel_showed(world, channels):
    with tenant_context(world.acme):
        shop, woo, _ = sales_channels()
        price_list = _list(world, [shop, woo])
        assert prices.price_list_validate(price_list=price_list, actor=world.acme_admin)["ok"] is True
        assert _send(prices.price_list_publish(price_list=price_list, actor=world.acme_admin)) == [
            "acknowledged",
            "acknowledged",
        ]
        assert sorted(ChannelPrice.objects.values_list("connection__name", "sku", "price")) == [
            ("Outlet store", "TEE-BLU-M", D("22.5000")),
            ("Outlet store", "TEE-RED-M", D("20.0000")),
            ("Web store", "TEE-BLU-M", D("22.5000")),
            ("Web store", "TEE-RED-M", D("20.0000")),
        ]
        prices.price_list_edit(price_list=price_list, prices={"TEE-RED-M": "21.00", "TEE-BLU-M": "22.50"})
        results = prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        assert (results["changes"], results["warnings"]) == ({"TEE-RED-M": "5.00", "TEE-BLU-M": "0.00"}, [])


def test_a_change_above_the_threshold_needs_a_second_person(world, channels):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        price_list = _list(world, [shop])
        prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        _send(prices.price_list_publish(price_list=price_list, actor=world.acme_admin))
        prices.price_list_edit(
            price_list=price_list, prices={"TEE-RED-M": "15.00", "TEE-BLU-M": "22.50"}, actor=world.acme_admin
        )
        results = prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        assert results["warnings"][0]["message"] == (
            "Prices move more than 10.00% (TEE-RED-M -25.00%): a second person must approve."
        )
        with pytest.raises(ValidationError, match="must be approved"):
            prices.price_list_publish(price_list=price_list, actor=world.acme_admin)
        prices.price_list_submit(price_list=price_list, actor=world.acme_admin)
        with pytest.raises(PermissionDenied):
            prices.price_list_approve(price_list=price_list, actor=world.acme_admin)
        prices.price_list_approve(price_list=price_list, actor=world.partner_admin)
        assert _send(prices.price_list_publish(price_list=price_list, actor=world.partner_admin)) == ["acknowledged"]
        assert channels["shopify"].prices == {"TEE-RED-M": D("15.00"), "TEE-BLU-M": D("22.50")}
        assert PriceList.objects.get().status == "published"


def test_a_channel_showing_another_price_is_triaged_and_retried(world, channels):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        channels["shopify"].price_override = {"TEE-RED-M": D("19.99")}
        price_list = _list(world, [shop])
        prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        deployment = prices.price_list_publish(price_list=price_list, actor=world.acme_admin)[0]
        assert _send([deployment]) == ["failed"]
        exception = TriageException.objects.get()
        assert (exception.cause, exception.detail) == (
            "price_list_not_applied",
            "The channel shows other prices for: TEE-RED-M (19.99 not 20.00)",
        )
        assert ChannelPrice.objects.get(sku="TEE-RED-M").price == D("19.9900")
        channels["shopify"].price_override = {}
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 1, "failed": 0}
        deployment.refresh_from_db()
        exception.refresh_from_db()
        assert (deployment.state, exception.status) == ("acknowledged", "resolved")
        assert ChannelPrice.objects.filter(sku="TEE-RED-M").count() == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({}, "Give at least one SKU"),
        ({"X": "-1"}, "X: a price is above 0."),
        ({"X": "abc"}, "X: 'abc' is not a price."),
    ],
)
def test_bad_prices_are_refused(world, channels, bad, message):
    with tenant_context(world.acme), pytest.raises(ValidationError, match=message):
        _list(world, sales_channels()[:1], prices=bad)


def test_price_list_api_and_pages(world, channels, host_client, throttle_reset):
    from tests.promotions.test_api import SessionApi

    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
    host = world.host(world.acme)
    api = SessionApi(host, world.acme_admin)
    created = api.post(
        "/api/v1/price-lists/",
        {
            "key": "spring",
            "name": "Spring",
            "prices": {"TEE-RED-M": "20.00"},
            "costs": {"TEE-RED-M": "7.5"},
            "starts_at": "2026-04-01T00:00:00",
            "channels": [shop.pk],
        },
    )
    assert created.status_code == 201, created.json()
    assert created.json()["costs"] == {"TEE-RED-M": "7.50"}
    pk = created.json()["id"]
    assert api.post(f"/api/v1/price-lists/{pk}/publish/").status_code == 400
    assert api.post(f"/api/v1/price-lists/{pk}/validate/").json()["status"] == "validated"
    assert api.post(f"/api/v1/price-lists/{pk}/publish/").json()["status"] == "published"
    with tenant_context(world.acme):
        from promotions.models import PriceListDeployment

        _send(PriceListDeployment.objects.all())
    shown = api.get(f"/api/v1/price-lists/{pk}/channel-prices/").json()["results"]
    assert [(row["channel"], row["sku"], row["price"]) for row in shown] == [("Web store", "TEE-RED-M", "20.0000")]
    bad = api.post(
        "/api/v1/price-lists/",
        {"key": "x", "name": "X", "prices": {}, "starts_at": "2030-01-01T00:00:00", "channels": []},
    )
    assert bad.status_code == 400
    client = host_client(host, world.acme_admin)
    assert client.get("/promotions/prices/").status_code == 200
    page = client.get(f"/promotions/prices/{pk}/")
    assert page.status_code == 200 and "TEE-RED-M" in page.content.decode()
    assert host_client(host, world.cedar_admin).get(f"/promotions/prices/{pk}/").status_code == 404
    assert (
        SessionApi(world.host(world.bluebird), world.bluebird_admin).get(f"/api/v1/price-lists/{pk}/").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        ({"TEE-RED-M": "-1"}, "TEE-RED-M: a cost is 0 or more."),
        ({"TEE-RED-M": "abc"}, "TEE-RED-M: 'abc' is not a cost."),
        ({"NOPE-1": "2"}, "NOPE-1: not a SKU of the price list."),
    ],
)
def test_bad_costs_are_refused(world, channels, costs, message):
    with tenant_context(world.acme), pytest.raises(ValidationError, match=message):
        _list(world, sales_channels()[:1], costs=costs)


def test_an_edit_keeps_the_costs_of_the_skus_still_listed_unless_given(world, channels):
    with tenant_context(world.acme):
        price_list = _list(world, sales_channels()[:1], costs={"TEE-RED-M": "8", "TEE-BLU-M": "9"})
        assert price_list.current_version.costs == {"TEE-RED-M": "8.00", "TEE-BLU-M": "9.00"}
        kept = prices.price_list_edit(price_list=price_list, prices={"TEE-RED-M": "21.00"})
        assert kept.costs == {"TEE-RED-M": "8.00"}
        changed = prices.price_list_edit(price_list=price_list, costs={"TEE-RED-M": "0"})
        assert changed.costs == {"TEE-RED-M": "0.00"}


def test_costs_through_the_api_edit_and_the_page_form(world, channels, host_client, throttle_reset):
    from tests.promotions.test_api import SessionApi

    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        pk = _list(world, [shop]).pk
    host = world.host(world.acme)
    api = SessionApi(host, world.acme_admin)
    edited = api.patch(f"/api/v1/price-lists/{pk}/", {"costs": {"TEE-RED-M": "8.25"}})
    assert (edited.status_code, edited.json()["costs"]) == (200, {"TEE-RED-M": "8.25"})
    refused = api.patch(f"/api/v1/price-lists/{pk}/", {"costs": {"TEE-RED-M": "-3"}})
    assert refused.status_code == 400
    unknown = api.patch(f"/api/v1/price-lists/{pk}/", {"costs": {"NOPE-1": "3"}})
    assert unknown.status_code == 400 and "NOPE-1: not a SKU of the price list." in unknown.content.decode()

    client = host_client(host, world.acme_admin)
    form = {
        "key": "autumn",
        "name": "Autumn",
        "starts_at": "2031-09-01T09:00",
        "channels": [shop.pk],
        "approval_threshold_percent": "10",
        "prices": "TEE-RED-M,20,7.5\nTEE-BLU-M,22",
    }
    bad = client.post("/promotions/prices/", {**form, "prices": "TEE-RED-M,20,lots"})
    assert bad.status_code == 400 and "Line 1: the cost &#x27;lots&#x27; is not a number." in bad.content.decode()
    assert client.post("/promotions/prices/", form).status_code == 302
    with tenant_context(world.acme):
        version = PriceList.objects.get(key="autumn").current_version
        assert (version.prices, version.costs) == ({"TEE-RED-M": "20.00", "TEE-BLU-M": "22.00"}, {"TEE-RED-M": "7.50"})
        autumn = version.price_list_id
    page = client.get(f"/promotions/prices/{autumn}/").content.decode()
    assert '<td data-testid="cost-TEE-RED-M">7.50</td>' in page
