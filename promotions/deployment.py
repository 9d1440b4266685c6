"""Publishing a promotion and the round trip with each channel: send, read back, acknowledge, settle
the promotion's status from its channels, pause, resume, roll back.

Channel calls go through `channel_adapter(vendor)`, which asks `connectors.vendors.channel_adapter_for` at
call time; tests (and only tests) put a double in `_OVERRIDES` so services run against a recording
channel. Only a channel's read-back (`ChannelAck`) is recorded as the channel's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelAck, ChannelAdapter, ChannelRejected
from core.tasks import task_named
from promotions.accuracy import offer_record
from promotions.models import ChannelDeployment, Promotion
from promotions.selectors import (
    LIVE_STATUSES,
    deployment_previous_acknowledged,
    deployments_current,
    version_review_state,
)
from promotions.simulated import SimulatedChannel
from promotions.spec import promotion_spec
from promotions.transitions import _audit, _locked, _refuse
from promotions.waves import waves_plan
from tenants.models import User
from triage.models import Kind as TriageKind
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

if TYPE_CHECKING:
    from connectors.models import Connection

log = structlog.get_logger(__name__)

S = Promotion.Status
D = ChannelDeployment.State
P = ChannelDeployment.PauseReason
RETRY_ACTION = "promotions.deployment_retry"

_OVERRIDES: dict[str, ChannelAdapter] = {}


def channel_adapter(vendor: str) -> ChannelAdapter:
    """The adapter for a vendor; LookupError when no adapter takes promotions for it."""
    if vendor in _OVERRIDES:
        return _OVERRIDES[vendor]
    return channel_adapter_for(vendor)


def connection_adapter(connection: Connection) -> ChannelAdapter:
    """The adapter that talks to this connection: the simulated channel for simulated connections."""
    if connection.config.get("simulated"):
        return SimulatedChannel()
    return channel_adapter(connection.vendor)


# ---- publish and the channel round trip ---------------------------------------------------------


@transaction.atomic
def promotion_publish(
    *, promotion: Promotion, actor: User | None = None, actor_label: str | None = None, dispatch: bool = True
) -> list[ChannelDeployment]:
    """Publish the approved current version: one deployment per channel in scope, each sent by its
    own task after commit. Publishing the version already published returns its deployments.
    `dispatch=False` leaves them pending for `deployment_record` (a channel's answer given as data)."""
    promotion = _locked(promotion)
    version = promotion.current_version
    if promotion.published_version_id == version.pk:
        return list(ChannelDeployment.objects.filter(version=version).select_related("connection", "version"))
    if version_review_state(promotion=promotion) != S.APPROVED:
        raise ValidationError(
            {
                "status": f"Only an approved version can be published; version {version.number} is "
                f"{version_review_state(promotion=promotion)}."
            },
            code="illegal_transition",
        )
    if promotion.status == S.EXPIRED:
        raise ValidationError({"status": "The promotion has expired."}, code="illegal_transition")
    if version.ends_at is not None and version.ends_at <= timezone.now():
        raise ValidationError({"ends_at": "The window has already ended; edit the dates first."}, code="invalid_window")
    current = {row.connection_id: row for row in deployments_current(promotion=promotion)}
    deployments = []
    plan = waves_plan(version)  # staged launch: wave 0 goes now, later waves wait for promotions.launch
    for channel in version.channels.all().order_by("pk"):
        before = current.get(channel.pk)
        carried = before is not None and before.state != D.ROLLED_BACK
        deployment, _created = ChannelDeployment.objects.get_or_create(
            version=version,
            connection=channel,
            defaults={
                "promotion": promotion,
                "external_id": before.external_id if before is not None else "",
                "acknowledged_version": before.acknowledged_version if carried else None,
                "wave": plan[channel.pk],
                "state": D.WAITING if plan[channel.pk] else D.PENDING,
            },
        )
        deployments.append(deployment)
    if not deployments:
        raise ValidationError({"channels": "The version names no channel to publish to."}, code="invalid")
    promotion.published_version = version
    promotion.status = S.PUBLISHED
    promotion.launch_state = Promotion.Launch.RUNNING if max(plan.values()) else Promotion.Launch.NONE
    promotion.launch_wave, promotion.launch_halted_reason = 0, ""
    promotion.budget_alert_percent, promotion.budget_reached_at = 0, None  # the new version's budget counts
    promotion.save()
    _audit(
        promotion,
        "publish",
        actor=actor,
        actor_label=actor_label,
        changes={"version": version.number, "channels": [d.connection_id for d in deployments]},
    )
    if not dispatch:
        return deployments
    deployments_dispatch(deployments=[row for row in deployments if row.state == D.PENDING])
    return deployments


def deployments_dispatch(*, deployments: Iterable[ChannelDeployment]) -> None:
    """Send each deployment by its own task, after commit."""
    deployment_send_task = task_named("promotions.deployment_send")
    for deployment in deployments:
        deployment_id = deployment.pk
        transaction.on_commit(lambda deployment_id=deployment_id: deployment_send_task.delay(deployment_id))


def deployment_acknowledge(
    *, deployment: ChannelDeployment, ack: ChannelAck, at: dt.datetime | None = None
) -> ChannelDeployment:
    """Record what the channel reports holding. Acknowledged only when the channel's own read-back
    shows this deployment's version active with the approved terms (where it reports them);
    anything else is a failure that says what it shows."""
    now = at or timezone.now()
    deployment.external_id = ack.external_id or deployment.external_id
    deployment.acknowledged_version = ack.version
    expected = deployment.version.number
    differences = offer_record(deployment=deployment, ack=ack, spec=promotion_spec(deployment.version), at=now)
    if differences:
        deployment.state = D.FAILED
        deployment.last_error = f"The channel shows version {expected} but not its terms: {'; '.join(differences)}."
    elif ack.version == expected and ack.state == "active":
        deployment.state = D.ACKNOWLEDGED
        deployment.acknowledged_at = deployment.acknowledged_at or now
        deployment.last_error = ""
    elif ack.version == expected and ack.state == "paused":
        deployment.state, deployment.paused_at, deployment.last_error = D.PAUSED, deployment.paused_at or now, ""
        if not deployment.pause_reason and deployment.version.starts_at > now:
            deployment.pause_reason = P.SCHEDULED  # a channel without start dates: live at the start
    else:
        deployment.state = D.FAILED
        deployment.last_error = (
            f"The channel reports version {ack.version if ack.version is not None else 'none'} "
            f"({ack.state}) after publishing version {expected}."
        )
    deployment.save()
    return deployment


def _error_text(error: BaseException) -> str:
    return (error.message if isinstance(error, ChannelRejected) else f"{type(error).__name__}: {error}")[:2000]


def _fail(deployment: ChannelDeployment, error: BaseException) -> None:
    deployment.state = D.FAILED
    deployment.last_error = _error_text(error)
    deployment.save(update_fields=["state", "last_error", "updated_at"])


def _adapter(deployment: ChannelDeployment) -> ChannelAdapter:
    return connection_adapter(deployment.connection)


def deployment_lock(*, deployment_id: int) -> tuple[Promotion, ChannelDeployment]:
    """Lock a deployment's promotion, then the deployment itself (with its version and connection):
    the order every writer of a promotion's channels takes, so a pause or rollback never crosses a
    send or an acknowledgement. Raises ChannelDeployment.DoesNotExist when the deployment is gone."""
    row = ChannelDeployment.objects.only("promotion_id").get(pk=deployment_id)
    promotion = Promotion.objects.select_for_update().get(pk=row.promotion_id)
    deployment = (
        ChannelDeployment.objects.select_for_update(of=("self",))
        .select_related("version", "connection")
        .get(pk=deployment_id)
    )
    return promotion, deployment


@transaction.atomic
def deployment_send(*, deployment_id: int) -> ChannelDeployment | None:
    """The task body: publish one version to one channel and record the channel's read-back.
    Holds the promotion's lock for the round trip, so a pause or rollback never crosses a send."""
    try:
        promotion, deployment = deployment_lock(deployment_id=deployment_id)
    except ChannelDeployment.DoesNotExist:
        return None
    if deployment.state in (D.PAUSED, D.ROLLED_BACK, D.WAITING) or promotion.status == S.EXPIRED:
        return deployment
    live = deployment.acknowledged_version == deployment.version.number and deployment.offer_matches is not False
    if deployment.state == D.ACKNOWLEDGED and live:
        return deployment
    if promotion.published_version_id != deployment.version_id:
        deployment.last_error = "Superseded: a newer version was published before this one was sent."
        deployment.save(update_fields=["last_error", "updated_at"])
        return deployment
    deployment.state, deployment.sent_at = D.SENT, timezone.now()
    deployment.attempts += 1
    deployment.save(update_fields=["state", "sent_at", "attempts", "updated_at"])
    try:
        adapter = _adapter(deployment)
        ack = adapter.publish(
            deployment.connection, promotion_spec(deployment.version), external_id=deployment.external_id or None
        )
    except LookupError as error:
        _fail(deployment, ChannelRejected(f"No promotion adapter for {deployment.connection.vendor}: {error}"))
    except Exception as error:  # any channel failure is recorded on the deployment and triaged
        log.warning("promotions.send_failed", deployment=deployment.pk, error=str(error))
        _fail(deployment, error)
    else:
        deployment_acknowledge(deployment=deployment, ack=ack)
    promotion_settle(promotion=promotion, changed=True)
    _failed_policy(promotion, deployment)
    return deployment


def _failed_policy(promotion: Promotion, deployment: ChannelDeployment) -> None:
    """A channel rejected the update: halt a staged launch and apply the version's fallback policy."""
    if deployment.state == D.FAILED:
        from promotions.launch import deployment_failed_apply  # import here: launch builds on this module

        deployment_failed_apply(promotion=promotion, deployment=deployment)


@transaction.atomic
def deployment_record(
    *, deployment_id: int, ack: ChannelAck | None, error: str = "", at: dt.datetime | None = None
) -> ChannelDeployment:
    """Record a channel's answer that arrived as data rather than through an adapter call (the
    demo, or an operator confirming by hand): its read-back, or the error it gave."""
    promotion, deployment = deployment_lock(deployment_id=deployment_id)
    if deployment.state not in (D.PENDING, D.SENT, D.FAILED):
        raise ValidationError({"state": f"The deployment is {deployment.state}; nothing is awaited from the channel."})
    deployment.attempts += 1
    deployment.sent_at = at or timezone.now()
    if ack is not None:
        deployment_acknowledge(deployment=deployment, ack=ack, at=at)
    else:
        _fail(deployment, ChannelRejected(error or "The channel gave no answer."))
    promotion_settle(promotion=promotion, changed=True)
    _failed_policy(promotion, deployment)
    return deployment


def _channel_summary(rows: list[ChannelDeployment]) -> list[dict[str, Any]]:
    return [
        {
            "connection_id": row.connection_id,
            "channel": row.connection.name,
            "vendor": row.connection.vendor,
            "state": row.state,
            "version": row.version.number,
            "acknowledged_version": row.acknowledged_version,
            "error": row.last_error,
        }
        for row in rows
    ]


def promotion_settle(*, promotion: Promotion, changed: bool = False) -> str:
    """Derive the promotion's status from its channels' current deployments, raise the partial
    deployment exception when channels disagree and nothing is in flight, resolve it once every
    channel is consistent. Call with the promotion row locked."""
    # Channels whose wave has not gone out yet (or a halted launch held back) carry nothing to settle.
    rows = [row for row in deployments_current(promotion=promotion) if row.state != D.WAITING]
    states = [row.state for row in rows]
    if promotion.status == S.EXPIRED or not rows:
        return promotion.status
    scheduled = sum(row.state == D.PAUSED and row.pause_reason == P.SCHEDULED for row in rows)  # live at the start
    live = sum(state == D.ACKNOWLEDGED for state in states) + scheduled
    failed = sum(state == D.FAILED for state in states)
    paused = sum(state == D.PAUSED for state in states) - scheduled
    in_flight = sum(state in (D.PENDING, D.SENT) for state in states)
    if all(state == D.ROLLED_BACK for state in states):
        status = S.ROLLED_BACK
    elif in_flight:
        status = S.PUBLISHED
    elif live and live + states.count(D.ROLLED_BACK) == len(states):
        status = S.LIVE
    elif live:
        status = S.PARTIALLY_LIVE
    elif paused:
        status = S.PAUSED
    else:
        status = S.PUBLISHED
    if promotion.status != status:
        promotion.status = status
        promotion.save(update_fields=["status", "updated_at"])
    if in_flight:
        return status
    if failed and changed:
        cause = "partial_deployment" if live or paused else "deployment_failed"
        summary = _channel_summary(rows)
        failing = ", ".join(row["channel"] for row in summary if row["state"] == D.FAILED)
        exception_raise(
            kind=TriageKind.PROMOTION_DEPLOYMENT,
            cause=cause,
            obj=promotion,
            title=f"{promotion.key}: not live on {failing}" + (f", live on {live} other channel(s)" if live else ""),
            detail="; ".join(f"{row['channel']}: {row['error']}" for row in summary if row["state"] == D.FAILED),
            context={
                "channels": summary,
                "actions": {
                    "retry": "Re-send the version to the failed channels.",
                    "rollback": f"/promotions/{promotion.pk}/ → Roll back: every channel to its previous version.",
                },
            },
            retry=RetryAction(RETRY_ACTION, {"promotion_id": promotion.pk}),
        )
    elif not failed:
        exception_resolve_for_object(
            obj=promotion, reason=f"Every channel is consistent ({', '.join(sorted(set(states)))})."
        )
    return status


def deployments_retry_failed(*, promotion_id: int) -> list[ChannelDeployment]:
    """The retry action: re-send the current version to every channel where it failed. Raises when
    a channel still fails, so the triage occurrence stays open with the reason."""
    promotion = Promotion.objects.get(pk=promotion_id)
    failed = [row for row in deployments_current(promotion=promotion) if row.state == D.FAILED]
    results = [deployment_send(deployment_id=row.pk) for row in failed]
    still = [row for row in results if row is not None and row.state == D.FAILED]
    if still:
        raise RuntimeError("; ".join(f"{row.connection.name}: {row.last_error}" for row in still))
    return results


# ---- pause, resume, rollback --------------------------------------------------------------------


def _in_scope(rows: list[ChannelDeployment], connection_ids: Iterable[int] | None) -> list[ChannelDeployment]:
    if connection_ids is None:
        return rows
    wanted = {int(pk) for pk in connection_ids}
    known = {row.connection_id for row in rows}
    missing = wanted - known
    if missing:
        raise ValidationError(
            {"channels": f"The promotion is not deployed to channel(s) {', '.join(map(str, sorted(missing)))}."},
            code="invalid",
        )
    return [row for row in rows if row.connection_id in wanted]


def _raise_channel_failures(promotion: Promotion, cause: str, verb: str, failures: list[ChannelDeployment]) -> None:
    if not failures:
        return
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause=cause,
        obj=promotion,
        title=f"{promotion.key}: could not {verb} on {', '.join(row.connection.name for row in failures)}",
        detail="; ".join(f"{row.connection.name}: {row.last_error}" for row in failures),
        context={"channels": _channel_summary(deployments_current(promotion=promotion))},
    )


