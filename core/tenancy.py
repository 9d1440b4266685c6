"""The current tenant as django-tenants sets it on the database connection."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import connection


def tenant_zone() -> dt.tzinfo:
    """The timezone of the tenant whose schema is active (`connection.tenant.timezone`): UTC when
    there is none (public, no tenant set) or its name is not a known zone."""
    name = getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
