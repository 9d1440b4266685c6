"""NetSuite SuiteTalk REST web services, token-based authentication (OAuth 1.0a, HMAC-SHA256).

References: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_159886587653.html
(journal entry record), .../section_0223040947.html (creating a journal entry),
.../section_156570709583.html (error handling), .../section_157771281570.html (SuiteQL),
RFC 5849 §3.4 (signature).
- chart: SuiteQL over `account` (`id`, `acctnumber`, `fullname`, `accttype`, `isinactive`),
  `salestaxitem`, `department`, `classification`, `location`;
- push: `POST /record/v1/journalEntry` with `line.items` (`account`, `debit`/`credit`, `memo`,
  `department`, `class`, `location`), our reference as `externalId` (unique per record type in
  NetSuite) and found with `GET /record/v1/journalEntry/eid:<reference>`; the new id comes back in
  the `Location` header of the 204 response;
- reverse: a mirrored journal entry under the reversal's external id.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from posting.erp import base
from posting.erp.http import netsuite_account_id

ACCOUNT_TYPES = {
    "Bank": "asset",
    "AcctRec": "asset",
    "OthCurrAsset": "asset",
    "FixedAsset": "asset",
    "OthAsset": "asset",
    "UnbilledRec": "asset",
    "DeferExpense": "asset",
    "AcctPay": "liability",
    "CredCard": "liability",
    "OthCurrLiab": "liability",
    "LongTermLiab": "liability",
    "DeferRevenue": "liability",
    "Equity": "equity",
    "Income": "revenue",
    "OthIncome": "revenue",
    "COGS": "expense",
    "Expense": "expense",
    "OthExpense": "expense",
}  # NonPosting and Stat accounts are not imported
DIMENSION_TABLES = {"department": "department", "class": "classification", "location": "location"}


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: unreserved characters stay, everything else is %XX (upper case)."""
    return quote(value, safe="~-._")


def signature_base_string(method: str, url: str, oauth_params: dict[str, str], form: list[tuple[str, str]] = ()) -> str:
    """RFC 5849 §3.4.1: METHOD & base URI & normalised parameters (query, form body, oauth_*).
    NetSuite's JSON bodies are not form-encoded, so they are never part of the signature."""
    parts = urlsplit(url)
    netloc = parts.hostname.lower() if parts.hostname else ""
    if parts.port and not (
        (parts.scheme == "https" and parts.port == 443) or (parts.scheme == "http" and parts.port == 80)
    ):
        netloc += f":{parts.port}"
    base_uri = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))
    params = (
        parse_qsl(parts.query, keep_blank_values=True)
        + list(form)
        + [(key, value) for key, value in oauth_params.items() if key not in ("realm", "oauth_signature")]
    )
    encoded = sorted((percent_encode(key), percent_encode(value)) for key, value in params)
    normalised = "&".join(f"{key}={value}" for key, value in encoded)
    return "&".join((method.upper(), percent_encode(base_uri), percent_encode(normalised)))


def oauth1_header(
    *,
    method: str,
    url: str,
    realm: str,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> str:
    params = {
        "oauth_consumer_key": consumer_key,
        "oauth_token": token,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": timestamp or str(int(time.time())),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_version": "1.0",
    }
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), signature_base_string(method, url, params).encode(), hashlib.sha256).digest()
    params["oauth_signature"] = base64.b64encode(digest).decode()
    fields = [f'realm="{realm}"'] + [f'{key}="{percent_encode(value)}"' for key, value in params.items()]
    return "OAuth " + ", ".join(fields)


class TokenAuth(httpx.Auth):
    """Signs each attempt afresh (new nonce and timestamp), so a retried request is never a replay."""

    def __init__(self, *, realm: str, consumer_key: str, consumer_secret: str, token: str, token_secret: str) -> None:
        self.keys = {
            "realm": realm,
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "token": token,
            "token_secret": token_secret,
        }

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = oauth1_header(method=request.method, url=str(request.url), **self.keys)
        yield request


