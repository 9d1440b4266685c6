"""The two small interfaces every vendor package implements (DESIGN.md §2, issues 6, 8 and 16).

A source `Adapter` is stateless: it gets the connection (config, credentials) and an HTTP client,
fetches what an event needs (`prefetch`, outside any transaction) and turns vendor bytes into
canonical documents (`normalise`, pure). It never writes to the database.

A `ChannelAdapter` is the contract between the promotions/inventory services and each sales
channel: services turn a `PromotionVersion` (or a price list, or an ATS figure) into the plain values
below and hand them to the channel's adapter; adapters never touch the database. Every call returns
what the channel acknowledged, read back from the channel itself, so the services record the
channel's truth rather than the request they sent."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from commerce.documents import (
    CanonicalInventoryLevel,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    ShipToDoc,
)

if TYPE_CHECKING:
    from connectors.models import Connection
    from core.http.client import VendorClient

Document = CanonicalOrder | CanonicalRefund | CanonicalPayout | CanonicalInventoryLevel


class WebhookRejected(Exception):
    """The request is not a genuine, acceptable webhook. `status` is what the sender gets."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NormaliseError(Exception):
    """The payload cannot become canonical documents (missing field, unknown currency…)."""


class DependencyMissing(Exception):
    """The event depends on a document not stored yet (a refund before its order): retried later."""

    cause = "dependency_missing"


@dataclass(frozen=True)
class Record:
    """One record of a polled page, stored as an InboundEvent exactly like a webhook body."""

    topic: str
    external_id: str
    body: bytes


@dataclass(frozen=True)
class Page:
    """One page of a topic. `cursor` is where the next page starts (saved after the page is stored);
    `done` says the topic is exhausted for this run, and `cursor` then holds the next run's start."""

    records: Sequence[Record]
    cursor: dict
    done: bool


@dataclass(frozen=True)
class WebhookIdentity:
    topic: str
    external_id: str
    metadata: dict = field(default_factory=dict)


class Adapter:
    vendor: ClassVar[str]
    # Topics this adapter normalises (webhook and poll), and the subset it polls, in order.
    topics: ClassVar[tuple[str, ...]]
    poll_topics: ClassVar[tuple[str, ...]] = ()
    supports_webhooks: ClassVar[bool] = True
    # The credential fields the add/edit form asks for (never shown back).
    credential_fields: ClassVar[tuple[str, ...]] = ()
    config_fields: ClassVar[tuple[str, ...]] = ()

    # The header a webhook names its topic in (a saved payload has no headers: the topic is given).
    topic_header: ClassVar[str] = ""

    # Topics carrying stock levels: their failures are inventory exceptions (issue 8).
    inventory_topics: ClassVar[tuple[str, ...]] = ()

    def poll_topics_for(self, connection: Connection) -> tuple[str, ...]:
        """The topics to poll for this connection (inventory only when its config asks for it)."""
        return self.poll_topics

    def config_validate(self, config: Mapping[str, Any]) -> None:
        """Raise django ValidationError for a config this adapter cannot work with."""

    def client(self, connection: Connection) -> VendorClient:
        raise WebhookRejected("This vendor has no API client.", status=404)

    def webhook_ping(self, *, body: bytes, headers: Mapping[str, str]) -> bool:
        """True for a vendor's unsigned "is this URL alive" request (answered 200, not stored)."""
        return False

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        """Raise WebhookRejected unless the signature over `body` is genuine."""
        raise WebhookRejected("This vendor does not send webhooks.", status=404)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        raise WebhookRejected("This vendor does not send webhooks.", status=404)

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        """The identity of a saved payload (`ingest_file`): by default what its webhook would say,
        with the topic given where the webhook carries it in a header; adapters whose API objects
        differ from their webhook bodies accept those too."""
        headers = {self.topic_header: topic} if self.topic_header else {}
        return self.webhook_identify(body=b"", payload=payload, headers=headers)

    def prefetch(self, *, topic: str, payload: Any, connection: Connection) -> dict[str, Any]:
        """Everything `normalise` needs besides the payload (vendor API reads, stored documents it
        refers to). Called before the inbox opens its transaction, so no lock waits on the network;
        raises DependencyMissing, NormaliseError or ConnectorError like `normalise` would."""
        return {}

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        """The payload's canonical documents: pure (no I/O, no queries), given what `prefetch` read."""
        raise NormaliseError(f"Topic {topic!r} is not handled by {self.vendor}.")

    def ship_to(self, *, topic: str, payload: Any) -> ShipToDoc | None:
        """The shipping address of an order payload as stored (pure), None when it has none."""
        return None

    def documents(self, *, topic: str, payload: Any, connection: Connection) -> list[Document]:
        """Prefetch, then normalise: for callers that hold no lock (a saved file, a test)."""
        fetched = self.prefetch(topic=topic, payload=payload, connection=connection)
        return self.normalise(topic=topic, payload=payload, connection=connection, fetched=fetched)

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        raise NormaliseError(f"{self.vendor} cannot be polled.")

    def connection_test(self, *, connection: Connection) -> str:
        """Call the vendor with the stored credentials; return a short description or raise ConnectorError."""
        raise NormaliseError(f"{self.vendor} has no API to test.")


