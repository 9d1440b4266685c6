"""Xero Accounting API (`https://api.xero.com/api.xro/2.0`), OAuth 2 with PKCE and refresh.

References: https://developer.xero.com/documentation/api/accounting/manualjournals ,
.../accounting/accounts , .../accounting/taxrates , .../accounting/trackingcategories ,
.../http-response-codes, OAuth: https://developer.xero.com/documentation/guides/oauth2/pkce-flow
- chart: `GET /Accounts` (`AccountID`, `Code`, `Name`, `Class`, `Status`), `GET /TaxRates`,
  `GET /TrackingCategories` (each category's options become dimensions);
- push: `PUT /ManualJournals` with `JournalLines` (`LineAmount` positive = debit, negative =
  credit, `AccountCode`, `Tracking`), `Status: POSTED`, our reference at the start of `Narration`
  (`[TB-12] …`, looked up with `where=Narration.StartsWith("[TB-12]")`) and as `Idempotency-Key`;
- reverse: Xero's VOIDED status erases the journal on its original date (and is refused in a
  locked period), so a reversal is a mirrored manual journal dated the reversal's day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from posting.erp import base
from posting.erp.oauth import OAuth2Adapter

CLASSES = {"ASSET": "asset", "LIABILITY": "liability", "EQUITY": "equity", "REVENUE": "revenue", "EXPENSE": "expense"}
STATES = {
    "DRAFT": base.EntryState.DRAFT,
    "POSTED": base.EntryState.POSTED,
    "VOIDED": base.EntryState.CANCELLED,
    "DELETED": base.EntryState.CANCELLED,
    "ARCHIVED": base.EntryState.POSTED,
}
API = "https://api.xero.com/api.xro/2.0"


def narration_tag(reference: str) -> str:
    return f"[{reference}]"


class XeroAdapter(OAuth2Adapter):
    vendor = "xero"
    label = "Xero"
    authorize_url = "https://login.xero.com/identity/connect/authorize"
    token_url = "https://identity.xero.com/connect/token"  # noqa: S105 - a URL, not a secret
    connections_url = "https://api.xero.com/connections"
    scopes = ("openid", "profile", "email", "offline_access", "accounting.transactions", "accounting.settings")
    uses_pkce = True
    refresh_token_lifetime = dt.timedelta(days=60)  # unused for 60 days, a Xero refresh token lapses
    capabilities = base.Capabilities(
        tax_codes=True,
        dimensions=("tracking",),
        native_reversal=False,
        oauth2=True,
        notes=(
            "OAuth 2 with PKCE (refreshed before expiry, refresh token kept alive within its 60 days; "
            "re-connect when refused); one organisation "
            "(Xero-tenant-id) per connection. Accounts by Code (Xero accounts without a code are not "
            "imported). Up to two tracking categories per line (dimension key = category name). "
            "LineAmountTypes NoTax: no tax lines are generated. Reversal = mirrored manual journal."
        ),
    )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = {"Xero-tenant-id": self.config["tenant_id"], **(headers or {})}
        response = self.authorised(method, f"{API}{path}", params=params or {}, **base.json_request(body, all_headers))
        problem = response.headers.get("x-rate-limit-problem", "")
        limited = f"Xero: rate limit exceeded{f' ({problem} limit)' if problem else ''}."
        return base.response_json(self.answered(response, rate_limited=limited), vendor=self.label)

    def refusal(self, status: int, body: dict[str, Any]) -> base.ErpError:
        messages = [
            error.get("Message", "")
            for element in body.get("Elements") or []
            for error in element.get("ValidationErrors") or []
        ]
        words = (
            "; ".join(message for message in messages if message)
            or body.get("Detail")
            or body.get("Message")
            or (f"HTTP {status}")
        )
        lowered = words.lower()
        kind = base.error_kind(
            status=status,
            reconnect=status in (401, 403),
            closed_period="lock date" in lowered or "locked period" in lowered,
            unknown_account="account code" in lowered or ("account" in lowered and "archived" in lowered),
        )
        return base.ErpError(kind, f"Xero: {words}", status_code=status, code=str(body.get("ErrorNumber", "")))

    def connections(self) -> list[dict[str, Any]]:
        """The organisations this grant reaches (`tenantId`, `tenantName`), chosen after connecting."""
        response = self.authorised("GET", self.connections_url)
        return base.response_json(response, vendor=self.label)

    def fetch_chart(self) -> base.ErpChart:
        accounts = [
            base.ErpAccount(
                external_id=row["AccountID"],
                code=row["Code"],
                name=row["Name"],
                type=CLASSES[row["Class"]],
                active=row.get("Status") == "ACTIVE",
                currency=row.get("CurrencyCode", ""),
            )
            for row in self._call("GET", "/Accounts")["Accounts"]
            if row.get("Code") and row.get("Class") in CLASSES
        ]
        taxes = [
            base.ErpTaxCode(
                row["TaxType"],
                row["TaxType"],
                row["Name"],
                Decimal(str(row.get("EffectiveRate", 0))),
                row.get("Status") == "ACTIVE",
            )
            for row in self._call("GET", "/TaxRates")["TaxRates"]
        ]
        dimensions = [
            base.ErpDimension(
                category["Name"],
                option["TrackingOptionID"],
                option["Name"],
                option.get("Status") == "ACTIVE" and category.get("Status") == "ACTIVE",
            )
            for category in self._call("GET", "/TrackingCategories", params={"includeArchived": "true"})[
                "TrackingCategories"
            ]
            for option in category.get("Options") or []
        ]
        return base.ErpChart(accounts=accounts, tax_codes=taxes, dimensions=dimensions)

    def find(self, reference: str) -> base.ErpEntry | None:
        tag = narration_tag(reference).replace('"', "")
        rows = self._call("GET", "/ManualJournals", params={"where": f'Narration.StartsWith("{tag}")'})[
            "ManualJournals"
        ]
        for row in rows:
            state = STATES.get(row.get("Status", ""), base.EntryState.POSTED)
            if state != base.EntryState.CANCELLED:
                return base.ErpEntry(row["ManualJournalID"], state)
        return None

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        lines = []
        for line in journal.lines:
            row: dict[str, Any] = {
                "LineAmount": line.amount,
                "AccountCode": line.account_code,
                "Description": line.description,
            }
            tracking = [
                {"Name": name, "Option": option}
                for name, option in sorted(line.dimensions.items())
                if name not in ("class", "department", "location", "cost_center", "analytic")
            ]
            if tracking:
                row["Tracking"] = tracking[:2]
            lines.append(row)
        body = {
            "ManualJournals": [
                {
                    "Narration": f"{narration_tag(journal.reference)} {journal.memo}".strip(),
                    "Date": journal.date.isoformat(),
                    "Status": "POSTED",
                    "LineAmountTypes": "NoTax",
                    "JournalLines": lines,
                }
            ]
        }
        created = self._call("PUT", "/ManualJournals", body=body, headers={"Idempotency-Key": journal.reference})
        row = created["ManualJournals"][0]
        return base.ErpEntry(row["ManualJournalID"], STATES.get(row.get("Status", ""), base.EntryState.POSTED))

    def finish(self, entry: base.ErpEntry) -> base.ErpEntry:
        if entry.state != base.EntryState.DRAFT:
            return entry
        body = {"ManualJournals": [{"ManualJournalID": entry.external_id, "Status": "POSTED"}]}
        row = self._call("POST", f"/ManualJournals/{quote(entry.external_id)}", body=body)["ManualJournals"][0]
        return base.ErpEntry(row["ManualJournalID"], STATES.get(row.get("Status", ""), base.EntryState.POSTED))

    def status(self, external_id: str) -> base.ErpEntry:
        row = self._call("GET", f"/ManualJournals/{quote(external_id)}")["ManualJournals"][0]
        return base.ErpEntry(row["ManualJournalID"], STATES.get(row.get("Status", ""), base.EntryState.POSTED))

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        return self.mirror_reverse(original=original, reference=reference, date=date)
