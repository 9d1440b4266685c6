"""Chart of accounts and mapping editor pages (tenant domain). Thin: forms check shape, services
in mappings.services do the writes; viewers read only."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.forms import form_apply
from core.spreadsheet import RowsInvalid
from mappings import services
from mappings.forms import (
    AccountForm,
    AccountRuleForm,
    AccountsImportForm,
    ActivateForm,
    MappingSetCreateForm,
    ValueMapForm,
)
from mappings.models import Account, AccountRule, MappingSet, ValueMap
from mappings.preview import preview_build, preview_order_get, preview_orders
from mappings.selectors import accounts_list, mapping_sets_list
from mappings.services import accounts_import_csv
from tenants.middleware import may_write


def _forbidden() -> HttpResponse:
    return HttpResponse("Viewers cannot change the chart of accounts or mappings.", status=403)


def accounts(request: HttpRequest) -> HttpResponse:
    can_edit = may_write(request)
    form = AccountsImportForm()
    account_form = AccountForm(prefix="new")
    row_errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _forbidden()
        if request.POST.get("action") == "create":
            account_form = AccountForm(request.POST, prefix="new")
            created, account = form_apply(
                account_form, lambda data: services.account_create(**data, actor=request.user)
            )
            if created:
                messages.success(request, f"Account {account.code} created.")
                return redirect("mappings_accounts")
            status = 400
        else:
            form = AccountsImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    result = accounts_import_csv(file=form.cleaned_data["file"], actor=request.user)
                except RowsInvalid as error:
                    row_errors = [str(row) for row in error.rows]
                    status = 400
                else:
                    messages.success(request, f"{result.created} account(s) created, {result.updated} updated.")
                    return redirect("mappings_accounts")
            else:
                status = 400
    return render(
        request,
        "mappings/accounts.html",
        {
            "accounts": accounts_list(),
            "mapping_sets": mapping_sets_list()[:10],
            "form": form,
            "account_form": account_form,
            "row_errors": row_errors,
            "can_edit": can_edit,
        },
        status=status,
    )


def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = Account.objects.select_related("parent").filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    can_edit = may_write(request)
    initial = {field: getattr(account, field) for field in services.ACCOUNT_FIELDS}
    form = AccountForm(initial=initial, account=account)
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _forbidden()
        form = AccountForm(request.POST, account=account)
        saved, _ = form_apply(form, lambda data: services.account_update(account=account, actor=request.user, **data))
        if saved:
            messages.success(request, f"Account {form.cleaned_data['code']} saved.")
            return redirect("mappings_accounts")
        status = 400
    return render(
        request, "mappings/account_edit.html", {"account": account, "form": form, "can_edit": can_edit}, status=status
    )


def mapping_sets(request: HttpRequest) -> HttpResponse:
    can_edit = may_write(request)
    form = MappingSetCreateForm()
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _forbidden()
        form = MappingSetCreateForm(request.POST)
        created, draft = form_apply(form, _draft_create)
        if created:
            messages.success(request, f"Draft {draft.name} created.")
            return redirect("mappings_set", pk=draft.pk)
        status = 400
    sets = mapping_sets_list().prefetch_related("rules")
    return render(request, "mappings/sets.html", {"sets": sets, "form": form, "can_edit": can_edit}, status=status)


def _draft_create(data: dict) -> MappingSet:
    """A new empty draft, or a draft copy of the set chosen in `copy_from`."""
    if data["copy_from"] is not None:
        return services.mapping_set_copy(mapping_set=data["copy_from"], name=data["name"])
    return services.mapping_set_create(name=data["name"])


def _set_or_404(pk: int) -> MappingSet:
    mapping_set = MappingSet.objects.filter(pk=pk).first()
    if mapping_set is None:
        raise Http404("No such mapping set.")
    return mapping_set


def _preview_context(request: HttpRequest, mapping_set: MappingSet) -> dict:
    order_id = request.GET.get("order", "")
    order = preview_order_get(order_id=int(order_id)) if order_id.isdigit() else None
    preview = preview_build(order=order, mapping_set=mapping_set) if order is not None else None
    return {"set": mapping_set, "preview_order": order, "preview": preview, "order_id": order_id}


def mapping_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mapping_set = _set_or_404(pk)
    can_edit = may_write(request)
    forms = {"rule_form": AccountRuleForm(), "value_form": ValueMapForm(), "activate_form": ActivateForm()}
    status = 200
    if request.method == "POST":
        if not can_edit:
            return _forbidden()
        act = SET_ACTIONS.get(request.POST.get("action", ""))
        if act is None:
            return HttpResponse("Unknown action.", status=400)
        try:
            outcome = act(request, mapping_set)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            outcome = {}
        if isinstance(outcome, HttpResponse):
            return outcome
        forms.update(outcome)
        status = 400
    context = {
        **_preview_context(request, mapping_set),
        **forms,
        "rules": mapping_set.rules.select_related("account").order_by("role", "pk"),
        "rule_accounts": accounts_list(),
        "values": mapping_set.value_maps.order_by("kind", "source_value"),
        "orders": preview_orders(limit=50),
        "can_edit": can_edit and mapping_set.status == MappingSet.Status.DRAFT,
        "can_write": can_edit,
    }
    return render(request, "mappings/set_detail.html", context, status=status)


# ---- the mapping set page's actions: each returns the redirect, or the forms to show again ------

SetActionOutcome = HttpResponse | dict[str, Form]


def _saved(request: HttpRequest, mapping_set: MappingSet, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("mappings_set", pk=mapping_set.pk)


def _form_saved(
    request: HttpRequest, mapping_set: MappingSet, form: Form, key: str, save: Callable[[dict], None], message: str
) -> SetActionOutcome:
    """Validate `form`, run `save(cleaned_data)`; the service's refusal lands on the form."""
    saved, _ = form_apply(form, save)
    return _saved(request, mapping_set, message) if saved else {key: form}


