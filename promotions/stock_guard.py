"""The stock-threshold guard: pause a live promotion on the channels where a promoted SKU runs short."""

from __future__ import annotations

from decimal import Decimal

from commerce.selectors import available_to_sell
from promotions.deployment import promotion_pause
from promotions.models import ChannelDeployment, Promotion
from promotions.selectors import deployments_current
from promotions.validation import _plain
from triage.models import Kind as TriageKind
from triage.services import exception_raise

S = Promotion.Status
D = ChannelDeployment.State


def promotions_guarded_exist() -> bool:
    """Whether a promotion with a stock threshold is live, partially live or being published."""
    return Promotion.objects.filter(
        status__in=(S.LIVE, S.PARTIALLY_LIVE, S.PUBLISHED), published_version__stock_threshold__isnull=False
    ).exists()


def promotions_stock_guard() -> dict[str, list]:
    """Pause each live promotion on exactly the channels where a promoted SKU's available-to-sell
    fell below the version's stock threshold, and raise an inventory exception saying why.
    Channels that sell a SKU from no mapped location have no ATS to judge: they are reported in
    `unjudged`, never paused on a guess."""
    paused: list[ChannelDeployment] = []
    unjudged: list[tuple[str, str, str]] = []
    candidates = Promotion.objects.filter(
        status__in=(S.LIVE, S.PARTIALLY_LIVE), published_version__stock_threshold__isnull=False
    ).select_related("published_version")
    for promotion in candidates:
        version = promotion.published_version
        if not version.skus:
            continue
        ats = available_to_sell(skus=version.skus)
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
        if not short:
            continue
        done = promotion_pause(
            promotion=promotion,
            actor=None,
            actor_label="stock-guard",
            connection_ids=list(short),
            reason=ChannelDeployment.PauseReason.STOCK_GUARD,
        )
        paused.extend(done)
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
    return {"paused": paused, "unjudged": unjudged}
