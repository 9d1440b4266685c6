import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.spreadsheet import RowsInvalid
from promotions import price_changes, prices
from promotions.models import ChannelPrice, PriceList, PriceListDeployment
from tenants.models import AuditEvent
from tests.promotions.conftest import sales_channels


def _published(world, channels_, price_map, **changes) -> PriceList:
    values = {
        "key": "spring-prices",
        "name": "Spring prices",
        "prices": price_map,
        "starts_at": timezone.now() - dt.timedelta(minutes=1),
        "channels": channels_,
        "actor": world.acme_admin,
    }
    price_list = prices.price_list_create(**{**values, **changes})
    prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
    _send(prices.price_list_publish(price_list=price_list, actor=world.acme_admin))
    return PriceList.objects.get(pk=price_list.pk)


def _send(deployments) -> list[str]:
    return [prices.price_list_send(deployment_id=d.pk).state for d in deployments]


def _shown(sku: str) -> list[tuple[str, D]]:
    return [
        (row.connection.name, row.price)
        for row in ChannelPrice.objects.filter(sku=sku).select_related("connection").order_by("-pk")[:1]
    ]


# ---- scheduled changes ---------------------------------------------------------------------------


def test_a_scheduled_change_goes_live_at_its_time_in_the_tenants_zone(world, channels, monkeypatch):
    with tenant_context(world.acme):
        monkeypatch.setattr(world.acme, "timezone", "Europe/Berlin")  # the world is shared: restored after
        shop, _, _ = sales_channels()
        price_list = _published(world, [shop], {"TEE-RED-M": "20.00"})
        # 09:00 on 1 March 2031 in Berlin (CET, UTC+1) is 08:00 UTC.
        prices.price_list_edit(
            price_list=price_list,
            prices={"TEE-RED-M": "21.00"},
            starts_at=dt.datetime(2031, 3, 1, 9, 0),
            actor=world.acme_admin,
        )
        prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        assert prices.price_list_publish(price_list=price_list, actor=world.acme_admin) == []
        price_list.refresh_from_db()
        assert price_list.status == PriceList.Status.SCHEDULED
        assert price_list.published_version.number == 1  # version 1 stays on the channels
        assert price_list.current_version.starts_at == dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)

        monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2031, 3, 1, 7, 59, tzinfo=dt.UTC))
        assert price_changes.price_lists_publish_due() == 0
        assert price_changes.price_list_next_start() == dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)
        monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC))
        assert price_changes.price_lists_publish_due() == 1
        assert price_changes.price_lists_publish_due() == 0  # once
        price_list.refresh_from_db()
        assert (price_list.status, price_list.published_version.number) == (PriceList.Status.PUBLISHED, 2)
        assert _send(PriceListDeployment.objects.filter(version__number=2)) == ["acknowledged"]
        assert _shown("TEE-RED-M") == [("Web store", D("21.0000"))]
        assert AuditEvent.objects.filter(action="price_list.schedule").count() == 1
        assert price_changes.price_list_next_start() is None


def test_editing_a_scheduled_version_cancels_the_schedule(world, channels, monkeypatch):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        price_list = _published(world, [shop], {"TEE-RED-M": "20.00"})
        prices.price_list_edit(
            price_list=price_list, prices={"TEE-RED-M": "21.00"}, starts_at=timezone.now() + dt.timedelta(hours=2)
        )
        prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        prices.price_list_publish(price_list=price_list, actor=world.acme_admin)
        prices.price_list_edit(price_list=price_list, prices={"TEE-RED-M": "25.00"})
        later = timezone.now() + dt.timedelta(hours=3)
        monkeypatch.setattr(timezone, "now", lambda: later)
        assert price_changes.price_lists_publish_due() == 0
        price_list.refresh_from_db()
        assert (price_list.status, price_list.published_version.number) == (PriceList.Status.DRAFT, 1)


# ---- CSV import ----------------------------------------------------------------------------------


