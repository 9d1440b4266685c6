"""Idle-tenant benchmark (issue 17): what 1,000 idle tenants cost each minute, before and after the
due-time index of periodic work (tenants/due.py), in one run.

Creates a scratch database named after the branch, provisions --tenants tenants with the fast
provisioning (tenants.services.tenant_create), starts one Celery worker (solo pool: one process
does all the work), then runs simulated minutes back to back: each tick is what beat sends once a
minute (`portal.tenants_fan_out`, called in this process) followed by a sentinel task, so the tick
ends when the worker has run everything the fan-out sent. Per tick it adds up the CPU time of this
process's fan-out, of the worker process and of the PostgreSQL backends serving the scratch
database (/proc/<pid>/stat), and prints it as a share of one core over the tick's minute:

  before: `tenants_fan_out(every_tenant=True)`, the behaviour before the index (every active
          tenant, every job, every minute);
  after:  `tenants_fan_out()`, the index (after one settling tick in which every new tenant is
          visited once and records that nothing is due).

Goal: 1,000 idle tenants cost < 5% of one core after. Redis's own CPU is not counted (the server is
shared); a PostgreSQL backend that ends within a tick is not counted either (the bench's and the
worker's connections are kept open, CONN_MAX_AGE in bench/idle_settings.py).
Usage: flock /work/wt/bench.lock .venv/bin/python bench/idle.py [--tenants N] [--ticks T] [--keep]
Uses the Redis database of BENCH_REDIS_DB (default: the one in REDIS_URL) as broker and the next
one as cache, and the PostgreSQL server of DATABASE_URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bench_parser, branch_slug, public_schema_ready, scratch_django  # noqa: E402

MINUTE = 60.0
GOAL_PERCENT = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _redis_db() -> str:
    configured = os.environ.get("BENCH_REDIS_DB")
    if configured:
        return configured
    tail = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else "0"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def _backends(database: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
        return [row[0] for row in cursor.fetchall()]


class Meter:
    """CPU seconds of the worker and the scratch database's backends, read before and after."""

    def __init__(self, *, worker_pid: int, database: str) -> None:
        self.worker_pid = worker_pid
        self.database = database

    def read(self) -> dict[int, float]:
        pids = {self.worker_pid, *_backends(self.database)}
        return {pid: _cpu_seconds(pid) for pid in pids}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


def _tick(meter: Meter, *, every_tenant: bool) -> tuple[float, int, float]:
    """One simulated minute: the fan-out, then wait until the worker has run what it sent.
    Returns (CPU seconds, tenants visited, wall seconds)."""
    from portal import tasks

    before = meter.read()
    wall = time.perf_counter()
    own = time.process_time()
    visited = tasks.tenants_fan_out(every_tenant=every_tenant)
    own = time.process_time() - own
    tasks.heartbeat.delay().get(timeout=3600)  # FIFO behind the visits on a solo worker
    wall = time.perf_counter() - wall
    return own + Meter.spent(before, meter.read()), visited, wall


def _phase(meter: Meter, *, label: str, ticks: int, every_tenant: bool) -> float:
    samples = []
    for number in range(1, ticks + 1):
        cpu, visited, wall = _tick(meter, every_tenant=every_tenant)
        samples.append(cpu)
        print(
            f"  {label} tick {number}: {visited:5d} tenants visited, {cpu:8.3f} CPU s "
            f"({cpu / MINUTE * 100:6.2f}% of one core), {wall:6.1f} s wall",
            flush=True,
        )
    return statistics.median(samples)


def _provision(count: int) -> None:
    from django.db import connection
    from tqdm import tqdm

    from tenants import services
    from tenants.provisioning import template_ensure

    template_ensure()
    partner = services.partner_create(slug="idlepartner", name="Idle Partner", domain="idle.localhost")
    for index in tqdm(range(1, count + 1), desc="provisioning tenants", unit="tenant"):
        services.tenant_create(partner=partner, slug=f"idle{index:04d}", name=f"Idle {index}")
    connection.set_schema_to_public()


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    from django.conf import settings

    queues = ",".join(["celery", *(f"fair.{name}" for name in settings.FAIR_QUEUES)])
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            f"--queues={queues}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=2, help="measured simulated minutes per phase")
    args = parser.parse_args()

    database = f"tillbridge_bench_idle_{branch_slug()}"
    with scratch_django(
        database, keep=args.keep, settings="bench.idle_settings", TEST_REDIS_DB=_redis_db(), LOG_LEVEL="ERROR"
    ):
        _run(args, database=database)


def _run(args: argparse.Namespace, *, database: str) -> None:
    from portal import tasks
    from portal.celery import app
    from tenants.models import TenantDue

    env = dict(os.environ)  # the worker's: the scratch database, these settings, this Redis database
    worker: subprocess.Popen | None = None
    try:
        public_schema_ready()
        started = time.perf_counter()
        _provision(args.tenants)
        print(f"{args.tenants} tenants provisioned in {time.perf_counter() - started:.1f} s", flush=True)
        app.control.purge()  # only this bench's broker database
        worker = _start_worker(env)
        tasks.heartbeat.delay().get(timeout=120)  # the worker is up
        meter = Meter(worker_pid=worker.pid, database=database)

        print("warm-up: one tick of the old behaviour (not measured)", flush=True)
        _tick(meter, every_tenant=True)
        before = _phase(meter, label="before", ticks=args.ticks, every_tenant=True)
        print("settling: the first tick with the index visits every new tenant once", flush=True)
        _phase(meter, label="settle", ticks=1, every_tenant=False)
        waiting = TenantDue.objects.filter(due_at__isnull=False).count()
        print(f"tenants with any due time after settling: {waiting}", flush=True)
        after = _phase(meter, label="after", ticks=args.ticks, every_tenant=False)

        print()
        print(f"{args.tenants} idle tenants, CPU per simulated minute (median of {args.ticks} ticks):")
        print(f"  before (every tenant, every job): {before:8.3f} CPU s = {before / MINUTE * 100:7.2f}% of one core")
        print(f"  after  (due-time index):          {after:8.3f} CPU s = {after / MINUTE * 100:7.2f}% of one core")
        if after > 0:
            print(f"  ratio before/after:               {before / after:8.1f}x")
        met = after / MINUTE * 100 < GOAL_PERCENT
        print(f"  goal < {GOAL_PERCENT:.0f}% of one core: {'met' if met else 'NOT met'}")
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


if __name__ == "__main__":
    main()
