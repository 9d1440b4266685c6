"""What every benchmark does around its measurement: a scratch database of its own, Django set up
on it, the public schema and a bench partner/tenant provisioned, and the database dropped at the end.

Django is set up only inside `scratch_django`, so the Django imports below sit in the functions.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse, urlunparse

import psycopg

if TYPE_CHECKING:
    from tenants.models import Partner, Tenant

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def scratch_database_url(name: str) -> str:
    """DATABASE_URL (or the one in .local/env) with the database `name`."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        env_file = ROOT / ".local" / "env"
        for line in env_file.read_text().splitlines() if env_file.exists() else []:
            if line.startswith("DATABASE_URL="):
                base = line.split("=", 1)[1].strip()
    parsed = urlparse(base or "postgres://postgres@127.0.0.1:5432/tillbridge")
    return urlunparse(parsed._replace(path=f"/{name}"))


def _maintenance(url: str, *statements: str) -> None:
    parsed = urlparse(url)
    with psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.format(name=parsed.path[1:]))


def recreate_database(url: str) -> None:
    _maintenance(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    _maintenance(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def own_database() -> str:
    """The caller's database name (DATABASE_URL), to prefix scratch databases so that helpers
    benchmarking at once on one server do not collide."""
    return urlparse(os.environ.get("DATABASE_URL", "")).path.strip("/") or "tillbridge"


def branch_slug() -> str:
    """The checkout's git branch (BENCH_BRANCH when set, e.g. for an exported copy of a commit)."""
    if os.environ.get("BENCH_BRANCH"):
        return re.sub(r"[^a-z0-9]+", "_", os.environ["BENCH_BRANCH"].lower()).strip("_")
    try:
        branch = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        branch = "nobranch"
    return re.sub(r"[^a-z0-9]+", "_", branch.lower()).strip("_") or "nobranch"


def bench_parser(description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the `--keep` flag every benchmark has."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser


def bench_run(description: str | None, name: str, run: Callable[..., object], **sizes: int) -> None:
    """The whole of a benchmark with only sizes to choose: `--keep` and one `--<size> N` option per
    keyword (the keyword's value its default), then `run(**sizes)` with Django set up on the scratch
    database `<own database>_bench_<name>`."""
    parser = bench_parser(description)
    for size, default in sizes.items():
        parser.add_argument(f"--{size.replace('_', '-')}", type=int, default=default)
    args = parser.parse_args()
    with scratch_django(f"{own_database()}_bench_{name}", keep=args.keep):
        run(**{size: getattr(args, size) for size in sizes})


@contextmanager
def scratch_django(
    database: str, *, keep: bool = False, settings: str = "portal.settings.test", **env: str
) -> Iterator[str]:
    """Recreate the scratch database `database`, point Django at it (and at `settings`; `env` are
    further environment variables) and set Django up; yields its URL. On leaving, closes every
    connection and drops the database unless `keep`."""
    url = scratch_database_url(database)
    recreate_database(url)
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": settings, **env})
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django  # import here: settings are chosen just above

    django.setup()
    try:
        yield url
    finally:
        from django.db import connections  # import here: Django is set up only in this function

        connections.close_all()
        if not keep:
            drop_database(url)


def public_schema_ready() -> None:
    """Migrate the shared apps and create the public tenant (localhost)."""
    from django.core.management import call_command  # import here: Django is set up by scratch_django

    from tenants import services  # import here: Django is set up by scratch_django

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    services.public_tenant_ensure(domain="localhost")


def bench_partner() -> Partner:
    from tenants import services  # import here: Django is set up by scratch_django

    return services.partner_create(slug="benchpartner", name="Bench Partner", domain="bench.localhost")


def bench_tenant() -> Tenant:
    """The public schema, the tenant template, the bench partner and its one tenant `benchshop`."""
    from tenants import services  # import here: Django is set up by scratch_django
    from tenants.provisioning import template_ensure  # import here: Django is set up by scratch_django

    public_schema_ready()
    template_ensure()
    return services.tenant_create(partner=bench_partner(), slug="benchshop", name="Bench Shop").tenant


def timed_each(items: Iterable[T], operation: Callable[[T], object], *, desc: str, unit: str) -> float:
    """Seconds taken to call `operation` on every item, one by one, behind a progress bar."""
    from tqdm import tqdm  # import here: a bench-only dependency, as the benches' own imports

    started = time.perf_counter()
    for item in tqdm(items, desc=desc, unit=unit):
        operation(item)
    return time.perf_counter() - started


def repeat_timed(operation: Callable[[], object], runs: int) -> list[float]:
    """Seconds of each of `runs` calls of `operation`, after one untimed call that warms caches."""
    from tqdm import tqdm  # import here: a bench-only dependency, as the benches' own imports

    operation()
    samples = []
    for _ in tqdm(range(runs), desc=getattr(operation, "__name__", "runs"), unit="run", leave=False):
        begin = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - begin)
    return samples
