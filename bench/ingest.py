"""Ingest benchmark: does the web stay responsive while the worker drains a backlog, and how far is
end to end (signed Shopify webhook sent → journal posted) from a raw set-based write of the same rows?

Creates a scratch database named after the caller's database and git branch, with one tenant on the
standard chart and a simulated Shopify connection, and starts the stack with the very command lines
`make run` uses (`run_stack.stack_commands` with `run_stack`'s default options: web, worker,
backfill worker, beat), on the caller's Redis (REDIS_URL: broker and results in its database, cache
in the next one). Then, in one run:
  1. an open-loop generator POSTs `tests/fixtures/shopify/orders_create.json` (two item lines and a
     shipping line, New York State and City taxes) renumbered N times, signed, at a fixed arrival rate,
     while `/healthz` is sampled at a fixed rate of its own until the backlog is drained: webhook ack
     p50/p99 and `/healthz` p50/p99 of the same window;
  2. end-to-end orders/s: from the first webhook sent until every order has its journal entry (the
     bench reads only HTTP answers and the database, so it measures whichever pipeline is checked out);
  3. the rows the run wrote (every table of the tenant's schema that gained rows: events, orders,
     lines, taxes, journal entries, journal lines, ...) are written again set-based, `INSERT ... SELECT`
     into copies (`LIKE ... INCLUDING ALL`: same columns, defaults, checks and indexes; no foreign keys,
     no triggers) in one transaction, timed with the commit: the raw orders/s beside end to end.
Prints a table with the goals of issue 17 and whether each is met.
Usage: .venv/bin/python bench/ingest.py [--orders N] [--rate R] [--healthz-rate H] [--keep]
Run it only under the machine-wide lock: `flock /work/wt/bench.lock .venv/bin/python bench/ingest.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import branch_slug, drop_database, recreate_database, scratch_database_url  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "shopify" / "orders_create.json"
SECRET = "bench-webhook-secret"  # noqa: S105 - a scratch database
GOAL_ACK_OVER_HEALTHZ = 3.0
GOAL_ORDERS_PER_SECOND = 150.0


@dataclass
class Samples:
    """Latencies (ms) with the monotonic time each request started and the answers' statuses."""

    started: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, started: float, latency_ms: float, status: str) -> None:
        self.started.append(started)
        self.latency.append(latency_ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def within(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in zip(self.started, self.latency, strict=True) if start <= at <= end]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def redis_urls() -> tuple[str, str]:
    """The caller's Redis database (broker, results) and the next one (cache)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        raise SystemExit("Set REDIS_URL (your own Redis database): the bench flushes it.")
    parsed = urlparse(url)
    number = int(parsed.path.strip("/") or 0)
    if parsed.port in (None, 6379) and number in (13, 14, 15):
        raise SystemExit(f"REDIS_URL {url} is a shared test database; use your own.")
    return url, parsed._replace(path=f"/{number + 1}").geturl()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def order_bodies(count: int) -> list[bytes]:
    """The fixture order renumbered `count` times (order, line, shipping-line and checkout ids)."""
    template = json.loads(FIXTURE.read_text())
    bodies = []
    for index in range(count):
        order = json.loads(json.dumps(template))
        order["id"] = template["id"] + index
        order["admin_graphql_api_id"] = f"gid://shopify/Order/{order['id']}"
        order["number"] = 100_000 + index
        order["order_number"] = 101_000 + index
        order["name"] = f"#{order['order_number']}"
        order["checkout_id"] = template["checkout_id"] + index
        order["confirmation_number"] = f"B{index:08d}"
        for line in [*order["line_items"], *order["shipping_lines"]]:
            line["id"] = line["id"] + index * 1_000
        bodies.append(json.dumps(order).encode())
    return bodies


def stack_start(*, env: dict[str, str], port: int, log_dir: Path, stack_options: dict) -> dict[str, subprocess.Popen]:
    """Web, workers and beat with the command lines `make run` uses (run_stack's defaults)."""
    # import here: Django is set up by main() first
    from portal.management.commands.run_stack import Command, stack_commands

    defaults = vars(Command().create_parser("manage.py", "run_stack").parse_args([]))
    commands = stack_commands(
        python=sys.executable, port=port, state_dir=log_dir, **{"workers": defaults["workers"], **stack_options}
    )
    processes = {}
    for name, command in commands.items():
        log = (log_dir / f"{name}.log").open("wb")
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return processes


def nice_of(pid: int) -> int:
    """The niceness of a process (field 19 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its living descendants, in seconds."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:  # exited meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending.extend(int(child) for child in children)
    return total


def stack_stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def request(client, samples: Samples, method: str, url: str, **kwargs) -> None:
    # import here: httpx is the bench's HTTP client, loaded with Django's app registry
    import httpx

    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
        status = str(response.status_code)
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    samples.add(started, (time.monotonic() - started) * 1000, status)


async def open_loop(rate: float, stop: asyncio.Event, send, limit: int | None = None) -> None:
    """Start `send(i)` at fixed times (i / rate), whether or not earlier requests have answered."""
    tasks, start, index = [], time.monotonic(), 0
    while not stop.is_set() and (limit is None or index < limit):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(index)))
        index += 1
    await asyncio.gather(*tasks)


@dataclass
class Run:
    acks: Samples
    healthz: Samples
    rest: Samples  # /healthz before the first webhook, the stack idle
    first_sent: float
    last_sent: float
    drained: float
    posted: int
    processed: int


async def load(args, *, base: str, host: str, hook: str, bodies: list[bytes], counts) -> Run:
    """Webhooks at `args.rate`/s and `/healthz` at `args.healthz_rate`/s until every order is posted."""
    # import here: httpx and the simulator's signature are loaded with Django's app registry
    import httpx
    from tqdm import tqdm

    from connectors.simulator import shopify_signature

    acks, healthz, rest, stop, never = Samples(), Samples(), Samples(), asyncio.Event(), asyncio.Event()
    headers = {"Host": host, "Content-Type": "application/json", "X-Shopify-Topic": "orders/create"}
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    signatures = [shopify_signature(body, SECRET) for body in bodies]
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def webhook(index: int) -> None:
            extra = {
                "X-Shopify-Hmac-Sha256": signatures[index],
                "X-Shopify-Webhook-Id": f"bench-{index}",
                "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
                "X-Shopify-API-Version": "2025-07",
            }
            await request(client, acks, "POST", hook, content=bodies[index], headers={**headers, **extra})

        async def probe(_index: int) -> None:
            await request(client, healthz, "GET", f"{base}/healthz", headers={"Host": host})

        async def probe_at_rest(_index: int) -> None:
            await request(client, rest, "GET", f"{base}/healthz", headers={"Host": host})

        rest_samples = max(1, round(args.healthz_rate * args.rest_seconds))
        await open_loop(args.healthz_rate, never, probe_at_rest, limit=rest_samples)  # the stack idle
        sampler = asyncio.create_task(open_loop(args.healthz_rate, stop, probe))
        first_sent = time.monotonic()
        sender = asyncio.create_task(open_loop(args.rate, never, webhook, limit=len(bodies)))
        with tqdm(total=len(bodies), desc="journals posted", unit="order") as bar:
            posted = processed = 0
            while posted < len(bodies):
                await asyncio.sleep(0.25)
                posted, processed = await asyncio.to_thread(counts)
                bar.update(posted - bar.n)
                if time.monotonic() - first_sent > args.timeout:
                    break
        drained = time.monotonic()
        await sender
        last_sent = max(acks.started)
        stop.set()
        await sampler
    return Run(acks, healthz, rest, first_sent, last_sent, drained, posted, processed)


def table_marks(cursor, schema: str) -> dict[str, tuple[int, int | None]]:
    """Each table of `schema`: its row count and, when it has an integer `id`, the highest id."""
    cursor.execute(
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' "
        "AND a.atttypid IN ('int4'::regtype, 'int8'::regtype)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname",
        [schema],
    )
    marks = {}
    for table, has_id in cursor.fetchall():
        cursor.execute(f'SELECT count(*), {"max(id)" if has_id else "NULL"} FROM "{schema}"."{table}"')
        marks[table] = cursor.fetchone()
    return marks


@dataclass
class RawWrite:
    seconds: float
    rows: dict[str, int]


def raw_write(conn, schema: str, before: dict[str, tuple[int, int | None]]) -> RawWrite:
    """The rows the run added, written again set-based into copies of their tables, timed with the commit."""
    with conn.cursor() as cursor:
        after = table_marks(cursor, schema)
        grown = {
            table: before.get(table, (0, None))
            for table, (count, _) in after.items()
            if count > before.get(table, (0, None))[0]
        }
        cursor.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE")
        cursor.execute("CREATE SCHEMA bench_raw")
        for table in grown:
            cursor.execute(f'CREATE TABLE bench_raw."{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
        conn.commit()
        rows = {}
        started = time.perf_counter()
        for table, (_, max_id) in grown.items():
            where = f" WHERE id > {int(max_id)}" if max_id is not None else ""
            cursor.execute(f'INSERT INTO bench_raw."{table}" SELECT * FROM "{schema}"."{table}"{where}')
            rows[table] = cursor.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
    return RawWrite(seconds, rows)


def wait_ready(*, base: str, host: str, worker_log: Path, processes: dict[str, subprocess.Popen]) -> None:
    """Until the web answers /healthz and the Celery worker has said it is ready."""
    import httpx  # import here: loaded after Django's set-up like the rest of the bench

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")
        try:
            answered = httpx.get(f"{base}/healthz", headers={"Host": host}, timeout=5).status_code in (200, 503)
        except httpx.HTTPError:
            answered = False
        if answered and worker_log.exists() and b" ready." in worker_log.read_bytes():
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("the stack did not start within 90 s")
    # Beat's first heartbeat comes after 30 s: send one now, so /healthz answers 200 from the start.
    from portal.tasks import heartbeat  # import here: the stack's own task, once Django is set up

    heartbeat.delay()
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/healthz", headers={"Host": host}, timeout=5).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("/healthz did not answer 200 within 90 s of the start")


def scenario_create(schema_hint: str):
    """One tenant on the standard chart with a simulated Shopify connection; (tenant, connection)."""
    # import here: Django is set up by main() first
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from connectors.services import connection_create
    from mappings.services import standard_chart_apply
    from tenants import services
    from tenants.provisioning import template_ensure

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    services.public_tenant_ensure(domain="localhost")
    template_ensure()
    partner = services.partner_create(slug="benchpartner", name="Bench Partner", domain="bench.localhost")
    tenant = services.tenant_create(partner=partner, slug=schema_hint, name="Bench Shop").tenant
    with tenant_context(tenant):
        standard_chart_apply()
        connection = connection_create(
            vendor="shopify",
            name="Bench shop",
            config={"shop_domain": "bench-shop.myshopify.com", "simulated": True},
            credentials={"access_token": "shpat_bench"},
            webhook_secret=SECRET,
        )
    return tenant, connection


def report(
    args, run: Run, raw: RawWrite, nices: dict[str, int], commands: dict[str, str], cpu: dict[str, float]
) -> None:
    acks = run.acks.latency
    healthz = run.healthz.within(run.first_sent, run.drained)
    during_sending = run.healthz.within(run.first_sent, run.last_sent)
    rest = run.rest.latency
    ratio = percentile(acks, 99) / percentile(healthz, 99)
    seconds = run.drained - run.first_sent
    e2e = run.posted / seconds
    raw_rate = args.orders / raw.seconds

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(
        f"\ningest benchmark: {args.orders} orders ({FIXTURE.relative_to(ROOT)} renumbered), open loop "
        f"{args.rate:g} webhooks/s, /healthz {args.healthz_rate:g}/s, {os.cpu_count()} CPUs"
    )
    print("  process          nice  CPU s during the run (ms per order)  command")
    for name, command in commands.items():
        per_order = cpu[name] * 1000 / max(run.posted, 1)
        print(f"  {name:<16} {nices[name]:>4}  {cpu[name]:7.1f} ({per_order:6.1f})                   {command}")
    rows = [
        ("webhook ack p50 / p99", f"{percentile(acks, 50):.1f} / {percentile(acks, 99):.1f} ms", "", ""),
        ("  statuses", str(run.acks.statuses), "", ""),
        (
            "/healthz p50 / p99 until drained",
            f"{percentile(healthz, 50):.1f} / {percentile(healthz, 99):.1f} ms",
            "",
            "",
        ),
        (
            "  while webhooks arrive",
            f"{percentile(during_sending, 50):.1f} / {percentile(during_sending, 99):.1f} ms",
            "",
            "",
        ),
        ("  statuses", str(run.healthz.statuses), "", ""),
        ("/healthz p50 / p99 at rest", f"{percentile(rest, 50):.1f} / {percentile(rest, 99):.1f} ms", "", ""),
        (
            "ack p99 / healthz p99",
            f"{ratio:.2f}x",
            f"<= {GOAL_ACK_OVER_HEALTHZ:g}x",
            met(ratio <= GOAL_ACK_OVER_HEALTHZ),
        ),
        (
            "end to end (sent -> journal)",
            f"{e2e:.1f} orders/s ({run.posted} posted in {seconds:.1f} s)",
            f">= {GOAL_ORDERS_PER_SECOND:g}",
            met(e2e >= GOAL_ORDERS_PER_SECOND and run.posted == args.orders),
        ),
        ("  events processed", str(run.processed), "", ""),
        (
            "raw set-based write, same rows",
            f"{raw_rate:,.0f} orders/s ({sum(raw.rows.values())} rows, {raw.seconds:.3f} s)",
            "",
            "",
        ),
        ("raw / end to end", f"{raw_rate / e2e:.0f}x" if e2e else "n/a", "", ""),
    ]
    print(f"  {'figure':<34} {'measured':<46} {'goal':<8} result")
    for figure, value, goal, result in rows:
        print(f"  {figure:<34} {value:<46} {goal:<8} {result}")
    print("  rows written by the run (and again raw): " + ", ".join(f"{t} {n}" for t, n in raw.rows.items()))


def stack_env(url: str) -> dict[str, str]:
    """`make run`'s settings (portal.settings.dev, DEBUG off as in production) on the caller's Redis."""
    broker, cache = redis_urls()
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "portal.settings.dev",
        "DJANGO_DEBUG": "false",
        "REDIS_URL": broker,
        "REDIS_CACHE_URL": cache,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20, help="webhooks sent per second (open loop)")
    parser.add_argument("--healthz-rate", type=float, default=10, help="/healthz requests per second")
    parser.add_argument("--rest-seconds", type=float, default=5, help="/healthz sampled this long before the load")
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting for journals after this")
    parser.add_argument(
        "--stack-option",
        action="append",
        default=[],
        metavar="NAME=INT",
        help="an extra keyword of run_stack.stack_commands, to compare settings (e.g. worker_nice=0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # `timeout` and Ctrl-C stop the bench through its `finally`: the stack stopped, the scratch DB dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack_options = {name: int(value) for name, value in (option.split("=", 1) for option in args.stack_option)}
    own = urlparse(os.environ.get("DATABASE_URL", "")).path.strip("/") or "tillbridge"
    url = scratch_database_url(f"{own}_bench_ingest_{branch_slug()}")
    env = stack_env(url)
    os.environ.update(env)
    recreate_database(url)
    import django  # import here: the settings module is chosen above

    django.setup()
    import logging

    import psycopg
    import redis
    from django.conf import settings
    from django.db import connections

    from connectors.models import InboundEvent
    from posting.models import JournalEntry

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per request of the load
    processes: dict[str, subprocess.Popen] = {}
    try:
        for redis_url in {settings.CELERY_BROKER_URL, settings.CACHES["default"]["LOCATION"]}:
            redis.Redis.from_url(redis_url).flushdb()  # the caller's own databases only
        tenant, connection = scenario_create("benchshop")
        host, schema = tenant.domains.get(is_primary=True).domain, tenant.schema_name
        connections.close_all()
        log_dir = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{branch_slug()}-"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes = stack_start(env=env, port=port, log_dir=log_dir, stack_options=stack_options)
        wait_ready(base=base, host=host, worker_log=log_dir / "worker.log", processes=processes)
        nices = {name: nice_of(process.pid) for name, process in processes.items()}
        cpu = {name: -cpu_seconds(process.pid) for name, process in processes.items()}
        commands = {
            name: " ".join(Path(arg).name if arg == sys.executable else arg for arg in process.args)
            for name, process in processes.items()
        }
        with psycopg.connect(url, autocommit=False) as conn:
            conn.execute(f'SET search_path TO "{schema}", public')
            with conn.cursor() as cursor:
                before = table_marks(cursor, schema)
            conn.commit()
            entries, events = JournalEntry._meta.db_table, InboundEvent._meta.db_table

            def counts() -> tuple[int, int]:
                with conn.cursor() as cursor:
                    cursor.execute(
                        f"SELECT (SELECT count(*) FROM {entries}), (SELECT count(*) FROM {events} WHERE status = %s)",
                        [InboundEvent.Status.PROCESSED],
                    )
                    posted, processed = cursor.fetchone()
                conn.commit()
                return posted, processed

            bodies = order_bodies(args.orders)
            hook = f"{base}/hooks/shopify/{connection.pk}/"
            print(f"stack logs: {log_dir}")
            run = asyncio.run(load(args, base=base, host=host, hook=hook, bodies=bodies, counts=counts))
            cpu = {name: cpu[name] + cpu_seconds(process.pid) for name, process in processes.items()}
            stack_stop(processes)
            raw = raw_write(conn, schema, before)
        report(args, run, raw, nices, commands, cpu)
    finally:
        stack_stop(processes)
        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
