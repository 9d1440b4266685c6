from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from commerce import inventory_sync
from commerce.documents import CanonicalInventoryLevel, OrderLineDoc
from commerce.inventory import channel_location_set, inventory_level_upsert, safety_stock_set
from commerce.models import ChannelStock, InventoryLocation, StockChange, StockSync
from commerce.services import order_upsert
from connectors.models import Connection
from connectors.vendors import channels as vendor_channels
from connectors.vendors.base import ChannelUnsupported
from tests.commerce.factories import shopify_order
from tests.connectors.factories import ConnectionFactory
from triage.models import Exception as TriageException
from triage.retry import retry_action_get
from triage.services import exception_retry_run


def level(sku: str, on_hand: str, version: int, location: str = "A") -> CanonicalInventoryLevel:
    return CanonicalInventoryLevel(location_external_id=location, sku=sku, on_hand=D(on_hand), source_version=version)


@pytest.fixture
def dispatched(monkeypatch):
    """Every push task sent (instead of the broker), with its countdown."""
    from commerce import tasks

    sent = []
    monkeypatch.setattr(tasks.inventory_push, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


def _world(tenant):
    """Two channels (Shopify web, Square store) selling from location A; only Square from B."""
    web = ConnectionFactory(vendor="shopify", name="Web shop")
    pos = ConnectionFactory(vendor="square", name="Stores", config={"location_ids": ["SQ-1"]})
    inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "5", 1, "A"))
    inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "2", 1, "B"))
    a, b = InventoryLocation.objects.get(external_id="A"), InventoryLocation.objects.get(external_id="B")
    channel_location_set(channel_connection=web, location=a, channel_location_id="gid-A")
    channel_location_set(channel_connection=pos, location=a, channel_location_id="SQ-1")
    channel_location_set(channel_connection=pos, location=b, channel_location_id="SQ-2")
    return web, pos, a, b


def test_many_changes_make_one_task_and_one_push_per_channel(
    world, channels, push_gate, dispatched, settings, committed
):
    settings.INVENTORY_PUSH_DEBOUNCE_SECONDS = 30
    with tenant_context(world.acme):
        with committed():
            web, _pos, _a, _b = _world(world.acme)
        for version in range(2, 52):
            with committed():
                inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", str(version), version))
        assert dispatched == [{"countdown": 30, "retry": False}]
        report = inventory_sync.inventory_push_due()
        assert (report.changes, report.channels, report.acknowledged) == (2, 2, 3)
        assert channels["shopify"].calls == [{("TEE", "gid-A"): D("51.000")}]
        assert channels["square"].calls == [{("TEE", "SQ-1"): D("51.000"), ("TEE", "SQ-2"): D("2.000")}]
        assert StockChange.objects.count() == 0
        stock = ChannelStock.objects.get(channel_location__channel_connection_id=web.pk)
        assert (stock.pushed_ats, stock.acknowledged_ats, stock.status) == (D("51"), D("51"), "acknowledged")


def test_the_gate_reopens_when_the_push_starts(world, channels, push_gate, dispatched, committed):
    with tenant_context(world.acme):
        with committed():
            _world(world.acme)
        inventory_sync.inventory_push_due()
        with committed():
            inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "4", 9))
        assert len(dispatched) == 2


def test_nothing_is_queued_for_a_location_no_channel_sells_from(world, channels, push_gate, dispatched, committed):
    with tenant_context(world.acme):
        with committed():
            inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "5", 1, "Z"))
        assert (dispatched, StockChange.objects.count()) == ([], 0)


