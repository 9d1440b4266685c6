"""Forms of the redemption page (issue 20): the report's range, a claim's period, a receipt."""

from __future__ import annotations

import datetime as dt

from django import forms

from core.models import MONEY
from promotions.redemption import FIRST_DAY, LAST_DAY, MAX_DAYS, default_start

DATE = {"widget": forms.DateInput(attrs={"type": "date"})}


class RangeForm(forms.Form):
    start = forms.DateField(required=False, label="From", **DATE)
    end = forms.DateField(required=False, label="To", **DATE)

    def period(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The range asked for (the last 30 days by default), at most MAX_DAYS long."""
        data = self.cleaned_data if self.is_valid() else {}
        data = {name: day for name, day in data.items() if day and FIRST_DAY <= day <= LAST_DAY}
        end = data.get("end") or today
        start = data.get("start") or default_start(end)
        if start > end:
            start, end = end, start
        return max(start, end - dt.timedelta(days=MAX_DAYS - 1)), end


class ClaimForm(forms.Form):
    period_start = forms.DateField(label="Period from", **DATE)
    period_end = forms.DateField(label="Period to", **DATE)


class ReceiptForm(forms.Form):
    amount = forms.DecimalField(**MONEY, min_value=0, label="Amount received")
    received_on = forms.DateField(label="Received on", **DATE)
    reference = forms.CharField(max_length=120, required=False, label="Reference")
