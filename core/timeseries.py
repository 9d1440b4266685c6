"""Time series read from any app's rows (the dashboards' daily counts)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate


def counts_per_day(
    rows: QuerySet, field: str, *, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
) -> dict[dt.date, int]:
    """The rows whose datetime `field` falls in [start, end), counted per day in `tz`."""
    counted = (
        rows.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        .annotate(day=TruncDate(field, tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
    )
    return {row["day"]: row["n"] for row in counted}
