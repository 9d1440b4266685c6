"""Fair claiming of tenant work across every queue (DESIGN.md §6, issue 15 item 3).

One Celery FIFO queue serves every tenant, so a task sent directly would wait behind every task
sent before it: one retailer's webhook storm or ERP backlog would delay every other retailer.
Tasks declared with `base=FairTask` are therefore not sent as themselves. `apply_async` from a
tenant schema stores the job in Redis in that tenant's own list for the task's fair queue
(`fair_queue`: events, erp, inventory, promotions) and sends an anonymous *pump* token instead.
A pump takes whichever job is next in a round-robin over the tenants that have work in that queue
(each tenant takes up to its queue's `quantum` jobs per turn, FAIR_QUEUES in settings), runs it in
that tenant's schema and stores its result under the job's task id. So the Celery queue stays
FIFO, but what each token runs is chosen fairly: tenant B's one event runs after at most one
turn of every other busy tenant, not after tenant A's 10,000.

No work is lost or done twice:
- submit and take are single Lua scripts (atomic). A job already waiting (same task, same
  arguments, same tenant) is not queued again: the duplicate returns the waiting job's id.
- a taken job is leased (`lease_seconds`): if the worker dies while running it, `fair_reclaim`
  (beat, once a minute) puts it back in its tenant's list and sends a pump for it.
- a waiting job whose token was lost (prefetched by a worker that was killed, a pump send that
  failed after the job was stored) is not stranded: `fair_repump` (the same beat task) compares
  the jobs waiting with the tokens waiting in the Celery queue and sends the missing ones.
- a pump that finds nothing (its job was a duplicate or ran already) does nothing.
- `max_running` (FAIR_QUEUES, 0 = no limit) caps how many of one tenant's jobs of a queue run at
  once: fairness orders the *waiting* jobs, but cannot preempt running ones, so without a cap one
  tenant's long ingest batches can hold every worker process and another tenant's event waits
  for one to end. A token that finds every tenant with work at its cap is counted as owed; the
  next job of the queue to finish sends it again (leases that ran out owe nothing).
- tasks are idempotent anyway (they check state before acting) and the per-app sweeps still
  re-send whatever the database says is due.
A send with a countdown/eta waits in Celery as `portal.fair_submit_later` and joins the fair
queue when due. A send from `public` (no tenant) is an ordinary Celery send.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from celery import current_app, states
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context
from tenant_schemas_celery.task import TenantTask

from core import metrics

log = structlog.get_logger(__name__)

PREFIX = "tb:fair"
# The pump and the delayed submit are Celery tasks defined by the shell (portal/tasks.py); core
# sends them by name (`send_task`) so that it imports nothing above it, and so that a process in
# which portal.tasks was never imported (a management command, a script, a web process) can send
# them: looking them up in its task registry failed there after the job was stored, stranding it.
PUMP_TASK = "portal.fair_pump"
SUBMIT_LATER_TASK = "portal.fair_submit_later"
# At most this many lost tokens are re-sent per queue per tick (the next tick sends the rest).
REPUMP_MAX = 10_000

# KEYS: ring, active, jobs, ids, seq   ARGV: schema, member, task id
_SUBMIT = """
local existing = redis.call('HGET', KEYS[4], ARGV[2])
if existing then return {0, existing} end
local seq = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[3], seq, ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
return {1, ARGV[3]}
"""

# KEYS: ring, active, turns, inflight, starved
# ARGV: jobs prefix, ids prefix, quantum, lease deadline, running prefix, max running, now
# A tenant already running `max running` jobs of the queue (unexpired leases) is passed over, to
# the back of the ring; when every tenant with work is, the token is spent and counted in
# `starved`, and the next job to finish sends a pump in its place (fair_done).
_TAKE = r"""
local max_running = tonumber(ARGV[6])
local capped = 0
while true do
  local schema = redis.call('LINDEX', KEYS[1], 0)
  if not schema then return false end
  local running = ARGV[5] .. schema
  local at_cap = false
  if max_running > 0 then
    redis.call('ZREMRANGEBYSCORE', running, '-inf', ARGV[7])
    at_cap = redis.call('ZCARD', running) >= max_running
  end
  local done_with_tenant = false
  local result = false
  if at_cap then
    capped = capped + 1
    if capped >= redis.call('LLEN', KEYS[1]) then
      redis.call('INCR', KEYS[5])
      return false
    end
    redis.call('LPOP', KEYS[1])
    redis.call('RPUSH', KEYS[1], schema)
    redis.call('HDEL', KEYS[3], schema)
  else
    local jobs = ARGV[1] .. schema
    local popped = redis.call('ZPOPMIN', jobs)
    if #popped > 0 then
      local member = popped[1]
      local ids = ARGV[2] .. schema
      local task_id = redis.call('HGET', ids, member) or ''
      redis.call('HDEL', ids, member)
      local served = redis.call('HINCRBY', KEYS[3], schema, 1)
      local entry = schema .. '\n' .. task_id .. '\n' .. member
      redis.call('ZADD', KEYS[4], ARGV[4], entry)
      if max_running > 0 then redis.call('ZADD', running, ARGV[4], entry) end
      result = {schema, member, task_id}
      if redis.call('ZCARD', jobs) == 0 then
        done_with_tenant = true
      elseif served >= tonumber(ARGV[3]) then
        redis.call('LPOP', KEYS[1])
        redis.call('RPUSH', KEYS[1], schema)
        redis.call('HDEL', KEYS[3], schema)
      end
    else
      done_with_tenant = true
    end
  end
  if done_with_tenant then
    redis.call('LPOP', KEYS[1])
    redis.call('SREM', KEYS[2], schema)
    redis.call('HDEL', KEYS[3], schema)
  end
  if result then return result end
