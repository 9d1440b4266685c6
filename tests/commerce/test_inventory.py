import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel, FulfilmentDoc
from commerce.inventory import (
    channel_location_set,
    inventory_level_upsert,
    location_safety_default_set,
    safety_stock_set,
)
from commerce.models import InventoryLevel, InventoryLocation, Reservation, StockChange
from commerce.selectors import available_to_sell
from commerce.services import order_upsert, refund_upsert
from commerce.upserts import UpsertOutcome
from tenants.models import AuditEvent
from tests.commerce.factories import PAID_AT, refund, shopify_order
from tests.connectors.factories import ConnectionFactory


def level(sku: str = "TEE-BLK", on_hand: str = "10", version: int = 100, location: str = "LOC-1", **changes):
    return replace(
        CanonicalInventoryLevel(location_external_id=location, sku=sku, on_hand=D(on_hand), source_version=version),
        **changes,
    )


def rows(result):
    return [(row.sku, row.on_hand, row.reserved, row.safety, row.ats, row.pushable) for row in result.rows]


def test_level_upsert_creates_the_location_and_is_idempotent(world):
    with tenant_context(world.acme):
        first = inventory_level_upsert(source="csv", connection_id=90003, document=level(location_name="Soho"))
        again = inventory_level_upsert(source="csv", connection_id=90003, document=level(location_name="Soho"))
        assert (first.outcome, again.outcome) == (UpsertOutcome.CREATED, UpsertOutcome.UNCHANGED)
        location = InventoryLocation.objects.get()
        assert (location.source, location.source_connection_id, location.external_id, location.name) == (
            "csv",
            90003,
            "LOC-1",
            "Soho",
        )
        assert list(InventoryLevel.objects.values_list("sku", "on_hand", "source_version")) == [
            ("TEE-BLK", D("10.000"), 100)
        ]


def test_an_older_level_update_is_ignored_and_a_newer_one_applies(world):
    with tenant_context(world.acme):
        inventory_level_upsert(source="csv", connection_id=90003, document=level(on_hand="10", version=200))
        stale = inventory_level_upsert(source="csv", connection_id=90003, document=level(on_hand="99", version=150))
        newer = inventory_level_upsert(source="csv", connection_id=90003, document=level(on_hand="7", version=250))
        assert (stale.outcome, newer.outcome) == (UpsertOutcome.IGNORED_STALE, UpsertOutcome.UPDATED)
        assert InventoryLevel.objects.get().on_hand == D("7")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sku": ""}, "sku"),
        ({"sku": "X" * 121}, "sku"),
        ({"location_external_id": ""}, "location_external_id"),
        ({"on_hand": 1.5}, "on_hand"),
        ({"on_hand": D("1.2345")}, "on_hand"),
        ({"on_hand": D("NaN")}, "on_hand"),
        ({"on_hand": D("1e12")}, "on_hand"),
    ],
)
def test_invalid_levels_name_their_field(world, changes, field):
    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        inventory_level_upsert(source="csv", connection_id=90003, document=replace(level(), **changes))
    assert field in error.value.message_dict


def test_ats_is_on_hand_less_reserved_less_safety_and_can_go_negative(world):
    with tenant_context(world.acme):
        store = InventoryLocation.objects.create(source="shopify", source_connection_id=90007, external_id="store-1")
        inventory_level_upsert(
            source="shopify", connection_id=90007, document=level("TEE-BLK", "5", location="store-1")
        )
        inventory_level_upsert(source="shopify", connection_id=90007, document=level("SOCK", "1", location="store-1"))
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="store-1"))
        safety_stock_set(location=store, sku="TEE-BLK", quantity="1")
        location_safety_default_set(location=store, quantity="1")
        result = available_to_sell()
        assert rows(result) == [
            ("BOOT-BRN", D("0"), D("1.000"), D("1.000"), D("-2.000"), D("0")),
            ("SOCK", D("1.000"), D("1.000"), D("1.000"), D("-1.000"), D("0")),
            ("TEE-BLK", D("5.000"), D("2.000"), D("1.000"), D("2.000"), D("2.000")),
        ]
        assert [row.oversold for row in result.rows] == [True, True, False]


