"""ERP connections for tests (tenant schema: use inside tenant_context), built with the
connectors app's own factory."""

from __future__ import annotations

from connectors.models import Connection
from tests.connectors.factories import ConnectionFactory


def erp_connection(
    *, vendor: str, config: dict | None = None, credentials: dict | None = None, name: str = ""
) -> Connection:
    return ConnectionFactory(
        vendor=vendor,
        direction=Connection.Direction.ERP,
        name=name or f"Acme {vendor}",
        config=config or {},
        secrets={"credentials": credentials or {}, "webhook_secret": ""},
    )
