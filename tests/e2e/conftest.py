"""Browser tests: pytest-playwright driving Debian's chromium against a live portal.

The server. pytest-django's `live_server` is not used: for every test that asks for it, it also pulls
in `transactional_db`, whose teardown (Django's TransactionTestCase) flushes every table, which
would wipe the committed session world (tests/conftest.py) that every other test relies on.
Instead one session-scoped `django.test.testcases.LiveServerThread` serves the portal. Every
request runs in its own thread with its own database connection; pytest-django has already
pointed the settings at the test database, so requests see exactly the committed world, and the
browser's writes are committed like in production (a test that writes cleans up after itself).
pytest-django blocks database access outside its db fixtures by patching the connection class,
which the server threads share, so each e2e test lifts that block for its own duration.
The tests themselves use the usual `world` fixture, and so `db`: pytest-django creates the test
database only when some collected test asks for it, so `make screenshots` (tests/e2e alone) needs
that too. The test's own connection sits in a transaction that is rolled back, which is fine for
reads of the committed world; a clean-up that must stick goes through `committed(...)`, which runs
on a connection of its own.

The event loop. Playwright's sync API leaves its asyncio loop marked as running on the main
thread from the first browser test to the end of the session, and Django then refuses every ORM
call there as "async unsafe". The e2e tests' own ORM calls (world look-ups, clean-up) are plain
synchronous code, so DJANGO_ALLOW_ASYNC_UNSAFE is set for each e2e test only, and the e2e tests
are moved to the end of the run so that no other test runs while that loop is up (Django's check
keeps working for the rest of the suite). While the loop runs, Django also keeps the main
thread's connections apart from the ones it had before, so each e2e test closes its own at the
end. Session teardown stays safe: the browser fixtures are set up after `django_db_setup` (the
autouse `portal` fixture asks for the server first), so they are torn down before the test
database is dropped.

The browser. `playwright install` cannot download a browser here: the launch arguments point at
Debian's /usr/bin/chromium (`make browser` installs it). Chromium resolves `*.localhost` to the
loopback address by itself, so the partner and tenant hosts work without any hosts file.

The sandbox. A journey that writes a lot (a chart of accounts, journals, connections) asks for
`sandbox`: a tenant of its own (Juniper Outdoor, juniper.northwind.localhost) with its own admin,
created committed before the test and deleted with its schema after it, so nothing it writes can
reach the shared world. tests/e2e/seed.py makes the data such a journey starts from.

Screenshots. With SCREENSHOTS=1 in the environment, `screenshot(page, name)` saves a full-page PNG
under docs/screenshots/; otherwise it does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread
from django.urls import reverse
from playwright.sync_api import Page

from tenants.models import AuditEvent, Membership, Partner, Tenant, User
from tenants.services import membership_grant, tenant_create, tenant_delete, user_create
from tests import conftest as root
from tests.conftest import PASSWORD

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOT_DIR = root.BASE_DIR / "docs" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": VIEWPORT}


# Reported in the page itself, so a violation in any frame or at any moment of the test is caught.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
                " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


def _is_csp_violation(text: str) -> bool:
    return text.startswith("CSP violation: ") or "Content Security Policy" in text


@pytest.fixture
def csp_violations() -> list[str]:
    """What the browser reported as blocked by the Content-Security-Policy during the test."""
    return []


@pytest.fixture
def page(page: Page, csp_violations: list[str]) -> Iterator[Page]:
    """The browser page, failing the test if the portal's Content-Security-Policy blocks anything
    (an inline script or handler, an eval, a resource from another origin) on any page it visits."""
    # Every page here answers in well under a second; fail fast rather than after 30 s.
    page.set_default_timeout(10_000)
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda message: csp_violations.append(message.text) if _is_csp_violation(message.text) else None)
    yield page
    assert csp_violations == [], f"The browser reported Content-Security-Policy violations: {csp_violations}"


@dataclass(frozen=True)
class Portal:
    """The running portal: builds absolute URLs for a host name."""

    port: int

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="session")
def portal_server(django_db_setup, django_db_blocker) -> Iterator[Portal]:
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler)
    thread.daemon = True
    with django_db_blocker.unblock():
        thread.start()
        if not thread.is_ready.wait(timeout=30):
            raise RuntimeError("The portal server did not start within 30 s.")
    if thread.error:
        raise thread.error
    yield Portal(port=thread.port)
    thread.terminate()


@pytest.fixture(autouse=True)
def portal(portal_server: Portal, django_db_blocker, monkeypatch: pytest.MonkeyPatch) -> Iterator[Portal]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with django_db_blocker.unblock():
        yield portal_server
        # While the loop runs, Django keeps this thread's connections in a separate (context-var)
        # store; close them after `db` has rolled back, or they would outlive the test database.
        connections.close_all()


def committed(operation: Callable[[], T]) -> T:
    """Run `operation` on a fresh thread, hence its own autocommitting connection: its writes are
    committed at once and outlive the test's rolled-back transaction."""

    def run() -> T:
        try:
            return operation()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def sign_in(page: Page, portal: Portal, *, host: str, email: str, password: str = PASSWORD) -> None:
    """Fill in and submit the real allauth sign-in form on `host`."""
    page.goto(portal.url(host, reverse("account_login")))
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    def save(page: Page, name: str) -> None:
        if os.environ.get("SCREENSHOTS") != "1":
            return
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)

    return save


@dataclass(frozen=True)
class Sandbox:
    """A tenant of its own for a journey that writes a lot (a chart, journals, connections)."""

    tenant: Tenant
    host: str
    admin: User


SANDBOX_SLUG = "juniper"
SANDBOX_ADMIN = "finance@juniper.test"


def _sandbox_remove() -> None:
    tenant = Tenant.objects.filter(slug=SANDBOX_SLUG).first()
    if tenant is not None:
        AuditEvent.objects.filter(tenant=tenant).delete()
        tenant_delete(tenant=tenant, confirm_slug=SANDBOX_SLUG, actor=None)
    AuditEvent.objects.filter(actor__email=SANDBOX_ADMIN).delete()
    User.objects.filter(email=SANDBOX_ADMIN).delete()


@pytest.fixture
def sandbox(world) -> Iterator[Sandbox]:
    """Juniper Outdoor, a Northwind tenant created (committed) for one test with its own admin, and
    deleted with its schema afterwards, so a journey's writes never reach the shared world."""

    def create() -> Sandbox:
        _sandbox_remove()  # a run killed half-way must not block the next one
        created = tenant_create(
            partner=Partner.objects.get(slug="northwind"),
            slug=SANDBOX_SLUG,
            name="Juniper Outdoor",
            timezone="America/Chicago",
        )
        admin = user_create(email=SANDBOX_ADMIN, password=PASSWORD, name="Jo Finance", verified=True)
        membership_grant(user=admin, tenant=created.tenant, role=Membership.Role.TENANT_ADMIN)
        return Sandbox(tenant=created.tenant, host=created.domain, admin=admin)

    made = committed(create)
    try:
        yield made
    finally:
        committed(_sandbox_remove)
