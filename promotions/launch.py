"""Staged launches and the fallback policy (issue 20).

A version may send its channels in waves (`PromotionVersion.waves`): publish sends wave 0 and the
others wait (`ChannelDeployment.State.WAITING`). `promotions_launch_advance` (a periodic job) sends
the next wave once every channel of the previous one acknowledged the version, the hold has passed
and stock of every promoted SKU on the next wave's channels is at or above the threshold. A failed
wave, low stock or a reached budget halts the launch: the waiting channels stay unsent, the board
shows why and an exception is raised; `promotion_launch_continue` is a person's way on.

When a channel rejects an update the version's fallback policy applies: keep the others live,
pause the promotion on every channel, or roll every channel back (`deployment_failed_apply`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from commerce.selectors import available_to_sell
from promotions.deployment import deployments_dispatch, promotion_pause, promotion_rollback
from promotions.models import ChannelDeployment, Fallback, Promotion, PromotionVersion
from promotions.selectors import LIVE_STATUSES, deployments_current, launch_next_due
from promotions.transitions import _audit, _locked, _refuse
from promotions.validation import _plain
from tenants.models import User
from triage.models import Kind as TriageKind
from triage.services import exception_raise

D = ChannelDeployment.State
L = Promotion.Launch
FALLBACK_LABEL = "fallback-policy"


def _hold_unsent(promotion: Promotion, why: str, *, from_wave: int = 0) -> list[ChannelDeployment]:
    """Channels of the published version (in `from_wave` or later) not sent yet stay unsent, saying why."""
    held = []
    for row in deployments_current(promotion=promotion):
        if row.wave < from_wave or row.version_id != promotion.published_version_id:
            continue
        if row.state in (D.PENDING, D.WAITING):
            row.state, row.last_error = D.WAITING, why
            row.save(update_fields=["state", "last_error", "updated_at"])
            held.append(row)
    return held


def launch_halt(*, promotion: Promotion, reason: str) -> None:
    """Stop the launch (promotion row locked): nothing more is sent until a person continues it."""
    why = f"Not sent: the launch is halted ({reason})"
    held = _hold_unsent(promotion, why, from_wave=promotion.launch_wave + 1)
    promotion.launch_state, promotion.launch_halted_reason = L.HALTED, reason
    promotion.save(update_fields=["launch_state", "launch_halted_reason", "updated_at"])
    _audit(promotion, "launch_halt", actor=None, actor_label="launch", changes={"reason": reason})
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause="launch_halted",
        obj=promotion,
        title=f"{promotion.key}: launch halted — {reason}",
        detail=f"{len(held)} channel(s) not sent: " + ", ".join(row.connection.name for row in held),
        context={"wave": promotion.launch_wave + 1, "held": [row.connection.name for row in held]},
    )


def deployment_failed_apply(*, promotion: Promotion, deployment: ChannelDeployment) -> None:
    """A channel rejected the update (promotion row locked): halt a staged launch, then apply the
    version's fallback policy, audited and raised."""
    version = deployment.version
    failure = f"{deployment.connection.name} rejected version {version.number}: {deployment.last_error}"
    if promotion.launch_state == L.RUNNING and version.fallback == Fallback.KEEP_OTHERS:
        launch_halt(promotion=promotion, reason=f"wave {deployment.wave + 1} failed — {failure}")
    if version.fallback == Fallback.KEEP_OTHERS or promotion.published_version_id != version.pk:
        return
    promotion.launch_state, promotion.launch_halted_reason = L.HALTED, f"fallback {version.fallback}: {failure}"
    promotion.save(update_fields=["launch_state", "launch_halted_reason", "updated_at"])
    held = _hold_unsent(promotion, f"Not sent: {failure} (fallback: {version.get_fallback_display().lower()})")
    if version.fallback == Fallback.PAUSE_ALL:
        done = promotion_pause(
            promotion=promotion, actor_label=FALLBACK_LABEL, reason=ChannelDeployment.PauseReason.FALLBACK
        )
    else:
        done = promotion_rollback(promotion=promotion, actor_label=FALLBACK_LABEL)
    names = [row.connection.name for row in done]
    changes = {"policy": version.fallback, "failed": deployment.connection_id, "channels": names}
    _audit(promotion, "fallback", actor=None, actor_label=FALLBACK_LABEL, changes={**changes, "held": len(held)})
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause="fallback_applied",
        obj=promotion,
        title=f"{promotion.key}: {version.get_fallback_display().lower()} after {deployment.connection.name} failed",
        detail=f"{failure}. Applied on: {', '.join(names) or 'no other channel'}; {len(held)} not sent.",
        context={"policy": version.fallback, "channels": names},
    )


def _stock_short(version: PromotionVersion, rows: list[ChannelDeployment]) -> list[str]:
    """Promoted SKUs below the version's threshold on these channels (judged channels only)."""
    if version.stock_threshold is None or not version.skus:
        return []
    ats = available_to_sell(skus=version.skus)
    judged = {(row.channel_connection_id, row.sku) for row in ats.channels}
    threshold = Decimal(version.stock_threshold)
    short = []
    for row in rows:
        for sku in version.skus:
            if (row.connection_id, sku) not in judged:
                continue
            available = ats.channel_ats(channel_connection_id=row.connection_id, sku=sku)
            if available < threshold:
                short.append(f"{row.connection.name}: {sku} {_plain(available)} < {_plain(threshold)}")
    return short