def test_csv_import_merges_or_replaces_as_a_new_draft_version(world, channels):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        price_list = _published(world, [shop], {"TEE-RED-M": "20.00", "TEE-BLU-M": "22.50"})
        version = price_changes.price_list_import_csv(
            price_list=price_list, file=b"\xef\xbb\xbfSKU,Price\nTEE-RED-M,19.999\n\nTEE-GRN-M,18\n", mode="merge"
        )
        assert version.number == 2
        # 19.999 rounds to the currency's minor unit; TEE-BLU-M is kept
        assert version.prices == {"TEE-RED-M": "20.00", "TEE-BLU-M": "22.50", "TEE-GRN-M": "18.00"}
        price_list.refresh_from_db()
        assert price_list.status == PriceList.Status.DRAFT
        replaced = price_changes.price_list_import_csv(
            price_list=price_list, file="sku,price\nTEE-RED-M,9.5\n", mode="replace"
        )
        assert replaced.prices == {"TEE-RED-M": "9.50"}
        assert AuditEvent.objects.filter(action="price_list.import").count() == 2


def test_csv_import_with_a_cost_column_keeps_unit_costs_for_the_margin_check(world, channels):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        price_list = _published(world, [shop], {"TEE-RED-M": "20.00", "TEE-BLU-M": "22.50"})
        version = price_changes.price_list_import_csv(
            price_list=price_list, file="sku,price,cost\nTEE-RED-M,20,8.005\nTEE-GRN-M,18,\n", mode="merge"
        )
        assert version.costs == {"TEE-RED-M": "8.01"}  # a blank cost is no cost; the minor unit as for prices
        merged = price_changes.price_list_import_csv(
            price_list=price_list, file="sku,price\nTEE-BLU-M,23\n", mode="merge"
        )
        assert merged.costs == {"TEE-RED-M": "8.01"}  # a file without costs keeps the ones known
        replaced = price_changes.price_list_import_csv(
            price_list=price_list, file="sku,price,cost\nTEE-BLU-M,23,9\n", mode="replace"
        )
        assert (replaced.prices, replaced.costs) == ({"TEE-BLU-M": "23.00"}, {"TEE-BLU-M": "9.00"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"sku,price\n,10\nA,abc\nA,1\nA,2\nB,-1\nC,1,extra\n",
            [
                "line 2: sku is empty",
                "line 3: price 'abc' is not a number above 0",
                "line 5: sku A repeats line 4",
                "line 6: price '-1' is not a number above 0",
                "line 7: 3 columns, expected at most 2.",
            ],
        ),
        (b"code,amount\nA,1\n", ["line 1: The header must be sku,price or sku,price,cost."]),
        (
            b"sku,price,cost\nA,10,cheap\nB,10,-2\nC,10,NaN\nD,abc,1\n",
            [
                "line 2: cost 'cheap' is not a number of 0 or more",
                "line 3: cost '-2' is not a number of 0 or more",
                "line 4: cost 'NaN' is not a number of 0 or more",
                "line 5: price 'abc' is not a number above 0",
            ],
        ),
        (b"", ["line 1: The file is empty."]),
        (b"sku,price\n", ["line 2: The file has no prices."]),
        (b"sku,price\n\xff\xfe,1\n", ["line 1: The file is not UTF-8 text."]),
        (
            b"sku,price\nNaN,NaN\nX,Infinity\n",
            [
                "line 2: price 'NaN' is not a number above 0",
                "line 3: price 'Infinity' is not a number above 0",
            ],
        ),
    ],
)
def test_a_bad_csv_reports_every_row_and_imports_nothing(world, channels, body, expected):
    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        price_list = _published(world, [shop], {"TEE-RED-M": "20.00"})
        with pytest.raises(RowsInvalid) as error:
            price_changes.price_list_import_csv(price_list=price_list, file=body)
        assert [str(row) for row in error.value.rows] == expected
        price_list.refresh_from_db()
        assert price_list.current_version.number == 1 and price_list.status == PriceList.Status.PUBLISHED


# ---- rollback ------------------------------------------------------------------------------------


