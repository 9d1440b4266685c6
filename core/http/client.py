"""The one outbound HTTP client for vendor and ERP APIs and outbound webhooks (httpx + tenacity).

- timeouts on connect/read/write/pool, no redirects followed (a redirect could leave the checked host);
- retries of transient failures (timeouts, transport errors, 5xx, 429) with exponential backoff and
  full jitter, honouring `Retry-After` (seconds or HTTP date, capped);
- a per-connection rate limit counted in Redis, so every worker shares the vendor's budget;
- every connection goes through `core.http.netsafety`'s guarded transport: the host is resolved once,
  refused when any address is private, loopback, link-local or reserved (unless the dev/test
  override CONNECTORS_ALLOW_PRIVATE_URLS is on), and the socket goes to the address checked;
- every error is one of the classes below, and its message has the connection's secrets redacted;
  a failed connection says only "could not connect to the vendor" with a trace id (the raw error
  is logged under that id, never shown).
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import structlog
from django.conf import settings
from django.db import connection as db_connection
from django_redis import get_redis_connection
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from core.http import netsafety
from core.http.closing import ClosedOnExit

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
BACKOFF_INITIAL = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 60.0
REDACTED = "[redacted]"
USER_AGENT = "Tillbridge-Connectors/1"
# Query and form parameters whose values are secrets whatever the vendor.
_SECRET_PARAMS = re.compile(
    r"(?i)((?:access_token|refresh_token|client_secret|consumer_secret|consumer_key|api_key|password|code)=)[^&\s\"']+"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def sleep(seconds: float) -> None:
    """Module-level so tests can replace the waiting without touching the policy."""
    time.sleep(seconds)


def clock() -> float:
    return time.time()


class ConnectorError(Exception):
    """Base of every outbound failure. `cause` names it for triage; `retryable` drives the retries."""

    cause = "error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        transport_error: str = "",
        connect_failure: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        # No response at all: the httpx error's class name (ConnectTimeout, ConnectError…) and, for
        # a failed connection, the generic message with its trace id (netsafety.connect_failure_message).
        self.transport_error = transport_error
        self.connect_failure = connect_failure


class AuthFailed(ConnectorError):
    cause = "auth"


class RateLimited(ConnectorError):
    cause = "rate_limited"
    retryable = True


class VendorTimeout(ConnectorError):
    cause = "timeout"
    retryable = True


class VendorUnavailable(ConnectorError):
    """5xx or a transport failure (connection refused, reset)."""

    cause = "vendor_unavailable"
    retryable = True


class BadResponse(ConnectorError):
    """A 2xx that is not what the API promises: HTML instead of JSON, invalid JSON, wrong shape."""

    cause = "bad_response"


class RequestRejected(ConnectorError):
    """A 4xx other than auth and rate limit: the vendor refused what we sent (validation).
    `body` keeps the vendor's (redacted) answer so callers can report the vendor's own message."""

    cause = "validation"
    body = ""


class UnsafeUrl(ConnectorError):
    cause = "unsafe_url"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _SECRET_PARAMS.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


def backoff_seconds(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, initial * 2**(attempt-1))]."""
    ceiling = min(BACKOFF_CAP, BACKOFF_INITIAL * 2 ** max(0, attempt - 1))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, ConnectorError) and error.retry_after is not None:
        return min(RETRY_AFTER_CAP, error.retry_after)
    return backoff_seconds(state.attempt_number)


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ConnectorError) and error.retryable


class RateLimiter:
    """A fixed one-second window per connection in Redis; waits for the next window when full."""

    def __init__(self, *, key: str, per_second: int) -> None:
        self.key = key
        self.per_second = per_second

    def acquire(self, *, max_wait: float = 30.0) -> float:
        waited = 0.0
        redis = get_redis_connection("default")
        while True:
            now = clock()
            window = int(now)
            key = f"{self.key}:{window}"
            count = redis.incr(key)
            if count == 1:
                redis.expire(key, 2)
            if count <= self.per_second:
                return waited
            pause = (window + 1) - now + 0.001
            if waited + pause > max_wait:
                raise RateLimited(f"Local rate limit of {self.per_second}/s is exhausted.", retry_after=pause)
            sleep(pause)
            waited += pause


