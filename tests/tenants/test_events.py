"""The outbound event registry: every envelope carries its type's version, subscriptions accept the
registry's names, and docs/events.md is what `manage.py events_doc` generates from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from tenants import webhooks
from tenants.events import EVENT_TYPES, envelope_example, event_names, events_markdown

NEW_EVENTS = ("order.posted", "refund.posted", "payout.reconciled", "stock.low", "exception.raised")


def test_docs_events_md_is_generated_from_the_registry():
    committed = (Path(settings.BASE_DIR) / "docs" / "events.md").read_text()
    assert committed == events_markdown(), "run `manage.py events_doc` and commit docs/events.md"
    call_command("events_doc", "--check")
    for name in event_names():
        assert f"\n## {name}\n" in committed


def test_events_doc_check_fails_when_the_file_is_stale(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "events.md").write_text("# old\n")
    with pytest.raises(CommandError, match="out of date"):
        call_command("events_doc", "--check")
    call_command("events_doc")
    assert (tmp_path / "docs" / "events.md").read_text() == events_markdown()


def test_registry_names_every_subscribable_event_with_a_version_and_an_example():
    assert event_names() == webhooks.EVENTS
    assert set(NEW_EVENTS) <= set(EVENT_TYPES)
    for event_type in EVENT_TYPES.values():
        assert event_type.version >= 1 and event_type.description.endswith(".")
        example = envelope_example(event_type)
        assert (example["type"], example["version"]) == (event_type.name, event_type.version)
        assert ("tenant" in example["data"]) == (event_type.tenant or event_type.name == "tenant.created")


def test_every_envelope_carries_the_version_and_keeps_its_fields(world, monkeypatch):
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    webhooks.webhook_subscription_create(
        partner=world.northwind, url="https://93.184.216.34/h", events=["stock.low"], actor=None
    )
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="stock.low", payload={"sku": "A"})
    assert set(delivery.payload) == {"id", "type", "version", "created", "partner", "data"}
    assert (delivery.payload["type"], delivery.payload["version"], delivery.payload["data"]) == (
        "stock.low",
        1,
        {"sku": "A"},
    )


def test_subscriptions_accept_the_new_event_types_and_refuse_unknown_ones(world):
    subscription = webhooks.webhook_subscription_create(
        partner=world.northwind, url="https://93.184.216.34/h", events=list(NEW_EVENTS), actor=None
    )
    assert subscription.events == sorted(NEW_EVENTS)
    with pytest.raises(ValidationError):
        webhooks.webhook_subscription_create(
            partner=world.northwind, url="https://93.184.216.34/h", events=["order.shipped"], actor=None
        )
