from zoneinfo import available_timezones

from django import forms

from tenants.models import Tenant
from tenants.onboarding import CHART_CHOICES, CHART_STANDARD


class PartnerCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=50, help_text="Lower-case letters, digits and hyphens.")
    domain = forms.CharField(max_length=253, help_text="The partner console's host, e.g. northwind.localhost")
    support_email = forms.EmailField(required=False)


class TenantCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=40, help_text="Becomes the sub-domain: <slug>.<your domain>.")
    domain = forms.CharField(
        max_length=253,
        required=False,
        help_text="Leave empty for <slug>.<your domain>; or a host under a custom domain you have verified.",
    )
    timezone = forms.ChoiceField(choices=[], initial="UTC")
    base_currency = forms.CharField(max_length=3, initial="USD")
    plan = forms.ChoiceField(choices=Tenant.Plan.choices, initial=Tenant.Plan.STARTER)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(available_timezones())]

    def clean_base_currency(self) -> str:
        return self.cleaned_data["base_currency"].upper()


class TenantWizardForm(TenantCreateForm):
    """The new-tenant wizard: the tenant itself, its chart template, and who runs it."""

    STEPS = (
        ("Customer", ("name", "slug", "plan")),
        ("Domain and locale", ("domain", "timezone", "base_currency")),
        ("Chart of accounts", ("chart",)),
        ("First administrator", ("admin_email", "admin_name")),
    )
    chart = forms.ChoiceField(choices=CHART_CHOICES, initial=CHART_STANDARD, widget=forms.RadioSelect)
    admin_email = forms.EmailField(required=False, help_text="Receives an invitation to set a password.")
    admin_name = forms.CharField(max_length=120, required=False)

    def steps(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.STEPS]


class BrandForm(forms.Form):
    name = forms.CharField(max_length=120)
    primary_colour = forms.CharField(max_length=7, widget=forms.TextInput(attrs={"type": "color"}))
    accent_colour = forms.CharField(max_length=7, widget=forms.TextInput(attrs={"type": "color"}))
    support_email = forms.EmailField(required=False)
    sender_name = forms.CharField(max_length=120, required=False)
    logo = forms.FileField(required=False, help_text="PNG, JPEG, WebP or GIF; at most 512 KB and 2048 px.")


class TenantActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("suspend", "Suspend"), ("resume", "Resume"), ("delete", "Delete")])
    confirm_slug = forms.CharField(required=False)


class CustomDomainForm(forms.Form):
    domain = forms.CharField(
        max_length=253, help_text="A domain you control, e.g. shops.example.com. Tenants can then live under it."
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        max_length=80, required=False, help_text='An action, or a prefix ending in "." (e.g. "connection.").'
    )
    actor = forms.CharField(max_length=120, required=False, help_text="Part of an email or an api-key label.")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tenant = forms.SlugField(max_length=40, required=False)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data
