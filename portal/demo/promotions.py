"""Demo promotions in every status (seed_demo), made through the lifecycle services.

The demo has no real sales channel: its three channel connections are simulated (never polled), so
publishing does not send anything. What each channel answered is given here as data and recorded
through `deployment_record`, labelled as a recorded demo answer. Validation still asks the real
channel adapters what each channel can express; without them the demo says it skipped promotions.

Idempotent: a promotion whose key exists is left alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from connectors.models import Connection
from connectors.services import connection_create
from connectors.vendors.base import ChannelAck, LiveOffer
from promotions import deployment, lifecycle, validation
from promotions.models import ChannelDeployment, Promotion
from tenants.models import User

CHANNELS = (
    ("shopify", "Web store (simulated)", {"shop_domain": "demo-outfitters.myshopify.com", "api_version": "2025-07"}),
    ("woocommerce", "Outlet store (simulated)", {"store_url": "https://outlet.demo.test"}),
    ("square", "Stores POS (simulated)", {"environment": "sandbox", "location_ids": ["DEMO-LOC-1"]}),
)
DEMO_NOTE = "recorded demo answer, no real channel"


@dataclass(frozen=True)
class DemoPromotion:
    key: str
    name: str
    target: str  # the status the demo leaves it in
    value: str = "10"
    skus: tuple[str, ...] = ()
    days: tuple[int, int] = (1, 15)  # window from today
    funding: str = "merchant"
    # per vendor: (minutes from publish to the channel's answer, "ok" or an error message)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)


ALL_OK = {"shopify": (2, "ok"), "woocommerce": (4, "ok"), "square": (7, "ok")}
PROMOTIONS = (
    DemoPromotion("autumn-draft", "Autumn preview", "draft", skus=("JKT-OLV-M",)),
    DemoPromotion("socks-validated", "Socks 3 for 2 prep", "validated", value="15", skus=("SOCK-GRY-3",)),
    DemoPromotion("boots-submitted", "Boots 20% off", "submitted", value="20", skus=("BOOT-BRN-42",)),
    DemoPromotion("hats-approved", "Hats 10% off", "approved", skus=("HAT-WOOL-1",)),
    DemoPromotion("deep-cut-rejected", "Everything 60% off", "rejected", value="60", skus=("TEE-WHT-L",)),
    DemoPromotion("scarves-publishing", "Scarves 12% off", "published", value="12", skus=("SCF-RED-1",)),
    DemoPromotion(
        "tees-live",
        "Tees 15% off",
        "live",
        value="15",
        skus=("TEE-RED-M", "TEE-BLU-M"),
        funding="vendor",
        answers={"shopify": (1, "ok"), "woocommerce": (3, "ok"), "square": (26, "ok")},
    ),
    DemoPromotion(
        "denim-partial",
        "Denim 10% off",
        "partially_live",
        skus=("JEAN-IND-32",),
        answers={"shopify": (2, "ok"), "woocommerce": (5, "Coupon code DENIM10 already exists"), "square": (6, "ok")},
    ),
    DemoPromotion("bags-paused", "Bags 25% off", "paused", value="25", skus=("BAG-CNV-1",), answers=ALL_OK),
    DemoPromotion("summer-expired", "Summer clearance", "expired", value="30", skus=("SHRT-SUM-1",), answers=ALL_OK),
    DemoPromotion(
        "gloves-rolled-back", "Gloves 18% off", "rolled_back", value="18", skus=("GLV-LTH-M",), answers=ALL_OK
    ),
)


def demo_channels_ensure() -> list[Connection]:
    channels = []
    for vendor, name, config in CHANNELS:
        channel = Connection.objects.filter(name=name).first() or connection_create(
            vendor=vendor, name=name, config={**config, "simulated": True}
        )
        channels.append(channel)
    return channels


def _offer_shown(row: ChannelDeployment) -> LiveOffer:
    """The terms the recorded answer says the channel shows: the version's own (activation accuracy)."""
    spec = deployment.promotion_spec(row.version)
    return LiveOffer(
        kind=spec.kind,
        value=spec.value,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        eligibility={"skus": tuple(spec.skus), "min_spend": spec.min_spend},
    )


