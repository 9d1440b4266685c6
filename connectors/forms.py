"""Vendor-specific connection forms. Secrets are write-only: never rendered back, and a blank
secret field on edit keeps the stored value."""

from __future__ import annotations

import copy

from django import forms

from connectors.models import Connection

CONFIG_FIELDS: dict[str, list[tuple[str, forms.Field]]] = {
    "shopify": [
        ("shop_domain", forms.CharField(label="Shop domain", help_text="your-store.myshopify.com")),
        ("api_version", forms.CharField(label="API version", initial="2025-07", required=False)),
        (
            "sync_inventory",
            forms.BooleanField(label="Read inventory levels", required=False, help_text="Poll stock per location"),
        ),
    ],
    "woocommerce": [
        ("store_url", forms.URLField(label="Store URL", assume_scheme="https", help_text="https://shop.example.com"))
    ],
    "square": [
        ("location_ids", forms.CharField(label="Location ids", help_text="Comma-separated Square location ids")),
        (
            "environment",
            forms.ChoiceField(label="Environment", choices=[("production", "Production"), ("sandbox", "Sandbox")]),
        ),
        (
            "notification_url",
            forms.URLField(
                label="Notification URL",
                assume_scheme="https",
                required=False,
                help_text="Only if Square calls a proxy URL",
            ),
        ),
        (
            "sync_inventory",
            forms.BooleanField(label="Read inventory counts", required=False, help_text="Poll IN_STOCK counts"),
        ),
    ],
    "stripe": [
        ("api_version", forms.CharField(label="API version", initial="2024-06-20", required=False)),
        ("stripe_account", forms.CharField(label="Connected account (acct_…)", required=False)),
        (
            "role",
            forms.ChoiceField(
                label="Role",
                required=False,
                choices=[
                    ("", "Automatic: processor when a storefront is connected"),
                    ("processor", "Processor: settles the storefront's orders, books fees"),
                    ("sales_channel", "Sales channel: each charge is a sale"),
                ],
                help_text="Processor charges never book a sale; the storefront's order does.",
            ),
        ),
    ],
    "csv": [],
    "shipstation": [
        ("store_id", forms.CharField(label="Store id", required=False, help_text="ShipStation store for our orders")),
        ("warehouse_id", forms.CharField(label="Ship-from warehouse id", required=False)),
    ],
}
CREDENTIAL_FIELDS: dict[str, list[tuple[str, str]]] = {
    "shopify": [("access_token", "Admin API access token")],
    "woocommerce": [("consumer_key", "Consumer key"), ("consumer_secret", "Consumer secret")],
    "square": [("access_token", "Access token")],
    "stripe": [("secret_key", "Secret or restricted key")],
    "csv": [],
    "shipstation": [("api_key", "API key"), ("api_secret", "API secret")],
}
WEBHOOK_SECRET_LABEL = {
    "shopify": "App client secret (signs webhooks)",
    "woocommerce": "Webhook secret (as entered in WooCommerce)",
    "square": "Webhook signature key",
    "stripe": "Webhook signing secret (whsec_…)",
}
SOURCE_VENDOR_CHOICES = [(vendor, Connection.Vendor(vendor).label) for vendor in CONFIG_FIELDS]


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=120)
    sync_interval_minutes = forms.IntegerField(label="Sync every (minutes)", min_value=1, max_value=1440, initial=15)

    def __init__(self, *args, vendor: str, connection: Connection | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.vendor = vendor
        self.connection = connection
        for name, field in CONFIG_FIELDS[vendor]:
            self.fields[f"config_{name}"] = copy.deepcopy(field)
        for name, label in CREDENTIAL_FIELDS[vendor]:
            self.fields[f"secret_{name}"] = forms.CharField(
                label=label,
                required=False,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text="Stored encrypted; leave blank to keep the current value." if connection else "",
            )
        if vendor in WEBHOOK_SECRET_LABEL:
            self.fields["webhook_secret"] = forms.CharField(
                label=WEBHOOK_SECRET_LABEL[vendor],
                required=False,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text="Leave blank to keep the current value." if connection else "",
            )
        if connection is not None and not self.is_bound:
            self.initial.update({"name": connection.name, "sync_interval_minutes": connection.sync_interval_minutes})
            for name, _field in CONFIG_FIELDS[vendor]:
                value = connection.config.get(name, "")
                self.initial[f"config_{name}"] = ", ".join(value) if isinstance(value, list) else value

    def config(self) -> dict:
        config = dict(self.connection.config) if self.connection else {}
        for name, _field in CONFIG_FIELDS[self.vendor]:
            value = self.cleaned_data.get(f"config_{name}") or ""
            if name == "location_ids":
                config[name] = [part.strip() for part in value.split(",") if part.strip()]
            elif value:
                config[name] = value
            else:
                config.pop(name, None)
        return config

    def credentials(self) -> dict:
        return {name: self.cleaned_data.get(f"secret_{name}") or "" for name, _label in CREDENTIAL_FIELDS[self.vendor]}


class BackfillForm(forms.Form):
    since = forms.DateField(label="Backfill from", widget=forms.DateInput(attrs={"type": "date"}))


class UploadForm(forms.Form):
    topic = forms.ChoiceField(
        choices=[
            ("orders", "Orders"),
            ("payouts", "Payouts"),
            ("inventory", "Inventory levels"),
            ("shipments", "Ship confirmations"),
        ]
    )
    file = forms.FileField()
