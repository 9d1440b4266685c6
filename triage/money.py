"""Money at risk: the amounts of the documents an exception holds back (issue 18).

Triage sits below the apps that own the documents, so each app registers a small resolver for its
model types (model label → function returning the amount and its currency) from its
`AppConfig.ready()`; `exception_raise` asks the resolver of the object it is given. An object of
a type nobody registered (a connection, a batch) holds no money back: 0.

An occurrence keeps its own object's amount. A group's figure is the sum of its open occurrences
in one currency: the currency with the largest sum when a group mixes currencies (rare: orders
are kept in the shop's currency), so the inbox sorts by the larger exposure.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.db import models
from django.db.models import Sum

from core.registry import registering
from triage.models import Exception as TriageException
from triage.models import Occurrence

Resolver = Callable[[models.Model], tuple[Decimal, str]]
_RESOLVERS: dict[str, Resolver] = {}
NONE = (Decimal(0), "")


def money_at_risk_resolver(label: str) -> Callable[[Resolver], Resolver]:
    """Register the resolver of one model type, by its label (`commerce.order`)."""
    return registering(_RESOLVERS, label.lower())


def money_at_risk_of(obj: models.Model | None) -> tuple[Decimal, str]:
    """The amount (and currency) `obj` holds back, or 0 for no object or an unregistered type."""
    if obj is None:
        return NONE
    resolver = _RESOLVERS.get(obj._meta.label_lower)
    if resolver is None:
        return NONE
    amount, currency = resolver(obj)
    return (Decimal(amount or 0), currency or "")


def group_money_refresh(exception: TriageException) -> None:
    """Set the group's figure from its open occurrences (saved only when it changed)."""
    sums = (
        Occurrence.objects.filter(exception=exception, resolved_at__isnull=True)
        .exclude(money_currency="")
        .values("money_currency")
        .annotate(total=Sum("money_at_risk"))
        .order_by("-total", "money_currency")
    )
    top = sums.first()
    amount, currency = (top["total"], top["money_currency"]) if top else (Decimal(0), exception.money_currency)
    if amount != exception.money_at_risk or currency != exception.money_currency:
        exception.money_at_risk, exception.money_currency = amount, currency
        TriageException.objects.filter(pk=exception.pk).update(money_at_risk=amount, money_currency=currency)
