from django import forms

from commerce.models import InventoryLocation


class SafetyStockForm(forms.Form):
    location = forms.ModelChoiceField(queryset=InventoryLocation.objects.none())
    sku = forms.CharField(max_length=120, label="SKU")
    quantity = forms.DecimalField(
        max_digits=14,
        decimal_places=3,
        min_value=0,
        required=False,
        label="Safety stock",
        help_text="Blank: the location's default.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = InventoryLocation.objects.order_by("name", "external_id")
