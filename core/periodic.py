"""Per-tenant periodic jobs. Apps register a job by name; once a minute the beat fans out to every
active tenant and runs each registered job in that tenant's schema."""

from __future__ import annotations

from collections.abc import Callable

from core.registry import registering

_JOBS: dict[str, Callable[[], object]] = {}


def periodic_job(name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    return registering(_JOBS, name)


def periodic_jobs() -> dict[str, Callable[[], object]]:
    return dict(_JOBS)
