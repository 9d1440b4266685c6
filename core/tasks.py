"""The guard every tenant task runs first.

tenant-schemas-celery runs a task in the schema it was sent from, and falls back to `public` when it
was sent outside a tenant context (DESIGN.md §10). A task that needs a tenant refuses to run there."""

from __future__ import annotations

from celery import Task, current_app
from django.db import connection
from django_tenants.utils import get_public_schema_name


def tenant_only(task_name: str) -> None:
    """Raise if the current schema is `public`: `task_name` must be sent from a tenant schema."""
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError(f"{task_name} must be sent from a tenant schema, not public.")


def task_named(name: str) -> Task:
    """The registered Celery task `name` (its own class, so a FairTask keeps its routing). A module
    dispatches its tasks by name because the tasks module imports it, never the other way round;
    every app imports its tasks in `AppConfig.ready()`, so the name is registered in every process."""
    try:
        return current_app.tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task named {name!r} is registered.") from None
