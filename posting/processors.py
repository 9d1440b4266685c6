"""Payment processors behind a storefront (DESIGN.md §4): the storefront order a processor's charge
pays, and whether a charge's fee is already booked (at charge time, or by a payout that arrived
first), so it is booked exactly once."""

from __future__ import annotations

from commerce.documents import CanonicalProcessorCharge, PaymentDoc
from commerce.models import Order, Payment, PayoutLine
from core.money import quantize
from mappings.models import PostingRole
from posting.journals import order_entry
from posting.models import JournalEntry, JournalLine

PROCESSOR_CHARGE_PREFIX = "processor_charge:"
FEE_AT_CHARGE_SOURCES = ("stripe",)  # sales-channel orders whose fee the processor states at charge time


def processor_charge_key(charge_id: str) -> str:
    return f"{PROCESSOR_CHARGE_PREFIX}{charge_id}"


def payout_booked_fee(reference: str) -> bool:
    """True when a posted payout already booked the fee of the charge `reference` (the payout
    arrived first): the charge must not book it again."""
    for line in PayoutLine.objects.filter(type=PayoutLine.Type.CHARGE, reference=reference).select_related("payout"):
        payout = line.payout
        key = f"payout:{payout.pk}:v{payout.source_version}"
        if line.fee and JournalEntry.objects.filter(source_key=key).exists():
            return True
    return False


def fees_at_charge(order: Order) -> bool:
    """A sales-channel charge books its fee with the sale, unless a payout already booked it."""
    if order.source not in FEE_AT_CHARGE_SOURCES:
        return False
    payments = [payment for payment in order.payments.all() if payment.fee]
    return bool(payments) and not any(payout_booked_fee(payment.external_id) for payment in payments)


def fees_booked_at_charge(*, references: list[str]) -> frozenset[str]:
    """Of the charge references, those whose fee is already booked at charge time: by a processor
    charge entry, or by the posted current version of a sales-channel order (its fee line)."""
    references = [reference for reference in references if reference]
    if not references:
        return frozenset()
    keys = {processor_charge_key(reference): reference for reference in references}
    booked = {
        keys[key]
        for key in JournalLine.objects.filter(
            entry__source_key__in=list(keys), role=PostingRole.MERCHANT_FEES
        ).values_list("entry__source_key", flat=True)
    }
    for order in Order.objects.filter(source__in=FEE_AT_CHARGE_SOURCES, external_id__in=references):
        entry = order_entry(order)
        if entry is not None and entry.lines.filter(role=PostingRole.MERCHANT_FEES).exists():
            booked.add(order.external_id)
    return frozenset(booked)


def processor_charge_order(*, charge: CanonicalProcessorCharge) -> tuple[Order, PaymentDoc | None] | None:
    """The storefront order a processor charge pays: the order whose payment keeps the charge or
    payment intent id (WooCommerce's `transaction_id`, a gateway's transaction reference), else the
    one order the charge's metadata names. Orders of the processor's own connection never count."""
    payment = (
        Payment.objects.filter(external_id__in=charge.references, is_gift_card=False)
        .exclude(order__source=charge.gateway)
        .select_related("order")
        .order_by("pk")
        .first()
    )
    order = payment.order if payment is not None else None
    if order is None and charge.order_references:
        orders = list(Order.objects.filter(external_id__in=charge.order_references).exclude(source=charge.gateway)[:2])
        order = orders[0] if len(orders) == 1 else None
    if order is None:
        return None
    if payment is None:
        candidates = [p for p in order.payments.order_by("position") if not p.is_gift_card]
        payment = next((p for p in candidates if charge.gateway in p.gateway.lower()), None) or next(
            iter(candidates), None
        )
    doc = None
    if payment is not None:
        doc = PaymentDoc(
            external_id=payment.external_id,
            gateway=payment.gateway,
            amount=quantize(payment.amount, order.currency),
            method=payment.method,
        )
    return order, doc