def test_selector_filters_by_sku_location_and_search(world):
    with tenant_context(world.acme):
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-BLK", "5", location="A"))
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-RED", "4", location="B"))
        b = InventoryLocation.objects.get(external_id="B")
        assert [row.sku for row in available_to_sell(skus=["TEE-BLK"]).rows] == ["TEE-BLK"]
        assert [row.sku for row in available_to_sell(location_ids=[b.pk]).rows] == ["TEE-RED"]
        assert [row.sku for row in available_to_sell(sku_search="red").rows] == ["TEE-RED"]
        assert available_to_sell(skus=[]).rows == []


def test_shopify_available_is_not_reduced_again_by_its_own_orders(world):
    with tenant_context(world.acme):
        inventory_level_upsert(
            source="shopify",
            connection_id=90007,
            document=level("TEE-BLK", "8", location="store-1", net_of_source_orders=True),
        )
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="store-1"))
        order_upsert(source="csv", connection_id=90009, document=shopify_order(external_id="C-1", store="store-1"))
        Reservation.objects.filter(order_connection_id=90009).update(
            location=InventoryLocation.objects.get(external_id="store-1")
        )
        tee = next(row for row in available_to_sell(skus=["TEE-BLK"]).rows)
        # Shopify's own order is already out of `available`; the other source's order is not.
        assert (tee.on_hand, tee.reserved, tee.ats) == (D("8.000"), D("2.000"), D("6.000"))


def test_channel_sums_add_pushable_ats_over_the_locations_a_channel_sells_from(world):
    with tenant_context(world.acme):
        channel = ConnectionFactory(vendor="woocommerce", config={})
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-BLK", "5", location="A"))
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-BLK", "3", location="B"))
        a, b = InventoryLocation.objects.get(external_id="A"), InventoryLocation.objects.get(external_id="B")
        safety_stock_set(location=b, sku="TEE-BLK", quantity="4")  # B: 3 - 4 = -1, pushes 0
        channel_location_set(channel_connection=channel, location=a, channel_location_id="web")
        channel_location_set(channel_connection=channel, location=b, channel_location_id="web")
        result = available_to_sell()
        assert result.channel_ats(channel_connection_id=channel.pk, sku="TEE-BLK") == D("5.000")
        assert result.channel_ats(channel_connection_id=channel.pk, sku="NOPE") == D("0")


def test_reservations_follow_the_order_from_open_to_fulfilled(world):
    with tenant_context(world.acme):
        store = InventoryLocation.objects.create(source="shopify", source_connection_id=90007, external_id="store-1")
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="store-1"))
        assert list(Reservation.objects.values_list("sku", "quantity", "location_id", "released_at")) == [
            ("BOOT-BRN", D("1.000"), store.pk, None),
            ("SOCK", D("1.000"), store.pk, None),
            ("TEE-BLK", D("2.000"), store.pk, None),
        ]
        partly = shopify_order(
            store="store-1",
            source_version=2,
            fulfilments=(FulfilmentDoc("F1", PAID_AT, (("L1", 1),)),),
        )
        order_upsert(source="shopify", connection_id=90007, document=partly)
        assert Reservation.objects.get(sku="TEE-BLK").quantity == D("1")
        done = replace(
            partly,
            source_version=3,
            fulfilled_at=PAID_AT + dt.timedelta(hours=1),
            fulfilments=(FulfilmentDoc("F1", PAID_AT, (("L1", 2), ("L2", 1), ("L3", 1))),),
        )
        order_upsert(source="shopify", connection_id=90007, document=done)
        assert set(Reservation.objects.values_list("release_reason", flat=True)) == {"fulfilled"}
        assert not Reservation.objects.filter(released_at__isnull=True).exists()


