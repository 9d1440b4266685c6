"""Portal forms for promotions: shape only; the lifecycle rules are the services'."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from connectors.models import Connection
from core.forms import UploadField
from core.models import MONEY
from promotions.models import SALES_CHANNEL_VENDORS, Fallback, Funding, Kind, Stacking


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class PromotionForm(forms.Form):
    key = forms.SlugField(max_length=60, help_text="Short key tagged on every channel object, e.g. spring-tees.")
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Kind.choices, label="Type")
    value = forms.DecimalField(**MONEY, help_text="Percent, or an amount in the shop currency.")
    buy_quantity = forms.IntegerField(min_value=1, required=False)
    get_quantity = forms.IntegerField(min_value=1, required=False)
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Starts")
    ends_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Ends", required=False
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Connection.objects.none(), widget=forms.CheckboxSelectMultiple, label="Sales channels"
    )
    skus = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Comma-separated.")
    categories = forms.CharField(required=False)
    collections = forms.CharField(required=False)
    coupon_codes = forms.CharField(required=False)
    customer_segment = forms.CharField(required=False, max_length=120)
    min_spend = forms.DecimalField(**MONEY, required=False)
    locations = forms.CharField(required=False, help_text="POS location ids; empty = all.")
    exclude_skus = forms.CharField(required=False, label="Excluded SKUs")
    stacking = forms.ChoiceField(choices=Stacking.choices)
    stackable_with = forms.CharField(required=False, help_text="Promotion keys this one stacks with.")
    priority = forms.IntegerField(initial=0, min_value=-1000, max_value=1000)
    funding = forms.ChoiceField(choices=Funding.choices)
    funding_vendor_ref = forms.CharField(required=False, max_length=120, label="Vendor reference")
    funding_share = forms.DecimalField(max_digits=5, decimal_places=2, initial=Decimal(100), label="Vendor share %")
    budget = forms.DecimalField(**MONEY, required=False)
    usage_limit = forms.IntegerField(min_value=1, required=False)
    stock_threshold = forms.IntegerField(min_value=0, required=False, help_text="Pause when ATS falls below this.")
    pricing = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One line per SKU: SKU,list price,unit cost (for the cost-floor check).",
    )
    fallback = forms.ChoiceField(
        choices=Fallback.choices,
        initial=Fallback.KEEP_OTHERS,
        required=False,
        label="When a channel rejects an update",
    )
    waves = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Staged launch waves",
        help_text="One line per wave, channel names comma-separated (e.g. the web store first, then the "
        "marketplaces). Empty: every channel at once.",
    )
    wave_hold_minutes = forms.IntegerField(
        min_value=0, max_value=43200, initial=0, required=False, label="Hold between waves (minutes)"
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Connection.objects.filter(
            vendor__in=SALES_CHANNEL_VENDORS, direction=Connection.Direction.SOURCE
        ).order_by("name")
        if editing:
            self.fields["key"].disabled = True
            self.fields["key"].required = False

    def clean_pricing(self) -> dict:
        pricing = {}
        for number, line in enumerate((self.cleaned_data.get("pricing") or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split(",")]
            if len(parts) != 3:
                raise forms.ValidationError(f"Line {number}: write SKU,list price,unit cost.")
            sku, price, cost = parts
            try:
                pricing[sku] = {
                    "price": str(Decimal(price)) if price else None,
                    "cost": str(Decimal(cost)) if cost else None,
                }
            except ArithmeticError:
                raise forms.ValidationError(f"Line {number}: price and cost are numbers.") from None
        return pricing

    def clean_waves(self) -> list[list[int]]:
        by_name = {channel.name.lower(): channel.pk for channel in self.fields["channels"].queryset}
        waves = []
        for number, line in enumerate((self.cleaned_data.get("waves") or "").splitlines(), start=1):
            names = _words(line)
            unknown = [name for name in names if name.lower() not in by_name]
            if unknown:
                raise forms.ValidationError(f"Wave {number}: no sales channel named {', '.join(unknown)}.")
            if names:
                waves.append([by_name[name.lower()] for name in names])
        return waves

    def version_values(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "value": data["value"],
            "buy_quantity": data.get("buy_quantity"),
            "get_quantity": data.get("get_quantity"),
            "starts_at": data["starts_at"],
            "ends_at": data.get("ends_at"),
            "channels": list(data["channels"]),
            "eligibility": {
                "skus": _words(data.get("skus", "")),
                "categories": _words(data.get("categories", "")),
                "collections": _words(data.get("collections", "")),
                "coupon_codes": _words(data.get("coupon_codes", "")),
                "locations": _words(data.get("locations", "")),
                "customer_segment": data.get("customer_segment", ""),
                "min_spend": str(data["min_spend"]) if data.get("min_spend") is not None else None,
            },
            "exclusions": {"skus": _words(data.get("exclude_skus", ""))},
            "stacking": data["stacking"],
            "stackable_with": _words(data.get("stackable_with", "")),
            "priority": data.get("priority") or 0,
            "funding": data["funding"],
            "funding_vendor_ref": data.get("funding_vendor_ref", ""),
            "funding_share": data.get("funding_share") if data.get("funding_share") is not None else Decimal(100),
            "budget": data.get("budget"),
            "usage_limit": data.get("usage_limit"),
            "stock_threshold": data.get("stock_threshold"),
            "pricing": data.get("pricing") or {},
            "fallback": data.get("fallback") or Fallback.KEEP_OTHERS,
            "waves": data.get("waves") or [],
            "wave_hold_minutes": data.get("wave_hold_minutes") or 0,
        }


def form_initial(promotion, zone) -> dict:
    version = promotion.current_version
    eligibility = version.eligibility or {}
    names = dict(Connection.objects.values_list("pk", "name"))

    def local(value):
        return value.astimezone(zone).replace(tzinfo=None) if value else None

    return {
        "key": promotion.key,
        "name": promotion.name,
        "kind": version.kind,
        "value": version.value,
        "buy_quantity": version.buy_quantity,
        "get_quantity": version.get_quantity,
        "starts_at": local(version.starts_at),
        "ends_at": local(version.ends_at),
        "channels": list(version.channels.all()),
        "skus": ", ".join(eligibility.get("skus") or []),
        "categories": ", ".join(eligibility.get("categories") or []),
        "collections": ", ".join(eligibility.get("collections") or []),
        "coupon_codes": ", ".join(eligibility.get("coupon_codes") or []),
        "locations": ", ".join(eligibility.get("locations") or []),
        "customer_segment": eligibility.get("customer_segment", ""),
        "min_spend": eligibility.get("min_spend"),
        "exclude_skus": ", ".join((version.exclusions or {}).get("skus") or []),
        "stacking": version.stacking,
        "stackable_with": ", ".join(version.stackable_with or []),
        "priority": version.priority,
        "funding": version.funding,
        "funding_vendor_ref": version.funding_vendor_ref,
        "funding_share": version.funding_share,
        "budget": version.budget,
        "usage_limit": version.usage_limit,
        "stock_threshold": version.stock_threshold,
        "pricing": "\n".join(
            f"{sku},{entry.get('price') or ''},{entry.get('cost') or ''}"
            for sku, entry in (version.pricing or {}).items()
        ),
        "fallback": version.fallback,
        "waves": "\n".join(", ".join(names.get(int(pk), str(pk)) for pk in wave) for wave in version.waves or []),
        "wave_hold_minutes": version.wave_hold_minutes,
    }


class ActionForm(forms.Form):
    channel = forms.IntegerField(min_value=1, required=False)
    reason = forms.CharField(max_length=2000, required=False)


class PriceListForm(forms.Form):
    key = forms.SlugField(max_length=60)
    name = forms.CharField(max_length=200)
    starts_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Effective from"
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Connection.objects.none(), widget=forms.CheckboxSelectMultiple, label="Sales channels"
    )
    prices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One line per SKU: SKU,price or SKU,price,unit cost (the cost feeds the promotions' margin check).",
    )
    approval_threshold_percent = forms.DecimalField(
        max_digits=6, decimal_places=2, initial=Decimal(10), min_value=0, label="Approval above change %"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Connection.objects.filter(
            vendor__in=SALES_CHANNEL_VENDORS, direction=Connection.Direction.SOURCE
        ).order_by("name")

    def clean_prices(self) -> dict[str, str]:
        """The prices; the costs given on the lines go to `cleaned_data["costs"]`."""
        prices, costs = {}, {}
        for number, line in enumerate(self.cleaned_data["prices"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split(",")]
            if len(parts) not in (2, 3):
                raise forms.ValidationError(f"Line {number}: write SKU,price or SKU,price,cost.")
            prices[parts[0]] = parts[1]
            if len(parts) == 3 and parts[2]:
                try:
                    cost = Decimal(parts[2])
                except ArithmeticError:
                    raise forms.ValidationError(f"Line {number}: the cost {parts[2]!r} is not a number.") from None
                if not cost.is_finite() or cost < 0:
                    raise forms.ValidationError(f"Line {number}: a cost is 0 or more.")
                costs[parts[0]] = parts[2]
        self.cleaned_data["costs"] = costs
        return prices


class PriceListImportForm(forms.Form):
    file = UploadField(
        label="Prices (CSV)", help_text="Columns: sku,price and optionally cost (unit cost). All rows or none."
    )
    mode = forms.ChoiceField(
        choices=[("merge", "Change the SKUs in the file, keep the others"), ("replace", "The file is the whole list")],
        initial="merge",
    )


class PromotionPolicyForm(forms.Form):
    min_margin_percent = forms.DecimalField(
        max_digits=6,
        decimal_places=2,
        required=False,
        label="Minimum margin %",
        help_text="A version whose margin after discount (and vendor funding) falls below this needs a finance "
        "approver. Empty: no minimum.",
    )
    budget_warn_percents = forms.CharField(
        required=False, label="Budget warnings at %", help_text="Comma-separated, e.g. 80, 95."
    )
    stock_hysteresis = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        initial=0,
        label="Stock guard hysteresis",
        help_text="The stock guard resumes a channel it paused once stock is at the threshold plus this.",
    )
    claim_overdue_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        initial=30,
        label="Vendor claim overdue after (days)",
        help_text="A vendor claim still underpaid this many days after it was made is raised as an exception.",
    )

    def clean_budget_warn_percents(self) -> list[int]:
        try:
            return [int(part) for part in _words(self.cleaned_data.get("budget_warn_percents") or "")]
        except ValueError:
            raise forms.ValidationError("Whole percents, comma-separated.") from None
