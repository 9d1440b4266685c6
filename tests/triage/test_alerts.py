import pytest
from django_tenants.utils import tenant_context

from tenants.models import WebhookSubscription
from tests.triage.conftest import probe, raise_exception
from triage import alerts
from triage.partner.models import AlertRule


@pytest.fixture
def _quiet_webhooks(monkeypatch):
    sent = []
    monkeypatch.setattr(alerts, "webhook_event_emit", lambda **kwargs: sent.append(kwargs))
    return sent


def test_count_over_storm_sends_one_message_per_group(world, mailoutbox, alert_keys_reset, _quiet_webhooks):
    AlertRule.objects.create(
        partner=world.northwind,
        tenant=world.acme,
        name="Storm",
        trigger="count_over",
        threshold=3,
        window_minutes=10,
        emails=["oncall@northwind.test"],
        webhook=True,
    )
    sent = []
    with tenant_context(world.acme):
        for n in range(50):
            exception = raise_exception(probe(f"order{n}"), cause="unmapped")
            sent.append(alerts.alerts_evaluate(exception_id=exception.pk, trigger="raised"))
    # Below N nothing goes out; the fourth occurrence crosses it; the rest of the storm is de-duplicated.
    assert sent == [0, 0, 0, 1] + [0] * 46
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["oncall@northwind.test"], "[Northwind Commerce Partners] Storm: unmapped on order3")
    ]
    assert [call["event"] for call in _quiet_webhooks] == ["exception.alert"]


def test_partner_wide_rule_covers_every_tenant_but_not_other_partners(
    world, mailoutbox, alert_keys_reset, _quiet_webhooks
):
    AlertRule.objects.create(
        partner=world.northwind, name="Critical", trigger="critical", emails=["oncall@northwind.test"], webhook=False
    )
    results = {}
    for tenant in (world.acme, world.bluebird, world.cedar):
        with tenant_context(tenant):
            exception = raise_exception(probe("order"), severity="critical", kind="sync", cause="auth")
            results[tenant.slug] = alerts.alerts_evaluate(exception_id=exception.pk, trigger="new_group")
    assert results == {"acme": 1, "bluebird": 1, "cedar": 0}
    assert len(mailoutbox) == 2
    assert WebhookSubscription.objects.filter(partner=world.northwind).count() == 0


def test_inactive_rules_send_nothing(world, mailoutbox, alert_keys_reset, _quiet_webhooks):
    AlertRule.objects.create(
        partner=world.northwind, name="Off", trigger="new_group", emails=["oncall@northwind.test"], active=False
    )
    with tenant_context(world.acme):
        exception = raise_exception(probe("order"))
        assert alerts.alerts_evaluate(exception_id=exception.pk, trigger="new_group") == 0
    assert mailoutbox == []
