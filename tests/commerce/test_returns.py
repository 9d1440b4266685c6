"""Return lifecycle (commerce/returns.py): every legal and illegal transition, four eyes, restock by
disposition, channel returns upserted idempotently."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel
from commerce.documents_returns import CanonicalReturn, ReturnLineDoc
from commerce.inventory import inventory_level_upsert
from commerce.models import InventoryLevel, Return, ReturnLine
from commerce.returns import (
    TRANSITIONS,
    IllegalTransition,
    LineRequest,
    return_approve,
    return_close,
    return_create,
    return_inspect,
    return_policy_update,
    return_receive,
    return_refund_link,
    return_reject,
    return_ship,
    return_upsert,
)
from commerce.services import UpsertOutcome, order_upsert, refund_upsert
from tests.commerce.factories import PAID_AT, refund, shopify_order

S = Return.Status


@pytest.fixture
def acme(world):
    with tenant_context(world.acme):
        yield world


def _order():
    return order_upsert(source="shopify", connection_id=7, document=shopify_order()).obj


def _return(order, *, tee=1, boot=0, disposition="restock", **changes):
    lines = [LineRequest(order.lines.get(external_id="L1"), tee, "too small", disposition)]
    if boot:
        lines.append(LineRequest(order.lines.get(external_id="L2"), boot, "broken", disposition))
    return return_create(order=order, lines=lines, reason="customer", **changes)


def _refund(order, external_id="r1", lines=(("L1", 1),)):
    return refund_upsert(source="shopify", connection_id=7, document=refund(external_id, lines)).obj


def _to(ret, target, world):
    """Call the service that moves `ret` to `target`."""
    actor = world.acme_admin
    if target == S.APPROVED:
        return return_approve(ret=ret, actor=actor)
    if target == S.REJECTED:
        return return_reject(ret=ret, actor=actor, reason="worn")
    if target == S.IN_TRANSIT:
        return return_ship(ret=ret, tracking_number="1Z999", actor=actor)
    if target == S.RECEIVED:
        return return_receive(ret=ret, actor=actor)
    if target == S.INSPECTED:
        return return_inspect(ret=ret, actor=actor)
    if target == S.CLOSED:
        return return_close(ret=ret, actor=actor)
    raise AssertionError(target)


LEGAL = [(start, target) for start, targets in TRANSITIONS.items() for target in sorted(targets)]
ILLEGAL = [
    (start, target)
    for start in TRANSITIONS
    for target in S.values
    if target not in TRANSITIONS[start] and target != S.REFUNDED and target != S.REQUESTED
]


def test_create_values_the_lines_net_and_names_the_rma(acme):
    order = _order()
    ret = _return(order, tee=1, boot=1)
    assert (ret.status, ret.value, ret.name, ret.currency) == (S.REQUESTED, D("117.50"), f"RMA-{ret.pk}", "USD")
    assert list(ret.events.values_list("action", flat=True)) == ["requested"]


def test_create_refuses_more_than_is_left_to_return(acme):
    order = _order()
    _return(order, tee=2)
    with pytest.raises(ValidationError, match="only 0 can still be returned"):
        _return(order, tee=1)


@pytest.mark.parametrize(("start", "target"), [pair for pair in LEGAL if pair[1] != S.REFUNDED])
def test_every_legal_transition(acme, start, target):
    ret = _return(_order())
    Return.objects.filter(pk=ret.pk).update(status=start)
    ret = _to(Return.objects.get(pk=ret.pk), target, acme)
    assert Return.objects.get(pk=ret.pk).status == target
    assert target in ret.events.values_list("action", flat=True)


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(acme, start, target):
    ret = _return(_order())
    Return.objects.filter(pk=ret.pk).update(status=start)
    with pytest.raises(IllegalTransition) as raised:
        _to(Return.objects.get(pk=ret.pk), target, acme)
    assert (raised.value.current, raised.value.target) == (start, target)
    assert Return.objects.get(pk=ret.pk).status == start


def test_inspected_becomes_refunded_when_its_refund_is_linked(acme):
    order = _order()
    ret = _return(order)
    for target in (S.APPROVED, S.RECEIVED, S.INSPECTED):
        ret = _to(ret, target, acme)
    ret = return_refund_link(ret=ret, refund=_refund(order))
    assert ret.status == S.REFUNDED
    assert ret.refunded_at == max(ret.received_at, PAID_AT + dt.timedelta(days=3))


@pytest.mark.parametrize("start", [s for s in S.values if s != S.INSPECTED])
def test_a_refund_linked_before_inspection_leaves_the_status(acme, start):
    order = _order()
    ret = _return(order)
    Return.objects.filter(pk=ret.pk).update(status=start)
    ret = return_refund_link(ret=Return.objects.get(pk=ret.pk), refund=_refund(order))
    assert (ret.status, ret.refunds.count()) == (start, 1)


def test_a_refund_of_another_order_is_refused(acme):
    order = _order()
    other = order_upsert(source="shopify", connection_id=7, document=shopify_order(external_id="1002")).obj
    foreign = refund_upsert(
        source="shopify", connection_id=7, document=refund("r9", (("L1", 1),), order_external_id="1002")
    ).obj
    assert foreign.order == other
    with pytest.raises(ValidationError, match="not for order 1001"):
        return_refund_link(ret=_return(order), refund=foreign)


def test_inspecting_a_refunded_return_moves_it_to_refunded(acme):
    order = _order()
    ret = _return(order)
    ret = _to(_to(ret, S.APPROVED, acme), S.RECEIVED, acme)
    return_refund_link(ret=ret, refund=_refund(order))
    assert return_inspect(ret=ret, actor=acme.acme_admin).status == S.REFUNDED


# ---- four eyes ------------------------------------------------------------------------------


def test_above_the_limit_two_different_people_approve(acme):
    return_policy_update(second_approval_above=D("100"))
    ret = _return(_order(), tee=1, boot=1)  # 117.50 > 100
    ret = return_approve(ret=ret, actor=acme.acme_admin)
    assert (ret.status, len(ret.approvals)) == (S.REQUESTED, 1)
    with pytest.raises(PermissionDenied, match="second, different person"):
        return_approve(ret=ret, actor=acme.acme_admin)
    ret = return_approve(ret=ret, actor=acme.partner_admin)
    assert ret.status == S.APPROVED
    assert [a["user_id"] for a in ret.approvals] == [acme.acme_admin.pk, acme.partner_admin.pk]


def test_at_or_below_the_limit_one_person_approves(acme):
    return_policy_update(second_approval_above=D("47.50"))
    ret = return_approve(ret=_return(_order(), tee=1), actor=acme.acme_admin)  # 47.50, not above
    assert ret.status == S.APPROVED


def test_approval_and_rejection_take_a_person(acme):
    ret = _return(_order())
    with pytest.raises(PermissionDenied, match="takes a person"):
        return_approve(ret=ret, actor=None, actor_label="system")
    with pytest.raises(PermissionDenied, match="takes a person"):
        return_reject(ret=ret, actor=None, actor_label="api-key:nobody")


# ---- restock by disposition -----------------------------------------------------------------


def _level(sku):
    level = InventoryLevel.objects.filter(sku=sku, location__external_id="returns").first()
    return level.on_hand if level else None


def test_receipt_restocks_only_restock_lines(acme):
    order = _order()
    ret = _return(order, tee=2, boot=1)
    boot_line = ret.lines.get(order_line__external_id="L2")
    ret = _to(ret, S.APPROVED, acme)
    return_receive(ret=ret, actor=acme.acme_admin, lines={boot_line.pk: {"disposition": "scrap"}})
    assert (_level("TEE-BLK"), _level("BOOT-BRN")) == (D("2.000"), None)
    assert list(ret.lines.values_list("disposition", "restocked")) == [("restock", D("2.000")), ("scrap", D("0.000"))]


def test_inspection_that_sends_a_unit_to_refurbish_takes_it_back_off_hand(acme):
    order = _order()
    ret = _to(_to(_return(order, tee=2), S.APPROVED, acme), S.RECEIVED, acme)
    assert _level("TEE-BLK") == D("2.000")
    line = ret.lines.get()
    return_inspect(
        ret=ret, actor=acme.acme_admin, lines={line.pk: {"disposition": "refurbish", "condition": "damaged"}}
    )
    line.refresh_from_db()
    assert (_level("TEE-BLK"), line.disposition, line.condition, line.restocked) == (
        D("0.000"),
        "refurbish",
        "damaged",
        D("0.000"),
    )


def test_receipt_adds_to_the_order_store_level_through_the_inventory_service(acme):
    order = order_upsert(source="shopify", connection_id=7, document=shopify_order(store="store-1")).obj
    inventory_level_upsert(
        source="shopify",
        connection_id=7,
        document=CanonicalInventoryLevel("store-1", "TEE-BLK", D("5"), 10, location_name="Store 1"),
    )
    ret = _to(_to(_return(order, tee=1), S.APPROVED, acme), S.RECEIVED, acme)
    level = InventoryLevel.objects.get(sku="TEE-BLK", location__external_id="store-1")
    assert (level.on_hand, level.source_version, ret.location_id) == (D("6.000"), 11, level.location_id)


def test_an_unknown_disposition_is_refused(acme):
    ret = _to(_return(_order()), S.APPROVED, acme)
    with pytest.raises(ValidationError, match="not restock, refurbish or scrap"):
        return_receive(ret=ret, lines={ret.lines.get().pk: {"disposition": "resell"}})


# ---- channel returns ------------------------------------------------------------------------


def _document(**changes):
    document = CanonicalReturn(
        external_id="R-1",
        order_external_id="1001",
        source_version=1,
        status=S.APPROVED,
        requested_at=PAID_AT + dt.timedelta(days=5),
        lines=(ReturnLineDoc("L1", 1, "size_too_small", "RL-1"),),
        name="#1001-R1",
    )
    return replace(document, **changes)


def test_channel_return_is_created_walked_to_its_status_and_idempotent(acme):
    _order()
    first = return_upsert(source="shopify", connection_id=7, document=_document())
    again = return_upsert(source="shopify", connection_id=7, document=_document())
    assert (first.outcome, again.outcome, first.obj.status) == (
        UpsertOutcome.CREATED,
        UpsertOutcome.UNCHANGED,
        "approved",
    )
    assert first.obj.origin == Return.Origin.CHANNEL
    assert list(first.obj.events.values_list("action", "actor_label")) == [
        ("requested", "shopify"),
        ("approved", "shopify"),
    ]
    closed = return_upsert(source="shopify", connection_id=7, document=_document(source_version=3, status=S.CLOSED))
    assert [e.action for e in closed.obj.events.all()][2:] == ["received", "restocked", "inspected", "closed"]
    stale = return_upsert(source="shopify", connection_id=7, document=_document(source_version=2, status=S.REJECTED))
    assert (stale.outcome, Return.objects.get().status) == (UpsertOutcome.IGNORED_STALE, S.CLOSED)


def test_channel_decline_rejects(acme):
    _order()
    ret = return_upsert(source="shopify", connection_id=7, document=_document(status=S.REJECTED)).obj
    assert ret.status == S.REJECTED


def test_channel_return_links_the_orders_refund_of_its_lines(acme):
    order = _order()
    _refund(order)
    ret = return_upsert(source="shopify", connection_id=7, document=_document()).obj
    assert list(ret.refunds.values_list("external_id", flat=True)) == ["r1"]


def test_channel_return_naming_an_unknown_line_is_refused(acme):
    _order()
    with pytest.raises(ValidationError, match="has no line L9"):
        return_upsert(source="shopify", connection_id=7, document=_document(lines=(ReturnLineDoc("L9", 1),)))
    assert not ReturnLine.objects.exists()


# ---- outbound events ------------------------------------------------------------------------


def test_approval_receipt_and_refund_are_announced_to_the_partners_subscribers(
    acme, django_capture_on_commit_callbacks, monkeypatch
):
    from tenants import webhooks
    from tenants.models import WebhookDelivery, WebhookSubscription

    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    WebhookSubscription.objects.create(
        partner=acme.northwind,
        url="https://hooks.example.test/in",
        events=["return.approved", "return.received", "return.refunded"],
        secret="s" * 32,
    )
    order = _order()
    ret = _return(order)
    with django_capture_on_commit_callbacks(execute=True):
        for target in (S.APPROVED, S.RECEIVED, S.INSPECTED):
            ret = _to(ret, target, acme)
        return_refund_link(ret=ret, refund=_refund(order))
    deliveries = WebhookDelivery.objects.filter(subscription__partner=acme.northwind).order_by("pk")
    assert [d.event for d in deliveries] == ["return.approved", "return.received", "return.refunded"]
    assert deliveries[0].payload["data"] == {
        "tenant": acme.acme.slug,
        "return": ret.pk,
        "name": ret.name,
        "order": "1001",
        "status": "approved",
        "value": "47.50",
        "currency": "USD",
    }
