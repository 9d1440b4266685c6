"""Odoo (16/17/18) over the external JSON-RPC API (`POST /jsonrpc`, services `common` and `object`).

Reference: https://www.odoo.com/documentation/17.0/developer/reference/external_api.html
- chart: `account.account` (`code`, `name`, `account_type`, `deprecated`, `currency_id`), taxes
  from `account.tax`, dimensions from `account.analytic.account`;
- push: `account.move` with `move_type='entry'`, `ref` = our reference, `line_ids` as `(0, 0, vals)`
  commands, then `action_post`; a draft left by an interrupted push is posted by the re-push;
- reverse: the `account.move.reversal` wizard (`reverse_moves`), found again through
  `reversed_entry_id` so a repeated reversal creates nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from posting.erp import base
from posting.erp.http import partner_base_url

READS = {"search_read", "read", "search", "search_count", "fields_get"}
STATES = {"draft": base.EntryState.DRAFT, "posted": base.EntryState.POSTED, "cancel": base.EntryState.CANCELLED}


def account_type(odoo_type: str) -> str | None:
    if odoo_type.startswith("asset"):
        return "asset"
    if odoo_type.startswith("liability"):
        return "liability"
    if odoo_type.startswith("equity"):
        return "equity"
    if odoo_type.startswith("income"):
        return "revenue"
    if odoo_type.startswith("expense"):
        return "expense"
    return None  # off_balance: not postable from here


class OdooAdapter(base.ErpAdapter):
    vendor = "odoo"
    label = "Odoo"
    capabilities = base.Capabilities(
        tax_codes=True,
        dimensions=("analytic",),
        native_reversal=True,
        oauth2=False,
        notes=(
            "API key auth (database, login, key). Accounts by id; analytic accounts as dimensions "
            "(analytic_distribution 100%). Off-balance accounts are not imported. Multi-currency "
            "entries are posted in the company currency only."
        ),
    )
    _ids = itertools.count(1)

    # -- JSON-RPC
    def _rpc(self, service: str, method: str, *args: Any, safe: bool = False) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        response = self.send(
            "POST",
            f"{partner_base_url(self.config.get('base_url', ''), label=self.label)}/jsonrpc",
            retry=safe,
            **base.json_request(body, {"Accept": "application/json"}),
        )
        base.rate_limit_check(response, "Odoo: too many requests (HTTP 429).")
        if response.status_code >= 500 and "json" not in response.headers.get("content-type", ""):
            base.response_json(response, vendor=self.label)  # raises BAD_RESPONSE quoting the page
        payload = base.response_json(response, vendor=self.label)
        if "error" in payload:
            raise self._error(payload["error"])
        return payload.get("result")

    def _error(self, error: dict[str, Any]) -> base.ErpError:
        data = error.get("data") or {}
        name = data.get("name", "")
        message = data.get("message") or error.get("message", "Odoo error")
        lowered = message.lower()
        kind = base.error_kind(
            reconnect=name.endswith("AccessDenied") or "access denied" in lowered,
            closed_period="lock date" in lowered or "locked period" in lowered,
            unknown_account="account" in lowered
            and ("deprecated" in lowered or "does not exist" in lowered or "archived" in lowered),
            not_found=name.endswith("MissingError"),
        )
        return base.ErpError(kind, f"Odoo: {message}", code=name)

    def _uid(self) -> int:
        if not hasattr(self, "_uid_cache"):
            uid = self._rpc(
                "common",
                "authenticate",
                self.config["database"],
                self.config["username"],
                self.credentials["api_key"],
                {},
                safe=True,
            )
            if not uid:
                raise base.ErpError(
                    base.ErrorKind.RECONNECT, "Odoo refused the login or API key: enter a valid API key."
                )
            self._uid_cache = int(uid)
        return self._uid_cache

    def execute(self, model: str, method: str, args: list, kwargs: dict | None = None) -> Any:
        return self._rpc(
            "object",
            "execute_kw",
            self.config["database"],
            self._uid(),
            self.credentials["api_key"],
            model,
            method,
            args,
            kwargs or {},
            safe=method in READS,
        )

    # -- interface
    def fetch_chart(self) -> base.ErpChart:
        context = {"context": {"active_test": False}}
        rows = self.execute(
            "account.account",
            "search_read",
            [[]],
            {"fields": ["code", "name", "account_type", "deprecated", "currency_id"], **context},
        )
        accounts = []
        for row in rows:
            kind = account_type(row.get("account_type") or "")
            if kind is None:
                continue
            currency = row.get("currency_id")
            accounts.append(
                base.ErpAccount(
                    external_id=str(row["id"]),
                    code=row["code"],
                    name=row["name"],
                    type=kind,
                    active=not row.get("deprecated", False),
                    currency=currency[1] if isinstance(currency, list) else "",
                )
            )
        taxes = self.execute(
            "account.tax", "search_read", [[]], {"fields": ["name", "amount", "type_tax_use", "active"], **context}
        )
        analytics = self.execute(
            "account.analytic.account", "search_read", [[]], {"fields": ["name", "code", "active"], **context}
        )
        return base.ErpChart(
            accounts=accounts,
            tax_codes=[
                base.ErpTaxCode(str(tax["id"]), str(tax["id"]), tax["name"], Decimal(str(tax["amount"])), tax["active"])
                for tax in taxes
            ],
            dimensions=[
                base.ErpDimension("analytic", str(row["id"]), row.get("code") or row["name"], row["active"])
                for row in analytics
            ],
        )

    def find(self, reference: str) -> base.ErpEntry | None:
        rows = self.execute(
            "account.move",
            "search_read",
            [[["ref", "=", reference], ["move_type", "=", "entry"], ["state", "!=", "cancel"]]],
            {"fields": ["name", "state"], "limit": 1},
        )
        if not rows:
            return None
        return base.ErpEntry(str(rows[0]["id"]), STATES[rows[0]["state"]], rows[0].get("name") or "")

    def _line(self, line) -> dict[str, Any]:
        values: dict[str, Any] = {
            "account_id": int(line.account_external_id),
            "name": line.description or "/",
            "debit": line.debit,
            "credit": line.credit,
        }
        if "analytic" in line.dimensions:
            values["analytic_distribution"] = {line.dimensions["analytic"]: 100}
        return values

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        self.require_external_ids(journal)
        values: dict[str, Any] = {
            "move_type": "entry",
            "ref": journal.reference,
            "date": journal.date.isoformat(),
            "narration": journal.memo,
            "line_ids": [[0, 0, self._line(line)] for line in journal.lines],
        }
        if self.config.get("journal_id"):
            values["journal_id"] = int(self.config["journal_id"])
        move_id = self.execute("account.move", "create", [[values]])
        move_id = move_id[0] if isinstance(move_id, list) else move_id
        return self.finish(base.ErpEntry(str(move_id), base.EntryState.DRAFT))

    def finish(self, entry: base.ErpEntry) -> base.ErpEntry:
        if entry.state != base.EntryState.DRAFT:
            return entry
        self.execute("account.move", "action_post", [[int(entry.external_id)]])
        return self.status(entry.external_id)

    def status(self, external_id: str) -> base.ErpEntry:
        rows = self.execute("account.move", "read", [[int(external_id)]], {"fields": ["name", "state"]})
        if not rows:
            raise base.ErpError(base.ErrorKind.NOT_FOUND, f"Odoo has no journal entry {external_id}.")
        return base.ErpEntry(external_id, STATES[rows[0]["state"]], rows[0].get("name") or "")

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        found = self.execute(
            "account.move",
            "search_read",
            [[["reversed_entry_id", "=", int(external_id)], ["state", "!=", "cancel"]]],
            {"fields": ["name", "state"], "limit": 1},
        )
        if found:
            return base.PushResult(str(found[0]["id"]), False, STATES[found[0]["state"]], found[0].get("name") or "")
        context = {"active_model": "account.move", "active_ids": [int(external_id)]}
        wizard = self.execute(
            "account.move.reversal",
            "create",
            [{"move_ids": [[6, 0, [int(external_id)]]], "date": date.isoformat(), "reason": reference}],
            {"context": context},
        )
        action = self.execute("account.move.reversal", "reverse_moves", [[wizard]], {"context": context})
        reversal_id = str(action.get("res_id") or "")
        if not reversal_id:
            raise base.ErpError(base.ErrorKind.VALIDATION, f"Odoo did not return the reversal of entry {external_id}.")
        entry = self.finish(self.status(reversal_id))
        return base.PushResult(reversal_id, True, entry.state, entry.number)