def _channel_call(row: ChannelDeployment, call) -> ChannelAck | None:
    try:
        return call(_adapter(row))
    except Exception as error:  # recorded on the row and raised into triage by the caller
        row.last_error = _error_text(error)
        row.save(update_fields=["last_error", "updated_at"])
        return None


def _channels_switch(
    *,
    promotion: Promotion,
    connection_ids: Iterable[int] | None,
    select: Callable[[ChannelDeployment], bool],
    expect: Callable[[ChannelDeployment], str],
    doing: str,
    call: Callable[[ChannelAdapter, ChannelDeployment], ChannelAck],
    apply: Callable[[ChannelDeployment, ChannelAck], None],
) -> tuple[list[ChannelDeployment], list[ChannelDeployment]]:
    """Call each in-scope channel `select` picks; a channel whose read-back is not what `expect`
    says is a failure (its error kept on the row), the others are updated by `apply`. (done, failures)."""
    done, failures = [], []
    for row in _in_scope(deployments_current(promotion=promotion), connection_ids):
        if not select(row):
            continue
        ack = _channel_call(row, lambda adapter, row=row: call(adapter, row))
        if ack is None or ack.state != expect(row):
            if ack is not None:
                row.last_error = f"The channel still reports the promotion {ack.state} after {doing}."
                row.save(update_fields=["last_error", "updated_at"])
            failures.append(row)
            continue
        apply(row, ack)
        done.append(row)
    return done, failures