class PackageAdapter(Adapter):
    """A source adapter made of the modules of its vendor package (`connectors/vendors/<vendor>/`,
    the package its class is defined in): `client` (config_validate, client, connection_test),
    `webhooks` (webhook_verify, webhook_identify and, where the vendor has them, file_identify and
    webhook_ping), `polling` (fetch_page) and `normalise` (pure). A vendor's adapter adds what it
    reads in `prefetch`."""

    def _module(self, concern: str) -> ModuleType:
        return importlib.import_module(f"{type(self).__module__.rpartition('.')[0]}.{concern}")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        self._module("client").config_validate(config)

    def client(self, connection: Connection) -> VendorClient:
        return self._module("client").client(connection)

    def connection_test(self, *, connection: Connection) -> str:
        return self._module("client").connection_test(connection=connection)

    def webhook_ping(self, *, body: bytes, headers: Mapping[str, str]) -> bool:
        ping = getattr(self._module("webhooks"), "webhook_ping", None)
        return ping(body=body, headers=headers) if ping else False

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        self._module("webhooks").webhook_verify(connection=connection, body=body, headers=headers, url=url)

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        return self._module("webhooks").webhook_identify(body=body, payload=payload, headers=headers)

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        identify = getattr(self._module("webhooks"), "file_identify", None)
        return (
            identify(topic=topic, payload=payload) if identify else super().file_identify(topic=topic, payload=payload)
        )

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        return self._module("normalise").normalise(topic=topic, payload=payload, fetched=fetched)

    def ship_to(self, *, topic: str, payload: Any) -> ShipToDoc | None:
        ship_to = getattr(self._module("normalise"), "ship_to", None)
        return ship_to(topic=topic, payload=payload) if ship_to else None

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        return self._module("polling").fetch_page(
            connection=connection, client=client, topic=topic, cursor=cursor, since=since
        )


class ChannelRejected(Exception):
    """The channel refused the request (validation error, unsupported feature, unknown SKU).
    Not retryable as it stands: a person must change the promotion or the channel's data."""

    def __init__(self, message: str, *, detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = dict(detail or {})


class ChannelUnsupported(ChannelRejected):
    """The promotion uses a feature this channel's adapter cannot express (checked at validate)."""


@dataclass(frozen=True)
class PromotionSpec:
    """One version of a promotion as a channel needs it. Amounts are Decimal in the tenant currency."""

    key: str  # stable per promotion across versions, e.g. "promo-42"; adapters tag the channel object with it
    version: int  # the PromotionVersion number; adapters store it on the channel object so read-back shows it
    title: str
    kind: str  # percent_off | amount_off | fixed_price | buy_x_get_y | free_shipping | bundle
    value: Decimal  # percent (0 to 100) for percent_off, money otherwise; 0 for free_shipping
    currency: str
    starts_at: dt.datetime  # aware
    ends_at: dt.datetime | None
    skus: Sequence[str] = ()
    categories: Sequence[str] = ()
    collections: Sequence[str] = ()
    coupon_codes: Sequence[str] = ()
    min_spend: Decimal | None = None
    buy_quantity: int | None = None  # buy_x_get_y / bundle
    get_quantity: int | None = None
    location_ids: Sequence[str] = ()  # POS locations in scope (Square); empty = all
    usage_limit: int | None = None
    exclusive: bool = False


@dataclass(frozen=True)
class PriceSpec:
    """A price list version: the price each SKU should show from `starts_at`."""

    key: str
    version: int
    currency: str
    starts_at: dt.datetime
    prices: Mapping[str, Decimal]  # sku -> price


@dataclass(frozen=True)
class LiveOffer:
    """The terms of the offer a channel really shows, read back from it, in `PromotionSpec` terms,
    so promotions can compare them with the approved version (promotions/accuracy.py).

    `eligibility` holds only what the channel reports, under the spec's names: "skus",
    "categories", "collections", "coupon_codes", "locations" (sorted tuples of strings) and
    "min_spend" (Decimal or None). `unreported` names the fields the channel does not hold at all
    (a WooCommerce coupon has no start), which are then not compared."""

    kind: str
    value: Decimal
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    eligibility: Mapping[str, Any] = field(default_factory=dict)
    unreported: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ChannelAck:
    """What the channel holds after a call, read back from it."""

    external_id: str  # the channel's id for the object (price rule id, coupon id, catalog object id)
    version: int | None  # the version the channel reports holding (from the tag the adapter wrote)
    state: str  # "active" | "paused" | "absent"
    raw: Mapping[str, Any] = field(default_factory=dict)
    offer: LiveOffer | None = None  # the live offer's terms, where the adapter reads them back


class ChannelAdapter:
    vendor: ClassVar[str]
    # Promotion kinds this channel can express, and optional features ("pause", "prices", "inventory").
    kinds: ClassVar[frozenset[str]] = frozenset()
    features: ClassVar[frozenset[str]] = frozenset()

    def unsupported(self, spec: PromotionSpec) -> list[str]:
        """Reasons this channel cannot carry `spec` (empty when it can). Used by validation."""
        reasons = []
        if spec.kind not in self.kinds:
            reasons.append(f"{self.vendor} cannot express a {spec.kind.replace('_', ' ')} promotion")
        return reasons

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        """Create (external_id None) or update the channel object so it carries `spec`; return the read-back."""
        raise ChannelUnsupported(f"{self.vendor} does not take promotions")

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot pause a promotion")

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot resume a promotion")

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        """Take the promotion off the channel entirely (rollback of a first deployment)."""
        raise ChannelUnsupported(f"{self.vendor} cannot remove a promotion")

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot read promotions back")

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        """Set each SKU's price; return the prices the channel shows afterwards (sku -> price)."""
        raise ChannelUnsupported(f"{self.vendor} does not take price lists")

    def push_available(
        self, connection: Connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        """Set available-to-sell per (sku, channel location id); return what the channel now shows."""
        raise ChannelUnsupported(f"{self.vendor} does not take inventory")