class NetSuiteAdapter(base.ErpAdapter):
    vendor = "netsuite"
    label = "NetSuite"
    capabilities = base.Capabilities(
        tax_codes=True,
        dimensions=("department", "class", "location"),
        native_reversal=False,
        oauth2=False,
        notes=(
            "Token-based authentication (consumer key/secret + token id/secret, HMAC-SHA256); tokens do "
            "not expire but can be revoked (then: re-connect). One subsidiary per connection. "
            "Department, class and location per line. Tax fields are not supported by NetSuite REST for "
            "journal entries; sales tax items are imported for mapping only. Reversal = mirrored entry."
        ),
    )

    @property
    def auth(self) -> TokenAuth:
        return TokenAuth(
            realm=netsuite_account_id(self.config.get("account_id")).upper(),
            consumer_key=self.credentials["consumer_key"],
            consumer_secret=self.credentials["consumer_secret"],
            token=self.credentials["token_id"],
            token_secret=self.credentials["token_secret"],
        )

    @property
    def base_url(self) -> str:
        host = netsuite_account_id(self.config.get("account_id")).lower().replace("_", "-")
        return f"https://{host}.suitetalk.api.netsuite.com/services/rest"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
    ):
        url = f"{self.base_url}{path}"
        all_headers = {"Accept": "application/json", **(headers or {})}
        response = self.send(
            method, url, params=params or None, auth=self.auth, retry=retry, **base.json_request(body, all_headers)
        )
        return self.answered(response, rate_limited="NetSuite: concurrency or request limit exceeded (HTTP 429).")

    def refusal(self, status: int, body: dict[str, Any]) -> base.ErpError:
        details = body.get("o:errorDetails") or []
        words = "; ".join(detail.get("detail", "") for detail in details) or body.get("title") or f"HTTP {status}"
        code = details[0].get("o:errorCode", "") if details else ""
        lowered = words.lower()
        kind = base.error_kind(
            status=status,
            reconnect=status == 401 or code == "INVALID_LOGIN",
            closed_period="period" in lowered and ("closed" in lowered or "locked" in lowered),
            unknown_account="account" in lowered and ("invalid" in lowered or "inactive" in lowered),
        )
        return base.ErpError(kind, f"NetSuite: {words}", status_code=status, code=code)

    def suiteql(self, query: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = self._request(
                "POST",
                "/query/v1/suiteql",
                params={"limit": "1000", "offset": str(offset)},
                body={"q": query},
                headers={"Prefer": "transient"},
                retry=True,
            )
            page = base.response_json(response, vendor=self.label)
            items.extend(page.get("items", []))
            if not page.get("hasMore"):
                return items
            offset += 1000

    def fetch_chart(self) -> base.ErpChart:
        accounts = [
            base.ErpAccount(
                external_id=str(row["id"]),
                code=row.get("acctnumber") or str(row["id"]),
                name=row.get("fullname") or row.get("accountsearchdisplaynamecopy") or str(row["id"]),
                type=ACCOUNT_TYPES[row["accttype"]],
                active=row.get("isinactive") != "T",
            )
            for row in self.suiteql("SELECT id, acctnumber, fullname, accttype, isinactive FROM account")
            if row.get("accttype") in ACCOUNT_TYPES
        ]
        taxes = [
            base.ErpTaxCode(
                str(row["id"]),
                row.get("itemid") or str(row["id"]),
                row.get("itemid") or "",
                None,
                row.get("isinactive") != "T",
            )
            for row in self.suiteql("SELECT id, itemid, isinactive FROM salestaxitem")
        ]
        dimensions = [
            base.ErpDimension(kind, str(row["id"]), row.get("name") or str(row["id"]), row.get("isinactive") != "T")
            for kind, table in DIMENSION_TABLES.items()
            for row in self.suiteql(f"SELECT id, name, isinactive FROM {table}")
        ]
        return base.ErpChart(accounts=accounts, tax_codes=taxes, dimensions=dimensions)

    def _entry(self, row: dict[str, Any]) -> base.ErpEntry:
        state = base.EntryState.POSTED if row.get("approved", True) else base.EntryState.PENDING_APPROVAL
        return base.ErpEntry(str(row["id"]), state, row.get("tranId", ""))

    def find(self, reference: str) -> base.ErpEntry | None:
        try:
            response = self._request("GET", f"/record/v1/journalEntry/eid:{quote(reference, safe='')}")
        except base.ErpError as error:
            if error.kind == base.ErrorKind.NOT_FOUND:
                return None
            raise
        return self._entry(base.response_json(response, vendor=self.label))

    def create(self, journal: base.ErpJournal) -> base.ErpEntry:
        self.require_external_ids(journal)
        items = []
        for line in journal.lines:
            item: dict[str, Any] = {"account": {"id": line.account_external_id}, "memo": line.description}
            if line.debit > 0:
                item["debit"] = line.debit
            else:
                item["credit"] = line.credit
            for kind in DIMENSION_TABLES:
                if line.dimensions.get(kind):
                    item[kind] = {"id": line.dimensions[kind]}
            items.append(item)
        body: dict[str, Any] = {
            "externalId": journal.reference,
            "subsidiary": {"id": str(self.config["subsidiary_id"])},
            "tranDate": journal.date.isoformat(),
            "memo": journal.memo,
            "line": {"items": items},
        }
        if self.config.get("currency_id"):
            body["currency"] = {"id": str(self.config["currency_id"])}
        response = self._request("POST", "/record/v1/journalEntry", body=body)
        location = response.headers.get("location", "")
        external_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not external_id.isdigit():
            raise base.ErpError(
                base.ErrorKind.BAD_RESPONSE, f"NetSuite created the entry but sent no usable Location ({location!r})."
            )
        return base.ErpEntry(external_id, base.EntryState.POSTED)

    def status(self, external_id: str) -> base.ErpEntry:
        response = self._request("GET", f"/record/v1/journalEntry/{quote(external_id)}")
        return self._entry(base.response_json(response, vendor=self.label))

    def reverse(self, *, external_id: str, original: base.ErpJournal, reference: str, date: dt.date) -> base.PushResult:
        return self.mirror_reverse(original=original, reference=reference, date=date)
