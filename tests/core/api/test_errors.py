"""core.api.errors: a service's refusal keeps its reason as a 403 in the API's error shape."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from core.api.errors import refused


def test_refused_keeps_the_services_reason():
    error = refused(PermissionDenied("It takes a person to reject a return."))
    assert (error.status_code, error.error_code, str(error.detail)) == (
        403,
        "permission_denied",
        "It takes a person to reject a return.",
    )


def test_refused_without_a_reason_still_says_why():
    assert str(refused(PermissionDenied()).detail) == "You may not do this."
