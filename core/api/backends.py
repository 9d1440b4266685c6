"""What the API base needs from the layer that owns principals, registered at start-up.

`core` sits below every app and imports none of them, yet authentication must look an API key up,
a session role must map to scopes, key-authenticated calls are metered as usage and Idempotency-Key
records are stored in a table. `tenants` owns all of these: `TenantsConfig.ready()`
(tenants/apps.py) calls `api_backends_register(...)` once, before any request is served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ApiBackends:
    # The API key model: `request.auth` is one of these for a key-authenticated call.
    key_model: type
    # key_check(raw_key=...) -> the key if valid, unexpired and unrevoked, else None.
    key_check: Callable[..., Any]
    # key_touch(api_key=...): records the key's last use.
    key_touch: Callable[..., None]
    # A session user's membership role → the scopes it grants (read, write, admin).
    role_scopes: Mapping[str, frozenset[str]]
    # usage_increment(metric=..., tenant=... or partner=...): meters API calls.
    usage_increment: Callable[..., None]
    # The Idempotency-Key record model (fields: scope, principal, key, method, path, body_hash,
    # status with Status.IN_PROGRESS/COMPLETE, response_status, response_body, created_at).
    idempotency_model: type


_registered: ApiBackends | None = None


def api_backends_register(backends: ApiBackends) -> None:
    global _registered
    _registered = backends


def api_backends() -> ApiBackends:
    if _registered is None:
        raise ImproperlyConfigured("No API backends registered: is `tenants` in INSTALLED_APPS?")
    return _registered