def test_cancelling_releases_and_a_stale_replay_does_not_reopen(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(source_version=5))
        order_upsert(
            source="shopify", connection_id=90007, document=shopify_order(source_version=6, cancelled_at=PAID_AT)
        )
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(source_version=5))
        assert set(Reservation.objects.values_list("release_reason", flat=True)) == {"cancelled"}
        assert not Reservation.objects.filter(released_at__isnull=True).exists()


def test_a_refund_releases_the_refunded_quantity_only(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=90007, document=shopify_order())
        refund_upsert(source="shopify", connection_id=90007, document=refund("R1", (("L1", 1), ("L3", 1))))
        open_ = dict(Reservation.objects.filter(released_at__isnull=True).values_list("sku", "quantity"))
        assert open_ == {"TEE-BLK": D("1.000"), "BOOT-BRN": D("1.000")}
        assert Reservation.objects.get(sku="SOCK").release_reason == "refunded"


def test_lines_without_a_sku_reserve_nothing(world):
    with tenant_context(world.acme):
        document = shopify_order()
        document = replace(document, lines=tuple(replace(line, sku="") for line in document.lines))
        order_upsert(source="shopify", connection_id=90007, document=document)
        assert Reservation.objects.count() == 0


def test_safety_stock_edit_is_audited_validated_and_queues_a_push(world):
    with tenant_context(world.acme):
        channel = ConnectionFactory(vendor="woocommerce", config={})
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-BLK", "5", location="A"))
        a = InventoryLocation.objects.get(external_id="A")
        channel_location_set(channel_connection=channel, location=a, channel_location_id="web")
        StockChange.objects.all().delete()
        with pytest.raises(ValidationError) as error:
            safety_stock_set(location=a, sku="TEE-BLK", quantity="-1", actor=world.acme_admin)
        assert "quantity" in error.value.message_dict
        safety_stock_set(location=a, sku="TEE-BLK", quantity="2", actor=world.acme_admin)
        assert list(StockChange.objects.values_list("location_id", "sku")) == [(a.pk, "TEE-BLK")]
        safety_stock_set(location=a, sku="TEE-BLK", quantity=None, actor=world.acme_admin)
    audit = AuditEvent.objects.filter(action="inventory.safety_stock_set", tenant=world.acme).order_by("pk")
    assert [event.changes for event in audit] == [
        {"location": "A", "sku": "TEE-BLK", "from": None, "to": "2"},
        {"location": "A", "sku": "TEE-BLK", "from": "2", "to": None},
    ]


def test_levels_are_per_tenant(world):
    with tenant_context(world.acme):
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE-BLK", "5"))
    with tenant_context(world.bluebird):
        assert available_to_sell().rows == []
        assert InventoryLevel.objects.count() == 0


def test_orders_without_a_stock_location_are_reported_apart(world):
    from commerce.selectors import reservations_unallocated

    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="nowhere"))
        assert available_to_sell().rows == []
        assert reservations_unallocated() == {"BOOT-BRN": D("1"), "SOCK": D("1"), "TEE-BLK": D("2")}
        web = InventoryLocation.objects.create(
            source="shopify", source_connection_id=90007, external_id="web", kind=InventoryLocation.Kind.WEB
        )
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="nowhere", source_version=2))
        assert reservations_unallocated() == {}
        assert {row.location_id for row in available_to_sell().rows} == {web.pk}


def test_a_channel_cannot_be_sent_stock_for_a_location_it_counts_itself(world):
    with tenant_context(world.acme):
        shop = ConnectionFactory(vendor="shopify")
        inventory_level_upsert(source="shopify", connection_id=shop.pk, document=level(location="71826145558"))
        own = InventoryLocation.objects.get()
        with pytest.raises(ValidationError) as error:
            channel_location_set(channel_connection=shop, location=own, channel_location_id="71826145558")
        assert "counted by" in error.value.message_dict["location"][0]
        stripe = ConnectionFactory(vendor="stripe", config={})
        with pytest.raises(ValidationError) as error:
            channel_location_set(channel_connection=stripe, location=own, channel_location_id="x")
        assert "channel_connection" in error.value.message_dict
