import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from promotions import deployment, lifecycle
from promotions.models import ChannelDeployment, Promotion
from tenants.models import AuditEvent, Membership
from tests.factories import MembershipFactory, UserFactory
from tests.promotions.conftest import approved, promotion, published, sales_channels, send_all

S = Promotion.Status
D = ChannelDeployment.State


def test_create_makes_a_draft_with_version_one_and_an_audit_row(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        version = promo.current_version
        assert (promo.status, version.number, version.currency, version.author_email) == (
            S.DRAFT,
            1,
            "USD",
            "finance@acme.test",
        )
        assert list(
            AuditEvent.objects.filter(target_id=str(promo.pk), tenant=world.acme).values_list("action", flat=True)
        ) == ["promotion.create"]


def test_naive_window_is_read_in_the_tenant_timezone(world, channels):
    with tenant_context(world.acme):
        promo = promotion(
            author=world.acme_admin,
            channels=sales_channels()[:1],
            starts_at=dt.datetime(2030, 7, 1, 9, 0),
            ends_at=dt.datetime(2030, 7, 2, 9, 0),
        )
        assert promo.current_version.starts_at == dt.datetime(2030, 7, 1, 13, 0, tzinfo=dt.UTC)


def test_invalid_window_is_refused_at_create(world, channels):
    with tenant_context(world.acme):
        now = timezone.now()
        with pytest.raises(ValidationError) as error:
            promotion(author=world.acme_admin, channels=[], starts_at=now, ends_at=now - dt.timedelta(hours=1))
        assert error.value.message_dict == {"ends_at": ["The window must end after it starts."]}


def test_an_erp_connection_is_not_a_sales_channel(world, channels):
    from tests.connectors.factories import ConnectionFactory

    with tenant_context(world.acme):
        erp = ConnectionFactory(vendor="xero", direction="erp", name="Books")
        with pytest.raises(ValidationError) as error:
            promotion(author=world.acme_admin, channels=[erp])
        assert "not a sales channel" in error.value.message_dict["channels"][0]


def test_edit_makes_a_new_version_and_keeps_the_submitted_one(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
        version = lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, value=Decimal("15"))
        promo.refresh_from_db()
        assert (version.number, version.value, promo.status) == (2, Decimal("15"), S.DRAFT)
        first = promo.versions.get(number=1)
        assert (first.value, first.submitted_at is not None) == (Decimal("10.0000"), True)
        assert list(version.channels.all()) == list(first.channels.all())


def test_legal_path_draft_to_live_with_audit_trail(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:2])
        statuses = [promo.status]
        assert lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)["ok"]
        promo.refresh_from_db()
        statuses.append(promo.status)
        statuses.append(lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin).status)
        statuses.append(lifecycle.promotion_approve(promotion=promo, actor=world.partner_admin).status)
        deployments = deployment.promotion_publish(promotion=promo, actor=world.partner_admin)
        promo.refresh_from_db()
        statuses.append(promo.status)
        assert [d.state for d in deployments] == [D.PENDING, D.PENDING]
        send_all(deployments)
        promo.refresh_from_db()
        statuses.append(promo.status)
        assert statuses == [S.DRAFT, S.VALIDATED, S.SUBMITTED, S.APPROVED, S.PUBLISHED, S.LIVE]
        assert [(d.state, d.acknowledged_version, d.attempts) for d in promo.deployments.order_by("pk")] == [
            (D.ACKNOWLEDGED, 1, 1),
            (D.ACKNOWLEDGED, 1, 1),
        ]
        assert channels["shopify"].active() == {
            promo.deployments.get(connection__vendor="shopify").external_id: (1, "active")
        }
        assert list(
            AuditEvent.objects.filter(target_id=str(promo.pk), tenant=world.acme)
            .order_by("pk")
            .values_list("action", "actor_label")
        ) == [
            ("promotion.create", "finance@acme.test"),
            ("promotion.validate", "finance@acme.test"),
            ("promotion.submit", "finance@acme.test"),
            ("promotion.approve", "admin@northwind.test"),
            ("promotion.publish", "admin@northwind.test"),
        ]


