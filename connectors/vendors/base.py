"""The one small interface every source adapter implements (DESIGN.md §2, issue 6).

An adapter is stateless: it gets the connection (config, credentials) and an HTTP client, and
turns vendor bytes into canonical documents. It never writes to the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from commerce.documents import CanonicalInventoryLevel, CanonicalOrder, CanonicalPayout, CanonicalRefund

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

    def normalise(self, *, topic: str, payload: Any, connection: Connection) -> list[Document]:
        raise NormaliseError(f"Topic {topic!r} is not handled by {self.vendor}.")

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        raise NormaliseError(f"{self.vendor} cannot be polled.")

    def connection_test(self, *, connection: Connection) -> str:
        """Call the vendor with the stored credentials; return a short description or raise ConnectorError."""
        raise NormaliseError(f"{self.vendor} has no API to test.")
