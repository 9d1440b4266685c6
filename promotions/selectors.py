"""Reads for promotions: lists, the channel board, version alignment and the KPIs (tenant schema)."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from core.tenancy import tenant_zone
from promotions.models import ChannelDeployment, Funding, Promotion, PromotionSpend, PromotionVersion

LIVE_STATUSES = (
    Promotion.Status.PUBLISHED,
    Promotion.Status.LIVE,
    Promotion.Status.PARTIALLY_LIVE,
    Promotion.Status.PAUSED,
)


def version_review_state(*, promotion: Promotion) -> str:
    """Where the current version is in review: draft, validated, submitted, approved, rejected."""
    version = promotion.current_version
    if version.rejected_reason:
        return Promotion.Status.REJECTED
    if version.approved_at:
        return Promotion.Status.APPROVED
    if version.submitted_at:
        return Promotion.Status.SUBMITTED
    if version.validation.get("ok"):
        return Promotion.Status.VALIDATED
    return Promotion.Status.DRAFT


def promotion_actions(*, promotion: Promotion) -> frozenset[str]:
    """The transitions that make sense now, so pages offer only those (the services still check)."""
    S = Promotion.Status
    review = version_review_state(promotion=promotion)
    actions = set()
    if review in (S.DRAFT, S.VALIDATED) and promotion.status in (S.DRAFT, S.VALIDATED, *LIVE_STATUSES):
        actions.add("validate")
    if review == S.VALIDATED:
        actions.add("submit")
    if review == S.SUBMITTED:
        actions |= {"approve", "reject"}
    if review == S.APPROVED and promotion.published_version_id != promotion.current_version_id:
        actions.add("publish")
    if promotion.status in LIVE_STATUSES:
        actions |= {"pause", "rollback"}
    if promotion.status in (S.PAUSED, S.PARTIALLY_LIVE):
        actions.add("resume")
    if promotion.launch_state == Promotion.Launch.HALTED and promotion.status in LIVE_STATUSES:
        actions.add("continue")
    return frozenset(actions)


def promotions_list(*, status: str | None = None) -> QuerySet[Promotion]:
    queryset = Promotion.objects.select_related("current_version", "published_version")
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def promotion_get(*, pk: int) -> Promotion | None:
    return promotions_list().filter(pk=pk).first()


def promotion_versions(*, promotion: Promotion) -> QuerySet[PromotionVersion]:
    return promotion.versions.prefetch_related("channels").order_by("-number")


def approval_queue() -> QuerySet[Promotion]:
    return promotions_list(status=Promotion.Status.SUBMITTED).order_by("updated_at", "id")


def deployments_list(*, promotion: Promotion | None = None) -> QuerySet[ChannelDeployment]:
    queryset = ChannelDeployment.objects.select_related("promotion", "version", "connection")
    if promotion is not None:
        queryset = queryset.filter(promotion=promotion)
    return queryset.order_by("-created_at", "-id")


def deployments_current(*, promotion: Promotion) -> list[ChannelDeployment]:
    """Each channel's current deployment: its newest row that was not rolled back (or, when every
    row was rolled back, its newest row), one per connection, in connection order."""
    rows = (
        ChannelDeployment.objects.filter(promotion=promotion)
        .select_related("version", "connection")
        .order_by("connection_id", "-version__number")
    )
    current: dict[int, ChannelDeployment] = {}
    for row in rows:
        chosen = current.get(row.connection_id)
        if chosen is None or (chosen.state == ChannelDeployment.State.ROLLED_BACK and row.state != chosen.state):
            current[row.connection_id] = row
    return list(current.values())


def deployment_previous_acknowledged(*, deployment: ChannelDeployment) -> ChannelDeployment | None:
    """The version this channel held before `deployment`: the newest older row it acknowledged."""
    return (
        ChannelDeployment.objects.filter(
            promotion_id=deployment.promotion_id,
            connection_id=deployment.connection_id,
            version__number__lt=deployment.version.number,
            state__in=(ChannelDeployment.State.ACKNOWLEDGED, ChannelDeployment.State.PAUSED),
        )
        .select_related("version", "connection")
        .order_by("-version__number")
        .first()
    )


@dataclass(frozen=True)
class ChannelAlignment:
    deployment: ChannelDeployment
    connection_name: str
    vendor: str
    state: str
    target_version: int
    acknowledged_version: int | None
    published_version: int | None
    stale: bool
    # A draft waiting for the window start (a channel without start dates): when it goes live,
    # in the tenant's zone ("2030-04-01 09:00 EDT"); empty otherwise.
    scheduled_for: str = ""


def _scheduled_for(deployment: ChannelDeployment) -> str:
    if deployment.state != ChannelDeployment.State.PAUSED:
        return ""
    if deployment.pause_reason != ChannelDeployment.PauseReason.SCHEDULED:
        return ""
    return deployment.version.starts_at.astimezone(tenant_zone()).strftime("%Y-%m-%d %H:%M %Z")


def version_alignment(*, promotion: Promotion) -> list[ChannelAlignment]:
    """Each channel's acknowledged version next to the promotion's published version; a channel
    holding an older (or no) version of a published promotion is flagged stale."""
    published = promotion.published_version.number if promotion.published_version_id else None
    rows = []
    for deployment in deployments_current(promotion=promotion):
        acknowledged = deployment.acknowledged_version
        # A channel whose wave has not gone out yet is not stale: it is waiting, and the board says so.
        live_on_channel = deployment.state not in (ChannelDeployment.State.ROLLED_BACK, ChannelDeployment.State.WAITING)
        stale = bool(
            published is not None
            and live_on_channel
            and promotion.status != Promotion.Status.ROLLED_BACK
            and (acknowledged is None or acknowledged < published)
        )
        rows.append(
            ChannelAlignment(
                deployment=deployment,
                connection_name=deployment.connection.name,
                vendor=deployment.connection.vendor,
                state=deployment.state,
                target_version=deployment.version.number,
                acknowledged_version=acknowledged,
                published_version=published,
                stale=stale,
                scheduled_for=_scheduled_for(deployment),
            )
        )
    return rows


def promotions_board() -> list[tuple[Promotion, list[ChannelAlignment], PromotionOverview]]:
    promotions = (
        Promotion.objects.filter(deployments__isnull=False)
        .distinct()
        .select_related("current_version", "published_version")
        .prefetch_related(Prefetch("deployments"))
        .order_by("-updated_at", "-id")
    )
    return [
        (promotion, version_alignment(promotion=promotion), promotion_overview(promotion=promotion))
        for promotion in promotions
    ]


def promotions_in_month(*, year: int, month: int, tz: dt.tzinfo) -> list[tuple[Promotion, PromotionVersion]]:
    """Promotions whose window (current version) touches the month, in the tenant's timezone."""
    start = dt.datetime(year, month, 1, tzinfo=tz)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    rows = []
    for promotion in promotions_list().filter(current_version__starts_at__lt=end):
        version = promotion.current_version
        if version.ends_at is None or version.ends_at > start:
            rows.append((promotion, version))
    return rows


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass(frozen=True)
class ActivationAccuracy:
    checked: int  # channel deployments whose live offer was read back with its terms
    matching: int  # … whose live offer matched the approved version
    share: float | None  # matching / checked, 0..1


