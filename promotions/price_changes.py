"""Changing a price list's prices other than by hand (issue 20): a CSV import that becomes a new
version, a rollback to the version published before, and the scheduled publish at a version's start.

Same habits as `promotions.prices`: each change locks the list row, checks, writes, audits. An import
is all rows or none; a rollback restores prices that were approved and published before, so it is
published at once without a second approval (the audit log names who rolled back and to what)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import IO, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.money import quantize
from core.spreadsheet import RowError, RowsInvalid, csv_rows
from promotions.models import PriceList, PriceListDeployment, PriceListVersion
from promotions.prices import _audit, _locked, price_list_edit, price_list_publish_now
from tenants.models import User

S = PriceList.Status
PRICE_COLUMNS = ("sku", "price")
OPTIONAL_COLUMNS = ("cost",)
MAX_SKU = 120


def _price_cell(text: str, currency: str) -> str | None:
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    return str(quantize(amount, currency))


def _cost_cell(text: str, currency: str) -> str | None:
    """A unit cost: 0 or more ("" when the cell is blank: no cost for that SKU); None when bad."""
    if not text:
        return ""
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return str(quantize(amount, currency))


def prices_from_csv(file: IO | bytes | str, *, currency: str) -> tuple[dict[str, str], dict[str, str]]:
    """`sku,price[,cost]` rows as ({SKU: price}, {SKU: unit cost}) in the currency's minor units.
    Every bad row is reported with its line number (`RowsInvalid`): a blank or too long SKU, a SKU
    twice, a price that is not a positive number, a cost that is not a number of 0 or more."""
    rows, errors = csv_rows(file, columns=PRICE_COLUMNS, optional=OPTIONAL_COLUMNS)
    prices: dict[str, str] = {}
    costs: dict[str, str] = {}
    seen: dict[str, int] = {}
    for number, cells in rows:
        sku, price = cells["sku"], _price_cell(cells["price"], currency)
        cost = _cost_cell(cells.get("cost", ""), currency)
        problems = []
        if not sku:
            problems.append("sku is empty")
        elif len(sku) > MAX_SKU:
            problems.append(f"sku is longer than {MAX_SKU} characters")
        elif sku in seen:
            problems.append(f"sku {sku} repeats line {seen[sku]}")
        if price is None:
            problems.append(f"price {cells['price']!r} is not a number above 0")
        if cost is None:
            problems.append(f"cost {cells['cost']!r} is not a number of 0 or more")
        if problems:
            errors.append(RowError(number, "; ".join(problems)))
            continue
        seen[sku] = number
        prices[sku] = price
        if cost:
            costs[sku] = cost
    if not errors and not prices:
        errors.append(RowError(2, "The file has no prices."))
    if errors:
        raise RowsInvalid(errors)
    return prices, costs


def price_list_import_csv(
    *,
    price_list: PriceList,
    file: IO | bytes | str,
    mode: Literal["replace", "merge"] = "merge",
    actor: User | None = None,
    actor_label: str | None = None,
) -> PriceListVersion:
    """A new draft version from a CSV file (`sku,price` and an optional `cost` column). `merge`
    changes the SKUs in the file and keeps the others; `replace` makes the file the whole list.
    Nothing is written when a row is bad."""
    if mode not in ("replace", "merge"):
        raise ValidationError({"mode": "Choose replace or merge."}, code="invalid")
    imported, imported_costs = prices_from_csv(file, currency=price_list.currency)
    with transaction.atomic():
        price_list = _locked(price_list)
        current = price_list.current_version
        prices: Mapping[str, str] = imported if mode == "replace" else {**current.prices, **imported}
        # A row without a cost keeps the SKU's cost (merge); the file is the whole list (replace).
        kept = {} if mode == "replace" else {sku: cost for sku, cost in (current.costs or {}).items() if sku in prices}
        costs = {**kept, **imported_costs}
        version = price_list_edit(
            price_list=price_list, prices=prices, costs=costs, actor=actor, actor_label=actor_label
        )
        _audit(
            price_list,
            "import",
            actor=actor,
            actor_label=actor_label,
            changes={"version": version.number, "mode": mode, "rows": len(imported)},
        )
    return version


def previous_published_version(price_list: PriceList) -> PriceListVersion | None:
    """The version that was on the channels before the published one (it has deployments)."""
    published = price_list.published_version
    if published is None:
        return None
    sent = PriceListDeployment.objects.filter(version__price_list=price_list).values("version_id")
    return (
        PriceListVersion.objects.filter(price_list=price_list, pk__in=sent, number__lt=published.number)
        .order_by("-number")
        .first()
    )


@transaction.atomic
def price_list_rollback(
    *, price_list: PriceList, actor: User | None = None, actor_label: str | None = None
) -> list[PriceListDeployment]:
    """Put the previously published prices back on the channels: a new version with that version's
    prices and channels, published now. A draft or scheduled version in the way is superseded."""
    price_list = _locked(price_list)
    previous = previous_published_version(price_list)
    if previous is None:
        raise ValidationError(
            {"status": "Nothing to roll back to: no version was published before this one."}, code="illegal_transition"
        )
    rolled_back_from = price_list.published_version.number
    version = price_list_edit(
        price_list=price_list,
        prices=previous.prices,
        costs=previous.costs or {},
        starts_at=timezone.now(),
        channels=previous.channels.all(),
        actor=actor,
        actor_label=actor_label,
    )
    now = timezone.now()
    version.validation = {
        "ok": True,
        "errors": [],
        "warnings": [],
        "rollback_of": rolled_back_from,
        "restores": previous.number,
        "at": now.isoformat(),
    }
    version.requires_approval, version.submitted_at = False, now
    version.save(update_fields=["validation", "requires_approval", "submitted_at"])
    price_list = _locked(price_list)
    _audit(
        price_list,
        "rollback",
        actor=actor,
        actor_label=actor_label,
        changes={"from": rolled_back_from, "restores": previous.number, "version": version.number},
    )
    return price_list_publish_now(price_list=price_list, actor=actor, actor_label=actor_label)


def price_lists_publish_due() -> int:
    """The periodic job: publish every scheduled version whose start has come. Returns how many."""
    due = PriceList.objects.filter(status=S.SCHEDULED, current_version__starts_at__lte=timezone.now())
    count = 0
    for price_list_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            price_list = PriceList.objects.select_for_update().filter(pk=price_list_id, status=S.SCHEDULED).first()
            if price_list is None or price_list.current_version.starts_at > timezone.now():
                continue  # edited or published meanwhile
            price_list_publish_now(price_list=price_list, actor_label="schedule")
            count += 1
    return count


def price_list_next_start() -> dt.datetime | None:
    """When the next scheduled version starts (for the periodic job's due time), or None."""
    return (
        PriceList.objects.filter(status=S.SCHEDULED)
        .order_by("current_version__starts_at")
        .values_list("current_version__starts_at", flat=True)
        .first()
    )