end
"""

# KEYS: inflight, running, starved   ARGV: entry. Returns 1 when a pump is owed (a token was spent
# on a capped queue while this job ran).
_DONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  redis.call('DECR', KEYS[3])
  return 1
end
return 0
"""


def queue_settings(queue: str) -> dict[str, int]:
    """The queue's budget: `quantum` jobs per tenant per turn, `lease_seconds` to finish a job,
    `max_running` jobs of one tenant running at once (0: no limit)."""
    configured = settings.FAIR_QUEUES.get(queue)
    if configured is None:
        raise LookupError(f"{queue!r} is not a fair queue (FAIR_QUEUES).")
    return {
        "quantum": max(1, int(configured.get("quantum", 1))),
        "lease_seconds": int(configured.get("lease_seconds", 600)),
        "max_running": max(0, int(configured.get("max_running", 0))),
    }


def _keys(queue: str) -> dict[str, str]:
    base = f"{PREFIX}:{queue}"
    return {
        "ring": f"{base}:ring",
        "active": f"{base}:active",
        "turns": f"{base}:turns",
        "inflight": f"{base}:inflight",
        "starved": f"{base}:starved",
        "running": f"{base}:running:",
        "seq": f"{base}:seq",
        "jobs": f"{base}:jobs:",
        "ids": f"{base}:ids:",
    }


def _redis():
    return get_redis_connection("default")


def _member(task: str, args: list | tuple | None, kwargs: dict | None) -> str:
    return json.dumps([task, list(args or ()), dict(kwargs or {})], sort_keys=True, separators=(",", ":"))


def _inflight(schema: str, task_id: str, member: str) -> str:
    """The lease entry: schema, task id and job, one per line (the job's JSON has no raw newline)."""
    return f"{schema}\n{task_id}\n{member}"


@dataclass(frozen=True)
class Job:
    schema: str
    task: str
    args: list
    kwargs: dict
    task_id: str
    raw: str  # the inflight entry, to finish or reclaim it


def fair_submit(
    *,
    queue: str,
    schema: str,
    task: str,
    args: list | tuple | None = None,
    kwargs: dict | None = None,
    task_id: str | None = None,
) -> tuple[str, bool]:
    """Queue one job for `schema` in `queue`. Returns (task id, created): a job with the same task
    and arguments already waiting for the tenant is not queued twice; its id is returned."""
    queue_settings(queue)
    keys = _keys(queue)
    created, job_id = _redis().eval(
        _SUBMIT,
        5,
        keys["ring"],
        keys["active"],
        keys["jobs"] + schema,
        keys["ids"] + schema,
        keys["seq"],
        schema,
        _member(task, args, kwargs),
        task_id or str(uuid.uuid4()),
    )
    return (job_id.decode() if isinstance(job_id, bytes) else job_id), bool(created)


