"""One error shape for the whole API, cursor pagination, and the strict serializer base.

Every error answers `{"error": {"code", "message", "details", "request_id"}}`: DRF exceptions via
`api_exception_handler` (settings EXCEPTION_HANDLER), Django's own 404/413 under /api/ via
`api_error_response` (portal.views.page_not_found, portal.middleware)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from core.spreadsheet import RowsInvalid

DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


T = TypeVar("T")


def found(value: T | None, message: str | None = None) -> T:
    """A lookup's `None` as the API's 404 (`message` or DRF's "Not found.")."""
    if value is None:
        raise exceptions.NotFound(message)
    return value


class ApiError(exceptions.APIException):
    """An API error with an explicit status and code, e.g. 422 idempotency_key_reused."""

    def __init__(self, *, status_code: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def refused(error: PermissionDenied) -> ApiError:
    """A service's refusal as a 403 that keeps its reason (the handler's own 403 is generic)."""
    return ApiError(status_code=403, code="permission_denied", message=str(error) or "You may not do this.")


def rows_refused(error: RowsInvalid) -> ApiError:
    """An upload's bad rows as a 400 `invalid_rows` listing each row's line and message (nothing of
    the file was written)."""
    return ApiError(
        status_code=400,
        code="invalid_rows",
        message="Nothing was imported: fix these rows and send the file again.",
        details={"rows": [{"line": row.line, "message": row.message} for row in error.rows]},
    )


def error_body(*, code: str, message: str, details: Any = None, request_id: str = "") -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}, "request_id": request_id}}


def api_error_response(request: HttpRequest, *, status_code: int, code: str, message: str) -> JsonResponse:
    """A plain Django JSON response in the API error shape, for errors raised outside DRF."""
    return JsonResponse(
        error_body(code=code, message=message, request_id=getattr(request, "request_id", "")), status=status_code
    )


def _django_validation_details(error: DjangoValidationError) -> dict:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    # rest_framework.views reads DEFAULT_AUTHENTICATION_CLASSES at import time, which imports
    # core.api.auth, which imports this module.
    from rest_framework.views import exception_handler  # import here: DRF settings import cycle

    request = context.get("request")
    request_id = getattr(request, "request_id", "") if request is not None else ""
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError for business rules; the API answers 400 with fields.
        details = _django_validation_details(exc)
        return Response(
            error_body(code="invalid", message="The request is not valid.", details=details, request_id=request_id),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DataError) and "NUL (0x00)" in str(exc):
        # psycopg refuses NUL in text parameters before anything reaches the server: client input.
        return Response(
            error_body(code="invalid", message="Text must not contain NUL (0x00) characters.", request_id=request_id),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(code="request_too_large", message="The request body is too large.", request_id=request_id),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        code, message, details = exc.error_code, str(exc.detail), exc.details
    elif isinstance(exc, exceptions.ValidationError):
        code, message = "invalid", "The request is not valid."
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    elif isinstance(exc, exceptions.Throttled):
        code, message, details = "throttled", "Too many requests.", {"retry_after_seconds": exc.wait}
    else:
        detail_codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = detail_codes if isinstance(detail_codes, str) else DEFAULT_CODES.get(response.status_code, "error")
        message, details = str(getattr(exc, "detail", "")) or "Error.", {}
    response.data = error_body(code=code, message=message, details=details, request_id=request_id)
    return response


class BoundedJSONParser(JSONParser):
    """JSON read through Django's `request.body`, so DATA_UPLOAD_MAX_MEMORY_SIZE applies (→ 413)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        django_request = getattr(request, "_request", None)
        if django_request is None:
            return super().parse(stream, media_type, parser_context)
        body = django_request.body  # raises RequestDataTooBig above the limit
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        nul = _nul_paths(data)
        if nul:
            # PostgreSQL text and jsonb cannot hold U+0000: refuse it here, field by field, rather
            # than fail on save (DRF's CharField checks its own fields; JSON fields it does not).
            raise exceptions.ValidationError({path: ["Null characters are not allowed."] for path in nul})
        return data


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths of every key or string holding U+0000 (`config.note`, `lines.0.sku`)."""
    if isinstance(value, str):
        return [path or "non_field_errors"] if "\x00" in value else []
    if isinstance(value, dict):
        paths = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            paths += [here] if "\x00" in str(key) else _nul_paths(item, here)
        return paths
    if isinstance(value, list):
        return [
            nested
            for index, item in enumerate(value)
            for nested in _nul_paths(item, f"{path}.{index}" if path else str(index))
        ]
    return []


class LenientContentNegotiation(DefaultContentNegotiation):
    """An Accept header naming nothing we serve (or not parseable at all, like `Accept;`) gets the
    view's first renderer, JSON, instead of a 406: HTTP lets a server ignore Accept, and every
    error this API documents is JSON."""

    def select_renderer(self, request: Any, renderers: list, format_suffix: str | None = None) -> tuple:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class CreatedCursorPagination(CursorPagination):
    """Newest first; a view whose rows page by other columns says so in its own `ordering`
    (e.g. `ordering = ("-received_at", "-id")`, as it would for DRF's OrderingFilter)."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple:
        ordering = getattr(view, "ordering", None)
        if ordering is None:
            return super().get_ordering(request, queryset, view)
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)


class OffsetPagination(LimitOffsetPagination):
    """`limit`/`offset` pages, for lists that are not a queryset in a stable order (computed rows)."""

    default_limit = 100
    max_limit = 1000


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo is a 400 rather than silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()
    request_id = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*codes: int) -> dict:
    """extend_schema `responses` entries for the given error statuses."""
    return {code: ErrorSerializer for code in codes}
