"""A Stripe connection's role (DESIGN.md §4): the payment processor of a storefront's orders, or
the sales channel of a merchant who sells through Stripe alone."""

from __future__ import annotations

from connectors.models import Connection

STRIPE_ROLE_PROCESSOR = "processor"
STRIPE_ROLE_SALES_CHANNEL = "sales_channel"
STRIPE_ROLES = (STRIPE_ROLE_PROCESSOR, STRIPE_ROLE_SALES_CHANNEL)
STOREFRONT_VENDORS = (Connection.Vendor.SHOPIFY, Connection.Vendor.WOOCOMMERCE, Connection.Vendor.SQUARE)


def stripe_role(*, connection: Connection) -> str:
    """The role of a Stripe connection (DESIGN.md §4): `processor` when Stripe only takes the
    payments of a storefront's orders, `sales_channel` when the merchant sells through Stripe alone.
    The connection's `config["role"]` decides when set; otherwise `processor` as soon as the
    tenant has a storefront connection (Shopify, WooCommerce, Square), else `sales_channel`."""
    explicit = (connection.config or {}).get("role")
    if explicit in STRIPE_ROLES:
        return explicit
    storefront = Connection.objects.filter(vendor__in=STOREFRONT_VENDORS, direction=Connection.Direction.SOURCE)
    return STRIPE_ROLE_PROCESSOR if storefront.exists() else STRIPE_ROLE_SALES_CHANNEL
