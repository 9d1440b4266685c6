"""Does the offer a channel shows match the approved version? The activation-accuracy KPI and the
drift check (promotions/drift.py) rest on this comparison of a channel's read-back (`LiveOffer`,
filled by each channel adapter) with the version's `PromotionSpec`: the type, the amount, the
eligibility (SKUs, categories, collections, coupon codes, locations, minimum spend) and the window.
How fast the channel took it is not part of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connectors.vendors.base import ChannelAck, LiveOffer, PromotionSpec
from promotions.models import ChannelDeployment

# Channels store times to the second (Square in local time without fractions).
WINDOW_TOLERANCE = dt.timedelta(seconds=1)
_SETS = ("skus", "categories", "collections", "locations")


def _strings(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({str(value) for value in values}))


def _approved(spec: PromotionSpec, name: str) -> Any:
    return {
        "skus": _strings(spec.skus),
        "categories": _strings(spec.categories),
        "collections": _strings(spec.collections),
        "locations": _strings(spec.location_ids),
        "coupon_codes": _strings(code.upper() for code in spec.coupon_codes),
        "min_spend": spec.min_spend,
    }.get(name)


def _text(value: Any) -> str:
    if value is None or value == ():
        return "none"
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _differs(name: str, shown: Any, approved: Any) -> str:
    return f"{name.replace('_', ' ')}: the channel shows {_text(shown)}, the approved version {_text(approved)}"


def _window_differences(spec: PromotionSpec, offer: LiveOffer) -> list[str]:
    found = []
    for name in ("starts_at", "ends_at"):
        if name in offer.unreported:
            continue
        shown, approved = getattr(offer, name), getattr(spec, name)
        same = (shown is None and approved is None) or (
            shown is not None and approved is not None and abs(shown - approved) < WINDOW_TOLERANCE
        )
        if not same:
            found.append(_differs(name, shown, approved))
    return found


def _eligibility_differences(spec: PromotionSpec, offer: LiveOffer) -> list[str]:
    found = []
    for name, shown in sorted(offer.eligibility.items()):
        approved = _approved(spec, name)
        if name in _SETS:
            shown = _strings(shown)
        elif name == "coupon_codes":
            if not spec.coupon_codes:
                continue  # the channel needed a code of its own making (e.g. PROMO-42): any code will do
            shown = _strings(str(code).upper() for code in shown)
        elif name != "min_spend":
            continue
        if shown != approved:
            found.append(_differs(name, shown, approved))
    return found


def offer_differences(*, spec: PromotionSpec, offer: LiveOffer) -> list[str]:
    """What the live offer shows differently from the approved version, in words (empty: it matches)."""
    found = []
    if offer.kind != spec.kind:
        found.append(_differs("type", offer.kind.replace("_", " "), spec.kind.replace("_", " ")))
    elif spec.kind != "free_shipping" and "value" not in offer.unreported and offer.value != spec.value:
        found.append(_differs("amount", offer.value, spec.value))
    return found + _eligibility_differences(spec, offer) + _window_differences(spec, offer)


def offer_record(
    *, deployment: ChannelDeployment, ack: ChannelAck, spec: PromotionSpec, at: dt.datetime
) -> list[str] | None:
    """Keep on the deployment (not saved here) whether the channel's live offer matches `spec`.
    Only an active offer carrying the deployment's version is compared; None when the read-back
    has no terms to compare (the channel or adapter reports none) or the offer is not live."""
    if ack.offer is None or ack.state != "active" or ack.version != spec.version:
        return None
    differences = offer_differences(spec=spec, offer=ack.offer)
    deployment.offer_matches = not differences
    deployment.offer_checked_at = at
    deployment.offer_differences = differences
    return differences