def fair_take(*, queue: str) -> Job | None:
    """Take the next job in round-robin order over the tenants with work (leased, not yet done)."""
    budget = queue_settings(queue)
    keys = _keys(queue)
    now = time.time()
    taken = _redis().eval(
        _TAKE,
        5,
        keys["ring"],
        keys["active"],
        keys["turns"],
        keys["inflight"],
        keys["starved"],
        keys["jobs"],
        keys["ids"],
        budget["quantum"],
        now + budget["lease_seconds"],
        keys["running"],
        budget["max_running"],
        now,
    )
    if not taken:
        return None
    schema, member, task_id = (part.decode() if isinstance(part, bytes) else part for part in taken)
    name, args, kwargs = json.loads(member)
    return Job(
        schema=schema, task=name, args=args, kwargs=kwargs, task_id=task_id, raw=_inflight(schema, task_id, member)
    )


def fair_done(*, queue: str, job: Job) -> bool:
    """End the job's lease (it ran, successfully or not). If a token was spent while its tenant and
    every other with work were at `max_running`, send one in its place; returns whether it did."""
    keys = _keys(queue)
    if not _redis().eval(_DONE, 3, keys["inflight"], keys["running"] + job.schema, keys["starved"], job.raw):
        return False
    try:
        pump_send(queue=queue)
    except Exception:  # broker down: the job waits for fair_repump's next tick
        log.warning("fairness.pump_owed_failed", queue=queue, exc_info=True)
    return True


def fair_reclaim(*, queue: str, now: float | None = None) -> int:
    """Put jobs whose lease ran out (their worker died) back in their tenant's list. Returns how
    many; the caller sends one pump per job."""
    redis = _redis()
    inflight = _keys(queue)["inflight"]
    count = 0
    for entry in redis.zrangebyscore(inflight, "-inf", now if now is not None else time.time()):
        if not redis.zrem(inflight, entry):
            continue  # another reclaimer or the job's own worker got it first
        schema, task_id, member = (entry.decode() if isinstance(entry, bytes) else entry).split("\n", 2)
        redis.zrem(_keys(queue)["running"] + schema, entry)
        name, args, kwargs = json.loads(member)
        fair_submit(queue=queue, schema=schema, task=name, args=args, kwargs=kwargs, task_id=task_id or None)
        count += 1
    return count


# KEYS: active, starved, inflight   ARGV: jobs prefix, now
_WAITING = """
local total = 0
for _, schema in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  total = total + redis.call('ZCARD', ARGV[1] .. schema)
end
local starved = tonumber(redis.call('GET', KEYS[2]) or '0')
return {total, math.min(starved, redis.call('ZCOUNT', KEYS[3], ARGV[2], '+inf'))}
"""


def _waiting_and_owed(queue: str) -> tuple[int, int]:
    """Jobs waiting in `queue` (all tenants, one round trip), and the pumps that jobs now running
    will send as they finish (tokens spent on tenants at `max_running`; never more than run)."""
    keys = _keys(queue)
    waiting, owed = _redis().eval(
        _WAITING, 3, keys["active"], keys["starved"], keys["inflight"], keys["jobs"], time.time()
    )
    return int(waiting), int(owed)


def fair_waiting(*, queue: str) -> int:
    """Jobs waiting in `queue`, all tenants together."""
    return _waiting_and_owed(queue)[0]


def pump_tokens_waiting(*, queue: str) -> int:
    """Pump tokens waiting in the broker for `queue` (not yet handed to a worker). A passive declare
    asks the broker itself: with Redis, kombu sums the queue's list and its priority lists."""
    with current_app.connection_for_read() as conn:
        channel = conn.channel()
        try:
            return int(channel.queue_declare(queue=pump_queue(queue), passive=True).message_count)
        except conn.channel_errors:  # the queue does not exist (Redis: no list yet): no token
            return 0
        finally:
            channel.close()


