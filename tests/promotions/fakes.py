"""A recording channel: a real `ChannelAdapter` that keeps its objects in memory, reads them back
like a channel would, and can be told to refuse the next calls."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from connectors.vendors.base import ChannelAck, ChannelAdapter, ChannelRejected, LiveOffer, PriceSpec, PromotionSpec

_IDS = itertools.count(1000)


@dataclass
class StoredObject:
    version: int
    state: str
    spec: PromotionSpec


@dataclass
class FakeChannel(ChannelAdapter):
    vendor: str = "shopify"
    kinds: frozenset[str] = frozenset({"percent_off", "amount_off", "fixed_price", "free_shipping", "buy_x_get_y"})
    features: frozenset[str] = frozenset({"pause", "prices"})
    prices: dict[str, Decimal] = field(default_factory=dict)
    price_override: dict[str, Decimal] = field(default_factory=dict)  # prices the channel shows regardless
    objects: dict[str, StoredObject] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    refuse: str = ""  # a message: every call is refused with it while set
    report_version: int | None = None  # when set, read-back reports this version (a stale channel)
    # Terms the channel shows instead of the stored spec's (someone edited the offer in the channel).
    offer_override: dict = field(default_factory=dict)
    # Like a WooCommerce coupon: no start date, so a version published before its start is a draft.
    drafts_early: bool = False

    def _check(self, call: str, external_id: str = "") -> None:
        self.calls.append((call, external_id))
        if self.refuse:
            raise ChannelRejected(self.refuse, detail={"call": call})

    def _ack(self, external_id: str) -> ChannelAck:
        stored = self.objects.get(external_id)
        if stored is None:
            return ChannelAck(external_id=external_id, version=None, state="absent")
        version = self.report_version if self.report_version is not None else stored.version
        return ChannelAck(external_id=external_id, version=version, state=stored.state, offer=self._offer(stored.spec))

    def _offer(self, spec: PromotionSpec) -> LiveOffer:
        """What the channel shows: the spec's terms, except what `offer_override` changed."""
        terms = {
            "kind": spec.kind,
            "value": spec.value,
            "starts_at": spec.starts_at,
            "ends_at": spec.ends_at,
            "eligibility": {
                "skus": tuple(spec.skus),
                "categories": tuple(spec.categories),
                "coupon_codes": tuple(spec.coupon_codes),
                "min_spend": spec.min_spend,
            },
        }
        terms.update(self.offer_override)
        return LiveOffer(**terms)

    def publish(self, connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        self._check("publish", external_id or "")
        external_id = external_id if external_id in self.objects else f"{self.vendor}-{next(_IDS)}"
        early = self.drafts_early and spec.starts_at > timezone.now()
        self.objects[external_id] = StoredObject(version=spec.version, state="paused" if early else "active", spec=spec)
        return self._ack(external_id)

    def pause(self, connection, external_id: str) -> ChannelAck:
        self._check("pause", external_id)
        self.objects[external_id].state = "paused"
        return self._ack(external_id)

    def resume(self, connection, external_id: str) -> ChannelAck:
        self._check("resume", external_id)
        self.objects[external_id].state = "active"
        return self._ack(external_id)

    def remove(self, connection, external_id: str) -> ChannelAck:
        self._check("remove", external_id)
        self.objects.pop(external_id, None)
        return self._ack(external_id)

    def read_back(self, connection, external_id: str) -> ChannelAck:
        return self._ack(external_id)

    def publish_prices(self, connection, spec: PriceSpec) -> dict[str, Decimal]:
        self._check("publish_prices", spec.key)
        self.prices.update(spec.prices)
        self.prices.update(self.price_override)
        return {sku: self.prices[sku] for sku in spec.prices}

    def active(self) -> dict[str, tuple[int, str]]:
        return {key: (obj.version, obj.state) for key, obj in self.objects.items()}