def _wave_blocker(promotion: Promotion, rows: list[ChannelDeployment]) -> str:
    """Why the current wave cannot lead to the next one ('' when it can, 'wait' while in flight)."""
    for row in rows:
        if row.state == D.FAILED:
            return f"wave {promotion.launch_wave + 1} failed on {row.connection.name}: {row.last_error}"
    if any(row.state in (D.PENDING, D.SENT) for row in rows):
        return "wait"
    for row in rows:
        if row.state != D.ACKNOWLEDGED:
            reason = f" ({row.get_pause_reason_display().lower()})" if row.pause_reason else ""
            return f"wave {promotion.launch_wave + 1}: {row.connection.name} is {row.state}{reason}"
    return ""


@transaction.atomic
def launch_advance(*, promotion: Promotion, now: dt.datetime | None = None) -> str:
    """One step of a running launch: 'waiting', 'holding', 'halted', 'sent' (the next wave) or 'done'."""
    now = now or timezone.now()
    promotion = _locked(promotion)
    if promotion.launch_state != L.RUNNING:
        return promotion.launch_state or "not_staged"
    version = promotion.published_version
    rows = [row for row in deployments_current(promotion=promotion) if row.version_id == version.pk]
    blocker = _wave_blocker(promotion, [row for row in rows if row.wave == promotion.launch_wave])
    if blocker == "wait":
        return "waiting"
    if blocker:
        launch_halt(promotion=promotion, reason=blocker)
        return "halted"
    due = launch_next_due(promotion=promotion)
    if due is None or now < due:
        return "holding"
    later = sorted({row.wave for row in rows if row.state == D.WAITING and row.wave > promotion.launch_wave})
    if not later:
        promotion.launch_state = L.DONE
        promotion.save(update_fields=["launch_state", "updated_at"])
        return "done"
    following = [row for row in rows if row.wave == later[0] and row.state == D.WAITING]
    short = _stock_short(version, following)
    if promotion.budget_reached_at is not None or short:
        reason = "stock below the threshold — " + "; ".join(short) if short else "the budget or usage cap is reached"
        launch_halt(promotion=promotion, reason=reason)
        return "halted"
    return _wave_send(promotion, later, following)


def _wave_send(promotion: Promotion, later: list[int], following: list[ChannelDeployment]) -> str:
    for row in following:
        row.state, row.last_error = D.PENDING, ""
        row.save(update_fields=["state", "last_error", "updated_at"])
    promotion.launch_wave = later[0]
    promotion.launch_state = L.RUNNING if len(later) > 1 else L.DONE
    promotion.save(update_fields=["launch_wave", "launch_state", "updated_at"])
    changes = {"wave": later[0] + 1, "channels": [row.connection_id for row in following]}
    _audit(promotion, "launch_wave", actor=None, actor_label="launch", changes=changes)
    deployments_dispatch(deployments=following)
    return "sent"


def launches_next_due(now: dt.datetime) -> dt.datetime | None:
    """While a staged launch runs, at every beat (its next wave waits on acknowledgements, a hold
    and stock); None when none runs."""
    return now if Promotion.objects.filter(launch_state=L.RUNNING, published_version__isnull=False).exists() else None


def promotions_launch_advance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: advance every running staged launch. {promotion key: outcome}."""
    running = Promotion.objects.filter(launch_state=L.RUNNING, published_version__isnull=False).order_by("pk")
    return {promotion.key: launch_advance(promotion=promotion, now=now) for promotion in running}


@transaction.atomic
def promotion_launch_continue(
    *, promotion: Promotion, actor: User | None = None, actor_label: str | None = None
) -> list[ChannelDeployment]:
    """A person continues a halted launch: the channels held back in the waves already reached are
    sent now, and later waves follow on the usual hold and checks."""
    promotion = _locked(promotion)
    if promotion.launch_state != L.HALTED:
        state = promotion.get_launch_state_display().lower()
        raise ValidationError({"launch": f"Only a halted launch can be continued; this one is: {state}."})
    _refuse(promotion, "continue the launch of", LIVE_STATUSES)
    rows = [
        row
        for row in deployments_current(promotion=promotion)
        if row.version_id == promotion.published_version_id and row.state == D.WAITING
    ]
    resend = [row for row in rows if row.wave <= promotion.launch_wave]
    for row in resend:
        row.state, row.last_error = D.PENDING, ""
        row.save(update_fields=["state", "last_error", "updated_at"])
    later = any(row.wave > promotion.launch_wave for row in rows)
    promotion.launch_state = L.RUNNING if later else L.DONE
    promotion.launch_halted_reason = ""
    promotion.save(update_fields=["launch_state", "launch_halted_reason", "updated_at"])
    changes = {"channels": [row.connection_id for row in resend], "wave": promotion.launch_wave + 1}
    _audit(promotion, "launch_continue", actor=actor, actor_label=actor_label, changes=changes)
    deployments_dispatch(deployments=resend)
    return resend
