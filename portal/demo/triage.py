"""A realistic spread of exceptions for a demo tenant (seed_demo), raised through the one service.

Idempotent: a (kind, cause) group that already exists is left alone, and the demo orders are
upserted by external id, so running seed_demo twice changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from commerce.documents import CanonicalOrder, OrderLineDoc
from commerce.models import Order
from commerce.services import order_upsert
from tenants.models import User
from triage import services
from triage.models import Exception as TriageException
from triage.retry import RetryAction


@dataclass(frozen=True)
class DemoProblem:
    kind: str
    cause: str
    severity: str
    title: str
    detail: str
    orders: int = 0  # how many demo orders fail on it (0: no linked order)
    object_label: str = ""
    retry: str = ""
    payload: dict | None = None
    context: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    then: str = ""  # "assign", "comment", "snooze", "resolve" or ""


PROBLEMS = [
    DemoProblem(
        "mapping",
        "unmapped",
        "normal",
        "No revenue account for product category “Gift wrap”",
        "No account rule matches role revenue with product_category=Gift wrap.",
        orders=6,
        retry="posting.order",
        context={"role": "revenue", "conditions": {"product_category": "Gift wrap"}},
        tags=("posting", "unmapped"),
        then="assign",
    ),
    DemoProblem(
        "erp_push",
        "period_closed",
        "high",
        "ERP refused the journal: period 2026-02 is closed",
        "The ledger answered 409 period_closed for posting date 2026-02-28.",
        orders=2,
        retry="posting.order",
        tags=("erp",),
        then="comment",
    ),
    DemoProblem(
        "sync",
        "auth_failed",
        "critical",
        "Shopify rejected the access token",
        "401 Unauthorized from /admin/api/2025-01/orders.json: the app was uninstalled or the token revoked.",
        object_label="Shopify connection",
        tags=("shopify",),
    ),
    DemoProblem(
        "normalise",
        "totals_mismatch",
        "normal",
        "Order total does not add up to its lines",
        "Vendor total 120.00 but the lines, shipping and tax sum to 119.99; line amounts were trusted.",
        orders=1,
        payload={"id": 5001, "total_price": "120.00", "subtotal_price": "99.99", "total_tax": "20.00"},
        tags=("shopify", "totals"),
    ),
    DemoProblem(
        "reconciliation",
        "payout_difference",
        "normal",
        "Payout po_1PZ does not reconcile",
        "Bank net 1,204.18 vs expected 1,206.68: one fee of 2.50 has no matching charge.",
        object_label="Payout po_1PZ (2026-03-13)",
        then="snooze",
    ),
    DemoProblem(
        "webhook",
        "bad_signature",
        "low",
        "Webhook with an invalid HMAC signature was refused",
        "X-Shopify-Hmac-Sha256 did not match; the event was stored and not processed.",
        object_label="Inbound event 88121",
        tags=("shopify", "security"),
        then="resolve",
    ),
    DemoProblem(
        "promotion_deployment",
        "channel_rejected",
        "high",
        "Amazon rejected the “Spring 20” promotion",
        "Amazon: discount exceeds the maximum 80% for the category.",
        object_label="Promotion Spring 20 → Amazon",
    ),
    DemoProblem(
        "inventory",
        "negative_available",
        "low",
        "Available-to-sell went negative for SKU TEE-RED-M",
        "Reservations (5) exceed on hand (3) at location Main warehouse.",
        object_label="SKU TEE-RED-M @ Main warehouse",
        tags=("inventory",),
    ),
]


def _demo_order(number: int, currency: str) -> Order:
    placed = timezone.now().replace(microsecond=0) - dt.timedelta(hours=number)
    document = CanonicalOrder(
        external_id=f"DEMO-{1000 + number}",
        source_version=1,
        currency=currency,
        placed_at=placed,
        paid_at=placed,
        channel="web",
        lines=(
            OrderLineDoc(
                external_id=f"DEMO-{1000 + number}-1",
                sku="WRAP-01",
                quantity=1,
                unit_price=Decimal("4.50"),
                product_category="Gift wrap",
                title="Gift wrap",
            ),
        ),
    )
    return order_upsert(source="demo-exceptions", connection_id=None, document=document).obj


def exceptions_demo_seed(*, currency: str, assignee: User) -> int:
    """Raise the demo problems in the current tenant schema; returns how many groups were added."""
    added = 0
    order_number = 0
    for problem in PROBLEMS:
        if TriageException.objects.filter(kind=problem.kind, cause=problem.cause).exists():
            order_number += problem.orders
            continue
        targets: list[Order | None] = []
        for _ in range(problem.orders):
            order_number += 1
            targets.append(_demo_order(order_number, currency))
        exception = None
        for obj in targets or [None]:
            exception = services.exception_raise(
                kind=problem.kind,
                cause=problem.cause,
                obj=obj,
                title=problem.title,
                detail=problem.detail,
                context=problem.context,
                severity=problem.severity,
                tags=problem.tags,
                retry=RetryAction(problem.retry, {"order_id": obj.pk}) if problem.retry and obj else None,
                payload=problem.payload,
                object_label=problem.object_label or None,
            )
        added += 1
        if problem.then == "assign":
            services.exception_assign(exception=exception, assignee=assignee, actor=assignee)
        elif problem.then == "comment":
            services.exception_comment(
                exception=exception,
                body="Asked the controller to reopen February for one day.",
                actor=assignee,
            )
        elif problem.then == "snooze":
            services.exception_snooze(exception=exception, until=timezone.now() + dt.timedelta(days=1), actor=assignee)
        elif problem.then == "resolve":
            services.exception_resolve(
                exception=exception, reason="Old app secret; rotated in the vendor console.", actor=assignee
            )
    return added
