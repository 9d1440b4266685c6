"""Filters every list of the API shares.

`updated_since` narrows a list to the rows changed at or after a moment (ISO 8601), so a client
keeps a copy in step by asking for what changed since its last run; it pages with the same cursor
as the unfiltered list."""

from __future__ import annotations

import django_filters

UPDATED_SINCE_HELP = "Only rows changed at or after this moment (ISO 8601), for incremental syncs."


def updated_since_filter(field_name: str = "updated_at", *, method: str | None = None) -> django_filters.Filter:
    """The `updated_since` filter over `field_name` (a FilterSet's `method` when a change is read
    from more than one column)."""
    if method is not None:
        return django_filters.IsoDateTimeFilter(method=method, help_text=UPDATED_SINCE_HELP)
    return django_filters.IsoDateTimeFilter(field_name=field_name, lookup_expr="gte", help_text=UPDATED_SINCE_HELP)
