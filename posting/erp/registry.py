"""Which adapter serves which vendor: the one table the push pipeline and the screens read."""

from __future__ import annotations

from posting.erp.base import ErpAdapter
from posting.erp.erpnext import ErpNextAdapter
from posting.erp.ledger import BuiltinLedgerAdapter
from posting.erp.netsuite import NetSuiteAdapter
from posting.erp.oauth import OAuth2Adapter
from posting.erp.odoo import OdooAdapter
from posting.erp.quickbooks import QuickBooksAdapter
from posting.erp.xero import XeroAdapter

ADAPTERS: dict[str, type[ErpAdapter]] = {
    adapter.vendor: adapter
    for adapter in (BuiltinLedgerAdapter, OdooAdapter, ErpNextAdapter, QuickBooksAdapter, XeroAdapter, NetSuiteAdapter)
}

# What a person fills in to set a connection up: (name, label, secret?)
FIELDS: dict[str, list[tuple[str, str, bool]]] = {
    "odoo": [
        ("base_url", "Odoo URL", False),
        ("database", "Database", False),
        ("username", "Login", False),
        ("journal_id", "Journal id (optional)", False),
        ("api_key", "API key", True),
    ],
    "erpnext": [
        ("base_url", "Site URL", False),
        ("company", "Company", False),
        ("cost_center", "Default cost center", False),
        ("api_key", "API key", True),
        ("api_secret", "API secret", True),
    ],
    "quickbooks": [
        ("environment", "Environment (production or sandbox)", False),
        ("client_id", "Client id", False),
        ("client_secret", "Client secret", True),
    ],
    "xero": [("client_id", "Client id", False), ("client_secret", "Client secret (optional with PKCE)", True)],
    "netsuite": [
        ("account_id", "Account id (e.g. 1234567_SB1)", False),
        ("subsidiary_id", "Subsidiary id", False),
        ("currency_id", "Currency id (optional)", False),
        ("consumer_key", "Consumer key", True),
        ("consumer_secret", "Consumer secret", True),
        ("token_id", "Token id", True),
        ("token_secret", "Token secret", True),
    ],
}


def describe(vendor: str) -> dict[str, object]:
    """What templates show about an ERP (templates would call a class, so they get plain values)."""
    adapter = adapter_class(vendor)
    return {
        "vendor": adapter.vendor,
        "label": adapter.label,
        "notes": adapter.capabilities.notes,
        "oauth": issubclass(adapter, OAuth2Adapter),
        "native_reversal": adapter.capabilities.native_reversal,
    }


def adapter_class(vendor: str) -> type[ErpAdapter]:
    try:
        return ADAPTERS[vendor]
    except KeyError:
        raise ValueError(f"{vendor!r} is not an ERP this portal can post to.") from None
