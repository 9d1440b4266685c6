"""Writes of the chart of accounts and of mapping sets. Run inside the tenant's schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from core.spreadsheet import RowError, RowsInvalid, csv_rows
from mappings.models import CONDITION_KEYS, Account, AccountRule, MappingSet, PostingRole, ValueMap
from mappings.standard import STANDARD_ACCOUNTS, STANDARD_RULES
from tenants.audit import audit_record

CSV_COLUMNS = ("code", "name", "type")


@dataclass(frozen=True)
class AccountsImported:
    created: int
    updated: int


def _audit(*, actor, action: str, changes: dict) -> None:
    tenant = getattr(connection, "tenant", None)
    if tenant is not None and getattr(tenant, "pk", None) and tenant.schema_name != "public":
        audit_record(actor=actor, action=action, target=tenant, tenant=tenant, partner=tenant.partner, changes=changes)


def accounts_import_csv(*, file: IO | bytes | str, actor=None) -> AccountsImported:
    """Create or update accounts from CSV `code,name,type[,parent]` (header row required).

    Every bad row is reported with its line number, and nothing is written unless every row is good:
    a chart of accounts half imported is worse than one not imported."""
    parsed: list[tuple[int, str, str, str, str]] = []
    rows, errors = csv_rows(file, columns=CSV_COLUMNS, optional=("parent",))
    seen: dict[str, int] = {}
    for number, cells in rows:
        code, name, kind, parent = cells["code"], cells["name"], cells["type"].lower(), cells.get("parent", "")
        problems = []
        if not code:
            problems.append("code is empty")
        elif len(code) > 40:
            problems.append("code is longer than 40 characters")
        elif code in seen:
            problems.append(f"code {code} repeats line {seen[code]}")
        if not name:
            problems.append("name is empty")
        if kind not in Account.Type.values:
            problems.append(f"type {cells['type']!r} is not one of {', '.join(Account.Type.values)}")
        if parent and parent == code:
            problems.append("an account cannot be its own parent")
        if problems:
            errors.append(RowError(number, "; ".join(problems)))
        if code and code not in seen:
            seen[code] = number
        parsed.append((number, code, name, kind, parent))
    existing = set(Account.objects.values_list("code", flat=True))
    for number, _code, _name, _kind, parent in parsed:
        if parent and parent not in seen and parent not in existing:
            errors.append(RowError(number, f"parent {parent} is neither in the file nor in the chart"))
    if errors:
        raise RowsInvalid(errors)
    created = updated = 0
    with transaction.atomic():
        accounts: dict[str, Account] = {}
        for _number, code, name, kind, _parent in parsed:
            account, was_created = Account.objects.update_or_create(code=code, defaults={"name": name, "type": kind})
            accounts[code] = account
            created += was_created
            updated += not was_created
        for _number, code, _name, _kind, parent in parsed:
            if parent:
                account = accounts[code]
                account.parent = accounts.get(parent) or Account.objects.get(code=parent)
                account.save(update_fields=["parent"])
        _cycle_check()
        _audit(actor=actor, action="accounts.imported", changes={"created": created, "updated": updated})
    return AccountsImported(created=created, updated=updated)


def _cycle_check() -> None:
    parents = dict(Account.objects.values_list("pk", "parent_id"))
    for start in parents:
        seen = {start}
        node = parents[start]
        while node is not None:
            if node in seen:
                code = Account.objects.get(pk=start).code
                raise RowsInvalid([RowError(1, f"account {code} is its own ancestor")])
            seen.add(node)
            node = parents[node]


@transaction.atomic
def mapping_set_create(*, name: str) -> MappingSet:
    if not name.strip():
        raise ValidationError({"name": "A mapping set needs a name."})
    return MappingSet.objects.create(name=name.strip())


def _draft_for_edit(mapping_set_id: int) -> MappingSet:
    """The mapping set, locked, if it is still a draft: an active or archived set never changes."""
    mapping_set = MappingSet.objects.select_for_update().get(pk=mapping_set_id)
    if mapping_set.status != MappingSet.Status.DRAFT:
        raise ValidationError({"mapping_set": "Only a draft mapping set can be edited; copy it to a new draft."})
    return mapping_set


@transaction.atomic
def account_rule_add(*, mapping_set: MappingSet, role: str, account: Account, **conditions: str) -> AccountRule:
    mapping_set = _draft_for_edit(mapping_set.pk)
    if role not in PostingRole.values:
        raise ValidationError({"role": f"{role!r} is not a posting role."})
    unknown = set(conditions) - set(CONDITION_KEYS)
    if unknown:
        raise ValidationError({"conditions": f"Unknown condition(s): {', '.join(sorted(unknown))}."})
    if not account.active:
        raise ValidationError({"account": f"Account {account.code} is inactive."})
    if AccountRule.objects.filter(mapping_set=mapping_set, role=role, **_conditions_full(conditions)).exists():
        raise ValidationError({"conditions": "A rule for this role and these conditions already exists."})
    return AccountRule.objects.create(mapping_set=mapping_set, role=role, account=account, **conditions)


def _conditions_full(conditions: dict[str, str]) -> dict[str, str]:
    return {key: conditions.get(key, "") for key in CONDITION_KEYS}


@transaction.atomic
def value_map_set(*, mapping_set: MappingSet, kind: str, source_value: str, erp_value: str) -> ValueMap:
    mapping_set = _draft_for_edit(mapping_set.pk)
    if kind not in ValueMap.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not a value map kind."})
    row, _ = ValueMap.objects.update_or_create(
        mapping_set=mapping_set, kind=kind, source_value=source_value, defaults={"erp_value": erp_value}
    )
    return row


@transaction.atomic
def mapping_set_copy(*, mapping_set: MappingSet, name: str) -> MappingSet:
    """A new draft with the same rules and value maps: how an active set is changed."""
    draft = mapping_set_create(name=name)
    AccountRule.objects.bulk_create(
        AccountRule(mapping_set=draft, role=rule.role, account_id=rule.account_id, **rule.conditions())
        for rule in mapping_set.rules.all()
    )
    ValueMap.objects.bulk_create(
        ValueMap(mapping_set=draft, kind=row.kind, source_value=row.source_value, erp_value=row.erp_value)
        for row in mapping_set.value_maps.all()
    )
    return draft


@transaction.atomic
def mapping_set_activate(*, mapping_set: MappingSet, effective_from: dt.datetime | None = None) -> MappingSet:
    """Make a draft the active set from `effective_from` (default now); the previous active set is
    archived and kept, so documents dated before `effective_from` still resolve with it."""
    mapping_set = MappingSet.objects.select_for_update().get(pk=mapping_set.pk)
    if mapping_set.status != MappingSet.Status.DRAFT:
        raise ValidationError({"status": f"Only a draft can be activated; this set is {mapping_set.status}."})
    now = timezone.now()
    effective_from = effective_from or now
    previous = MappingSet.objects.select_for_update().filter(status=MappingSet.Status.ACTIVE).first()
    if previous is not None:
        if effective_from < previous.effective_from:
            raise ValidationError(
                {"effective_from": f"Must not be before the active set's start ({previous.effective_from:%Y-%m-%d})."}
            )
        previous.status = MappingSet.Status.ARCHIVED
        previous.archived_at = now
        previous.save(update_fields=["status", "archived_at"])
    mapping_set.status = MappingSet.Status.ACTIVE
    mapping_set.effective_from = effective_from
    mapping_set.activated_at = now
    mapping_set.save(update_fields=["status", "effective_from", "activated_at"])
    return mapping_set


@transaction.atomic
def standard_chart_apply(*, effective_from: dt.datetime | None = None) -> MappingSet:
    """Create the standard retail chart (accounts that exist are kept) and activate its mapping."""
    accounts: dict[str, Account] = {}
    for code, name, kind, parent in STANDARD_ACCOUNTS:
        account, _ = Account.objects.get_or_create(
            code=code, defaults={"name": name, "type": kind, "parent": accounts.get(parent)}
        )
        accounts[code] = account
    draft = mapping_set_create(name="Standard retail mapping")
    for role, code, conditions in STANDARD_RULES:
        account_rule_add(mapping_set=draft, role=role, account=accounts[code], **conditions)
    return mapping_set_activate(
        mapping_set=draft, effective_from=effective_from or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )


def standard_chart_ensure() -> MappingSet:
    """The active mapping set, applying the standard chart first when the tenant has none (idempotent)."""
    active = MappingSet.objects.filter(status=MappingSet.Status.ACTIVE).first()
    return active if active is not None else standard_chart_apply()


def _account_check(account: Account) -> None:
    """The account as it is about to be saved (new or changed): a unique code, a name, a known type,
    an ISO currency if any, and no parent under itself."""
    errors: dict[str, str] = {}
    code = account.code.strip()
    if not code:
        errors["code"] = "An account needs a code."
    elif Account.objects.filter(code=code).exclude(pk=account.pk).exists():
        errors["code"] = f"Account {code} already exists."
    if not account.name.strip():
        errors["name"] = "An account needs a name."
    if account.type not in Account.Type.values:
        errors["type"] = f"{account.type!r} is not one of {', '.join(Account.Type.values)}."
    currency = account.currency
    if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
        errors["currency"] = "A currency is a three-letter ISO 4217 code, e.g. USD."
    if account.parent is not None and account.pk is not None:
        node: Account | None = account.parent
        while node is not None:
            if node.pk == account.pk:
                errors["parent"] = "An account cannot sit under itself or one of its children."
                break
            node = node.parent
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def account_create(
    *,
    code: str,
    name: str,
    type: str,
    parent: Account | None = None,
    currency: str = "",
    external_id: str = "",
    active: bool = True,
    actor=None,
) -> Account:
    account = Account(
        code=code.strip(),
        name=name.strip(),
        type=type,
        parent=parent,
        currency=currency,
        external_id=external_id,
        active=active,
    )
    _account_check(account)
    account.save(force_insert=True)
    _audit(actor=actor, action="account.created", changes={"code": account.code})
    return account


ACCOUNT_FIELDS = ("code", "name", "type", "parent", "currency", "active", "external_id")


@transaction.atomic
def account_update(*, account: Account, actor=None, **values: object) -> Account:
    """Change an account. Deactivating one still mapped by a live rule is allowed (posting then
    treats the role as unmapped and raises it), but the code of an account with journal lines
    is kept: exports and the ERP know it by that code."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    unknown = set(values) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValidationError({name: "Not an account field." for name in sorted(unknown)})
    before = {name: str(getattr(account, name)) for name in values}
    for name, value in values.items():
        setattr(account, name, value.strip() if isinstance(value, str) else value)
    _account_check(account)
    if "code" in values and before["code"] != account.code and account.journal_lines.exists():
        raise ValidationError({"code": "This account has journal lines; its code can no longer change."})
    account.save()
    changes = {name: [before[name], str(getattr(account, name))] for name in values}
    _audit(actor=actor, action="account.updated", changes={"code": account.code, **changes})
    return account


@transaction.atomic
def account_rule_account_set(*, rule: AccountRule, account: Account) -> AccountRule:
    """Point a draft rule at another account (its role and conditions stay)."""
    _draft_for_edit(rule.mapping_set_id)
    if not account.active:
        raise ValidationError({"account": f"Account {account.code} is inactive."})
    rule.account = account
    rule.save(update_fields=["account"])
    return rule


@transaction.atomic
def account_rule_remove(*, rule: AccountRule) -> None:
    _draft_for_edit(rule.mapping_set_id)
    rule.delete()


@transaction.atomic
def value_map_remove(*, value_map: ValueMap) -> None:
    _draft_for_edit(value_map.mapping_set_id)
    value_map.delete()
