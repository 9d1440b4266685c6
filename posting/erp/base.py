"""The ERP adapter interface (DESIGN.md §1, §4): what every posting target can do.

An adapter is built from a connection's `config` (non-secret settings) and `credentials` (secrets)
and the one outbound HTTP client. It never touches the database: the push pipeline
(`posting.erp.services`) loads journals, calls the adapter and records the outcome.

Idempotency: every journal carries a short `reference` (`TB-<entry id>`, `-R` for a reversal)
written into a field of the ERP's entry that can be searched. `push` looks the reference up
before creating, so a re-push after a timeout finds the entry created by the first attempt
instead of creating a second one.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import httpx

from core.http.closing import ClosedOnExit


class ErrorKind(enum.StrEnum):
    VALIDATION = "validation"  # the ERP refused the entry's content
    CLOSED_PERIOD = "closed_period"  # the date falls in a locked/closed period
    UNKNOWN_ACCOUNT = "unknown_account"  # an account is missing or inactive in the ERP
    AUTH_EXPIRED = "auth_expired"  # credentials rejected; a refresh may help
    RECONNECT = "reconnect"  # refresh failed or impossible: a person must connect again
    RATE_LIMITED = "rate_limited"  # too many requests; retry later
    BAD_RESPONSE = "bad_response"  # HTML or other non-JSON where JSON was expected
    TIMEOUT = "timeout"  # no answer: the entry may or may not exist (a re-push finds out)
    UNAVAILABLE = "unavailable"  # 5xx or network failure
    NOT_FOUND = "not_found"  # the ERP has no record with this id


RETRYABLE = {ErrorKind.RATE_LIMITED, ErrorKind.TIMEOUT, ErrorKind.UNAVAILABLE, ErrorKind.BAD_RESPONSE}


class ErpError(Exception):
    """A failure reported by (or while talking to) an ERP. `message` keeps the ERP's own words."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def __repr__(self) -> str:
        return f"ErpError({self.kind.value!r}, {self.message!r})"


def error_kind(
    *, status: int = 0, reconnect: bool, closed_period: bool, unknown_account: bool, not_found: bool = False
) -> ErrorKind:
    """The kind of an ERP's refusal, checked in the same order for every ERP: its own signs first
    (credentials, a closed period, an unknown account, a missing record), then the HTTP status.
    `status` is 0 where the protocol has none (JSON-RPC)."""
    if reconnect:
        return ErrorKind.RECONNECT
    if closed_period:
        return ErrorKind.CLOSED_PERIOD
    if unknown_account:
        return ErrorKind.UNKNOWN_ACCOUNT
    if not_found or status == 404:
        return ErrorKind.NOT_FOUND
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    return ErrorKind.VALIDATION


# ---- what flows in and out ------------------------------------------------------------------


@dataclass(frozen=True)
class ErpAccount:
    external_id: str
    code: str
    name: str
    type: str  # one of mappings.Account.Type values
    active: bool = True
    currency: str = ""


@dataclass(frozen=True)
class ErpTaxCode:
    external_id: str
    code: str
    name: str
    rate: Decimal | None = None
    active: bool = True


@dataclass(frozen=True)
class ErpDimension:
    kind: str  # e.g. "class", "department", "location", "cost_center", "analytic", a tracking category
    external_id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class ErpChart:
    accounts: list[ErpAccount]
    tax_codes: list[ErpTaxCode] = field(default_factory=list)
    dimensions: list[ErpDimension] = field(default_factory=list)


@dataclass(frozen=True)
class ErpLine:
    account_code: str
    account_external_id: str
    debit: Decimal
    credit: Decimal
    description: str = ""
    # ERP-side dimension values, already mapped: {"class": "5", "location": "2", "Region": "North"}
    dimensions: dict[str, str] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        """Signed amount: debit positive, credit negative."""
        return self.debit - self.credit


