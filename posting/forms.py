from django import forms

from posting.models import PostingPolicy


class PolicyForm(forms.Form):
    recognise_on = forms.ChoiceField(choices=PostingPolicy.Recognise.choices, label="Recognise revenue")
    discounts = forms.ChoiceField(choices=PostingPolicy.Discounts.choices, label="Discount presentation")
    allocation = forms.ChoiceField(choices=PostingPolicy.Allocation.choices, label="Order-level discounts")
    mode = forms.ChoiceField(choices=PostingPolicy.Mode.choices, label="Posting mode")
    batch_window = forms.ChoiceField(choices=PostingPolicy.Window.choices, label="Batch window")
    cutoff_hour = forms.IntegerField(
        min_value=0, max_value=23, label="Daily cut-off hour", help_text="0-23, in the tenant's time zone."
    )
    unallocated_refunds = forms.ChoiceField(
        choices=PostingPolicy.UnallocatedRefunds.choices,
        label="Refunds with no lines",
        help_text="For a refund with an amount but no lines, less than what is left to refund. "
        "One equal to what is left always reverses exactly what is left.",
    )


class PeriodCloseForm(forms.Form):
    closed_through = forms.DateField(
        label="Close through",
        help_text="The last day of a month. Postings dated on or before it move to the first open date.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class PeriodReopenForm(forms.Form):
    closed_through = forms.DateField(
        required=False,
        label="Keep closed through",
        help_text="An earlier month end, or empty to reopen every period.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