class VendorClient(ClosedOnExit):
    def __init__(
        self,
        *,
        base_url: str,
        connection_id: int | None = None,
        headers: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        rate_per_second: int | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
        allow_private: bool | None = None,
    ) -> None:
        """`allow_private` is the dev/test SSRF override; None reads CONNECTORS_ALLOW_PRIVATE_URLS."""
        self.base_url = base_url.rstrip("/")
        self.connection_id = connection_id
        self.secrets = tuple(secrets)
        self.max_attempts = max_attempts
        self.limiter = (
            RateLimiter(
                key=f"tb:conn-rate:{db_connection.schema_name}:{connection_id or 'none'}", per_second=rate_per_second
            )
            if rate_per_second
            else None
        )
        self._client = netsafety.outbound_client(
            allow_private=settings.CONNECTORS_ALLOW_PRIVATE_URLS if allow_private is None else allow_private,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=timeout,
            event_hooks={"response": [on_response]} if on_response else None,
        )

    def close(self) -> None:
        self._client.close()

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            url = path
            if not url.startswith(self.base_url + "/") and url != self.base_url:
                # A vendor's "next page" link must stay on the host we were configured with.
                raise UnsafeUrl(f"Refusing to follow {redact(url, self.secrets)} off {self.base_url}.")
        else:
            url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            netsafety.url_shape_check(url)
        except netsafety.UnsafeUrl as error:
            raise UnsafeUrl(error.message) from error
        return url

    def _describe(self, method: str, url: str) -> str:
        return redact(f"{method} {url}", self.secrets)

    def _send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        what = self._describe(method, url)
        started = time.perf_counter()
        try:
            response = self._client.request(method, url, **kwargs)
        except netsafety.UnsafeUrl as error:
            raise UnsafeUrl(error.message) from None
        except httpx.TimeoutException as error:
            name = type(error).__name__
            raise VendorTimeout(f"{what} timed out ({name}).", transport_error=name) from None
        except httpx.TransportError as error:
            message = netsafety.connect_failure_message(error, what=what)
            raise VendorUnavailable(
                f"{what}: {message}.", transport_error=type(error).__name__, connect_failure=message
            ) from None
        log.info(
            "core.http.client",
            method=method,
            url=redact(url, self.secrets),
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000),
            connection_id=self.connection_id,
        )
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(
                f"{what} was refused: HTTP {status} (check or reconnect the credentials).", status_code=status
            )
        if status == 429:
            raise RateLimited(
                f"{what} was rate limited: HTTP 429.",
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise VendorUnavailable(
                f"{what} failed: HTTP {status}.",
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if 300 <= status < 400:
            raise BadResponse(f"{what} answered a redirect (HTTP {status}); check the base URL.", status_code=status)
        if status >= 400:
            detail = redact(response.text[:300], self.secrets)
            rejected = RequestRejected(f"{what} was rejected: HTTP {status}: {detail}", status_code=status)
            rejected.body = redact(response.text[:4000], self.secrets)
            raise rejected
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; returns a 2xx response or raises a ConnectorError."""
        url = self._url(path)
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=_wait,
            retry=retry_if_exception(_is_retryable),
            sleep=lambda seconds: sleep(seconds),
            reraise=True,
        )
        return retrying(self._send_once, method, url, **kwargs)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response_json(response, what=self._describe(method, str(response.request.url)))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.json("GET", path, **kwargs)


def response_json(response: httpx.Response, *, what: str) -> Any:
    content_type = response.headers.get("Content-Type", "")
    body = response.content
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        raise BadResponse(
            f"{what} answered HTML instead of JSON (HTTP {response.status_code}); a login page, proxy or "
            "maintenance page is in the way.",
            status_code=response.status_code,
        )
    if not body.strip():
        return None
    try:
        return jsonlib.loads(body)
    except ValueError:
        raise BadResponse(f"{what} answered invalid JSON.", status_code=response.status_code) from None