def test_rollback_puts_the_previously_published_prices_back_on_every_channel(world, channels):
    with tenant_context(world.acme):
        shop, woo, _ = sales_channels()
        price_list = _published(world, [shop, woo], {"TEE-RED-M": "20.00"})
        with pytest.raises(ValidationError, match="Nothing to roll back to"):
            price_changes.price_list_rollback(price_list=price_list, actor=world.acme_admin)
        prices.price_list_edit(price_list=price_list, prices={"TEE-RED-M": "21.00"}, channels=[shop])
        prices.price_list_validate(price_list=price_list, actor=world.acme_admin)
        _send(prices.price_list_publish(price_list=price_list, actor=world.acme_admin))
        price_list.refresh_from_db()
        assert price_changes.previous_published_version(price_list).number == 1

        deployments = price_changes.price_list_rollback(price_list=price_list, actor=world.acme_admin)
        assert _send(deployments) == ["acknowledged", "acknowledged"]  # version 1's channels again
        price_list.refresh_from_db()
        restored = price_list.published_version
        assert (restored.number, restored.prices, price_list.status) == (3, {"TEE-RED-M": "20.00"}, "published")
        assert restored.validation["rollback_of"] == 2 and restored.validation["restores"] == 1
        event = AuditEvent.objects.get(action="price_list.rollback")
        assert event.changes == {"from": 2, "restores": 1, "version": 3}
        assert price_changes.previous_published_version(price_list).number == 2  # roll back the rollback


# ---- API and page --------------------------------------------------------------------------------


def test_import_rollback_and_schedule_through_the_api_and_the_page(world, channels, host_client, throttle_reset):
    from tests.promotions.test_api import SessionApi

    with tenant_context(world.acme):
        shop, _, _ = sales_channels()
        pk = _published(world, [shop], {"TEE-RED-M": "20.00"}).pk
    host = world.host(world.acme)
    api = SessionApi(host, world.acme_admin)
    bad = api.post(f"/api/v1/price-lists/{pk}/import/", {"csv": "sku,price\nTEE-RED-M,zero\n"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["rows"] == [{"line": 2, "message": "price 'zero' is not a number above 0"}]
    good = api.post(f"/api/v1/price-lists/{pk}/import/", {"csv": "sku,price\nTEE-RED-M,20.50\n"})
    assert (good.status_code, good.json()["version"], good.json()["prices"]) == (200, 2, {"TEE-RED-M": "20.50"})
    assert api.post(f"/api/v1/price-lists/{pk}/validate/").json()["status"] == "validated"
    assert api.post(f"/api/v1/price-lists/{pk}/publish/").json()["status"] == "published"
    rolled = api.post(f"/api/v1/price-lists/{pk}/rollback/")
    assert (rolled.status_code, rolled.json()["version"], rolled.json()["prices"]) == (200, 3, {"TEE-RED-M": "20.00"})
    assert api.patch(f"/api/v1/price-lists/{pk}/", {"starts_at": "2031-01-01T10:00:00"}).status_code == 200
    assert api.post(f"/api/v1/price-lists/{pk}/validate/").json()["status"] == "validated"
    assert api.post(f"/api/v1/price-lists/{pk}/publish/").json()["status"] == "scheduled"
    other = SessionApi(world.host(world.bluebird), world.bluebird_admin)
    assert other.post(f"/api/v1/price-lists/{pk}/rollback/").status_code == 404

    client = host_client(host, world.acme_admin)
    page = client.get(f"/promotions/prices/{pk}/")
    assert page.status_code == 200
    assert "goes live on 2031-01-01 10:00" in page.content.decode()
    assert "Roll back to version 2" in page.content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("prices.csv", b"sku,price\nTEE-RED-M,\n", content_type="text/csv")
    errors = client.post(f"/promotions/prices/{pk}/", {"action": "import", "mode": "merge", "file": upload})
    assert errors.status_code == 400 and "line 2: price &#x27;&#x27; is not a number above 0" in errors.content.decode()
    upload = SimpleUploadedFile("prices.csv", b"sku,price\nTEE-RED-M,22\n", content_type="text/csv")
    done = client.post(f"/promotions/prices/{pk}/", {"action": "import", "mode": "merge", "file": upload})
    assert done.status_code == 302
    assert client.post(f"/promotions/prices/{pk}/", {"action": "rollback"}).status_code == 302
    with tenant_context(world.acme):
        assert PriceList.objects.get(pk=pk).published_version.prices == {"TEE-RED-M": "20.50"}
