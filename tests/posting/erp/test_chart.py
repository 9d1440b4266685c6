"""Chart of accounts sync: the diff shown before applying, the apply, and the mapping exceptions
raised for rules left pointing at deactivated accounts."""

from __future__ import annotations

from unittest import mock

import pytest
from django_tenants.utils import tenant_context

from mappings.models import Account, AccountRule
from mappings.services import standard_chart_apply
from posting.erp.base import ErpAccount, ErpChart
from posting.erp.chart import chart_diff, chart_import_apply, chart_import_preview
from posting.erp.models import ChartImport
from tests.posting.erp.factories import erp_connection

ERP_CHART = ErpChart(
    accounts=[
        ErpAccount("35", "1110", "Card payments clearing", "asset"),  # same as local: unchanged + external id
        ErpAccount("36", "2100", "Sales tax payable (NY)", "liability"),  # renamed
        ErpAccount("79", "4010", "Sales - apparel", "revenue", active=False),  # inactive in the ERP
        ErpAccount("90", "4750", "Sales - gift wrap", "revenue"),  # new
        ErpAccount("91", "4800", "Old promo income", "revenue", active=False),  # new but inactive: ignored
        ErpAccount("92", "X" * 41, "Too long a code", "revenue"),  # skipped
    ]
)


def test_diff_lists_new_changed_deactivated_and_skipped_accounts(world):
    with tenant_context(world.acme):
        Account.objects.create(code="1110", name="Card payments clearing", type="asset")
        Account.objects.create(code="2100", name="Sales tax payable", type="liability")
        Account.objects.create(code="4010", name="Sales - apparel", type="revenue")
        Account.objects.create(code="6100", name="Merchant fees", type="expense")
        diff = chart_diff(chart=ERP_CHART)
    assert diff.create == [
        {
            "external_id": "90",
            "code": "4750",
            "name": "Sales - gift wrap",
            "type": "revenue",
            "active": True,
            "currency": "",
        }
    ]
    assert diff.update == [
        {"code": "1110", "changes": {"external_id": ["", "35"]}},
        {
            "code": "2100",
            "changes": {"name": ["Sales tax payable", "Sales tax payable (NY)"], "external_id": ["", "36"]},
        },
        {"code": "4010", "changes": {"external_id": ["", "79"]}},
    ]
    assert diff.deactivate == [
        {"code": "4010", "name": "Sales - apparel", "reason": "inactive in the ERP"},
        {"code": "6100", "name": "Merchant fees", "reason": "not in the ERP's chart"},
    ]
    assert diff.skipped == [{"code": "X" * 41, "name": "Too long a code", "reason": "code empty or over 40 characters"}]
    assert diff.unchanged == 0


def test_deactivated_account_behind_a_rule_is_a_mapping_exception_in_triage(world, django_capture_on_commit_callbacks):
    from triage.models import Exception as TriageException

    with tenant_context(world.acme):
        standard_chart_apply()
        connection = erp_connection(vendor="quickbooks")
        preview = chart_import_preview(connection=connection, chart=ERP_CHART)
        with django_capture_on_commit_callbacks(execute=True):
            chart_import_apply(chart_import=preview)
        exception = TriageException.objects.get(kind="mapping", cause="account_deactivated")
        assert (exception.severity, exception.fix_class, exception.object_type) == (
            "high",
            "mapping",
            "mappings.accountrule",
        )
        rules_on_inactive = AccountRule.objects.filter(account__active=False).count()
        assert exception.occurrences.count() == rules_on_inactive > 0


def test_apply_writes_exactly_the_diff_and_raises_mapping_exceptions_for_orphaned_rules(
    world, django_capture_on_commit_callbacks
):
    with tenant_context(world.acme):
        standard_chart_apply()
        connection = erp_connection(vendor="quickbooks")
        preview = chart_import_preview(connection=connection, chart=ERP_CHART)
        assert preview.status == ChartImport.Status.PREVIEW
        assert len(preview.diff["deactivate"]) == 22  # the 24 standard accounts but 1110 and 2100
        with (
            mock.patch("posting.erp.chart.exception_raise") as raised,
            django_capture_on_commit_callbacks(execute=True),
        ):
            diff = chart_import_apply(chart_import=preview)
        assert len(diff.create) == 1
        assert Account.objects.get(code="4750").external_id == "90"
        assert Account.objects.get(code="2100").name == "Sales tax payable (NY)"
        assert Account.objects.get(code="4010").active is False
        assert Account.objects.filter(active=True).count() == 3  # 1110, 2100, 4750
        calls = [call.kwargs for call in raised.call_args_list]
        assert {call["kind"] for call in calls} == {"mapping"}
        assert {call["cause"] for call in calls} == {"account_deactivated"}
        revenue = next(
            call for call in calls if call["context"]["role"] == "revenue" and call["context"]["account"] == "4010"
        )
        assert revenue["title"] == "Rule for revenue points at inactive account 4010"
        preview.refresh_from_db()
        assert preview.status == ChartImport.Status.APPLIED
        with pytest.raises(ValueError, match="applied"):
            chart_import_apply(chart_import=preview)