def _record_answers(promotion: Promotion, spec: DemoPromotion, deployments: list[ChannelDeployment]) -> None:
    for row in deployments:
        minutes, answer = spec.answers.get(row.connection.vendor, (3, "ok"))
        at = row.created_at + dt.timedelta(minutes=minutes)
        if answer == "ok":
            ack = ChannelAck(
                external_id=f"demo-{row.connection.vendor}-{promotion.key}",
                version=row.version.number,
                state="active",
                raw={"note": DEMO_NOTE},
                offer=_offer_shown(row),
            )
            deployment.deployment_record(deployment_id=row.pk, ack=ack, at=at)
        else:
            deployment.deployment_record(deployment_id=row.pk, ack=None, error=f"{answer} ({DEMO_NOTE})", at=at)


def _seed_one(
    spec: DemoPromotion, *, author: User, approver: User, channels: list[Connection], skus: tuple[str, ...]
) -> Promotion:
    now = timezone.now()
    starts, ends = spec.days
    promotion = lifecycle.promotion_create(
        key=spec.key,
        name=spec.name,
        channels=channels,
        actor=author,
        kind="percent_off",
        value=Decimal(spec.value),
        starts_at=now + dt.timedelta(days=starts),
        ends_at=now + dt.timedelta(days=ends),
        eligibility={"skus": list(skus)},
        # The demo promotions may share SKUs (the tenant's own SKU list): they stack with each other.
        stacking="stackable",
        stackable_with=[other.key for other in PROMOTIONS if other.key != spec.key],
        funding=spec.funding,
        funding_vendor_ref="ACME-APPAREL-CO" if spec.funding == "vendor" else "",
        funding_share=Decimal(50) if spec.funding == "vendor" else Decimal(100),
        pricing={sku: {"price": "40.00", "cost": "14.00"} for sku in skus},
    )
    if spec.target == "draft":
        return promotion
    lifecycle.promotion_validate(promotion=promotion, actor=author)
    if spec.target == "validated":
        return promotion
    lifecycle.promotion_submit(promotion=promotion, actor=author)
    if spec.target == "submitted":
        return promotion
    if spec.target == "rejected":
        return lifecycle.promotion_reject(
            promotion=promotion, actor=approver, reason="60% is below cost on most lines; try 30%."
        )
    lifecycle.promotion_approve(promotion=promotion, actor=approver)
    if spec.target == "approved":
        return promotion
    deployments = deployment.promotion_publish(promotion=promotion, actor=approver, dispatch=False)
    if spec.target == "published":
        return promotion  # still waiting for the channels' answers
    _record_answers(promotion, spec, deployments)
    if spec.target == "paused":
        deployment.promotion_pause(promotion=promotion, actor=None, actor_label="stock-guard", reason="stock_guard")
    elif spec.target == "rolled_back":
        deployment.promotion_rollback(promotion=promotion, actor=approver)
    elif spec.target == "expired":
        lifecycle.promotion_expire(promotion=promotion, now=now + dt.timedelta(days=ends, minutes=1))
    return promotion


def promotions_demo_seed(*, author: User, approver: User) -> str:
    """Seed the demo promotions in the current tenant schema; returns what it did, in words."""
    try:
        for vendor, _name, _config in CHANNELS:
            deployment.channel_adapter(vendor)
    except LookupError as error:
        return f"promotions skipped: {error}"
    channels = demo_channels_ensure()
    # When the tenant has a SKU list (inventory), promote its SKUs so validation finds them.
    known = sorted(validation.known_skus() or [])
    created = 0
    for index, spec in enumerate(PROMOTIONS):
        if Promotion.objects.filter(key=spec.key).exists():
            continue
        skus = (known[index % len(known)],) if known else spec.skus
        _seed_one(spec, author=author, approver=approver, channels=channels, skus=skus)
        created += 1
    return f"promotions: {created} created, {len(PROMOTIONS) - created} already there"