@dataclass(frozen=True)
class ErpJournal:
    reference: str
    date: dt.date
    currency: str
    memo: str
    lines: list[ErpLine]

    def totals(self) -> tuple[Decimal, Decimal]:
        return sum((line.debit for line in self.lines), Decimal(0)), sum(
            (line.credit for line in self.lines), Decimal(0)
        )

    def mirrored(self, *, reference: str, date: dt.date, memo: str) -> ErpJournal:
        return ErpJournal(
            reference=reference,
            date=date,
            currency=self.currency,
            memo=memo,
            lines=[
                ErpLine(
                    account_code=line.account_code,
                    account_external_id=line.account_external_id,
                    debit=line.credit,
                    credit=line.debit,
                    description=line.description,
                    dimensions=line.dimensions,
                )
                for line in self.lines
            ],
        )


class EntryState(enum.StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    PENDING_APPROVAL = "pending_approval"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ErpEntry:
    """An entry as the ERP reports it."""

    external_id: str
    state: EntryState
    number: str = ""  # the ERP's own document number, when it has one


@dataclass(frozen=True)
class PushResult:
    external_id: str
    created: bool  # False: the reference was found, nothing was created
    state: EntryState
    number: str = ""


@dataclass(frozen=True)
class Capabilities:
    tax_codes: bool
    dimensions: tuple[str, ...]
    native_reversal: bool  # False: a reversal is a mirrored entry with its own reference
    oauth2: bool
    notes: str


# ---- JSON on the wire -------------------------------------------------------------------------

_DECIMAL_MARK = "\x00decimal:"
_DECIMAL_PATTERN = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_DECIMAL_MARK}{value:f}"
    if isinstance(value, dict):
        return {key: _mark_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(item) for item in value]
    return value


def wire_json(payload: Any) -> bytes:
    """JSON with Decimals written as exact number literals (`100.10`, never a float's `100.1000001`)."""
    text = json.dumps(_mark_decimals(payload), separators=(",", ":"), ensure_ascii=False)
    return _DECIMAL_PATTERN.sub(r"\1", text).encode()


