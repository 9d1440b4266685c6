"""The view bases every app's API builds on, and the OpenAPI parts they share.

- `ApiView`: Idempotency-Key on POST/PATCH, scopes from `core.api.auth.HasScope`, and
  `session_roles`: when set, only a session user with one of these membership roles may write
  (an API key is governed by its scopes alone). Each view declares its own roles.
- `deprecated`: a `core.api.deprecation.Deprecation` puts the Deprecation/Sunset headers on every
  response of the view (and marks its operation deprecated in the schema).
- `read_operation` and `write_operation` are the `extend_schema` of a read and of a write: the
  errors each lists and, on a write, the Idempotency-Key header, stated once.
- A view that answers a file as well (`?format=csv`): `FileFormatNegotiation`, `attachment`,
  `json_or_csv`.
- `TenantApiView` answers on tenant domains only, `PartnerApiView` on the partner console only.
- `ListMixin` and `RetrieveMixin`: DRF's list and retrieve as the view's `get`, so a list or detail
  view states only its serializer, rows, filters and pagination; it documents the operation with
  `extend_schema_view(get=read_operation(...))`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, mixins, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.auth import api_who, request_api_key
from core.api.deprecation import Deprecation
from core.api.errors import error_responses
from core.api.idempotency import IdempotentMixin

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a write safely: the first response is replayed for 24 h.",
)
READ_ERRORS = error_responses(400, 401, 403, 404, 429)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429)


def read_operation(operation_id: str, output: Any, **options: Any) -> Callable:
    """`extend_schema` of a read: `output` on 200 beside the read errors; `options` are passed on
    (summary, description, parameters, examples…)."""
    return extend_schema(operation_id=operation_id, responses={200: output, **READ_ERRORS}, **options)


def write_operation(
    operation_id: str, request: Any, output: Any, *, status: int = 200, idempotent: bool = True, **options: Any
) -> Callable:
    """`extend_schema` of a write: the `request` body, the Idempotency-Key header (a POST or PATCH
    honours it, core/api/idempotency.py; `idempotent=False` for a PUT or DELETE, which do not),
    `output` on `status` beside the write errors; `options` are passed on (summary, examples…)."""
    return extend_schema(
        operation_id=operation_id,
        request=request,
        parameters=[IDEMPOTENCY_PARAMETER] if idempotent else [],
        responses={status: output, **WRITE_ERRORS},
        **options,
    )


class FileFormatNegotiation(DefaultContentNegotiation):
    """`format` is the view's own switch to a file it answers itself (`attachment`), not DRF's
    renderer override (URL_FORMAT_OVERRIDE): what DRF renders (the JSON, the errors) is JSON."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


def json_or_csv(output: Any) -> dict:
    """`extend_schema` responses of a read that answers `output` as JSON or, with `?format=csv`, as a
    CSV file."""
    return {(200, "application/json"): output, (200, "text/csv"): OpenApiTypes.STR, **READ_ERRORS}


# Every API view derives from ApiView. `session_roles` empty means any role whose scopes allow the
# method. The schema never shows this docstring: core.api.schema reads a view's own words only.
class ApiView(IdempotentMixin, generics.GenericAPIView):
    """Base of every API view: scopes, `session_roles`, Idempotency-Key, deprecation headers, and the
    steps every handler repeats (`validated`, `who`, `page_of`)."""

    session_roles: tuple[str, ...] = ()
    deprecated: Deprecation | None = None
    # The model the schema generator reads: it runs without a request, so `rows()` cannot.
    schema_model: type[models.Model] | None = None

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if (
            self.session_roles
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and request_api_key(request) is None
            and getattr(request, "membership_role", None) not in self.session_roles
        ):
            self.permission_denied(request, message="Your role may not do this.")

    def get_queryset(self) -> Any:
        if self.schema_model is not None and getattr(self, "swagger_fake_view", False):
            return self.schema_model.objects.none()
        return self.rows()

    def rows(self) -> Any:
        """The view's rows for this request (views with `schema_model` define it)."""
        return super().get_queryset()

    def validated(self, serializer_class: type[serializers.Serializer], *, data: Any = None, **kwargs: Any) -> Any:
        """The request body (or `data`, e.g. the query string) checked by `serializer_class`: its
        validated data, or a 400 naming each bad field."""
        serializer = serializer_class(data=self.request.data if data is None else data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def page_of(self, output: type[serializers.Serializer], rows: Any = None) -> Response:
        """One page of `rows` (default: the view's queryset through its filters) shown by `output`,
        which gets the view's serializer context (the request)."""
        if rows is None:
            rows = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(output(page, many=True, context=self.get_serializer_context()).data)

    def who(self) -> dict[str, Any]:
        """Who acts, as services' `actor`/`actor_label` keywords (a key acts as `api-key:<prefix>`)."""
        return api_who(self.request)

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.deprecated is not None:
            for name, value in self.deprecated.headers().items():
                response[name] = value
        return response


class ListMixin(mixins.ListModelMixin):
    """`get` is one page of the view's rows (`rows()` or `queryset`) through its filters, shown by
    its `serializer_class` with the request in the context (what `page_of` answers)."""

    # No docstring here: the schema takes each view's own words (core.api.schema).
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


class RetrieveMixin(mixins.RetrieveModelMixin):
    """`get` is the row the URL's `pk` names among the view's rows, shown by its
    `serializer_class`; a 404 says `not_found` (DRF's "Not found." when None)."""

    not_found: str | None = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.retrieve(request, *args, **kwargs)

    def get_object(self) -> Any:
        try:
            return super().get_object()
        except Http404:
            raise exceptions.NotFound(self.not_found) from None


class TenantApiView(ApiView):
    api_area = "tenant"


class PartnerApiView(ApiView):
    api_area = "partner"
