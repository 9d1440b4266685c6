"""Reads every list screen shares."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)


def status_search_filter(
    queryset: QuerySet[M], *, status: str | None, search: str | None, search_fields: Sequence[str]
) -> QuerySet[M]:
    """A list's status filter and search box: the rows in `status` whose `search_fields` (any of
    them) contain `search`, ignoring case. An empty status or search leaves the list whole."""
    if status:
        queryset = queryset.filter(status=status)
    if search:
        matches = (Q(**{f"{name}__icontains": search}) for name in search_fields)
        queryset = queryset.filter(reduce(operator.or_, matches))
    return queryset
