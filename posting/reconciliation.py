"""Payout reconciliation (DESIGN.md §4): every line of a payout matched to what was posted for the
document it settles, or to the payout journal's line of its role; every difference recorded,
explained per line and raised into the inbox."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import models, transaction

from commerce.models import Order, Payout, PayoutLine, Refund
from core.money import quantize
from mappings.models import PostingRole
from posting.builders import Problem
from posting.errors import problem_fields
from posting.events import payout_reconciled_emit
from posting.journals import order_entry
from posting.models import JournalEntry, JournalLine, Reconciliation
from posting.processors import processor_charge_key
from posting.selectors import payout_line_row
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object


def _posted_clearing_credit(entry: JournalEntry) -> Decimal:
    return entry.lines.filter(role="payment_clearing").aggregate(total=models.Sum("credit"))["total"] or Decimal(0)


@dataclass(frozen=True)
class _Expected:
    """What a charge or refund line should be, from the document it settles; `amount` None: not known."""

    amount: Decimal | None
    reason: str = ""
    document: dict | None = None
    entry_id: int | None = None


def _charge_expected(*, reference: str, gateway: str, currency: str) -> _Expected:
    orders = list(Order.objects.filter(external_id=reference)[:2])
    processor_entry = None
    if not orders:
        processor_entry = JournalEntry.objects.filter(source_key=processor_charge_key(reference)).first()
    if processor_entry is not None:  # a processor charge: it settled its storefront order's clearing
        line = processor_entry.lines.order_by("position").first()
        order_source = next((source for source in line.sources if source.get("type") == "order"), None)
        document = (
            {"type": "order", "id": order_source["id"], "external_id": order_source["external_id"]}
            if order_source
            else None
        )
        if processor_entry.currency != currency:
            return _Expected(None, f"the charge is in {processor_entry.currency}, the payout in {currency}", document)
        return _Expected(quantize(_posted_clearing_credit(processor_entry), currency), "", document, processor_entry.pk)
    if len(orders) != 1:
        return _Expected(None, "no order with this reference" if not orders else "several orders share this reference")
    order = orders[0]
    document = {"type": "order", "id": order.pk, "external_id": order.external_id}
    if order.currency != currency:
        return _Expected(None, f"the order is in {order.currency}, the payout in {currency}", document)
    entry = order_entry(order)
    if entry is None:
        return _Expected(None, "the order is not posted", document)
    paid = order.payments.filter(gateway=gateway, is_gift_card=False).aggregate(total=models.Sum("amount"))["total"]
    return _Expected(quantize(paid or 0, order.currency), "", document, entry.pk)


def _refund_expected(*, reference: str, currency: str) -> _Expected:
    refunds = list(Refund.objects.filter(external_id=reference)[:2])
    if len(refunds) != 1:
        return _Expected(
            None, "no refund with this reference" if not refunds else "several refunds share this reference"
        )
    refund = refunds[0]
    document = {"type": "refund", "id": refund.pk, "external_id": refund.external_id, "order_id": refund.order_id}
    if refund.currency != currency:
        return _Expected(None, f"the refund is in {refund.currency}, the payout in {currency}", document)
    entries = JournalEntry.objects.filter(source_key__startswith=f"refund:{refund.pk}:v")
    latest = entries.order_by("-pk").first()
    if latest is None:
        return _Expected(None, "the refund is not posted", document)
    # Its first posting and every version's difference, net.
    totals = JournalLine.objects.filter(entry__in=entries, role="payment_clearing").aggregate(
        debit=models.Sum("debit"), credit=models.Sum("credit")
    )
    credited = (totals["credit"] or Decimal(0)) - (totals["debit"] or Decimal(0))
    return _Expected(-quantize(credited, refund.currency), "", document, latest.pk)


# The role each payout line type is booked to by build_payout, and the sign that turns the line's
# amount into a debit on that role (a fee line of -2.00 debits merchant fees 2.00; an adjustment,
# reserve or unknown line of -1.00 credits its role -1.00, i.e. debits it 1.00).
PAYOUT_LINE_ROLES: dict[str, tuple[str, int]] = {
    PayoutLine.Type.FEE: (PostingRole.MERCHANT_FEES, -1),
    PayoutLine.Type.ADJUSTMENT: (PostingRole.PAYOUT_ADJUSTMENT, -1),
    PayoutLine.Type.RESERVE: (PostingRole.RESERVE, -1),
    PayoutLine.Type.OTHER: (PostingRole.PAYOUT_SUSPENSE, -1),
}


# A payout's postings: its journal entries' ids, and per role the net debit and the journal line ids.
PayoutPostings = tuple[list[int], dict[str, tuple[Decimal, list[int]]]]


def _payout_role_postings(payout: Payout) -> PayoutPostings:
    """Every journal entry posted for this payout, oldest first (all versions, reversals netting
    out) and, per role, the net debit posted and the ids of the journal lines behind it."""
    entries = list(
        JournalEntry.objects.filter(source_key__startswith=f"payout:{payout.pk}:v")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    per_role: dict[str, tuple[Decimal, list[int]]] = {}
    for line_id, role, debit, credit in JournalLine.objects.filter(entry_id__in=entries).values_list(
        "pk", "role", "debit", "credit"
    ):
        total, ids = per_role.get(role, (Decimal(0), []))
        per_role[role] = (total + debit - credit, [*ids, line_id])
    return entries, per_role


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _role_expected(payout_lines: list[PayoutLine]) -> dict[str, Decimal]:
    """What the payout's lines put on each role, as a net debit."""
    role_expected: dict[str, Decimal] = defaultdict(Decimal)
    for line in payout_lines:
        role_expected[PostingRole.MERCHANT_FEES] += line.fee
        if line.type in PAYOUT_LINE_ROLES:
            role, sign = PAYOUT_LINE_ROLES[line.type]
            role_expected[role] += sign * line.amount
    return role_expected