def fair_repump(*, queue: str, limit: int = REPUMP_MAX) -> int:
    """Send a pump for every waiting job of `queue` that has no token waiting for it, up to `limit`;
    returns how many were sent. Jobs are counted before tokens: a pump that takes a job between the
    two reads is then counted as missing, which only sends a spare (a pump that finds nothing does
    nothing); the reverse order would count every job submitted between the reads (hundreds in a
    storm) as missing. Tokens a worker has prefetched but not started are not in the broker's queue:
    they count as missing too, which again only sends spares. Pumps owed by running jobs (a tenant at
    `max_running`) count as tokens: their jobs finishing send them."""
    waiting, owed = _waiting_and_owed(queue)
    if not waiting:
        return 0
    tokens = pump_tokens_waiting(queue=queue) + owed
    missing = min(limit, waiting - tokens)
    if missing <= 0:
        return 0
    pump_send(queue=queue, count=missing)
    log.warning("fairness.pumps_resent", queue=queue, waiting=waiting, tokens=tokens, sent=missing)
    metrics.fair_pumps_resent(queue=queue, count=missing)
    return missing


def fair_backlog(*, queue: str) -> dict[str, int]:
    """Jobs waiting per tenant schema in `queue` (for dashboards and tests)."""
    redis = _redis()
    keys = _keys(queue)
    schemas = sorted(s.decode() if isinstance(s, bytes) else s for s in redis.smembers(keys["active"]))
    counts = {schema: redis.zcard(keys["jobs"] + schema) for schema in schemas}
    return {schema: count for schema, count in counts.items() if count}


def fair_clear() -> None:
    """Drop every fair queue's state (tests and the bench start clean)."""
    redis = _redis()
    keys = list(redis.scan_iter(f"{PREFIX}:*", count=1000))
    if keys:
        redis.delete(*keys)


def pump_queue(queue: str) -> str:
    """The Celery queue a fair queue's pump tokens travel in (settings.CELERY_TASK_QUEUES)."""
    return f"fair.{queue}"


def pump_send(*, queue: str, count: int = 1, **options: Any) -> None:
    """Send `count` pump tokens for `queue`. They run in `public`; each picks its tenant itself."""
    headers = {**(options.pop("headers", None) or {}), "_schema_name": get_public_schema_name()}
    with current_app.producer_or_acquire(options.pop("producer", None)) as producer:  # one connection for all
        for _ in range(count):
            current_app.send_task(
                PUMP_TASK,
                kwargs={"queue": queue},
                headers=headers,
                queue=pump_queue(queue),
                producer=producer,
                **options,
            )


def fair_run_next(*, queue: str) -> Job | None:
    """Run the next fair job of `queue` in its tenant's schema (what one pump does)."""
    job = fair_take(queue=queue)
    if job is None:
        return None
    task = current_app.tasks.get(job.task)
    try:
        if task is None:
            raise LookupError(f"No task named {job.task!r} is registered.")
        try:
            tenant = TenantTask.get_tenant_for_schema(schema_name=job.schema)
        except get_tenant_model().DoesNotExist:  # the tenant was deleted: its work goes with it
            log.warning("fairness.tenant_gone", queue=queue, schema=job.schema, task=job.task)
            return job
        with tenant_context(tenant):
            result = task.run(*job.args, **job.kwargs)
        task.backend.store_result(job.task_id, result, states.SUCCESS)
    except Exception as exc:  # the job failed like a task would: record it; the pump itself succeeds
        log.exception("fairness.job_failed", queue=queue, schema=job.schema, task=job.task)
        if task is not None:
            task.backend.store_result(job.task_id, exc, states.FAILURE)
    finally:
        fair_done(queue=queue, job=job)
    return job


class FairTask(TenantTask):
    """A task whose sends from a tenant schema go through its tenant's fair queue (`fair_queue`)."""

    abstract = True
    fair_queue: str = ""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, **options):
        schema = connection.schema_name
        fair = options.pop("fair", True) and settings.FAIR_QUEUES_ENABLED
        if not fair or not self.fair_queue or schema == get_public_schema_name():
            return super().apply_async(args, kwargs, task_id, producer, link, link_error, **options)
        countdown, eta = options.pop("countdown", None), options.pop("eta", None)
        if countdown or eta:
            return current_app.send_task(  # carries the sending tenant's schema (CeleryApp.send_task)
                SUBMIT_LATER_TASK,
                kwargs={"task": self.name, "args": list(args or ()), "kwargs": dict(kwargs or {})},
                countdown=countdown,
                eta=eta,
                **options,
            )
        job_id, _created = fair_submit(
            queue=self.fair_queue, schema=schema, task=self.name, args=args, kwargs=kwargs, task_id=task_id
        )
        pump_send(queue=self.fair_queue, **options)
        return self.AsyncResult(job_id)
