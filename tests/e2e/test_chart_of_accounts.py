"""A tenant admin imports their ERP's chart of accounts from a CSV file in a real browser."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Portal, Sandbox, sign_in

pytestmark = pytest.mark.e2e

GOOD = """code,name,type,parent
1000,Cash and bank,asset,
1010,Operating account,asset,1000
2100,Sales tax payable,liability,
4000,Sales,revenue,
4010,Sales - tents and shelters,revenue,4000
4020,Sales - footwear,revenue,4000
6100,Card processing fees,expense,
"""

BAD = """code,name,type,parent
1020,Savings account,asset,1000
,Nameless,asset,
4030,Sales - gift cards,income,4000
5000,Cost of goods,expense,9999
"""


def test_import_a_chart_then_a_bad_file_shows_row_errors(
    page: Page, portal: Portal, sandbox: Sandbox, tmp_path: Path, screenshot
):
    good, bad = tmp_path / "chart.csv", tmp_path / "chart-with-mistakes.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")

    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("navigation").get_by_role("link", name="Chart of accounts").click()
    expect(page.locator("main")).to_contain_text("No accounts yet")
    page.set_input_files("input[name=file]", str(good))
    page.get_by_role("button", name="Import").click()

    expect(page.locator("main")).to_contain_text("7 account(s) created, 0 updated.")
    rows = page.locator("main section.panel").first.locator("tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.nth(4)).to_contain_text("4010")
    expect(rows.nth(4)).to_contain_text("Sales - tents and shelters")
    expect(rows.nth(4)).to_contain_text("Revenue")
    expect(rows.nth(4).locator("td").nth(3)).to_have_text("4000")  # parent
    screenshot(page, "chart-of-accounts")

    page.set_input_files("input[name=file]", str(bad))
    page.get_by_role("button", name="Import").click()
    errors = page.locator(".form-errors[role=alert]")
    expect(errors).to_contain_text("Nothing was imported")
    expect(errors.locator("li")).to_have_text(
        [
            "line 3: code is empty",
            "line 4: type 'income' is not one of asset, liability, equity, revenue, expense",
            "line 5: parent 9999 is neither in the file nor in the chart",
        ]
    )
    expect(rows).to_have_count(7)  # all rows or none: 1020 was not imported
    expect(page.locator("main")).not_to_contain_text("Savings account")
    screenshot(page, "chart-of-accounts-errors")
