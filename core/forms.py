"""Helpers for portal forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

T = TypeVar("T")

UPLOAD_MAX_MB = 2


def upload_size_check(upload: UploadedFile) -> None:
    """Refuse a file over UPLOAD_MAX_MB: an import reads the whole file into memory."""
    if upload.size > UPLOAD_MAX_MB * 1024 * 1024:
        raise ValidationError(f"The file is larger than {UPLOAD_MAX_MB} MB.", code="file_too_large")


class UploadField(forms.FileField):
    """A file field for a portal import: at most UPLOAD_MAX_MB."""

    default_validators = [upload_size_check]


def error_messages(error: ValidationError) -> list[str]:
    """Every message of a service's ValidationError, field by field, for a page's messages."""
    if hasattr(error, "error_dict"):
        return [message for messages in error.message_dict.values() for message in messages]
    return list(error.messages)


def form_errors_add(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: each field's messages on that field (or on the
    form when the form has no such field), a message without a field on the form."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def form_apply(form: forms.BaseForm, act: Callable[[dict], T]) -> tuple[bool, T | None]:
    """Validate `form` and run `act(cleaned_data)` (the service call). Returns (True, what `act`
    returned); (False, None) when the form is invalid or the service refused with a
    ValidationError, which then stands on the form."""
    if not form.is_valid():
        return False, None
    try:
        return True, act(form.cleaned_data)
    except ValidationError as error:
        form_errors_add(form, error)
        return False, None
