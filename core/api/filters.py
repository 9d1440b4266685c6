"""Filters every list of the API shares.

`updated_since` narrows a list to the rows changed at or after a moment (ISO 8601), so a client
keeps a copy in step by asking for what changed since its last run; it pages with the same cursor
as the unfiltered list. Every moment a filter reads is turned to UTC first: PostgreSQL refuses an
offset beyond ±15:59 (valid ISO 8601, e.g. `+17:51`), which would otherwise be a 500."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

UPDATED_SINCE_HELP = "Only rows changed at or after this moment (ISO 8601), for incremental syncs."


class UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError as error:
            raise forms.ValidationError("Enter a moment between the years 1 and 9999.", code="invalid") from error


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment, compared in UTC."""

    field_class = UtcIsoDateTimeField


def updated_since_filter(field_name: str = "updated_at", *, method: str | None = None) -> django_filters.Filter:
    """The `updated_since` filter over `field_name` (a FilterSet's `method` when a change is read
    from more than one column)."""
    if method is not None:
        return UtcIsoDateTimeFilter(method=method, help_text=UPDATED_SINCE_HELP)
    return UtcIsoDateTimeFilter(field_name=field_name, lookup_expr="gte", help_text=UPDATED_SINCE_HELP)