def test_rejected_then_edited_goes_round_again(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
        with pytest.raises(ValidationError):
            lifecycle.promotion_reject(promotion=promo, actor=world.partner_admin, reason=" ")
        assert (
            lifecycle.promotion_reject(promotion=promo, actor=world.partner_admin, reason="Margin").status == S.REJECTED
        )
        with pytest.raises(ValidationError):
            lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        with pytest.raises(ValidationError):
            lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
        lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, value=Decimal("5"))
        promo.refresh_from_db()
        assert promo.status == S.DRAFT
        approved(promo, author=world.acme_admin, approver=world.partner_admin)
        promo.refresh_from_db()
        assert (promo.status, promo.current_version.number) == (S.APPROVED, 2)


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        ([], "submit", "Only a validated version can be submitted; this version is draft."),
        ([], "approve", "Only a submitted version can be approved; version 1 is draft."),
        ([], "reject", "Only a submitted version can be rejected; version 1 is draft."),
        ([], "publish", "Only an approved version can be published; version 1 is draft."),
        (["validate"], "approve", "Only a submitted version can be approved; version 1 is validated."),
        (["validate", "submit"], "publish", "Only an approved version can be published; version 1 is submitted."),
        (["validate", "submit"], "validate", "Cannot validate a promotion that is submitted;"),
        ([], "pause", "Cannot pause a promotion that is draft;"),
        ([], "resume", "Cannot resume a promotion that is draft;"),
        ([], "rollback", "Cannot roll back a promotion that is draft;"),
        (["validate", "submit", "approve"], "pause", "Cannot pause a promotion that is approved;"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(world, channels, steps, action, message):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        calls = {
            "validate": lambda: lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin),
            "submit": lambda: lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin),
            "approve": lambda: lifecycle.promotion_approve(promotion=promo, actor=world.partner_admin),
            "reject": lambda: lifecycle.promotion_reject(promotion=promo, actor=world.partner_admin, reason="no"),
            "publish": lambda: deployment.promotion_publish(promotion=promo, actor=world.partner_admin),
            "pause": lambda: deployment.promotion_pause(promotion=promo, actor=world.partner_admin),
            "resume": lambda: deployment.promotion_resume(promotion=promo, actor=world.partner_admin),
            "rollback": lambda: deployment.promotion_rollback(promotion=promo, actor=world.partner_admin),
        }
        for step in steps:
            calls[step]()
        promo.refresh_from_db()
        before = promo.status
        with pytest.raises(ValidationError) as error:
            calls[action]()
        assert error.value.message_dict["status"][0].startswith(message)
        promo.refresh_from_db()
        assert promo.status == before
        assert ChannelDeployment.objects.count() == 0


def test_self_approval_is_refused(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
        with pytest.raises(PermissionDenied, match="another person must approve"):
            lifecycle.promotion_approve(promotion=promo, actor=world.acme_admin)
        with pytest.raises(PermissionDenied, match="another person must approve"):
            lifecycle.promotion_reject(promotion=promo, actor=world.acme_admin, reason="mine")
        promo.refresh_from_db()
        assert promo.status == S.SUBMITTED


def test_a_viewer_or_an_outsider_cannot_approve(world, channels):
    viewer = UserFactory(email="viewer@acme.test")
    MembershipFactory(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
        lifecycle.promotion_validate(promotion=promo, actor=world.acme_admin)
        lifecycle.promotion_submit(promotion=promo, actor=world.acme_admin)
        for person in (viewer, world.cedar_admin, None):
            with pytest.raises(PermissionDenied):
                lifecycle.promotion_approve(promotion=promo, actor=person)


def test_approve_and_publish_are_idempotent(world, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:2])
        approved(promo, author=world.acme_admin, approver=world.partner_admin)
        lifecycle.promotion_approve(promotion=promo, actor=world.partner_admin)
        first = deployment.promotion_publish(promotion=promo, actor=world.partner_admin)
        again = deployment.promotion_publish(promotion=promo, actor=world.partner_admin)
        assert sorted(d.pk for d in again) == sorted(d.pk for d in first)
        send_all(first)
        send_all(first)
        assert [c[0] for c in channels["shopify"].calls] == ["publish"]
        assert ChannelDeployment.objects.count() == 2


def test_expire_marks_only_promotions_past_their_window(world, channels):
    with tenant_context(world.acme):
        promo = published(
            promotion(author=world.acme_admin, channels=sales_channels()[:1]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
        assert lifecycle.promotions_expire_due() == 0
        later = promo.published_version.ends_at + dt.timedelta(minutes=1)
        assert lifecycle.promotions_expire_due(now=later) == 1
        promo.refresh_from_db()
        assert promo.status == S.EXPIRED
        assert lifecycle.promotions_expire_due(now=later) == 0
        with pytest.raises(ValidationError):
            lifecycle.promotion_edit(promotion=promo, actor=world.acme_admin, value=Decimal("1"))
