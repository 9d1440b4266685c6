import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django_tenants.utils import tenant_context

from commerce.documents import PaymentDoc
from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.models import Account, AccountRule
from mappings.services import standard_chart_apply
from posting.builders import Problem
from posting.models import JournalEntry, JournalLine
from posting.selectors import entry_balance
from posting.services import (
    PostingStatus,
    journal_post_cancellation,
    journal_post_order,
    journal_post_payout,
    journal_post_refund,
    policy_update,
)
from tests.commerce.factories import PAID_AT, jpy_order, kwd_order, refund, shopify_order, stripe_payout


def lines_of(entry):
    return [(line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account")]


def all_balanced():
    return all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())


def _order(document=None, connection_id=1):
    return order_upsert(source="shopify", connection_id=connection_id, document=document or shopify_order()).obj


def test_order_posts_exact_lines_by_account_and_is_idempotent(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _order()
        outcome = journal_post_order(order=order)
        assert outcome.status == PostingStatus.POSTED
        entry = outcome.entry
        assert (entry.source_key, entry.date, entry.currency) == (f"order:{order.pk}:v1", dt.date(2026, 3, 14), "USD")
        assert lines_of(entry) == [
            ("4500", D("9.0000"), D("0")),
            ("4500", D("16.0000"), D("0")),
            ("1200", D("5.0000"), D("0")),
            ("1110", D("170.3000"), D("0")),
            ("2300", D("25.0000"), D("0")),
            ("4010", D("0"), D("120.0000")),
            ("4020", D("0"), D("80.0000")),
            ("2100", D("0"), D("7.2000")),
            ("2100", D("0"), D("8.1000")),
            ("4100", D("0"), D("10.0000")),
        ]
        line = entry.lines.get(position=7)
        assert line.dimensions == {"channel": "web", "jurisdiction": "US-NY"}
        assert line.sources == [{"type": "order", "id": order.pk, "external_id": "1001", "raw_event_id": None}]
        again = journal_post_order(order=order)
        assert (again.status, again.entry.pk) == (PostingStatus.ALREADY_POSTED, entry.pk)
        assert JournalEntry.objects.count() == 1


def test_order_entry_date_is_the_local_date_in_the_tenant_timezone(world):
    late = dt.datetime(2026, 3, 15, 2, 0, tzinfo=dt.UTC)  # 22:00 on the 14th in New York
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = journal_post_order(order=_order(shopify_order(paid_at=late))).entry
        assert entry.date == dt.date(2026, 3, 14)


def test_unpaid_order_is_not_due_and_fulfilment_policy_waits_for_fulfilment(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        assert journal_post_order(order=_order(shopify_order(paid_at=None))).status == PostingStatus.NOT_DUE
        policy_update(recognise_on="fulfilled")
        order = _order(shopify_order(external_id="1002"))
        assert journal_post_order(order=order).status == PostingStatus.NOT_DUE
        assert JournalEntry.objects.count() == 0


def test_unmapped_role_refuses_the_whole_entry_naming_role_and_conditions(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        AccountRule.objects.filter(role="gift_card_liability").delete()
        outcome = journal_post_order(order=_order())
        assert outcome.status == PostingStatus.REFUSED
        assert outcome.problems == [
            Problem(
                "unmapped",
                "No account is mapped for role 'gift_card_liability' (channel=web).",
                role="gift_card_liability",
                conditions=(("channel", "web"),),
            )
        ]
        assert JournalEntry.objects.count() == 0
        assert JournalLine.objects.count() == 0


def test_inactive_account_counts_as_unmapped(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        Account.objects.filter(code="4100").update(active=False)
        outcome = journal_post_order(order=_order())
        assert [(problem.kind, problem.role) for problem in outcome.problems] == [("unmapped", "shipping_income")]


def test_unbalanced_order_posts_nothing(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        payments = (shopify_order().payments[0],)
        outcome = journal_post_order(order=_order(shopify_order(payments=payments)))
        assert [problem.kind for problem in outcome.problems] == ["unbalanced"]
        assert JournalEntry.objects.count() == 0


def test_partial_then_final_refund_and_payout_by_account(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _order()
        journal_post_order(order=order)
        first = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        second_doc = refund("R2", (("L1", 1),), shipping=D("5.00"), processed_at=first.processed_at + dt.timedelta(1))
        second = refund_upsert(source="shopify", connection_id=1, document=second_doc).obj
        assert lines_of(journal_post_refund(refund=first).entry) == [
            ("2100", D("1.7500"), D("0")),
            ("2100", D("1.9700"), D("0")),
            ("4600", D("50.0000"), D("0")),
            ("4500", D("0"), D("3.7500")),
            ("1200", D("0"), D("2.5000")),
            ("1110", D("0"), D("47.4700")),
        ]
        assert lines_of(journal_post_refund(refund=second).entry) == [
            ("2100", D("1.9400"), D("0")),
            ("2100", D("2.1900"), D("0")),
            ("4100", D("5.0000"), D("0")),
            ("4600", D("50.0000"), D("0")),
            ("4500", D("0"), D("3.7500")),
            ("1200", D("0"), D("2.5000")),
            ("1110", D("0"), D("52.8800")),
        ]
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        entry = journal_post_payout(payout=payout).entry
        assert (entry.date, lines_of(entry)) == (
            dt.date(2026, 3, 17),
            [
                ("1110", D("47.4700"), D("0")),
                ("6100", D("7.2400"), D("0")),
                ("1010", D("104.5900"), D("0")),
                ("1300", D("10.0000"), D("0")),
                ("6200", D("1.0000"), D("0")),
                ("1110", D("0"), D("170.3000")),
            ],
        )
        assert all_balanced()


def test_refund_before_the_order_is_posted_is_refused(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        _order(shopify_order(paid_at=None))
        document = refund("R1", (("L1", 1),))
        outcome = journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=document).obj)
        assert [problem.kind for problem in outcome.problems] == ["order_not_posted"]


def test_refund_larger_than_posted_is_refused(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_order())
        document = refund("R1", (("L1", 1),), amount=D("60.00"))
        outcome = journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=document).obj)
        assert outcome.status == PostingStatus.REFUSED
        assert outcome.problems[0].kind == "refund_exceeds_posted"
        assert JournalEntry.objects.count() == 1


def test_cancellation_reverses_the_order_in_full_once(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _order()
        original = journal_post_order(order=order).entry
        assert journal_post_cancellation(order=order).status == PostingStatus.NOT_DUE
        order = _order(shopify_order(source_version=2, cancelled_at=dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)))
        # v2 changes nothing but the cancellation, so it posts no difference (tests/posting/test_versions.py).
        assert journal_post_order(order=order).status == PostingStatus.UNCHANGED
        outcome = journal_post_cancellation(order=order)
        assert (outcome.status, outcome.entry.reverses_id, outcome.entry.date) == (
            PostingStatus.POSTED,
            original.pk,
            dt.date(2026, 3, 16),
        )
        assert lines_of(outcome.entry) == [(code, credit, debit) for code, debit, credit in lines_of(original)]
        assert journal_post_cancellation(order=order).status == PostingStatus.ALREADY_POSTED


def account_net(code):
    totals = JournalLine.objects.filter(account__code=code).aggregate(debit=Sum("debit"), credit=Sum("credit"))
    return (totals["debit"] or D(0)) - (totals["credit"] or D(0))


CANCELLED_AT = dt.datetime(2026, 3, 20, tzinfo=dt.UTC)


def test_cancellation_after_a_posted_refund_reverses_only_what_the_refund_left(world):
    # Behaviour change (issue 14): this used to be refused; DESIGN.md §4 now says overlapping
    # documents post only what is outstanding.
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _order(shopify_order(cancelled_at=CANCELLED_AT))
        original = journal_post_order(order=order).entry
        refund_doc = refund("R1", (("L1", 1),))
        journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=refund_doc).obj)
        outcome = journal_post_cancellation(order=order)
        assert outcome.status == PostingStatus.POSTED
        assert (outcome.entry.reverses_id, outcome.entry.date) == (original.pk, dt.date(2026, 3, 19))
        # order minus refund R1 (Dr refunds 50.00 counts against apparel revenue), reversed
        assert lines_of(outcome.entry) == [
            ("4500", D("0"), D("5.2500")),  # discount apparel 9.00 - 3.75
            ("4500", D("0"), D("16.0000")),  # discount footwear
            ("1200", D("0"), D("2.5000")),  # vendor-funded receivable 5.00 - 2.50
            ("1110", D("0"), D("122.8300")),  # stripe clearing 170.30 - 47.47
            ("2300", D("0"), D("25.0000")),  # gift card
            ("4010", D("70.0000"), D("0")),  # apparel revenue 120.00 - 50.00 refunded
            ("4020", D("80.0000"), D("0")),
            ("2100", D("5.4500"), D("0")),  # US-NY 7.20 - 1.75
            ("2100", D("6.1300"), D("0")),  # US-NY-NYC 8.10 - 1.97
            ("4100", D("10.0000"), D("0")),
        ]
        assert all_balanced()
        assert [account_net(code) for code in ("1110", "2300", "2100", "4100", "4500", "1200")] == [D(0)] * 6
        assert (account_net("4010"), account_net("4020"), account_net("4600")) == (D("-50"), D(0), D("50"))
        assert journal_post_cancellation(order=order).status == PostingStatus.ALREADY_POSTED
        # a further refund after the cancellation finds nothing outstanding
        late = refund_upsert(source="shopify", connection_id=1, document=refund("R2", (("L3", 1),))).obj
        assert journal_post_refund(refund=late).status == PostingStatus.COVERED
        assert JournalEntry.objects.count() == 3
        assert account_net("1110") == D(0)


def test_refund_after_a_cancellation_posts_nothing_and_clearing_ends_at_zero(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _order(shopify_order(cancelled_at=CANCELLED_AT))
        original = journal_post_order(order=order).entry
        cancellation = journal_post_cancellation(order=order).entry
        assert lines_of(cancellation) == [(code, credit, debit) for code, debit, credit in lines_of(original)]
        document = refund("R1", (("L1", 2), ("L2", 1), ("L3", 1)), shipping=D("10.00"), amount=D("170.30"))
        full = refund_upsert(source="shopify", connection_id=1, document=document).obj
        outcome = journal_post_refund(refund=full)
        assert (outcome.status, outcome.entry, outcome.problems) == (PostingStatus.COVERED, None, [])
        assert journal_post_refund(refund=full).status == PostingStatus.COVERED
        assert JournalEntry.objects.count() == 2
        assert not JournalLine.objects.filter(role="refunds").exists()
        assert [account_net(code) for code in ("1110", "2300", "4010", "4020", "2100", "4100")] == [D(0)] * 6
        assert all_balanced()


def test_cancellation_after_refunds_that_took_everything_posts_nothing(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        card_only = (PaymentDoc("p1", "stripe", D("195.30"), method="card"),)
        order = _order(shopify_order(cancelled_at=CANCELLED_AT, payments=card_only))
        journal_post_order(order=order)
        for index, (lines, shipping) in enumerate([((("L1", 1),), D(0)), ((("L1", 1), ("L2", 1), ("L3", 1)), D(10))]):
            document = refund(f"R{index}", lines, shipping=shipping, processed_at=PAID_AT + dt.timedelta(days=index))
            stored = refund_upsert(source="shopify", connection_id=1, document=document).obj
            outcome = journal_post_refund(refund=stored)
            assert outcome.status == PostingStatus.POSTED
        assert account_net("1110") == D(0)
        assert journal_post_cancellation(order=order).status == PostingStatus.COVERED
        assert JournalEntry.objects.count() == 3
        assert all_balanced()


def test_jpy_and_kwd_orders_post_in_their_minor_units(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        jpy = journal_post_order(order=_order(jpy_order())).entry
        kwd = journal_post_order(order=_order(kwd_order())).entry
        assert lines_of(jpy) == [("1110", D("3000"), D("0")), ("4000", D("0"), D("2728")), ("2100", D("0"), D("272"))]
        assert lines_of(kwd) == [
            ("4500", D("0.0670"), D("0")),
            ("4500", D("0.0330"), D("0")),
            ("1110", D("4.1500"), D("0")),
            ("4010", D("0"), D("2.5000")),
            ("4020", D("0"), D("1.2500")),
            ("4100", D("0"), D("0.5000")),
        ]
        assert (jpy.currency, kwd.currency) == ("JPY", "KWD")


def _raw_unbalanced_entry(cursor, key: str) -> None:
    cursor.execute(
        "INSERT INTO posting_journalentry (source_key, date, currency, memo, status, external_ref, created_at) "
        "VALUES (%s, '2026-03-14', 'USD', '', 'ready', '', now()) RETURNING id",
        [key],
    )
    entry_id = cursor.fetchone()[0]
    account_id = Account.objects.get(code="1010").pk
    cursor.execute(
        "INSERT INTO posting_journalline (entry_id, position, account_id, role, debit, credit, dimensions, "
        "description, sources) VALUES (%s, 0, %s, 'bank', 10, 0, '{}', '', '[]')",
        [entry_id, account_id],
    )


def test_database_trigger_rejects_an_unbalanced_entry_at_commit(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        with (
            pytest.raises(IntegrityError, match="does not balance"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            _raw_unbalanced_entry(cursor, "raw:1")
            # The trigger is deferred to commit; asking for the check now is what commit does.
            cursor.execute("SET CONSTRAINTS posting_journalline_balance IMMEDIATE")
        assert JournalEntry.objects.filter(source_key="raw:1").count() == 0


def test_database_trigger_accepts_a_balanced_entry(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        with transaction.atomic(), connection.cursor() as cursor:
            _raw_unbalanced_entry(cursor, "raw:2")
            cursor.execute(
                "INSERT INTO posting_journalline (entry_id, position, account_id, role, debit, credit, dimensions, "
                "description, sources) SELECT id, 1, %s, 'bank', 0, 10, '{}', '', '[]' FROM posting_journalentry "
                "WHERE source_key = 'raw:2'",
                [Account.objects.get(code="1110").pk],
            )
            cursor.execute("SET CONSTRAINTS posting_journalline_balance IMMEDIATE")
        assert entry_balance(entry=JournalEntry.objects.get(source_key="raw:2")) == 0


def test_database_refuses_a_line_with_both_sides(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = JournalEntry.objects.create(source_key="raw:3", date=dt.date(2026, 3, 14), currency="USD")
        with pytest.raises(IntegrityError), transaction.atomic():
            JournalLine.objects.create(
                entry=entry, position=0, account=Account.objects.get(code="1010"), role="bank", debit=1, credit=1
            )


def test_database_trigger_rejects_an_unbalanced_entry_on_a_real_commit(world):
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as raw:
        cursor = raw.cursor()
        cursor.execute(f'SET search_path TO "{world.acme.schema_name}"')
        cursor.execute(
            "INSERT INTO mappings_account (code, name, type, currency, active, external_id) "
            "VALUES ('commit-probe', 'Probe', 'asset', '', true, '') RETURNING id"
        )
        account_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO posting_journalentry (source_key, date, currency, memo, status, external_ref, created_at) "
            "VALUES ('raw:commit', '2026-03-14', 'USD', '', 'ready', '', now()) RETURNING id"
        )
        cursor.execute(
            "INSERT INTO posting_journalline (entry_id, position, account_id, role, debit, credit, dimensions, "
            "description, sources) VALUES (%s, 0, %s, 'bank', 10, 0, '{}', '', '[]')",
            [cursor.fetchone()[0], account_id],
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="does not balance"):
            raw.commit()
    with tenant_context(world.acme):
        assert not JournalEntry.objects.filter(source_key="raw:commit").exists()
        assert not Account.objects.filter(code="commit-probe").exists()


def test_lineless_refund_is_accepted_by_commerce_and_prorated_then_cancellation_settles_the_rest(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        card_only = (PaymentDoc("p1", "stripe", D("195.30"), method="card"),)
        order = _order(shopify_order(cancelled_at=CANCELLED_AT, payments=card_only))
        journal_post_order(order=order)
        stored = refund_upsert(source="shopify", connection_id=1, document=refund("W1", (), amount=D("30.00")))
        assert (stored.obj.lines.count(), stored.obj.amount) == (0, D("30.00"))
        entry = journal_post_refund(refund=stored.obj).entry
        assert lines_of(entry) == [
            ("2100", D("0.9600"), D("0")),
            ("2100", D("1.0800"), D("0")),
            ("4100", D("1.3300"), D("0")),
            ("4600", D("15.9800"), D("0")),
            ("4600", D("10.6500"), D("0")),
            ("1110", D("0"), D("30.0000")),
        ]
        cancellation = journal_post_cancellation(order=order).entry
        assert lines_of(cancellation) == [
            ("4500", D("0"), D("9.0000")),
            ("4500", D("0"), D("16.0000")),
            ("1200", D("0"), D("5.0000")),
            ("1110", D("0"), D("165.3000")),
            ("4010", D("104.0200"), D("0")),  # 120.00 - 15.98
            ("4020", D("69.3500"), D("0")),  # 80.00 - 10.65
            ("2100", D("6.2400"), D("0")),  # 7.20 - 0.96
            ("2100", D("7.0200"), D("0")),  # 8.10 - 1.08
            ("4100", D("8.6700"), D("0")),  # 10.00 - 1.33
        ]
        assert [account_net(code) for code in ("1110", "2100", "4100", "4500", "1200")] == [D(0)] * 5
        assert all_balanced()


def test_lineless_refund_to_the_refunds_account_then_cancellation(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(unallocated_refunds="refunds_account")
        order = _order(shopify_order(cancelled_at=CANCELLED_AT))
        journal_post_order(order=order)
        stored = refund_upsert(source="shopify", connection_id=1, document=refund("W1", (), amount=D("30.00"))).obj
        assert lines_of(journal_post_refund(refund=stored).entry) == [
            ("4600", D("30.0000"), D("0")),
            ("1110", D("0"), D("30.0000")),
        ]
        cancellation = journal_post_cancellation(order=order).entry
        assert ("4600", D("0"), D("30.0000")) in lines_of(cancellation)
        assert ("1110", D("0"), D("140.3000")) in lines_of(cancellation)  # 170.30 paid by card - 30.00
        assert [account_net(code) for code in ("1110", "2300", "4600", "4010", "4020")] == [D(0)] * 5
        assert all_balanced()


def test_payout_with_fee_refunds_and_unknown_lines_posts_to_suspense_and_raises_one_exception(
    world, django_capture_on_commit_callbacks
):
    from commerce.documents import PayoutLineDoc
    from posting.reconciliation import payout_reconcile
    from triage.models import Exception as TriageException

    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_order())
        refund_doc = refund("R1", (("L1", 1),))
        journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=refund_doc).obj)
        document = stripe_payout(
            amount=D("122.79"),
            lines=(
                PayoutLineDoc("charge", D("170.30"), fee=D("5.24"), reference="1001"),
                PayoutLineDoc("refund", D("-47.47"), fee=D("-1.20"), reference="R1"),
                PayoutLineDoc("fee", D("2.00"), description="Fee refund"),
                PayoutLineDoc("other", D("5.00"), vendor_type="credit"),
                PayoutLineDoc("other", D("-3.00"), vendor_type="debit"),
            ),
        )
        payout = payout_upsert(source="shopify", connection_id=2, document=document).obj  # negative fee accepted
        outcome = journal_post_payout(payout=payout)
        assert outcome.status == PostingStatus.POSTED
        assert lines_of(outcome.entry) == [
            ("1110", D("47.4700"), D("0")),
            ("6100", D("5.2400"), D("0")),
            ("1010", D("122.7900"), D("0")),
            ("1900", D("3.0000"), D("0")),
            ("1110", D("0"), D("170.3000")),
            ("6100", D("0"), D("3.2000")),
            ("1900", D("0"), D("5.0000")),
        ]
        assert entry_balance(entry=outcome.entry) == 0
        assert journal_post_payout(payout=payout).status == PostingStatus.ALREADY_POSTED
        with django_capture_on_commit_callbacks(execute=True):
            reconciliation = payout_reconcile(payout=payout)
        # Charges, refunds and fees match; the two unknown lines stay in suspense (not a difference).
        assert (reconciliation.status, reconciliation.matched, reconciliation.differences) == ("differences", 3, [])
        assert [row["state"] for row in reconciliation.lines[3:]] == ["suspense", "suspense"]
        assert reconciliation.difference == D("2.00")
        group = TriageException.objects.get(cause="payout_suspense")
        assert (group.kind, group.status, group.count) == ("reconciliation", "open", 1)
        assert group.title == "Payout po_1 posted with a warning"  # posted: not "could not be posted"
        assert "the portal does not know" in group.detail and "Tillbridge" not in group.detail
        occurrence = group.occurrences.get()
        assert (occurrence.object_id, occurrence.resolved_at) == (str(payout.pk), None)
        assert "credit (5.00 USD), debit (-3.00 USD)" in occurrence.detail


def test_vendor_discount_allocations_are_stored_used_and_a_mismatch_is_an_exception(world):
    from dataclasses import replace

    from django.core.exceptions import ValidationError

    from triage.models import Exception as TriageException

    def allocated(*amounts, external_id="1001"):
        order = shopify_order(external_id=external_id)
        lines = tuple(
            replace(line, discount_allocations=((2, D(amount)),))
            for line, amount in zip(order.lines, amounts, strict=True)
        )
        return replace(order, lines=lines)

    with tenant_context(world.acme):
        standard_chart_apply()
        entry = journal_post_order(order=_order(allocated("8.00", "5.00", "2.00"))).entry
        assert lines_of(entry)[:2] == [("4500", D("10.0000"), D("0")), ("4500", D("15.0000"), D("0"))]
        outcome = journal_post_order(order=_order(allocated("8.00", "5.00", "1.99", external_id="1002")))
        assert lines_of(outcome.entry)[:2] == [("4500", D("9.0000"), D("0")), ("4500", D("16.0000"), D("0"))]
        group = TriageException.objects.get(cause="totals_mismatch")
        assert "sum to 14.99, not 15.00" in group.occurrences.get().detail
        bad = shopify_order(external_id="1003")
        bad = replace(bad, lines=(replace(bad.lines[0], discount_allocations=((0, D("1.00")),)), *bad.lines[1:]))
        with pytest.raises(ValidationError) as error:
            _order(bad)
        assert "lines[0].discount_allocations[0]" in error.value.message_dict
