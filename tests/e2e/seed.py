"""Data the browser journeys need beyond the committed world, made through the real services.
Each function runs inside the tenant's schema; call it through `committed(...)`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from unittest import mock

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order
from commerce.services import order_upsert
from connectors.models import Connection, InboundEvent
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from posting.erp.models import ErpPush
from posting.services import journal_post_order
from tenants.models import Tenant
from tests.commerce.factories import shopify_order
from triage.services import exception_raise

TRACE_ID = "5c1d7e0b9a4f4e2c8d3b6a7f0e1d2c3b"


@dataclass(frozen=True)
class Traced:
    order_id: int
    entry_id: int
    connection_id: int


def shopify_connection(tenant: Tenant) -> int:
    with tenant_context(tenant):
        return connection_create(
            vendor=Connection.Vendor.SHOPIFY,
            name="Juniper Shopify",
            config={"shop_domain": "juniper-outdoor.myshopify.com"},
            credentials={"access_token": "shpat_seeded_token_never_shown"},
        ).pk


def traced_order(tenant: Tenant) -> Traced:
    """Order 1001 from Shopify, all the way: webhook event with its trace id, canonical document, an
    exception raised and then resolved by posting under the standard chart, ERP acknowledgement."""
    connection_id = shopify_connection(tenant)
    with tenant_context(tenant):
        standard_chart_apply()
        event = InboundEvent.objects.create(
            connection_id=connection_id,
            topic="orders/create",
            external_id="1001",
            payload_hash="e2e-1001",
            body="{}",
            trace_id=TRACE_ID,
        )
        placed = timezone.now() - dt.timedelta(hours=2)
        document = replace(shopify_order(), placed_at=placed, paid_at=placed)
        order = order_upsert(source="shopify", connection_id=connection_id, document=document).obj
        Order.objects.filter(pk=order.pk).update(raw_event_id=event.pk)
        order.refresh_from_db()
        exception_raise(
            kind="mapping",
            cause="unmapped",
            obj=order,
            title="Order 1001 could not be posted",
            detail="No account rule matched role revenue.",
        )
        with mock.patch("posting.journals.erp_push_dispatch"):  # the seed records the ERP's answer itself
            entry = journal_post_order(order=order).entry
        ErpPush.objects.create(
            entry=entry,
            target_key="qbo",
            vendor="quickbooks",
            reference=f"TB-{entry.pk}",
            status=ErpPush.Status.ACKED,
            external_id="QB-4471",
            acked_at=timezone.now(),
        )
        return Traced(order_id=order.pk, entry_id=entry.pk, connection_id=connection_id)
