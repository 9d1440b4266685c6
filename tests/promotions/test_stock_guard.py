"""The stock-threshold guard pauses a promotion on exactly the channels whose available-to-sell of a
promoted SKU fell below the threshold, and says why in an inventory exception."""

from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import channel_location_set, inventory_level_upsert
from promotions import selectors, stock_guard
from promotions.models import ChannelDeployment
from tests.promotions.conftest import promotion, published, sales_channels
from triage.models import Exception as TriageException


def _stock(location: str, on_hand: int, channel) -> None:
    level = inventory_level_upsert(
        source="csv",
        connection_id=None,
        document=CanonicalInventoryLevel(
            location_external_id=location, sku="TEE-RED-M", on_hand=D(on_hand), source_version=1
        ),
    ).obj
    channel_location_set(channel_connection=channel, location=level.location, channel_location_id=f"{location}-ID")


def test_stock_guard_pauses_exactly_the_short_channels(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        _stock("WEB-WH", 20, shop)
        _stock("OUTLET", 3, woo)  # below the threshold of 5
        promo = published(
            promotion(
                author=world.acme_admin,
                channels=[shop, woo, pos],
                eligibility={"skus": ["TEE-RED-M"]},
                pricing={"TEE-RED-M": {"price": "20", "cost": "8"}},
                stock_threshold=5,
            ),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        result = stock_guard.promotions_stock_guard()
        assert [(d.connection.name, d.state, d.pause_reason) for d in result["paused"]] == [
            ("Outlet store", "paused", "stock_guard")
        ]
        # the POS sells TEE-RED-M from no mapped location: no ATS to judge, so it is left live and reported
        assert result["unjudged"] == [("spring-10", "Stores POS", "TEE-RED-M")]
        states = dict(ChannelDeployment.objects.values_list("connection__name", "state"))
        assert states == {"Web store": "acknowledged", "Outlet store": "paused", "Stores POS": "acknowledged"}
        promo.refresh_from_db()
        assert promo.status == "partially_live"
        exception = TriageException.objects.get(kind="inventory")
        assert (exception.cause, exception.detail) == ("stock_guard_paused", "Outlet store: TEE-RED-M 3 < 5")
        assert stock_guard.promotions_stock_guard()["paused"] == []  # already paused: nothing more
        assert selectors.promotion_kpis().pauses_by_stock_guard == 1