def _switch_and_record(
    *,
    promotion: Promotion,
    verb: str,
    actor: User | None,
    actor_label: str | None,
    audit: dict[str, Any],
    **switch: Any,
) -> list[ChannelDeployment]:
    """Pause or resume (`verb`) on the in-scope channels, then settle the promotion's status, raise
    the channels that refused into triage and audit it."""
    promotion = _locked(promotion)
    _refuse(promotion, verb, LIVE_STATUSES)
    done, failures = _channels_switch(promotion=promotion, **switch)
    promotion_settle(promotion=promotion)
    _raise_channel_failures(promotion, f"{verb}_failed", verb, failures)
    changes = {"channels": [row.connection_id for row in done], **audit, "failed": len(failures)}
    _audit(promotion, verb, actor=actor, actor_label=actor_label, changes=changes)
    return done


@transaction.atomic
def promotion_pause(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
    reason: str = ChannelDeployment.PauseReason.MANUAL,
) -> list[ChannelDeployment]:
    """Pause on the given channels (all when None). Channels already paused are left as they are;
    one waiting for the window start as a draft is held by this reason instead."""

    def paused_now(row: ChannelDeployment, ack: ChannelAck) -> None:
        row.state, row.pause_reason, row.paused_at, row.last_error = D.PAUSED, reason, timezone.now(), ""
        row.save(update_fields=["state", "pause_reason", "paused_at", "last_error", "updated_at"])

    return _switch_and_record(
        promotion=promotion,
        verb="pause",
        actor=actor,
        actor_label=actor_label,
        audit={"reason": reason},
        connection_ids=connection_ids,
        select=lambda row: row.state == D.ACKNOWLEDGED or row.pause_reason == P.SCHEDULED,
        expect=lambda row: "paused",
        doing="pausing",
        call=lambda adapter, row: adapter.pause(row.connection, row.external_id),
        apply=paused_now,
    )


