"""The pages' Content-Security-Policy in a real browser: inline script is refused (and the e2e
`page` fixture notices), and the behaviours moved out of inline handlers into static/js/portal.js
still work."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from tenants.models import Tenant
from tests.e2e.conftest import Portal, committed, sign_in
from triage import services
from triage.models import Exception as TriageException
from triage.partner.models import TriageIndex

pytestmark = pytest.mark.e2e
ACME = "acme.northwind.localhost"


def test_an_injected_inline_script_is_blocked_and_reported(page: Page, portal: Portal, world, csp_violations):
    page.goto(portal.url("northwind.localhost", "/accounts/login/"))

    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
        " document.head.appendChild(s); }"
    )

    expect(page.locator("body")).to_be_visible()
    page.wait_for_function("() => true")
    assert page.evaluate("() => window.injected === undefined")
    page.wait_for_timeout(200)  # the violation event is dispatched asynchronously
    assert any("script-src" in text for text in csp_violations), csp_violations
    csp_violations.clear()  # expected here; any other test fails on one


def _raise(index: int) -> int:
    with tenant_context(Tenant.objects.get(slug="acme")):
        return services.exception_raise(
            kind="mapping", cause=f"csp_e2e_{index}", title=f"CSP check {index}", object_label=f"Order #{index}"
        ).pk


def _remove(exception_id: int) -> None:
    tenant = Tenant.objects.get(slug="acme")
    with tenant_context(tenant):
        TriageException.objects.filter(pk=exception_id).delete()
    TriageIndex.objects.filter(tenant=tenant, exception_id=exception_id).delete()


def test_inbox_select_all_checks_every_row(page: Page, portal: Portal, world):
    ids = [committed(lambda index=index: _raise(index)) for index in (1, 2)]
    try:
        sign_in(page, portal, host=ACME, email=world.acme_admin.email)
        page.goto(portal.url(ACME, "/exceptions/"))
        boxes = page.locator("input[name=ids]")
        expect(boxes).to_have_count(2)

        page.get_by_label("Select all").check()
        assert [boxes.nth(i).is_checked() for i in range(2)] == [True, True]
        page.get_by_label("Select all").uncheck()
        assert [boxes.nth(i).is_checked() for i in range(2)] == [False, False]
    finally:
        for exception_id in ids:
            committed(lambda exception_id=exception_id: _remove(exception_id))


def test_promotion_status_filter_submits_on_change(page: Page, portal: Portal, world):
    sign_in(page, portal, host=ACME, email=world.acme_admin.email)
    page.goto(portal.url(ACME, "/promotions/"))

    with page.expect_navigation():
        page.select_option("#status", "draft")

    assert page.url.endswith("/promotions/?status=draft")


def test_brand_preview_sample_link_goes_nowhere(page: Page, portal: Portal, world):
    sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
    page.goto(portal.url("northwind.localhost", "/brand/"))

    page.click(".brand-preview-link")

    assert page.url == portal.url("northwind.localhost", "/brand/")
