"""core.api.errors: a service's refusal keeps its reason as a 403 in the API's error shape; an upload's
bad rows are a 400 listing each row."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from core.api.errors import refused, rows_refused
from core.spreadsheet import RowError, RowsInvalid


def test_refused_keeps_the_services_reason():
    error = refused(PermissionDenied("It takes a person to reject a return."))
    assert (error.status_code, error.error_code, str(error.detail)) == (
        403,
        "permission_denied",
        "It takes a person to reject a return.",
    )


def test_refused_without_a_reason_still_says_why():
    assert str(refused(PermissionDenied()).detail) == "You may not do this."


def test_rows_refused_lists_each_bad_row_in_line_order():
    error = rows_refused(RowsInvalid([RowError(3, "Unknown SKU."), RowError(2, "No price.")]))
    assert (error.status_code, error.error_code, error.details) == (
        400,
        "invalid_rows",
        {"rows": [{"line": 2, "message": "No price."}, {"line": 3, "message": "Unknown SKU."}]},
    )
