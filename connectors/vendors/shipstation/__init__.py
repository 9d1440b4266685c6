"""ShipStation (V1 REST API): a warehouse/3PL connector. Importing the package registers the adapter."""

from connectors.vendors.shipstation import adapter  # noqa: F401
