"""Credential encryption: MultiFernet over CONNECTOR_CREDENTIAL_KEYS (newest key first).

Outside production an empty key list falls back to one key derived from SECRET_KEY so local runs
and tests work; prod settings refuse to start without real keys. Rotation: put a new key first,
run `manage.py rotate_credentials_key`, then drop the old key."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """The stored ciphertext matches none of the configured keys."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"tillbridge-connector-credentials:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured("CONNECTOR_CREDENTIAL_KEYS holds a value that is not a Fernet key.") from error


def fernet() -> MultiFernet:
    keys = tuple(settings.CONNECTOR_CREDENTIAL_KEYS)
    if not keys:
        keys = (_derived_key().decode(),)
    return _fernet(keys)


def secret_encrypt(value: str) -> str:
    if not value:
        return ""
    return fernet().encrypt(value.encode()).decode()


def _with_keys(operation: str, token: str) -> str:
    """Run MultiFernet's `operation` (decrypt or rotate) on a stored token; empty stays empty."""
    if not token:
        return ""
    try:
        return getattr(fernet(), operation)(token.encode()).decode()
    except InvalidToken as error:
        raise CredentialsUnreadable("Stored credentials cannot be decrypted with the configured keys.") from error


def secret_decrypt(token: str) -> str:
    return _with_keys("decrypt", token)


def dict_encrypt(value: dict) -> str:
    return secret_encrypt(json.dumps(value, sort_keys=True, separators=(",", ":"))) if value else ""


def dict_decrypt(token: str) -> dict:
    text = secret_decrypt(token)
    return json.loads(text) if text else {}


def token_rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate); empty stays empty."""
    return _with_keys("rotate", token)