def _rule_add(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    form = AccountRuleForm(request.POST)

    def save(data: dict) -> None:
        conditions = form.conditions()
        services.account_rule_add(mapping_set=mapping_set, role=data["role"], account=data["account"], **conditions)

    return _form_saved(request, mapping_set, form, "rule_form", save, "Rule added.")


def _rule_of(request: HttpRequest, mapping_set: MappingSet) -> AccountRule | None:
    return AccountRule.objects.filter(pk=request.POST.get("rule") or 0, mapping_set=mapping_set).first()


def _rule_remove(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    rule = _rule_of(request, mapping_set)
    if rule is None:
        raise Http404("No such rule in this set.")
    services.account_rule_remove(rule=rule)
    return _saved(request, mapping_set, "Rule removed.")


def _rule_account_set(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    rule = _rule_of(request, mapping_set)
    account = Account.objects.filter(pk=request.POST.get("account") or 0).first()
    if rule is None or account is None:
        raise Http404("No such rule or account.")
    services.account_rule_account_set(rule=rule, account=account)
    return _saved(request, mapping_set, f"{rule.get_role_display()} now goes to {account.code} {account.name}.")


def _value_set(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    def save(data: dict) -> None:
        services.value_map_set(mapping_set=mapping_set, **data)

    return _form_saved(request, mapping_set, ValueMapForm(request.POST), "value_form", save, "Value map saved.")


def _value_remove(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    row = ValueMap.objects.filter(pk=request.POST.get("value") or 0, mapping_set=mapping_set).first()
    if row is None:
        raise Http404("No such value map in this set.")
    services.value_map_remove(value_map=row)
    return _saved(request, mapping_set, "Value map removed.")


def _activate(request: HttpRequest, mapping_set: MappingSet) -> SetActionOutcome:
    def save(data: dict) -> None:
        services.mapping_set_activate(mapping_set=mapping_set, effective_from=data["effective_from"])

    message = f"{mapping_set.name} is now active."
    return _form_saved(request, mapping_set, ActivateForm(request.POST), "activate_form", save, message)


SET_ACTIONS: dict[str, Callable[[HttpRequest, MappingSet], SetActionOutcome]] = {
    "add_rule": _rule_add,
    "remove_rule": _rule_remove,
    "set_rule_account": _rule_account_set,
    "set_value": _value_set,
    "remove_value": _value_remove,
    "activate": _activate,
}


def mapping_set_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview panel alone (htmx swaps it into the mapping set page)."""
    return render(request, "mappings/_preview.html", _preview_context(request, _set_or_404(pk)))
