"""Work that other apps attach to a tenant's resume (DESIGN.md §7: a suspended tenant's webhooks
are held, and processed in order on resume).

`tenants` sits below the apps that hold work back, so they register a callback here instead of
being imported: `@on_tenant_resume` runs the callback after the resume commits, in the tenant's
schema. A failing callback is logged and never undoes the resume (each app has a sweep that
catches up once the tenant is active)."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.db import transaction
from django_tenants.utils import tenant_context

from core.registry import registering
from tenants.models import Tenant

log = structlog.get_logger(__name__)

_RESUME_CALLBACKS: dict[str, Callable[[], object]] = {}


def on_tenant_resume(name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    return registering(_RESUME_CALLBACKS, name)


def tenant_resume_callbacks_run(*, tenant: Tenant) -> None:
    for name, callback in _RESUME_CALLBACKS.items():
        try:
            with tenant_context(tenant):
                callback()
        except Exception:  # one failing callback must not stop the others; its sweep catches up
            log.exception("tenants.resume_callback_failed", callback=name, schema=tenant.schema_name)


def tenant_resume_schedule(*, tenant: Tenant) -> None:
    """Run the resume callbacks once the current transaction commits (the worker must see it)."""
    transaction.on_commit(lambda: tenant_resume_callbacks_run(tenant=tenant))