@transaction.atomic
def promotion_resume(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
    reason: str = "",
) -> list[ChannelDeployment]:
    """Resume on the given channels (all when None). A channel that keeps a draft until the window
    starts and was never live goes back to waiting for the start (read back, not published early)."""

    def early(row: ChannelDeployment) -> bool:
        return row.acknowledged_at is None and row.version.starts_at > timezone.now()

    def resumed_now(row: ChannelDeployment, ack: ChannelAck) -> None:
        if ack.state == "paused":
            row.pause_reason, row.last_error = P.SCHEDULED, ""
            row.save(update_fields=["pause_reason", "last_error", "updated_at"])
            return
        row.state, row.pause_reason, row.last_error = D.ACKNOWLEDGED, "", ""
        row.acknowledged_version = ack.version if ack.version is not None else row.acknowledged_version
        row.save(update_fields=["state", "pause_reason", "last_error", "acknowledged_version", "updated_at"])

    return _switch_and_record(
        promotion=promotion,
        verb="resume",
        actor=actor,
        actor_label=actor_label,
        audit={"reason": reason} if reason else {},
        connection_ids=connection_ids,
        select=lambda row: row.state == D.PAUSED and row.pause_reason != P.SCHEDULED,
        expect=lambda row: "paused" if early(row) else "active",
        doing="resuming",
        call=lambda adapter, row: (adapter.read_back if early(row) else adapter.resume)(
            row.connection, row.external_id
        ),
        apply=resumed_now,
    )