def json_request(body: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The `send` arguments of a request with these `headers` that carries `body` (when not None)
    as JSON: its `wire_json` bytes, and the JSON content type added to the headers."""
    if body is None:
        return {"headers": headers}
    return {"headers": {**headers, "Content-Type": "application/json"}, "content": wire_json(body)}


def response_json(response: httpx.Response, *, vendor: str) -> Any:
    """The body as JSON, or a BAD_RESPONSE error quoting the start of what came back instead."""
    try:
        return response.json()
    except ValueError:
        snippet = re.sub(r"\s+", " ", response.text[:200]).strip()
        content_type = response.headers.get("content-type", "no content type")
        raise ErpError(
            ErrorKind.BAD_RESPONSE,
            f"{vendor} answered HTTP {response.status_code} with {content_type} instead of JSON: {snippet}",
            status_code=response.status_code,
        ) from None


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def rate_limit_check(response: httpx.Response, message: str) -> None:
    """An ERP's HTTP 429 becomes a RATE_LIMITED error with its words and its Retry-After."""
    if response.status_code == 429:
        raise ErpError(ErrorKind.RATE_LIMITED, message, status_code=429, retry_after=retry_after_seconds(response))


# ---- the adapter ------------------------------------------------------------------------------


class ErpTransport(Protocol):
    """What an adapter needs from HTTP; `posting.erp.http.ErpHttp` provides it (and tests' doubles).
    Declared here so the interface does not import the client built on it."""

    def send(
        self, method: str, url: str, *, label: str, retry: bool | None = None, **kwargs: Any
    ) -> httpx.Response: ...

    def close(self) -> None: ...


class ErpAdapter(ClosedOnExit, abc.ABC):
    """Base of every ERP adapter. Subclasses implement `fetch_chart`, `find`, `create`, `status`
    and `reverse`; `push` is the same everywhere: look the reference up, create only when absent,
    and finish an entry a previous attempt left unfinished (a draft not yet posted)."""

    vendor: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(
        self,
        *,
        config: dict[str, Any],
        credentials: dict[str, Any],
        http: ErpTransport | None,
        on_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = dict(config)
        self.credentials = dict(credentials)
        self.http = http
        self._on_credentials = on_credentials

    # -- the interface
    @abc.abstractmethod
    def fetch_chart(self) -> ErpChart:
        """The ERP's accounts (inactive ones included, so a sync can deactivate), tax codes and dimensions."""

    @abc.abstractmethod
    def find(self, reference: str) -> ErpEntry | None:
        """The entry carrying `reference`, ignoring cancelled/voided ones; None when there is none."""

    @abc.abstractmethod
    def create(self, journal: ErpJournal) -> ErpEntry:
        """Create (and post, where the ERP separates the two) one entry. Called only after `find`."""

    @abc.abstractmethod
    def status(self, external_id: str) -> ErpEntry:
        """The entry's current state in the ERP; NOT_FOUND when it is gone."""

    @abc.abstractmethod
    def reverse(self, *, external_id: str, original: ErpJournal, reference: str, date: dt.date) -> PushResult:
        """Reverse the entry `external_id` on `date` under `reference`, idempotently."""

    def finish(self, entry: ErpEntry) -> ErpEntry:
        """Post an entry a previous attempt created but did not post. Default: nothing to do."""
        return entry

    def push(self, journal: ErpJournal) -> PushResult:
        debit, credit = journal.totals()
        if debit != credit:
            raise ErpError(ErrorKind.VALIDATION, f"Journal {journal.reference} does not balance: {debit} ≠ {credit}.")
        existing = self.find(journal.reference)
        if existing is not None:
            existing = self.finish(existing)
            return PushResult(existing.external_id, False, existing.state, existing.number)
        created = self.create(journal)
        return PushResult(created.external_id, True, created.state, created.number)

    def mirror_reverse(self, *, original: ErpJournal, reference: str, date: dt.date) -> PushResult:
        """A reversal posted as a new entry with every line's side swapped (for ERPs with no reversal API)."""
        return self.push(original.mirrored(reference=reference, date=date, memo=f"Reversal of {original.reference}"))

    # -- helpers for subclasses
    def credentials_update(self, **values: Any) -> None:
        self.credentials.update(values)
        if self._on_credentials is not None:
            self._on_credentials(dict(self.credentials))

    def answered(self, response: httpx.Response, *, rate_limited: str) -> httpx.Response:
        """The ERP's answer when it accepted the request. An HTTP 429 is RATE_LIMITED with the words
        `rate_limited`; any other 4xx/5xx is the adapter's `refusal` of the JSON body it sent back."""
        rate_limit_check(response, rate_limited)
        if response.status_code >= 400:
            raise self.refusal(response.status_code, response_json(response, vendor=self.label))
        return response

    def refusal(self, status: int, body: Any) -> ErpError:
        """The ERP's error body read into an ErpError. This reading knows only the HTTP status (401:
        reconnect) and a top-level `message`; an adapter overrides it with its ERP's own signs."""
        words = body.get("message") if isinstance(body, dict) else None
        kind = error_kind(status=status, reconnect=status == 401, closed_period=False, unknown_account=False)
        return ErpError(kind, f"{self.label}: {words or f'HTTP {status}'}", status_code=status)

    def send(self, method: str, url: str, *, retry: bool | None = None, **kwargs: Any) -> httpx.Response:
        """One request through the shared client (posting/erp/http.py): the ERP's answer whatever
        its status; ErpError only when there is none (TIMEOUT: the ERP may have acted, so the
        caller looks the reference up before trying again). Reads are retried, writes are not."""
        return self.http.send(method, url, label=self.label, retry=retry, **kwargs)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def require_external_ids(self, journal: ErpJournal) -> None:
        missing = sorted({line.account_code for line in journal.lines if not line.account_external_id})
        if missing:
            raise ErpError(
                ErrorKind.UNKNOWN_ACCOUNT,
                f"Account(s) {', '.join(missing)} have no {self.label} id: import the chart of accounts from "
                f"{self.label} and map these roles to imported accounts.",
            )
