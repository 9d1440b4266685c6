"""The one way a view follows a redirect target taken from a request (`next=`, a form field).

A target is followed only when it stays on the host the request came in on (a path, or an absolute
URL naming this host with an acceptable scheme); `//evil.example`, `https://evil.example/`,
`/\\evil.example`, `javascript:` and the like fall back to the view's own default page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest, target: str | None, *, default: str, **default_kwargs: Any) -> str:
    """`target` when it is safe to redirect to from this request, else `default` (a URL name or path,
    reversed with `default_kwargs`)."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(default, **default_kwargs)


def redirect_next(
    request: HttpRequest, target: str | None, *, default: str, **default_kwargs: Any
) -> HttpResponseRedirect:
    """Redirect to `target` if it is safe (see safe_next_url), otherwise to the default page."""
    return redirect(safe_next_url(request, target, default=default, **default_kwargs))
