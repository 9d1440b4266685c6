"""`Idempotency-Key` for POST and PATCH (DESIGN.md §6, §7).

The first request with a key inserts an `in_progress` row (unique on scope + principal + key) before the
view runs, and stores the response status and body after it. A repeat with the same method, path
and body gets the stored response with `Idempotent-Replayed: true`; with anything else it gets 422
`idempotency_key_reused`; while the first is still running it gets 409 `idempotency_in_progress`.
A 5xx or an unhandled error drops the row, so the client may retry.

The scope is the schema the request acts in (a tenant's, or 'public' on a partner or operator
console): one partner key sending the same key and body to two of its tenants makes two writes,
never a replay of the other tenant's response (DESIGN.md §7).

Records are kept `API_IDEMPOTENCY_TTL_HOURS` (24 h). They are purged lazily: every new record
deletes its principal's expired ones, and an expired record for the same key is replaced — so no
periodic job is needed and the table stays bounded by each principal's last day of writes.

The record model lives in `tenants` (public schema) and is registered at start-up
(core/api/backends.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import principal_id
from core.api.backends import api_backends
from core.api.errors import ApiError

HEADER = "Idempotency-Key"
METHODS = ("POST", "PATCH")
MAX_KEY_LENGTH = 255


def _records() -> Any:
    """The registered record model (tenants.IdempotencyRecord)."""
    return api_backends().idempotency_model


class IdempotentReplay(Exception):
    def __init__(self, record: Any) -> None:
        super().__init__(record.key)
        self.record = record


def _body_hash(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request._request.body)
    return digest.hexdigest()


def _scope(request: Request) -> str:
    tenant = getattr(request._request, "tenant", None)
    return tenant.schema_name if tenant is not None else get_public_schema_name()


def idempotency_begin(request: Request) -> Any | None:
    """Claim the request's key, or raise: replay (IdempotentReplay), 409 or 422."""
    if request.method not in METHODS:
        return None
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(status_code=400, code="invalid", message=f"{HEADER} is longer than {MAX_KEY_LENGTH}.")
    scope = _scope(request)
    principal = principal_id(request)
    body_hash = _body_hash(request)
    expired_before = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS)
    _records().objects.filter(principal=principal, created_at__lt=expired_before).delete()
    try:
        with transaction.atomic():
            return _records().objects.create(
                scope=scope,
                principal=principal,
                key=key,
                method=request.method,
                path=request.path[:500],
                body_hash=body_hash,
            )
    except IntegrityError:
        pass
    existing = _records().objects.filter(scope=scope, principal=principal, key=key).first()
    if existing is None:  # finished and dropped (5xx) meanwhile: the client may simply retry
        raise ApiError(status_code=409, code="idempotency_in_progress", message="Retry this request.")
    if existing.body_hash != body_hash:
        raise ApiError(
            status_code=422,
            code="idempotency_key_reused",
            message=f"This {HEADER} was used with a different request.",
        )
    if existing.status == _records().Status.IN_PROGRESS:
        raise ApiError(
            status_code=409,
            code="idempotency_in_progress",
            message=f"A request with this {HEADER} is still being processed.",
        )
    raise IdempotentReplay(existing)


def idempotency_complete(record: Any, response: Response, *, redact: tuple[str, ...] = ()) -> None:
    """Store the outcome. Fields in `redact` (secrets shown once) are stored, and replayed, as null."""
    if response.status_code >= 500:
        record.delete()
        return
    data = response.data
    if isinstance(data, dict) and redact:
        data = {**data, **{field: None for field in redact if field in data}}
    body = JSONRenderer().render(data).decode() if data is not None else ""
    _records().objects.filter(pk=record.pk).update(
        status=_records().Status.COMPLETE, response_status=response.status_code, response_body=body
    )


def idempotency_abandon(record: Any) -> None:
    _records().objects.filter(pk=record.pk).delete()


class IdempotentMixin:
    """For DRF views: honour Idempotency-Key on POST and PATCH. `idempotency_redact` names response
    fields that must not be stored (a secret shown once is replayed as null)."""

    idempotency_redact: tuple[str, ...] = ()

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        self._idempotency_record = None
        super().initial(request, *args, **kwargs)
        self._idempotency_record = idempotency_begin(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, IdempotentReplay):
            record = exc.record
            body = json.loads(record.response_body) if record.response_body else None
            return Response(body, status=record.response_status, headers={"Idempotent-Replayed": "true"})
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: object, **kwargs: object) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            self._idempotency_record = None
            idempotency_complete(record, response, redact=self.idempotency_redact)
        return response

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except BaseException:
            record = getattr(self, "_idempotency_record", None)
            if record is not None:
                idempotency_abandon(record)
            raise
