"""API authentication, authorisation and throttling shared by every app's API.

- `ApiKeyAuthentication` reads `Authorization: Bearer <key>` or `X-Api-Key: <key>`. A missing key
  falls through to the session; a wrong, expired or revoked key is 401. A valid key used outside
  its boundary (another partner's console, another tenant's domain) is 404, like a membership.
- `HasScope` maps the method to a scope (GET → read, other → write; views may ask for admin) and
  checks it against the key's scopes or the session user's role. Views with `api_area` set answer
  404 on any other kind of host.
- `KeyRateThrottle` and `TenantRateThrottle` count requests per minute in Redis (429 with
  Retry-After); the tenant throttle also meters `api_calls` usage for key-authenticated calls.

The key lookup, the role → scopes map and the usage meter belong to `tenants`, which registers
them at start-up (core/api/backends.py).
"""

from __future__ import annotations

import abc
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django_redis import get_redis_connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.api.backends import api_backends
from core.api.errors import ApiError

READ, WRITE, ADMIN = "read", "write", "admin"


class ApiKeyUser(AnonymousUser):
    """`request.user` for a key-authenticated call: authenticated, but not a person."""

    def __init__(self, api_key: Any) -> None:
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def _presented_key(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        return None  # another scheme: not ours
    value = request.META.get("HTTP_X_API_KEY", "").strip()
    return value or None


def _key_allowed_here(api_key: Any, request: Request) -> bool:
    area = getattr(request, "portal_area", None)
    if area == "partner":
        return api_key.partner_id is not None and api_key.partner_id == request.partner.pk
    if area == "tenant":
        if api_key.tenant_id is not None:
            return api_key.tenant_id == request.tenant.pk
        return api_key.partner_id == request.tenant.partner_id
    return False


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, Any] | None:
        raw_key = _presented_key(request)
        if raw_key is None:
            return None
        api_key = api_backends().key_check(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is invalid, expired or revoked.")
        if not _key_allowed_here(api_key, request):
            raise exceptions.NotFound()
        if getattr(request, "portal_area", None) == "tenant" and not request.tenant.is_active:
            raise ApiError(status_code=403, code="tenant_suspended", message="This tenant is suspended.")
        api_backends().key_touch(api_key=api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer tb_live_…`"}


def request_api_key(request: Request) -> Any | None:
    """The API key of a key-authenticated call (an instance of the registered key model), else None."""
    return request.auth if isinstance(request.auth, api_backends().key_model) else None


def principal_scopes(request: Request) -> frozenset[str]:
    api_key = request_api_key(request)
    if api_key is not None:
        return frozenset(api_key.scopes)
    return api_backends().role_scopes.get(getattr(request, "membership_role", None) or "", frozenset())


def principal_id(request: Request) -> str:
    api_key = request_api_key(request)
    return f"api-key:{api_key.pk}" if api_key is not None else f"user:{request.user.pk}"


def api_actor(request: Request) -> tuple[Any | None, str | None]:
    """(actor, actor_label) for services' audit records: a key acts as `api-key:<prefix>`."""
    api_key = request_api_key(request)
    if api_key is not None:
        return None, f"api-key:{api_key.prefix}"
    return request.user, None


def api_who(request: Request) -> dict[str, Any]:
    """`api_actor` as the keyword arguments services take: `service(..., **api_who(request))`."""
    actor, actor_label = api_actor(request)
    return {"actor": actor, "actor_label": actor_label}


def required_scope(view: object, method: str) -> str:
    if getattr(view, "admin_scope", False):
        return ADMIN
    return READ if method in SAFE_METHODS else WRITE


class HasScope(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        area = getattr(view, "api_area", None)
        if area is not None and getattr(request, "portal_area", None) != area:
            raise exceptions.NotFound()
        scope = required_scope(view, request.method)
        if scope not in principal_scopes(request):
            self.message = f"This call needs the {str(scope)!r} scope."
            return False
        return True


class _RedisMinuteThrottle(BaseThrottle, abc.ABC):
    """A fixed one-minute window counted with INCR: atomic across processes, one round trip."""

    window = 60
    name = ""

    @abc.abstractmethod
    def identity(self, request: Request) -> str | None:
        """Who is counted: None exempts the request from this throttle."""

    @abc.abstractmethod
    def limit(self) -> int:
        """Calls allowed per window."""

    def allow_request(self, request: Request, view: object) -> bool:
        self.wait_seconds = 0.0
        ident = self.identity(request)
        if ident is None:
            return True
        now = time.time()
        bucket = int(now // self.window)
        key = f"tb:throttle:{self.name}:{ident}:{bucket}"
        client = get_redis_connection("default")
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.window * 2)
        count = pipe.execute()[0]
        if count > self.limit():
            self.wait_seconds = (bucket + 1) * self.window - now
            return False
        return True

    def wait(self) -> float:
        return float(max(1, math.ceil(self.wait_seconds)))


class KeyRateThrottle(_RedisMinuteThrottle):
    name = "key"

    def identity(self, request: Request) -> str | None:
        api_key = request_api_key(request)
        return str(api_key.pk) if api_key is not None else None

    def limit(self) -> int:
        return settings.API_RATE_PER_KEY


class TenantRateThrottle(_RedisMinuteThrottle):
    name = "tenant"

    def identity(self, request: Request) -> str | None:
        area = getattr(request, "portal_area", None)
        if area == "tenant":
            return f"t{request.tenant.pk}"
        if area == "partner":
            return f"p{request.partner.pk}"
        return None

    def limit(self) -> int:
        return settings.API_RATE_PER_TENANT

    def allow_request(self, request: Request, view: object) -> bool:
        allowed = super().allow_request(request, view)
        if allowed and request_api_key(request) is not None:
            area = getattr(request, "portal_area", None)
            if area == "tenant":
                api_backends().usage_increment(metric="api_calls", tenant=request.tenant)
            elif area == "partner":
                api_backends().usage_increment(metric="api_calls", partner=request.partner)
        return allowed
