from django import forms

from commerce.models import InventoryLocation


class RoutingRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    priority = forms.IntegerField(min_value=0, initial=100, help_text="Lower numbers are tried first.")
    location = forms.ModelChoiceField(
        queryset=InventoryLocation.objects.order_by("name", "external_id"), label="Ship from"
    )
    countries = forms.CharField(
        required=False, help_text="Comma-separated ISO country codes (US, GB). Blank: any destination."
    )
    regions = forms.CharField(required=False, help_text="Comma-separated region/state codes. Blank: any.")
    skus = forms.CharField(
        required=False, label="SKUs", widget=forms.Textarea(attrs={"rows": 2}), help_text="Blank: every SKU."
    )
    fulfilment_connection = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Warehouse system", help_text="Where requests are sent."
    )
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, warehouse_systems: list[tuple[int, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fulfilment_connection"].choices = [("", "None: shipped by hand"), *warehouse_systems]
