"""Posting many orders at once, for the batched ingest (connectors.ingest).

The interim version: one `journal_post_order` per order, in order. The batched posting API
(entries built from the canonical documents, a cached account resolver, bulk-inserted lines) takes
this name and signature (issue 17, posting side); callers do not change when it lands.
"""

from __future__ import annotations

from commerce.documents import CanonicalOrder
from commerce.models import Order
from posting.services import PostingOutcome, journal_post_order


def journals_post_orders(items: list[tuple[Order, CanonicalOrder]]) -> list[PostingOutcome]:
    """Post each order's current version as `journal_post_order` does; one outcome per item, in order."""
    return [journal_post_order(order=order) for order, _document in items]
