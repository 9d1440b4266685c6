"""The demo month posts through the real services, balances, reconciles, and is idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum
from django_tenants.utils import tenant_context

from commerce.models import Order, Payout, Refund
from mappings.services import standard_chart_apply
from portal.demo.posting import ledger_demo_seed
from posting.models import JournalEntry, JournalLine, Reconciliation
from triage.models import Exception as TriageException


def test_demo_month_posts_balances_reconciles_and_is_idempotent(world):
    with tenant_context(world.bluebird):
        standard_chart_apply()
        first = ledger_demo_seed(currency="GBP", today=dt.date(2026, 3, 5))
        assert (first.orders, first.refunds, first.payouts) == (56, 13, 5)
        assert Order.objects.count() == 56 and Refund.objects.count() == 13 and Payout.objects.count() == 5
        assert first.entries == 56 + 13 + 5
        for entry in JournalEntry.objects.all():
            totals = entry.lines.aggregate(debit=Sum("debit"), credit=Sum("credit"))
            assert totals["debit"] == totals["credit"], entry.source_key
        assert list(Reconciliation.objects.values_list("status", flat=True)) == ["matched"] * 5
        assert TriageException.objects.count() == 0
        assert JournalEntry.objects.order_by("date").first().date == dt.date(2026, 2, 1)
        clearing = JournalLine.objects.filter(account__code="1110").aggregate(debit=Sum("debit"), credit=Sum("credit"))
        assert clearing["debit"] - clearing["credit"] == Decimal(0)  # every card payment paid out
        again = ledger_demo_seed(currency="GBP", today=dt.date(2026, 3, 5))
        assert again.entries == first.entries
