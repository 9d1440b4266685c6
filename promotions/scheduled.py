"""Promotions waiting for their window start on a channel that cannot hold a start date (a
WooCommerce coupon has none): the publish saved a draft (`ChannelDeployment` paused with the
`scheduled` reason) and the periodic job `promotions.scheduled_go_live` makes it live once the
version's start has come. Start times are stored aware (entered in the tenant's zone), so the
comparison is the same instant wherever the beat runs."""

from __future__ import annotations

import datetime as dt

import structlog
from django.db import transaction
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from connectors.vendors.base import ChannelRejected
from promotions.deployment import (
    _fail,
    _failed_policy,
    connection_adapter,
    deployment_acknowledge,
    deployment_lock,
    promotion_settle,
)
from promotions.models import ChannelDeployment, Promotion

log = structlog.get_logger(__name__)

D = ChannelDeployment.State
SCHEDULED = ChannelDeployment.PauseReason.SCHEDULED


def deployments_scheduled() -> QuerySet[ChannelDeployment]:
    """The drafts waiting for their start: the published version's, of a promotion still running."""
    return ChannelDeployment.objects.filter(
        state=D.PAUSED, pause_reason=SCHEDULED, version_id=F("promotion__published_version_id")
    ).exclude(promotion__status__in=(Promotion.Status.EXPIRED, Promotion.Status.ROLLED_BACK))


def scheduled_next_start() -> dt.datetime | None:
    """When the earliest waiting draft starts (the periodic job's due time), None when none waits."""
    return deployments_scheduled().aggregate(first=Min("version__starts_at"))["first"]


def scheduled_go_live(*, now: dt.datetime | None = None) -> int:
    """The periodic job: make live every waiting draft whose start has come. How many went live."""
    now = now or timezone.now()
    due = deployments_scheduled().filter(version__starts_at__lte=now).order_by("pk")
    return sum(deployment_go_live(deployment_id=pk, now=now) for pk in due.values_list("pk", flat=True))


@transaction.atomic
def deployment_go_live(*, deployment_id: int, now: dt.datetime | None = None) -> bool:
    """Resume one waiting draft on its channel under the promotion's lock; a second call (or a
    row paused, rolled back or superseded meanwhile) does nothing. A channel that refuses, or
    still shows the promotion paused, fails the deployment: the channel-rejection exception."""
    now = now or timezone.now()
    promotion, deployment = deployment_lock(deployment_id=deployment_id)
    waiting = deployment.state == D.PAUSED and deployment.pause_reason == SCHEDULED
    if not waiting or deployment.version.starts_at > now or promotion.published_version_id != deployment.version_id:
        return False
    try:
        ack = connection_adapter(deployment.connection).resume(deployment.connection, deployment.external_id)
    except Exception as error:  # any channel failure is recorded on the deployment and triaged
        log.warning("promotions.go_live_failed", deployment=deployment.pk, error=str(error))
        _fail(deployment, error)
    else:
        if ack.state == "active":
            deployment.pause_reason, deployment.paused_at = "", None
            deployment_acknowledge(deployment=deployment, ack=ack, at=now)
        else:
            _fail(deployment, ChannelRejected(f"The channel still shows the promotion {ack.state} at its start."))
    promotion_settle(promotion=promotion, changed=True)
    _failed_policy(promotion, deployment)
    return deployment.state == D.ACKNOWLEDGED
