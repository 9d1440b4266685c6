"""Demo returns for `seed_demo`: one return in every status (and one waiting for its second
approver), on orders of their own, through the real services — approval by the demo's people,
receipt restocking by disposition, a refund linked. Idempotent: a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from commerce.documents import CanonicalOrder, CanonicalRefund, OrderLineDoc, PaymentDoc, RefundLineDoc
from commerce.models import Return, ReturnLine
from commerce.returns import (
    LineRequest,
    return_approve,
    return_close,
    return_create,
    return_inspect,
    return_policy_get,
    return_receive,
    return_refund_link,
    return_reject,
    return_ship,
)
from commerce.services import order_upsert, refund_upsert
from tenants.models import User

SOURCE = "demo-returns"
PLACED = dt.datetime(2026, 1, 10, 14, 0, tzinfo=dt.UTC)
# order id, status to reach, lines (sku, quantity, unit price, units returned, disposition), extras
RETURNS = [
    ("DEMO-RMA-1", "requested", [("TEE-BLK", 2, "24.00", 1, "restock")], {}),
    ("DEMO-RMA-2", "requested", [("BOOT-BRN", 5, "120.00", 5, "restock")], {"first_approval": True}),
    ("DEMO-RMA-3", "approved", [("HOOD-GRY", 1, "55.00", 1, "restock")], {}),
    ("DEMO-RMA-4", "rejected", [("CAP-NVY", 1, "18.00", 1, "restock")], {}),
    ("DEMO-RMA-5", "in_transit", [("SNKR-WHT", 1, "85.00", 1, "restock")], {"shipping_cost": "6.50"}),
    ("DEMO-RMA-6", "received", [("SOCK-3PK", 4, "12.50", 2, "refurbish")], {}),
    ("DEMO-RMA-7", "inspected", [("TEE-BLK", 3, "24.00", 2, "scrap")], {"restocking_fee": "2.40"}),
    ("DEMO-RMA-8", "refunded", [("HOOD-GRY", 2, "55.00", 1, "restock")], {"restocking_fee": "5.50"}),
    ("DEMO-RMA-9", "closed", [("CAP-NVY", 2, "18.00", 2, "restock")], {"shipping_paid_by": "customer"}),
]
PATH = ["approved", "in_transit", "received", "inspected", "refunded", "closed"]


def _order(order_id: str, lines: list, currency: str, day: int):
    document = CanonicalOrder(
        external_id=order_id,
        source_version=1,
        currency=currency,
        placed_at=PLACED + dt.timedelta(days=day),
        paid_at=PLACED + dt.timedelta(days=day, minutes=2),
        channel="web",
        lines=tuple(
            OrderLineDoc(f"{order_id}-L{n}", sku, quantity, Decimal(price), "apparel", sku)
            for n, (sku, quantity, price, _units, _disposition) in enumerate(lines, 1)
        ),
        payments=(
            PaymentDoc(f"{order_id}-P", "stripe", sum(Decimal(p) * q for _s, q, p, _u, _d in lines), method="card"),
        ),
    )
    return order_upsert(source=SOURCE, connection_id=None, document=document).obj


def _refund(ret: Return, currency: str) -> None:
    document = CanonicalRefund(
        external_id=f"{ret.order.external_id}-refund",
        order_external_id=ret.order.external_id,
        source_version=1,
        currency=currency,
        processed_at=ret.order.placed_at + dt.timedelta(days=8),
        lines=tuple(RefundLineDoc(line.order_line.external_id, line.quantity) for line in ret.lines.all()),
        gateway="stripe",
    )
    refund = refund_upsert(source=SOURCE, connection_id=None, document=document).obj
    return_refund_link(ret=ret, refund=refund, actor_label="demo")


def _walk(ret: Return, target: str, *, approver: User, currency: str) -> Return:
    if target == "rejected":
        return return_reject(ret=ret, actor=approver, reason="Worn; outside the return conditions")
    for step in PATH[: PATH.index(target) + 1] if target in PATH else []:
        if step == "approved":
            ret = return_approve(ret=ret, actor=approver)
        elif step == "in_transit":
            ret = return_ship(ret=ret, tracking_number=f"1Z{ret.pk:08d}", actor=approver)
        elif step == "received":
            ret = return_receive(ret=ret, actor=approver)
            ret.received_at = ret.order.placed_at + dt.timedelta(days=5)  # as if it came back then
            ret.save(update_fields=["received_at"])
        elif step == "inspected":
            condition = "damaged" if ret.lines.filter(disposition=ReturnLine.Disposition.SCRAP).exists() else "new"
            ret = return_inspect(
                ret=ret, actor=approver, lines={line.pk: {"condition": condition} for line in ret.lines.all()}
            )
        elif step == "refunded":
            _refund(ret, currency)
        elif step == "closed":
            ret = return_close(ret=ret, actor=approver, note="Done")
    return ret


def returns_demo_seed(*, currency: str, approver: User) -> str:
    """Seed the demo returns in the current schema; says what it did (for the progress line)."""
    if Return.objects.filter(order__source=SOURCE).exists():
        return "returns already seeded"
    limit = return_policy_get().second_approval_above
    for day, (order_id, target, lines, extras) in enumerate(RETURNS):
        order = _order(order_id, lines, currency, day)
        by_sku = {line.sku: line for line in order.lines.all()}
        ret = return_create(
            order=order,
            lines=[
                LineRequest(by_sku[sku], units, "Did not fit", disposition) for sku, _q, _p, units, disposition in lines
            ],
            reason="Customer return",
            restocking_fee=Decimal(extras.get("restocking_fee", "0")),
            shipping_cost=Decimal(extras.get("shipping_cost", "6.50" if target == "closed" else "0")),
            shipping_paid_by=extras.get("shipping_paid_by", "merchant"),
            actor=approver,
            requested_at=order.placed_at + dt.timedelta(days=2),
        )
        if extras.get("first_approval") and ret.value > limit:
            return_approve(ret=ret, actor=approver)  # waits for a second, different person
        ret = _walk(ret, target, approver=approver, currency=currency)
    return f"{len(RETURNS)} returns in every status"
