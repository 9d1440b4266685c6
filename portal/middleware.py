"""Binds request id, tenant and client IP into structlog's context for every log line."""

import re
import uuid

import structlog
from django.http import HttpRequest, HttpResponse

from core.api.errors import api_error_response
from core.context import client_ip_var, context_clear, request_id_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        ip = request.META.get("REMOTE_ADDR")
        tenant = getattr(request, "tenant", None)
        partner = getattr(request, "partner", None)
        context_clear()
        structlog.contextvars.bind_contextvars(
            request_id=request_id,
            tenant=tenant.schema_name if tenant is not None else None,
            partner=partner.slug if partner is not None else None,
        )
        request_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(ip)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(request_token)
            client_ip_var.reset(ip_token)
        response["X-Request-ID"] = request_id
        structlog.get_logger("portal.request").info(
            "request", method=request.method, path=request.path, status=response.status_code
        )
        return response


class ContentLengthMiddleware:
    """First in the chain: a Content-Length that is not a whole number is the client's error (400),
    before anything (metrics, body parsing) tries to read it as one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH", "")
        if length and not length.strip().isdigit():
            if request.path.startswith("/api/"):
                return api_error_response(
                    request, status_code=400, code="bad_request", message="Content-Length must be a whole number."
                )
            return HttpResponse("Content-Length must be a whole number.", status=400, content_type="text/plain")
        return self.get_response(request)