def _document_match(line: PayoutLine, *, payout: Payout, actual: Decimal) -> tuple[dict, str, Decimal]:
    """A charge or refund line against what was posted for the document it settles: (the row's
    fields, the reason it does not match or "", the gap)."""
    if line.type == PayoutLine.Type.CHARGE:
        expected = _charge_expected(reference=line.reference, gateway=payout.gateway, currency=payout.currency)
    else:
        expected = _refund_expected(reference=line.reference, currency=payout.currency)
    fields = {
        "role": PostingRole.PAYMENT_CLEARING,
        "document": expected.document,
        "journal_entry": expected.entry_id,
        "expected": _money(expected.amount),
    }
    reason = expected.reason
    if expected.amount is not None and expected.amount != actual:
        reason = f"posted {expected.amount}, paid out {actual}"
    gap = actual - expected.amount if expected.amount is not None else actual
    return fields, reason, gap


def _role_match(
    line: PayoutLine,
    *,
    actual: Decimal,
    currency: str,
    postings: PayoutPostings,
    role_expected: dict[str, Decimal],
) -> tuple[dict, str, Decimal]:
    """A fee, adjustment, reserve or unknown line against the payout journal's line of its role."""
    entries, per_role = postings
    role, _sign = PAYOUT_LINE_ROLES.get(line.type, (PostingRole.PAYOUT_SUSPENSE, -1))
    posted, line_ids = per_role.get(role, (Decimal(0), []))
    wanted = quantize(role_expected.get(role, Decimal(0)), currency)
    fields = {
        "role": role,
        "journal_entry": entries[-1] if entries else None,
        "journal_lines": line_ids,
        "expected": _money(actual) if entries else None,
    }
    if not entries:
        return fields, "the payout is not posted", actual
    if quantize(posted, currency) != wanted:
        return fields, f"the payout journal holds {quantize(posted, currency)} on {role}, its lines {wanted}", actual
    return fields, "", Decimal(0)


