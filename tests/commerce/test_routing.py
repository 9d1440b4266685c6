import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from commerce.models import FulfilmentRequest, RoutingRule
from commerce.routing import order_route, orders_to_route, routing_rule_create
from tests.commerce.fulfilment_helpers import location, paid_order, rule
from triage.models import Exception as TriageException

LINES = (("L1", "TEE", 2), ("L2", "MUG", 1))


def _plan(result) -> list[tuple[str, list[tuple[str, int]]]]:
    return sorted(
        (request.location.external_id, [(line["sku"], line["quantity"]) for line in request.lines])
        for request in result.requests
    )


def test_one_location_with_everything_ships_it_all(world):
    with tenant_context(world.acme):
        east, west = location("east", {"TEE": 5}), location("west", {"TEE": 5, "MUG": 3})
        rule(east, priority=1)
        rule(west, priority=2)
        result = order_route(order=paid_order(lines=LINES))
        assert _plan(result) == [("west", [("TEE", 2), ("MUG", 1)])]
        assert result.requests[0].status == FulfilmentRequest.Status.WAITING


def test_priority_wins_when_both_locations_can_ship(world):
    with tenant_context(world.acme):
        east, west = location("east", {"TEE": 5, "MUG": 5}), location("west", {"TEE": 5, "MUG": 5})
        rule(west, priority=2)
        rule(east, priority=1)
        assert _plan(order_route(order=paid_order(lines=LINES))) == [("east", [("TEE", 2), ("MUG", 1)])]


def test_split_when_no_single_location_has_everything(world):
    with tenant_context(world.acme):
        east, west = location("east", {"TEE": 5}), location("west", {"MUG": 1})
        rule(east, priority=1)
        rule(west, priority=2)
        assert _plan(order_route(order=paid_order(lines=LINES))) == [
            ("east", [("TEE", 2)]),
            ("west", [("MUG", 1)]),
        ]


def test_destination_and_sku_conditions_choose_the_rule(world):
    with tenant_context(world.acme):
        eu, us = location("eu", {"TEE": 9, "MUG": 9}), location("us", {"TEE": 9, "MUG": 9})
        rule(eu, priority=1, countries=["DE", "FR"])
        rule(us, priority=2, countries="us", regions=["OR", "WA"], skus=["TEE", "MUG"])
        assert _plan(order_route(order=paid_order(lines=LINES))) == [("us", [("TEE", 2), ("MUG", 1)])]


def test_backorder_raises_an_exception_with_a_retry_and_makes_no_request(world):
    with tenant_context(world.acme):
        rule(location("east", {"TEE": 1}))
        order = paid_order(lines=LINES)
        result = order_route(order=order)
        assert (result.requests, result.backordered) == ([], {"MUG": 1, "TEE": 1})
        exception = TriageException.objects.get(cause="fulfilment_backorder")
        assert (exception.kind, exception.retry_name) == ("inventory", "fulfilment.route")
        assert exception.occurrences.get().retry_args == {"order_id": order.pk}
        assert FulfilmentRequest.objects.count() == 0
        assert orders_to_route() == []  # it waits for its retry, not for every minute's job


def test_no_rule_for_the_destination_is_an_exception(world):
    with tenant_context(world.acme):
        rule(location("eu", {"TEE": 9}), countries=["DE"])
        order_route(order=paid_order(lines=(("L1", "TEE", 1),)))
        assert TriageException.objects.get().cause == "fulfilment_no_route"


def test_routing_is_idempotent_and_off_without_rules(world):
    with tenant_context(world.acme):
        order = paid_order(lines=LINES)
        assert order_route(order=order).reason == "routing off"
        assert orders_to_route() == []
        rule(location("east", {"TEE": 9, "MUG": 9}))
        assert orders_to_route() == [order.pk]
        first = order_route(order=order).requests
        assert order_route(order=order).requests == first
        assert orders_to_route() == []


def test_rule_validation_names_the_field(world):
    with tenant_context(world.acme):
        place = location("east", {})
        with pytest.raises(ValidationError) as error:
            routing_rule_create(name=" ", location_id=place.pk, countries=["USA"])
        assert set(error.value.message_dict) == {"name", "countries"}
        assert RoutingRule.objects.count() == 0
