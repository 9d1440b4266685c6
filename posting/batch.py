"""Posting a batch of orders at once (issue 17): the same entries `journal_post_order` writes, with
a constant number of queries per batch instead of a dozen per order.

The journal of each order is built from its canonical document already in memory (the document as
the upsert stored it), never by reading the order back. Per batch: the policy is read once, the
mapping version once (resolvers are cached per version, `mappings.selectors`), the orders are
locked in id order and every entry they already have is read in one query; new entries are written
with one INSERT and their lines with one multi-row INSERT, or COPY when there are many. The closed
period, batch windows, metering and the ERP push on commit work as in the single path.

Anything but a plain first posting goes through `journal_post_order` itself, after the batch, so
its outcome is the single path's by construction: a new version of a posted order (the
difference), an order whose cancellation is posted, a fee booked at charge time, an order the
builders or the mappings refuse (its triage exception), and an order listed twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, connection, models, transaction
from psycopg.types.json import Jsonb

from commerce.documents import CanonicalOrder
from commerce.models import Order
from core import metrics
from core.context import trace_id_current
from mappings.selectors import MappingVersion, account_resolver_cached, mapping_version_current
from posting import services
from posting.builders import Draft, PostingRefused, RoleLine, build_order
from posting.erp.tasks import erp_push_dispatch
from posting.events import order_posted_emit
from posting.journals import order_sources
from posting.models import JournalEntry, JournalLine, PostingBatch, PostingPolicy
from posting.periods import closed_through_for_posting, open_date_after
from posting.processors import FEE_AT_CHARGE_SOURCES
from tenants.usage import usage_count
from triage.selectors import objects_with_open_exceptions

COPY_FROM_ROWS = 500  # below this many lines one multi-row INSERT is as fast as COPY
LINE_COLUMNS = ("entry_id", "position", "account_id", "role", "debit", "credit", "dimensions", "description", "sources")


@dataclass(frozen=True)
class _Due:
    index: int
    order: Order
    document: CanonicalOrder
    at: dt.datetime


@dataclass(frozen=True)
class _Fresh:
    due: _Due
    source_key: str
    draft: Draft
    accounts: list[tuple[RoleLine, int]]


def journals_post_orders(items: list[tuple[Order, CanonicalOrder]]) -> list[services.PostingOutcome]:
    """Post each (order, its canonical document as stored) like `journal_post_order` would, in
    the same order; one outcome per item. The document must be the one the upsert stored, after
    its label defaults and promotion funding (a document of another version goes the single way).
    Call it inside the transaction that stored the orders or after it committed: the entries'
    ERP pushes are sent when the transaction commits."""
    if not items:
        return []
    policy = services.policy_get()
    outcomes: list[services.PostingOutcome | None] = [None] * len(items)
    due: list[_Due] = []
    for index, (order, document) in enumerate(items):
        at = services.order_recognised_at(order=order, policy=policy)
        if at is None:
            outcomes[index] = services.PostingOutcome(services.PostingStatus.NOT_DUE)
        else:
            due.append(_Due(index, order, document, at))
    single: list[_Due] = []
    written: list[tuple[_Fresh, JournalEntry]] = []
    if due:
        version = mapping_version_current()
        try:
            with transaction.atomic():
                fresh = _classify(due, policy=policy, version=version, outcomes=outcomes, single=single)
                written = _write(fresh, policy=policy)
        except IntegrityError:  # an entry written meanwhile by another path: let the single path sort it out
            written, single = [], due
    _posted(written, outcomes)
    for item in single:
        outcomes[item.index] = services.journal_post_order(order=item.order)
    return outcomes  # type: ignore[return-value]  # every index is set above


def _entries_by_order(order_ids: list[int]) -> dict[int, list[JournalEntry]]:
    """Every entry already posted for these orders (versions, differences, cancellations), one
    query: the source keys' prefix `order:<pk>:` is served by the key's pattern index."""
    if not order_ids:
        return {}
    prefixes = models.Q()
    for pk in order_ids:
        prefixes |= models.Q(source_key__startswith=f"order:{pk}:")
    found: dict[int, list[JournalEntry]] = {}
    for entry in JournalEntry.objects.filter(prefixes).order_by("pk"):
        found.setdefault(int(entry.source_key.split(":", 2)[1]), []).append(entry)
    return found


def _needs_single_path(item: _Due) -> bool:
    """What the single path must decide: a sales-channel charge whose fee may be booked with the
    sale (`fees_at_charge` reads the payouts), and a document that is not the order as stored (a
    different order or version, or a payment label the upsert would default): the single path
    reads the order back instead of trusting it."""
    order, document = item.order, item.document
    if order.source in FEE_AT_CHARGE_SOURCES and any(payment.fee for payment in document.payments):
        return True
    if (document.external_id, document.source_version, document.currency) != (
        order.external_id,
        order.source_version,
        order.currency,
    ):
        return True
    return not all(isinstance(payment.gateway, str) and payment.gateway.strip() for payment in document.payments)


def _classify(
    due: list[_Due],
    *,
    policy: PostingPolicy,
    version: MappingVersion,
    outcomes: list,
    single: list[_Due],
) -> list[_Fresh]:
    """Lock the orders, answer those already posted, send what needs the single path to `single`,
    and build and resolve the rest (first postings) in memory."""
    order_ids = sorted({item.order.pk for item in due})
    # One version of a document posts at a time (as in draft_post): lock in id order, no deadlock.
    list(Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk").values_list("pk", flat=True))
    posted = _entries_by_order(order_ids)
    builder_policy = services._builder_policy(policy)
    seen: set[int] = set()
    fresh: list[_Fresh] = []
    for item in due:
        order = item.order
        source_key = f"order:{order.pk}:v{order.source_version}"
        entries = posted.get(order.pk, [])
        existing = next((entry for entry in entries if entry.source_key == source_key), None)
        if existing is not None and order.pk not in seen:
            outcomes[item.index] = services.PostingOutcome(services.PostingStatus.ALREADY_POSTED, entry=existing)
            seen.add(order.pk)
            continue
        if entries or order.pk in seen or _needs_single_path(item):
            single.append(item)
            seen.add(order.pk)
            continue
        seen.add(order.pk)
        try:
            draft = build_order(item.document, builder_policy)
            accounts = services._resolve(draft, account_resolver_cached(at=item.at, version=version))
        except PostingRefused:  # the single path raises the same refusal into triage
            single.append(item)
            continue
        fresh.append(_Fresh(item, source_key, draft, accounts))
    return fresh


def _batches(fresh: list[_Fresh], policy: PostingPolicy) -> dict[tuple, PostingBatch | None]:
    """The open batch of each entry's window (policy `batched`), fetched once per window."""
    windows: dict[tuple, PostingBatch | None] = {}
    if policy.mode != PostingPolicy.Mode.BATCHED:
        return windows
    for item in fresh:
        key = (services.batch_window(at=item.due.at, policy=policy)[0], item.draft.currency)
        if key not in windows:
            windows[key] = services._batch_for(at=item.due.at, currency=item.draft.currency, policy=policy)
    return windows


