from django_tenants.utils import tenant_context

from commerce.models import OrderLine, RefundLine
from commerce.selectors import quantity_per_order_line
from commerce.services import order_upsert, refund_upsert
from tests.commerce.factories import refund, shopify_order


def test_quantity_per_order_line_sums_the_rows_on_each_line(world):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=7, document=shopify_order()).obj
        refund_upsert(source="shopify", connection_id=7, document=refund("R1", (("L1", 1), ("L2", 1))))
        refund_upsert(source="shopify", connection_id=7, document=refund("R2", (("L1", 1),)))
        lines = {line.external_id: line.pk for line in OrderLine.objects.filter(order=order)}
        refunded = quantity_per_order_line(rows=RefundLine.objects.filter(refund__order=order))
        assert refunded == {lines["L1"]: 2, lines["L2"]: 1}
        assert quantity_per_order_line(rows=RefundLine.objects.none()) == {}
