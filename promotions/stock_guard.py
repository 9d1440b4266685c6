"""The stock-threshold guard: pause a live promotion on the channels where a promoted SKU runs short,
and resume it there once stock is back at the threshold plus the tenant's hysteresis (issue 20)."""

from __future__ import annotations

from decimal import Decimal

from commerce.selectors import available_to_sell
from promotions.deployment import promotion_pause, promotion_resume
from promotions.models import ChannelDeployment, Promotion
from promotions.policy import promotion_policy_get
from promotions.selectors import deployments_current
from promotions.validation import _plain
from triage.models import Kind as TriageKind
from triage.services import exception_raise

S = Promotion.Status
D = ChannelDeployment.State
GUARD = "stock-guard"


def _short_channels(promotion: Promotion, ats, unjudged: list) -> dict[int, list[str]]:
    """{connection id: ["SKU ats < threshold"]} of the acknowledged channels running short."""
    version = promotion.published_version
    judged = {(row.channel_connection_id, row.sku) for row in ats.channels}
    threshold = Decimal(version.stock_threshold)
    short: dict[int, list[str]] = {}
    for row in deployments_current(promotion=promotion):
        if row.state != D.ACKNOWLEDGED or row.version_id != version.pk:
            continue
        for sku in version.skus:
            if (row.connection_id, sku) not in judged:
                unjudged.append((promotion.key, row.connection.name, sku))
                continue
            available = ats.channel_ats(channel_connection_id=row.connection_id, sku=sku)
            if available < threshold:
                short.setdefault(row.connection_id, []).append(f"{sku} {_plain(available)} < {_plain(threshold)}")
    return short


def _recovered_channels(promotion: Promotion, ats, hysteresis: int) -> list[int]:
    """The channels the guard paused whose every promoted SKU is judged and back at threshold + hysteresis."""
    version = promotion.published_version
    judged = {(row.channel_connection_id, row.sku) for row in ats.channels}
    level = Decimal(version.stock_threshold) + hysteresis
    recovered = []
    for row in deployments_current(promotion=promotion):
        if row.state != D.PAUSED or row.pause_reason != ChannelDeployment.PauseReason.STOCK_GUARD:
            continue
        if row.version_id != version.pk:
            continue
        if all(
            (row.connection_id, sku) in judged
            and ats.channel_ats(channel_connection_id=row.connection_id, sku=sku) >= level
            for sku in version.skus
        ):
            recovered.append(row.connection_id)
    return recovered


def _pause_short(promotion: Promotion, short: dict[int, list[str]]) -> list[ChannelDeployment]:
    version = promotion.published_version
    done = promotion_pause(
        promotion=promotion,
        actor=None,
        actor_label=GUARD,
        connection_ids=list(short),
        reason=ChannelDeployment.PauseReason.STOCK_GUARD,
    )
    names = {row.connection_id: row.connection.name for row in done}
    if done:
        exception_raise(
            kind=TriageKind.INVENTORY,
            cause="stock_guard_paused",
            obj=promotion,
            title=f"{promotion.key} paused on {', '.join(names.values())}: stock below {version.stock_threshold}",
            detail="; ".join(f"{names[pk]}: {', '.join(short[pk])}" for pk in names),
            context={"threshold": version.stock_threshold, "channels": {names[pk]: short[pk] for pk in names}},
        )
    return done


def promotions_guarded_exist() -> bool:
    """Whether a promotion with a stock threshold is live, partially live or being published."""
    return Promotion.objects.filter(
        status__in=(S.LIVE, S.PARTIALLY_LIVE, S.PUBLISHED), published_version__stock_threshold__isnull=False
    ).exists()


def promotions_stock_guard() -> dict[str, list]:
    """Pause each live promotion on exactly the channels where a promoted SKU's available-to-sell
    fell below the version's stock threshold, and raise an inventory exception saying why; resume
    the channels it paused once every promoted SKU is back at threshold + the tenant's hysteresis
    (never while the budget is reached). Channels that sell a SKU from no mapped location have no
    ATS to judge: they are reported in `unjudged`, never paused or resumed on a guess."""
    paused: list[ChannelDeployment] = []
    resumed: list[ChannelDeployment] = []
    unjudged: list[tuple[str, str, str]] = []
    hysteresis = promotion_policy_get().stock_hysteresis
    candidates = Promotion.objects.filter(
        status__in=(S.LIVE, S.PARTIALLY_LIVE, S.PAUSED), published_version__stock_threshold__isnull=False
    ).select_related("published_version")
    for promotion in candidates:
        version = promotion.published_version
        if not version.skus:
            continue
        ats = available_to_sell(skus=version.skus)
        recovered = [] if promotion.budget_reached_at else _recovered_channels(promotion, ats, hysteresis)
        if recovered:
            level = f"{_plain(version.stock_threshold)} + {hysteresis}"
            resumed.extend(
                promotion_resume(
                    promotion=promotion,
                    actor_label=GUARD,
                    connection_ids=recovered,
                    reason=f"stock back at or above {level}",
                )
            )
        short = _short_channels(promotion, ats, unjudged)
        if short:
            paused.extend(_pause_short(promotion, short))
    return {"paused": paused, "resumed": resumed, "unjudged": unjudged}