def _write(fresh: list[_Fresh], *, policy: PostingPolicy) -> list[tuple[_Fresh, JournalEntry]]:
    """The entries (one INSERT) and their lines (one INSERT or COPY), as `entry_write` writes them."""
    if not fresh:
        return []
    closed = closed_through_for_posting()  # read under a share lock, as open_date does per entry
    windows = _batches(fresh, policy)
    trace_id = trace_id_current()
    entries = []
    for item in fresh:
        window = (services.batch_window(at=item.due.at, policy=policy)[0], item.draft.currency) if windows else None
        batch = windows.get(window) if window else None
        date, memo = open_date_after(closed, services.local_date(item.due.at), item.draft.memo[:255])
        entries.append(
            JournalEntry(
                source_key=item.source_key,
                date=date,
                currency=item.draft.currency,
                memo=memo,
                batch=batch,
                status=JournalEntry.Status.DRAFT if batch is not None else JournalEntry.Status.READY,
                trace_id=trace_id,
            )
        )
    JournalEntry.objects.bulk_create(entries)
    _lines_write(
        [
            (
                entry.pk,
                position,
                account_id,
                line.role,
                line.debit,
                line.credit,
                line.conditions_dict,
                line.description[:255],
                order_sources(item.due.order),
            )
            for item, entry in zip(fresh, entries, strict=True)
            for position, (line, account_id) in enumerate(item.accounts)
        ]
    )
    ready = [entry for entry in entries if entry.batch is None]  # a batch's drafts go as its summary
    if ready:
        usage_count(metric="journals_posted", amount=len(ready))
        for entry in ready:
            erp_push_dispatch(entry_id=entry.pk)  # sent once this transaction commits
        keys = [entry.source_key for entry in ready]
        transaction.on_commit(lambda: [metrics.journal_posted(source_key=key) for key in keys])
    return list(zip(fresh, entries, strict=True))


def _lines_write(rows: list[tuple]) -> None:
    if len(rows) < COPY_FROM_ROWS:
        JournalLine.objects.bulk_create(JournalLine(**dict(zip(LINE_COLUMNS, row, strict=True))) for row in rows)
        return
    table = connection.ops.quote_name(JournalLine._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy:
        for *head, dimensions, description, sources in rows:
            copy.write_row((*head, Jsonb(dimensions), description, Jsonb(sources)))


def _posted(written: list[tuple[_Fresh, JournalEntry]], outcomes: list) -> None:
    """The outcomes of the entries written; an order with open exceptions has them resolved, and
    a draft's warnings are raised, exactly as the single path does (`services._posted`)."""
    with_open = objects_with_open_exceptions(model=Order, object_ids=[item.due.order.pk for item, _ in written])
    for item, entry in written:
        order = item.due.order
        if str(order.pk) in with_open or item.draft.warnings:
            title = f"Order {order.external_id} could not be posted"
            outcomes[item.due.index] = services._posted(entry=entry, draft=item.draft, obj=order, title=title)
        else:
            outcomes[item.due.index] = services.PostingOutcome(services.PostingStatus.POSTED, entry=entry)
    order_posted_emit([entry for _item, entry in written])  # after commit, as the single path does
