"""QuickBooks Online Accounting API (v3), OAuth 2 with refresh.

References: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/journalentry
and .../all-entities/account, error format: .../develop/troubleshooting/error-codes.
- chart: `select * from Account where Active in (true, false)` (`Id`, `AcctNum`, `Name`,
  `Classification`, `Active`, `CurrencyRef`), `TaxCode`, `Class` and `Department` (locations);
- push: `JournalEntry` with `Line[]` of `DetailType: JournalEntryLineDetail`
  (`PostingType` Debit/Credit, `AccountRef`, `ClassRef`, `DepartmentRef`), our reference in
  `DocNumber` (≤ 21 characters) and the `requestid` query parameter (Intuit's own retry guard);
- reverse: the API has no reversal operation: a mirrored JournalEntry is created under the
  reversal's reference.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from posting.erp import base
from posting.erp.oauth import OAuth2Adapter

CLASSIFICATIONS = {
    "Asset": "asset",
    "Liability": "liability",
    "Equity": "equity",
    "Revenue": "revenue",
    "Expense": "expense",
}
HOSTS = {"production": "https://quickbooks.api.intuit.com", "sandbox": "https://sandbox-quickbooks.api.intuit.com"}
MINOR_VERSION = "75"


class QuickBooksAdapter(OAuth2Adapter):
    vendor = "quickbooks"
    label = "QuickBooks Online"
    authorize_url = "https://appcenter.intuit.com/connect/oauth2"
    token_url = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL, not a secret
    scopes = ("com.intuit.quickbooks.accounting",)
    uses_pkce = False  # Intuit documents the confidential-client code flow (client secret), not PKCE
    refresh_token_lifetime = dt.timedelta(days=100)  # Intuit also sends x_refresh_token_expires_in
    capabilities = base.Capabilities(
        tax_codes=True,
        dimensions=("class", "department"),
        native_reversal=False,
        oauth2=True,
        notes=(
            "OAuth 2 (client id/secret; refreshed before the access token expires and kept alive "
            "before the 100-day refresh token lapses; re-connect when the refresh token is refused). "
            "Accounts by Id; Class and Department (location) per line. Reversal = mirrored entry "
            "(the API has no reverse operation). DocNumber holds ≤ 21 characters. Tax codes are "
            "imported for mapping only: journal lines carry no tax detail."
        ),
    )

    @property
    def base_url(self) -> str:
        host = HOSTS[self.config.get("environment", "production")]
        return f"{host}/v3/company/{self.config['realm_id']}"

    def _call(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None) -> Any:
        response = self.authorised(
            method,
            f"{self.base_url}{path}",
            params={"minorversion": MINOR_VERSION, **(params or {})},
            **base.json_request(body, {}),
        )
        base.rate_limit_check(response, "QuickBooks Online: ThrottleExceeded (HTTP 429).")
        payload = base.response_json(response, vendor=self.label)
        if "Fault" in payload:
            raise self._error(response.status_code, payload["Fault"])
        if response.status_code >= 400:
            raise base.ErpError(
                base.ErrorKind.UNAVAILABLE,
                f"QuickBooks Online: HTTP {response.status_code}.",
                status_code=response.status_code,
            )
        return payload

    def _error(self, status: int, fault: dict[str, Any]) -> base.ErpError:
        errors = fault.get("Error") or [{}]
        first = errors[0]
        code = str(first.get("code", ""))
        words = "; ".join(
            " — ".join(part for part in (error.get("Message"), error.get("Detail")) if part) for error in errors
        )
        lowered = words.lower()
        if fault.get("type") == "AuthenticationFault" or status == 401:
            kind = base.ErrorKind.AUTH_EXPIRED
        elif "period closed" in lowered or "closed period" in lowered or "books cannot be" in lowered:
            kind = base.ErrorKind.CLOSED_PERIOD
        elif code in ("610", "2500") and "account" in lowered:
            kind = base.ErrorKind.UNKNOWN_ACCOUNT
        elif code == "3001" or "throttle" in lowered:
            kind = base.ErrorKind.RATE_LIMITED
        elif status >= 500:
            kind = base.ErrorKind.UNAVAILABLE
        else:
            kind = base.ErrorKind.VALIDATION
        return base.ErpError(kind, f"QuickBooks Online: {words}", status_code=status, code=code)

    def query(self, statement: str) -> dict[str, Any]:
        return self._call("GET", "/query", params={"query": statement})["QueryResponse"]

    def _query_all(self, entity: str, where: str = "") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = self.query(f"select * from {entity}{where} STARTPOSITION {start} MAXRESULTS 1000").get(entity, [])
            rows.extend(page)
            if len(page) < 1000:
                return rows
            start += 1000

    def fetch_chart(self) -> base.ErpChart:
        accounts = [
            base.ErpAccount(
                external_id=row["Id"],
                code=row.get("AcctNum") or row["Id"],
                name=row.get("FullyQualifiedName") or row["Name"],
                type=CLASSIFICATIONS[row["Classification"]],
                active=bool(row.get("Active", True)),
                currency=(row.get("CurrencyRef") or {}).get("value", ""),
            )
            for row in self._query_all("Account", " where Active in (true, false)")
            if row.get("Classification") in CLASSIFICATIONS
        ]
        taxes = [
            base.ErpTaxCode(
                row["Id"], row["Name"], row.get("Description") or row["Name"], None, bool(row.get("Active", True))
            )
            for row in self._query_all("TaxCode")
        ]
        dimensions = [
            base.ErpDimension(
                "class", row["Id"], row.get("FullyQualifiedName") or row["Name"], bool(row.get("Active", True))
            )
            for row in self._query_all("Class")
        ] + [
            base.ErpDimension(
                "department", row["Id"], row.get("FullyQualifiedName") or row["Name"], bool(row.get("Active", True))
            )
            for row in self._query_all("Department")
        ]
        return base.ErpChart(accounts=accounts, tax_codes=taxes, dimensions=dimensions)

    def find(self, reference: str) -> base.ErpEntry | None:
        safe = reference.replace("'", "\\'")
        rows = self.query(f"select * from JournalEntry where DocNumber = '{safe}'").get("JournalEntry", [])
        if not rows:
            return None
        return base.ErpEntry(rows[0]["Id"], base.EntryState.POSTED, rows[0].get("DocNumber", ""))

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        if len(journal.reference) > 21:
            raise base.ErpError(
                base.ErrorKind.VALIDATION, f"Reference {journal.reference} is longer than QuickBooks' 21 characters."
            )
        self.require_external_ids(journal)
        lines = []
        for position, line in enumerate(journal.lines):
            detail: dict[str, Any] = {
                "PostingType": "Debit" if line.debit > 0 else "Credit",
                "AccountRef": {"value": line.account_external_id},
            }
            if line.dimensions.get("class"):
                detail["ClassRef"] = {"value": line.dimensions["class"]}
            if line.dimensions.get("department"):
                detail["DepartmentRef"] = {"value": line.dimensions["department"]}
            lines.append(
                {
                    "Id": str(position),
                    "Description": line.description[:4000],
                    "Amount": line.debit if line.debit > 0 else line.credit,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": detail,
                }
            )
        body = {
            "DocNumber": journal.reference,
            "TxnDate": journal.date.isoformat(),
            "PrivateNote": journal.memo[:4000],
            "CurrencyRef": {"value": journal.currency},
            "Line": lines,
        }
        if not any(line["Amount"] != Decimal(0) for line in lines):
            raise base.ErpError(base.ErrorKind.VALIDATION, f"Journal {journal.reference} has no amounts.")
        created = self._call("POST", "/journalentry", params={"requestid": journal.reference}, body=body)[
            "JournalEntry"
        ]
        return base.ErpEntry(created["Id"], base.EntryState.POSTED, created.get("DocNumber", ""))

    def status(self, external_id: str) -> base.ErpEntry:
        try:
            row = self._call("GET", f"/journalentry/{quote(external_id)}")["JournalEntry"]
        except base.ErpError as error:
            if error.code == "610":
                raise base.ErpError(base.ErrorKind.NOT_FOUND, error.message, code=error.code) from error
            raise
        return base.ErpEntry(row["Id"], base.EntryState.POSTED, row.get("DocNumber", ""))

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        return self.mirror_reverse(original=original, reference=reference, date=date)
