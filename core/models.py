"""Abstract models and field options that several apps' models declare alike (Django only).

Abstract bases make no table and need no app: each concrete model that inherits one gets the
fields as if it declared them itself, in the tenant or the public schema alike."""

from __future__ import annotations

from typing import Self

from django.db import models
from django.db.models.functions import Now

# Every stored amount of money: 18 digits, 4 of them after the point (room for any currency's minor unit).
MONEY = {"max_digits": 18, "decimal_places": 4}


class Singleton(models.Model):
    """A settings row a schema holds once: `singleton` is always 1. Most also check the value in a
    constraint named for their table. Read it with `read()` (never writes), `stored()` or `locked()`."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)

    class Meta:
        abstract = True

    @classmethod
    def read(cls) -> Self:
        """The saved row, or the defaults unsaved when none was saved yet: a read never writes."""
        return cls._default_manager.filter(singleton=1).first() or cls(singleton=1)

    @classmethod
    def stored(cls, *related: str) -> Self:
        """The saved row, saved with its defaults the first time; `related` foreign keys joined in."""
        manager = cls._default_manager
        queryset = manager.select_related(*related) if related else manager.all()
        return queryset.get_or_create(singleton=1)[0]

    @classmethod
    def locked(cls) -> Self:
        """`stored()`, locked for the rest of the transaction: what a change to the settings reads."""
        cls._default_manager.get_or_create(singleton=1)
        return cls._default_manager.select_for_update().get(singleton=1)


class UpdatedByDatabase(models.Model):
    """`updated_at` set by the database: its default on insert, and a trigger (made in the model's
    migration) on every update, so a queryset `.update()` moves it too. What an API's
    `updated_since` filter reads."""

    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        abstract = True
