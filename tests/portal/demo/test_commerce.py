from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.models import InventoryLevel, Reservation
from commerce.selectors import available_to_sell
from portal.demo.commerce import inventory_demo_seed


def test_demo_stock_is_idempotent_and_shows_an_oversold_sku(world):
    with tenant_context(world.acme):
        first = inventory_demo_seed(currency="USD")
        again = inventory_demo_seed(currency="USD")
        assert first == again
        assert (first.locations, first.levels, first.reservations) == (3, 18, 5)
        assert InventoryLevel.objects.count() == 18
        assert Reservation.objects.count() == 5
        boots = {row.location_name: row for row in available_to_sell(skus=["BOOT-BRN"]).rows}
        assert (boots["Soho store"].on_hand, boots["Soho store"].reserved, boots["Soho store"].ats) == (
            D("1.000"),
            D("2.000"),
            D("-2.000"),
        )
        assert boots["East warehouse"].ats == D("8.000")  # 12 on hand - 4 safety stock
