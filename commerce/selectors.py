"""Reads of the canonical model, including the way back from rows to canonical documents (what the
journal builders consume)."""

from __future__ import annotations

from collections import defaultdict

from commerce.documents import (
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    FulfilmentDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from commerce.models import Order, Payout, Refund
from posting.money import quantize


def order_document(*, order: Order) -> CanonicalOrder:
    currency = order.currency
    line_taxes: dict[int, list[TaxLineDoc]] = defaultdict(list)
    shipping_taxes: dict[int, list[TaxLineDoc]] = defaultdict(list)
    for tax in order.tax_lines.all():
        doc = TaxLineDoc(
            jurisdiction=tax.jurisdiction,
            rate=tax.rate,
            amount=quantize(tax.amount, currency),
            collected_by=tax.collected_by,
        )
        if tax.order_line_id is not None:
            line_taxes[tax.order_line_id].append(doc)
        else:
            shipping_taxes[tax.shipping_line_id].append(doc)
    lines = list(order.lines.all())
    external_by_pk = {line.pk: line.external_id for line in lines}
    return CanonicalOrder(
        external_id=order.external_id,
        source_version=order.source_version,
        currency=currency,
        placed_at=order.placed_at,
        paid_at=order.paid_at,
        fulfilled_at=order.fulfilled_at,
        cancelled_at=order.cancelled_at,
        channel=order.channel,
        store=order.store,
        customer_ref=order.customer_ref,
        taxes_included=order.taxes_included,
        presentment_currency=order.presentment_currency,
        presentment_amounts=order.presentment_amounts,
        vendor_total=quantize(order.vendor_total, currency) if order.vendor_total is not None else None,
        raw_event_id=order.raw_event_id,
        lines=tuple(
            OrderLineDoc(
                external_id=line.external_id,
                sku=line.sku,
                title=line.title,
                product_category=line.product_category,
                quantity=line.quantity,
                unit_price=quantize(line.unit_price, currency),
                taxes=tuple(line_taxes[line.pk]),
            )
            for line in lines
        ),
        discounts=tuple(
            DiscountDoc(
                amount=quantize(discount.amount, currency),
                code=discount.code,
                promotion_id=discount.promotion_id,
                funding=discount.funding,
                line_external_id=external_by_pk[discount.order_line_id] if discount.order_line_id else None,
            )
            for discount in order.discounts.all()
        ),
        shipping_lines=tuple(
            ShippingLineDoc(
                external_id=shipping.external_id,
                code=shipping.code,
                title=shipping.title,
                amount=quantize(shipping.amount, currency),
                taxes=tuple(shipping_taxes[shipping.pk]),
            )
            for shipping in order.shipping_lines.all()
        ),
        payments=tuple(
            PaymentDoc(
                external_id=payment.external_id,
                gateway=payment.gateway,
                method=payment.method,
                amount=quantize(payment.amount, currency),
                fee=quantize(payment.fee, currency),
                is_gift_card=payment.is_gift_card,
            )
            for payment in order.payments.all()
        ),
        fulfilments=tuple(
            FulfilmentDoc(
                external_id=fulfilment.external_id,
                fulfilled_at=fulfilment.fulfilled_at,
                location=fulfilment.location,
                lines=tuple((line.order_line.external_id, line.quantity) for line in fulfilment.lines.all()),
            )
            for fulfilment in order.fulfilments.all()
        ),
    )


def refund_document(*, refund: Refund) -> CanonicalRefund:
    currency = refund.currency
    return CanonicalRefund(
        external_id=refund.external_id,
        order_external_id=refund.order.external_id,
        source_version=refund.source_version,
        currency=currency,
        processed_at=refund.processed_at,
        shipping=quantize(refund.shipping, currency),
        gateway=refund.gateway,
        is_gift_card=refund.is_gift_card,
        amount=quantize(refund.amount, currency) if refund.amount is not None else None,
        reason=refund.reason,
        raw_event_id=refund.raw_event_id,
        lines=tuple(
            RefundLineDoc(line_external_id=line.order_line.external_id, quantity=line.quantity, restock=line.restock)
            for line in refund.lines.select_related("order_line")
        ),
    )


def refunds_before(*, refund: Refund) -> list[Refund]:
    """The order's refunds processed before `refund` (ties by id), i.e. what a pro-rata reversal
    has already taken."""
    return [
        other
        for other in Refund.objects.filter(order_id=refund.order_id).order_by("processed_at", "pk")
        if (other.processed_at, other.pk) < (refund.processed_at, refund.pk)
    ]


def payout_document(*, payout: Payout) -> CanonicalPayout:
    currency = payout.currency
    return CanonicalPayout(
        external_id=payout.external_id,
        source_version=payout.source_version,
        currency=currency,
        arrival_date=payout.arrival_date,
        amount=quantize(payout.amount, currency),
        gateway=payout.gateway,
        raw_event_id=payout.raw_event_id,
        lines=tuple(
            PayoutLineDoc(
                type=line.type,
                amount=quantize(line.amount, currency),
                fee=quantize(line.fee, currency),
                reference=line.reference,
                external_id=line.external_id,
                description=line.description,
            )
            for line in payout.lines.all()
        ),
    )
