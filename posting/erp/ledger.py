"""The built-in ledger as an ERP target (the default): every journal is already in it, so a push
is an acknowledgement and a reversal is the reversing entry the posting service wrote."""

from __future__ import annotations

import datetime as dt

from mappings.models import Account
from posting.erp import base
from posting.models import JournalEntry

REFERENCE_PREFIX = "TB-"


def ledger_id(entry_id: int) -> str:
    return f"ledger:{entry_id}"


class BuiltinLedgerAdapter(base.ErpAdapter):
    vendor = "builtin_ledger"
    label = "Built-in ledger"
    capabilities = base.Capabilities(
        tax_codes=False,
        dimensions=("any",),
        native_reversal=True,
        oauth2=False,
        notes="Always available, no connection needed. Trial balance, ledger and CSV/beancount export in the portal.",
    )

    def _entry_id(self, reference: str) -> int | None:
        number = reference.removeprefix(REFERENCE_PREFIX).removesuffix("-R")
        return int(number) if number.isdigit() else None

    def fetch_chart(self) -> base.ErpChart:
        return base.ErpChart(
            accounts=[
                base.ErpAccount(
                    account.external_id or account.code,
                    account.code,
                    account.name,
                    account.type,
                    account.active,
                    account.currency,
                )
                for account in Account.objects.order_by("code")
            ]
        )

    def find(self, reference: str) -> base.ErpEntry | None:
        entry_id = self._entry_id(reference)
        if entry_id is None or not JournalEntry.objects.filter(pk=entry_id).exists():
            return None
        return base.ErpEntry(ledger_id(entry_id), base.EntryState.POSTED, str(entry_id))

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        raise base.ErpError(base.ErrorKind.NOT_FOUND, f"The built-in ledger has no journal {journal.reference}.")

    def status(self, external_id: str) -> base.ErpEntry:
        entry_id = external_id.removeprefix("ledger:")
        if not entry_id.isdigit() or not JournalEntry.objects.filter(pk=int(entry_id)).exists():
            raise base.ErpError(base.ErrorKind.NOT_FOUND, f"The built-in ledger has no journal {external_id}.")
        return base.ErpEntry(external_id, base.EntryState.POSTED, entry_id)

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        return self.mirror_reverse(original=original, reference=reference, date=date)
