from django import forms

from core.forms import UploadField
from mappings.models import CONDITION_KEYS, Account, MappingSet, PostingRole, ValueMap


class AccountsImportForm(forms.Form):
    file = UploadField(label="Chart of accounts (CSV)", help_text="Columns: code,name,type[,parent]. All rows or none.")


class AccountForm(forms.Form):
    code = forms.CharField(max_length=40)
    name = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=Account.Type.choices)
    parent = forms.ModelChoiceField(queryset=Account.objects.none(), required=False, empty_label="(none)")
    currency = forms.CharField(max_length=3, required=False, help_text="Blank: any currency.")
    external_id = forms.CharField(max_length=120, required=False, label="ERP id")
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, account: Account | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Account.objects.order_by("code")
        self.fields["parent"].queryset = parents.exclude(pk=account.pk) if account is not None else parents


class MappingSetCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    copy_from = forms.ModelChoiceField(
        queryset=MappingSet.objects.none(),
        required=False,
        empty_label="(start empty)",
        help_text="Start from the rules and value maps of an existing set.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["copy_from"].queryset = MappingSet.objects.order_by("-created_at", "-pk")


class AccountRuleForm(forms.Form):
    role = forms.ChoiceField(choices=PostingRole.choices)
    account = forms.ModelChoiceField(queryset=Account.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(active=True).order_by("code")
        for key in CONDITION_KEYS:
            self.fields[key] = forms.CharField(
                max_length=80, required=False, label=key.replace("_", " ").capitalize(), help_text="Blank: any."
            )

    def conditions(self) -> dict[str, str]:
        return {key: self.cleaned_data[key].strip() for key in CONDITION_KEYS if self.cleaned_data.get(key, "").strip()}


class ValueMapForm(forms.Form):
    kind = forms.ChoiceField(choices=ValueMap.Kind.choices)
    source_value = forms.CharField(max_length=120)
    erp_value = forms.CharField(max_length=120, label="ERP value")


class ActivateForm(forms.Form):
    effective_from = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Blank: now. Documents dated before it keep using the previous set.",
    )
