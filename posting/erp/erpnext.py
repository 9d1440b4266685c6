"""ERPNext / Frappe over the REST API (`/api/resource/<DocType>`, token auth).

References: https://docs.frappe.io/framework/user/en/api/rest and the Journal Entry doctype
(https://docs.frappe.io/erpnext/user/manual/en/journal-entry).
- chart: `Account` leaves of the configured company (`name` is the id, e.g. "4010 - Sales - AC";
  `account_number`, `root_type`, `disabled`, `account_currency`, `account_type` = "Tax" for tax
  accounts), dimensions from `Cost Center`;
- push: `Journal Entry` with `accounts` rows (`account`, `debit_in_account_currency`,
  `credit_in_account_currency`, `cost_center`), our reference in `cheque_no` (Reference Number)
  and `cheque_date`; created as a draft, then submitted (`docstatus` 0 → 1). A draft left by an
  interrupted push is submitted by the re-push;
- reverse: `make_reverse_journal_entry` (ERPNext's own "Reverse Journal Entry"), inserted and
  submitted under the reversal's reference.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from posting.erp import base
from posting.erp.http import partner_base_url

ROOT_TYPES = {"Asset": "asset", "Liability": "liability", "Equity": "equity", "Income": "revenue", "Expense": "expense"}
DOCSTATUS = {0: base.EntryState.DRAFT, 1: base.EntryState.POSTED, 2: base.EntryState.CANCELLED}
JOURNAL = "Journal%20Entry"
REVERSE_METHOD = "erpnext.accounts.doctype.journal_entry.journal_entry.make_reverse_journal_entry"


def server_messages(body: dict[str, Any]) -> list[str]:
    """Frappe puts user-facing messages in `_server_messages`: a JSON list of JSON objects."""
    raw = body.get("_server_messages")
    messages = []
    if raw:
        try:
            for item in json.loads(raw):
                try:
                    messages.append(json.loads(item).get("message", item))
                except (ValueError, AttributeError):
                    messages.append(str(item))
        except ValueError:
            messages.append(str(raw))
    return messages


class ErpNextAdapter(base.ErpAdapter):
    vendor = "erpnext"
    label = "ERPNext"
    capabilities = base.Capabilities(
        tax_codes=True,
        dimensions=("cost_center",),
        native_reversal=True,
        oauth2=False,
        notes=(
            "Token auth (API key and secret of an API user). One company per connection. Accounts by "
            "name; the cost center dimension per line (default: the company's). Tax codes are the "
            "company's accounts of type Tax. Single-currency entries only (multi_currency = 0)."
        ),
    )

    @property
    def base_url(self) -> str:
        return partner_base_url(self.config.get("base_url", ""), label=self.label)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {
            "Authorization": f"token {self.credentials['api_key']}:{self.credentials['api_secret']}",
            "Accept": "application/json",
        }
        response = self.send(
            method, f"{self.base_url}{path}", **base.json_request(kwargs.pop("json_body", None), headers), **kwargs
        )
        answer = self.answered(response, rate_limited="ERPNext: too many requests (HTTP 429).")
        return base.response_json(answer, vendor=self.label)

    def refusal(self, status: int, body: dict[str, Any]) -> base.ErpError:
        exc_type = body.get("exc_type", "")
        words = "; ".join(server_messages(body)) or body.get("exception") or body.get("message") or f"HTTP {status}"
        lowered = words.lower()
        kind = base.error_kind(
            status=status,
            reconnect=status in (401, 403) or exc_type in ("AuthenticationError", "PermissionError"),
            closed_period=exc_type == "ClosedAccountingPeriod"
            or "closed accounting period" in lowered
            or "frozen" in lowered,
            unknown_account=(exc_type == "LinkValidationError" and "account" in lowered) or "is disabled" in lowered,
            not_found=exc_type == "DoesNotExistError",
        )
        return base.ErpError(kind, f"ERPNext: {words}", status_code=status, code=exc_type)

    def _list(self, doctype: str, *, fields: list[str], filters: list[list]) -> list[dict[str, Any]]:
        body = self._request(
            "GET",
            f"/api/resource/{quote(doctype)}",
            params={"fields": json.dumps(fields), "filters": json.dumps(filters), "limit_page_length": "0"},
        )
        return body["data"]

    def fetch_chart(self) -> base.ErpChart:
        company = self.config["company"]
        rows = self._list(
            "Account",
            fields=[
                "name",
                "account_name",
                "account_number",
                "root_type",
                "account_type",
                "disabled",
                "account_currency",
            ],
            filters=[["company", "=", company], ["is_group", "=", 0]],
        )
        accounts = [
            base.ErpAccount(
                external_id=row["name"],
                code=row.get("account_number") or row["name"],
                name=row["account_name"],
                type=ROOT_TYPES[row["root_type"]],
                active=not row.get("disabled"),
                currency=row.get("account_currency") or "",
            )
            for row in rows
            if row.get("root_type") in ROOT_TYPES
        ]
        taxes = [
            base.ErpTaxCode(
                row["name"],
                row.get("account_number") or row["name"],
                row["account_name"],
                None,
                not row.get("disabled"),
            )
            for row in rows
            if row.get("account_type") == "Tax"
        ]
        centers = self._list(
            "Cost Center",
            fields=["name", "cost_center_name", "disabled"],
            filters=[["company", "=", company], ["is_group", "=", 0]],
        )
        return base.ErpChart(
            accounts=accounts,
            tax_codes=taxes,
            dimensions=[
                base.ErpDimension("cost_center", row["name"], row["cost_center_name"], not row.get("disabled"))
                for row in centers
            ],
        )

    def find(self, reference: str) -> base.ErpEntry | None:
        rows = self._list(
            "Journal Entry",
            fields=["name", "docstatus"],
            filters=[["cheque_no", "=", reference], ["docstatus", "!=", 2], ["company", "=", self.config["company"]]],
        )
        if not rows:
            return None
        return base.ErpEntry(rows[0]["name"], DOCSTATUS[int(rows[0]["docstatus"])], rows[0]["name"])

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        self.require_external_ids(journal)
        default_center = self.config.get("cost_center", "")
        rows = []
        for line in journal.lines:
            row: dict[str, Any] = {
                "account": line.account_external_id,
                "debit_in_account_currency": line.debit,
                "credit_in_account_currency": line.credit,
                "user_remark": line.description,
            }
            center = line.dimensions.get("cost_center") or default_center
            if center:
                row["cost_center"] = center
            rows.append(row)
        doc = {
            "voucher_type": "Journal Entry",
            "company": self.config["company"],
            "posting_date": journal.date.isoformat(),
            "cheque_no": journal.reference,
            "cheque_date": journal.date.isoformat(),
            "user_remark": journal.memo,
            "multi_currency": 0,
            "accounts": rows,
        }
        body = self._request("POST", f"/api/resource/{JOURNAL}", json_body=doc)
        return self.finish(
            base.ErpEntry(body["data"]["name"], DOCSTATUS[int(body["data"].get("docstatus", 0))], body["data"]["name"])
        )

    def finish(self, entry: base.ErpEntry) -> base.ErpEntry:
        if entry.state != base.EntryState.DRAFT:
            return entry
        body = self._request("PUT", f"/api/resource/{JOURNAL}/{quote(entry.external_id)}", json_body={"docstatus": 1})
        return base.ErpEntry(entry.external_id, DOCSTATUS[int(body["data"]["docstatus"])], entry.external_id)

    def status(self, external_id: str) -> base.ErpEntry:
        body = self._request("GET", f"/api/resource/{JOURNAL}/{quote(external_id)}")
        return base.ErpEntry(external_id, DOCSTATUS[int(body["data"]["docstatus"])], external_id)

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        existing = self.find(reference)
        if existing is not None:
            existing = self.finish(existing)
            return base.PushResult(existing.external_id, False, existing.state, existing.number)
        draft = self._request("POST", f"/api/method/{REVERSE_METHOD}", json_body={"source_name": external_id})[
            "message"
        ]
        draft |= {
            "posting_date": date.isoformat(),
            "cheque_no": reference,
            "cheque_date": date.isoformat(),
            "user_remark": f"Reversal of {original.reference}",
        }
        body = self._request("POST", f"/api/resource/{JOURNAL}", json_body=draft)
        entry = self.finish(
            base.ErpEntry(body["data"]["name"], DOCSTATUS[int(body["data"].get("docstatus", 0))], body["data"]["name"])
        )
        return base.PushResult(entry.external_id, True, entry.state, entry.number)
