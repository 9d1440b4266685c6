"""A sync run's page follows the run's progress without a reload (htmx polling), in a real browser."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from connectors.models import SyncRun
from tests.e2e import seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def _progress(tenant, run_id: int, **values) -> None:
    """What the worker's steps write as they go (connectors.sync), written here instead."""
    with tenant_context(tenant):
        SyncRun.objects.filter(pk=run_id).update(**values)


def test_sync_now_then_watch_the_run_progress(page: Page, portal: Portal, sandbox: Sandbox, screenshot, monkeypatch):
    committed(lambda: seed.shopify_connection(sandbox.tenant))
    # The test writes the worker's progress itself (`_progress`): the run's first step is not sent,
    # or the session's real worker could take it before the page is read and fail it (the shop's
    # host does not resolve here), ending the run while the test expects it queued.
    monkeypatch.setattr("connectors.sync._dispatch", lambda run_id, **options: None)

    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/connections/"))
    page.get_by_role("link", name="Juniper Shopify").click()
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_url("**/connections/runs/*/")
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    expect(page.locator("h1")).to_have_text(f"Sync run #{run_id} · Sync now")
    progress = page.locator("#run-progress")
    expect(progress.locator(".card", has_text="Status")).to_contain_text("Queued")
    expect(progress).to_have_attribute("hx-trigger", "every 2s")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page were reloaded

    started = timezone.now() - dt.timedelta(seconds=40)
    committed(
        lambda: _progress(
            sandbox.tenant,
            run_id,
            status=SyncRun.Status.RUNNING,
            started_at=started,
            heartbeat_at=timezone.now(),
            pages=3,
            records=250,
            created=238,
            updated=12,
            cursor={"topic_index": 0, "topic": {"page_info": "e2e"}},
        )
    )
    expect(progress.locator(".card", has_text="Status")).to_contain_text("Running", timeout=8_000)
    expect(progress.locator(".card", has_text="Records")).to_contain_text("250")
    expect(progress.locator(".card", has_text="Created / updated")).to_contain_text("238 / 12")
    expect(progress.locator(".card", has_text="Topic")).to_contain_text("(1 of")
    screenshot(page, "sync-run")

    committed(
        lambda: _progress(
            sandbox.tenant,
            run_id,
            status=SyncRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            pages=4,
            records=310,
            created=296,
            updated=14,
        )
    )
    expect(progress.locator(".card", has_text="Status")).to_contain_text("Succeeded", timeout=8_000)
    expect(progress.locator(".card", has_text="Pages")).to_contain_text("4")
    expect(progress).not_to_have_attribute("hx-trigger", "every 2s")  # finished: polling stops
    assert page.evaluate("() => window.sameDocument") is True

    page.locator(".breadcrumbs").get_by_role("link", name="Juniper Shopify").click()
    expect(page.locator("main table tbody tr", has_text=f"#{run_id}")).to_contain_text("Succeeded")