def activation_accuracy(*, since: dt.datetime | None = None, until: dt.datetime | None = None) -> ActivationAccuracy:
    """Activation accuracy (the seeds' definition): of the channel deployments whose live offer was
    read back (at publish and by the periodic drift check), the share whose offer matched the
    approved version on amount, type, eligibility and window. Speed is not part of it. The window
    is the last read-back's time; a channel that reports no offer terms is not counted."""
    rows = ChannelDeployment.objects.filter(offer_matches__isnull=False)
    if since is not None:
        rows = rows.filter(offer_checked_at__gte=since)
    if until is not None:
        rows = rows.filter(offer_checked_at__lt=until)
    checked = rows.count()
    matching = rows.filter(offer_matches=True).count()
    return ActivationAccuracy(checked=checked, matching=matching, share=(matching / checked) if checked else None)


@dataclass(frozen=True)
class PromotionKpis:
    channels_targeted: int
    acknowledged_on_time: int  # speed: acknowledged within `on_time_minutes` of the send
    activation_accuracy: float | None  # share, 0..1: live offer matches the approved version
    on_time_minutes: int
    offers_checked: int
    offers_matching: int
    approval_to_live_median_minutes: dict[str, float]  # per vendor
    approval_to_live_p95_minutes: dict[str, float]
    pauses_by_stock_guard: int
    rollbacks: int


