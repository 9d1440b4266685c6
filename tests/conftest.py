"""Test set-up for a django-tenants project (DESIGN.md §10).

One session builds the public tenant, the template schema and a small committed world of two
partners and three tenants through the real services. Each test then runs in a transaction
(pytest-django's `db`) that is rolled back, and the connection is put back on `public`.
Tests that need a real Celery worker use `celery_worker` and commit their own data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client, TestCase
from django_redis import get_redis_connection

from core.context import context_clear
from core.fairness import fair_clear
from tenants import services
from tenants.models import Membership, Partner, Tenant, User
from tenants.provisioning import template_ensure
from tenants.usage import USAGE_FLUSHING_PREFIX, USAGE_FLUSHING_SET, USAGE_PENDING_KEY, usage_flush

PASSWORD = "correct-horse-battery"
BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class World:
    northwind: Partner
    southpaw: Partner
    acme: Tenant
    bluebird: Tenant
    cedar: Tenant
    partner_admin: User  # northwind partner admin
    other_partner_admin: User  # southpaw partner admin
    acme_admin: User
    bluebird_admin: User
    cedar_admin: User
    operator: User

    def host(self, tenant: Tenant) -> str:
        return tenant.domains.get(is_primary=True).domain


def _user(email: str, *, staff: bool = False) -> User:
    user = services.user_create(email=email, password=PASSWORD, name=email.split("@")[0], verified=True)
    if staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


def _build_world() -> World:
    services.public_tenant_ensure(domain=settings.PORTAL_PUBLIC_DOMAIN)
    template_ensure()
    northwind = services.partner_create(
        slug="northwind",
        name="Northwind Commerce Partners",
        domain="northwind.localhost",
        primary_colour="#0E5E6F",
        support_email="help@northwind.test",
    )
    southpaw = services.partner_create(
        slug="southpaw",
        name="Southpaw Digital",
        domain="southpaw.localhost",
        primary_colour="#7A1F5C",
        support_email="care@southpaw.test",
    )
    acme = services.tenant_create(
        partner=northwind, slug="acme", name="Acme Outfitters", timezone="America/New_York"
    ).tenant
    bluebird = services.tenant_create(
        partner=northwind, slug="bluebird", name="Bluebird Books", base_currency="GBP", timezone="Europe/London"
    ).tenant
    cedar = services.tenant_create(partner=southpaw, slug="cedar", name="Cedar Home").tenant
    world = World(
        northwind=northwind,
        southpaw=southpaw,
        acme=acme,
        bluebird=bluebird,
        cedar=cedar,
        partner_admin=_user("admin@northwind.test"),
        other_partner_admin=_user("admin@southpaw.test"),
        acme_admin=_user("finance@acme.test"),
        bluebird_admin=_user("books@bluebird.test"),
        cedar_admin=_user("owner@cedar.test"),
        operator=_user("operator@tillbridge.test", staff=True),
    )
    services.membership_grant(user=world.partner_admin, partner=northwind, role=Membership.Role.PARTNER_ADMIN)
    services.membership_grant(user=world.other_partner_admin, partner=southpaw, role=Membership.Role.PARTNER_ADMIN)
    services.membership_grant(user=world.acme_admin, tenant=acme, role=Membership.Role.TENANT_ADMIN)
    services.membership_grant(user=world.bluebird_admin, tenant=bluebird, role=Membership.Role.TENANT_ADMIN)
    services.membership_grant(user=world.cedar_admin, tenant=cedar, role=Membership.Role.TENANT_ADMIN)
    return world


_WORLD: World | None = None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    global _WORLD
    with django_db_blocker.unblock():
        _WORLD = _build_world()
        connection.set_schema_to_public()
    yield


@pytest.fixture
def world(db) -> World:
    assert _WORLD is not None
    return _WORLD


@pytest.fixture(autouse=True)
def _back_to_public():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _no_trace_left():
    """Like a new request or task: no test inherits the trace (and log context) a previous one bound."""
    context_clear()


def usage_counters_clear() -> None:
    """Drop the Redis usage counters an earlier test left (their rows were rolled back anyway)."""
    redis_cache = get_redis_connection("default")
    redis_cache.delete(USAGE_PENDING_KEY, USAGE_FLUSHING_SET, *redis_cache.scan_iter(match=f"{USAGE_FLUSHING_PREFIX}*"))


@contextmanager
def _usage_counted() -> Iterator[None]:
    usage_counters_clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
    usage_flush()


@pytest.fixture
def usage_counted(db) -> Callable[[], AbstractContextManager[None]]:
    """`with usage_counted(): <action>` runs the block's on-commit work as a real commit would and then
    flushes the usage counters, so UsageRecord can be read right after it (tenants.usage counts in
    Redis on commit; a job flushes them once a minute)."""
    return _usage_counted


def _test_resolver(host: str) -> list[str]:
    """Tests never ask real DNS: an IP literal is itself, *.localhost is loopback, and any other
    name (vendor hosts, documentation names) is one public address. Tests that need another answer
    replace `netsafety.resolve_host` themselves."""
    import ipaddress

    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return ["127.0.0.1"]
    return ["93.184.216.34"]


@pytest.fixture(autouse=True)
def _outbound_dns(monkeypatch):
    from core.http import netsafety

    monkeypatch.setattr(netsafety, "resolve_host", _test_resolver)


def client_for(host: str, user: User | None = None) -> Client:
    client = Client(HTTP_HOST=host)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def host_client():
    return client_for


def _database_url(db: dict) -> str:
    """The test database as a URL for the worker process, by TCP or by a socket directory."""
    url = f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}"
    url += f":{db['PORT']}" if db["PORT"] else ""
    url += f"/{db['NAME']}"
    socket_dir = db.get("OPTIONS", {}).get("host")
    return f"{url}?host={socket_dir}" if socket_dir else url


@pytest.fixture(scope="session")
def celery_worker(django_db_setup):
    """A real Celery worker process on the test database and the test Redis databases."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    # The fair queues' jobs (cache Redis) go with the pump tokens just flushed: a job left waiting
    # by an earlier test, with no token, would take the token of the first job sent to the worker.
    fair_clear()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": _database_url(db),
        # Worker-run tests call local fakes on 127.0.0.1 (the test-only override of the SSRF guard).
        "CONNECTORS_ALLOW_PRIVATE_URLS": "true",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
            "--include=tests.worker_tasks",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    from portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            break
        if process.poll() is not None:
            raise RuntimeError("The Celery worker exited during start-up.")
    else:
        process.kill()
        raise RuntimeError("The Celery worker did not answer a ping within 60 s.")
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def tenant_delete_settled(tenant: Tenant) -> None:
    """Delete a test's committed tenant; the session's worker may still be pushing a journal posted
    there (its lock and DROP SCHEMA deadlock), so a deadlock is retried a few times."""
    for attempt in range(5):
        try:
            services.tenant_delete(tenant=tenant, confirm_slug=tenant.slug, actor=None)
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(1)
