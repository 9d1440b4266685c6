"""Two people approving or publishing the same promotion at once, on two database connections:
the promotion row lock serialises them, so it is published once and approved once."""

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from promotions import deployment, lifecycle, tasks
from promotions.models import ChannelDeployment, Promotion, PromotionVersion
from tenants.models import AuditEvent, Membership
from tests.factories import MembershipFactory, UserFactory
from tests.promotions.conftest import approved, promotion, sales_channels
from tests.triage.test_services import _commit_after_the_other_connection_waits


@pytest.fixture
def committed(django_db_setup, django_db_blocker, channels, monkeypatch):
    from tests.conftest import _WORLD as world

    sent: list[int] = []
    monkeypatch.setattr(tasks.deployment_send_task, "delay", lambda deployment_id: sent.append(deployment_id))
    with django_db_blocker.unblock():
        with tenant_context(world.acme):
            try:
                yield world, sent
            finally:
                ChannelDeployment.objects.all().delete()
                Promotion.objects.update(current_version=None, published_version=None)
                PromotionVersion.objects.all().delete()
                Promotion.objects.all().delete()
                from connectors.models import Connection

                Connection.objects.all().delete()
        AuditEvent.objects.filter(target_type="promotions.promotion").delete()
        Membership.objects.filter(user__email="second-approver@northwind.test").delete()


def test_two_publishes_at_once_publish_once(committed):
    world, sent = committed
    promo = promotion(author=world.acme_admin, channels=sales_channels())
    approved(promo, author=world.acme_admin, approver=world.partner_admin)
    results = []
    errors = _commit_after_the_other_connection_waits(
        lambda: results.append(deployment.promotion_publish(promotion=promo, actor=world.partner_admin)),
        lambda: results.append(deployment.promotion_publish(promotion=promo, actor=world.acme_admin)),
    )
    assert errors == []
    assert ChannelDeployment.objects.count() == 3
    assert sorted(d.pk for d in results[0]) == sorted(d.pk for d in results[1])
    assert sorted(sent) == sorted(d.pk for d in results[0])
    assert AuditEvent.objects.filter(target_type="promotions.promotion", action="promotion.publish").count() == 1


def test_two_approvals_at_once_approve_once(committed):
    world, _sent = committed
    second = UserFactory(email="second-approver@northwind.test")
    MembershipFactory(user=second, partner=world.northwind, role=Membership.Role.PARTNER_OPERATOR)
    promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
    lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
    lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
    errors = _commit_after_the_other_connection_waits(
        lambda: lifecycle.promotion_approve(promotion=promo, actor=world.partner_admin),
        lambda: lifecycle.promotion_approve(promotion=promo, actor=second),
    )
    assert [type(error) for error in errors] == [ValidationError]
    assert "Only a submitted version can be approved; version 1 is approved." in str(errors[0])
    version = PromotionVersion.objects.get()
    assert version.approved_by_email == "admin@northwind.test"
    assert AuditEvent.objects.filter(target_type="promotions.promotion", action="promotion.approve").count() == 1
