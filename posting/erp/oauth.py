"""OAuth 2 for the ERPs that use it (QuickBooks Online, Xero): the authorisation URL with `state`
and PKCE (S256), the code exchange, and the bearer-token request that refreshes an access token
about to expire before the call (and an expired one after a 401, once); when the refresh is refused
too, a person must connect again. The keepalive (posting/erp/tokens.py) keeps idle refresh tokens
from lapsing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from posting.erp.base import ErpAdapter, ErpError, ErrorKind, response_json


@dataclass(frozen=True)
class OAuthStart:
    url: str
    state: str
    code_verifier: str


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def expires_at(seconds: Any, *, default: int = 3600) -> str:
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = default
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


# An access token this close to its expiry is refreshed before the call rather than after a 401.
ACCESS_AHEAD = dt.timedelta(minutes=2)


class OAuth2Adapter(ErpAdapter):
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    uses_pkce: bool = True
    # How long a refresh token lives unused (the token endpoint may say so itself: QuickBooks'
    # `x_refresh_token_expires_in`); the keepalive job refreshes well before this.
    refresh_token_lifetime: dt.timedelta = dt.timedelta(days=60)

    # -- connect flow
    @classmethod
    def authorization_start(cls, *, client_id: str, redirect_uri: str) -> OAuthStart:
        state = secrets.token_urlsafe(24)
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(cls.scopes),
            "state": state,
        }
        verifier = ""
        if cls.uses_pkce:
            verifier, challenge = pkce_pair()
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        return OAuthStart(url=f"{cls.authorize_url}?{urlencode(params)}", state=state, code_verifier=verifier)

    def _token_request(self, data: dict[str, str]) -> dict[str, Any]:
        client_id = self.config.get("client_id", "")
        client_secret = self.credentials.get("client_secret", "")
        auth = (client_id, client_secret) if client_secret else None
        if auth is None:
            data = {**data, "client_id": client_id}
        response = self.send("POST", self.token_url, data=data, auth=auth, headers={"Accept": "application/json"})
        body = response_json(response, vendor=self.label)
        if response.status_code >= 400 or "access_token" not in body:
            error = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            raise ErpError(
                ErrorKind.RECONNECT,
                f"{self.label} refused the token request ({error}): connect {self.label} again.",
                status_code=response.status_code,
            )
        return body

    def _store_tokens(self, body: dict[str, Any]) -> None:
        self.credentials_update(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token", self.credentials.get("refresh_token", "")),
            expires_at=expires_at(body.get("expires_in")),
            refresh_expires_at=expires_at(
                body.get("x_refresh_token_expires_in"), default=int(self.refresh_token_lifetime.total_seconds())
            ),
        )

    def access_expiring(self, *, now: dt.datetime | None = None) -> bool:
        """Whether the stored access token expires within ACCESS_AHEAD (unknown expiry: no)."""
        try:
            expiry = dt.datetime.fromisoformat(self.credentials.get("expires_at") or "")
        except (TypeError, ValueError):
            return False
        return expiry <= (now or dt.datetime.now(dt.UTC)) + ACCESS_AHEAD

    def authorization_complete(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> None:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            data["code_verifier"] = code_verifier
        self._store_tokens(self._token_request(data))

    def refresh(self) -> None:
        refresh_token = self.credentials.get("refresh_token")
        if not refresh_token:
            raise ErpError(ErrorKind.RECONNECT, f"No {self.label} refresh token is stored: connect {self.label} again.")
        self._store_tokens(self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}))

    # -- calls
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.get('access_token', '')}", "Accept": "application/json"}

    def authorised(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with the bearer token, refreshed first when it is about to expire; on 401 refresh
        once and send again; a second 401 means the grant itself is gone (revoked, or the refresh
        token expired): RECONNECT."""
        headers = kwargs.pop("headers", {})
        if self.access_expiring():
            self.refresh()
        response = self.send(method, url, headers={**self.auth_headers(), **headers}, **kwargs)
        if response.status_code != 401:
            return response
        self.refresh()
        response = self.send(method, url, headers={**self.auth_headers(), **headers}, **kwargs)
        if response.status_code == 401:
            raise ErpError(
                ErrorKind.RECONNECT,
                f"{self.label} rejected a freshly refreshed token: connect {self.label} again.",
                status_code=401,
            )
        return response
