"""OAuth 2 for the ERPs that use it (QuickBooks Online, Xero): the authorisation URL with `state`
and PKCE (S256), the code exchange, and the bearer-token request that refreshes an expired access
token once and, when the refresh is refused too, asks a person to connect again."""

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


def expires_at(seconds: Any) -> str:
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = 3600
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


class OAuth2Adapter(ErpAdapter):
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    uses_pkce: bool = True

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
        )

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
        """Send with the bearer token; on 401 refresh once and send again; a second 401 means the
        grant itself is gone (revoked, or the refresh token expired): RECONNECT."""
        headers = kwargs.pop("headers", {})
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
