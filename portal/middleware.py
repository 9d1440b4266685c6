"""Binds request id, tenant and client IP into structlog's context for every log line; the
Content-Length guard; and the webhook bypass of the browser-only middlewares.

The webhook bypass (issue 17): `/hooks/…` (connectors/webhooks.py) is called by vendors, never by a
person in a browser. It has no session, no signed-in user, no messages, no CSRF token (its views are
csrf_exempt), no MFA or allauth flow, no HTMX, no login throttling (axes) and no membership (it is
an open prefix in tenants.middleware). What authenticates it is the vendor's signature (HMAC or the
URL token), checked by the view before anything is stored (docs/security.md, DESIGN.md §7). So the
middlewares that exist only for people are listed in settings.MIDDLEWARE wrapped in `BrowserOnly…`
(this module, the one place that says which): on a webhook path they pass the request straight on;
everywhere else they run exactly as before. Host routing (the tenant), the request context, the
security and CSP headers, metrics and the Content-Length guard still run for webhooks.
"""

import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from core.api.errors import api_error_response
from core.context import client_ip_var, context_clear, request_id_var
from tenants.middleware import WEBHOOK_PREFIX

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


_HOOKS = ("process_view", "process_template_response", "process_exception")


def webhook_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(WEBHOOK_PREFIX)


class BrowserOnly:
    """Wraps the middleware at `wrapped` (a dotted path): it runs for every request but a webhook's.
    Its process_view / process_template_response / process_exception hooks are exposed the same way."""

    wrapped = ""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.inner = import_string(self.wrapped)(get_response)
        for hook in _HOOKS:
            method = getattr(self.inner, hook, None)
            if method is not None:
                setattr(self, hook, _unless_webhook(hook, method))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if webhook_request(request):
            return self.get_response(request)
        return self.inner(request)


def _unless_webhook(hook: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: HttpRequest, *args: Any) -> Any:
        if not webhook_request(request):
            return method(request, *args)
        return args[-1] if hook == "process_template_response" else None  # the response, untouched

    return call


def _browser_only(path: str) -> type[BrowserOnly]:
    name = f"BrowserOnly{path.rsplit('.', 1)[1]}"
    return type(name, (BrowserOnly,), {"wrapped": path, "__module__": __name__, "__qualname__": name})


BrowserOnlySessionMiddleware = _browser_only("django.contrib.sessions.middleware.SessionMiddleware")
BrowserOnlyAuthenticationMiddleware = _browser_only("django.contrib.auth.middleware.AuthenticationMiddleware")
BrowserOnlyMessageMiddleware = _browser_only("django.contrib.messages.middleware.MessageMiddleware")
BrowserOnlyHtmxMiddleware = _browser_only("django_htmx.middleware.HtmxMiddleware")
