"""posting.batch: `journals_post_orders` writes exactly what `journal_post_order` writes, with a
bounded number of queries per batch (issue 17)."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from commerce.documents import DiscountDoc, PaymentDoc, TaxLineDoc
from commerce.services import order_upsert
from mappings.models import Account, AccountRule, MappingSet
from mappings.services import account_rule_account_set, mapping_set_activate, mapping_set_copy, standard_chart_apply
from posting import batch
from posting.models import JournalEntry, JournalLine
from posting.periods import period_close
from posting.selectors import entry_balance
from posting.services import (
    PostingStatus,
    journal_post_cancellation,
    journal_post_order,
    journals_post_orders,
    policy_update,
)
from tests.commerce.factories import PAID_AT, jpy_order, kwd_order, shopify_order
from triage.models import Occurrence

CARD_ONLY = (PaymentDoc("p1", "stripe", D("195.30"), method="card", fee=D("5.24")),)


def _varied() -> list:
    """Coupon and vendor-funded discounts, two tax jurisdictions on lines and shipping, gift card,
    card only, tax-inclusive JPY, three-decimal KWD, marketplace-collected tax, vendor totals off."""
    marketplace = shopify_order(
        external_id="MKT",
        lines=(shopify_order().lines[0],),
        discounts=(),
        shipping_lines=(),
        payments=(PaymentDoc("m1", "marketplace", D("107.42"), method="marketplace"),),
        vendor_total=None,
    )
    marketplace = replace(
        marketplace,
        lines=(replace(marketplace.lines[0], taxes=(TaxLineDoc("US-WA", D("0.0742"), D("7.42"), "marketplace"),)),),
    )
    return [
        shopify_order(),
        shopify_order(external_id="CARD", payments=CARD_ONLY),
        shopify_order(external_id="OFF", vendor_total=D("199.99")),
        shopify_order(
            external_id="COUPON",
            discounts=(DiscountDoc(D("15.00"), code="SAVE15"),),
            payments=(replace(CARD_ONLY[0], amount=D("210.30")),),
            vendor_total=None,
        ),
        jpy_order(),
        kwd_order(),
        marketplace,
    ]


def _upsert(document, prefix: str):
    document = replace(document, external_id=f"{prefix}{document.external_id}")
    return order_upsert(source="shopify", connection_id=1, document=document).obj, document


def _entry(entry: JournalEntry, order) -> dict:
    """An entry and its lines, with what names the order itself (its id and external id) masked."""

    def mask(text: str) -> str:
        return text.replace(f"order:{order.pk}:", "order:#:").replace(order.external_id, "#")

    return {
        "source_key": mask(entry.source_key),
        "date": entry.date,
        "currency": entry.currency,
        "memo": mask(entry.memo),
        "status": entry.status,
        "batch": entry.batch_id,
        "trace_id": entry.trace_id,
        "lines": [
            (
                line.position,
                line.account.code,
                line.role,
                line.debit,
                line.credit,
                line.dimensions,
                mask(line.description),
                [{**source, "id": "#", "external_id": "#"} for source in line.sources],
            )
            for line in entry.lines.select_related("account").order_by("position")
        ],
    }


def _source_ids(entry: JournalEntry) -> set:
    return {(source["id"], source["external_id"]) for line in entry.lines.all() for source in line.sources}


@pytest.mark.parametrize("setting", ["per_document", "batched", "closed_period"])
def test_batch_writes_the_same_rows_as_the_single_path(world, setting):
    with tenant_context(world.acme):
        standard_chart_apply()
        if setting == "batched":
            policy_update(mode="batched")
        if setting == "closed_period":
            period_close(through=dt.date(2026, 3, 31), actor=None, actor_label="test")
        singles = [_upsert(document, "S-")[0] for document in _varied()]
        batched = [_upsert(document, "B-") for document in _varied()]

        expected = [journal_post_order(order=order) for order in singles]
        outcomes = journals_post_orders(batched)

        assert [outcome.status for outcome in outcomes] == [PostingStatus.POSTED] * len(batched)
        assert [outcome.status for outcome in expected] == [PostingStatus.POSTED] * len(singles)
        for single, order, mine, theirs in zip(singles, batched, outcomes, expected, strict=True):
            assert _entry(mine.entry, order[0]) == _entry(theirs.entry, single)
            assert mine.entry.source_key == f"order:{order[0].pk}:v1"
            assert _source_ids(mine.entry) == {(order[0].pk, order[0].external_id)}
            assert entry_balance(entry=mine.entry) == 0
        if setting == "closed_period":
            assert {outcome.entry.date for outcome in outcomes} == {dt.date(2026, 4, 1)}
        if setting == "batched":
            assert all(outcome.entry.batch_id is not None for outcome in outcomes)


def test_replaying_a_batch_posts_nothing_twice(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        items = [_upsert(document, "R-") for document in _varied()]
        first = journals_post_orders(items)
        lines = JournalLine.objects.count()

        again = journals_post_orders(items + items[:2])

        assert [outcome.status for outcome in again] == [PostingStatus.ALREADY_POSTED] * (len(items) + 2)
        assert [outcome.entry.pk for outcome in again] == [outcome.entry.pk for outcome in first + first[:2]]
        assert JournalEntry.objects.count() == len(items)
        assert JournalLine.objects.count() == lines
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())


def _mixed(prefix: str) -> list:
    """new, already posted, a new version of a posted order, a cancelled order's later version, an
    unmapped order (gift card, its rule removed), an unpaid order, and the new order listed twice."""
    new = _upsert(shopify_order(external_id="NEW", payments=CARD_ONLY), prefix)
    posted = _upsert(shopify_order(external_id="POSTED", payments=CARD_ONLY), prefix)
    journal_post_order(order=posted[0])
    changed = _upsert(shopify_order(external_id="CHANGED", payments=CARD_ONLY), prefix)
    journal_post_order(order=changed[0])
    lines = shopify_order().lines
    changed = _upsert(  # the first line 5.00 cheaper per unit, the payment 10.00 less
        shopify_order(
            external_id="CHANGED",
            source_version=2,
            lines=(replace(lines[0], unit_price=D("45.00")), *lines[1:]),
            payments=(replace(CARD_ONLY[0], amount=D("185.30")),),
            vendor_total=None,
        ),
        prefix,
    )
    cancelled = _upsert(shopify_order(external_id="CANCELLED", payments=CARD_ONLY), prefix)
    journal_post_order(order=cancelled[0])
    cancelled = _upsert(
        shopify_order(external_id="CANCELLED", payments=CARD_ONLY, source_version=2, cancelled_at=PAID_AT), prefix
    )
    journal_post_cancellation(order=cancelled[0])
    cancelled = _upsert(
        shopify_order(external_id="CANCELLED", payments=CARD_ONLY, source_version=3, cancelled_at=PAID_AT), prefix
    )
    unmapped = _upsert(shopify_order(external_id="GIFT"), prefix)
    unpaid = _upsert(shopify_order(external_id="UNPAID", paid_at=None), prefix)
    return [new, posted, changed, cancelled, unmapped, unpaid, new]


def test_a_mixed_batch_has_the_single_paths_outcomes(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        AccountRule.objects.filter(role="gift_card_liability").delete()
        singles = _mixed("S-")
        expected = [journal_post_order(order=order) for order, _document in singles]
        items = _mixed("B-")

        outcomes = journals_post_orders(items)

        statuses = [outcome.status for outcome in outcomes]
        assert statuses == [
            PostingStatus.POSTED,
            PostingStatus.ALREADY_POSTED,
            PostingStatus.POSTED,
            PostingStatus.COVERED,
            PostingStatus.REFUSED,
            PostingStatus.NOT_DUE,
            PostingStatus.ALREADY_POSTED,
        ]
        assert statuses == [outcome.status for outcome in expected]
        assert [outcome.problems for outcome in outcomes] == [outcome.problems for outcome in expected]
        for (order, _doc), (single, _), mine, theirs in zip(items, singles, outcomes, expected, strict=True):
            if theirs.entry is not None:
                assert _entry(mine.entry, order) == _entry(theirs.entry, single)
        difference = outcomes[2].entry
        assert difference.source_key == f"order:{items[2][0].pk}:v2"
        moved = [(line.role, line.debit, line.credit) for line in difference.lines.all()]
        assert ("revenue", D("10.0000"), D("0")) in moved  # two tees 5.00 cheaper: only the difference
        assert ("payment_clearing", D("0"), D("10.0000")) in moved
        refused = Occurrence.objects.filter(object_id=str(items[4][0].pk), resolved_at__isnull=True)
        assert [(o.exception.kind, o.exception.cause) for o in refused] == [
            (o.exception.kind, o.exception.cause)
            for o in Occurrence.objects.filter(object_id=str(singles[4][0].pk), resolved_at__isnull=True)
        ]
        assert refused.count() == 1
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())


def test_a_posted_batch_resolves_the_orders_open_exceptions(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        rule = AccountRule.objects.get(role="gift_card_liability")
        account = rule.account
        rule.delete()
        item = _upsert(shopify_order(), "E-")
        assert journals_post_orders([item])[0].status == PostingStatus.REFUSED
        assert Occurrence.objects.filter(object_id=str(item[0].pk), resolved_at__isnull=True).count() == 1
        draft = mapping_set_copy(mapping_set=MappingSet.objects.get(status="active"), name="with gift cards")
        AccountRule.objects.create(mapping_set=draft, role="gift_card_liability", account=account)
        mapping_set_activate(mapping_set=draft, effective_from=PAID_AT - dt.timedelta(days=1))

        assert journals_post_orders([item])[0].status == PostingStatus.POSTED
        assert Occurrence.objects.filter(object_id=str(item[0].pk), resolved_at__isnull=True).count() == 0


def test_the_resolver_cache_follows_a_newly_published_mapping_set_and_account_changes(world):
    with tenant_context(world.acme):
        active = standard_chart_apply()
        first = journals_post_orders([_upsert(shopify_order(), "C1-")])[0].entry
        assert first.lines.get(role="shipping_income").account.code == "4100"
        with CaptureQueriesContext(connection) as cached:
            journals_post_orders([_upsert(shopify_order(), "C2-")])
        assert not [query for query in cached.captured_queries if "mappings_accountrule" in query["sql"]]

        draft = mapping_set_copy(mapping_set=active, name="shipping to 4000")
        rule = draft.rules.get(role="shipping_income")
        account_rule_account_set(rule=rule, account=Account.objects.get(code="4000"))
        mapping_set_activate(mapping_set=draft, effective_from=PAID_AT - dt.timedelta(days=1))
        after = journals_post_orders([_upsert(shopify_order(), "C3-")])[0].entry
        assert after.lines.get(role="shipping_income").account.code == "4000"
        older = journals_post_orders([_upsert(shopify_order(paid_at=PAID_AT - dt.timedelta(days=2)), "C4-")])
        assert older[0].entry.lines.get(role="shipping_income").account.code == "4100"  # the archived set's day

        Account.objects.filter(code="4000").update(active=False)
        refused = journals_post_orders([_upsert(shopify_order(), "C5-")])[0]
        assert refused.status == PostingStatus.REFUSED
        assert [problem.role for problem in refused.problems] == ["shipping_income"]


def test_one_hundred_orders_post_in_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    with tenant_context(world.acme):
        standard_chart_apply()
        items = [_upsert(shopify_order(external_id=f"{number:04d}"), "Q-") for number in range(100)]
        journals_post_orders([_upsert(jpy_order(), "warm-")])  # the resolver is cached per mapping version

        # 12 statements for the batch (policy, mapping version, lock, posted entries, period close
        # twice, entries, COPY of the lines, usage, open exceptions, savepoint and release), each
        # preceded by django-tenants' SET search_path: 24, against 2,400 for one by one; and for the
        # whole batch, the promotions' spend check and the order.posted payloads (orders, totals).
        with django_assert_max_num_queries(36):
            outcomes = journals_post_orders(items)

        assert [outcome.status for outcome in outcomes] == [PostingStatus.POSTED] * 100
        assert JournalLine.objects.filter(entry__in=[outcome.entry for outcome in outcomes]).count() == 1000
        assert len(items) * 10 >= batch.COPY_FROM_ROWS  # these lines went through COPY
        assert all(entry_balance(entry=outcome.entry) == 0 for outcome in outcomes)


def test_a_document_that_is_not_the_order_as_stored_goes_the_single_way(world):
    """A blank payment label (the upsert stores the default gateway) or a document of another
    version than the order's: the batch does not trust it and reads the order back."""
    with tenant_context(world.acme):
        standard_chart_apply()
        blank = (replace(CARD_ONLY[0], gateway=""),)
        single = _upsert(shopify_order(external_id="BLANK", payments=blank), "S-")[0]
        expected = journal_post_order(order=single).entry
        raw = _upsert(shopify_order(external_id="BLANK", payments=blank), "B-")
        _upsert(shopify_order(external_id="V2", payments=CARD_ONLY), "B-")
        newer = _upsert(shopify_order(external_id="V2", payments=CARD_ONLY, source_version=2), "B-")[0]
        stale = shopify_order(external_id="B-V2")  # version 1, paid with a gift card too

        outcomes = journals_post_orders([raw, (newer, stale)])

        assert _entry(outcomes[0].entry, raw[0]) == _entry(expected, single)
        assert outcomes[0].entry.lines.filter(dimensions__gateway="").count() == 0
        assert outcomes[1].entry.source_key == f"order:{newer.pk}:v2"
        assert not outcomes[1].entry.lines.filter(role="gift_card_liability").exists()  # not the stale one


def test_an_entry_written_meanwhile_rolls_the_batch_back_to_the_single_path(world, monkeypatch):
    """Were an entry written between the read of posted entries and the batch's insert, the
    unique source key stops the batch; its orders then go the single way and nothing posts twice."""
    with tenant_context(world.acme):
        standard_chart_apply()
        posted, fresh = _upsert(shopify_order(external_id="RACE"), "I-"), _upsert(shopify_order(), "I-")
        entry = journal_post_order(order=posted[0]).entry
        monkeypatch.setattr(batch, "_entries_by_order", lambda order_ids: {})  # blind to the posted entry

        outcomes = journals_post_orders([posted, fresh])

        assert [outcome.status for outcome in outcomes] == [PostingStatus.ALREADY_POSTED, PostingStatus.POSTED]
        assert outcomes[0].entry.pk == entry.pk
        assert JournalEntry.objects.count() == 2
        assert journals_post_orders([]) == []
