"""The drift check: read back the live offers of acknowledged deployments, a few at a time, and
raise an exception when a channel no longer shows the approved version (someone edited the
discount in the channel's admin, deleted it, or the channel changed it). One occurrence per
deployment (triage groups by kind, cause and object), bumped while the drift lasts and resolved
when a later check or the retry finds the offer matching again."""

from __future__ import annotations

import datetime as dt

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.vendors.base import ChannelAck
from promotions.accuracy import offer_record
from promotions.deployment import connection_adapter, deployment_send, promotion_spec
from promotions.models import ChannelDeployment, Promotion
from triage.models import Kind as TriageKind
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

DRIFT_RETRY_ACTION = "promotions.offer_republish"
DRIFT_CAUSE = "offer_drift"
D = ChannelDeployment.State


def drift_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the least recently checked live offer is next due a read-back; None without live offers."""
    checked = (
        ChannelDeployment.objects.filter(
            state=D.ACKNOWLEDGED,
            promotion__status__in=(Promotion.Status.LIVE, Promotion.Status.PARTIALLY_LIVE),
            promotion__published_version=F("version"),
        )
        .exclude(external_id="")
        .order_by(F("offer_checked_at").asc(nulls_first=True))
        .values_list("offer_checked_at", flat=True)[:1]
    )
    if not checked:
        return None
    last = checked[0]
    return now if last is None else last + dt.timedelta(minutes=settings.PROMOTIONS_DRIFT_CHECK_MINUTES)


def deployments_due_for_drift_check(*, now: dt.datetime, limit: int) -> list[ChannelDeployment]:
    """Acknowledged deployments of the published version of live promotions not read back within
    PROMOTIONS_DRIFT_CHECK_MINUTES, least recently checked first."""
    stale = now - dt.timedelta(minutes=settings.PROMOTIONS_DRIFT_CHECK_MINUTES)
    rows = ChannelDeployment.objects.filter(
        state=D.ACKNOWLEDGED,
        promotion__status__in=(Promotion.Status.LIVE, Promotion.Status.PARTIALLY_LIVE),
        promotion__published_version=F("version"),
    ).filter(Q(offer_checked_at__isnull=True) | Q(offer_checked_at__lt=stale))
    rows = rows.exclude(external_id="").select_related("version", "version__promotion", "connection")
    return list(rows.order_by("offer_checked_at", "pk")[:limit])


def _drift_problems(deployment: ChannelDeployment, ack: ChannelAck, now: dt.datetime) -> list[str]:
    """What the read-back shows differently, kept on the deployment (empty: it matches or has no terms)."""
    expected = deployment.version.number
    if ack.state == "active" and ack.version == expected:
        return offer_record(deployment=deployment, ack=ack, spec=promotion_spec(deployment.version), at=now) or []
    shown = "nothing" if ack.state == "absent" else f"version {ack.version} ({ack.state})"
    problems = [f"the channel holds {shown} instead of version {expected}"]
    deployment.offer_matches, deployment.offer_checked_at, deployment.offer_differences = False, now, problems
    return problems


@transaction.atomic
def offer_drift_record(*, deployment_id: int, ack: ChannelAck, now: dt.datetime | None = None) -> list[str]:
    """Record one read-back of a live deployment; raise or resolve its drift exception. Returns the
    differences found (empty: the channel shows the approved version)."""
    now = now or timezone.now()
    deployment = (
        ChannelDeployment.objects.select_for_update(of=("self",))
        .select_related("version", "version__promotion", "connection")
        .get(pk=deployment_id)
    )
    problems = _drift_problems(deployment, ack, now)
    deployment.save(update_fields=["offer_matches", "offer_checked_at", "offer_differences", "updated_at"])
    if not problems:
        exception_resolve_for_object(obj=deployment, reason="The channel shows the approved version again.")
        return []
    promotion = deployment.version.promotion
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause=DRIFT_CAUSE,
        obj=deployment,
        title=f"{promotion.key}: {deployment.connection.name} no longer shows the approved version",
        detail="; ".join(problems),
        context={
            "promotion_id": promotion.pk,
            "version": deployment.version.number,
            "channel": deployment.connection.name,
            "differences": problems,
            "actions": {"retry": "Publish the approved version to this channel again."},
        },
        retry=RetryAction(DRIFT_RETRY_ACTION, {"deployment_id": deployment.pk}),
        object_label=f"{promotion.key} v{deployment.version.number} on {deployment.connection.name}"[:200],
        object_url=f"/promotions/{promotion.pk}/",
    )
    return problems


def offers_drift_check(*, limit: int = 20, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job's body: read back up to `limit` due deployments (network outside any
    transaction), then record each. A channel that cannot be read is left for the next run."""
    now = now or timezone.now()
    counts = {"checked": 0, "drifted": 0, "unreadable": 0}
    for deployment in deployments_due_for_drift_check(now=now, limit=limit):
        try:
            ack = connection_adapter(deployment.connection).read_back(deployment.connection, deployment.external_id)
        except Exception as error:  # a channel that cannot answer now is a connectors problem, retried later
            log.warning("promotions.drift_read_back_failed", deployment=deployment.pk, error=str(error))
            counts["unreadable"] += 1
            continue
        counts["checked"] += 1
        counts["drifted"] += bool(offer_drift_record(deployment_id=deployment.pk, ack=ack, now=now))
    return counts


def offer_republish(*, deployment_id: int) -> None:
    """The drift exception's retry: publish the approved version to the channel again. Raises
    while the channel still does not show it, so the occurrence stays open with the reason."""
    deployment = deployment_send(deployment_id=deployment_id)
    if deployment is None:
        return
    if deployment.state == D.ACKNOWLEDGED and deployment.offer_matches is not False:
        exception_resolve_for_object(obj=deployment, reason="Published again; the channel shows the approved version.")
        return
    raise RuntimeError(deployment.last_error or f"The channel reports the deployment {deployment.state}.")
