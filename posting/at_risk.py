"""Money at risk of a journal entry (triage/money.py): a failed push holds back the entry's
total (its debits). Registered from `PostingConfig.ready()`."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from core.money import quantize
from posting.models import JournalEntry
from triage.money import money_at_risk_resolver


@money_at_risk_resolver("posting.journalentry")
def journal_at_risk(entry: JournalEntry) -> tuple[Decimal, str]:
    total = entry.lines.aggregate(total=Sum("debit"))["total"] or Decimal(0)
    return quantize(total, entry.currency), entry.currency
