import csv
import datetime as dt
import io
from decimal import Decimal as D

from beancount import loader
from django.core.management import call_command
from django_tenants.utils import tenant_context

from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.exports import beancount_account, ledger_beancount, ledger_csv
from posting.selectors import account_ledger, journal_detail, journals_list, trial_balance
from posting.services import journal_post_order, journal_post_payout, journal_post_refund
from tests.commerce.factories import jpy_order, kwd_order, refund, shopify_order, stripe_payout


def _post_everything():
    standard_chart_apply()
    order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
    journal_post_order(order=order)
    first = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
    journal_post_refund(refund=first)
    journal_post_payout(payout=payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj)
    journal_post_order(order=order_upsert(source="square", connection_id=3, document=jpy_order()).obj)
    journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=kwd_order()).obj)


def test_beancount_export_loads_with_no_errors(world):
    with tenant_context(world.acme):
        _post_everything()
        text = ledger_beancount()
    entries, errors, options = loader.load_string(text)
    assert errors == []
    transactions = [entry for entry in entries if type(entry).__name__ == "Transaction"]
    assert len(transactions) == 5
    assert sorted(options["operating_currency"]) == ["JPY", "KWD", "USD"]
    assert "  Assets:1010-Operating-bank-account  104.59 USD" in text


def test_beancount_account_names_are_valid_for_odd_codes(world):
    account = Account(code="_9", name='Sales "online" & more', type="revenue")
    assert beancount_account(account) == "Income:9-Sales-online-more"


def test_csv_export_has_one_row_per_line_quantised_to_the_currency(world):
    with tenant_context(world.acme):
        _post_everything()
        rows = list(csv.DictReader(io.StringIO(ledger_csv())))
    assert len(rows) == 10 + 6 + 6 + 3 + 6
    jpy = [row for row in rows if row["currency"] == "JPY"]
    assert [(row["account_code"], row["debit"], row["credit"]) for row in jpy] == [
        ("1110", "3000", "0"),
        ("4000", "0", "2728"),
        ("2100", "0", "272"),
    ]
    assert jpy[0]["dimensions"] == '{"channel": "pos", "gateway": "square", "payment_method": "card"}'


def test_trial_balance_balances_per_currency_and_respects_as_of(world):
    with tenant_context(world.acme):
        _post_everything()
        rows = trial_balance()
        before_payout = trial_balance(as_of=dt.date(2026, 3, 16))
    for currency in ("USD", "JPY", "KWD"):
        assert sum(row.balance for row in rows if row.currency == currency) == 0
    clearing = {(row.code, row.currency): row for row in rows}[("1110", "USD")]
    assert (clearing.debit, clearing.credit, clearing.balance) == (D("217.77"), D("217.77"), D("0.00"))
    assert "1010" not in [row.code for row in before_payout]


def test_account_ledger_runs_a_balance_from_the_opening(world):
    with tenant_context(world.acme):
        _post_everything()
        clearing = Account.objects.get(code="1110")
        opening, rows = account_ledger(account=clearing, start=dt.date(2026, 3, 15))
        assert opening == {"JPY": D("3000"), "KWD": D("4.150"), "USD": D("170.30")}
        assert [(row.currency, row.debit, row.credit, row.balance) for row in rows] == [
            ("USD", D("0.00"), D("47.47"), D("122.83")),
            ("USD", D("47.47"), D("0.00"), D("170.30")),
            ("USD", D("0.00"), D("170.30"), D("0.00")),
        ]


def test_journal_list_and_detail(world):
    with tenant_context(world.acme):
        _post_everything()
        assert journals_list(search="refund").count() == 1
        entry = journals_list().get(source_key__startswith="payout:")
        assert entry.total == D("170.30")
        detail = journal_detail(entry_id=entry.pk)
        assert [line.account.code for line in detail.lines.all()] == ["1110", "6100", "1010", "1300", "6200", "1110"]
        assert journal_detail(entry_id=0) is None


def test_ledger_export_and_trial_balance_commands(world, tmp_path, capsys):
    with tenant_context(world.bluebird):
        _post_everything()
    output = tmp_path / "ledger.beancount"
    call_command("ledger_export", "--tenant", "bluebird", "--format", "beancount", "--output", str(output))
    assert loader.load_string(output.read_text())[1] == []
    capsys.readouterr()
    call_command("ledger_export", "--tenant", "bluebird", "--format", "csv", "--to", "2026-03-14")
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 10 + 3 + 6
    call_command("trial_balance", "--tenant", "bluebird")
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        f"{'total':<10} {'':<36} JPY  {'3000':>14} {'3000':>14} {'0':>14}",
        f"{'total':<10} {'':<36} KWD  {'4.250':>14} {'4.250':>14} {'0.000':>14}",
        f"{'total':<10} {'':<36} USD  {'449.32':>14} {'449.32':>14} {'0.00':>14}",
    ]
    call_command("trial_balance", "--tenant", "acme")
    assert capsys.readouterr().out.count("\n") == 1