def promotion_kpis(*, on_time_minutes: int = 15, since: dt.datetime | None = None) -> PromotionKpis:
    """Activation accuracy (`activation_accuracy`, read-back matches the approved version);
    deployments acknowledged within `on_time_minutes` of their publish; approval → live minutes per
    channel vendor (median, p95); pauses by the stock guard; rollbacks."""
    deployments = ChannelDeployment.objects.select_related("version", "connection")
    if since is not None:
        deployments = deployments.filter(created_at__gte=since)
    targeted = on_time = stock_pauses = rollbacks = 0
    minutes: dict[str, list[float]] = {}
    window = dt.timedelta(minutes=on_time_minutes)
    for deployment in deployments:
        targeted += 1
        if deployment.acknowledged_at is not None and deployment.acknowledged_at - deployment.created_at <= window:
            on_time += 1
        if deployment.pause_reason == ChannelDeployment.PauseReason.STOCK_GUARD:
            stock_pauses += 1
        if deployment.state == ChannelDeployment.State.ROLLED_BACK:
            rollbacks += 1
        approved_at = deployment.version.approved_at
        if deployment.acknowledged_at is not None and approved_at is not None:
            delay = (deployment.acknowledged_at - approved_at).total_seconds() / 60
            minutes.setdefault(deployment.connection.vendor, []).append(max(delay, 0.0))
    accuracy = activation_accuracy(since=since)
    return PromotionKpis(
        channels_targeted=targeted,
        acknowledged_on_time=on_time,
        activation_accuracy=accuracy.share,
        on_time_minutes=on_time_minutes,
        offers_checked=accuracy.checked,
        offers_matching=accuracy.matching,
        approval_to_live_median_minutes={
            vendor: round(statistics.median(values), 1) for vendor, values in sorted(minutes.items())
        },
        approval_to_live_p95_minutes={
            vendor: round(_percentile(values, 0.95) or 0.0, 1) for vendor, values in sorted(minutes.items())
        },
        pauses_by_stock_guard=stock_pauses,
        rollbacks=rollbacks,
    )


@dataclass(frozen=True)
class DiscountFunding:
    version: PromotionVersion
    funding: str
    vendor_share: Decimal  # percent of the discount the vendor funds (0 for merchant-funded)


def _version_at(promotion: Promotion, at: dt.datetime | None) -> PromotionVersion | None:
    """The version the channels carried at `at`: the newest acknowledged before it, else the published one."""
    acknowledged = ChannelDeployment.objects.filter(promotion=promotion, acknowledged_at__isnull=False)
    if at is not None:
        acknowledged = acknowledged.filter(acknowledged_at__lte=at)
    row = acknowledged.select_related("version").order_by("-version__number").first()
    return row.version if row is not None else promotion.published_version


def discount_funding(*, code: str, promotion_id: str, at: dt.datetime | None) -> DiscountFunding | None:
    """Which published promotion an order's discount came from, by the channel's id for the
    promotion (a deployment's external id), the promotion key, or a coupon code of its version."""
    promotion = None
    if promotion_id:
        promotion = (
            Promotion.objects.filter(deployments__external_id=promotion_id).first()
            or Promotion.objects.filter(key=promotion_id).first()
        )
    if promotion is None and code:
        wanted = code.strip().upper()
        for candidate in Promotion.objects.filter(published_version__isnull=False).select_related("published_version"):
            codes = {c.upper() for c in (candidate.published_version.eligibility or {}).get("coupon_codes") or []}
            if wanted in codes:
                promotion = candidate
                break
    if promotion is None or promotion.published_version_id is None:
        return None
    version = _version_at(promotion, at)
    if version is None:
        return None
    share = Decimal(version.funding_share) if version.funding == Funding.VENDOR else Decimal(0)
    return DiscountFunding(version=version, funding=version.funding, vendor_share=share)


