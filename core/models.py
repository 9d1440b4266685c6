"""Abstract models and field options that several apps' models declare alike (Django only).

Abstract bases make no table and need no app: each concrete model that inherits one gets the
fields as if it declared them itself, in the tenant or the public schema alike."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

# Every stored amount of money: 18 digits, 4 of them after the point (room for any currency's minor unit).
MONEY = {"max_digits": 18, "decimal_places": 4}


class Singleton(models.Model):
    """A settings row a schema holds once: `singleton` is always 1, so `get_or_create(singleton=1)`
    reads or makes the row. Most also check the value in a constraint named for their table."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)

    class Meta:
        abstract = True


class UpdatedByDatabase(models.Model):
    """`updated_at` set by the database: its default on insert, and a trigger (made in the model's
    migration) on every update, so a queryset `.update()` moves it too. What an API's
    `updated_since` filter reads."""

    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        abstract = True