def _rollback_one(row: ChannelDeployment) -> bool:
    """Take one channel back: remove a first deployment, re-publish the previous acknowledged
    version of a later one. True when the channel's read-back confirms it."""
    now = timezone.now()
    previous = deployment_previous_acknowledged(deployment=row)
    if previous is None:
        if row.external_id:
            ack = _channel_call(row, lambda adapter: adapter.remove(row.connection, row.external_id))
            if ack is None:
                return False
            if ack.state != "absent":
                row.last_error = f"The channel still reports the promotion {ack.state} after removing it."
                row.save(update_fields=["last_error", "updated_at"])
                return False
        row.state, row.rolled_back_at, row.acknowledged_version, row.last_error = D.ROLLED_BACK, now, None, ""
        row.save(update_fields=["state", "rolled_back_at", "acknowledged_version", "last_error", "updated_at"])
        return True
    spec = promotion_spec(previous.version)
    external_id = row.external_id or previous.external_id or None
    ack = None
    unsent = row.state in (D.FAILED, D.WAITING, D.PENDING)
    if unsent and row.acknowledged_version == previous.version.number and external_id:
        # The channel never took the newer version: confirm it still holds the previous one.
        ack = _channel_call(row, lambda adapter: adapter.read_back(row.connection, external_id))
        if ack is not None and (ack.version != previous.version.number or ack.state != "active"):
            ack = None
    if ack is None:
        ack = _channel_call(row, lambda adapter: adapter.publish(row.connection, spec, external_id=external_id))
    if ack is None:
        return False
    if ack.version != previous.version.number or ack.state != "active":
        row.last_error = f"After rolling back the channel reports version {ack.version} ({ack.state})."
        row.save(update_fields=["last_error", "updated_at"])
        return False
    row.state, row.rolled_back_at, row.last_error = D.ROLLED_BACK, now, ""
    row.save(update_fields=["state", "rolled_back_at", "last_error", "updated_at"])
    previous.state, previous.external_id, previous.acknowledged_version = D.ACKNOWLEDGED, ack.external_id, ack.version
    previous.pause_reason = ""
    previous.save(update_fields=["state", "external_id", "acknowledged_version", "pause_reason", "updated_at"])
    return True


