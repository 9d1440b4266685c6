"""Chart of accounts sync: compare an ERP's chart with `mappings.Account`, show the differences,
and apply exactly those. Accounts match by external id first, then by code; nothing is deleted
(journal lines reference accounts): an account gone from the ERP, or inactive there, is
deactivated here, and every mapping rule still pointing at it raises a `mapping` exception."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from mappings.models import Account, AccountRule, MappingSet
from posting.erp.base import ErpAccount, ErpChart, ErpDimension, ErpTaxCode
from posting.erp.models import ChartImport
from tenants.audit import audit_record_in_tenant
from tenants.models import User
from triage.services import exception_raise

FIELDS = ("name", "type", "active", "external_id", "currency")


@dataclass
class ChartDiff:
    create: list[dict[str, Any]] = field(default_factory=list)  # ErpAccount as dict
    update: list[dict[str, Any]] = field(default_factory=list)  # {"code", "changes": {field: [old, new]}}
    deactivate: list[dict[str, Any]] = field(default_factory=list)  # {"code", "name", "reason"}
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"code", "name", "reason"}
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.update or self.deactivate)


def chart_as_dict(chart: ErpChart) -> dict[str, Any]:
    return {
        "accounts": [dataclasses.asdict(account) for account in chart.accounts],
        "tax_codes": [
            {**dataclasses.asdict(tax), "rate": str(tax.rate) if tax.rate is not None else None}
            for tax in chart.tax_codes
        ],
        "dimensions": [dataclasses.asdict(dimension) for dimension in chart.dimensions],
    }


def chart_from_dict(data: dict[str, Any]) -> ErpChart:
    return ErpChart(
        accounts=[ErpAccount(**row) for row in data.get("accounts", [])],
        tax_codes=[ErpTaxCode(**{**row, "rate": None}) for row in data.get("tax_codes", [])],
        dimensions=[ErpDimension(**row) for row in data.get("dimensions", [])],
    )


def chart_diff(*, chart: ErpChart) -> ChartDiff:
    diff = ChartDiff()
    locals_by_external = {a.external_id: a for a in Account.objects.exclude(external_id="")}
    locals_by_code = {a.code: a for a in Account.objects.all()}
    seen: set[int] = set()
    codes: set[str] = set()
    for remote in chart.accounts:
        if len(remote.code) > 40 or not remote.code:
            diff.skipped.append(
                {"code": remote.code[:60], "name": remote.name, "reason": "code empty or over 40 characters"}
            )
            continue
        if remote.code in codes:
            diff.skipped.append({"code": remote.code, "name": remote.name, "reason": "code repeats in the ERP's chart"})
            continue
        codes.add(remote.code)
        local = locals_by_external.get(remote.external_id) or locals_by_code.get(remote.code)
        if local is None:
            if remote.active:
                diff.create.append(dataclasses.asdict(remote))
            continue
        seen.add(local.pk)
        wanted = {
            "name": remote.name[:200],
            "type": remote.type,
            "active": remote.active,
            "external_id": remote.external_id,
            "currency": remote.currency,
        }
        if local.code != remote.code:
            wanted["code"] = remote.code
        changes = {
            name: [getattr(local, name), value] for name, value in wanted.items() if getattr(local, name) != value
        }
        if changes.get("active") == [True, False]:
            diff.deactivate.append({"code": local.code, "name": local.name, "reason": "inactive in the ERP"})
            changes.pop("active")
        if changes:
            diff.update.append({"code": local.code, "changes": changes})
        elif not any(row["code"] == local.code for row in diff.deactivate):
            diff.unchanged += 1
    for local in Account.objects.filter(active=True).exclude(pk__in=seen).order_by("code"):
        diff.deactivate.append({"code": local.code, "name": local.name, "reason": "not in the ERP's chart"})
    return diff


@transaction.atomic
def chart_import_preview(*, connection, chart: ErpChart) -> ChartImport:
    """Record a fetched chart and its differences for a person to review."""
    ChartImport.objects.filter(connection=connection, status=ChartImport.Status.PREVIEW).update(
        status=ChartImport.Status.DISCARDED
    )
    return ChartImport.objects.create(
        connection=connection,
        vendor=connection.vendor,
        chart=chart_as_dict(chart),
        diff=chart_diff(chart=chart).as_dict(),
    )


def _rules_in_force() -> list[AccountRule]:
    live = MappingSet.objects.filter(status__in=(MappingSet.Status.ACTIVE, MappingSet.Status.DRAFT))
    return list(
        AccountRule.objects.filter(mapping_set__in=live, account__active=False).select_related("account", "mapping_set")
    )


@transaction.atomic
def chart_import_apply(
    *, chart_import: ChartImport, actor: User | None = None, actor_label: str | None = None
) -> ChartDiff:
    """Apply the reviewed differences (recomputed against the same fetched chart, so changes made
    locally since the preview are respected) and raise a mapping exception per rule whose account
    is now inactive."""
    chart_import = ChartImport.objects.select_for_update().get(pk=chart_import.pk)
    if chart_import.status != ChartImport.Status.PREVIEW:
        raise ValueError(f"This import is {chart_import.get_status_display().lower()}; fetch the chart again.")
    diff = chart_diff(chart=chart_from_dict(chart_import.chart))
    for row in diff.create:
        Account.objects.create(
            code=row["code"],
            name=row["name"][:200],
            type=row["type"],
            active=True,
            external_id=row["external_id"],
            currency=row["currency"],
        )
    for row in diff.update:
        account = Account.objects.get(code=row["code"])
        for name, (_old, new) in row["changes"].items():
            setattr(account, name, new)
        account.save()
    deactivated = [row["code"] for row in diff.deactivate]
    Account.objects.filter(code__in=deactivated).update(active=False)
    chart_import.status = ChartImport.Status.APPLIED
    chart_import.applied_at = timezone.now()
    chart_import.diff = diff.as_dict()
    chart_import.save(update_fields=["status", "applied_at", "diff"])
    audit_record_in_tenant(
        actor=actor,
        actor_label=actor_label,
        action="erp_chart.import_apply",
        target=chart_import,
        changes={
            "connection": chart_import.connection_id,
            "created": [row["code"] for row in diff.create],
            "updated": {row["code"]: row["changes"] for row in diff.update},
            "deactivated": deactivated,
        },
    )
    for rule in _rules_in_force():
        transaction.on_commit(lambda rule=rule: _rule_problem(rule))
    return diff


def _rule_problem(rule: AccountRule) -> None:
    conditions = ", ".join(f"{key}={value}" for key, value in rule.conditions().items()) or "no conditions"
    exception_raise(
        kind="mapping",
        cause="account_deactivated",
        tags=("erp", "account_deactivated"),
        obj=rule,
        title=f"Rule for {rule.role} points at inactive account {rule.account.code}",
        detail=(
            f"Mapping set {rule.mapping_set.name!r}: role {rule.role} ({conditions}) posts to account "
            f"{rule.account.code} {rule.account.name}, which is inactive after the chart of accounts import. "
            "Documents needing this role will not post until the rule points at an active account."
        ),
        context={"role": rule.role, "account": rule.account.code, "mapping_set": rule.mapping_set_id},
        severity="high",
    )
