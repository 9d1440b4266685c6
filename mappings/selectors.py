"""Which account a posting role goes to.

Resolution: the mapping set in force at `at` is the live (active or archived) set with the latest
`effective_from` not after `at`, so re-posting an old document uses the rules of its day. Within it,
a rule matches when each of its set conditions equals the given condition; the most specific match
(most set conditions) wins. Ties go to the rule whose set conditions rank first in
`CONDITION_KEYS` (jurisdiction > product_category > payment_method > gateway > promotion_funding >
store > channel), then to the lowest id: deterministic, and independent of query order.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from mappings.models import CONDITION_KEYS, Account, AccountRule, MappingSet, ValueMap


class Unmapped(Exception):
    def __init__(self, role: str, conditions: Mapping[str, str]):
        self.role = str(role)
        self.conditions = dict(sorted((key, value) for key, value in conditions.items() if value))
        described = ", ".join(f"{key}={value}" for key, value in self.conditions.items()) or "no conditions"
        super().__init__(f"No account is mapped for role {self.role!r} ({described}).")


def mapping_set_at(*, at: dt.datetime) -> MappingSet | None:
    return (
        MappingSet.objects.filter(
            status__in=(MappingSet.Status.ACTIVE, MappingSet.Status.ARCHIVED), effective_from__lte=at
        )
        .order_by("-effective_from", "-activated_at", "-pk")
        .first()
    )


def _rank(rule: AccountRule) -> tuple:
    set_keys = [index for index, key in enumerate(CONDITION_KEYS) if getattr(rule, key)]
    return (-len(set_keys), set_keys, rule.pk)


class AccountResolver:
    """All rules of one mapping set loaded once: posting resolves dozens of roles per entry."""

    def __init__(self, mapping_set: MappingSet | None):
        self.mapping_set = mapping_set
        self._rules: dict[str, list[AccountRule]] = {}
        if mapping_set is not None:
            for rule in mapping_set.rules.select_related("account").order_by("pk"):
                self._rules.setdefault(rule.role, []).append(rule)
            for rules in self._rules.values():
                rules.sort(key=_rank)

    def resolve(self, role: str, conditions: Mapping[str, str]) -> Account:
        for rule in self._rules.get(role, ()):
            if all(not getattr(rule, key) or getattr(rule, key) == conditions.get(key, "") for key in CONDITION_KEYS):
                if not rule.account.active:
                    break
                return rule.account
        raise Unmapped(role, conditions)


def account_resolver(*, at: dt.datetime) -> AccountResolver:
    return AccountResolver(mapping_set_at(at=at))


@dataclass(frozen=True)
class MappingVersion:
    """What account resolution depends on, read in one query: the live mapping sets in resolution
    order, as (id, effective_from, activated_at), and the inactive accounts. A live set's rules
    never change (only a draft is edited), so a set's id and activation time name its rules; an
    account (de)activated changes `inactive`. Resolvers are cached under this, per schema."""

    schema: str
    sets: tuple[tuple[int, dt.datetime, dt.datetime | None], ...]
    inactive: tuple[int, ...]

    def set_at(self, at: dt.datetime) -> tuple[int, dt.datetime, dt.datetime | None] | None:
        """The set in force at `at`, as `mapping_set_at` picks it (sets are in its order)."""
        return next((row for row in self.sets if row[1] <= at), None)


def mapping_version_current() -> MappingVersion:
    """One query: the live sets (ordered exactly as `mapping_set_at` orders them) and the ids of
    inactive accounts. Posting reads it once per batch to find its cached resolvers."""
    sets, accounts = MappingSet._meta.db_table, Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, s.effective_from, s.activated_at, "
            f"(SELECT coalesce(array_agg(a.id ORDER BY a.id), '{{}}') FROM {accounts} a WHERE NOT a.active) "
            f"FROM (SELECT 1) one LEFT JOIN {sets} s ON s.status IN (%s, %s) "
            "ORDER BY s.effective_from DESC, s.activated_at DESC, s.id DESC",
            [MappingSet.Status.ACTIVE, MappingSet.Status.ARCHIVED],
        )
        rows = cursor.fetchall()
    return MappingVersion(
        schema=connection.schema_name,
        sets=tuple((pk, effective, activated) for pk, effective, activated, _ in rows if pk is not None),
        inactive=tuple(rows[0][3]) if rows else (),
    )


_RESOLVERS: OrderedDict[tuple, AccountResolver] = OrderedDict()
_RESOLVERS_MAX = 256  # per process: a few sets per tenant for the tenants one worker serves


def account_resolver_cached(*, at: dt.datetime, version: MappingVersion | None = None) -> AccountResolver:
    """The resolver of the set in force at `at`, loaded once per process and mapping version
    (`version`: read it once per batch with `mapping_version_current`; read here when omitted).
    Its accounts are as loaded then: callers use their ids (a changed name is not reflected)."""
    version = version if version is not None else mapping_version_current()
    live = version.set_at(at)
    if live is None:
        return AccountResolver(None)
    key = (version.schema, *live, version.inactive)
    resolver = _RESOLVERS.get(key)
    if resolver is None:
        resolver = AccountResolver(MappingSet.objects.get(pk=live[0]))
        _RESOLVERS[key] = resolver
        while len(_RESOLVERS) > _RESOLVERS_MAX:
            _RESOLVERS.popitem(last=False)
    else:
        _RESOLVERS.move_to_end(key)
    return resolver


def account_resolve(*, role: str, conditions: Mapping[str, str], at: dt.datetime) -> Account:
    """The account for `role` under `conditions` at `at`, or `Unmapped(role, conditions)`."""
    return account_resolver(at=at).resolve(role, conditions)


def value_map_lookup(*, kind: str, source_value: str, at: dt.datetime) -> str | None:
    mapping_set = mapping_set_at(at=at)
    if mapping_set is None:
        return None
    row = ValueMap.objects.filter(mapping_set=mapping_set, kind=kind, source_value=source_value).first()
    return row.erp_value if row else None


def accounts_list(*, active_only: bool = False) -> QuerySet[Account]:
    queryset = Account.objects.select_related("parent").order_by("code")
    return queryset.filter(active=True) if active_only else queryset


def mapping_sets_list() -> QuerySet[MappingSet]:
    return MappingSet.objects.order_by("-created_at", "-pk")
