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