def _reconcile_row(
    position: int,
    line: PayoutLine,
    *,
    payout: Payout,
    postings: PayoutPostings,
    role_expected: dict[str, Decimal],
) -> dict:
    currency = payout.currency
    actual = quantize(line.amount, currency)
    row = payout_line_row(position, line, currency)
    if line.type in (PayoutLine.Type.CHARGE, PayoutLine.Type.REFUND):
        fields, reason, gap = _document_match(line, payout=payout, actual=actual)
    else:
        fields, reason, gap = _role_match(
            line, actual=actual, currency=currency, postings=postings, role_expected=role_expected
        )
    row.update(fields)
    row["difference"] = str(quantize(gap, currency)) if reason else "0"
    if line.type == PayoutLine.Type.OTHER and not reason:
        row["state"] = "suspense"
        row["difference"] = str(actual)
        row["reason"] = f"vendor type {line.vendor_type or 'unknown'!r} booked to payout suspense"
    elif reason:
        row["state"] = "unmatched"
        row["reason"] = reason
    else:
        row["state"] = "matched"
    return row


def _status(rows: list[dict]) -> tuple[str, int]:
    matched = sum(1 for row in rows if row["state"] == "matched")
    if matched == len(rows):  # a payout with no lines has nothing left to match
        return Reconciliation.Status.MATCHED, matched
    if matched == 0:
        return Reconciliation.Status.UNMATCHED, matched
    return Reconciliation.Status.DIFFERENCES, matched


def _differences_raise(*, payout: Payout, differences: list[dict]) -> None:
    for row in differences:
        message = f"Payout {payout.external_id} {row['type']} {row['reference']!r}: {row['reason']}."
        transaction.on_commit(
            lambda message=message: exception_raise(
                **problem_fields(Problem("reconciliation_difference", message)),
                obj=payout,
                title=f"Payout {payout.external_id} does not reconcile",
                retry=RetryAction("posting.payout_reconcile", {"payout_id": payout.pk}),
            )
        )


# A difference as recorded on the reconciliation: (its key, the row field it comes from).
_DIFFERENCE_FIELDS = (
    ("line", "line"),
    ("type", "type"),
    ("reference", "reference"),
    ("expected", "expected"),
    ("actual", "amount"),
    ("reason", "reason"),
)


@transaction.atomic
def payout_reconcile(*, payout: Payout) -> Reconciliation:
    """Match every line of a payout (DESIGN.md §4). Charges and refunds: to what was posted for the
    order or refund they settle. Fee, adjustment and reserve lines (and the fees carried on charge
    lines): to the payout journal's line of their role, which must hold exactly what the payout's
    lines of that role add up to. Lines of a vendor type Tillbridge does not know are shown in
    suspense (their exception stays open until reclassified). Every other difference is recorded,
    raised as a reconciliation problem, and its amount explained per line."""
    payout_lines = list(payout.lines.order_by("position"))
    postings = _payout_role_postings(payout)
    role_expected = _role_expected(payout_lines)
    rows = [
        _reconcile_row(position, line, payout=payout, postings=postings, role_expected=role_expected)
        for position, line in enumerate(payout_lines)
    ]
    differences = [{key: row[name] for key, name in _DIFFERENCE_FIELDS} for row in rows if row["state"] == "unmatched"]
    status, matched = _status(rows)
    difference = quantize(sum((Decimal(row["difference"]) for row in rows), Decimal(0)), payout.currency)
    previous = Reconciliation.objects.filter(payout=payout).values_list("status", flat=True).first()
    reconciliation, _ = Reconciliation.objects.update_or_create(
        payout=payout,
        defaults={
            "status": status,
            "matched": matched,
            "differences": differences,
            "lines": rows,
            "difference": difference,
        },
    )
    # Lines booked to payout suspense keep their exception open until someone reclassifies them.
    if status == Reconciliation.Status.MATCHED:
        exception_resolve_for_object(obj=payout, reason="Payout reconciles.")
    _differences_raise(payout=payout, differences=differences)
    if status != previous:  # the first check, or a re-check that changed the result
        payout_reconciled_emit(reconciliation)
    return reconciliation
