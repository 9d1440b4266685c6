"""Writes of canonical documents: idempotent on (source, connection, external id) and safe against
out-of-order delivery (an older source version than the stored one is ignored and logged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, Sum

from commerce.bulk import order_children_create
from commerce.documents import (
    COLLECTED_BY_MARKETPLACE,
    COLLECTED_BY_MERCHANT,
    DEFAULT_GATEWAY,
    FUNDING_MERCHANT,
    FUNDING_VENDOR,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    TaxLineDoc,
    row_values,
)
from commerce.inventory import reservations_held, reservations_sync
from commerce.models import Fulfilment, Order, OrderLine, Payout, PayoutLine, Refund, RefundLine, ShippingLine
from commerce.order_rows import line_discounts, order_fields, order_line_fields, shipping_rows
from commerce.upserts import UpsertOutcome, UpsertResult, document_fields, stale_result
from core.money import MoneyError, currency_check, quantize
from tenants.usage import usage_count

_METERED = {Order: "orders_ingested", Refund: "refunds_ingested"}

M = TypeVar("M", bound=models.Model)


def _amount(errors: dict[str, list[str]], field: str, value: Decimal, currency: str, *, signed: bool = False) -> None:
    if isinstance(value, float) or not isinstance(value, Decimal | int):
        errors.setdefault(field, []).append(f"{value!r} is not a Decimal amount.")
        return
    try:
        exact = quantize(value, currency) == value
    except MoneyError as error:
        errors.setdefault(field, []).append(str(error))
        return
    if not exact:
        errors.setdefault(field, []).append(f"{value} has more decimals than {currency} allows.")
    if not signed and value < 0:
        errors.setdefault(field, []).append(f"{value} must not be negative.")


def _currency(errors: dict[str, list[str]], field: str, currency: str) -> bool:
    try:
        currency_check(currency)
    except MoneyError as error:
        errors.setdefault(field, []).append(str(error))
        return False
    return True


def _taxes_validate(errors: dict, prefix: str, taxes: tuple[TaxLineDoc, ...], currency: str) -> None:
    for index, tax in enumerate(taxes):
        _amount(errors, f"{prefix}.taxes[{index}].amount", tax.amount, currency)
        if not tax.jurisdiction:
            errors.setdefault(f"{prefix}.taxes[{index}].jurisdiction", []).append("A tax line needs a jurisdiction.")
        if tax.collected_by not in (COLLECTED_BY_MERCHANT, COLLECTED_BY_MARKETPLACE):
            errors.setdefault(f"{prefix}.taxes[{index}].collected_by", []).append(
                f"{tax.collected_by!r} is not merchant or marketplace."
            )


def order_document_validate(document: CanonicalOrder) -> None:
    errors: dict[str, list[str]] = {}
    if not document.external_id:
        errors["external_id"] = ["An order needs an external id."]
    if not _currency(errors, "currency", document.currency):
        raise ValidationError(errors)
    currency = document.currency
    if not document.lines:
        errors["lines"] = ["An order needs at least one line."]
    line_ids = [line.external_id for line in document.lines]
    if len(set(line_ids)) != len(line_ids):
        errors.setdefault("lines", []).append("Line external ids must be unique within the order.")
    gross_by_line: dict[str, Decimal] = {}
    for index, line in enumerate(document.lines):
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            errors.setdefault(f"lines[{index}].quantity", []).append(f"{line.quantity!r} must be a positive integer.")
        _amount(errors, f"lines[{index}].unit_price", line.unit_price, currency)
        _taxes_validate(errors, f"lines[{index}]", line.taxes, currency)
        for number, allocation in enumerate(line.discount_allocations):
            field = f"lines[{index}].discount_allocations[{number}]"
            pair = isinstance(allocation, tuple | list) and len(allocation) == 2
            position, amount = allocation if pair else (None, None)
            if (
                not isinstance(position, int)
                or not 0 <= position < len(document.discounts)
                or document.discounts[position].line_external_id is not None
            ):
                errors.setdefault(field, []).append(f"{position!r} is not the index of an order-level discount.")
            _amount(errors, f"{field}.amount", amount, currency)
        if isinstance(line.quantity, int) and line.quantity > 0 and isinstance(line.unit_price, Decimal):
            gross_by_line[line.external_id] = line.gross
    for index, discount in enumerate(document.discounts):
        _amount(errors, f"discounts[{index}].amount", discount.amount, currency)
        if discount.funding not in (FUNDING_MERCHANT, FUNDING_VENDOR):
            errors.setdefault(f"discounts[{index}].funding", []).append(
                f"{discount.funding!r} is not merchant or vendor."
            )
        if discount.line_external_id is not None and discount.line_external_id not in gross_by_line:
            errors.setdefault(f"discounts[{index}].line_external_id", []).append(
                f"No line {discount.line_external_id!r} in this order."
            )
    line_discounts: dict[str, Decimal] = {}
    for discount in document.discounts:
        if discount.line_external_id in gross_by_line and isinstance(discount.amount, Decimal):
            line_discounts[discount.line_external_id] = (
                line_discounts.get(discount.line_external_id, 0) + discount.amount
            )
    for line_id, discounted in line_discounts.items():
        if discounted > gross_by_line[line_id]:
            errors.setdefault("discounts", []).append(f"Discounts on line {line_id!r} exceed its gross amount.")
    order_level = sum((d.amount for d in document.discounts if d.line_external_id is None), Decimal(0))
    if order_level > sum(gross_by_line.values(), Decimal(0)) - sum(line_discounts.values(), Decimal(0)):
        errors.setdefault("discounts", []).append("Order-level discounts exceed the discounted line total.")
    for index, shipping in enumerate(document.shipping_lines):
        _amount(errors, f"shipping_lines[{index}].amount", shipping.amount, currency)
        _taxes_validate(errors, f"shipping_lines[{index}]", shipping.taxes, currency)
    for index, payment in enumerate(document.payments):
        _amount(errors, f"payments[{index}].amount", payment.amount, currency)
        _amount(errors, f"payments[{index}].fee", payment.fee, currency)
        if not payment.gateway:
            errors.setdefault(f"payments[{index}].gateway", []).append("A payment needs a gateway.")
    for index, fulfilment in enumerate(document.fulfilments):
        for line_id, quantity in fulfilment.lines:
            if line_id not in gross_by_line:
                errors.setdefault(f"fulfilments[{index}].lines", []).append(f"No line {line_id!r} in this order.")
            elif quantity <= 0:
                errors.setdefault(f"fulfilments[{index}].lines", []).append(f"{quantity!r} must be positive.")
    if document.presentment_currency:
        _currency(errors, "presentment_currency", document.presentment_currency)
    if document.vendor_total is not None:
        _amount(errors, "vendor_total", document.vendor_total, currency)
    if errors:
        raise ValidationError(errors)


def _order_children_clear(order: Order, document: CanonicalOrder) -> None:
    """Remove what the new version replaces; lines it keeps stay (refund lines point at them)."""
    kept = {line.external_id for line in document.lines}
    try:
        order.lines.exclude(external_id__in=kept).delete()
    except ProtectedError as error:
        raise ValidationError({"lines": ["A refunded line cannot be removed from the order."]}) from error
    order.tax_lines.all().delete()
    order.discounts.all().delete()
    order.shipping_lines.all().delete()
    order.payments.all().delete()


def _order_lines_write(order: Order, document: CanonicalOrder) -> list[OrderLine]:
    """The new version's lines, in document order; a line it keeps is updated in place (refund
    lines point at it)."""
    discounts = line_discounts(document)
    return [
        OrderLine.objects.update_or_create(
            order=order, external_id=doc.external_id, defaults=order_line_fields(position, doc, discounts)
        )[0]
        for position, doc in enumerate(document.lines)
    ]


def _order_children_write(order: Order, document: CanonicalOrder) -> None:
    _order_children_clear(order, document)
    lines = _order_lines_write(order, document)
    shipping = ShippingLine.objects.bulk_create(shipping_rows(order, document))
    document = _channel_fulfilments_clear(order, document)
    order_children_create([order], [document], [lines], [shipping])


def _channel_fulfilments_clear(order: Order, document: CanonicalOrder) -> CanonicalOrder:
    """Remove the channel's own fulfilments, which the new version rewrites. Warehouse ones are
    ours (pushed to the channel) and stay; the document is returned without the channel's echo of
    one we pushed, so it is not stored twice."""
    order.fulfilments.filter(origin=Fulfilment.Origin.CHANNEL).delete()
    pushed = set(
        order.fulfilments.filter(origin=Fulfilment.Origin.WAREHOUSE)
        .exclude(channel_reference="")
        .values_list("channel_reference", flat=True)
    )
    return replace(document, fulfilments=tuple(doc for doc in document.fulfilments if doc.external_id not in pushed))


# Discounts from a published promotion take its version's funding. Promotions sit above commerce, so
# they register their matcher (promotions.funding.discounts_funded) from PromotionsConfig.ready():
# a callback registered from above, never an import of promotions here.
DiscountFunder = Callable[..., tuple[DiscountDoc, ...]]
_DISCOUNT_FUNDERS: list[DiscountFunder] = []


def discount_funder_register(funder: DiscountFunder) -> None:
    """Register `funder(discounts, *, currency, at) -> discounts`, applied to every order upserted."""
    if funder not in _DISCOUNT_FUNDERS:
        _DISCOUNT_FUNDERS.append(funder)


def _promotion_funding(document: CanonicalOrder) -> CanonicalOrder:
    funded = document.discounts
    for funder in _DISCOUNT_FUNDERS:
        funded = funder(funded, currency=document.currency, at=document.placed_at)
    return document if funded == document.discounts else replace(document, discounts=funded)


def _stored(model: type[M], *, source: str, connection_id: int | None, external_id: str, lock: bool = True) -> M | None:
    """The stored document of this source and connection, locked for the upsert unless `lock` is False."""
    rows = model.objects.select_for_update() if lock else model.objects.all()
    return rows.filter(source=source, source_connection_id=connection_id, external_id=external_id).first()


def _written(existing: M | None, obj: M) -> UpsertResult[M]:
    return UpsertResult(UpsertOutcome.CREATED if existing is None else UpsertOutcome.UPDATED, obj)


def _document_save(
    model: type[M],
    existing: M | None,
    *,
    source: str,
    connection_id: int | None,
    document: CanonicalOrder | CanonicalRefund | CanonicalPayout,
    fields: dict,
) -> M:
    """Create the stored document, or overwrite the existing one's fields with the new version's:
    `fields` and what every document has (its version, raw event and currency).
    A first version is metered for billing in the same transaction (a new version is not)."""
    fields = {**document_fields(document), **fields}
    if existing is None:
        created = model.objects.create(
            source=source, source_connection_id=connection_id, external_id=document.external_id, **fields
        )
        if model in _METERED:
            usage_count(metric=_METERED[model])
        return created
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save()
    return existing


def _labels_defaulted(document: CanonicalOrder) -> CanonicalOrder:
    """A payment the vendor names no gateway for (a blank label) takes the default clearing
    gateway: a missing label maps to a default role, it never dead-letters a paid order."""
    if all(isinstance(p.gateway, str) and p.gateway.strip() for p in document.payments):
        return document
    payments = tuple(
        p if isinstance(p.gateway, str) and p.gateway.strip() else replace(p, gateway=DEFAULT_GATEWAY)
        for p in document.payments
    )
    return replace(document, payments=payments)


def order_document_prepare(document: CanonicalOrder) -> CanonicalOrder:
    """The document as it is stored: default gateway labels, validated (ValidationError), funded by
    the published promotions. Shared by `order_upsert` and the batched writes (commerce.bulk)."""
    document = _labels_defaulted(document)
    order_document_validate(document)
    return _promotion_funding(document)


@transaction.atomic
def order_upsert(*, source: str, connection_id: int | None, document: CanonicalOrder) -> UpsertResult[Order]:
    document = order_document_prepare(document)
    existing = _stored(Order, source=source, connection_id=connection_id, external_id=document.external_id)
    stale = stale_result(existing, document.source_version, "order", document.external_id)
    if stale is not None:
        return stale
    if existing is not None and existing.currency != document.currency:
        raise ValidationError({"currency": [f"The order is in {existing.currency}, not {document.currency}."]})
    held = reservations_held(order=existing) if existing is not None else set()
    order = _document_save(
        Order, existing, source=source, connection_id=connection_id, document=document, fields=order_fields(document)
    )
    _order_children_write(order, document)
    reservations_sync(order=order, previously_held=held)
    return _written(existing, order)


@transaction.atomic
def refund_upsert(*, source: str, connection_id: int | None, document: CanonicalRefund) -> UpsertResult[Refund]:
    errors: dict[str, list[str]] = {}
    if not _currency(errors, "currency", document.currency):
        raise ValidationError(errors)
    order = _stored(Order, source=source, connection_id=connection_id, external_id=document.order_external_id)
    if order is None:
        raise ValidationError({"order_external_id": [f"No order {document.order_external_id!r} from this source."]})
    existing = _stored(Refund, source=source, connection_id=connection_id, external_id=document.external_id, lock=False)
    stale = stale_result(existing, document.source_version, "refund", document.external_id)
    if stale is not None:
        return stale
    if document.currency != order.currency:
        errors["currency"] = [f"The refund is in {document.currency} but the order is in {order.currency}."]
    _amount(errors, "shipping", document.shipping, document.currency)
    if document.amount is not None:
        _amount(errors, "amount", document.amount, document.currency)
    lines = {line.external_id: line for line in order.lines.all()}
    other_refunds = RefundLine.objects.filter(refund__order=order)
    if existing is not None:
        other_refunds = other_refunds.exclude(refund=existing)
    refunded = dict(
        other_refunds.values("order_line__external_id")
        .annotate(quantity=Sum("quantity"))
        .values_list("order_line__external_id", "quantity")
    )
    for index, line in enumerate(document.lines):
        field = f"lines[{index}].quantity"
        if line.line_external_id not in lines:
            errors.setdefault(f"lines[{index}].line_external_id", []).append(
                f"No line {line.line_external_id!r} in order {order.external_id}."
            )
        elif not isinstance(line.quantity, int) or line.quantity <= 0:
            errors.setdefault(field, []).append(f"{line.quantity!r} must be a positive integer.")
        else:
            left = lines[line.line_external_id].quantity - refunded.get(line.line_external_id, 0)
            if line.quantity > left:
                errors.setdefault(field, []).append(
                    f"Refunding {line.quantity} of line {line.line_external_id!r} but only {left} left to refund."
                )
    shipping_total = sum((s.amount for s in order.shipping_lines.all()), Decimal(0))
    shipping_refunded = sum((r.shipping for r in order.refunds.exclude(pk=getattr(existing, "pk", None))), Decimal(0))
    if isinstance(document.shipping, Decimal) and document.shipping > shipping_total - shipping_refunded:
        errors.setdefault("shipping", []).append(
            f"Refunding {document.shipping} of shipping but only {shipping_total - shipping_refunded} left to refund."
        )
    if errors:
        raise ValidationError(errors)
    fields = {
        "order": order,
        "processed_at": document.processed_at,
        "shipping": document.shipping,
        "gateway": document.gateway,
        "is_gift_card": document.is_gift_card,
        "amount": document.amount,
        "reason": document.reason,
    }
    refund = _document_save(
        Refund, existing, source=source, connection_id=connection_id, document=document, fields=fields
    )
    if existing is not None:
        refund.lines.all().delete()
    RefundLine.objects.bulk_create(
        RefundLine(refund=refund, order_line=lines[doc.line_external_id], quantity=doc.quantity, restock=doc.restock)
        for doc in document.lines
    )
    reservations_sync(order=order)
    return _written(existing, refund)


@transaction.atomic
def payout_upsert(*, source: str, connection_id: int | None, document: CanonicalPayout) -> UpsertResult[Payout]:
    errors: dict[str, list[str]] = {}
    if not _currency(errors, "currency", document.currency):
        raise ValidationError(errors)
    existing = _stored(Payout, source=source, connection_id=connection_id, external_id=document.external_id)
    stale = stale_result(existing, document.source_version, "payout", document.external_id)
    if stale is not None:
        return stale
    if existing is not None and existing.currency != document.currency:
        errors["currency"] = [f"The payout is in {existing.currency}, not {document.currency}."]
    if not document.gateway:
        errors["gateway"] = ["A payout needs a gateway."]
    _amount(errors, "amount", document.amount, document.currency, signed=True)
    for index, line in enumerate(document.lines):
        if line.type not in PayoutLine.Type.values:
            errors.setdefault(f"lines[{index}].type", []).append(f"{line.type!r} is not a payout line type.")
        _amount(errors, f"lines[{index}].amount", line.amount, document.currency, signed=True)
        # Fees keep their sign: a negative fee is a refunded fee (DESIGN.md §4).
        _amount(errors, f"lines[{index}].fee", line.fee, document.currency, signed=True)
    if errors:
        raise ValidationError(errors)
    fields = {
        "gateway": document.gateway,
        "arrival_date": document.arrival_date,
        "amount": document.amount,
    }
    payout = _document_save(
        Payout, existing, source=source, connection_id=connection_id, document=document, fields=fields
    )
    if existing is not None:
        payout.lines.all().delete()
    PayoutLine.objects.bulk_create(
        PayoutLine(payout=payout, position=position, **row_values(doc)) for position, doc in enumerate(document.lines)
    )
    return _written(existing, payout)