def test_pushed_ats_never_goes_below_zero(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _, _, a, _ = _world(world.acme)
        safety_stock_set(location=a, sku="TEE", quantity="9")
        inventory_sync.inventory_push_due()
        assert channels["shopify"].calls == [{("TEE", "gid-A"): D("0")}]


def test_an_order_reserving_stock_lowers_what_channels_are_sent(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
        a = InventoryLocation.objects.get(external_id="A")
        a.kind = InventoryLocation.Kind.WEB
        a.save()
        inventory_sync.inventory_push_due()
        document = shopify_order(
            lines=(OrderLineDoc("L1", "TEE", 2, D("50.00")),),
            discounts=(),
            payments=(),
            shipping_lines=(),
            vendor_total=None,
        )
        InventoryLocation.objects.filter(pk=a.pk).update(source="shopify", source_connection_id=90007)
        order_upsert(source="shopify", connection_id=90007, document=document)
        inventory_sync.inventory_push_due()
        assert channels["shopify"].calls[-1] == {("TEE", "gid-A"): D("3.000")}


def test_a_channel_rejection_raises_an_inventory_exception_and_retry_pushes_again(
    world, channels, push_gate, dispatched
):
    with tenant_context(world.acme):
        web, _, _, _ = _world(world.acme)
        channels["shopify"].reject = "Inventory item TEE is not stocked at gid-A"
        report = inventory_sync.inventory_push_due()
        assert report.errors == {web.pk: "Inventory item TEE is not stocked at gid-A"}
        problem = TriageException.objects.get(kind="inventory")
        assert (problem.cause, problem.retry_name, problem.severity) == (
            "channel_rejected",
            "commerce.inventory_push",
            "high",
        )
        assert problem.occurrences.get().retry_args == {"channel_connection_id": web.pk}
        stock = ChannelStock.objects.get(channel_location__channel_connection_id=web.pk)
        assert (stock.status, stock.acknowledged_ats, stock.error) == (
            "failed",
            None,
            "Inventory item TEE is not stocked at gid-A",
        )
        # Square took its figures: only Shopify failed.
        assert set(ChannelStock.objects.exclude(pk=stock.pk).values_list("status", flat=True)) == {"acknowledged"}
        with pytest.raises(inventory_sync.ChannelPushFailed):
            retry_action_get("commerce.inventory_push")(channel_connection_id=web.pk)
        channels["shopify"].reject = None
        exception_retry_run(exception_id=problem.pk)
        problem.refresh_from_db()
        stock.refresh_from_db()
        assert (problem.status, stock.status, stock.acknowledged_ats) == ("resolved", "acknowledged", D("5"))
        assert channels["shopify"].calls[-1] == {("TEE", "gid-A"): D("5.000")}


def test_a_channel_showing_another_figure_is_flagged(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
        channels["square"].shows = {("TEE", "SQ-2"): D("1")}
        inventory_sync.inventory_push_due()
        stock = ChannelStock.objects.get(channel_location__channel_location_id="SQ-2")
        assert (stock.status, stock.pushed_ats, stock.acknowledged_ats) == ("mismatch", D("2"), D("1"))
        assert TriageException.objects.get(kind="inventory").cause == "channel_mismatch"


def test_a_channel_without_an_inventory_adapter_is_an_exception_not_a_crash(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
        vendor_channels._OVERRIDES.pop("shopify")
        original = vendor_channels.channel_adapter

        def unsupported(vendor):
            if vendor == "shopify":
                raise ChannelUnsupported("shopify does not take inventory")
            return original(vendor)

        vendor_channels.channel_adapter = unsupported
        try:
            inventory_sync.inventory_push_due()
        finally:
            vendor_channels.channel_adapter = original
        assert TriageException.objects.get(kind="inventory").cause == "channel_unsupported"


def test_paused_channels_are_sent_nothing(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        web, _, _, _ = _world(world.acme)
        Connection.objects.filter(pk=web.pk).update(status=Connection.Status.PAUSED)
        inventory_sync.inventory_push_due()
        assert channels["shopify"].calls == []


def test_the_sweep_queues_a_push_for_changes_whose_task_was_lost(world, channels, push_gate, dispatched):
    from django.utils import timezone

    with tenant_context(world.acme):
        _world(world.acme)
        cache.delete(inventory_sync.PUSH_GATE_KEY)
        dispatched.clear()
        StockChange.objects.update(changed_at=timezone.now() - timezone.timedelta(minutes=5))
        assert inventory_sync.inventory_push_stale_pending() == 2
        assert len(dispatched) == 1


def test_the_push_task_refuses_the_public_schema(db):
    from commerce.tasks import inventory_push

    with pytest.raises(RuntimeError):
        inventory_push.run()


def test_pushes_stay_in_their_tenant(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
    with tenant_context(world.bluebird):
        report = inventory_sync.inventory_push_due()
        assert (report.changes, channels["shopify"].calls) == (0, [])


def test_a_good_push_resolves_its_own_problem_only(world, channels, push_gate, dispatched):
    from triage.services import exception_raise

    with tenant_context(world.acme):
        web, _, _, _ = _world(world.acme)
        auth = exception_raise(kind="sync", cause="auth", obj=web, title="Web shop: token revoked")
        channels["shopify"].reject = "down for maintenance"
        inventory_sync.inventory_push_due()
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "6", 2))
        channels["shopify"].reject = None
        inventory_sync.inventory_push_due()
        problem = TriageException.objects.get(kind="inventory")
        auth.refresh_from_db()
        assert (problem.status, auth.status) == ("resolved", "open")
        occurrence = problem.occurrences.get()
        assert occurrence.object_url == f"/inventory/locations/{InventoryLocation.objects.get(external_id='A').pk}/"


def test_an_unexpected_adapter_error_is_an_exception_and_other_channels_still_get_stock(
    world, channels, push_gate, dispatched
):
    def broken(connection, levels):
        raise TypeError("adapter bug")

    with tenant_context(world.acme):
        _world(world.acme)
        channels["shopify"].push_available = broken
        report = inventory_sync.inventory_push_due()
        assert report.acknowledged == 2  # Square's two keys
        assert TriageException.objects.get(kind="inventory").cause == "channel_error"
        assert StockChange.objects.count() == 0


def test_the_push_task_runs_in_its_tenant(world, channels, push_gate, dispatched):
    from commerce.tasks import inventory_push

    with tenant_context(world.acme):
        _world(world.acme)
        assert inventory_push.run() == {"changes": 2, "channels": 2, "failed": 0}


def test_a_change_during_a_push_stays_queued_for_the_next_one(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
        original = channels["shopify"].push_available

        def push_while_stock_moves(connection, levels):
            inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "1", 7))
            return original(connection, levels)

        channels["shopify"].push_available = push_while_stock_moves
        inventory_sync.inventory_push_due()
        assert list(StockChange.objects.values_list("sku", flat=True)) == ["TEE"]
        channels["shopify"].push_available = original
        inventory_sync.inventory_push_due()
        assert channels["shopify"].calls[-1] == {("TEE", "gid-A"): D("1.000")}
        assert StockChange.objects.count() == 0


def test_a_claim_in_flight_is_left_alone_and_a_dead_one_is_taken_over(world, channels, push_gate, dispatched):
    from django.utils import timezone

    with tenant_context(world.acme):
        _world(world.acme)
        now = timezone.now()
        StockChange.objects.update(claimed_at=now, changed_at=now - timezone.timedelta(seconds=1))
        assert inventory_sync.inventory_push_due().changes == 0
        StockChange.objects.update(claimed_at=now - inventory_sync.CLAIM_TIMEOUT - timezone.timedelta(seconds=1))
        assert inventory_sync.inventory_push_due().changes == 2
        assert StockChange.objects.count() == 0


def test_a_change_every_channel_took_is_recorded_with_its_receipt_time(world, channels, push_gate, dispatched):
    with tenant_context(world.acme):
        _world(world.acme)
        received = StockChange.objects.get(location__external_id="A").received_at
        channels["shopify"].reject = "Shop is read-only"
        inventory_sync.inventory_push_due()
        # A is sold by both channels and Shopify refused: not synced. B is sold by Square only.
        [synced] = StockSync.objects.all()
        assert (synced.location.external_id, synced.sku, synced.channels) == ("B", "TEE", 1)
        channels["shopify"].reject = ""
        inventory_level_upsert(source="csv", connection_id=90003, document=level("TEE", "7", 2, "A"))
        assert StockChange.objects.get(location__external_id="A").received_at > received
        inventory_sync.inventory_push_due()
        latest = StockSync.objects.get(location__external_id="A")
        assert latest.channels == 2
        assert latest.synced_at >= latest.received_at