@dataclass(frozen=True)
class BudgetState:
    """A promotion's spend against its published version's budget and usage cap (issue 20)."""

    spent: Decimal
    discount: Decimal
    vendor_funded: Decimal
    redemptions: int
    budget: Decimal | None
    usage_limit: int | None
    reached_at: dt.datetime | None = None

    @property
    def budget_percent(self) -> float | None:
        return float(self.spent * 100 / self.budget) if self.budget else None

    @property
    def usage_percent(self) -> float | None:
        return self.redemptions * 100 / self.usage_limit if self.usage_limit else None

    @property
    def percent(self) -> float | None:
        """The fuller of the two (budget, cap); None when neither is set."""
        shares = [share for share in (self.budget_percent, self.usage_percent) if share is not None]
        return max(shares) if shares else None

    @property
    def bar_percent(self) -> int:
        return min(100, round(self.percent or 0))

    @property
    def reached_text(self) -> str:
        if self.budget_percent is not None and self.budget_percent >= 100:
            return f"budget {self.budget} reached (spent {self.spent})"
        return f"usage cap {self.usage_limit} reached ({self.redemptions} redemptions)"

    @property
    def summary(self) -> str:
        parts = []
        if self.budget is not None:
            parts.append(f"spent {self.spent} of a budget of {self.budget}")
        if self.usage_limit is not None:
            parts.append(f"{self.redemptions} of {self.usage_limit} redemptions")
        return "; ".join(parts) or "no budget or usage cap"

    def as_context(self) -> dict[str, str | int | None]:
        return {
            "spent": str(self.spent),
            "budget": str(self.budget) if self.budget is not None else None,
            "redemptions": self.redemptions,
            "usage_limit": self.usage_limit,
        }


def promotion_budget_state(*, promotion: Promotion) -> BudgetState:
    """Spend and redemptions over every version of the promotion (orders posted), against the
    published version's budget and cap (the current version's when nothing is published)."""
    totals = PromotionSpend.objects.filter(promotion=promotion).aggregate(
        total_spent=Sum("spend"),
        total_discount=Sum("discount"),
        total_vendor=Sum("vendor_funded"),
        redemptions=Count("order", distinct=True, filter=Q(discount__gt=0)),
    )
    version = promotion.published_version or promotion.current_version
    return BudgetState(
        spent=totals["total_spent"] or Decimal(0),
        discount=totals["total_discount"] or Decimal(0),
        vendor_funded=totals["total_vendor"] or Decimal(0),
        redemptions=totals["redemptions"] or 0,
        budget=version.budget if version is not None else None,
        usage_limit=version.usage_limit if version is not None else None,
        reached_at=promotion.budget_reached_at,
    )


def launch_next_due(*, promotion: Promotion) -> dt.datetime | None:
    """When a staged launch's next wave may go: the current wave's last acknowledgement plus the hold."""
    version = promotion.published_version
    if version is None:
        return None
    rows = [
        row
        for row in deployments_current(promotion=promotion)
        if row.version_id == version.pk and row.wave == promotion.launch_wave
    ]
    if not rows or any(row.acknowledged_at is None for row in rows):
        return None
    return max(row.acknowledged_at for row in rows) + dt.timedelta(minutes=version.wave_hold_minutes)


@dataclass(frozen=True)
class WaveView:
    number: int  # 1-based
    channels: list[tuple[str, str]]  # (channel name, deployment state)
    status: str  # sent, waiting, held


@dataclass(frozen=True)
class PromotionOverview:
    """What the board shows beside the channels: the budget bar and the staged launch."""

    budget: BudgetState
    waves: list[WaveView]
    launch_state: str
    launch_label: str
    halted_reason: str
    next_wave_at: dt.datetime | None


def promotion_overview(*, promotion: Promotion) -> PromotionOverview:
    version = promotion.published_version
    rows = [row for row in deployments_current(promotion=promotion) if version and row.version_id == version.pk]
    numbers = sorted({row.wave for row in rows})
    halted = promotion.launch_state == Promotion.Launch.HALTED
    waves = []
    for wave in numbers if len(numbers) > 1 else []:
        members = [row for row in rows if row.wave == wave]
        waiting = all(row.state == ChannelDeployment.State.WAITING for row in members)
        status = ("held" if halted else "waiting") if waiting else "sent"
        waves.append(WaveView(wave + 1, [(row.connection.name, row.state) for row in members], status))
    running = promotion.launch_state == Promotion.Launch.RUNNING
    return PromotionOverview(
        budget=promotion_budget_state(promotion=promotion),
        waves=waves,
        launch_state=promotion.launch_state,
        launch_label=promotion.get_launch_state_display(),
        halted_reason=promotion.launch_halted_reason,
        next_wave_at=launch_next_due(promotion=promotion) if running else None,
    )
