from django import forms

from commerce.inventory import channel_vendors
from commerce.models import QUANTITY, InventoryLocation
from connectors.models import Connection


class SafetyStockForm(forms.Form):
    location = forms.ModelChoiceField(queryset=InventoryLocation.objects.order_by("name", "external_id"))
    sku = forms.CharField(max_length=120, label="SKU")
    quantity = forms.DecimalField(
        **QUANTITY,
        min_value=0,
        required=False,
        label="Safety stock",
        help_text="Blank: the location's default.",
    )


class LocationForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(
        choices=InventoryLocation.Kind.choices, help_text="Online orders without a store draw from the web location."
    )
    safety_stock_default = forms.DecimalField(
        **QUANTITY, min_value=0, label="Default safety stock", help_text="For every SKU here."
    )


class ChannelLocationForm(forms.Form):
    channel_connection = forms.ModelChoiceField(queryset=None, label="Sales channel")
    channel_location_id = forms.CharField(
        max_length=120, label="Channel's location id", help_text="e.g. the Shopify location id or Square location id"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel_connection"].queryset = Connection.objects.filter(
            vendor__in=channel_vendors(), direction=Connection.Direction.SOURCE
        ).order_by("name")
