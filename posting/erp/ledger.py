"""The built-in ledger as an ERP target (the default): every journal is already in it, so a push
is an acknowledgement and a reversal is the reversing entry the posting service wrote."""

from __future__ import annotations

import datetime as dt

from mappings.models import Account
from posting.erp.base import (
    Capabilities,
    EntryState,
    ErpAccount,
    ErpAdapter,
    ErpChart,
    ErpEntry,
    ErpError,
    ErpJournal,
    ErrorKind,
    PushResult,
)
from posting.models import JournalEntry

REFERENCE_PREFIX = "TB-"


def ledger_id(entry_id: int) -> str:
    return f"ledger:{entry_id}"


class BuiltinLedgerAdapter(ErpAdapter):
    vendor = "builtin_ledger"
    label = "Built-in ledger"
    capabilities = Capabilities(
        tax_codes=False,
        dimensions=("any",),
        native_reversal=True,
        oauth2=False,
        notes="Always available, no connection needed. Trial balance, ledger and CSV/beancount export in the portal.",
    )

    def _entry_id(self, reference: str) -> int | None:
        number = reference.removeprefix(REFERENCE_PREFIX).removesuffix("-R")
        return int(number) if number.isdigit() else None

    def fetch_chart(self) -> ErpChart:
        return ErpChart(
            accounts=[
                ErpAccount(
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

    def find(self, reference: str) -> ErpEntry | None:
        entry_id = self._entry_id(reference)
        if entry_id is None or not JournalEntry.objects.filter(pk=entry_id).exists():
            return None
        return ErpEntry(ledger_id(entry_id), EntryState.POSTED, str(entry_id))

    def create(self, journal: ErpJournal) -> ErpEntry:
        raise ErpError(ErrorKind.NOT_FOUND, f"The built-in ledger has no journal {journal.reference}.")

    def status(self, external_id: str) -> ErpEntry:
        entry_id = external_id.removeprefix("ledger:")
        if not entry_id.isdigit() or not JournalEntry.objects.filter(pk=int(entry_id)).exists():
            raise ErpError(ErrorKind.NOT_FOUND, f"The built-in ledger has no journal {external_id}.")
        return ErpEntry(external_id, EntryState.POSTED, entry_id)

    def reverse(self, *, external_id: str, original: ErpJournal, reference: str, date: dt.date) -> PushResult:
        return self.mirror_reverse(original=original, reference=reference, date=date)
