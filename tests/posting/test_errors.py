import pytest
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.services import standard_chart_apply
from posting.builders import Problem
from posting.errors import problem_fields
from posting.retry import RETRY_ACTIONS, StillRefused
from posting.services import PostingStatus
from tests.commerce.factories import shopify_order
from triage.models import Exception as TriageException
from triage.retry import RetryAction
from triage.services import exception_raise


def test_problem_lands_in_triage_with_kind_cause_context_and_retry(world):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        problem = Problem("unmapped", "No account.", role="revenue", conditions=(("channel", "web"),))
        raised = exception_raise(
            **problem_fields(problem),
            obj=order,
            title="Order 1001 could not be posted",
            retry=RetryAction("posting.order", {"order_id": order.pk}),
        )
        exception = TriageException.objects.get(pk=raised.pk)
        occurrence = exception.occurrences.get()
    assert (exception.kind, exception.cause, exception.severity, exception.retry_name) == (
        "mapping",
        "unmapped",
        "normal",
        "posting.order",
    )
    assert exception.context == {"role": "revenue", "conditions": {"channel": "web"}}
    assert exception.tags == ["posting", "unmapped"]
    assert (occurrence.object_id, occurrence.retry_args) == (str(order.pk), {"order_id": order.pk})


def test_retry_action_raises_while_refused_then_posts_once_mapped(world):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        with pytest.raises(StillRefused, match="revenue"):
            RETRY_ACTIONS["posting.order"](order_id=order.pk)
        standard_chart_apply()
        assert RETRY_ACTIONS["posting.order"](order_id=order.pk).status == PostingStatus.POSTED
        assert RETRY_ACTIONS["posting.order"](order_id=order.pk).status == PostingStatus.ALREADY_POSTED


def test_posting_after_a_mapping_fix_resolves_the_orders_exception(world):
    from posting.services import journal_post_order

    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        assert journal_post_order(order=order).status == PostingStatus.REFUSED
        exception = TriageException.objects.get(kind="mapping", cause="unmapped")
        assert exception.status == "open"
        standard_chart_apply()
        assert journal_post_order(order=order).status == PostingStatus.POSTED
        exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolution_reason.startswith("Posted as journal entry")