@transaction.atomic
def promotion_rollback(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
) -> list[ChannelDeployment]:
    """Roll back on the given channels (all when None)."""
    promotion = _locked(promotion)
    _refuse(promotion, "roll back", LIVE_STATUSES)
    rows = _in_scope(deployments_current(promotion=promotion), connection_ids)
    older = [row for row in rows if row.version_id != promotion.published_version_id and row.state != D.ROLLED_BACK]
    if connection_ids is not None and older:
        names = ", ".join(f"{row.connection.name} (version {row.version.number})" for row in older)
        raise ValidationError(
            {"channels": f"Already on an older version than the published one: {names}."}, code="invalid"
        )
    rolled, failures = [], []
    for row in rows:
        # Only channels on the published version go back; one already on an older version stays.
        if row.state == D.ROLLED_BACK or row.version_id != promotion.published_version_id:
            continue
        (rolled if _rollback_one(row) else failures).append(row)
    current = deployments_current(promotion=promotion)
    if promotion.published_version_id and not any(row.version_id == promotion.published_version_id for row in current):
        # Every channel left the published version: the newest version still on a channel (if any)
        # is what is published now.
        standing = [row for row in current if row.state != D.ROLLED_BACK]
        promotion.published_version = max((row.version for row in standing), key=lambda v: v.number, default=None)
        promotion.save(update_fields=["published_version", "updated_at"])
    promotion_settle(promotion=promotion)
    _raise_channel_failures(promotion, "rollback_failed", "roll back", failures)
    _audit(
        promotion,
        "rollback",
        actor=actor,
        actor_label=actor_label,
        changes={"channels": [row.connection_id for row in rolled], "failed": len(failures)},
    )
    return rolled
