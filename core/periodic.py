"""Per-tenant periodic jobs. Apps register a job by name with how it finds its next due time; once
a minute the beat fans out only to the tenants with a job due (the due-time index, tenants/due.py,
DESIGN.md §3) and runs the due jobs in that tenant's schema.

`next_due(now)` runs in the tenant's schema after the tenant's visit and answers when the job next
has something to do there: a time (at or before `now`: at the next beat), or None when nothing is
pending and only a write can give it work. Writes that may give a tenant work mark it due
themselves (tenants.due.tenant_due_bump: a stored or failed event, a raised exception, a connection
write, any write through the portal or the API), and a marked tenant runs every job at its next
visit. So `next_due` must count what is in flight (a push being sent, an event being processed) as
due, and needs no index of its own beyond its app's usual work query. A job registered without one
is due at every beat (the behaviour before the index)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from core.tasks import tenant_only

NextDue = Callable[[dt.datetime], "dt.datetime | None"]


def every_beat(now: dt.datetime) -> dt.datetime:
    """The default: the job runs at every beat while the tenant is visited at all."""
    return now


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: Callable[[], object]
    next_due: NextDue
    # Its work feeds other jobs (the inbox turns events into orders, batches, pushes): its next due
    # time is read first, so work it finishes while the others are read is seen by them.
    upstream: bool = False


_JOBS: dict[str, PeriodicJob] = {}


def periodic_job(
    name: str, *, next_due: NextDue = every_beat, upstream: bool = False
) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register the decorated function as the periodic job `name`. Every job works on one tenant's
    rows, so the job refuses to run in the public schema (core.tasks.tenant_only, under its name)."""

    def register(func: Callable[..., object]) -> Callable[..., object]:
        @functools.wraps(func)
        def run(*args: object, **kwargs: object) -> object:
            tenant_only(name)
            return func(*args, **kwargs)

        _JOBS[name] = PeriodicJob(name=name, run=run, next_due=next_due, upstream=upstream)
        return run

    return register


def periodic_jobs() -> dict[str, Callable[[], object]]:
    return {name: job.run for name, job in _JOBS.items()}


def periodic_job_specs() -> list[PeriodicJob]:
    """Every registered job, the upstream ones first (the order their next due times are read in)."""
    return sorted(_JOBS.values(), key=lambda job: not job.upstream)


def earliest(*times: dt.datetime | None) -> dt.datetime | None:
    """The earliest of the known times (None when none is known): a job's next due time."""
    known = [at for at in times if at is not None]
    return min(known) if known else None
