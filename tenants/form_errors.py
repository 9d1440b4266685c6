"""A service's ValidationError shown on the portal form that submitted it (every app's views use it).

Belongs in `core/` (it imports nothing of the project); it sits here until `core/` exists."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def form_errors_add(form: forms.Form, error: ValidationError) -> None:
    """Per field where the form has that field, else as a form-wide error."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)
