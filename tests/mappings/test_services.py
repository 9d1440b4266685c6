import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from core.spreadsheet import RowsInvalid
from mappings.models import Account, AccountRule, MappingSet, PostingRole
from mappings.selectors import Unmapped, account_resolve, value_map_lookup
from mappings.services import (
    account_rule_add,
    accounts_import_csv,
    mapping_set_activate,
    mapping_set_copy,
    mapping_set_create,
    standard_chart_apply,
    value_map_set,
)
from mappings.standard import STANDARD_ACCOUNTS, STANDARD_RULES
from tenants.models import AuditEvent

NOW = dt.datetime(2026, 3, 14, 12, tzinfo=dt.UTC)

GOOD_CSV = b"code,name,type,parent\n4000,Sales,revenue,\n4010,Sales - apparel,revenue,4000\n1010,Bank,asset,\n"


def test_csv_import_creates_accounts_with_parents_and_audits(world):
    with tenant_context(world.acme):
        result = accounts_import_csv(file=GOOD_CSV, actor=world.acme_admin)
        assert (result.created, result.updated) == (3, 0)
        assert list(Account.objects.values_list("code", "type", "parent__code")) == [
            ("1010", "asset", None),
            ("4000", "revenue", None),
            ("4010", "revenue", "4000"),
        ]
        again = accounts_import_csv(file=GOOD_CSV.replace(b"Bank", b"Main bank"), actor=world.acme_admin)
        assert (again.created, again.updated) == (0, 3)
        assert Account.objects.get(code="1010").name == "Main bank"
    assert AuditEvent.objects.filter(tenant=world.acme, action="accounts.imported").count() == 2


def test_csv_import_reports_every_bad_row_with_its_line_and_imports_nothing(world):
    bad = (
        "code,name,type,parent\n"
        "4000,Sales,revenue,\n"
        ",No code,asset,\n"
        "4000,Sales again,revenue,\n"
        "5000,Cost,cost,\n"
        "\n"
        "6000,Fees,expense,9999\n"
        "7000,Self,expense,7000\n"
    )
    with tenant_context(world.acme):
        with pytest.raises(RowsInvalid) as error:
            accounts_import_csv(file=bad, actor=None)
        assert [str(row) for row in error.value.rows] == [
            "line 3: code is empty",
            "line 4: code 4000 repeats line 2",
            "line 5: type 'cost' is not one of asset, liability, equity, revenue, expense",
            "line 7: parent 9999 is neither in the file nor in the chart",
            "line 8: an account cannot be its own parent",
        ]
        assert Account.objects.count() == 0


def test_csv_import_refuses_a_wrong_header(world):
    with tenant_context(world.acme), pytest.raises(RowsInvalid) as error:
        accounts_import_csv(file=b"number,label,kind\n1,a,asset\n", actor=None)
    assert [str(row) for row in error.value.rows] == [
        "line 1: The header must be code,name,type or code,name,type,parent."
    ]


def test_coa_import_command_imports_into_the_tenant_schema(world, tmp_path):
    path = tmp_path / "coa.csv"
    path.write_bytes(GOOD_CSV)
    call_command("coa_import", "--tenant", "bluebird", str(path))
    with tenant_context(world.bluebird):
        assert Account.objects.count() == 3
    with tenant_context(world.acme):
        assert Account.objects.count() == 0


def test_coa_import_command_fails_with_the_row_errors(world, tmp_path, capsys):
    path = tmp_path / "coa.csv"
    path.write_text("code,name,type\n1,Cash,asset\n2,,asset\n")
    with pytest.raises(CommandError) as error:
        call_command("coa_import", "--tenant", "acme", str(path))
    assert str(error.value) == "1 bad row(s); nothing was imported."
    assert capsys.readouterr().err.strip() == "line 3: name is empty"
    with pytest.raises(CommandError):
        call_command("coa_import", "--tenant", "nobody", str(path))


def test_standard_chart_maps_every_role(world):
    with tenant_context(world.acme):
        active = standard_chart_apply()
        assert Account.objects.count() == len(STANDARD_ACCOUNTS)
        assert active.rules.count() == len(STANDARD_RULES)
        assert {rule.role for rule in active.rules.all()} == set(PostingRole.values)


def test_most_specific_rule_wins_and_ties_are_deterministic(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        draft = mapping_set_copy(mapping_set=MappingSet.objects.get(status="active"), name="v2")
        special = Account.objects.create(code="4011", name="Web apparel", type="revenue")
        store = Account.objects.create(code="4012", name="Soho store", type="revenue")
        account_rule_add(mapping_set=draft, role="revenue", account=special, product_category="apparel", channel="web")
        account_rule_add(mapping_set=draft, role="revenue", account=store, store="soho", channel="web")
        mapping_set_activate(mapping_set=draft, effective_from=NOW)

        def code(**conditions):
            return account_resolve(role="revenue", conditions=conditions, at=NOW).code

        assert code() == "4000"
        assert code(product_category="apparel") == "4010"
        assert code(product_category="apparel", channel="web") == "4011"
        assert code(product_category="footwear", channel="web", store="soho") == "4012"
        # Two conditions each: product_category ranks before store.
        assert code(product_category="apparel", channel="web", store="soho") == "4011"


def test_unmapped_names_the_role_and_conditions(world):
    with tenant_context(world.acme):
        with pytest.raises(Unmapped) as error:
            account_resolve(role="revenue", conditions={"channel": "web", "store": ""}, at=NOW)
        assert (error.value.role, error.value.conditions) == ("revenue", {"channel": "web"})
        assert str(error.value) == "No account is mapped for role 'revenue' (channel=web)."


def test_activation_archives_the_previous_set_and_history_still_resolves(world):
    with tenant_context(world.acme):
        first = standard_chart_apply(effective_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        draft = mapping_set_copy(mapping_set=first, name="March")
        AccountRule.objects.filter(mapping_set=draft, role="bank").update(
            account=Account.objects.create(code="1020", name="New bank", type="asset")
        )
        with pytest.raises(ValidationError):
            mapping_set_activate(mapping_set=draft, effective_from=dt.datetime(2025, 12, 1, tzinfo=dt.UTC))
        mapping_set_activate(mapping_set=draft, effective_from=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
        first.refresh_from_db()
        assert (first.status, MappingSet.objects.get(pk=draft.pk).status) == ("archived", "active")
        feb = dt.datetime(2026, 2, 15, tzinfo=dt.UTC)
        assert account_resolve(role="bank", conditions={}, at=feb).code == "1010"
        assert account_resolve(role="bank", conditions={}, at=NOW).code == "1020"
        with pytest.raises(Unmapped):
            account_resolve(role="bank", conditions={}, at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
        with pytest.raises(ValidationError):
            account_rule_add(mapping_set=first, role="bank", account=Account.objects.get(code="1010"), store="x")


def test_value_maps_follow_the_set_in_force(world):
    with tenant_context(world.acme):
        draft = mapping_set_create(name="codes")
        value_map_set(mapping_set=draft, kind="tax_code", source_value="US-NY", erp_value="NY-STATE")
        assert value_map_lookup(kind="tax_code", source_value="US-NY", at=NOW) is None
        mapping_set_activate(mapping_set=draft, effective_from=NOW)
        assert value_map_lookup(kind="tax_code", source_value="US-NY", at=NOW) == "NY-STATE"
        with pytest.raises(ValidationError):
            value_map_set(mapping_set=draft, kind="tax_code", source_value="US-NY", erp_value="X")
