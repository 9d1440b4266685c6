"""The CSV drop's source adapter: files uploaded on the connection page, no API and no webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import Adapter, Document
from connectors.vendors.csvdrop import normalise


class CsvAdapter(Adapter):
    vendor = Connection.Vendor.CSV
    topics = ("orders", "payouts", "inventory", "shipments")
    inventory_topics = ("inventory",)
    supports_webhooks = False

    def normalise(
        self, *, topic: str, payload: Any, connection: Connection, fetched: Mapping[str, Any]
    ) -> list[Document]:
        return normalise.normalise(topic=topic, payload=payload)

    def connection_test(self, *, connection: Connection) -> str:
        return "CSV connections need no credentials: upload a file on the connection page."


adapter_register(CsvAdapter())
